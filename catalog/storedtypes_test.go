package catalog

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// handDroppedSchema is what pyarrow writes for a table with unsigned, duration and
// fixed-size-binary columns: its serialized Arrow schema says duration where the
// Parquet column is a plain INT64, which pqarrow cannot read as such.
var handDroppedSchema = arrow.NewSchema([]arrow.Field{
	{Name: "u", Type: arrow.PrimitiveTypes.Uint64, Nullable: true},
	{Name: "d", Type: arrow.FixedWidthTypes.Duration_ms, Nullable: true},
	{Name: "f", Type: &arrow.FixedSizeBinaryType{ByteWidth: 4}, Nullable: true},
	{Name: "ld", Type: arrow.ListOf(arrow.FixedWidthTypes.Duration_ns), Nullable: true},
	{Name: "sd", Type: arrow.StructOf(arrow.Field{Name: "x", Type: arrow.FixedWidthTypes.Duration_s, Nullable: true}), Nullable: true},
}, nil)

// writePyarrowStyle writes rows of handDroppedSchema as pyarrow would: durations as
// INT64 columns, and the original Arrow schema in the ARROW:schema key.
func writePyarrowStyle(t *testing.T, path string, rows int) {
	t.Helper()
	mem := memory.NewGoAllocator()
	stored := arrow.NewSchema([]arrow.Field{
		{Name: "u", Type: arrow.PrimitiveTypes.Uint64, Nullable: true},
		{Name: "d", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "f", Type: &arrow.FixedSizeBinaryType{ByteWidth: 4}, Nullable: true},
		{Name: "ld", Type: arrow.ListOf(arrow.PrimitiveTypes.Int64), Nullable: true},
		{Name: "sd", Type: arrow.StructOf(arrow.Field{Name: "x", Type: arrow.PrimitiveTypes.Int64, Nullable: true}), Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(mem, stored)
	defer b.Release()
	for i := range rows {
		if i%3 == 2 {
			for _, f := range b.Fields() {
				f.AppendNull()
			}
			continue
		}
		b.Field(0).(*array.Uint64Builder).Append(1<<63 + uint64(i))
		b.Field(1).(*array.Int64Builder).Append(int64(i) * 1000)
		b.Field(2).(*array.FixedSizeBinaryBuilder).Append([]byte{byte(i), 1, 2, 3})
		lb := b.Field(3).(*array.ListBuilder)
		lb.Append(true)
		lb.ValueBuilder().(*array.Int64Builder).AppendValues([]int64{int64(i), 7}, nil)
		sb := b.Field(4).(*array.StructBuilder)
		sb.Append(true)
		sb.FieldBuilder(0).(*array.Int64Builder).Append(int64(i))
	}
	rec := b.NewRecordBatch()
	defer rec.Release()

	var buf []byte
	{
		// The ARROW:schema value: base64 of the IPC schema message, as pyarrow stores it.
		var sink bytesSink
		w := ipc.NewWriter(&sink, ipc.WithSchema(handDroppedSchema))
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		buf = sink.b
	}
	md := arrow.NewMetadata([]string{"ARROW:schema"}, []string{base64.StdEncoding.EncodeToString(buf)})
	withMeta := arrow.NewSchema(stored.Fields(), &md)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := pqarrow.NewFileWriter(withMeta, f, parquet.NewWriterProperties(parquet.WithMaxRowGroupLength(int64(rows/2+1))), pqarrow.NewArrowWriterProperties())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(array.NewRecordBatch(withMeta, rec.Columns(), rec.NumRows())); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

type bytesSink struct{ b []byte }

func (s *bytesSink) Write(p []byte) (int, error) { s.b = append(s.b, p...); return len(p), nil }

// TestReadHandDroppedTypes reads a file copied into the root that pqarrow cannot read
// column by column as its stored schema says (durations): the reader must return the
// types the dataset's schema announces, with the values written.
func TestReadHandDroppedTypes(t *testing.T) {
	s, _ := openTestStore(t, t.TempDir(), Options{ReadBatchRows: 16})
	writePyarrowStyle(t, filepath.Join(s.Root(), "hand.parquet"), 40)
	info, err := s.Stat(context.Background(), "hand.parquet")
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range handDroppedSchema.Fields() {
		if got := info.Schema.Field(i).Type; !arrow.TypeEqual(got, f.Type) {
			t.Errorf("schema column %q is %s, want %s", f.Name, got, f.Type)
		}
	}
	r, err := s.Open(context.Background(), "hand.parquet")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	row := 0
	for r.Next() {
		rec := r.RecordBatch()
		if !rec.Schema().Equal(info.Schema) {
			t.Fatalf("batch schema %s, want %s", rec.Schema(), info.Schema)
		}
		for _, col := range rec.Columns() {
			if err := array.ValidateFull(col); err != nil {
				t.Fatalf("batch at row %d: %v", row, err)
			}
		}
		u := rec.Column(0).(*array.Uint64)
		d := rec.Column(1).(*array.Duration)
		fb := rec.Column(2).(*array.FixedSizeBinary)
		ld := rec.Column(3).(*array.List)
		sd := rec.Column(4).(*array.Struct)
		for i := range int(rec.NumRows()) {
			n := row + i
			if n%3 == 2 {
				if !u.IsNull(i) || !d.IsNull(i) || !fb.IsNull(i) || !ld.IsNull(i) || !sd.IsNull(i) {
					t.Fatalf("row %d: want nulls", n)
				}
				continue
			}
			if u.Value(i) != 1<<63+uint64(n) || time.Duration(d.Value(i))*time.Millisecond != time.Duration(n)*time.Second ||
				fb.Value(i)[0] != byte(n) {
				t.Fatalf("row %d: u=%d d=%d f=%v", n, u.Value(i), d.Value(i), fb.Value(i))
			}
			start, end := ld.ValueOffsets(i)
			vals := ld.ListValues().(*array.Duration)
			if end-start != 2 || int(vals.Value(int(start))) != n || vals.Value(int(start)+1) != 7 {
				t.Fatalf("row %d: list %s", n, ld.ValueStr(i))
			}
			if got := sd.Field(0).(*array.Duration).Value(sd.Offset() + i); int(got) != n {
				t.Fatalf("row %d: struct field %d", n, got)
			}
		}
		row += int(rec.NumRows())
	}
	if err := r.Err(); err != nil {
		t.Fatalf("read: %v", err)
	}
	if row != 40 {
		t.Fatalf("read %d rows, want 40", row)
	}
}
