package catalog

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// wideSchema has rows about as wide as the caller asks: an id and a long label.
var wideSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "body", Type: arrow.BinaryTypes.String},
}, nil)

// wideBatch is n rows from id start on, whose body is width bytes derived from the
// id, so that Parquet cannot dictionary-encode it away.
func wideBatch(mem memory.Allocator, start, n int64, width func(int64) int) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, wideSchema)
	defer b.Release()
	for i := start; i < start+n; i++ {
		b.Field(0).(*array.Int64Builder).Append(i)
		b.Field(1).(*array.StringBuilder).Append(wideValue(i, width(i)))
	}
	return b.NewRecordBatch()
}

func wideValue(id int64, width int) string {
	unit := fmt.Sprintf("<%d>", id)
	return strings.Repeat(unit, width/len(unit)+1)[:width]
}

// TestReaderCutsBatchesByBytes stores rows of about 4 KB and reads them back with a
// 64 KiB byte target: every batch stays under it, one row larger than it comes
// alone, and every row arrives once, in order, intact.
func TestReaderCutsBatchesByBytes(t *testing.T) {
	const target = 64 << 10
	s, mem := openTestStore(t, t.TempDir(), Options{ReadBatchBytes: target, RowGroupRows: 500})
	width := func(id int64) int {
		if id == 777 {
			return 200 << 10 // one row over the target
		}
		return 4000 + int(id%97)
	}
	recs := []arrow.RecordBatch{wideBatch(mem, 0, 1000, width), wideBatch(mem, 1000, 1000, width)}
	rdr, err := array.NewRecordReader(wideSchema, recs)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		r.Release()
	}
	if _, err := s.Put(context.Background(), "wide", Create, rdr); err != nil {
		t.Fatal(err)
	}
	rdr.Release()

	r, err := s.Open(context.Background(), "wide")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	var next int64
	batches := 0
	for r.Next() {
		rec := r.RecordBatch()
		batches++
		size := BatchBytes(rec)
		if size > target && rec.NumRows() != 1 {
			t.Fatalf("batch %d: %d rows, %d bytes, over the %d-byte target", batches, rec.NumRows(), size, target)
		}
		if size < target/4 && rec.NumRows() > 1 && next+rec.NumRows() < 2000 && next+rec.NumRows() != 777 {
			t.Errorf("batch %d: %d rows, only %d bytes: cut too fine", batches, rec.NumRows(), size)
		}
		ids := rec.Column(0).(*array.Int64)
		bodies := rec.Column(1).(*array.String)
		for i := range ids.Len() {
			if ids.Value(i) != next || bodies.Value(i) != wideValue(next, width(next)) {
				t.Fatalf("row %d: id %d, body of %d bytes", next, ids.Value(i), len(bodies.Value(i)))
			}
			next++
		}
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	if next != 2000 {
		t.Fatalf("read %d rows, want 2000", next)
	}
	// 2000 rows of ~4 KB in 64 KiB batches: at least 2000*4000/65536 of them.
	if batches < 2000*4000/target {
		t.Errorf("%d batches, want at least %d", batches, 2000*4000/target)
	}
}

// TestRowsBytes checks the estimate against the layouts it reads, sliced and not.
func TestRowsBytes(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	sb := array.NewStringBuilder(mem)
	sb.AppendValues([]string{"a", "bb", "ccc", "dddd"}, nil)
	strs := sb.NewArray()
	defer strs.Release()
	sb.Release()

	lb := array.NewListBuilder(mem, arrow.BinaryTypes.String)
	vb := lb.ValueBuilder().(*array.StringBuilder)
	lb.Append(true)
	vb.AppendValues([]string{"xx", "yyy"}, nil) // row 0: 2 values, 5 bytes
	lb.AppendNull()                             // row 1: none
	lb.Append(true)
	vb.Append("zzzzzzzzzz") // row 2: 1 value, 10 bytes
	lists := lb.NewArray()
	defer lists.Release()
	lb.Release()

	stb := array.NewStructBuilder(mem, arrow.StructOf(arrow.Field{Name: "n", Type: arrow.PrimitiveTypes.Int32}, arrow.Field{Name: "s", Type: arrow.BinaryTypes.String}))
	for i := range 4 {
		stb.Append(true)
		stb.FieldBuilder(0).(*array.Int32Builder).Append(int32(i))
		stb.FieldBuilder(1).(*array.StringBuilder).Append(strings.Repeat("q", i*10))
	}
	structs := stb.NewArray()
	defer structs.Release()
	stb.Release()

	slicedStructs := array.NewSlice(structs, 2, 4)
	defer slicedStructs.Release()
	slicedStrs := array.NewSlice(strs, 1, 3)
	defer slicedStrs.Release()

	// Builders allocate validity bitmaps even without nulls: each counts a byte here.
	cases := []struct {
		name string
		arr  arrow.Array
		i, j int
		want int64
	}{
		{"strings all", strs, 0, 4, 1 + 4*4 + 10},
		{"strings 1..3", strs, 1, 3, 1 + 2*4 + 5},
		{"sliced strings 0..1", slicedStrs, 0, 1, 1 + 4 + 2},
		{"list row 0", lists, 0, 1, 1 + 4 + (1 + 2*4 + 5)}, // offset, then the two child strings
		{"list row 1 (null)", lists, 1, 2, 1 + 4},          // an offset, no child rows
		{"list rows 1..3", lists, 1, 3, 1 + 2*4 + (1 + 4 + 10)},
		{"struct row 3", structs, 3, 4, 1 + (1 + 4) + (1 + 4 + 30)}, // int32; offset and 30 bytes
		{"sliced struct row 1", slicedStructs, 1, 2, 1 + (1 + 4) + (1 + 4 + 30)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := RowsBytes(tc.arr, tc.i, tc.j); got != tc.want {
				t.Errorf("RowsBytes(%s, %d, %d) = %d, want %d", tc.arr, tc.i, tc.j, got, tc.want)
			}
		})
	}
}
