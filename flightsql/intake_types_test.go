package flightsql

import (
	"errors"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/quiverdata/quiver/catalog"
)

// TestStoredRecordRefusesExpansion: a dictionary or run-end encoded column of a few
// bytes can stand for gigabytes of values. Converting it is refused once it would
// allocate more than maxConvertedBytes, before it allocates them, and nothing leaks.
func TestStoredRecordRefusesExpansion(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	big := strings.Repeat("x", 1<<20) // 1 MiB

	// 300 rows of one 1 MiB dictionary value: 300 MiB decoded.
	dictType := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}
	vb := array.NewStringBuilder(mem)
	vb.Append(big)
	values := vb.NewArray()
	vb.Release()
	ib := array.NewInt32Builder(mem)
	for range 300 {
		ib.Append(0)
	}
	indices := ib.NewArray()
	ib.Release()
	dict := array.NewDictionaryArray(dictType, indices, values)
	values.Release()
	indices.Release()

	// 65536 rows of one run of a 64 KiB value: 4 GiB decoded.
	eb := array.NewInt32Builder(mem)
	eb.Append(1 << 16)
	ends := eb.NewArray()
	eb.Release()
	sb := array.NewStringBuilder(mem)
	sb.Append(big[:64<<10])
	runValues := sb.NewArray()
	sb.Release()
	ree := array.NewRunEndEncodedArray(ends, runValues, 1<<16, 0)
	ends.Release()
	runValues.Release()

	for _, col := range []arrow.Array{dict, ree} {
		t.Run(col.DataType().String(), func(t *testing.T) {
			defer col.Release()
			schema := arrow.NewSchema([]arrow.Field{{Name: "c", Type: col.DataType(), Nullable: true}}, nil)
			rec := array.NewRecordBatch(schema, []arrow.Array{col}, int64(col.Len()))
			defer rec.Release()
			out, err := storedRecord(mem, rec, storedSchema(schema))
			if err == nil {
				out.Release()
				t.Fatal("converted; want refused")
			}
			if !errors.Is(err, errTooLarge) || !strings.Contains(err.Error(), `column "c"`) || !strings.Contains(err.Error(), "send smaller batches") {
				t.Errorf("err = %v; want errTooLarge naming column \"c\"", err)
			}
		})
	}
}

// TestStoredRecordDate64: date64 becomes date32 when its values are whole days; a
// value with a time of day is refused, naming the column and the row, not cut.
func TestStoredRecordDate64(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	schema := arrow.NewSchema([]arrow.Field{{Name: "d", Type: arrow.FixedWidthTypes.Date64, Nullable: true}}, nil)
	b := array.NewDate64Builder(mem)
	defer b.Release()

	b.AppendValues([]arrow.Date64{0, -msPerDay, 19782 * msPerDay}, nil)
	b.AppendNull()
	col := b.NewArray()
	rec := array.NewRecordBatch(schema, []arrow.Array{col}, int64(col.Len()))
	col.Release()
	out, err := storedRecord(mem, rec, storedSchema(schema))
	rec.Release()
	if err != nil {
		t.Fatal(err)
	}
	if got := out.Column(0).String(); out.Schema().Field(0).Type.ID() != arrow.DATE32 || got != "[1970-01-01 1969-12-31 2024-02-29 (null)]" {
		t.Errorf("converted to %s %s", out.Schema().Field(0).Type, got)
	}
	out.Release()

	b.AppendValues([]arrow.Date64{0, msPerDay + 1}, nil)
	col = b.NewArray()
	rec = array.NewRecordBatch(schema, []arrow.Array{col}, int64(col.Len()))
	col.Release()
	defer rec.Release()
	if out, err = storedRecord(mem, rec, storedSchema(schema)); err == nil {
		out.Release()
		t.Fatal("a date64 with a time of day converted; want refused")
	}
	if !errors.Is(err, catalog.ErrInvalidData) || !strings.Contains(err.Error(), `column "d"`) || !strings.Contains(err.Error(), "row 1") {
		t.Errorf("err = %v; want ErrInvalidData naming column \"d\" and row 1", err)
	}
}

// TestStoredSchemaKeepsPlainTypes: a schema of plain types is returned as it is,
// so a stream that needs no conversion costs nothing per batch.
func TestStoredSchemaKeepsPlainTypes(t *testing.T) {
	s := arrow.NewSchema([]arrow.Field{
		{Name: "s", Type: arrow.BinaryTypes.String},
		{Name: "l", Type: arrow.LargeListOf(arrow.StructOf(arrow.Field{Name: "x", Type: arrow.PrimitiveTypes.Int64}))},
		{Name: "m", Type: arrow.MapOf(arrow.BinaryTypes.String, arrow.FixedWidthTypes.Float16)},
	}, nil)
	if got := storedSchema(s); got != s {
		t.Errorf("storedSchema of plain types made %s", got)
	}
	withView := arrow.NewSchema([]arrow.Field{{Name: "m", Type: arrow.MapOf(arrow.BinaryTypes.String, arrow.ListViewOf(arrow.BinaryTypes.StringView))}}, nil)
	want := "map<utf8, list<item: utf8, nullable>, items_nullable>"
	if got := storedSchema(withView).Field(0).Type.String(); got != want {
		t.Errorf("storedSchema: %s, want %s", got, want)
	}
}
