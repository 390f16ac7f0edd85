//go:build duckdb_arrow

package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	bindings "github.com/duckdb/duckdb-go-bindings"

	"github.com/quiverdata/quiver/catalog"
)

// A statement runs on the data of the versions its views named, or fails with an
// error that says why. Two races make that hard, and this file closes both:
//
//   - With LocalFiles (object storage), a view names a stand-in file (no rows) unless
//     a query leases its dataset's version. A dataset replaced or appended to between
//     the lease and the statement moves the snapshot on, and the rebuilt view names
//     the new version's stand-in: the statement would read no rows, or miss the
//     append. So a statement that executes checks the files its Parquet scans read
//     (startReadingData): one that would read a stand-in fails with ErrViewsMoved,
//     and the caller leases the new version and runs it again.
//   - A dataset dropped between the view sync and the statement (on a local root its
//     files are moved to the trash; on any root its view is dropped) fails the
//     statement with DuckDB's "No files found" or an unknown table; on a local root,
//     a drop while a multi-part scan runs fails it with "Cannot open file" when the
//     scan reaches the next part (the pin keeps the bytes, but under the trash's
//     name). Query and Rows report catalog.ErrNotFound naming the table instead
//     (droppedUnder).

// ErrViewsMoved reports a statement that would have read a file standing in for a
// dataset's data (LocalFiles.StandIn) instead of the data: the dataset changed after
// its data was fetched for the statement. Fetch the new version's data and run the
// statement again.
var ErrViewsMoved = errors.New("a table the statement reads changed after its data was fetched")

// maxPrepareAttempts bounds how often startReadingData prepares again when views
// changed while it bound or started the statement, so that what it reads is not
// known for sure.
const maxPrepareAttempts = 3

// startReadingData prepares sql, binds row row of params (when not nil) and starts
// executing it, leaving the statement and its result in the session (s.stmt,
// s.res); it returns the origins of the result columns. s.mu is held.
//
// With LocalFiles it refuses, with ErrViewsMoved, a statement whose Parquet scans
// read a stand-in file, and it makes sure that what it checked is what runs: the
// files are those of the plan bound on the views as they were when the statement
// was prepared, and DuckDB binds a prepared statement again when it executes after
// the catalog changed. So when any view changed between the plan's binding and the
// start of the execution, it starts again.
func (e *Engine) startReadingData(s *session, sql string, params arrow.RecordBatch, row int) ([][]string, error) {
	for attempt := 1; ; attempt++ {
		st, origins, scans, views, err := e.prepareScanning(s, sql)
		if err != nil {
			return nil, err
		}
		s.stmt = st
		if e.localFiles != nil && views%2 == 0 && !s.schemaOnly {
			for _, f := range scans {
				if e.localFiles.StandIn(f) {
					return nil, fmt.Errorf("%w: %s", ErrViewsMoved, e.viewOfFile(f))
				}
			}
		}
		if err := bindParams(st, params, row); err != nil {
			return nil, err
		}
		if err := executeStreaming(st, &s.res); err != nil {
			return nil, err
		}
		if e.localFiles == nil || (views%2 == 0 && e.viewsGen.Load() == views) {
			return origins, nil
		}
		bindings.DestroyResult(&s.res)
		bindings.DestroyPrepare(&s.stmt)
		if attempt == maxPrepareAttempts {
			return nil, fmt.Errorf("%w: the tables kept changing while the statement started", ErrViewsMoved)
		}
	}
}

// viewOfFile names the view whose files include f, for a message; "" when none does.
func (e *Engine) viewOfFile(f string) string {
	e.syncMu.Lock()
	defer e.syncMu.Unlock()
	for name, v := range e.views {
		for _, vf := range v.files {
			if vf == f {
				return fmt.Sprintf("table %q (dataset %q)", name, v.dataset)
			}
		}
	}
	return "a table"
}

// catalogSnapshot is the snapshot the views were last synced to; nil without a
// catalog.
func (e *Engine) catalogSnapshot() *Snapshot {
	if e.catalog == nil {
		return nil
	}
	return e.catalog.snap.Load()
}

// droppedUnder explains err, a statement's failure, when a dataset of before (the
// snapshot the statement's views were synced to) that the statement reads has been
// dropped since: an error wrapping catalog.ErrNotFound naming its table. It returns
// nil when err has another cause.
//
// The failure names what it missed: DuckDB's "Table with name T does not exist"
// (the view was dropped before the statement bound it), or a file of the dataset
// that is gone (its files were moved to the trash after the statement bound them:
// "No files found that match the pattern").
func (e *Engine) droppedUnder(ctx context.Context, before *Snapshot, err error) error {
	if ctx.Err() != nil || errors.Is(err, ErrClosed) {
		return nil
	}
	msg := err.Error()
	var missed []catalog.Info // what the failure names, before looking at the store
	for _, info := range before.datasets {
		if missedTable(msg, info.Table()) || missedFile(msg, info.Files) {
			missed = append(missed, info)
		}
	}
	if len(missed) == 0 {
		return nil
	}
	now, cerr := e.catalog.current(ctx)
	if cerr != nil {
		return nil
	}
	for _, info := range missed {
		if _, ok := now.Dataset(info.Name); !ok {
			return fmt.Errorf("table %q: dataset %q was dropped as the query started: %w",
				info.Table(), info.Name, catalog.ErrNotFound)
		}
	}
	return nil
}

// missedTable reports whether msg is DuckDB's binder saying table does not exist
// (identifiers compared as DuckDB folds them).
func missedTable(msg, table string) bool {
	const prefix, suffix = "Table with name ", " does not exist"
	for rest := msg; ; {
		i := strings.Index(rest, prefix)
		if i < 0 {
			return false
		}
		rest = rest[i+len(prefix):]
		if j := strings.Index(rest, suffix); j >= 0 && catalog.FoldIdent(rest[:j]) == catalog.FoldIdent(table) {
			return true
		}
	}
}

// missedFile reports whether msg names one of files as not found: when the
// statement bound the view ("No files found that match the pattern"), or when its
// scan reached the file ("Cannot open file").
func missedFile(msg string, files []string) bool {
	if !strings.Contains(msg, "No files found") && !strings.Contains(msg, "Cannot open file") {
		return false
	}
	for _, f := range files {
		if strings.Contains(msg, `"`+f+`"`) {
			return true
		}
	}
	return false
}
