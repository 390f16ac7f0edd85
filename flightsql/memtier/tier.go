// Package memtier is the byte budget of the opt-in memory tier: hot datasets kept in
// memory so that SQL and plain DoGet skip decoding Parquet (quiver serve --memory-tier).
//
// A Tier only accounts: it does not hold data. Its owners (the engine's in-memory
// tables, the DoGet stream cache) admit an entry with its size and an evict function,
// touch it on every use, and remove it when the data it stands for changes. When an
// admission does not fit, the least recently used other entries are evicted until it
// does. Evict functions run outside the tier's lock, after the entry has left the
// budget; an owner whose entry is still being read frees the memory when the last
// reader is done, so the tier's bytes may briefly exceed the budget by what running
// readers hold.
//
// memtier is not a cache of its own and knows nothing of Arrow, DuckDB or datasets.
package memtier

import (
	"container/list"
	"sync"
)

// Tier is a byte budget shared by every owner of in-memory copies of datasets. The
// zero budget admits nothing. A Tier is safe for concurrent use.
type Tier struct {
	max int64

	mu      sync.Mutex
	used    int64
	lru     *list.List               // of *entry; most recently used at the front
	entries map[string]*list.Element // by key
}

type entry struct {
	key   string
	bytes int64
	evict func()
}

// New returns a tier with a budget of maxBytes (0 or less: the tier is off).
func New(maxBytes int64) *Tier {
	if maxBytes < 0 {
		maxBytes = 0
	}
	return &Tier{max: maxBytes, lru: list.New(), entries: map[string]*list.Element{}}
}

// Enabled reports whether the tier admits anything at all.
func (t *Tier) Enabled() bool { return t != nil && t.max > 0 }

// Max returns the budget in bytes.
func (t *Tier) Max() int64 {
	if t == nil {
		return 0
	}
	return t.max
}

// Used returns the bytes of the entries admitted now.
func (t *Tier) Used() int64 {
	if t == nil {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.used
}

// Admit reserves bytes for key, evicting the least recently used other entries until
// they fit. It reports false, evicting nothing, when bytes alone exceed the budget.
// An existing entry of the same key is replaced (its evict function runs). evict is
// called once, when the entry leaves the tier by eviction or replacement (not by
// Remove).
func (t *Tier) Admit(key string, bytes int64, evict func()) bool {
	if !t.Enabled() || bytes < 0 || bytes > t.max {
		return false
	}
	var evicted []func()
	t.mu.Lock()
	if el, ok := t.entries[key]; ok {
		evicted = append(evicted, t.removeLocked(el))
	}
	for t.used+bytes > t.max {
		el := t.lru.Back()
		if el == nil {
			break
		}
		evicted = append(evicted, t.removeLocked(el))
	}
	t.entries[key] = t.lru.PushFront(&entry{key: key, bytes: bytes, evict: evict})
	t.used += bytes
	t.mu.Unlock()
	for _, f := range evicted {
		if f != nil {
			f()
		}
	}
	return true
}

// Touch marks key as just used, so that it is evicted last. Unknown keys are ignored.
func (t *Tier) Touch(key string) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if el, ok := t.entries[key]; ok {
		t.lru.MoveToFront(el)
	}
}

// Remove takes key out of the budget without calling its evict function: the owner
// dropped the data itself. It reports whether key was admitted.
func (t *Tier) Remove(key string) bool {
	if t == nil {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	el, ok := t.entries[key]
	if ok {
		t.removeLocked(el)
	}
	return ok
}

// removeLocked drops el from the budget and returns its evict function.
func (t *Tier) removeLocked(el *list.Element) func() {
	e := t.lru.Remove(el).(*entry)
	delete(t.entries, e.key)
	t.used -= e.bytes
	return e.evict
}
