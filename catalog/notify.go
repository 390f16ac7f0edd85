package catalog

import (
	"context"
	"fmt"
	"strings"
	"sync"
)

// Telling readers of the catalog what changed, cheaply.
//
// A reader that keeps its own view of the datasets (the SQL engine's snapshot) needs
// two things: to hear of every change the store makes, the moment it is made, and a
// cheap way to see whether anything else (a person copying files into the root)
// changed the root since it last looked. Subscribe gives the first, Scan the second.

// notifier holds the subscribers of one Store. The zero value has none.
type notifier struct {
	mu   sync.Mutex
	next int
	subs map[int]func(dataset string)
}

// Subscribe calls changed with a dataset's name each time the store commits a put,
// an append, a replace or a drop of it. The call comes at the commit point, before
// the files of the previous version are retired and before the Put or Drop that made
// the change returns, so a reader that looks again after hearing of the change sees
// the new version, and its files are on disk as long as it holds a pin taken before
// it looked. changed runs with the store's commit lock held: it must be quick and
// must not call back into the store (mark the name, and look later). Changes made on
// disk by hand are not reported; Scan notices them.
//
// The returned function ends the subscription; calling it again does nothing.
func (s *Store) Subscribe(changed func(dataset string)) (cancel func()) {
	n := &s.notifier
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.subs == nil {
		n.subs = make(map[int]func(string))
	}
	id := n.next
	n.next++
	n.subs[id] = changed
	return func() {
		n.mu.Lock()
		defer n.mu.Unlock()
		delete(n.subs, id)
	}
}

// notify tells every subscriber that dataset changed. Call it at each commit point
// (the rename that makes a version visible, or the one that drops it), before the
// old version's files are retired.
func (s *Store) notify(dataset string) {
	n := &s.notifier
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, changed := range n.subs {
		changed(dataset)
	}
}

// EntryStamp is what a listing of the root shows of one entry: enough to tell that
// the entry was replaced or rewritten (its version, size and modification time) or,
// for a multi-part dataset directory on a local root, that parts or its manifest came
// or went (the directory's own modification time changes when an entry inside it is
// created, removed or renamed over).
type EntryStamp struct {
	Size     int64
	Modified int64  // nanoseconds since the epoch
	Version  string // the bucket's version of the entry (local: size, mtime and inode)
	Dir      bool
}

// Scan stamps every entry of the root that List would consider, by name, with one
// listing of the root; it reads no file and no manifest, so it costs a small fraction
// of List. Two equal scans mean that no dataset was added, removed, replaced or
// rewritten in between, with two exceptions a reader that relies on Scan must cover
// by calling List now and then: a part rewritten in place inside a dataset directory
// without a rename, and on object storage any change inside a dataset's prefix (a
// prefix has no modification time), such as another node's commit.
//
// On a local root the store watches the root (scanwatch.go) and answers from its
// last listing while nothing changed: the map is then the one it returned before, so
// callers must not change it.
func (s *Store) Scan(ctx context.Context) (map[string]EntryStamp, error) {
	return s.scans.scan(ctx, s)
}

// scanRoot is Scan without the watch: one listing of the root.
func (s *Store) scanRoot(ctx context.Context) (map[string]EntryStamp, error) {
	s.scans.listings.Add(1)
	entries, err := s.bucket.List(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("scan dataset root: %w", err)
	}
	out := make(map[string]EntryStamp, len(entries))
	for _, e := range entries {
		name := e.Key
		if isInternal(name) || strings.HasPrefix(name, ".") {
			continue
		}
		out[name] = EntryStamp{Size: e.Size, Modified: e.ModTime.UnixNano(), Version: e.Version, Dir: e.Dir}
	}
	return out, nil
}
