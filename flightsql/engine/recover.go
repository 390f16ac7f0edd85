//go:build duckdb_arrow

package engine

import (
	"errors"
	"fmt"
	"slices"

	bindings "github.com/duckdb/duckdb-go-bindings"
)

// Recovery from a failed database.
//
// DuckDB answers a bug of its own (an INTERNAL error) by invalidating the database:
// from then on every statement on every connection fails with FATAL until the process
// opens it again. One client's query must not take SQL down for everyone, so the
// engine notes such an error against the database it came from (noteFailure) and the
// next session or SyncTables replaces that database (recover): a fresh one with the
// same lock-down and the same views. A generation number keeps a late report about an
// old database from replacing the new one.

// noteFailure marks database gen as failed when err says DuckDB failed internally,
// and returns err.
func (e *Engine) noteFailure(gen uint64, err error) error {
	if !errors.Is(err, ErrDatabaseFailed) {
		return err
	}
	e.dbMu.Lock()
	defer e.dbMu.Unlock()
	if gen == e.gen && e.broken == nil {
		e.broken = err
		e.log.Error("engine: DuckDB failed; its database will be replaced before the next statement",
			"generation", gen, "err", err)
	}
	return err
}

// recover replaces the database if it failed, and does nothing otherwise. Sessions
// still connected to the old database keep it alive (a connection owns a reference
// to its database) until they end; they fail, as DuckDB fails everything there.
func (e *Engine) recover() error {
	e.dbMu.RLock()
	healthy := e.broken == nil
	e.dbMu.RUnlock()
	if healthy {
		return nil
	}
	e.syncMu.Lock()
	defer e.syncMu.Unlock()
	return e.recoverLocked()
}

// recoverLocked is recover with syncMu held.
func (e *Engine) recoverLocked() error {
	e.dbMu.Lock()
	defer e.dbMu.Unlock()
	cause := e.broken
	if cause == nil {
		return nil // another goroutine recovered first
	}
	e.mu.Lock()
	closed := e.closed
	e.mu.Unlock()
	if closed || e.admin.Ptr == nil {
		return ErrClosed
	}
	db, admin, err := e.openDB()
	if err != nil {
		e.log.Error("engine: cannot replace the failed DuckDB database; will retry", "err", err)
		return fmt.Errorf("%w: reopening failed: %w", ErrDatabaseFailed, err)
	}
	bindings.Disconnect(&e.admin)
	bindings.Close(&e.db)
	e.db, e.admin = db, admin
	e.gen++
	e.broken = nil

	// The views again, before any session can connect (dbMu is held): a table that
	// fails here is forgotten, so that the next SyncTables creates it.
	restored := 0
	for name, v := range e.views {
		t := Table{Name: name, Files: slices.Clone(v.files), Version: v.version}
		if err := exec(e.admin, viewSQL(t)); err != nil {
			e.log.Error("engine: recreate view after recovery", "table", name, "err", err)
			delete(e.views, name)
			continue
		}
		restored++
	}
	e.log.Error("engine: replaced the failed DuckDB database", "generation", e.gen,
		"views", restored, "cause", cause)
	return nil
}
