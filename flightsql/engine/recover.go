//go:build duckdb_arrow

package engine

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	bindings "github.com/duckdb/duckdb-go-bindings"
)

// Recovery from a failed database.
//
// DuckDB answers a bug of its own (an INTERNAL error) by invalidating the database,
// unless told not to (disable_database_invalidation, which the engine sets). One
// client's query must not take SQL down for everyone, and a database that has seen
// an internal error is not trusted further, so the engine notes such an error against
// the database it came from (noteFailure) and replaces that database in the
// background (rebuild): a fresh one with the same lock-down and the same views.
//
// The old database keeps serving while the new one is built: no lock that SQL waits
// on is held while the views are created (3.4 s for 10,000 of them), only while the
// changes SyncTables made meanwhile are replayed and the two are swapped. Sessions
// already connected to the old database keep it alive (a connection owns a reference
// to its database) until they end. A generation number keeps a late report about an
// old database from replacing the new one.
//
// With invalidateOnInternal (tests only) the old database refuses everything, so
// sessions and SyncTables wait for the replacement instead of using it.

// noteFailure marks database gen as failed when err says DuckDB failed internally,
// and returns err. The next session starts its replacement.
func (e *Engine) noteFailure(gen uint64, err error) error {
	if !errors.Is(err, ErrDatabaseFailed) {
		return err
	}
	if !e.invalidateOnInternal && strings.Contains(err.Error(), untypedParameterBug) {
		return errUntypedParameter(err)
	}
	e.dbMu.Lock()
	defer e.dbMu.Unlock()
	if gen == e.gen && e.broken == nil {
		e.broken = err
		e.log.Error("engine: DuckDB failed; its database will be replaced",
			"generation", gen, "err", err)
	}
	return err
}

// untypedParameterBug is the INTERNAL error DuckDB 1.5.6 raises when it executes a
// plan in which a placeholder is still untyped. Its C API prepares without values: a
// placeholder whose first use accepts any type (typeof($1), hash($1)) is bound
// untyped there, and a later use ($1::VARCHAR, $1 = 'x') then types the placeholder
// itself, so that DuckDB sees no reason to plan again with the bound value's type
// (it does when the value's type differs) and executes the untyped use. DuckDB's
// Python client prepares with the values and answers. The error comes before the
// statement reads anything, and with disable_database_invalidation it leaves the
// database as it was: it is the statement's failure alone, and needs no recovery.
// None of the C API's binding calls can make DuckDB plan again with a VARCHAR value
// (its only way, a value of another type, would change what typeof answers).
const untypedParameterBug = "Invalid PhysicalType for GetTypeIdSize"

// errUntypedParameter is the ErrInvalidSQL a client gets for untypedParameterBug,
// with the way round it.
func errUntypedParameter(err error) error {
	msg := err.Error()
	if i := strings.Index(msg, "INTERNAL Error: "); i >= 0 {
		msg = msg[i:]
	}
	return fmt.Errorf("%w: DuckDB cannot run a statement whose parameter is first used where any type fits "+
		"(as in typeof($1)) and typed only by a later use; cast it at its first use, e.g. typeof($1::VARCHAR) (DuckDB: %s)",
		ErrInvalidSQL, msg)
}

// recover starts replacing the database if it failed, and does nothing otherwise.
// It waits for the replacement only when the old database cannot serve meanwhile
// (invalidateOnInternal), and then reports a replacement that failed.
func (e *Engine) recover() error {
	e.dbMu.RLock()
	healthy := e.broken == nil
	e.dbMu.RUnlock()
	if healthy {
		return nil
	}
	e.dbMu.Lock()
	if e.broken == nil {
		e.dbMu.Unlock()
		return nil // replaced meanwhile
	}
	done := e.startRebuildLocked()
	e.dbMu.Unlock()
	if !e.invalidateOnInternal {
		return nil
	}
	<-done
	e.dbMu.RLock()
	defer e.dbMu.RUnlock()
	if e.broken != nil {
		return fmt.Errorf("%w: the replacement database could not be built", ErrDatabaseFailed)
	}
	return nil
}

// startRebuildLocked starts the background rebuild unless one is running, and
// returns a channel closed when the running one ends. dbMu is held for writing.
func (e *Engine) startRebuildLocked() <-chan struct{} {
	if e.rebuildDone != nil {
		return e.rebuildDone
	}
	done := make(chan struct{})
	e.rebuildDone = done
	gen := e.gen
	e.rebuildWG.Add(1)
	go func() {
		defer e.rebuildWG.Done()
		err := e.rebuild(gen)
		e.dbMu.Lock()
		e.rebuildDone = nil
		e.dbMu.Unlock()
		close(done)
		if err != nil && !errors.Is(err, ErrClosed) {
			e.log.Error("engine: cannot replace the failed DuckDB database; the next statement tries again", "err", err)
		}
	}()
	return done
}

// rebuild replaces database gen, which failed, with a fresh one holding the same views.
func (e *Engine) rebuild(gen uint64) error {
	start := time.Now()
	db, admin, err := e.openDB()
	if err != nil {
		return fmt.Errorf("%w: reopening failed: %w", ErrDatabaseFailed, err)
	}
	discard := func() {
		bindings.Disconnect(&admin)
		bindings.Close(&db)
	}

	// The long part, under no lock: the views as SyncTables last left them.
	e.syncMu.Lock()
	snapshot := maps.Clone(e.views)
	e.syncMu.Unlock()
	built := make(map[string]viewState, len(snapshot))
	for name, v := range snapshot {
		if e.isClosed() {
			discard()
			return ErrClosed
		}
		if err := exec(admin, viewSQL(v.table(name))); err != nil {
			e.log.Error("engine: recreate view after a failure", "table", name, "err", err)
			continue
		}
		built[name] = v
	}

	// The short part, under syncMu: what SyncTables changed meanwhile, then the swap.
	// Sessions keep connecting to the old database until the swap.
	e.syncMu.Lock()
	defer e.syncMu.Unlock()
	if e.isClosed() || e.admin.Ptr == nil {
		discard()
		return ErrClosed
	}
	for name := range built {
		if _, ok := e.views[name]; !ok {
			if err := exec(admin, "DROP VIEW IF EXISTS "+quoteIdent(name)); err != nil {
				e.log.Error("engine: drop view after a failure", "table", name, "err", err)
			}
		}
	}
	restored := 0
	for name, v := range e.views {
		if b, ok := built[name]; ok && b.version == v.version && slices.Equal(b.files, v.files) {
			restored++
			continue
		}
		if err := exec(admin, viewSQL(v.table(name))); err != nil {
			// Forgotten, so that the next SyncTables creates it.
			e.log.Error("engine: recreate view after a failure", "table", name, "err", err)
			delete(e.views, name)
			continue
		}
		restored++
	}

	e.hot.forgetDatabaseLocked() // the new database's views read Parquet
	e.dbMu.Lock()
	oldDB, oldAdmin := e.db, e.admin
	e.db, e.admin = db, admin
	e.gen++
	cause := e.broken
	e.broken = nil
	newGen := e.gen
	e.dbMu.Unlock()
	bindings.Disconnect(&oldAdmin)
	bindings.Close(&oldDB) // freed when its last session disconnects
	e.log.Error("engine: replaced the failed DuckDB database", "generation", newGen,
		"failed_generation", gen, "views", restored, "took", time.Since(start).Round(time.Millisecond), "cause", cause)
	return nil
}

// isClosed reports whether Close has begun.
func (e *Engine) isClosed() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.closed
}
