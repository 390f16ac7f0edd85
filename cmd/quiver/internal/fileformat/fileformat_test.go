package fileformat

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// sample is a batch with the types every format keeps, nulls and awkward strings.
func sample(t *testing.T, mem memory.Allocator) arrow.RecordBatch {
	t.Helper()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "score", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "ok", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "day", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		{Name: "at", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	b.Field(0).(*array.Int64Builder).AppendValues([]int64{1, -2, 3}, nil)
	b.Field(1).(*array.StringBuilder).AppendValues([]string{"Mario", `comma, "quote"`, ""}, []bool{true, true, false})
	b.Field(2).(*array.Float64Builder).AppendValues([]float64{1.5, 0, -3.25}, []bool{true, false, true})
	b.Field(3).(*array.BooleanBuilder).AppendValues([]bool{true, false, true}, nil)
	d := arrow.Date32FromTime(time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC))
	b.Field(4).(*array.Date32Builder).AppendValues([]arrow.Date32{d, d + 1, d + 2}, nil)
	ts := time.Date(2024, 2, 29, 13, 14, 15, 123456000, time.UTC).UnixMicro()
	b.Field(5).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{arrow.Timestamp(ts), arrow.Timestamp(ts + 1), 0}, []bool{true, true, false})
	return b.NewRecordBatch()
}

// cells renders every value of recs as name=value strings, the comparison that
// survives formats which change physical types.
func cells(recs ...arrow.RecordBatch) []string {
	var out []string
	for _, rec := range recs {
		for r := 0; r < int(rec.NumRows()); r++ {
			var row []string
			for c, col := range rec.Columns() {
				row = append(row, rec.ColumnName(c)+"="+col.ValueStr(r))
			}
			out = append(out, strings.Join(row, " "))
		}
	}
	return out
}

func fieldTypes(s *arrow.Schema) string {
	var out []string
	for _, f := range s.Fields() {
		out = append(out, f.Name+": "+f.Type.String())
	}
	return strings.Join(out, ", ")
}

func readAll(t *testing.T, path string, f Format, mem memory.Allocator) (*arrow.Schema, []string) {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	var rdr array.RecordReader
	if f == Parquet {
		// Parquet is read back with arrow-go's reader: put reads it with DuckDB.
		pf, err := file.NewParquetReader(fh, file.WithReadProps(parquet.NewReaderProperties(mem)))
		if err != nil {
			t.Fatal(err)
		}
		fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 2}, mem)
		if err != nil {
			t.Fatal(err)
		}
		if rdr, err = fr.GetRecordReader(context.Background(), nil, nil); err != nil {
			t.Fatal(err)
		}
	} else if rdr, err = NewReader(fh, f, mem); err != nil {
		t.Fatalf("NewReader(%s): %v", f, err)
	}
	defer rdr.Release()
	var got []string
	for rdr.Next() {
		got = append(got, cells(rdr.RecordBatch())...)
	}
	if err := rdr.Err(); err != nil {
		t.Fatalf("read %s: %v", f, err)
	}
	return rdr.Schema(), got
}

func writeFile(t *testing.T, path string, f Format, rec arrow.RecordBatch, mem memory.Allocator) {
	t.Helper()
	fh, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	w, err := NewWriter(fh, f, rec.Schema(), mem)
	if err != nil {
		t.Fatal(err)
	}
	// Two writes: readers must see both batches in order.
	for _, part := range []arrow.RecordBatch{rec.NewSlice(0, 1), rec.NewSlice(1, rec.NumRows())} {
		if err := w.Write(part); err != nil {
			t.Fatalf("write %s: %v", f, err)
		}
		part.Release()
	}
	if err := w.Close(); err != nil {
		t.Fatalf("close %s: %v", f, err)
	}
}

// The typed formats come back as they were written.
func TestRoundTrip(t *testing.T) {
	for _, f := range []Format{Parquet, ArrowFile, ArrowStream} {
		t.Run(string(f), func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
			defer mem.AssertSize(t, 0)
			rec := sample(t, mem)
			defer rec.Release()
			path := filepath.Join(t.TempDir(), "data."+string(f))
			writeFile(t, path, f, rec, mem)
			schema, got := readAll(t, path, f, mem)
			if g, w := fieldTypes(schema), fieldTypes(rec.Schema()); g != w {
				t.Errorf("schema: got %s, want %s", g, w)
			}
			if want := cells(rec); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("values:\n got %q\nwant %q", got, want)
			}
		})
	}
}

// The text formats are checked by their bytes (integration's CLI round trips read
// them back through DuckDB).
func TestWriteText(t *testing.T) {
	cases := map[Format]string{
		CSV: "id,name,score,ok,day,at\n" +
			"1,Mario,1.5,true,2024-02-29,2024-02-29 13:14:15.123456Z\n" +
			"-2,\"comma, \"\"quote\"\"\",,false,2024-03-01,2024-02-29 13:14:15.123457Z\n" +
			"3,,-3.25,true,2024-03-02,\n",
		JSONLines: `{"id":1,"name":"Mario","score":1.5,"ok":true,"day":"2024-02-29","at":"2024-02-29T13:14:15.123456Z"}` + "\n" +
			`{"id":-2,"name":"comma, \"quote\"","score":null,"ok":false,"day":"2024-03-01","at":"2024-02-29T13:14:15.123457Z"}` + "\n" +
			`{"id":3,"name":null,"score":-3.25,"ok":true,"day":"2024-03-02","at":null}` + "\n",
	}
	for f, want := range cases {
		t.Run(string(f), func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
			defer mem.AssertSize(t, 0)
			rec := sample(t, mem)
			defer rec.Release()
			path := filepath.Join(t.TempDir(), "data."+string(f))
			writeFile(t, path, f, rec, mem)
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != want {
				t.Errorf("%s:\n got %q\nwant %q", f, got, want)
			}
		})
	}
}

func TestReadErrors(t *testing.T) {
	if _, err := NewReader(strings.NewReader("not arrow"), ArrowStream, nil); err == nil || !strings.Contains(err.Error(), "not an Arrow IPC stream") {
		t.Errorf("garbage as a stream: err = %v", err)
	}
	if _, err := NewReader(bytes.NewBufferString("x"), ArrowFile, nil); !errors.Is(err, ErrNeedsFile) {
		t.Errorf("an Arrow IPC file from a buffer: err = %v, want ErrNeedsFile", err)
	}
	if _, err := NewReader(strings.NewReader("a\n1\n"), CSV, nil); err == nil || !strings.Contains(err.Error(), "DuckDB") {
		t.Errorf("CSV: err = %v, want a pointer to DuckDB", err)
	}
}

func TestFormatNames(t *testing.T) {
	for path, want := range map[string]Format{
		"a.parquet": Parquet, "A.CSV": CSV, "x.jsonl": JSONLines, "x.ndjson": JSONLines,
		"x.json": JSONLines, "x.arrow": ArrowFile, "x.feather": ArrowFile, "x.arrows": ArrowStream,
	} {
		if got, err := FromPath(path); err != nil || got != want {
			t.Errorf("FromPath(%q) = %q, %v; want %q", path, got, err, want)
		}
	}
	if _, err := FromPath("x.xlsx"); err == nil || !strings.Contains(err.Error(), `".xlsx"`) {
		t.Errorf("FromPath(x.xlsx) err = %v", err)
	}
	if _, err := FromPath("noext"); err == nil || !strings.Contains(err.Error(), "--format") {
		t.Errorf("FromPath(noext) err = %v", err)
	}
	if f, err := Parse("Feather"); err != nil || f != ArrowFile {
		t.Errorf("Parse(Feather) = %q, %v", f, err)
	}
	if _, err := Parse("xml"); err == nil {
		t.Error("Parse(xml) succeeded")
	}
}
