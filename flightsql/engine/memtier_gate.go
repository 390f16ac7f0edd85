//go:build duckdb_arrow

package engine

import "strings"

// What the gate knows of the memory tier's tables (memtier.go): clients never name
// them, and a scan of one is the read of the view that names it.

// hiddenRef returns the first string in a parse tree that mentions memSchema: a
// table, column or schema reference, quoted or not, qualified or not, or a string
// argument (pragma_table_info('__quiver_mem.t')). A statement that mentions it is
// refused whoever sends it, so the tables are read only through the views that
// name them. Folding with Go's lower-casing folds at least what DuckDB folds.
func hiddenRef(node any) string {
	switch n := node.(type) {
	case string:
		if strings.Contains(strings.ToLower(n), memSchema) {
			return n
		}
	case map[string]any:
		for _, v := range n {
			if s := hiddenRef(v); s != "" {
				return s
			}
		}
	case []any:
		for _, v := range n {
			if s := hiddenRef(v); s != "" {
				return s
			}
		}
	}
	return ""
}

// isMemScan reports whether g scans one of the memory tier's tables.
func (g boundGet) isMemScan() bool {
	return g.name == "seq_scan" && g.schema == memSchema && g.table != ""
}

// scans is what the plan scans, for the memory tier: Parquet file lists and tables.
func (p boundPlan) scans() scanned {
	var sc scanned
	for _, g := range p.gets {
		switch {
		case parquetScans[g.name] && len(g.files) > 0:
			sc.parquet = append(sc.parquet, g.files)
		case g.isMemScan():
			sc.tables = append(sc.tables, g.table)
		}
	}
	return sc
}
