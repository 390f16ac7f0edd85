//go:build duckdb_arrow

package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

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
		if err := footerNesting(f); err != nil {
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

// parquetScans are the table functions a bound plan reads Parquet files with: a
// view's (its macro calls read_parquet) and a statement's own read_parquet('x') or
// FROM 'x.parquet'.
var parquetScans = map[string]bool{"read_parquet": true, "parquet_scan": true}

// checkFilesNesting refuses a plan that would have DuckDB read a Parquet file nested
// deeper than catalog.MaxNestingDepth. Views are never made of such files
// (SyncTables), but a principal whose grant has no dataset patterns may read files
// under the root by path, and DuckDB would then spend exponential, uninterruptible
// time in the file's schema however the query names it. The plan lists every file a
// scan will open, globs expanded, so this sees them all; footers are read once per
// file version (fileDepths).
func (p boundPlan) checkFilesNesting() error {
	for _, g := range p.gets {
		if !parquetScans[g.name] {
			continue
		}
		for _, f := range g.files {
			if err := fileDepths.check(f); err != nil {
				return err
			}
		}
	}
	return nil
}

// fileDepths remembers which Parquet files were found nested too deeply, by path and
// version (size and modification time), so that a query pays a stat per file, not a
// footer read. It forgets everything when it grows past maxEntries.
var fileDepths = depthCache{entries: make(map[string]depthEntry)}

type depthCache struct {
	mu      sync.Mutex
	entries map[string]depthEntry
}

type depthEntry struct {
	size  int64
	mtime time.Time
	err   error // nil: shallow enough, or no footer to judge (DuckDB reports that)
}

const maxDepthEntries = 1 << 16

func (c *depthCache) check(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return nil // DuckDB reports a missing or unreadable file itself
	}
	c.mu.Lock()
	e, ok := c.entries[path]
	c.mu.Unlock()
	if ok && e.size == fi.Size() && e.mtime.Equal(fi.ModTime()) {
		return e.err
	}
	e = depthEntry{size: fi.Size(), mtime: fi.ModTime()}
	if err := footerNesting(path); err != nil {
		e.err = fmt.Errorf("%w: file %q: %w", ErrUnqueryable, filepath.Base(path), err)
	}
	c.mu.Lock()
	if len(c.entries) >= maxDepthEntries {
		clear(c.entries)
	}
	c.entries[path] = e
	c.mu.Unlock()
	return e.err
}

// footerNesting reads path's Parquet footer and returns catalog.CheckNesting's error
// if a column is nested too deeply. A footer that cannot be read is left for DuckDB
// to report. Callers name the file by its base name only: no client learns the
// server's paths.
func footerNesting(path string) error {
	rdr, err := file.OpenParquetFile(path, false)
	if err != nil {
		return nil
	}
	defer rdr.Close()
	md := rdr.MetaData()
	schema, err := pqarrow.FromParquet(md.Schema, &pqarrow.ArrowReadProperties{}, md.KeyValueMetadata())
	if err != nil {
		return nil
	}
	return catalog.CheckNesting(schema)
}
