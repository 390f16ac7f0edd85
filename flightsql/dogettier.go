package flightsql

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/quiverdata/quiver/catalog"
	"github.com/quiverdata/quiver/flightsql/memtier"
)

// The DoGet half of the memory tier (quiver serve --memory-tier): the encoded
// FlightData messages of a hot dataset version (schema, dictionaries, batches, as
// sent) are kept, so the next DoGet of the same version sends them without reading
// Parquet or encoding IPC again.
//
// Invariants:
//   - An entry is keyed by what decides its bytes: the ticket's kind (the whole
//     dataset, or a range of parts), the dataset and the version the reader opened.
//     A DoGet opens the dataset first (which reads its current version) and only then
//     looks for an entry of that version, so a new version never meets an old entry.
//     Message size and result limits are the server's own, fixed while it runs.
//   - The handler runs after the authorization interceptor: a principal that may not
//     read a dataset never reaches the tier.
//   - An entry is filled while a normal DoGet streams (a copy of each message, which
//     is also what is sent), and admitted only once the whole stream went out. A copy
//     that would not fit in the tier's budget is abandoned, and so is one that would
//     take the copies of all fills in progress past it. One DoGet fills a key at a time.
//   - The store tells of every commit (catalog.Store.Subscribe): the entries of a
//     changed dataset leave the tier at once, so stale versions do not hold memory.
//     Changes by hand change the version, so they miss, and the old entries age out.

// dogetKeyPrefix marks the DoGet entries in the tier shared with the SQL half.
const dogetKeyPrefix = "doget:"

// dogetTier keeps encoded DoGet streams within a memtier budget.
type dogetTier struct {
	tier *memtier.Tier

	mu      sync.Mutex
	entries map[string]*dogetEntry // admitted, by key
	filling map[string]bool        // keys a DoGet is filling now
	// changes counts the commits heard of per dataset: a fill started before one
	// is not admitted.
	changes map[string]uint64

	// copying is the bytes all fills in progress hold: together they stay within
	// the tier's budget too, however many datasets are being filled at once.
	copying atomic.Int64

	hits, fills atomic.Int64 // for tests and logs
}

// dogetEntry is one version's stream.
type dogetEntry struct {
	dataset string
	msgs    []keptMsg
	bytes   int64
}

// keptMsg is one message of an entry: its wire bytes and what the observer counts.
type keptMsg struct {
	wire    []byte
	header  []byte
	bodyLen int64
}

func newDogetTier(t *memtier.Tier) *dogetTier {
	return &dogetTier{tier: t, entries: map[string]*dogetEntry{}, filling: map[string]bool{}, changes: map[string]uint64{}}
}

// enabled reports whether the tier keeps anything.
func (d *dogetTier) enabled() bool { return d != nil && d.tier.Enabled() }

// dogetKey is the tier key of a DoGet of info (the reader's: the version opened)
// through a ticket of kind ("all", or "parts/FIRST/COUNT").
func dogetKey(kind string, info catalog.Info) string {
	return dogetKeyPrefix + kind + "\x00" + info.Name + "\x00" + info.Version
}

// get returns the entry of key, marking it used; nil when there is none or the tier
// is off.
func (d *dogetTier) get(key string) *dogetEntry {
	if !d.enabled() {
		return nil
	}
	d.mu.Lock()
	e := d.entries[key]
	d.mu.Unlock()
	if e != nil {
		d.tier.Touch(key)
		d.hits.Add(1)
	}
	return e
}

// startFill returns a fill of key for dataset, or nil when another DoGet is filling
// it already or the tier is off.
func (d *dogetTier) startFill(key, dataset string) *dogetFill {
	if !d.enabled() {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.filling[key] || d.entries[key] != nil {
		return nil
	}
	d.filling[key] = true
	return &dogetFill{d: d, key: key, entry: &dogetEntry{dataset: dataset}, max: d.tier.Max(), change: d.changes[dataset]}
}

// changed drops every entry of dataset: the store committed a change to it. It runs
// under the store's commit lock, so it only takes the tier's locks.
func (d *dogetTier) changed(dataset string) {
	d.mu.Lock()
	d.changes[dataset]++
	var keys []string
	for k, e := range d.entries {
		if e.dataset == dataset {
			keys = append(keys, k)
			delete(d.entries, k)
		}
	}
	d.mu.Unlock()
	for _, k := range keys {
		d.tier.Remove(k)
	}
}

// dogetFill copies one DoGet's messages into a new entry.
type dogetFill struct {
	d         *dogetTier
	key       string
	entry     *dogetEntry
	max       int64
	change    uint64 // the dataset's change count when the fill started
	abandoned bool
}

// keep is the message writer's keep: it adds a message, or abandons the fill when
// the entry would not fit in the whole budget.
func (f *dogetFill) keep(wire, header []byte, bodyLen int64) {
	if f.abandoned {
		return
	}
	size := int64(len(wire) + len(header) + 64)
	if f.entry.bytes+size > f.max {
		f.abandon()
		return
	}
	if f.d.copying.Add(size) > f.max {
		f.d.copying.Add(-size)
		f.abandon()
		return
	}
	f.entry.msgs = append(f.entry.msgs, keptMsg{wire: wire, header: header, bodyLen: bodyLen})
	f.entry.bytes += size
}

// abandon drops the copy made so far (the copies go with the messages gRPC still
// holds).
func (f *dogetFill) abandon() {
	if f.abandoned {
		return
	}
	f.abandoned = true
	f.entry.msgs = nil
	f.d.copying.Add(-f.entry.bytes)
}

// finish admits the entry when the stream went out whole (ok) and nothing was
// abandoned; else it drops the copy.
func (f *dogetFill) finish(ok bool) {
	d := f.d
	e := f.entry
	defer func() {
		d.mu.Lock()
		delete(d.filling, f.key)
		d.mu.Unlock()
	}()
	d.mu.Lock()
	stale := d.changes[e.dataset] != f.change
	d.mu.Unlock()
	if !ok || f.abandoned || stale {
		f.abandon()
		return
	}
	// From here the bytes are the tier's (or dropped), no longer a copy in progress.
	f.d.copying.Add(-e.bytes)
	// Admit may evict other entries; their evict functions run after it returns,
	// outside the tier's lock.
	if !d.tier.Admit(f.key, e.bytes, func() { d.forget(f.key, e) }) {
		return
	}
	d.mu.Lock()
	if d.changes[e.dataset] != f.change {
		// The dataset changed while the entry was admitted: take it out again.
		d.mu.Unlock()
		d.tier.Remove(f.key)
		return
	}
	d.entries[f.key] = e
	d.mu.Unlock()
	d.fills.Add(1)
}

// forget drops e from the map when the tier evicts it (unless a newer entry of the
// same key has taken its place).
func (d *dogetTier) forget(key string, e *dogetEntry) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.entries[key] == e {
		delete(d.entries, key)
	}
}

// partsKind is the key kind of a parts ticket.
func partsKind(first, count int) string { return fmt.Sprintf("parts/%d/%d", first, count) }
