//go:build duckdb_arrow

package engine

// How the memory tier's tables leave (memtier.go): by eviction from the tier, by a
// change to their dataset, by the replacement of their database, by Close. A table
// that a view stops naming is retired, and dropped by the worker once every session
// that might have bound it has ended.

// evict is the tier's evict function of table: the worker points its view back at
// Parquet. It runs on whatever goroutine admitted something else, so it only asks.
func (h *hotTables) evict(table string) {
	h.evictMu.Lock()
	h.evicted = append(h.evicted, table)
	h.evictMu.Unlock()
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// applyEvictions points the views of evicted tables back at Parquet.
func (h *hotTables) applyEvictions() {
	h.evictMu.Lock()
	tables := h.evicted
	h.evicted = nil
	h.evictMu.Unlock()
	if len(tables) == 0 {
		return
	}
	e := h.e
	e.syncMu.Lock()
	defer e.syncMu.Unlock()
	if e.admin.Ptr == nil {
		return
	}
	for _, table := range tables {
		for name, v := range e.views {
			if v.mem != table {
				continue
			}
			e.viewsGen.Add(1)
			err := exec(e.admin, viewSQL(v.table(name)))
			e.viewsGen.Add(1)
			if err != nil {
				// The view keeps its copy and the tier's bytes are short of it until
				// the dataset changes; say so rather than serve a broken view.
				e.log.Error("memory tier: point a view back at Parquet", "table", name, "err", e.noteFailure(e.gen, err))
				continue
			}
			h.epochs[name]++
			v.mem = ""
			e.views[name] = v
			h.retireLocked(table)
			e.log.Info("memory tier: dataset evicted", "dataset", v.dataset)
		}
	}
}

// viewChangedLocked is SyncTables' notice that view name is being replaced (by
// version, or dropped when version is ""): a table the view named is retired and
// leaves the tier. The caller writes the new view. syncMu is held.
func (h *hotTables) viewChangedLocked(name string, old viewState) {
	if h == nil {
		return
	}
	h.epochs[name]++
	if old.mem == "" {
		return
	}
	h.tier.Remove(memKeyPrefix + old.dataset)
	h.retireLocked(old.mem)
}

// retireLocked schedules table's drop for when every session alive now has ended.
// syncMu is held.
func (h *hotTables) retireLocked(table string) {
	e := h.e
	e.mu.Lock()
	wait := make(map[*session]struct{}, len(e.sessions))
	for s := range e.sessions {
		wait[s] = struct{}{}
	}
	e.mu.Unlock()
	e.dbMu.RLock()
	gen := e.gen
	e.dbMu.RUnlock()
	h.retired = append(h.retired, retiredTable{table: table, gen: gen, wait: wait})
}

// reap drops the retired tables no running session may read.
func (h *hotTables) reap() {
	e := h.e
	e.syncMu.Lock()
	defer e.syncMu.Unlock()
	h.pruneLocked()
	if len(h.retired) == 0 || e.admin.Ptr == nil {
		return
	}
	e.mu.Lock()
	live := make(map[*session]struct{}, len(e.sessions))
	for s := range e.sessions {
		live[s] = struct{}{}
	}
	e.mu.Unlock()
	keep := h.retired[:0]
	for _, r := range h.retired {
		if r.gen != e.gen {
			continue // its database was replaced: it goes with it
		}
		waiting := false
		for s := range r.wait {
			if _, ok := live[s]; ok {
				waiting = true
				break
			}
		}
		if waiting {
			keep = append(keep, r)
			continue
		}
		if err := exec(e.admin, "DROP TABLE IF EXISTS "+memIdent(r.table)); err != nil {
			e.log.Warn("memory tier: drop a retired copy", "table", r.table, "err", e.noteFailure(r.gen, err))
			continue
		}
	}
	clear(h.retired[len(keep):])
	h.retired = keep
}

// forgetDatabaseLocked is the end of a recovery (recover.go): the new database has
// Parquet views only. The tables stay in the old database until its last session
// ends. syncMu is held.
func (h *hotTables) forgetDatabaseLocked() {
	if h == nil {
		return
	}
	for name, v := range h.e.views {
		if v.mem != "" {
			h.tier.Remove(memKeyPrefix + v.dataset)
			v.mem = ""
			h.e.views[name] = v
		}
		h.epochs[name]++
	}
	h.retired = nil
}

// forgetAll takes every table out of the tier: the engine is closing.
func (h *hotTables) forgetAll() {
	e := h.e
	e.syncMu.Lock()
	defer e.syncMu.Unlock()
	for _, v := range e.views {
		if v.mem != "" {
			h.tier.Remove(memKeyPrefix + v.dataset)
		}
	}
}

// pruneLocked forgets the epochs of dropped views and the skipped versions that are
// no longer current. It runs on the worker, so no copy is being made meanwhile.
// syncMu is held.
func (h *hotTables) pruneLocked() {
	for name := range h.epochs {
		if _, ok := h.e.views[name]; !ok {
			delete(h.epochs, name)
		}
	}
	for name, version := range h.skip {
		if v, ok := h.e.views[name]; !ok || v.version != version {
			delete(h.skip, name)
		}
	}
}
