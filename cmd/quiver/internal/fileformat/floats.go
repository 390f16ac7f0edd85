package fileformat

import (
	"math"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// FormatFloat prints f as DuckDB does: the shortest string that reads back as the same
// value (bits is 64 for a double, 32 for a float), positional between 1e-4 and 1e16
// with ".0" on whole numbers (249443097.17, 3.0), with an exponent outside that range
// (1e-05, 1e+16); nan, inf and -inf for the special values.
func FormatFloat(f float64, bits int) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	if abs := math.Abs(f); abs != 0 && (abs < 1e-4 || abs >= 1e16) {
		return strconv.FormatFloat(f, 'e', -1, bits)
	}
	s := strconv.FormatFloat(f, 'f', -1, bits)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// floatsAsText is how CSV gets DuckDB's number format: arrow-go's CSV writer prints
// floats with %g (2.4944309717e+08), so float columns are turned into text columns
// first. textSchema is the schema the CSV writer is made for.
func textSchema(schema *arrow.Schema) *arrow.Schema {
	fields := schema.Fields()
	for i, f := range fields {
		if isFloat(f.Type) {
			fields[i].Type = arrow.BinaryTypes.String
		}
	}
	md := schema.Metadata()
	return arrow.NewSchema(fields, &md)
}

func isFloat(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.FLOAT16, arrow.FLOAT32, arrow.FLOAT64:
		return true
	}
	return false
}

// floatsAsText returns rec with its float columns as text in FormatFloat's form, and
// schema. The caller releases the result.
func floatsAsText(rec arrow.RecordBatch, schema *arrow.Schema, mem memory.Allocator) arrow.RecordBatch {
	cols := make([]arrow.Array, rec.NumCols())
	for i, col := range rec.Columns() {
		if !isFloat(col.DataType()) {
			col.Retain()
			cols[i] = col
			continue
		}
		b := array.NewStringBuilder(mem)
		b.Reserve(col.Len())
		for r := range col.Len() {
			if col.IsNull(r) {
				b.AppendNull()
				continue
			}
			switch a := col.(type) {
			case *array.Float64:
				b.Append(FormatFloat(a.Value(r), 64))
			case *array.Float32:
				b.Append(FormatFloat(float64(a.Value(r)), 32))
			case *array.Float16:
				b.Append(FormatFloat(float64(a.Value(r).Float32()), 32))
			}
		}
		cols[i] = b.NewArray()
		b.Release()
	}
	out := array.NewRecordBatch(schema, cols, rec.NumRows())
	for _, c := range cols {
		c.Release()
	}
	return out
}
