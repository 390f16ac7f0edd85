package fileformat

import (
	"bytes"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// CSV prints floats as DuckDB does, not with %g.
func TestCSVFloatsLikeDuckDB(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "d", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "f", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
		{Name: "n", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	b.Field(0).(*array.Float64Builder).AppendValues([]float64{249443097.17, 3, 1e-7}, nil)
	b.Field(0).(*array.Float64Builder).AppendNull()
	b.Field(1).(*array.Float32Builder).AppendValues([]float32{0.1, 2, 1e20, 4}, nil)
	b.Field(2).(*array.Int64Builder).AppendValues([]int64{1, 2, 3, 4}, nil)
	rec := b.NewRecordBatch()
	defer rec.Release()
	var out bytes.Buffer
	w, err := NewWriter(&out, CSV, schema, mem)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want := "d,f,n\n249443097.17,0.1,1\n3.0,2.0,2\n1e-07,1e+20,3\n,4.0,4\n"
	if out.String() != want {
		t.Errorf("CSV =\n%s\nwant\n%s", out.String(), want)
	}
}
