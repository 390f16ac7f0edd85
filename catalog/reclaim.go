package catalog

import (
	"errors"
	"io/fs"
	"log/slog"
	"sync"
)

// reclaimer deletes retired files once no reader may still need them.
//
// Readers that open files lazily by path (DuckDB scanning a multi-part view) pin the
// store for as long as they run. A pin taken in epoch e may use any file retired in
// an epoch >= e; so a file retired in epoch r is deleted only once every active pin
// started after r. Readers that hold open file descriptors need only pin while they
// open them: on POSIX systems an unlinked file stays readable through its descriptors.
type reclaimer struct {
	log    *slog.Logger
	remove func(key string) error // deletes a retired key: a part, or a directory tree

	mu      sync.Mutex
	epoch   uint64
	pins    map[uint64]int // epoch -> active pins taken in it
	pending []retired
}

type retired struct {
	epoch uint64
	key   string
}

func newReclaimer(log *slog.Logger, remove func(key string) error) *reclaimer {
	return &reclaimer{log: log, remove: remove, pins: make(map[uint64]int)}
}

// pin keeps every file visible now on disk until the returned function is called.
// The function may be called more than once; only the first call counts.
func (r *reclaimer) pin() (unpin func()) {
	r.mu.Lock()
	e := r.epoch
	r.pins[e]++
	r.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			r.mu.Lock()
			if r.pins[e]--; r.pins[e] == 0 {
				delete(r.pins, e)
			}
			ready := r.collectLocked()
			r.mu.Unlock()
			r.removeAll(ready)
		})
	}
}

// retire schedules keys (files, or on the local backend whole directories) for
// deletion.
func (r *reclaimer) retire(keys ...string) {
	r.mu.Lock()
	for _, k := range keys {
		r.pending = append(r.pending, retired{epoch: r.epoch, key: k})
	}
	r.epoch++
	ready := r.collectLocked()
	r.mu.Unlock()
	r.removeAll(ready)
}

// collectLocked takes out of pending the paths no active pin can need.
func (r *reclaimer) collectLocked() []string {
	oldest := r.epoch + 1
	for e := range r.pins {
		if e < oldest {
			oldest = e
		}
	}
	var ready []string
	keep := r.pending[:0]
	for _, p := range r.pending {
		if p.epoch < oldest {
			ready = append(ready, p.key)
		} else {
			keep = append(keep, p)
		}
	}
	r.pending = keep
	return ready
}

func (r *reclaimer) removeAll(keys []string) {
	for _, k := range keys {
		if err := r.remove(k); err != nil && !errors.Is(err, fs.ErrNotExist) {
			r.log.Warn("cannot delete retired file; the next start sweeps it", "key", k, "err", err)
		}
	}
}

// pendingCount reports how many retired paths wait for pins to end (for tests).
func (r *reclaimer) pendingCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pending)
}
