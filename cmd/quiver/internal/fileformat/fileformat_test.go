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
	rdr, err := NewReader(context.Background(), fh, f, ReadOptions{Allocator: mem, BatchRows: 2})
	if err != nil {
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

func TestRoundTrip(t *testing.T) {
	for _, f := range Formats {
		t.Run(string(f), func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
			defer mem.AssertSize(t, 0)
			rec := sample(t, mem)
			defer rec.Release()
			path := filepath.Join(t.TempDir(), "data."+string(f))
			writeFile(t, path, f, rec, mem)
			schema, got := readAll(t, path, f, mem)
			want := cells(rec)
			if f == JSONLines {
				// JSON has no dates or timestamps: they come back as the strings
				// arrow-go wrote. Compare what JSON keeps.
				for i := range want {
					want[i] = want[i][:strings.Index(want[i], " day=")]
					got[i] = got[i][:strings.Index(got[i], " day=")]
				}
			} else if g, w := fieldTypes(schema), fieldTypes(rec.Schema()); g != w {
				t.Errorf("schema: got %s, want %s", g, w)
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("values:\n got %q\nwant %q", got, want)
			}
		})
	}
}

func TestInferCSV(t *testing.T) {
	cases := []struct {
		name, csv string
		want      []string // column types
	}{
		{"ints", "a\n1\n-2\n", []string{"int64"}},
		{"ints then float", "a\n1\n2.5\n", []string{"float64"}},
		{"bools", "a\ntrue\nFALSE\n", []string{"bool"}},
		{"0 and 1 are ints", "a\n0\n1\n", []string{"int64"}},
		{"dates", "a\n2024-01-02\n2024-12-31\n", []string{"date32"}},
		{"timestamps", "a\n2024-01-02 03:04:05\n2024-01-02T03:04:05.5\n", []string{"timestamp[us]"}},
		{"zoned timestamps", "a\n2024-01-02 03:04:05Z\n2024-01-02T03:04:05+02:00\n", []string{"timestamp[us, tz=UTC]"}},
		{"mixed zones are strings", "a\n2024-01-02 03:04:05Z\n2024-01-02 03:04:05\n", []string{"utf8"}},
		{"date and timestamp are strings", "a\n2024-01-02\n2024-01-02 03:04:05\n", []string{"utf8"}},
		{"empty cells are nulls", "a,b\n,x\n3,\n", []string{"int64", "utf8"}},
		{"all empty is string", "a\n\n", []string{"utf8"}},
		{"header only", "a,b\n", []string{"utf8", "utf8"}},
		{"text", "a\nhello\n1\n", []string{"utf8"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, schema, err := inferCSV(strings.NewReader(c.csv), 100)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range schema.Fields() {
				got = append(got, f.Type.String())
			}
			if strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Errorf("types = %v, want %v", got, c.want)
			}
		})
	}
}

func TestInferJSON(t *testing.T) {
	cases := []struct {
		name, json string
		want       string // schema fields
	}{
		{"scalars", `{"a":1,"b":"x","c":true,"d":1.5}`, "a: int64, b: utf8, c: bool, d: float64"},
		{"int widens to float", "{\"a\":1}\n{\"a\":2.5}", "a: float64"},
		{"keys in order of first appearance", "{\"b\":1}\n{\"a\":1,\"b\":2}", "b: int64, a: int64"},
		{"null then value", "{\"a\":null}\n{\"a\":\"x\"}", "a: utf8"},
		{"only null is string", `{"a":null}`, "a: utf8"},
		{"nested", `{"o":{"x":1},"l":[1,2.5]}`, "o: struct<x: int64 nullable>, l: list<item: float64, nullable>"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, schema, err := inferJSON(strings.NewReader(c.json), 100)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range schema.Fields() {
				got = append(got, f.Name+": "+f.Type.String())
			}
			if g := strings.Join(got, ", "); g != c.want {
				t.Errorf("schema = %s, want %s", g, c.want)
			}
		})
	}
}

func TestReadErrors(t *testing.T) {
	cases := []struct {
		name   string
		f      Format
		input  string
		errHas string
	}{
		{"empty CSV", CSV, "", "header line"},
		{"CSV unnamed column", CSV, "a,\n1,2\n", "column 2 has no name"},
		{"CSV duplicate column", CSV, "a,a\n1,2\n", `"a" appears twice`},
		{"CSV ragged row", CSV, "a,b\n1\n", "wrong number of fields"},
		{"JSON conflict", JSONLines, "{\"a\":1}\n{\"a\":\"x\"}", `column "a" holds both integer and string`},
		{"JSON not an object", JSONLines, "[1,2]", "must be an object"},
		{"JSON empty", JSONLines, "  \n", "no JSON object"},
		{"JSON broken", JSONLines, `{"a":`, "value 1"},
		{"Arrow stream garbage", ArrowStream, "not arrow", "not an Arrow IPC stream"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rdr, err := NewReader(context.Background(), strings.NewReader(c.input), c.f, ReadOptions{})
			if err == nil {
				for rdr.Next() {
				}
				err = rdr.Err()
				rdr.Release()
			}
			if err == nil || !strings.Contains(err.Error(), c.errHas) {
				t.Errorf("err = %v, want it to mention %q", err, c.errHas)
			}
		})
	}
}

// A value after the sample that does not fit the inferred type fails the read rather
// than turning into a silent null.
func TestCSVValueAfterSampleFails(t *testing.T) {
	input := "a\n1\n2\nthree\n"
	rdr, err := NewReader(context.Background(), strings.NewReader(input), CSV, ReadOptions{SampleRows: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Release()
	for rdr.Next() {
	}
	if err := rdr.Err(); err == nil || !strings.Contains(err.Error(), "read CSV") {
		t.Errorf("err = %v, want a CSV parse error", err)
	}
}

func TestSeekableFormatsRefusePipes(t *testing.T) {
	for _, f := range []Format{Parquet, ArrowFile} {
		_, err := NewReader(context.Background(), bytes.NewBufferString("x"), f, ReadOptions{})
		if !errors.Is(err, ErrNeedsFile) {
			t.Errorf("%s from a buffer: err = %v, want ErrNeedsFile", f, err)
		}
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
