//go:build duckdb_arrow

package engine

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/scalar"

	"github.com/quiverdata/quiver/catalog"
)

// Table is one dataset as the engine sees it.
type Table struct {
	Name    string   // SQL table name, e.g. "uploaded" for dataset "uploaded.parquet"
	Dataset string   // the dataset the table shows, e.g. "uploaded.parquet"; "": Name
	Files   []string // absolute paths of its Parquet parts, in read order (1..n)
	Version string   // opaque; changes whenever the files or their contents change
	// Partitions are the hive-style partition columns the view adds after the files'
	// columns (catalog.Info.Partitions), and PartitionValues, per file, the value of
	// each (hiveview.go). Nil for a dataset without partitions.
	Partitions      []string
	PartitionValues [][]scalar.Scalar

	hivePaths bool // the files' paths carry the partitions (hiveview.go)
}

type viewState struct {
	version string
	dataset string
	files   []string
	// The table's partition columns and values (hiveview.go), to build it again.
	partitions []string
	values     [][]scalar.Scalar
	hivePaths  bool
	// mem is the memory tier's table the view reads instead of files, "" while it
	// reads files (memtier.go). Set only while the table holds version's data.
	mem string
}

// table is the Table view name was made from, for making it again (recover.go).
func (v viewState) table(name string) Table {
	return Table{Name: name, Dataset: v.dataset, Files: v.files, Version: v.version, Partitions: v.partitions, PartitionValues: v.values, hivePaths: v.hivePaths}
}

// SyncTables makes the set of views exactly tables: it creates missing views, replaces
// changed ones (Version or Files differ) and drops those not listed. When nothing
// changed it compares in memory and touches no DuckDB state, so it is cheap enough to
// call before every query.
//
// A query that started before a view is replaced or dropped finishes on what it
// bound: DuckDB binds views when a statement is prepared.
//
// Tables that are invalid (name, paths) or whose view DuckDB refuses are reported in
// the returned error, joined, and skipped; the others are applied anyway, and a table
// that failed is tried again on the next call. A table whose files DuckDB cannot read
// safely (a column nested deeper than catalog.MaxNestingDepth) gets no view, and a
// query naming it fails with ErrUnqueryable; it is reported by the call that first
// sees that version of it.
func (e *Engine) SyncTables(ctx context.Context, tables []Table) error {
	// Starts replacing a failed database (recover.go); the views changed below on
	// the old one reach the new one before the swap.
	if err := e.recover(); err != nil {
		return err
	}
	e.syncMu.Lock()
	defer e.syncMu.Unlock()
	if e.admin.Ptr == nil {
		return ErrClosed
	}
	gen := e.gen // written only with syncMu held too
	// The first change makes viewsGen odd, the end even again: a gate verdict
	// reached or used meanwhile is not trusted (gatecache.go).
	changing := false
	change := func() {
		if !changing {
			changing = true
			e.viewsGen.Add(1)
		}
	}
	defer func() {
		if changing {
			e.viewsGen.Add(1)
		}
	}()

	var errs []error
	want := make(map[string]Table, len(tables))
	folded := make(map[string]string, len(tables)) // DuckDB identifiers ignore case
	for _, t := range tables {
		if err := e.checkTable(t); err != nil {
			errs = append(errs, err)
			continue
		}
		key := catalog.FoldIdent(t.Name)
		if other, dup := folded[key]; dup {
			errs = append(errs, fmt.Errorf("table %q: same SQL name as %q (names are case-insensitive in SQL)", t.Name, other))
			continue
		}
		folded[key] = t.Name
		t.hivePaths = len(t.Partitions) > 0 && pathsCarryPartitions(e.root, t)
		want[t.Name] = t
	}

	// Tables DuckDB could not read safely get no view (nesting.go). They are checked
	// again only when their files change, and reported only then.
	refused := make(map[string]refusal, len(want))
	for name, t := range want {
		if r, ok := e.refusal(name); ok && r.version == t.Version && slices.Equal(r.files, t.Files) {
			refused[strings.ToLower(name)] = r
			delete(want, name)
			continue
		}
		if v, ok := e.views[name]; ok && v.version == t.Version && slices.Equal(v.files, t.Files) {
			continue
		}
		if err := checkNesting(t); err != nil {
			e.log.Warn("dataset not queryable with SQL", "table", name, "err", err)
			errs = append(errs, err)
			refused[strings.ToLower(name)] = refusal{version: t.Version, files: slices.Clone(t.Files), err: err}
			delete(want, name)
		}
	}
	e.refusedMu.Lock()
	e.refused = refused
	e.refusedMu.Unlock()

	// Drops first, so that a dataset renamed only in case ("A" to "a") is dropped
	// before it is created again.
	for name := range e.views {
		if _, ok := want[name]; ok {
			continue
		}
		if err := ctx.Err(); err != nil {
			return errors.Join(append(errs, err)...)
		}
		change()
		if err := exec(e.admin, dropViewSQL(name)+dropGroupMacrosSQL(name, e.views[name])); err != nil {
			e.noteFailure(gen, err)
			errs = append(errs, fmt.Errorf("table %q: drop view: %w", name, err))
			continue
		}
		e.hot.viewChangedLocked(name, e.views[name])
		delete(e.views, name)
		e.log.Debug("view dropped", "table", name)
	}
	for name, t := range want {
		dataset := t.Dataset
		if dataset == "" {
			dataset = t.Name
		}
		if v, ok := e.views[name]; ok && v.version == t.Version && slices.Equal(v.files, t.Files) {
			v.dataset = dataset
			e.views[name] = v
			continue
		}
		old, had := e.views[name]
		if had && old.mem != "" && old.version == t.Version {
			// Other files for the same data (on object storage, a lease taken or
			// ended): the view keeps reading its in-memory copy (memtier.go).
			old.dataset, old.files, old.partitions, old.values, old.hivePaths = dataset, slices.Clone(t.Files), t.Partitions, t.PartitionValues, t.hivePaths
			e.views[name] = old
			continue
		}
		if err := ctx.Err(); err != nil {
			return errors.Join(append(errs, err)...)
		}
		change()
		if had {
			e.hot.viewChangedLocked(name, old)
		}
		if err := exec(e.admin, viewSQL(t)); err != nil {
			e.noteFailure(gen, err)
			errs = append(errs, fmt.Errorf("table %q: create view: %w", name, err))
			if had && old.mem != "" {
				// The view may still read the copy of an older version, which is
				// now retired: take it away; the next sync creates it again.
				if err := exec(e.admin, dropViewSQL(name)); err != nil {
					e.noteFailure(gen, err)
				}
				delete(e.views, name)
			}
			continue
		}
		e.views[name] = viewState{version: t.Version, dataset: dataset, files: slices.Clone(t.Files), partitions: t.Partitions, values: t.PartitionValues, hivePaths: t.hivePaths}
		e.log.Debug("view created", "table", name, "version", t.Version, "files", len(t.Files))
	}
	return errors.Join(errs...)
}

// refusal returns the refusal SyncTables last recorded for table name. syncMu is held.
func (e *Engine) refusal(name string) (refusal, bool) {
	e.refusedMu.Lock()
	defer e.refusedMu.Unlock()
	r, ok := e.refused[strings.ToLower(name)]
	return r, ok
}

// checkTable refuses what could not be quoted safely or that DuckDB would refuse later:
// names outside [A-Za-z0-9_.-], files outside the root, and glob characters, which
// read_parquet would expand.
func (e *Engine) checkTable(t Table) error {
	if !validName(t.Name) {
		return fmt.Errorf("table %q: invalid name: want 1-255 of [A-Za-z0-9_.-], not starting with '.'", t.Name)
	}
	if len(t.Files) == 0 {
		return fmt.Errorf("table %q: no files", t.Name)
	}
	if err := checkPartitions(t); err != nil {
		return fmt.Errorf("table %q: %w", t.Name, err)
	}
	for _, f := range t.Files {
		if !filepath.IsAbs(f) || filepath.Clean(f) != f {
			return fmt.Errorf("table %q: file %q is not a clean absolute path", t.Name, f)
		}
		rel, err := filepath.Rel(e.root, f)
		if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return fmt.Errorf("table %q: file %q is outside the dataset root %q", t.Name, f, e.root)
		}
		if hasGlob(f) || strings.ContainsRune(f, 0) {
			return fmt.Errorf("table %q: file %q contains a glob character (*?[]{}) or NUL", t.Name, f)
		}
	}
	return nil
}

func validName(name string) bool {
	if name == "" || len(name) > 255 || name[0] == '.' {
		return false
	}
	for _, c := range []byte(name) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '.', c == '-':
		default:
			return false
		}
	}
	return true
}

func hasGlob(p string) bool { return strings.ContainsAny(p, "*?[]{}") }

// viewSQL is the DDL for t's view. The file list is a literal, so a query binds the
// exact parts of the version it saw, never a directory listing.
//
// The list is the body of a macro of the view's own (filesMacro) rather than written
// into the view: DuckDB shows a view's SQL to anyone who asks (duckdb_views().sql,
// SHOW TABLES, information_schema, pg_get_viewdef), and the files' absolute paths would
// show the server's layout. Macro bodies (duckdb_functions().macro_definition) and
// calls to these macros are refused to clients (plan.go, sandbox.go).
func viewSQL(t Table) string {
	if len(t.Partitions) > 0 {
		return partitionedViewSQL(t)
	}
	var b strings.Builder
	writeFilesMacro(&b, t)
	b.WriteString("; CREATE OR REPLACE VIEW ")
	b.WriteString(quoteIdent(t.Name))
	b.WriteString(" AS SELECT * FROM read_parquet(")
	b.WriteString(quoteIdent(filesMacro(t.Name)))
	// DuckDB would otherwise add a column for every key=value segment of the files'
	// paths, the root's included: the view shows the columns the catalog shows.
	b.WriteString("(), hive_partitioning = false)")
	return b.String()
}

// writeFilesMacro writes the statement that (re)defines t's files macro: the list of
// the files its view reads.
func writeFilesMacro(b *strings.Builder, t Table) {
	b.WriteString("CREATE OR REPLACE MACRO ")
	b.WriteString(quoteIdent(filesMacro(t.Name)))
	b.WriteString("() AS [")
	for i, f := range t.Files {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quoteLiteral(f))
	}
	b.WriteString("]")
}

// dropViewSQL drops a view and its files macro.
func dropViewSQL(name string) string {
	return "DROP VIEW IF EXISTS " + quoteIdent(name) + "; DROP MACRO IF EXISTS " + quoteIdent(filesMacro(name))
}

// filesMacroPrefix starts the name of every macro that holds a view's file list.
const filesMacroPrefix = "__quiver_files_"

// filesMacro names the macro that holds the file list of view name.
func filesMacro(name string) string { return filesMacroPrefix + name }

// quoteIdent quotes a SQL identifier; doubled quotes escape one.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// quoteLiteral quotes a SQL string literal; DuckDB's standard strings treat backslash
// as an ordinary character, so only the quote needs escaping.
func quoteLiteral(s string) string { return `'` + strings.ReplaceAll(s, `'`, `''`) + `'` }
