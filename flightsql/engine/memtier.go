//go:build duckdb_arrow

package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	bindings "github.com/duckdb/duckdb-go-bindings"

	"github.com/quiverdata/quiver/catalog/lowprio"
	"github.com/quiverdata/quiver/flightsql/memtier"
)

// The SQL half of the memory tier (quiver serve --memory-tier).
//
// A dataset that a query reads becomes hot: one background worker (hotTables.run)
// copies its view into a DuckDB table in the hidden schema memSchema, named
// "<view>@<n>", and points the view at that table instead of the Parquet files. The
// query that made it hot runs on Parquet; one copy is made at a time. The table is
// admitted to the shared byte budget (memtier.Tier) under the key "sql:<dataset>",
// sized by what DuckDB reports its in-memory tables grew by while it was made
// (duckdb_memory(), tag IN_MEMORY_TABLE), reserved beforehand at memReserve times
// the Parquet footers' uncompressed size. Measured on the 10M x (int64, float64,
// 16-char string, timestamp) benchmark file: footers 419 MiB uncompressed,
// duckdb_memory 655 MiB, the process's RSS grew by 622 MiB; DuckDB's own count is
// the honest one (duckdb_tables().estimated_size counts rows, not bytes).
//
// Invariants:
//   - A view names its table only while the dataset's version is the one the table
//     was copied from. SyncTables changes a view's version under syncMu and, in the
//     same step, points it back at Parquet (retireLocked): the next statement reads
//     the new version, never the copy.
//   - A copy is swapped in only if nothing changed the view while it was made: every
//     change to a view moves its epoch (hotTables.epochs), and the copy is discarded
//     when the epoch, the database or the version differs from what it started from.
//   - A table leaves DuckDB only after every session that might have bound it has
//     ended: it is retired with the set of sessions alive when its view stopped naming
//     it, and dropped once none of them is. DuckDB does not keep a dropped table for a
//     running scan (verified on 1.5.6: a scan of a table dropped mid-stream ended
//     early, without an error), so this wait is what keeps results whole.
//   - Clients never name the tables: the gate refuses every reference to memSchema
//     (hiddenRef), and ReadTables attributes a scan of a table only to the view that
//     names it.

// memSchema is the schema of the tier's tables. A client statement that names it is
// refused (hiddenRef).
const memSchema = "__quiver_mem"

// memKeyPrefix starts the tier keys of the engine's tables; plain DoGet uses others.
const memKeyPrefix = "sql:"

// memReserve is what the tier reserves for a copy before making it, in units of the
// Parquet footers' uncompressed size (see above: DuckDB held 1.56 of it).
const memReserve = 1.5

// memReapInterval is how often the worker looks for retired tables it may drop.
const memReapInterval = 50 * time.Millisecond

// hotTables is the engine's part of the memory tier. Its maps are guarded by the
// engine's syncMu, like the views they follow, except where noted.
type hotTables struct {
	e    *Engine
	tier *memtier.Tier

	reads  chan scanned  // reads of views, from queries; dropped when full
	wake   chan struct{} // an eviction to apply
	stop   chan struct{}
	done   chan struct{}
	closed sync.Once

	evictMu sync.Mutex
	evicted []string // tables the tier evicted, for the worker to unmap

	// Guarded by syncMu:
	seq     uint64            // numbers tables
	epochs  map[string]uint64 // by view name: moves on every change to the view
	skip    map[string]string // by view name: a version not to copy again (too large, failed)
	retired []retiredTable

	// loads counts tables swapped in, for tests; guarded by syncMu.
	loads int
}

// retiredTable is a table no view names any more, waiting for the sessions that may
// have bound it.
type retiredTable struct {
	table string
	gen   uint64 // the database it is in
	wait  map[*session]struct{}
}

// scanned is what one statement's plan scans: Parquet file lists, and tier tables.
type scanned struct {
	parquet [][]string
	tables  []string
}

// empty reports whether s holds no scan.
func (s scanned) empty() bool { return len(s.parquet) == 0 && len(s.tables) == 0 }

// newHotTables starts the worker when tier admits anything; nil otherwise.
func newHotTables(e *Engine, tier *memtier.Tier) *hotTables {
	if !tier.Enabled() {
		return nil
	}
	h := &hotTables{e: e, tier: tier,
		reads: make(chan scanned, 64), wake: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{}),
		epochs: map[string]uint64{}, skip: map[string]string{}}
	lowprio.Go(h.run) // copies are background work
	return h
}

// close stops the worker and waits for it. It takes the engine's tables out of the
// tier: the database they live in is closing.
func (h *hotTables) close() {
	if h == nil {
		return
	}
	h.closed.Do(func() { close(h.stop) })
	<-h.done
}

// noteRead tells the worker that a statement scanned sc. It never blocks.
func (h *hotTables) noteRead(sc scanned) {
	if h == nil || sc.empty() {
		return
	}
	select {
	case h.reads <- sc:
	default: // the worker is busy copying; a later read will tell it again
	}
}

// run is the worker: it copies views read into tables, unmaps evicted tables, and
// drops retired ones. Owned by hotTables; close waits for it.
func (h *hotTables) run() {
	defer close(h.done)
	tick := time.NewTicker(memReapInterval)
	defer tick.Stop()
	for {
		select {
		case <-h.stop:
			h.forgetAll()
			return
		case sc := <-h.reads:
			h.applyEvictions()
			h.read(h.more(sc))
		case <-h.wake:
			h.applyEvictions()
		case <-tick.C:
			h.applyEvictions()
			h.reap()
		}
	}
}

// more adds to sc the reads queued behind it, so that a burst of queries costs the
// worker one look at the views.
func (h *hotTables) more(sc scanned) scanned {
	// The slices may be shared with the gate cache's entry: merge into copies.
	sc = scanned{parquet: slices.Clone(sc.parquet), tables: slices.Clone(sc.tables)}
	for range cap(h.reads) {
		select {
		case next := <-h.reads:
			sc.parquet = append(sc.parquet, next.parquet...)
			sc.tables = append(sc.tables, next.tables...)
		default:
			return sc
		}
	}
	return sc
}

// skipped reports whether version of view name is not to be copied again. syncMu is
// held.
func (h *hotTables) skipped(name, version string) bool {
	v, ok := h.skip[name]
	return ok && v == version
}

// read touches the tables sc scanned and copies, one after the other, the views it
// read from Parquet that are not hot yet.
func (h *hotTables) read(sc scanned) {
	e := h.e
	tables := make(map[string]bool, len(sc.tables))
	for _, t := range sc.tables {
		tables[t] = true
	}
	files := make(map[string]bool, len(sc.parquet))
	for _, f := range sc.parquet {
		files[strings.Join(f, "\x00")] = true
	}
	var toLoad []string // views that read the scanned files and have no copy yet
	e.syncMu.Lock()
	for name, v := range e.views {
		switch {
		case v.mem != "":
			if tables[v.mem] {
				h.tier.Touch(memKeyPrefix + v.dataset)
			}
		case h.skipped(name, v.version) || len(v.files) == 0:
		case files[strings.Join(v.files, "\x00")]:
			toLoad = append(toLoad, name)
		}
	}
	e.syncMu.Unlock()
	for _, name := range toLoad {
		select {
		case <-h.stop:
			return
		default:
		}
		if err := h.load(name); err != nil {
			e.log.Warn("memory tier: dataset stays on Parquet", "table", name, "err", err)
		}
	}
}

// load copies view name into a table and, if nothing changed meanwhile and the tier
// admits it, points the view at it.
func (h *hotTables) load(name string) error {
	e := h.e
	e.syncMu.Lock()
	v, ok := e.views[name]
	if !ok || v.mem != "" || h.skipped(name, v.version) {
		e.syncMu.Unlock()
		return nil
	}
	epoch := h.epochs[name]
	h.seq++
	table := name + "@" + strconv.FormatUint(h.seq, 10)
	e.syncMu.Unlock()
	key := memKeyPrefix + v.dataset
	skip := func(err error) error {
		e.syncMu.Lock()
		if h.epochs[name] == epoch {
			h.skip[name] = v.version
		}
		e.syncMu.Unlock()
		return err
	}

	s, err := e.newSessionFor("memory tier: copy of " + name) // as Shutdown names it
	if err != nil {
		return err
	}
	defer s.mu.Unlock()
	defer s.destroyLocked(nil)
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.watch(ctx)
	go func() {
		select {
		case <-h.stop:
			cancel()
		case <-s.done:
		}
	}()

	uncompressed, err := h.estimate(s.conn, v.files)
	if err != nil {
		return skip(fmt.Errorf("estimate its size: %w", err))
	}
	estimate := int64(float64(uncompressed) * memReserve)
	if estimate > h.tier.Max() {
		return skip(fmt.Errorf("its estimated %d bytes exceed the memory tier's %d", estimate, h.tier.Max()))
	}
	// Reserve first, so that the tier evicts before the copy grows, not after.
	evict := func() { h.evict(table) }
	if !h.tier.Admit(key, estimate, evict) {
		return skip(fmt.Errorf("the memory tier does not admit %d bytes", estimate))
	}
	admitted := true
	defer func() {
		if admitted {
			h.tier.Remove(key)
		}
	}()

	before, err := memTableBytes(s.conn)
	if err != nil {
		return err
	}
	start := time.Now()
	q := "CREATE SCHEMA IF NOT EXISTS " + quoteIdent(memSchema) +
		"; CREATE TABLE " + memIdent(table) + " AS SELECT * FROM " + quoteIdent(name)
	if err := exec(s.conn, q); err != nil {
		exec(s.conn, "DROP TABLE IF EXISTS "+memIdent(table))
		return e.noteFailure(s.gen, fmt.Errorf("copy into memory: %w", err))
	}
	dropCopy := func() {
		if err := exec(s.conn, "DROP TABLE IF EXISTS "+memIdent(table)); err != nil {
			e.log.Warn("memory tier: drop a copy not used", "table", table, "err", err)
		}
	}
	after, err := memTableBytes(s.conn)
	if err != nil {
		dropCopy()
		return err
	}
	size := max(after-before, 0)
	if err := h.checkRows(s.conn, table, v.dataset, v.version); err != nil {
		dropCopy()
		return err // not skipped: on object storage the parts may be leased next time
	}
	if size != estimate {
		h.tier.Remove(key) // the reservation becomes the copy's measured size
		if !h.tier.Admit(key, size, evict) {
			admitted = false
			dropCopy()
			return skip(fmt.Errorf("its %d bytes in memory exceed the memory tier's %d", size, h.tier.Max()))
		}
	}

	e.syncMu.Lock()
	defer e.syncMu.Unlock()
	cur, ok := e.views[name]
	e.dbMu.RLock()
	gen := e.gen
	e.dbMu.RUnlock()
	if !ok || cur.mem != "" || cur.version != v.version || h.epochs[name] != epoch || gen != s.gen || e.admin.Ptr == nil {
		dropCopy()
		return nil // the dataset changed while it was copied: the next read copies it again
	}
	e.viewsGen.Add(1)
	err = exec(e.admin, "CREATE OR REPLACE VIEW "+quoteIdent(name)+" AS SELECT * FROM "+memIdent(table))
	e.viewsGen.Add(1)
	if err != nil {
		dropCopy()
		return e.noteFailure(gen, fmt.Errorf("point the view at its copy: %w", err))
	}
	cur.mem = table
	e.views[name] = cur
	h.epochs[name]++
	h.loads++
	admitted = false // the view holds it now
	e.log.Info("memory tier: dataset in memory", "dataset", v.dataset, "bytes", size, "estimate", estimate,
		"took", time.Since(start).Round(time.Millisecond), "tier_used", h.tier.Used(), "tier_max", h.tier.Max())
	return nil
}

// estimate is the uncompressed size of files' column chunks, from their footers.
func (h *hotTables) estimate(conn bindings.Connection, files []string) (int64, error) {
	var b strings.Builder
	b.WriteString("SELECT coalesce(sum(total_uncompressed_size), 0)::VARCHAR FROM parquet_metadata([")
	for i, f := range files {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quoteLiteral(f))
	}
	b.WriteString("])")
	out, err := queryString(conn, b.String())
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(out, 10, 64)
}

// checkRows, when the engine reads through LocalFiles, compares the copy's rows with
// the dataset's: on object storage a view names a file without rows while no query
// leases the dataset's parts (partfiles.go), and such a copy must not be used.
func (h *hotTables) checkRows(conn bindings.Connection, table, dataset, version string) error {
	e := h.e
	if e.localFiles == nil || e.catalog == nil {
		return nil
	}
	snap := e.catalog.snap.Load()
	info, ok := snap.Dataset(dataset)
	if !ok || info.Version != version {
		return errors.New("the dataset changed while it was copied")
	}
	out, err := queryString(conn, "SELECT count(*)::VARCHAR FROM "+memIdent(table))
	if err != nil {
		return err
	}
	if n, _ := strconv.ParseInt(out, 10, 64); n != info.Rows {
		return fmt.Errorf("the copy has %d rows, the dataset %d: its parts were not leased", n, info.Rows)
	}
	return nil
}

// memTableBytes is what DuckDB's in-memory tables hold now.
func memTableBytes(conn bindings.Connection) (int64, error) {
	out, err := queryString(conn, "SELECT coalesce(sum(memory_usage_bytes), 0)::VARCHAR FROM duckdb_memory() WHERE tag = 'IN_MEMORY_TABLE'")
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(out, 10, 64)
}

func memIdent(table string) string { return quoteIdent(memSchema) + "." + quoteIdent(table) }

// HotTables reports the datasets whose views read an in-memory copy now (the memory
// tier), in no order.
func (e *Engine) HotTables() []string {
	e.syncMu.Lock()
	defer e.syncMu.Unlock()
	var out []string
	for _, v := range e.views {
		if v.mem != "" {
			out = append(out, v.dataset)
		}
	}
	return out
}
