//go:build duckdb_arrow

package engine

import (
	"context"
	"time"

	"github.com/quiverdata/quiver/catalog"
)

// Learning new datasets' columns before anyone asks. GetTables with schemas needs
// each dataset's columns as DuckDB sees them (TableColumns); for a schema not seen
// before that is a DESCRIBE in DuckDB, and a listing that met several new datasets
// waited for each in turn: under BenchmarkLoad the first listings took 130–150 ms,
// the slowest in the run. After the store reports a commit, a background pass
// describes the datasets whose columns are unknown, so that listings find them.

// columnsWarmDelay lets a burst of commits settle into one pass.
const columnsWarmDelay = 20 * time.Millisecond

// columnsWarmer is the background pass's wiring: wake is signalled at each commit
// (catalogView.changed), cancel stops the pass, done is closed when it has stopped.
type columnsWarmer struct {
	wake   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
}

// startColumnsWarmer starts the background pass; the engine must have a catalog.
func (e *Engine) startColumnsWarmer() {
	ctx, cancel := context.WithCancel(context.Background())
	w := &columnsWarmer{wake: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{})}
	e.warmer = w
	// Only commits wake it, not the start: a snapshot made at start on object
	// storage could catch another node's first put half made, and keep it out until
	// the next full listing (FullScanInterval), where the first request would see it.
	e.catalog.onChange = w.signal
	go func() {
		defer close(w.done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-w.wake:
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(columnsWarmDelay):
			}
			e.warmColumns(ctx)
		}
	}()
}

// signal asks for a pass, without blocking (it runs under the store's commit lock).
func (w *columnsWarmer) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// stop tells the background pass to end; wait waits until it has.
func (w *columnsWarmer) stop() {
	if w != nil {
		w.cancel()
	}
}

func (w *columnsWarmer) wait() {
	if w != nil {
		<-w.done
	}
}

// warmColumns describes the current datasets whose columns no one has learned or
// is learning. A failure is left for the listing that needs the columns, which
// describes again and reports it.
//
// Only on a local root. On object storage (the engine reads through LocalFiles) the
// pass would refresh the catalog snapshot early, right after this node's commit, and
// take the commit's notice with it; a request a moment later would then trust that
// snapshot, where it used to look at the dataset again and see other nodes' appends
// made in between (their prefixes have no stamp a scan could compare).
func (e *Engine) warmColumns(ctx context.Context) {
	e.viewsMu.Lock()
	remote := e.localFiles != nil
	e.viewsMu.Unlock()
	if remote {
		return
	}
	snap, err := e.Snapshot(ctx)
	if err != nil {
		return
	}
	synced := false
	for _, info := range snap.Datasets() {
		key := columnsKey(info)
		cols, lookup, mine := e.columns.find(key)
		if cols != nil || !mine {
			continue // known, or being described
		}
		if !synced {
			if err := e.syncCatalog(ctx); err != nil {
				e.columns.finish(key, lookup, nil, false, err)
				return
			}
			synced = true
		}
		cols, err := e.describeColumns(ctx, info.Table())
		e.columns.finish(key, lookup, cols, err == nil, err)
		if err != nil {
			e.log.Debug("columns of a new dataset not learned ahead", "table", info.Table(), "err", err)
		}
	}
}

// knownColumns reports whether the columns of info are remembered: for tests.
func (e *Engine) knownColumns(info catalog.Info) bool {
	e.columns.mu.Lock()
	defer e.columns.mu.Unlock()
	return e.columns.byKey[columnsKey(info)] != nil
}
