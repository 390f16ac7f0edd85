package catalog

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// TestFlatStringsMatchPqarrow reads files through the Reader, which reads flat
// string and binary columns itself, and compares every value with pqarrow's own
// reading of the same file: required and optional columns, nulls and empty
// strings, plain and dictionary-encoded pages, several row groups whose ends fall
// inside batches, files of string columns only, and columns that stay with pqarrow
// (large_string, lists of strings) beside them.
func TestFlatStringsMatchPqarrow(t *testing.T) {
	const rows = 10_007 // the last batch is short
	str := func(i int) string {
		switch {
		case i%7 == 0:
			return ""
		case i%3 == 0:
			return strings.Repeat("ab", i%50)
		}
		return fmt.Sprintf("value-%d", i)
	}
	cases := []struct {
		name   string
		fields []arrow.Field
		dict   bool
		rg     int64 // rows per row group
	}{
		{"required strings beside ints", []arrow.Field{
			{Name: "id", Type: arrow.PrimitiveTypes.Int64},
			{Name: "s", Type: arrow.BinaryTypes.String},
		}, false, 3001},
		{"optional strings and binary with nulls", []arrow.Field{
			{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
			{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
			{Name: "b", Type: arrow.BinaryTypes.Binary, Nullable: true},
		}, false, 4096},
		{"dictionary pages", []arrow.Field{
			{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
			{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		}, true, 2500},
		{"strings only", []arrow.Field{
			{Name: "a", Type: arrow.BinaryTypes.String},
			{Name: "b", Type: arrow.BinaryTypes.String, Nullable: true},
		}, false, 1777},
		{"beside columns pqarrow reads", []arrow.Field{
			{Name: "l", Type: arrow.BinaryTypes.LargeString, Nullable: true},
			{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
			{Name: "xs", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
		}, false, 5000},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			schema := arrow.NewSchema(tc.fields, nil)
			b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
			defer b.Release()
			for i := range rows {
				for j, f := range tc.fields {
					null := f.Nullable && i%5 == j
					switch fb := b.Field(j).(type) {
					case *array.Int64Builder:
						fb.Append(int64(i))
					case *array.StringBuilder:
						if null {
							fb.AppendNull()
						} else if tc.dict {
							fb.Append(str(i % 20))
						} else {
							fb.Append(str(i))
						}
					case *array.BinaryBuilder:
						if null {
							fb.AppendNull()
						} else {
							fb.Append([]byte(str(i)))
						}
					case *array.LargeStringBuilder:
						if null {
							fb.AppendNull()
						} else {
							fb.Append(str(i))
						}
					case *array.ListBuilder:
						if null {
							fb.AppendNull()
							continue
						}
						fb.Append(true)
						for k := range i % 3 {
							fb.ValueBuilder().(*array.StringBuilder).Append(str(i + k))
						}
					}
				}
			}
			rec := b.NewRecordBatch()
			defer rec.Release()

			root := t.TempDir()
			path := filepath.Join(root, "t.parquet")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			props := parquet.NewWriterProperties(parquet.WithMaxRowGroupLength(tc.rg), parquet.WithDictionaryDefault(tc.dict),
				parquet.WithDataPageSize(4<<10))
			w, err := pqarrow.NewFileWriter(schema, f, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Write(rec); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}

			// Batches of 1000 rows: row groups end inside them.
			s, _ := openTestStore(t, root, Options{ReadBatchRows: 1000})
			r, err := s.Open(context.Background(), "t.parquet")
			if err != nil {
				t.Fatal(err)
			}
			defer r.Release()
			var got []arrow.RecordBatch
			for r.Next() {
				b := r.RecordBatch()
				b.Retain()
				got = append(got, b)
			}
			if err := r.Err(); err != nil {
				t.Fatal(err)
			}
			tbl := array.NewTableFromRecords(r.Schema(), got)
			for _, b := range got {
				b.Release()
			}
			defer tbl.Release()
			if tbl.NumRows() != rows {
				t.Fatalf("read %d rows, want %d", tbl.NumRows(), rows)
			}

			want := readWithPqarrow(t, path)
			defer want.Release()
			for j := range tc.fields {
				g, w := tbl.Column(j).Data(), want.Column(j).Data()
				if !arrow.TypeEqual(g.DataType(), w.DataType()) || !array.ChunkedEqual(g, w) {
					t.Errorf("column %q differs from pqarrow's reading: %s, want %s", tc.fields[j].Name, g.DataType(), w.DataType())
				}
			}
		})
	}
}

// readWithPqarrow reads the file at path whole, by pqarrow alone.
func readWithPqarrow(t *testing.T, path string) arrow.Table {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tbl, err := pqarrow.ReadTable(context.Background(), f, parquet.NewReaderProperties(memory.DefaultAllocator), pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}
