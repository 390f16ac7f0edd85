package integration

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// `quiver put` reads files with DuckDB's readers (cmd/quiver/internal/duckread): the
// shapes of everyday files, against a real server.

func gzipped(t testing.TB, data string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(data))
	must(t, w.Close())
	return b.Bytes()
}

func zstded(t testing.TB, data string) []byte {
	t.Helper()
	if _, err := exec.LookPath("zstd"); err != nil {
		t.Skip("no zstd command to make a .zst file")
	}
	cmd := exec.Command("zstd", "-q", "-c")
	cmd.Stdin = strings.NewReader(data)
	out, err := cmd.Output()
	must(t, err)
	return out
}

func TestCLIPutFileShapes(t *testing.T) {
	srv := startServer(t)
	dir := t.TempDir()
	cases := []struct {
		name  string
		file  string
		data  []byte
		args  []string // after NAME FILE
		types string   // stored Arrow types
		rows  string   // stored values
	}{
		{"semicolon CSV", "semi.csv", []byte("id;name;amount\n1;Mario;1.5\n2;Luigi;2\n"), nil,
			"id:int64 name:utf8 amount:float64", "id=1 name=Mario amount=1.5|id=2 name=Luigi amount=2"},
		{"TSV", "t.tsv", []byte("id\tname\n1\tx y\n"), nil, "id:int64 name:utf8", "id=1 name=x y"},
		{"gzip CSV", "g.csv.gz", gzipped(t, "a,b\n1,2024-03-01\n"), nil, "a:int64 b:date32", "a=1 b=2024-03-01"},
		{"zstd CSV", "z.csv.zst", zstded(t, "a,b\n1,x\n"), nil, "a:int64 b:utf8", "a=1 b=x"},
		{"quoted delimiters and newlines", "q.csv", []byte("id,text\n1,\"a, b\"\n2,\"two\nlines\"\n3,\"say \"\"hi\"\"\"\n"), nil,
			"id:int64 text:utf8", "id=1 text=a, b|id=2 text=two\nlines|id=3 text=say \"hi\""},
		{"JSON array", "arr.json", []byte(`[{"a": 1, "b": "x"}, {"a": 2, "b": null}]`), nil,
			"a:int64 b:utf8", "a=1 b=x|a=2 b=(null)"},
		{"JSON lines with ISO timestamps", "ev.jsonl",
			[]byte("{\"id\":1,\"at\":\"2024-01-02T03:04:05Z\",\"day\":\"2024-01-02\"}\n{\"id\":2,\"at\":\"2024-01-03T04:05:06.5+01:00\",\"day\":\"2024-01-03\"}\n"), nil,
			"id:int64 at:timestamp[us] day:date32", "id=1 at=2024-01-02T03:04:05 day=2024-01-02|id=2 at=2024-01-03T03:05:06.5 day=2024-01-03"},
		{"JSON lines with zoneless timestamps", "naive.jsonl",
			[]byte("{\"at\":\"2024-01-02T03:04:05\",\"s\":\"2024 was a year\"}\n{\"at\":\"2024-01-03 04:05:06.25\",\"s\":\"x\"}\n"), nil,
			"at:timestamp[us] s:utf8", "at=2024-01-02T03:04:05 s=2024 was a year|at=2024-01-03T04:05:06.25 s=x"},
		{"CSV timestamps", "ts.csv", []byte("at,tz\n2024-01-02 03:04:05,2024-01-02 03:04:05+00\n"), nil,
			"at:timestamp[us] tz:timestamp[us, tz=UTC]", "at=2024-01-02T03:04:05 tz=2024-01-02T03:04:05Z"},
		{"headerless, named and typed", "h.txt", []byte("1|2024-01-01|9.99\n2|2024-01-02|10\n"),
			[]string{"--input-format", "csv", "--delimiter", "|", "--no-header", "--columns", "n:INTEGER,d:DATE,price:DECIMAL(10,2)"},
			"n:int32 d:date32 price:decimal(10, 2)", "n=1 d=2024-01-01 price=9.99|n=2 d=2024-01-02 price=10"},
		{"header forced", "hf.csv", []byte("1,2\n3,4\n"), []string{"--header"}, "1:int64 2:int64", "1=3 2=4"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, c.file)
			must(t, os.WriteFile(path, c.data, 0o644))
			name := fmt.Sprintf("shape%d", i)
			srv.ok(t, dir, append([]string{"put", name, path}, c.args...)...)
			schema, cells := storedCells(t, srv, name)
			if got := types(schema); got != c.types {
				t.Errorf("types %s, want %s", got, c.types)
			}
			if got := strings.Join(cells, "|"); got != c.rows {
				t.Errorf("rows %q, want %q", got, c.rows)
			}
		})
	}
}

func TestCLIPutManyFilesAndStdin(t *testing.T) {
	srv := startServer(t)
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	must(t, os.MkdirAll(filepath.Join(logs, "old"), 0o755))
	for i := 1; i <= 3; i++ {
		must(t, os.WriteFile(filepath.Join(logs, fmt.Sprintf("2024-0%d.csv.gz", i)), gzipped(t, fmt.Sprintf("n,s\n%d,x\n", i)), 0o644))
	}
	must(t, os.WriteFile(filepath.Join(logs, "old", "2023-12.csv.gz"), gzipped(t, "n,s\n0,y\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(logs, "README"), []byte("not data"), 0o644))

	// A glob the shell did not expand: quiver expands it.
	r := srv.ok(t, dir, "put", "events", "logs/2024-*.csv.gz")
	if !strings.Contains(r.stderr, "stored events: 3 rows, 2 columns") {
		t.Errorf("glob: %q", r.stderr)
	}
	if _, cells := storedCells(t, srv, "events"); strings.Join(cells, ",") != "n=1 s=x,n=2 s=x,n=3 s=x" {
		t.Errorf("glob rows %q", cells)
	}
	// A directory: every data file under it, sorted; other files skipped.
	srv.ok(t, dir, "put", "all", "logs")
	if _, cells := storedCells(t, srv, "all"); strings.Join(cells, ",") != "n=1 s=x,n=2 s=x,n=3 s=x,n=0 s=y" {
		t.Errorf("directory rows %q", cells)
	}
	if r := srv.quiver(t, dir, nil, "put", "none", "logs/2025-*.csv"); r.code != 1 || !strings.Contains(r.stderr, "no file matches") {
		t.Errorf("a glob matching nothing: exit %d, %q", r.code, r.stderr)
	}
	// stdin: copied to a temporary file for DuckDB; gzip is recognised by its bytes.
	tmp := t.TempDir()
	r = srv.quiverEnvIn(t, dir, []string{"TMPDIR=" + tmp}, gzipped(t, "a;b\n1;2\n"), "put", "piped", "-", "--input-format", "csv")
	if r.code != 0 || !strings.Contains(r.stderr, "stored piped: 1 row, 2 columns") {
		t.Errorf("gzip CSV on stdin: exit %d, %q", r.code, r.stderr)
	}
	if left := tree(t, tmp); len(left) > 0 {
		t.Errorf("left behind in TMPDIR: %q", left)
	}
	// The bar follows DuckDB's progress through the input's bytes.
	var big strings.Builder
	big.WriteString("n,s\n")
	for i := range 300000 {
		fmt.Fprintf(&big, "%d,row %d\n", i, i)
	}
	must(t, os.WriteFile(filepath.Join(dir, "big.csv"), []byte(big.String()), 0o644))
	r = srv.ok(t, dir, "put", "big", "big.csv", "--progress", "always")
	if !strings.Contains(r.stderr, "100%") || !strings.Contains(r.stderr, "300000 rows") {
		t.Errorf("--progress always: stderr %q has no finished bar", r.stderr)
	}
	if r := srv.quiver(t, dir, nil, "put", "-"); r.code != 2 || !strings.Contains(r.stderr, "needs a dataset name") {
		t.Errorf("stdin without a name: exit %d, %q", r.code, r.stderr)
	}
}

// put FILE takes the dataset's name from the file, made valid as the server wants it.
func TestCLIPutNameFromFile(t *testing.T) {
	srv := startServer(t)
	dir := t.TempDir()
	for file, want := range map[string]string{"sales_2024.csv": "sales_2024", "my data (v2).csv.gz": "my_data__v2_", ".hidden.tsv": "hidden"} {
		data := []byte("a\n1\n")
		if strings.HasSuffix(file, ".gz") {
			data = gzipped(t, "a\n1\n")
		}
		must(t, os.WriteFile(filepath.Join(dir, file), data, 0o644))
		r := srv.ok(t, dir, "put", file)
		if !strings.Contains(r.stderr, fmt.Sprintf("dataset name %q (from %s)", want, file)) || !strings.Contains(r.stderr, "stored "+want+": 1 row") {
			t.Errorf("put %s: %q, want the name %q said", file, r.stderr, want)
		}
		if _, cells := storedCells(t, srv, want); len(cells) != 1 {
			t.Errorf("dataset %s: %q", want, cells)
		}
	}
	// `quiver put *.csv` as a shell expands it: the first file is not taken for NAME.
	if r := srv.quiver(t, dir, nil, "put", "sales_2024.csv", ".hidden.tsv"); r.code != 2 || !strings.Contains(r.stderr, "sales_2024.csv is a file, not a dataset name") {
		t.Errorf("two files, the first an existing file: exit %d, %q", r.code, r.stderr)
	}
}

func TestCLIPutAppendCasts(t *testing.T) {
	srv := startServer(t)
	dir := t.TempDir()
	file := func(name, data string) string {
		p := filepath.Join(dir, name)
		must(t, os.WriteFile(p, []byte(data), 0o644))
		return p
	}
	srv.ok(t, dir, "put", "prices", file("a.csv", "sku,price,qty,day\nA,1.5,1,2024-01-01\n"))

	// A float column that happens to hold whole numbers (DuckDB reads it as BIGINT),
	// columns in another order and case: cast without loss, appended.
	r := srv.ok(t, dir, "put", "prices", file("b.csv", "QTY,sku,price,day\n2.0,B,2,2024-01-02\n"), "--append")
	if !strings.Contains(r.stderr, "appended prices: 1 row") {
		t.Errorf("lossless append: %q", r.stderr)
	}
	schema, cells := storedCells(t, srv, "prices")
	if types(schema) != "sku:utf8 price:float64 qty:int64 day:date32" || strings.Join(cells, "|") != "sku=A price=1.5 qty=1 day=2024-01-01|sku=B price=2 qty=2 day=2024-01-02" {
		t.Errorf("after the append: %s %q", types(schema), cells)
	}

	// A value that would change: one line naming the column, the value and both
	// types; the dataset is unchanged.
	r = srv.quiver(t, dir, nil, "put", "prices", file("c.csv", "sku,price,qty,day\nC,3,2.5,2024-01-03\n"), "--append")
	want := `column "qty": the value 2.5 (DOUBLE) does not fit the dataset's BIGINT without loss`
	if r.code != 1 || !strings.Contains(r.stderr, want) || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("lossy append: exit %d, %q; want one line with %q", r.code, r.stderr, want)
	}
	// The same deep into a large file, after batches went out: nothing is appended.
	var big strings.Builder
	big.WriteString("sku,price,qty,day\n")
	for i := range 100000 {
		fmt.Fprintf(&big, "S%d,1,%d,2024-01-04\n", i, i)
	}
	big.WriteString("Z,1,7.25,2024-01-04\n")
	r = srv.quiver(t, dir, nil, "put", "prices", file("d.csv", big.String()), "--append", "--batch-rows", "1000")
	if r.code != 1 || !strings.Contains(r.stderr, `column "qty"`) || !strings.Contains(r.stderr, "7.25") {
		t.Errorf("lossy value at the end of a large append: exit %d, %q", r.code, r.stderr)
	}
	r = srv.quiver(t, dir, nil, "put", "prices", file("e.csv", "sku,price\nE,1\n"), "--append")
	if r.code != 1 || !strings.Contains(r.stderr, `the dataset's column "qty" (BIGINT) is not in the input`) {
		t.Errorf("a missing column: exit %d, %q", r.code, r.stderr)
	}
	if _, cells := storedCells(t, srv, "prices"); len(cells) != 2 {
		t.Errorf("after refused appends the dataset has %d rows, want 2", len(cells))
	}
}

// Wherever the CLI takes a dataset, its SQL table name works too.
func TestCLITableNames(t *testing.T) {
	srv := startServer(t)
	dir := t.TempDir()
	f := filepath.Join(dir, "x.csv")
	must(t, os.WriteFile(f, []byte("a\n1\n2\n"), 0o644))
	srv.ok(t, dir, "put", "Sales-2024.parquet", f)

	r := srv.ok(t, dir, "info", "sales-2024")
	if !strings.Contains(r.stdout, "Dataset:   Sales-2024.parquet") || !strings.Contains(r.stderr, `"sales-2024" is the SQL table of dataset "Sales-2024.parquet"`) {
		t.Errorf("info by table name: %q %q", r.stdout, r.stderr)
	}
	if r := srv.ok(t, dir, "get", "SALES-2024"); r.stdout != "a\n1\n2\n" {
		t.Errorf("get by table name: %q", r.stdout)
	}
	// .parquet output copies the stored file: it must ask for the dataset, not the table.
	out := filepath.Join(dir, "copy.parquet")
	srv.ok(t, dir, "get", "sales-2024", "-o", out)
	stored := srv.readStored(t, "Sales-2024.parquet")
	if got, err := os.ReadFile(out); err != nil || !bytes.Equal(got, stored) {
		t.Errorf("get -o x.parquet by table name: %d bytes (err %v), want the stored %d bytes", len(got), err, len(stored))
	}
	r = srv.ok(t, dir, "put", "sales-2024", f, "--append")
	if !strings.Contains(r.stderr, "appended Sales-2024.parquet: 2 rows") {
		t.Errorf("append by table name: %q", r.stderr)
	}
	r = srv.ok(t, dir, "drop", "sales-2024", "--yes")
	if !strings.Contains(r.stderr, "dropped Sales-2024.parquet") {
		t.Errorf("drop by table name: %q", r.stderr)
	}
	if r := srv.quiver(t, dir, nil, "info", "sales-2024"); r.code != 3 {
		t.Errorf("after drop: exit %d, %q", r.code, r.stderr)
	}

	// Two files copied into the root by hand may share a table name: say which.
	srv.ok(t, dir, "put", "t.parquet", f)
	data, err := os.ReadFile(filepath.Join(srv.Root, "t.parquet"))
	if err != nil {
		t.Skipf("the store's layout is not one file per dataset: %v", err)
	}
	must(t, os.WriteFile(filepath.Join(srv.Root, "T"), data, 0o644))
	r = srv.quiver(t, dir, nil, "info", "t")
	if r.code != 2 || !strings.Contains(r.stderr, `"t" is the SQL table name of several datasets: "T", "t.parquet"`) {
		t.Errorf("ambiguous table name: exit %d, %q", r.code, r.stderr)
	}
}

// Arrow IPC input goes up as it is, and an append of it goes through DuckDB's casts
// too (the stream is scanned by DuckDB as it arrives).
func TestCLIPutArrowAppend(t *testing.T) {
	srv := startServer(t)
	dir := t.TempDir()
	rec := cliRecord(t)
	defer rec.Release()
	for _, f := range []string{"arrow", "arrows"} {
		path := filepath.Join(dir, "in."+f)
		writeInput(t, path, f, rec)
		name := "ipc_" + f
		srv.ok(t, dir, "put", name, path)
		r := srv.ok(t, dir, "put", name, path, "--append")
		if !strings.Contains(r.stderr, "appended "+name+": 4 rows") {
			t.Errorf("append %s: %q", f, r.stderr)
		}
		schema, cells := storedCells(t, srv, name)
		if types(schema) != types(rec.Schema()) || len(cells) != 8 || cells[4] != cells[0] {
			t.Errorf("%s after append: %s %q", f, types(schema), cells)
		}
	}
}
