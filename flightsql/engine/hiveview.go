//go:build duckdb_arrow

package engine

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/scalar"
)

// The view of a dataset with hive-style partitions (catalog/hive.go) does not ask
// DuckDB to read partition values from the files' paths: on object storage the
// files DuckDB reads are part-cache copies whose paths say nothing, and a local
// root's own path may hold key=value segments. Instead the files are grouped by
// their partition values, and each group is one branch of a UNION ALL that adds
// the values as typed constants, the same values (typed by DuckDB, see
// PartitionTypes) that plain Flight reads add. A filter on a partition column is
// folded against those constants, so DuckDB does not read the groups it excludes
// (TestPartitionedViewPrunes).

// checkPartitions checks that t's partition values can be written as SQL.
func checkPartitions(t Table) error {
	if len(t.Partitions) == 0 {
		return nil
	}
	if len(t.PartitionValues) != len(t.Files) {
		return fmt.Errorf("%d files but %d partition value sets", len(t.Files), len(t.PartitionValues))
	}
	for i, vs := range t.PartitionValues {
		if len(vs) != len(t.Partitions) {
			return fmt.Errorf("file %d has %d partition values for %d partition columns", i, len(vs), len(t.Partitions))
		}
		for j, v := range vs {
			if _, err := sqlLiteral(v); err != nil {
				return fmt.Errorf("partition column %q: %w", t.Partitions[j], err)
			}
		}
	}
	for _, k := range t.Partitions {
		if k == "" || strings.ContainsRune(k, 0) {
			return fmt.Errorf("partition column %q: invalid name", k)
		}
	}
	return nil
}

// partitionedViewSQL is viewSQL for a table with partitions (checkPartitions
// passed): each group's file list is a macro of its own (groupMacro).
func partitionedViewSQL(t Table) string {
	if t.hivePaths {
		return hiveViewSQL(t)
	}
	return unionViewSQL(t)
}

// pathsCarryPartitions reports whether DuckDB's own hive_partitioning would read
// exactly t's partition columns from its files' paths: below root (which holds no
// '='), each file's last directories are key=value for t's keys in order, and no
// other directory holds '='. Then the view lets DuckDB read the values (with the
// types given as hive_types), which binds far faster than a branch per group.
func pathsCarryPartitions(root string, t Table) bool {
	if strings.Contains(root, "=") {
		return false
	}
	for _, f := range t.Files {
		rel, err := filepath.Rel(root, f)
		if err != nil {
			return false
		}
		dirs := strings.Split(filepath.ToSlash(filepath.Dir(rel)), "/")
		if len(dirs) < len(t.Partitions) {
			return false
		}
		n := len(dirs) - len(t.Partitions)
		for _, d := range dirs[:n] {
			if strings.Contains(d, "=") {
				return false
			}
		}
		for i, d := range dirs[n:] {
			k, _, ok := strings.Cut(d, "=")
			if !ok || k != t.Partitions[i] {
				return false
			}
		}
	}
	return true
}

// hiveViewSQL is the view of a table whose paths carry its partitions
// (pathsCarryPartitions): one read_parquet with hive_partitioning, its columns typed
// as the catalog typed them.
func hiveViewSQL(t Table) string {
	var b strings.Builder
	writeFilesMacro(&b, t)
	b.WriteString("; CREATE OR REPLACE VIEW ")
	b.WriteString(quoteIdent(t.Name))
	// DuckDB puts the partition columns in its own order (alphabetical): name them
	// in the catalog's, after the files' columns.
	var keys strings.Builder
	for j, k := range t.Partitions {
		if j > 0 {
			keys.WriteString(", ")
		}
		keys.WriteString(quoteIdent(k))
	}
	b.WriteString(" AS SELECT * EXCLUDE (")
	b.WriteString(keys.String())
	b.WriteString("), ")
	b.WriteString(keys.String())
	b.WriteString(" FROM read_parquet(")
	b.WriteString(quoteIdent(filesMacro(t.Name)))
	b.WriteString("(), hive_partitioning = true, hive_types = {")
	for j, k := range t.Partitions {
		if j > 0 {
			b.WriteString(", ")
		}
		typ, _ := sqlTypeName(t.PartitionValues[0][j].DataType())
		b.WriteString(quoteLiteral(k))
		b.WriteString(": ")
		b.WriteString(quoteLiteral(typ))
	}
	b.WriteString("})")
	return b.String()
}

// unionViewSQL is the view of a table whose paths do not carry its partitions.
func unionViewSQL(t Table) string {
	var groups [][]string
	var values [][]string // SQL literals per group
	index := map[string]int{}
	for i, f := range t.Files {
		lits := make([]string, len(t.Partitions))
		for j, v := range t.PartitionValues[i] {
			lits[j], _ = sqlLiteral(v)
		}
		key := strings.Join(lits, "\x00")
		g, ok := index[key]
		if !ok {
			g = len(groups)
			index[key] = g
			groups = append(groups, nil)
			values = append(values, lits)
		}
		groups[g] = append(groups[g], f)
	}
	var b strings.Builder
	// A macro per group: one macro holding every group's list, indexed in each
	// branch, is expanded whole in every branch, and binding took time quadratic in
	// the groups (BenchmarkPartitionedView: 100 groups 1.2-1.4 s a query, 365 groups
	// 28-30 s; a macro per group 0.16 s and 0.5 s).
	for g, files := range groups {
		b.WriteString("CREATE OR REPLACE MACRO ")
		b.WriteString(quoteIdent(groupMacro(t.Name, g)))
		b.WriteString("() AS [")
		for i, f := range files {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(quoteLiteral(f))
		}
		b.WriteString("]; ")
	}
	b.WriteString("CREATE OR REPLACE VIEW ")
	b.WriteString(quoteIdent(t.Name))
	b.WriteString(" AS ")
	for g := range groups {
		if g > 0 {
			b.WriteString(" UNION ALL ")
		}
		b.WriteString("SELECT *")
		for j, k := range t.Partitions {
			b.WriteString(", ")
			b.WriteString(values[g][j])
			b.WriteString(" AS ")
			b.WriteString(quoteIdent(k))
		}
		b.WriteString(" FROM read_parquet(")
		b.WriteString(quoteIdent(groupMacro(t.Name, g)))
		b.WriteString("(), hive_partitioning = false)")
	}
	return b.String()
}

// sqlLiteral writes a partition value as a typed DuckDB literal. The types are
// those DuckDB's hive partitioning infers (VARCHAR, BIGINT, DATE, TIMESTAMP), those a
// partitioned put declares (every integer, BOOLEAN; catalog/partition_types.go) and
// a few more a typer might give.
func sqlLiteral(v scalar.Scalar) (string, error) {
	if v == nil {
		return "", fmt.Errorf("no value")
	}
	typ, err := sqlTypeName(v.DataType())
	if err != nil {
		return "", err
	}
	if !v.IsValid() {
		return "CAST(NULL AS " + typ + ")", nil
	}
	switch v := v.(type) {
	case *scalar.String:
		return "CAST(" + stringLiteral(string(v.Data())) + " AS VARCHAR)", nil
	case *scalar.Int64:
		return "CAST(" + strconv.FormatInt(v.Value, 10) + " AS BIGINT)", nil
	case *scalar.Int32:
		return "CAST(" + strconv.FormatInt(int64(v.Value), 10) + " AS INTEGER)", nil
	case *scalar.Int8:
		return "CAST(" + strconv.FormatInt(int64(v.Value), 10) + " AS TINYINT)", nil
	case *scalar.Int16:
		return "CAST(" + strconv.FormatInt(int64(v.Value), 10) + " AS SMALLINT)", nil
	case *scalar.Uint8:
		return "CAST(" + strconv.FormatUint(uint64(v.Value), 10) + " AS UTINYINT)", nil
	case *scalar.Uint16:
		return "CAST(" + strconv.FormatUint(uint64(v.Value), 10) + " AS USMALLINT)", nil
	case *scalar.Uint32:
		return "CAST(" + strconv.FormatUint(uint64(v.Value), 10) + " AS UINTEGER)", nil
	case *scalar.Uint64:
		return "CAST(" + strconv.FormatUint(v.Value, 10) + " AS UBIGINT)", nil
	case *scalar.Float64:
		return "CAST('" + strconv.FormatFloat(v.Value, 'g', -1, 64) + "' AS DOUBLE)", nil
	case *scalar.Boolean:
		return strconv.FormatBool(v.Value), nil
	case *scalar.Date32:
		return "CAST('" + v.Value.FormattedString() + "' AS DATE)", nil
	case *scalar.Timestamp:
		unit := v.DataType().(*arrow.TimestampType).Unit
		return "CAST('" + v.Value.ToTime(unit).Format("2006-01-02 15:04:05.999999999") + "' AS " + typ + ")", nil
	}
	return "", fmt.Errorf("partition values of type %s are not supported", v.DataType())
}

// stringLiteral writes s as a DuckDB string expression. DuckDB's parser ends a
// quoted literal at a NUL byte, and a partition value may hold one (a directory
// "k=x%00y", which DuckDB and pyarrow decode): the NULs are joined in as chr(0).
func stringLiteral(s string) string {
	if !strings.ContainsRune(s, 0) {
		return quoteLiteral(s)
	}
	pieces := strings.Split(s, "\x00")
	for i, p := range pieces {
		pieces[i] = quoteLiteral(p)
	}
	return "(" + strings.Join(pieces, " || chr(0) || ") + ")"
}

// sqlTypeName is the DuckDB type of a partition column of Arrow type t.
func sqlTypeName(t arrow.DataType) (string, error) {
	switch t.ID() {
	case arrow.STRING:
		return "VARCHAR", nil
	case arrow.INT64:
		return "BIGINT", nil
	case arrow.INT32:
		return "INTEGER", nil
	case arrow.INT8:
		return "TINYINT", nil
	case arrow.INT16:
		return "SMALLINT", nil
	case arrow.UINT8:
		return "UTINYINT", nil
	case arrow.UINT16:
		return "USMALLINT", nil
	case arrow.UINT32:
		return "UINTEGER", nil
	case arrow.UINT64:
		return "UBIGINT", nil
	case arrow.FLOAT64:
		return "DOUBLE", nil
	case arrow.BOOL:
		return "BOOLEAN", nil
	case arrow.DATE32:
		return "DATE", nil
	case arrow.TIMESTAMP:
		ts := t.(*arrow.TimestampType)
		if ts.TimeZone != "" {
			break
		}
		switch ts.Unit {
		case arrow.Microsecond:
			return "TIMESTAMP", nil
		case arrow.Nanosecond:
			return "TIMESTAMP_NS", nil
		}
	}
	return "", fmt.Errorf("partition values of type %s are not supported", t)
}

// groupMacro names the macro holding the file list of group g of view name. '#' is
// in no table name, so these never collide with another view's filesMacro; the
// prefix keeps them refused to clients as every files macro is (plan.go).
func groupMacro(name string, g int) string {
	return filesMacro(name) + "#" + strconv.Itoa(g+1)
}

// partitionGroups counts the groups of a partitioned view's files.
func partitionGroups(values [][]scalar.Scalar) int {
	seen := map[string]bool{}
	for _, vs := range values {
		lits := make([]string, len(vs))
		for j, v := range vs {
			lits[j], _ = sqlLiteral(v)
		}
		seen[strings.Join(lits, "\x00")] = true
	}
	return len(seen)
}

// dropGroupMacrosSQL drops the group macros of the partitioned view v ("" for
// others).
func dropGroupMacrosSQL(name string, v viewState) string {
	var b strings.Builder
	for g := range partitionGroups(v.values) {
		b.WriteString("; DROP MACRO IF EXISTS ")
		b.WriteString(quoteIdent(groupMacro(name, g)))
	}
	return b.String()
}
