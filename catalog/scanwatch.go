package catalog

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/quiverdata/quiver/catalog/storage/local"
)

// Scan once listed the root on every call, and the engine scans on every SQL request
// to see files copied in by hand: a directory read and a stat per dataset, so a
// trivial query's time grew with the datasets in the root (ADBC Python, SELECT 1:
// 5.6 ms with one dataset, 17 ms with 1,000, 46 ms with 5,000). On a local root the
// store now watches the root and the dataset directories in it (local.DirWatch:
// inotify) and answers Scan from its last listing while no change was reported. The
// kernel queues a change's event before the call that made it returns, so a file
// copied in before a request is still seen by that request, as before. Where the
// root cannot be watched (object storage, a network filesystem, the kernel's limit
// of watches reached) every Scan lists the root, as before.

// scanWatch is a store's watch of its root and its last listing.
type scanWatch struct {
	start sync.Once
	watch *local.DirWatch // nil: the root is not watched

	mu    sync.Mutex
	last  map[string]EntryStamp // the last listing made with nothing changing under it
	at    uint64                // the watch's count of changes before that listing
	valid bool

	listings atomic.Int64 // listings of the root made, for tests
	warned   atomic.Bool  // a failure to watch a directory was logged
}

// scan is Store.Scan: the last listing while the watch reports no change since it
// began, else a new one.
func (w *scanWatch) scan(ctx context.Context, s *Store) (map[string]EntryStamp, error) {
	w.start.Do(func() { w.watch = s.watchRoot() })
	if w.watch == nil {
		return s.scanRoot(ctx)
	}
	before, ok := w.watch.Changes()
	if !ok {
		return s.scanRoot(ctx)
	}
	w.mu.Lock()
	last := w.last
	hit := w.valid && w.at == before
	w.mu.Unlock()
	if hit {
		return last, nil
	}
	scan, err := s.scanRoot(ctx)
	if err != nil {
		return nil, err
	}
	w.remember(s, scan, before)
	return scan, nil
}

// remember keeps scan, a listing begun when the watch had counted before changes,
// if nothing changed while it was made. A dataset directory not watched before is
// watched now, and the listing is not kept: a change inside it before the watch
// began made no event, so the next Scan lists again, with the watch in place.
func (w *scanWatch) remember(s *Store, scan map[string]EntryStamp, before uint64) {
	fresh := true
	for name, st := range scan {
		if !st.Dir {
			continue
		}
		started, err := w.watch.Watch(name)
		if err != nil {
			if !w.warned.Swap(true) {
				s.log.Warn("cannot watch a dataset directory: SQL requests list the root again each time", "root", s.root, "err", err)
			}
			return
		}
		if started {
			fresh = false
		}
	}
	after, ok := w.watch.Changes()
	if !fresh || !ok || after != before {
		return
	}
	w.mu.Lock()
	w.last, w.at, w.valid = scan, before, true
	w.mu.Unlock()
}

// watchRoot starts watching a local root on the operating system's filesystem; nil
// when the root cannot be watched, which is logged.
func (s *Store) watchRoot() *local.DirWatch {
	b, ok := s.bucket.(*local.Bucket)
	if !ok || b.FS() != local.OSFS {
		return nil // object storage, or a test's in-memory filesystem
	}
	// Scan leaves out every name starting with '.': the store's temporaries, trash and
	// landings, and hidden files.
	w, err := local.NewDirWatch(b.LocalPath(""), func(name string) bool { return strings.HasPrefix(name, ".") })
	if err != nil {
		msg := "root not watched: every SQL request lists it to see files copied in by hand"
		if errors.Is(err, local.ErrWatchUnsupported) {
			s.log.Info(msg, "root", s.root, "err", err)
		} else {
			s.log.Warn(msg, "root", s.root, "err", err)
		}
		return nil
	}
	return w
}

// close stops the watch.
func (w *scanWatch) close() {
	w.start.Do(func() {}) // a Scan after Close lists the root
	if w.watch != nil {
		w.watch.Close()
	}
}
