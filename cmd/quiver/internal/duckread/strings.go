//go:build duckdb_arrow

package duckread

import (
	"context"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/array"
)

// strings runs a query whose columns are all VARCHAR and returns its rows; NULL is "".
// It is for the few small queries the CLI asks about types, not for data.
func (d *DB) queryStrings(sql string) ([][]string, error) {
	r, err := d.Query(context.Background(), sql, nil, 0)
	if err != nil {
		return nil, err
	}
	defer r.Release()
	var out [][]string
	for r.Next() {
		rec := r.RecordBatch()
		cols := make([]*array.String, rec.NumCols())
		for i := range cols {
			c, ok := rec.Column(i).(*array.String)
			if !ok {
				return nil, fmt.Errorf("column %q is %s, not VARCHAR", rec.ColumnName(i), rec.Column(i).DataType())
			}
			cols[i] = c
		}
		for row := 0; row < int(rec.NumRows()); row++ {
			vals := make([]string, len(cols))
			for i, c := range cols {
				if c.IsValid(row) {
					// A copy: the batch's buffers are DuckDB's and go with it.
					vals[i] = strings.Clone(c.Value(row))
				}
			}
			out = append(out, vals)
		}
	}
	return out, r.Err()
}
