//go:build duckdb_arrow

package engine

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/quiverdata/quiver/catalog"
)

// ErrUnqueryable reports a query of a dataset that the engine refuses to let DuckDB
// read because DuckDB could not read it safely: a column nested deeper than
// catalog.MaxNestingDepth, which DuckDB's Parquet reader would spend exponential,
// uninterruptible time on. Such a dataset has no view; the wrapping error names the
// table, the file and the column.
var ErrUnqueryable = errors.New("dataset cannot be queried with SQL")

// refusal is a table SyncTables would not make a view of, at one version.
type refusal struct {
	version string
	files   []string
	err     error // wraps ErrUnqueryable
}

// checkNesting reads the Parquet footer of each of t's files and returns an
// ErrUnqueryable if any has a column nested deeper than catalog.MaxNestingDepth.
// Files put through the store were checked when they were written; this catches
// files copied into the root by hand. A footer that cannot be read is left for
// DuckDB to report.
func checkNesting(t Table) error {
	for _, f := range t.Files {
		rdr, err := file.OpenParquetFile(f, false)
		if err != nil {
			continue
		}
		md := rdr.MetaData()
		schema, err := pqarrow.FromParquet(md.Schema, &pqarrow.ArrowReadProperties{}, md.KeyValueMetadata())
		rdr.Close()
		if err != nil {
			continue
		}
		if err := catalog.CheckNesting(schema); err != nil {
			return fmt.Errorf("%w: table %q (%s): %w", ErrUnqueryable, t.Name, filepath.Base(f), err)
		}
	}
	return nil
}

// unqueryable returns the refusal of the table that err, DuckDB's "Table with name X
// does not exist", is about, if SyncTables refused that table; otherwise err. A query
// of a refused table then says why it cannot run instead of that the table is missing.
func (e *Engine) unqueryable(err error) error {
	if !errors.Is(err, ErrInvalidSQL) {
		return err
	}
	const before, after = "Table with name ", " does not exist"
	msg := err.Error()
	i := strings.Index(msg, before)
	if i < 0 {
		return err
	}
	rest := msg[i+len(before):]
	j := strings.Index(rest, after)
	if j < 0 {
		return err
	}
	// DuckDB folds identifiers for ASCII only, as the view map's keys do.
	key := asciiLower(rest[:j])
	e.refusedMu.Lock()
	r, ok := e.refused[key]
	e.refusedMu.Unlock()
	if !ok {
		return err
	}
	return r.err
}

// asciiLower lower-cases ASCII letters only, as DuckDB folds identifiers.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}
