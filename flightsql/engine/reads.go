//go:build duckdb_arrow

package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	bindings "github.com/duckdb/duckdb-go-bindings"

	"github.com/quiverdata/quiver/catalog"
)

// ErrUnattributable reports a statement of which ReadTables cannot tell every dataset
// it reads: a table function (read_parquet, glob, ...), a file named as a table
// ('x.parquet'), a SHOW of a catalog listing, a name in another schema or catalog, a
// system view, or a read that DuckDB's bound plan shows and the parse tree does not
// (a built-in macro over the catalog such as pg_get_viewdef). Authorization
// restricted to some datasets must refuse such a statement. The wrapping error names
// what was not attributed.
var ErrUnattributable = errors.New("cannot tell which datasets the statement reads")

// ErrNotCovered reports a statement that names a table the caller's grant does not
// cover, or a name that is not a dataset at all: the two are one answer, so that a
// refusal never tells whether a name the grant does not cover exists. The error is a
// *NotCoveredError naming the table.
var ErrNotCovered = errors.New("is not a dataset the grant covers")

// NotCoveredError is ErrNotCovered for one table, named as the statement wrote it.
type NotCoveredError struct{ Table string }

func (e *NotCoveredError) Error() string { return fmt.Sprintf("table %q %v", e.Table, ErrNotCovered) }

// Is makes errors.Is(err, ErrNotCovered) true.
func (e *NotCoveredError) Is(target error) bool { return target == ErrNotCovered }

// NotCoveredTable names the table, for callers that cannot import this package
// (authorization tests for it with an interface).
func (e *NotCoveredError) NotCoveredTable() string { return e.Table }

// harmlessTableFunctions read no table and no file: generators over their arguments,
// which the walk still searches for subqueries.
var harmlessTableFunctions = map[string]bool{
	"range": true, "generate_series": true, "unnest": true,
}

// ReadTables returns the datasets sql reads (dataset names, as Table.Dataset), sorted
// and without duplicates, if covered allows each of them; it executes nothing.
//
// Two views of the statement must agree. DuckDB's parse tree (json_serialize_sql, the
// one the read-only gate checks) gives every table reference, through CTEs,
// subqueries in any clause, joins, LATERAL, set operations and DESCRIBE/SUMMARIZE; a
// reference to a CTE in scope is not a table, and names fold as DuckDB folds them
// (ASCII only, catalog.FoldIdent). Each name must be a dataset view that covered
// accepts; a name that is not a dataset, or not covered, is refused with
// ErrNotCovered before anything is bound, so neither DuckDB's binder ("Did you
// mean ...?") nor the answer's shape tells what exists outside the grant. Then
// DuckDB binds the statement (bindPlan), which expands views and macros: every scan
// in the plan must be of the files of one of those views, or a harmless generator.
//
// It errs with the gate's errors (ErrReadOnly, ErrInvalidSQL, ErrForbidden) for what
// Query would refuse, and with ErrUnattributable for anything that could read data
// other than through a dataset's view. A name is attributed only if it is a dataset
// view now: with a Config.Catalog the views are synced first, without one call
// SyncTables first.
//
// Invariant: a statement ReadTables accepts reads data only through the views it
// returns. Unqualified names resolve in DuckDB to the first of memory.main (the
// views), then the system schemas; names of system views are refused, so a view
// dropped between this call and the query cannot fall through to one.
func (e *Engine) ReadTables(ctx context.Context, sql string, covered func(dataset string) bool) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if strings.TrimSpace(sql) == "" {
		return nil, fmt.Errorf("%w: empty SQL", ErrInvalidSQL)
	}
	if err := e.syncCatalog(ctx); err != nil {
		return nil, err
	}
	s, err := e.newSession()
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	defer s.destroyLocked(nil)

	system, err := e.systemNames(s)
	if err != nil {
		return nil, err
	}
	key := e.gateKeyFor(sql, s.gen)
	stable := key.views%2 == 0 // odd: SyncTables is changing views
	if stable {
		if v := e.gates.reads(key); v != nil {
			return e.attribute(sql, v, system, covered)
		}
	}

	named, stmt, err := parsedReads(s.conn, sql)
	if err != nil {
		return nil, sqlError(sql, err)
	}
	v := &readsVerdict{named: named}
	// Names first, so that nothing is bound for a caller whose grant does not cover
	// them (see above).
	if _, err := e.attribute(sql, v, system, covered); err != nil {
		return nil, err
	}
	plan, err := bindPlan(s.conn, sql, stmt)
	if err != nil {
		return nil, sqlError(sql, err)
	}
	readable := map[string]bool{} // files of the views read, joined
	inMemory := map[string]bool{} // the memory tier's tables they read (memtier.go)
	for _, r := range e.viewsNamed(named) {
		readable[strings.Join(r.files, "\x00")] = true
		if r.mem != "" {
			inMemory[r.mem] = true
		}
	}
	for _, g := range plan.gets {
		switch {
		case harmlessTableFunctions[g.name]:
		case g.name == "read_parquet" && readable[strings.Join(g.files, "\x00")]:
		case g.isMemScan() && inMemory[g.table]:
		default:
			v.plan = fmt.Errorf("%w: the statement reads through %s", ErrUnattributable, g.name)
		}
		if v.plan != nil {
			break
		}
	}
	if stable && e.viewsGen.Load() == key.views {
		e.gates.putReads(key, v)
	}
	return e.attribute(sql, v, system, covered)
}

// attribute is ReadTables' answer from a verdict on the statement: every table it
// names must be a dataset view that covered accepts, and its plan must read only
// through them.
func (e *Engine) attribute(sql string, v *readsVerdict, system map[string]bool, covered func(dataset string) bool) ([]string, error) {
	views := e.viewsNamed(v.named)
	out := make([]string, 0, len(v.named))
	for _, key := range slices.Sorted(maps.Keys(v.named)) {
		written := v.named[key]
		view, ok := views[key]
		switch {
		case system[key]:
			return nil, sqlError(sql, fmt.Errorf("%w: %q is a system view", ErrUnattributable, written))
		case !ok || !covered(view.dataset):
			return nil, sqlError(sql, &NotCoveredError{Table: written})
		}
		out = append(out, view.dataset)
	}
	if v.plan != nil {
		return nil, sqlError(sql, v.plan)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// viewsNamed returns the views of the folded table names in named, by folded name.
func (e *Engine) viewsNamed(named map[string]string) map[string]viewState {
	e.syncMu.Lock()
	defer e.syncMu.Unlock()
	out := make(map[string]viewState, len(named))
	for name, v := range e.views {
		if key := catalog.FoldIdent(name); named[key] != "" {
			out[key] = v
		}
	}
	return out
}

// parsedReads returns the table names sql's parse tree reads from, folded as DuckDB
// folds them, each mapped to the name as written, and the parse tree.
func parsedReads(conn bindings.Connection, sql string) (map[string]string, any, error) {
	stmts, err := parseChecked(conn, sql)
	if err != nil {
		return nil, nil, err
	}
	if len(stmts) != 1 {
		return nil, nil, fmt.Errorf("%w: %d statements; multiple statements are not allowed", ErrInvalidSQL, len(stmts))
	}
	w := refWalk{tables: map[string]string{}}
	w.node(stmts[0], nil)
	return w.tables, stmts[0], w.err
}

// systemNames are the lower-cased names of DuckDB's internal views and tables
// (duckdb_tables, sqlite_master, pg_class, ...), looked up once: they are the same in
// every database the engine opens.
func (e *Engine) systemNames(s *session) (map[string]bool, error) {
	e.systemOnce.Do(func() {
		list, err := queryString(s.conn, `SELECT coalesce(string_agg(lower(n), chr(10)), '') FROM (
			SELECT view_name AS n FROM duckdb_views() WHERE internal
			UNION SELECT table_name FROM duckdb_tables() WHERE internal)`)
		if err != nil {
			e.systemErr = fmt.Errorf("engine: list system views: %w", err)
			return
		}
		e.system = map[string]bool{}
		for _, n := range strings.Split(list, "\n") {
			if n != "" {
				e.system[n] = true
			}
		}
	})
	return e.system, e.systemErr
}

// refWalk collects the table references of a parse tree. tables maps a name folded
// as DuckDB folds it (catalog.FoldIdent) to the name as written; err is the first reference it cannot attribute.
type refWalk struct {
	tables map[string]string
	err    error
}

// node walks any part of the tree. ctes are the CTE names in scope, lower-cased.
//
// A query node (it has a cte_map) puts its CTEs in scope for everything under it.
// Each CTE's own body sees only the CTEs declared before it, and a recursive CTE
// itself only in its recursive arm: where this walk's scope is narrower than
// DuckDB's, a CTE reference is taken for a table and refused, never the reverse.
func (w *refWalk) node(n any, ctes []string) {
	if w.err != nil {
		return
	}
	switch v := n.(type) {
	case []any:
		for _, c := range v {
			w.node(c, ctes)
		}
	case map[string]any:
		if cm, ok := v["cte_map"].(map[string]any); ok {
			ctes = w.cteMap(cm, ctes)
		}
		_, isExpr := v["class"]
		typ, _ := v["type"].(string)
		if !isExpr {
			switch typ {
			case "BASE_TABLE":
				w.baseTable(v, ctes)
				return
			case "TABLE_FUNCTION":
				fn, _ := v["function"].(map[string]any)
				name, _ := fn["function_name"].(string)
				if !harmlessTableFunctions[catalog.FoldIdent(name)] || str(fn, "catalog") != "" || str(fn, "schema") != "" {
					w.err = fmt.Errorf("%w: table function %s", ErrUnattributable, name)
					return
				}
			case "SHOW_REF":
				if t := str(v, "table_name"); t != "" {
					w.err = fmt.Errorf("%w: SHOW %s", ErrUnattributable, t)
					return
				}
			case "RECURSIVE_CTE_NODE":
				// The recursive arm sees the CTE itself; the anchor does not.
				w.node(v["left"], ctes)
				w.node(v["right"], append(slices.Clip(ctes), catalog.FoldIdent(str(v, "cte_name"))))
				for k, c := range v {
					if k != "left" && k != "right" && k != "cte_map" {
						w.node(c, ctes)
					}
				}
				return
			}
		}
		for k, c := range v {
			if k == "cte_map" {
				continue
			}
			if k == "from_table" || (typ == "JOIN" && (k == "left" || k == "right")) {
				if !isTableRef(c) {
					w.err = fmt.Errorf("%w: a %v in FROM", ErrUnattributable, refType(c))
					return
				}
			}
			w.node(c, ctes)
		}
	}
}

// cteMap walks the bodies of a WITH clause and returns the scope under it.
func (w *refWalk) cteMap(cm map[string]any, outer []string) []string {
	entries, _ := cm["map"].([]any)
	scope := slices.Clip(outer)
	for _, e := range entries {
		entry, _ := e.(map[string]any)
		name := catalog.FoldIdent(str(entry, "key"))
		w.node(entry["value"], scope) // sees earlier CTEs only
		scope = append(scope, name)
	}
	return scope
}

func (w *refWalk) baseTable(v map[string]any, ctes []string) {
	name := str(v, "table_name")
	cat, schema := catalog.FoldIdent(str(v, "catalog_name")), catalog.FoldIdent(str(v, "schema_name"))
	key := catalog.FoldIdent(name)
	if cat == "" && schema == "" && slices.Contains(ctes, key) {
		return // a CTE, whose body was walked where it was declared
	}
	// DuckDB reads a two-part name as schema.table, or as catalog.table in the
	// catalog's default schema.
	if !(cat == "" || cat == "memory") || !(schema == "" || schema == "main" || (cat == "" && schema == "memory")) {
		w.err = fmt.Errorf("%w: table %s", ErrUnattributable, strings.Join(nonEmpty(cat, schema, name), "."))
		return
	}
	if !validName(name) {
		// A path or a glob: DuckDB would read it as a file (a replacement scan).
		w.err = fmt.Errorf("%w: %q is not a dataset name", ErrUnattributable, name)
		return
	}
	w.tables[key] = name
}

// isTableRef reports whether n is a table reference this walk knows.
func isTableRef(n any) bool {
	if n == nil {
		return true // no FROM clause
	}
	switch refType(n) {
	case "BASE_TABLE", "JOIN", "SUBQUERY", "TABLE_FUNCTION", "EXPRESSION_LIST", "EMPTY", "EMPTY_FROM", "SHOW_REF", "PIVOT":
		return true
	}
	return false
}

func refType(n any) string {
	m, _ := n.(map[string]any)
	return str(m, "type")
}

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

func nonEmpty(parts ...string) []string {
	return slices.DeleteFunc(parts, func(s string) bool { return s == "" })
}
