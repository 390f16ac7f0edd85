//go:build duckdb_arrow

package engine

import (
	"context"
	"errors"
	"reflect"
	"testing"
)

// TestDescribeTableAndColumnTypes: a table's columns as GetTables lists them, with
// DuckDB's type names, from names the engine quotes itself.
func TestDescribeTableAndColumnTypes(t *testing.T) {
	e, root := testEngine(t, Config{})
	syncOrFail(t, e,
		Table{Name: "people", Files: []string{writePeople(t, root, "people.parquet", 0, 3)}, Version: "1"},
		Table{Name: "Odd-Name.2024", Files: []string{writePeople(t, root, "odd.parquet", 0, 3)}, Version: "1"},
	)
	ctx := context.Background()
	for _, table := range []string{"people", "Odd-Name.2024"} {
		d, err := e.DescribeTable(ctx, table)
		if err != nil {
			t.Fatalf("DescribeTable(%q): %v", table, err)
		}
		var names []string
		for _, f := range d.Schema.Fields() {
			names = append(names, f.Name)
		}
		if !reflect.DeepEqual(names, []string{"id", "name", "score"}) {
			t.Fatalf("DescribeTable(%q) columns %v", table, names)
		}
		types, err := e.ColumnTypes(ctx, table, d.Schema.NumFields())
		if err != nil || !reflect.DeepEqual(types, []string{"BIGINT", "VARCHAR", "DOUBLE"}) {
			t.Fatalf("ColumnTypes(%q) = %v, %v", table, types, err)
		}
	}
	if _, err := e.ColumnTypes(ctx, "people", 2); err == nil {
		t.Fatal("ColumnTypes with a wrong column count succeeded")
	}
	if _, err := e.DescribeTable(ctx, "missing"); !errors.Is(err, ErrInvalidSQL) {
		t.Fatalf("DescribeTable of a missing table: %v, want ErrInvalidSQL", err)
	}
}
