//go:build duckdb_arrow

package engine

import (
	"context"
	"strings"
	"sync"
)

// Bare scans. `SELECT * FROM t` asks for a dataset exactly as it is stored, which the
// plain Flight DoGet already streams faster than DuckDB can (the Parquet decoded
// ahead and framed without copies, or the memory tier's kept stream). BareScan tells
// the Flight SQL layer when a statement is such a scan, so that it can stream the
// dataset instead of running DuckDB.
//
// Nothing here reads SQL text. The statement's shape is DuckDB's parse tree (the one
// the read-only gate checks): one SELECT node whose select list is a lone `*` and
// whose FROM is one base table, every other clause empty. The tree is compared
// against an allowlist of keys with their empty values, so a clause this code does
// not know (a newer DuckDB's) makes a statement not a bare scan rather than a wrong
// one. Which dataset the table is, through case folding, quoting, schema and catalog
// qualification and DuckDB's binder, is ReadTables' answer (reads.go); the result
// schema is Describe's. A CTE cannot shadow the table (a bare scan has no WITH), and
// users create no views (the gate admits only SELECT).

// bareShapeCacheMax bounds how many statement texts the shape verdicts remember, and
// bareShapeMaxSQL the length of a text remembered: the shape depends on the text
// alone, never on the catalog.
const (
	bareShapeCacheMax = 1024
	bareShapeMaxSQL   = 4 << 10
)

// bareShapes remembers, per statement text, whether its parse tree has a bare scan's
// shape. Safe for concurrent use; cleared whole when full.
type bareShapes struct {
	mu    sync.Mutex
	shape map[string]bool
}

func (c *bareShapes) get(sql string) (bare, known bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	bare, known = c.shape[sql]
	return bare, known
}

func (c *bareShapes) put(sql string, bare bool) {
	if len(sql) > bareShapeMaxSQL {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.shape == nil || len(c.shape) >= bareShapeCacheMax {
		c.shape = make(map[string]bool)
	}
	c.shape[sql] = bare
}

// BareScan reports whether sql is a bare scan of one dataset: every column of one
// dataset's table, in the table's order, with no filter, projection, order, limit,
// DISTINCT, sample, CTE, join or set operation. Then it returns the dataset's name
// and the statement's Description, which is the schema a client must be sent.
//
// Every failure (the statement does not parse, is refused, names no dataset, the
// dataset was dropped) is reported as not a bare scan: the caller runs the statement
// as any other, and the refusal comes from there, worded as it always is.
func (e *Engine) BareScan(ctx context.Context, sql string) (dataset string, d *Description, ok bool) {
	if !e.BareScanShape(sql) {
		return "", nil, false
	}
	datasets, err := e.ReadTables(ctx, sql, func(string) bool { return true })
	if err != nil || len(datasets) != 1 {
		return "", nil, false
	}
	d, err = e.Describe(ctx, sql)
	if err != nil {
		return "", nil, false
	}
	return datasets[0], d, true
}

// BareScanShape reports whether sql's parse tree has a bare scan's shape, without
// looking at the catalog: BareScan's first test, cheap to ask of every statement (a
// statement the gate saw is remembered; another is parsed once, and nothing is
// bound).
func (e *Engine) BareScanShape(sql string) bool {
	bare, known := e.bare.get(sql)
	if !known {
		bare = e.bareShape(sql)
		e.bare.put(sql, bare)
	}
	return bare
}

// bareShape parses sql (through the gate's parse, which executes nothing) and
// reports whether its tree is a bare scan's.
func (e *Engine) bareShape(sql string) bool {
	if strings.TrimSpace(sql) == "" {
		return false
	}
	s, err := e.newSession()
	if err != nil {
		return false
	}
	defer s.mu.Unlock()
	defer s.destroyLocked(nil)
	stmts, err := parseChecked(s.conn, sql)
	if err != nil || len(stmts) != 1 {
		return false
	}
	return bareScanTree(stmts[0])
}

// anyValue accepts whatever a key holds (names, aliases, positions).
var anyValue = struct{}{}

// emptyValue is what a clause holds when it is absent: JSON null, [], false, or the
// empty cte_map.
type emptyValue struct{}

// The keys a bare scan's parse tree may have, each with the value it must hold:
// anyValue, emptyValue, or a string it must equal. A key not listed fails the shape.
var (
	bareStatementKeys = map[string]any{"node": nil, "named_param_map": emptyValue{}}
	bareSelectKeys    = map[string]any{
		"type": "SELECT_NODE", "modifiers": emptyValue{}, "cte_map": emptyValue{},
		"select_list": nil, "from_table": nil, "where_clause": emptyValue{},
		"group_expressions": emptyValue{}, "group_sets": emptyValue{},
		"aggregate_handling": "STANDARD_HANDLING", "having": emptyValue{},
		"sample": emptyValue{}, "qualify": emptyValue{},
	}
	// A star with a relation name (`SELECT t.* FROM t`) is still every column of the
	// one table: the binder refuses a name that is not the table's.
	bareStarKeys = map[string]any{
		"class": "STAR", "type": "STAR", "alias": "", "query_location": anyValue,
		"relation_name": anyValue, "exclude_list": emptyValue{}, "replace_list": emptyValue{},
		"columns": emptyValue{}, "expr": emptyValue{}, "qualified_exclude_list": emptyValue{},
		"rename_list": emptyValue{},
	}
	// An alias of the table is allowed; aliases of its columns are not (they rename).
	bareTableKeys = map[string]any{
		"type": "BASE_TABLE", "alias": anyValue, "sample": emptyValue{}, "query_location": anyValue,
		"schema_name": anyValue, "table_name": anyValue, "catalog_name": anyValue,
		"column_name_alias": emptyValue{}, "at_clause": emptyValue{},
	}
)

// bareScanTree reports whether one statement's parse tree is a bare scan's shape.
func bareScanTree(stmt any) bool {
	st, ok := stmt.(map[string]any)
	if !ok || !keysAllowed(st, bareStatementKeys) {
		return false
	}
	node, ok := st["node"].(map[string]any)
	if !ok || !keysAllowed(node, bareSelectKeys) {
		return false
	}
	list, ok := node["select_list"].([]any)
	if !ok || len(list) != 1 {
		return false
	}
	star, ok := list[0].(map[string]any)
	if !ok || !keysAllowed(star, bareStarKeys) {
		return false
	}
	from, ok := node["from_table"].(map[string]any)
	return ok && keysAllowed(from, bareTableKeys)
}

// keysAllowed reports whether every key of m is in allowed and holds what allowed
// says (see bareSelectKeys); a nil in allowed leaves the value to the caller, which
// must check it.
func keysAllowed(m map[string]any, allowed map[string]any) bool {
	for k, v := range m {
		want, ok := allowed[k]
		if !ok {
			return false
		}
		switch w := want.(type) {
		case nil:
		case struct{}: // anyValue
		case emptyValue:
			if !isEmptyValue(v) {
				return false
			}
		case string:
			if s, ok := v.(string); !ok || s != w {
				return false
			}
		default:
			return false
		}
	}
	for k, want := range allowed {
		if _, ok := m[k]; !ok && want == nil {
			return false // a part the caller checks must be there
		}
	}
	return true
}

// isEmptyValue reports whether v is an absent clause: null, false, "", an empty list,
// or an object whose values are all empty (cte_map: {"map": []}).
func isEmptyValue(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case bool:
		return !x
	case string:
		return x == ""
	case []any:
		return len(x) == 0
	case map[string]any:
		for _, c := range x {
			if !isEmptyValue(c) {
				return false
			}
		}
		return true
	}
	return false
}
