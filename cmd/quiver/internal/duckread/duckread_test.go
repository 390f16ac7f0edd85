//go:build duckdb_arrow

package duckread

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

func write(t *testing.T, path, data string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// readAll runs sql on a DB allowed to read files and returns the schema and rows.
func readAll(t *testing.T, files []string, sql string, batchRows int) (*arrow.Schema, []string, []int64, error) {
	t.Helper()
	d, err := Open(files, "")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	r, err := d.Query(context.Background(), sql, mem, batchRows)
	if err != nil {
		return nil, nil, nil, err
	}
	defer r.Release()
	var rows []string
	var sizes []int64
	for r.Next() {
		rec := r.RecordBatch()
		sizes = append(sizes, rec.NumRows())
		for i := 0; i < int(rec.NumRows()); i++ {
			var row []string
			for _, c := range rec.Columns() {
				row = append(row, c.ValueStr(i))
			}
			rows = append(rows, strings.Join(row, "|"))
		}
	}
	return r.Schema(), rows, sizes, r.Err()
}

// The database reads the files it was opened for and nothing else, and its
// configuration cannot be changed back.
func TestLockDown(t *testing.T) {
	dir := t.TempDir()
	mine := write(t, filepath.Join(dir, "mine.csv"), "a\n1\n")
	other := write(t, filepath.Join(dir, "other.csv"), "a\n2\n")
	d, err := Open([]string{mine}, "")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.queryStrings("SELECT a::VARCHAR FROM read_csv(" + quote(mine) + ")"); err != nil {
		t.Errorf("reading the allowed file: %v", err)
	}
	refused := []string{
		"SELECT * FROM read_csv(" + quote(other) + ")",
		"SELECT * FROM read_csv(" + quote(filepath.Join(dir, "*.csv")) + ")",
		"SELECT * FROM read_text('/etc/passwd')",
		"SELECT * FROM glob(" + quote(dir+"/*") + ")",
		"SET enable_external_access = true",
		"SET allowed_paths = ['/etc/passwd']",
		"INSTALL httpfs",
		"LOAD httpfs",
		"COPY (SELECT 1) TO " + quote(filepath.Join(dir, "out.csv")),
	}
	for _, q := range refused {
		if err := d.exec(q); err == nil {
			t.Errorf("%s: succeeded", q)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "out.csv")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("COPY wrote a file: %v", err)
	}
}

func TestFormats(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, file, data string
		opts             ScanOptions
		types, rows      string
	}{
		{"semicolon CSV", "a.csv", "id;name;day\n1;\"x;y\";2024-01-02\n2;z;2024-01-03\n", ScanOptions{},
			"id:int64 name:utf8 day:date32", "1|x;y|2024-01-02 2|z|2024-01-03"},
		{"quoted newline", "q.csv", "id,text\n1,\"two\nlines\"\n2,\"a \"\"quote\"\"\"\n", ScanOptions{},
			"id:int64 text:utf8", "1|two\nlines 2|a \"quote\""},
		{"TSV", "t.tsv", "a\tb\n1\tx y\n", ScanOptions{}, "a:int64 b:utf8", "1|x y"},
		{"timestamps in CSV", "ts.csv", "at\n2024-01-02 03:04:05\n2024-01-03T00:00:00\n", ScanOptions{},
			"at:timestamp[us]", "2024-01-02T03:04:05 2024-01-03T00:00:00"},
		{"headerless with columns", "h.csv", "1|2024-01-01\n2|2024-01-02\n",
			ScanOptions{Delimiter: "|", Header: new(bool), Columns: []Column{{"n", "INTEGER"}, {"d", "DATE"}}},
			"n:int32 d:date32", "1|2024-01-01 2|2024-01-02"},
		{"JSON array", "arr.json", `[{"a": 1, "b": "x"}, {"a": 2, "b": null}]`, ScanOptions{},
			"a:int64 b:utf8", "1|x 2|(null)"},
		{"JSON lines with ISO timestamps", "ev.jsonl",
			"{\"id\":1,\"at\":\"2024-01-02T03:04:05Z\",\"day\":\"2024-01-02\"}\n{\"id\":2,\"at\":\"2024-01-03T04:05:06Z\",\"day\":\"2024-01-03\"}\n",
			ScanOptions{}, "id:int64 at:timestamp[us] day:date32", "1|2024-01-02T03:04:05|2024-01-02 2|2024-01-03T04:05:06|2024-01-03"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := write(t, filepath.Join(dir, c.file), c.data)
			f, _, err := FormatOf(path)
			if err != nil {
				t.Fatal(err)
			}
			scan, err := ScanSQL(f, []string{path}, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			schema, rows, _, err := readAll(t, []string{path}, "SELECT * FROM "+scan, 0)
			if err != nil {
				t.Fatal(err)
			}
			var types []string
			for _, fl := range schema.Fields() {
				types = append(types, fl.Name+":"+fl.Type.String())
			}
			if got := strings.Join(types, " "); got != c.types {
				t.Errorf("types %s, want %s", got, c.types)
			}
			if got := strings.Join(rows, " "); got != c.rows {
				t.Errorf("rows %q, want %q", got, c.rows)
			}
		})
	}
}

// Batches are regrouped from DuckDB's 2048-row chunks to the size asked for.
func TestBatches(t *testing.T) {
	var b strings.Builder
	b.WriteString("n\n")
	for i := range 10000 {
		fmt.Fprintf(&b, "%d\n", i)
	}
	path := write(t, filepath.Join(t.TempDir(), "n.csv"), b.String())
	scan, _ := ScanSQL(CSV, []string{path}, ScanOptions{})
	_, rows, sizes, err := readAll(t, []string{path}, "SELECT * FROM "+scan, 3000)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(sizes) != "[3000 3000 3000 1000]" || len(rows) != 10000 || rows[9999] != "9999" {
		t.Errorf("batches %v, %d rows, last %q", sizes, len(rows), rows[len(rows)-1])
	}
}

// A bad value past DuckDB's type-detection sample fails the stream, with a message
// that names it and no SQL.
func TestBadValueFailsStream(t *testing.T) {
	var b strings.Builder
	b.WriteString("n\n")
	for i := range 50000 {
		fmt.Fprintf(&b, "%d\n", i)
	}
	b.WriteString("oops\n")
	path := write(t, filepath.Join(t.TempDir(), "n.csv"), b.String())
	scan, _ := ScanSQL(CSV, []string{path}, ScanOptions{})
	_, _, _, err := readAll(t, []string{path}, "SELECT * FROM "+scan, 1000)
	if err == nil || !strings.Contains(err.Error(), "oops") || strings.Contains(err.Error(), "LINE 1") || strings.Contains(err.Error(), "\n") {
		t.Errorf("err = %v, want one line naming the bad value", err)
	}
}

func TestAppendSQL(t *testing.T) {
	dir := t.TempDir()
	target := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "price", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "at", Type: &arrow.TimestampType{Unit: arrow.Millisecond}, Nullable: true},
	}, nil)
	cases := []struct {
		name, data string
		rows       string // "" when it fails
		errHas     []string
	}{
		{"whole-number floats into integers, reordered, case folded", "PRICE,at,id\n3,2024-01-01,1.0\n4,2024-01-02 00:00:01,2.0\n",
			"1|3|2024-01-01T00:00:00 2|4|2024-01-02T00:00:01", nil},
		{"text into milliseconds that drops microseconds", "id,price,at\n1,3,2024-01-01 10:00:00.0005\n2,4,2024-01-02\n", "",
			[]string{`column "at"`, "2024-01-01 10:00:00.0005", "(TIMESTAMP)", "TIMESTAMP_MS"}},
		{"text into an integer that rounds", "id,price,at\n1.5,3,2024-01-01\nx,4,2024-01-01\n", "",
			[]string{`column "id"`, "1.5", "VARCHAR", "BIGINT"}},
		{"a fraction into an integer", "id,price,at\n1.5,3,2024-01-01\n", "",
			[]string{`column "id"`, "1.5", "DOUBLE", "BIGINT"}},
		{"a string into a timestamp", "id,price,at\n1,3,soon\n", "",
			[]string{`column "at"`, "soon", "VARCHAR", "TIMESTAMP"}},
		{"a column missing", "id,price\n1,3\n", "", []string{`"at"`, "not in the input"}},
		{"a column too many", "id,price,at,x\n1,3,2024-01-01,9\n", "", []string{`"x"`, "not in the dataset"}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := write(t, filepath.Join(dir, fmt.Sprintf("%d.csv", i)), c.data)
			d, err := Open([]string{path}, "")
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			scan, _ := ScanSQL(CSV, []string{path}, ScanOptions{})
			var rows []string
			q, err := d.AppendSQL(scan, target)
			if err == nil {
				var r *Reader
				if r, err = d.Query(context.Background(), q, nil, 0); err == nil {
					var c array.RecordReader
					if c, err = Conform(context.Background(), r, target, nil); err == nil {
						for c.Next() {
							rec := c.RecordBatch()
							if !rec.Schema().Equal(target) {
								t.Errorf("schema %s, want %s", rec.Schema(), target)
							}
							for i := 0; i < int(rec.NumRows()); i++ {
								var row []string
								for _, col := range rec.Columns() {
									row = append(row, col.ValueStr(i))
								}
								rows = append(rows, strings.Join(row, "|"))
							}
						}
						err = c.Err()
						c.Release()
					}
				}
			}
			if c.rows != "" {
				if err != nil {
					t.Fatal(err)
				}
				if got := strings.Join(rows, " "); got != c.rows {
					t.Errorf("rows %q, want %q", got, c.rows)
				}
				return
			}
			if err == nil {
				t.Fatalf("succeeded with %q", rows)
			}
			for _, s := range c.errHas {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("err %q does not mention %q", err, s)
				}
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("err %q is not one line", err)
			}
		})
	}
}

func TestExpandAndNames(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"logs/2024-01.csv.gz", "logs/2024-02.csv.gz", "logs/sub/2024-03.csv", "logs/.hidden.csv", "logs/notes.txt", "mixed/a.csv", "mixed/b.json"} {
		write(t, filepath.Join(dir, f), "x")
	}
	files, f, err := Expand([]string{filepath.Join(dir, "logs", "2024-*.csv.gz")}, "")
	if err != nil || f != CSV || len(files) != 2 {
		t.Errorf("glob: %q %s %v", files, f, err)
	}
	files, _, err = Expand([]string{filepath.Join(dir, "logs")}, "")
	if err != nil || len(files) != 3 || !strings.HasSuffix(files[2], "sub/2024-03.csv") {
		t.Errorf("directory: %q %v (hidden and unknown files skipped, sorted)", files, err)
	}
	if _, _, err := Expand([]string{filepath.Join(dir, "mixed")}, ""); err == nil || !strings.Contains(err.Error(), "one format") {
		t.Errorf("mixed formats: %v", err)
	}
	if _, _, err := Expand([]string{filepath.Join(dir, "nope-*.csv")}, ""); !errors.Is(err, ErrNoFile) {
		t.Errorf("a glob that matches nothing: %v", err)
	}
	for in, want := range map[string]string{"data/sales_2024.csv.gz": "sales_2024", "x.tsv": "x", "a.b.parquet": "a.b", "ev.ndjson.zst": "ev", "noext": "noext"} {
		if got := StripExtensions(in); got != want {
			t.Errorf("StripExtensions(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]Format{"a.CSV": CSV, "a.csv.zst": CSV, "a.tsv.gz": TSV, "a.ndjson": JSON, "a.json.gz": JSON, "a.pq": Parquet, "a.feather": ArrowFile, "a.arrows": ArrowStream} {
		if got, _, err := FormatOf(in); err != nil || got != want {
			t.Errorf("FormatOf(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"a.parquet.gz", "a.arrow.zst", "a.xlsx", "noext"} {
		if _, _, err := FormatOf(in); err == nil {
			t.Errorf("FormatOf(%q) succeeded", in)
		}
	}
}

func TestParseColumns(t *testing.T) {
	cols, err := ParseColumns("id:BIGINT, price:DECIMAL(10,2),tags:VARCHAR[] ,m:MAP(VARCHAR, INTEGER)")
	if err != nil || fmt.Sprint(cols) != "[{id BIGINT} {price DECIMAL(10,2)} {tags VARCHAR[]} {m MAP(VARCHAR, INTEGER)}]" {
		t.Errorf("ParseColumns = %v, %v", cols, err)
	}
	for _, bad := range []string{"id", "id:", ":INT", "a:INT,,b:INT"} {
		if _, err := ParseColumns(bad); err == nil {
			t.Errorf("ParseColumns(%q) succeeded", bad)
		}
	}
}

// DuckDB's CSV reader rounds a value past its type sample into an integer column
// (7.25 became 7); StrictCSV refuses it, naming the column and the value.
func TestStrictCSVRefusesRounding(t *testing.T) {
	var b strings.Builder
	b.WriteString("id,qty,day\n")
	for i := range 30000 {
		fmt.Fprintf(&b, "%d,%d,2024-01-02\n", i, i)
	}
	b.WriteString("30000,7.25,2024-01-02\n")
	path := write(t, filepath.Join(t.TempDir(), "q.csv"), b.String())
	plain, _ := ScanSQL(CSV, []string{path}, ScanOptions{})
	_, rows, _, err := readAll(t, []string{path}, "SELECT qty FROM "+plain+" WHERE id = 30000", 0)
	if err != nil || len(rows) != 1 || rows[0] != "7" {
		t.Logf("DuckDB's own reader no longer rounds (%q, %v): StrictCSV may be unneeded", rows, err)
	}
	d, err := Open([]string{path}, "")
	if err != nil {
		t.Fatal(err)
	}
	strict, err := d.StrictCSV(CSV, []string{path}, ScanOptions{})
	d.Close()
	if err != nil {
		t.Fatal(err)
	}
	schema, _, _, err := readAll(t, []string{path}, "SELECT * FROM "+strict, 0)
	if err == nil || !strings.Contains(err.Error(), `column "qty": the value 7.25 is not a BIGINT`) {
		t.Errorf("err = %v, want the rounding refused", err)
	}
	_ = schema
	// Without the bad row the types are DuckDB's (dates included) and the values exact.
	good := write(t, filepath.Join(t.TempDir(), "g.csv"), "id,qty,day\n1,9007199254740993,02/01/2024\n2,,03/01/2024\n")
	d, err = Open([]string{good}, "")
	if err != nil {
		t.Fatal(err)
	}
	strict, err = d.StrictCSV(CSV, []string{good}, ScanOptions{})
	d.Close()
	if err != nil {
		t.Fatal(err)
	}
	schema, rows, _, err = readAll(t, []string{good}, "SELECT * FROM "+strict, 0)
	if err != nil || fmt.Sprint(schema.Field(1).Type, schema.Field(2).Type) != "int64 date32" || strings.Join(rows, " ") != "1|9007199254740993|2024-01-02 2|(null)|2024-01-03" {
		t.Errorf("good file: %v %q %v", schema, rows, err)
	}
}
