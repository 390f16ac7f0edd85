//go:build duckdb_arrow

package engine

import (
	"slices"
)

// Where a result column comes from, for the Flight SQL column metadata (TABLE_NAME,
// what JDBC's ResultSetMetaData.getTableName reports). DuckDB's C API has no column
// origins, but the bound plan the gate already has (plan.go) says it: a result column
// is a table's column when, from the plan's root down, it is a plain column
// reference through projections, filters, sorts and limits to a scan of a dataset's
// files. Anything else (an expression, an aggregate, a join, a set operation, a
// table function) has no single origin and is reported as none. The plan names
// files, not views: the engine maps a scan's file list back to the view (table)
// with exactly those files.

// columnOrigins returns, for each output column of the plan operator op, the file
// list of the dataset scan it comes from unchanged, or nil; nil altogether when
// op's columns are not known.
func columnOrigins(op any) [][]string {
	m, ok := op.(map[string]any)
	if !ok {
		return nil
	}
	children, _ := m["children"].([]any)
	child := func() [][]string {
		if len(children) != 1 {
			return nil
		}
		return columnOrigins(children[0])
	}
	switch str(m, "type") {
	case "LOGICAL_GET":
		return scanOrigins(m)
	case "LOGICAL_PROJECTION":
		in := child()
		exprs, _ := m["expressions"].([]any)
		out := make([][]string, len(exprs))
		for i, e := range exprs {
			out[i] = refOrigin(e, in)
		}
		return out
	case "LOGICAL_FILTER":
		return remap(child(), m["projection_map"])
	case "LOGICAL_ORDER_BY":
		return remap(child(), m["projections"])
	case "LOGICAL_LIMIT", "LOGICAL_TOP_N", "LOGICAL_DISTINCT":
		return child()
	}
	return nil
}

// scanOrigins are the output columns of a LOGICAL_GET: the scan's files for each
// column of a Parquet scan, nil for virtual columns (row ids, file names).
func scanOrigins(get map[string]any) [][]string {
	g := planGet(get)
	origin := g.files
	if g.isMemScan() {
		origin = []string{memOrigin + g.table} // originTables maps it to its view
	} else if !parquetScans[g.name] || len(g.files) == 0 {
		return nil
	}
	names, _ := get["names"].([]any)
	idx, _ := get["column_indexes"].([]any)
	real := make([]bool, len(idx))
	for i, c := range idx {
		cm, _ := c.(map[string]any)
		n, ok := cm["index"].(float64)
		real[i] = ok && n >= 0 && int(n) < len(names)
	}
	cols := make([]int, len(idx))
	for i := range cols {
		cols[i] = i
	}
	if ids, _ := get["projection_ids"].([]any); len(ids) > 0 {
		cols = cols[:0]
		for _, id := range ids {
			n, ok := id.(float64)
			if !ok || n < 0 || int(n) >= len(idx) {
				return nil
			}
			cols = append(cols, int(n))
		}
	}
	out := make([][]string, len(cols))
	for i, c := range cols {
		if real[c] {
			out[i] = origin
		}
	}
	return out
}

// memOrigin marks the origin of a column read from a memory tier table (memtier.go):
// no file path starts with NUL.
const memOrigin = "\x00mem:"

// refOrigin is the origin of an expression over columns in: a reference to one of
// them keeps its origin, anything else has none.
func refOrigin(e any, in [][]string) []string {
	m, ok := e.(map[string]any)
	if !ok || str(m, "expression_class") != "BOUND_REF" {
		return nil
	}
	i, ok := m["index"].(float64)
	if !ok || i < 0 || int(i) >= len(in) {
		return nil
	}
	return in[int(i)]
}

// remap applies an operator's column map (a filter's projection_map, a sort's
// projections) to its input's origins; an empty map passes every column.
func remap(in [][]string, mapping any) [][]string {
	ids, _ := mapping.([]any)
	if len(ids) == 0 || in == nil {
		return in
	}
	out := make([][]string, len(ids))
	for i, id := range ids {
		n, ok := id.(float64)
		if ok && n >= 0 && int(n) < len(in) {
			out[i] = in[int(n)]
		}
	}
	return out
}

// originTables names the table each origin is: the view whose file list it is
// exactly, "" where there is none or the origin is unknown.
func (e *Engine) originTables(origins [][]string) []string {
	if origins == nil {
		return nil
	}
	e.syncMu.Lock()
	defer e.syncMu.Unlock()
	out := make([]string, len(origins))
	for i, files := range origins {
		if len(files) == 0 {
			continue
		}
		for name, v := range e.views {
			if slices.Equal(v.files, files) || v.mem != "" && len(files) == 1 && files[0] == memOrigin+v.mem {
				out[i] = name
				break
			}
		}
	}
	return out
}
