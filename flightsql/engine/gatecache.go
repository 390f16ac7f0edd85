//go:build duckdb_arrow

package engine

import (
	"container/list"
	"slices"
	"sync"
)

// The gate's memory. Checking a statement costs DuckDB two extra parses and one
// extra bind (json_serialize_sql, json_serialize_plan) on top of the prepare that
// runs it; a client that sends the same text again (a dashboard's refresh, a point
// lookup, the GetFlightInfo then DoGet of one query) would pay them every time. So
// the verdict on a statement text is remembered, and a statement found here is only
// extracted and prepared: one parse, one bind.
//
// Invariant: a verdict holds only for the catalog it was reached on. The key holds
// the views' generation (bumped by every view SyncTables creates or drops) and the
// database's, and a statement whose plan reads Parquet files other than exactly the
// files of a view is never remembered: what a path or a glob names can change on
// disk without the views changing, and the nesting check (checkFilesNesting) must see
// it again. Views are made only of files SyncTables has checked, and the files a
// remembered plan scans are checked for nesting again whenever it is used (a stat
// each), as the whole gate would: a file overwritten in place between a sync and a
// query is caught either way.

// gateCacheBytes bounds the statement text the cache holds; gateCacheMaxSQL the text
// of one statement it remembers.
const (
	gateCacheBytes  = 4 << 20
	gateCacheMaxSQL = 16 << 10
)

// gateKey names one verdict: a statement text on one catalog.
type gateKey struct {
	sql   string
	views uint64 // Engine.viewsGen when the verdict was reached
	db    uint64 // the database generation (recover.go)
}

// gateEntry is what is known of a statement text on one catalog.
type gateEntry struct {
	key gateKey
	// admitted: the whole read-only gate passed it (prepareReadOnly). Only this
	// lets a statement skip the gate.
	admitted bool
	// files are the Parquet files its plan scans (all of them views' files), checked
	// again for nesting each time the verdict is used: a stat each (fileDepths).
	files []string
	// origins are the plan's result column origins (origins.go).
	origins [][]string
	// scans are what its plan scans, for the memory tier (memtier.go).
	scans scanned
	// reads is ReadTables' analysis, once it has run: the tables the statement
	// names (folded to as written) and whether its plan reads only through them.
	reads *readsVerdict
}

// readsVerdict is the part of ReadTables that depends on the statement and the
// catalog, not on the caller's grant.
type readsVerdict struct {
	named map[string]string
	plan  error // nil, or why the bound plan reads other than through those views
}

// gateCache is a bounded LRU of gate verdicts. Safe for concurrent use.
type gateCache struct {
	mu    sync.Mutex
	bytes int
	byKey map[gateKey]*list.Element // of *gateEntry
	order list.List                 // most recently used first
}

func newGateCache() *gateCache { return &gateCache{byKey: make(map[gateKey]*list.Element)} }

// admitted reports whether the whole gate admitted k before, and the Parquet files
// its plan scans.
func (c *gateCache) admitted(k gateKey) ([]string, [][]string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[k]
	if !ok {
		return nil, nil, false
	}
	c.order.MoveToFront(el)
	e := el.Value.(*gateEntry)
	return e.files, e.origins, e.admitted
}

// reads returns ReadTables' verdict on k, if known.
func (c *gateCache) reads(k gateKey) *readsVerdict {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[k]
	if !ok {
		return nil
	}
	c.order.MoveToFront(el)
	return el.Value.(*gateEntry).reads
}

// admit remembers that the whole gate admitted k, whose plan scans files.
func (c *gateCache) admit(k gateKey, files []string, origins [][]string) {
	c.put(k, func(e *gateEntry) { e.admitted, e.files, e.origins = true, files, origins })
}

// scans returns what k's plan scans, if known.
func (c *gateCache) scans(k gateKey) scanned {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[k]; ok {
		return el.Value.(*gateEntry).scans
	}
	return scanned{}
}

// putScans remembers what k's plan scans.
func (c *gateCache) putScans(k gateKey, sc scanned) {
	c.put(k, func(e *gateEntry) { e.scans = sc })
}

// putReads remembers ReadTables' verdict on k.
func (c *gateCache) putReads(k gateKey, r *readsVerdict) {
	c.put(k, func(e *gateEntry) { e.reads = r })
}

// put applies set to k's entry, making one if needed.
func (c *gateCache) put(k gateKey, set func(*gateEntry)) {
	if len(k.sql) > gateCacheMaxSQL {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[k]; ok {
		set(el.Value.(*gateEntry))
		c.order.MoveToFront(el)
		return
	}
	e := &gateEntry{key: k}
	set(e)
	c.byKey[k] = c.order.PushFront(e)
	c.bytes += len(k.sql)
	for c.bytes > gateCacheBytes {
		last := c.order.Back()
		e := last.Value.(*gateEntry)
		c.order.Remove(last)
		delete(c.byKey, e.key)
		c.bytes -= len(e.key.sql)
	}
}

// len is the number of verdicts held.
func (c *gateCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.byKey)
}

// gateKeyFor is the key of sql on the catalog a session of database gen sees now.
func (e *Engine) gateKeyFor(sql string, gen uint64) gateKey {
	return gateKey{sql: sql, views: e.viewsGen.Load(), db: gen}
}

// cacheable reports whether a verdict on plan may be remembered, and the files its
// Parquet scans read: it may if every Parquet scan in it reads exactly the files of
// one of the views.
func (e *Engine) cacheable(plan boundPlan) ([]string, bool) {
	var scans [][]string
	var files []string
	for _, g := range plan.gets {
		if parquetScans[g.name] {
			scans = append(scans, g.files)
			files = append(files, g.files...)
		}
	}
	if len(scans) == 0 {
		return nil, true
	}
	e.syncMu.Lock()
	defer e.syncMu.Unlock()
	for _, f := range scans {
		if !e.isViewFiles(f) {
			return nil, false
		}
	}
	return files, true
}

// scannedFiles lists the files every Parquet scan of the plan reads.
func (p boundPlan) scannedFiles() []string {
	var files []string
	for _, g := range p.gets {
		if parquetScans[g.name] {
			files = append(files, g.files...)
		}
	}
	return files
}

// isViewFiles reports whether files is exactly the file list of a view. syncMu is held.
func (e *Engine) isViewFiles(files []string) bool {
	if len(files) == 0 {
		return false
	}
	for _, v := range e.views {
		if slices.Equal(v.files, files) {
			return true
		}
	}
	return false
}
