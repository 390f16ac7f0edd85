//go:build duckdb_arrow

package engine

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/quiverdata/quiver/catalog"
)

// TestColumnsKey: a table's remembered columns is kept across versions whose files have
// the same Arrow schema (an append), and learned again when a column, a type,
// nullability or the stored schema metadata differ.
func TestColumnsKey(t *testing.T) {
	base := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	info := func(version string, s *arrow.Schema) catalog.Info {
		return catalog.Info{Name: "t.parquet", Version: version, Schema: s}
	}
	key := columnsKey(info("1", base))
	if got := columnsKey(info("2", base)); got != key {
		t.Fatalf("same schema, new version: key %q, want %q", got, key)
	}
	md := arrow.NewMetadata([]string{"k"}, []string{"v"})
	differ := map[string]*arrow.Schema{
		"another column": arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}}, nil),
		"a renamed column": arrow.NewSchema([]arrow.Field{
			{Name: "id", Type: arrow.PrimitiveTypes.Int64},
			{Name: "Name", Type: arrow.BinaryTypes.String, Nullable: true},
		}, nil),
		"another type": arrow.NewSchema([]arrow.Field{
			{Name: "id", Type: arrow.PrimitiveTypes.Int32},
			{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
		}, nil),
		"another timestamp zone": arrow.NewSchema([]arrow.Field{
			{Name: "id", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}},
			{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
		}, nil),
		"nullability": arrow.NewSchema([]arrow.Field{
			{Name: "id", Type: arrow.PrimitiveTypes.Int64},
			{Name: "name", Type: arrow.BinaryTypes.String},
		}, nil),
		"metadata": arrow.NewSchema(base.Fields(), &md),
	}
	for name, s := range differ {
		if got := columnsKey(info("1", s)); got == key {
			t.Errorf("%s: same key %q", name, got)
		}
	}
	if a, b := columnsKey(info("1", nil)), columnsKey(info("2", nil)); a == b || a == key {
		t.Errorf("without a schema the version decides: %q, %q", a, b)
	}
}
