package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"sync"
	"time"

	"github.com/quiverdata/quiver/catalog/storage"
)

// Retired parts on object storage.
//
// On a local root one process serves the datasets, and its pins (reclaim.go) keep a
// replaced or dropped version's files until its last reader ends. On object storage
// several nodes serve one bucket, and a pin is per process: a node that replaced a
// dataset cannot see that another node is still streaming the old parts (a plain
// DoGet, a parts ticket, a SQL query fetching them into its part cache). So there a
// replace or drop does not delete the parts it takes out: the manifest it commits
// lists them as retired, with the time (its own clock), in the same conditional
// write. They are deleted once RetiredGrace has passed since then, by whichever
// node comes first:
//
//   - the node that retired them, by a timer (scheduleReclaim);
//   - any node's next commit to the dataset (the parts past the grace are left out
//     of the manifest it writes);
//   - any node's start (the sweep), for a node that stopped before its timer fired.
//
// Each takes the parts out of the manifest with a conditional write, and only then
// deletes them, through the reclaimer: not while a reader on that node still pins
// them. A crash between the two leaves parts no manifest lists, which the next
// sweep deletes (orphanAge counts from when the part was written, long before).
//
// The bound: a read of a replaced or dropped version on another node has
// RetiredGrace from the commit that retired it to finish. A SQL query needs that
// long only to fetch its parts into the part cache (it then reads the local
// copies), which --query-timeout bounds (5 minutes by default); a plain DoGet or a
// parts ticket reads by key as it streams, so the grace bounds how long such a
// stream may lag behind a replace on another node: a read still going after that
// fails rather than mix versions. Clocks of the nodes may differ by the grace's
// slack at most.

// DefaultRetiredGrace is how long retired parts stay on object storage unless
// Options.RetiredGrace says otherwise: an hour, twelve times the default query
// timeout, and the age after which a sweep already treats an unlisted part as a
// crashed put's (orphanAge). A 10 GB dataset streams in under 3 minutes at the
// 64 MB/s measured for a plain DoGet on S3 here.
const DefaultRetiredGrace = time.Hour

// retiredPart is a part a replace or drop took out of a dataset on object storage.
type retiredPart struct {
	Part string    `json:"part"` // relative to the dataset directory, as in Parts
	At   time.Time `json:"at"`   // when the commit that took it out was made
}

// encode is the content of the manifest m.
func (m manifest) encode() ([]byte, error) {
	if m.Parts == nil {
		m.Parts = []string{}
	}
	return json.MarshalIndent(m, "", "  ")
}

// retiredGrace is the store's grace for retired parts.
func (s *Store) retiredGrace() time.Duration {
	if s.opts.RetiredGrace > 0 {
		return s.opts.RetiredGrace
	}
	return DefaultRetiredGrace
}

// nextRetired is m's manifest entries of retired parts as a commit at now writes
// them: those of m whose grace has not passed, then parts, retired at now. due are
// the parts whose grace has passed, to delete once the commit is made.
func (s *Store) nextRetired(m manifest, parts []string, now time.Time) (keep []retiredPart, due []string) {
	grace := s.retiredGrace()
	for _, r := range m.Retired {
		if now.Sub(r.At) >= grace {
			due = append(due, r.Part)
		} else {
			keep = append(keep, r)
		}
	}
	for _, p := range parts {
		keep = append(keep, retiredPart{Part: p, At: now})
	}
	return keep, due
}

// afterRetiring, called after a commit of dataset name whose manifest lists retired
// parts keep, deletes the parts due (once no local reader pins them) and schedules
// the deletion of the others.
func (s *Store) afterRetiring(name string, keep []retiredPart, due []string) {
	if len(due) > 0 {
		s.retireParts(name, due)
	}
	if len(keep) > 0 {
		first := keep[0].At
		for _, r := range keep[1:] {
			if r.At.Before(first) {
				first = r.At
			}
		}
		s.scheduleReclaim(name, first.Add(s.retiredGrace()))
	}
}

// reclaimRetired deletes the retired parts of dataset name whose grace has passed:
// it commits its manifest without them, then retires them to the reclaimer. It
// schedules itself again for the parts still in their grace.
func (s *Store) reclaimRetired(ctx context.Context, name string) error {
	for attempt := 0; ; attempt++ {
		keep, due, err := s.tryReclaimRetired(ctx, name)
		if errors.Is(err, storage.ErrConflict) && attempt < maxCommitAttempts {
			continue // another commit: look again
		}
		if err != nil {
			return err
		}
		s.afterRetiring(name, keep, due)
		return nil
	}
}

func (s *Store) tryReclaimRetired(ctx context.Context, name string) (keep []retiredPart, due []string, err error) {
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	m, mversion, err := readManifest(ctx, s.bucket, name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil // deleted by hand: nothing of ours to reclaim
	}
	if err != nil {
		return nil, nil, err
	}
	keep, due = s.nextRetired(m, nil, time.Now())
	if len(due) == 0 {
		return keep, nil, nil
	}
	m.Retired = keep
	data, err := m.encode()
	if err != nil {
		return nil, nil, err
	}
	if _, err := s.bucket.WriteIf(ctx, manifestKey(name), data, mversion); err != nil {
		return nil, nil, err
	}
	reached("manifest: retired parts reclaimed")
	return keep, due, nil
}

// reclaimTimers are the store's scheduled reclaims of retired parts.
type reclaimTimers struct {
	mu      sync.Mutex
	timers  map[string]*time.Timer // by dataset name: at most one each
	closed  bool
	running sync.WaitGroup
}

// scheduleReclaim runs reclaimRetired for name at (or soon after) at, unless one is
// scheduled already: that one schedules the next when it has run.
func (s *Store) scheduleReclaim(name string, at time.Time) {
	t := &s.reclaims
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed || t.timers[name] != nil {
		return
	}
	if t.timers == nil {
		t.timers = make(map[string]*time.Timer)
	}
	t.timers[name] = time.AfterFunc(time.Until(at), func() {
		t.mu.Lock()
		if t.closed {
			t.mu.Unlock()
			return
		}
		delete(t.timers, name)
		t.running.Add(1)
		t.mu.Unlock()
		defer t.running.Done()
		if err := s.reclaimRetired(context.Background(), name); err != nil {
			s.log.Warn("cannot delete retired parts yet; the next commit or start does", "dataset", name, "err", err)
		}
	})
}

// closeReclaims stops the store's scheduled deletions of retired parts (another
// commit, or the next start, does them) and waits for one under way. The store stays
// usable for reads and writes; it schedules no more deletions. Close calls it.
func (s *Store) closeReclaims() {
	t := &s.reclaims
	t.mu.Lock()
	t.closed = true
	for name, timer := range t.timers {
		timer.Stop()
		delete(t.timers, name)
	}
	t.mu.Unlock()
	t.running.Wait()
}
