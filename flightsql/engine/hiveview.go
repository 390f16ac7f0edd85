//go:build duckdb_arrow

package engine

import (
	"fmt"
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
// passed): the files macro holds a list of file lists, one per group.
func partitionedViewSQL(t Table) string {
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
	macro := quoteIdent(filesMacro(t.Name))
	var b strings.Builder
	b.WriteString("CREATE OR REPLACE MACRO ")
	b.WriteString(macro)
	b.WriteString("() AS [")
	for g, files := range groups {
		if g > 0 {
			b.WriteString(", ")
		}
		b.WriteString("[")
		for i, f := range files {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(quoteLiteral(f))
		}
		b.WriteString("]")
	}
	b.WriteString("]; CREATE OR REPLACE VIEW ")
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
		b.WriteString(macro)
		b.WriteString("()[")
		b.WriteString(strconv.Itoa(g + 1))
		b.WriteString("], hive_partitioning = false)")
	}
	return b.String()
}

// sqlLiteral writes a partition value as a typed DuckDB literal. The types are
// those DuckDB's hive partitioning infers (VARCHAR, BIGINT, DATE, TIMESTAMP) and a
// few more a typer might give.
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
		return "CAST(" + quoteLiteral(string(v.Data())) + " AS VARCHAR)", nil
	case *scalar.Int64:
		return "CAST(" + strconv.FormatInt(v.Value, 10) + " AS BIGINT)", nil
	case *scalar.Int32:
		return "CAST(" + strconv.FormatInt(int64(v.Value), 10) + " AS INTEGER)", nil
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

// sqlTypeName is the DuckDB type of a partition column of Arrow type t.
func sqlTypeName(t arrow.DataType) (string, error) {
	switch t.ID() {
	case arrow.STRING:
		return "VARCHAR", nil
	case arrow.INT64:
		return "BIGINT", nil
	case arrow.INT32:
		return "INTEGER", nil
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
