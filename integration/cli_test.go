package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	arrowcsv "github.com/apache/arrow-go/v18/arrow/csv"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// End-to-end tests of the quiver CLI: the real binary, built once, against a real
// server in-process on 127.0.0.1:0.

// cliResult is what one run of the binary did.
type cliResult struct {
	stdout, stderr string
	code           int
}

// quiver runs the binary with args against srv, stdin from stdin (nil: empty), in
// dir (empty: a temp dir). Its stdin, stdout and stderr are pipes, never terminals.
func (s *testServer) quiver(t testing.TB, dir string, stdin []byte, args ...string) cliResult {
	t.Helper()
	return s.quiverEnvIn(t, dir, nil, stdin, args...)
}

// quiverEnv is quiver with extra environment variables (KEY=value) and no stdin.
func (s *testServer) quiverEnv(t testing.TB, dir string, env []string, args ...string) cliResult {
	t.Helper()
	return s.quiverEnvIn(t, dir, env, nil, args...)
}

func (s *testServer) quiverEnvIn(t testing.TB, dir string, env []string, stdin []byte, args ...string) cliResult {
	t.Helper()
	cmd := exec.Command(quiverBinary(t), args...)
	cmd.Dir = dir
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "QUIVER_SERVER=grpc://"+s.Addr, "TZ=UTC", "HOME="+home, "XDG_CACHE_HOME="+home, "NO_COLOR=1")
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		cmd.Process.Kill()
		<-done
		t.Fatalf("quiver %q did not finish in time", args)
	}
	res := cliResult{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("quiver %q: %v", args, err)
	}
	return res
}

// ok runs quiver and fails the test unless it exits 0.
func (s *testServer) ok(t testing.TB, dir string, args ...string) cliResult {
	t.Helper()
	r := s.quiver(t, dir, nil, args...)
	if r.code != 0 {
		t.Fatalf("quiver %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// golden compares got with testdata/cli/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	checkGolden(t, filepath.Join("cli", name), []byte(got))
}

// cliRecord is the data of the round trips: every type that all the typed formats
// keep, nulls, and strings that CSV must quote.
func cliRecord(t testing.TB) arrow.RecordBatch {
	t.Helper()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "score", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "ok", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "day", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		{Name: "at", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	b.Field(0).(*array.Int64Builder).AppendValues([]int64{1, -2, 3, 4}, nil)
	b.Field(1).(*array.StringBuilder).AppendValues([]string{"Mario", `comma, "quote"`, "", "Pêche 🍑"}, []bool{true, true, false, true})
	b.Field(2).(*array.Float64Builder).AppendValues([]float64{1.5, 0, -3.25, 1e-3}, []bool{true, false, true, true})
	b.Field(3).(*array.BooleanBuilder).AppendValues([]bool{true, false, true, false}, []bool{true, true, true, false})
	d := arrow.Date32FromTime(time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC))
	b.Field(4).(*array.Date32Builder).AppendValues([]arrow.Date32{d, d + 1, d + 2, d + 3}, nil)
	ts := arrow.Timestamp(time.Date(2024, 2, 29, 13, 14, 15, 123456000, time.UTC).UnixMicro())
	b.Field(5).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{ts, ts + 1, 0, ts + 3e6}, []bool{true, true, false, true})
	return b.NewRecordBatch()
}

// writeInput writes rec to path in format, with arrow-go's own writers, so the CLI's
// readers are checked against an independent implementation.
func writeInput(t testing.TB, path, format string, rec arrow.RecordBatch) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	switch format {
	case "parquet":
		w, err := pqarrow.NewFileWriter(rec.Schema(), f, parquet.NewWriterProperties(), pqarrow.DefaultWriterProps())
		if err != nil {
			t.Fatal(err)
		}
		must(t, w.Write(rec))
		must(t, w.Close())
	case "arrow", "feather":
		w, err := ipc.NewFileWriter(f, ipc.WithSchema(rec.Schema()))
		if err != nil {
			t.Fatal(err)
		}
		must(t, w.Write(rec))
		must(t, w.Close())
	case "arrows":
		w := ipc.NewWriter(f, ipc.WithSchema(rec.Schema()))
		must(t, w.Write(rec))
		must(t, w.Close())
	case "csv":
		w := arrowcsv.NewWriter(f, rec.Schema(), arrowcsv.WithHeader(true), arrowcsv.WithNullWriter(""))
		must(t, w.Write(rec))
		must(t, w.Flush())
	case "jsonl":
		// JSON has no dates or timestamps; they go as the strings ValueStr makes.
		for r := 0; r < int(rec.NumRows()); r++ {
			var parts []string
			for c, col := range rec.Columns() {
				v := "null"
				if col.IsValid(r) {
					switch col.DataType().ID() {
					case arrow.STRING, arrow.DATE32, arrow.TIMESTAMP:
						v = fmt.Sprintf("%q", col.ValueStr(r))
					default:
						v = col.ValueStr(r)
					}
				}
				parts = append(parts, fmt.Sprintf("%q:%s", rec.ColumnName(c), v))
			}
			fmt.Fprintf(f, "{%s}\n", strings.Join(parts, ","))
		}
	default:
		t.Fatalf("no writer for %s", format)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// storedCells reads a dataset straight from the store and renders every value.
func storedCells(t testing.TB, srv *testServer, name string) (*arrow.Schema, []string) {
	t.Helper()
	rdr, err := srv.Store.Open(context.Background(), name)
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	defer rdr.Release()
	var cells []string
	for rdr.Next() {
		rec := rdr.RecordBatch()
		for r := 0; r < int(rec.NumRows()); r++ {
			var row []string
			for c, col := range rec.Columns() {
				row = append(row, rec.ColumnName(c)+"="+col.ValueStr(r))
			}
			cells = append(cells, strings.Join(row, " "))
		}
	}
	if err := rdr.Err(); err != nil {
		t.Fatal(err)
	}
	return rdr.Schema(), cells
}

func recordCells(rec arrow.RecordBatch) []string {
	var cells []string
	for r := 0; r < int(rec.NumRows()); r++ {
		var row []string
		for c, col := range rec.Columns() {
			row = append(row, rec.ColumnName(c)+"="+col.ValueStr(r))
		}
		cells = append(cells, strings.Join(row, " "))
	}
	return cells
}

func types(s *arrow.Schema) string {
	var out []string
	for _, f := range s.Fields() {
		out = append(out, f.Name+":"+f.Type.String())
	}
	return strings.Join(out, " ")
}

// Every input format goes up with put and every output format comes back with get;
// what comes back, put again, holds the same values (and, for the typed formats and
// CSV with its inference, the same types).
func TestCLIRoundTrips(t *testing.T) {
	srv := startServer(t)
	dir := t.TempDir()
	rec := cliRecord(t)
	defer rec.Release()
	want := recordCells(rec)

	inputs := []string{"parquet", "csv", "jsonl", "arrow", "feather", "arrows"}
	outputs := []string{"parquet", "csv", "jsonl", "arrow", "feather", "arrows"}
	for _, in := range inputs {
		t.Run("put_"+in, func(t *testing.T) {
			file := filepath.Join(dir, "input."+in)
			writeInput(t, file, in, rec)
			name := "rt_" + in + ".parquet"
			r := srv.ok(t, dir, "put", name, file)
			if !strings.Contains(r.stderr, "stored "+name+": 4 rows") {
				t.Errorf("put stderr = %q", r.stderr)
			}
			schema, got := storedCells(t, srv, name)
			want := want
			if in == "jsonl" {
				want = zoneless(want)
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("stored values:\n got %q\nwant %q", got, want)
			}
			typed := in != "jsonl"
			if typed && types(schema) != types(rec.Schema()) {
				t.Errorf("stored types: got %s, want %s", types(schema), types(rec.Schema()))
			}
			for _, out := range outputs {
				t.Run("get_"+out, func(t *testing.T) {
					file := filepath.Join(dir, in+"-out."+out)
					srv.ok(t, dir, "get", name, "-o", file)
					back := "back_" + in + "_" + out
					srv.ok(t, dir, "put", back, file)
					bschema, bgot := storedCells(t, srv, back)
					want := want
					if out == "jsonl" {
						want = zoneless(want)
					}
					if strings.Join(bgot, "\n") != strings.Join(want, "\n") {
						t.Errorf("values after get as %s and put again:\n got %q\nwant %q", out, bgot, want)
					}
					if typed && out != "jsonl" && types(bschema) != types(schema) {
						t.Errorf("types after get as %s and put again: got %s, want %s", out, types(bschema), types(schema))
					}
				})
			}
		})
	}
}

// zoneless is cells with the UTC zone dropped from timestamps: DuckDB's JSON reader
// reads "2024-02-29T13:14:15.123456Z" as that UTC time in a timestamp column without
// a zone (CSV's reader keeps the zone).
func zoneless(cells []string) []string {
	out := make([]string, len(cells))
	for i, c := range cells {
		out[i] = regexp.MustCompile(`(T\d\d:\d\d:\d\d(\.\d+)?)Z`).ReplaceAllString(c, "$1")
	}
	return out
}

// Piped stdout gets CSV by default, and any format on request; a piped stdin feeds put.
func TestCLIPipes(t *testing.T) {
	srv := startServer(t)
	dir := t.TempDir()
	csvData := "id,name\n1,a\n2,b\n"
	if r := srv.quiver(t, dir, []byte(csvData), "put", "piped.parquet", "-", "--input-format", "csv"); r.code != 0 {
		t.Fatalf("put from stdin: exit %d: %s", r.code, r.stderr)
	}
	r := srv.ok(t, dir, "get", "piped.parquet")
	if r.stdout != csvData {
		t.Errorf("get to a pipe = %q, want the CSV %q", r.stdout, csvData)
	}
	if r.stderr != "" {
		t.Errorf("get to a pipe wrote to stderr (no progress bar when piped): %q", r.stderr)
	}
	r = srv.ok(t, dir, "get", "piped.parquet", "--format", "arrows")
	rdr, err := ipc.NewReader(strings.NewReader(r.stdout))
	if err != nil {
		t.Fatalf("get --format arrows is not an Arrow IPC stream: %v", err)
	}
	defer rdr.Release()
	var n int64
	for rdr.Next() {
		n += rdr.RecordBatch().NumRows()
	}
	if n != 2 {
		t.Errorf("Arrow stream has %d rows, want 2", n)
	}
	r = srv.ok(t, dir, "get", "piped.parquet", "--format", "jsonl")
	if want := "{\"id\":1,\"name\":\"a\"}\n{\"id\":2,\"name\":\"b\"}\n"; r.stdout != want {
		t.Errorf("get --format jsonl = %q, want %q", r.stdout, want)
	}
	// Parquet needs random access: stdin is copied to a temporary file that DuckDB
	// reads, and removed after. What is not Parquet is refused with one line.
	rec := cliRecord(t)
	defer rec.Release()
	pq := filepath.Join(dir, "in.parquet")
	writeInput(t, pq, "parquet", rec)
	pqBytes, err := os.ReadFile(pq)
	must(t, err)
	tmp := t.TempDir()
	env := []string{"TMPDIR=" + tmp}
	if r := srv.quiverEnvIn(t, dir, env, pqBytes, "put", "pq.parquet", "-", "--input-format", "parquet"); r.code != 0 || !strings.Contains(r.stderr, "stored pq.parquet: 4 rows") {
		t.Errorf("Parquet from stdin: exit %d, stderr %q", r.code, r.stderr)
	}
	r = srv.quiverEnvIn(t, dir, env, []byte("PAR1"), "put", "x.parquet", "-", "--input-format", "parquet")
	if r.code != 1 || !strings.Contains(r.stderr, "read stdin") || !strings.Contains(r.stderr, "Parquet") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("not Parquet from stdin: exit %d, stderr %q; want 1 and one line naming Parquet", r.code, r.stderr)
	}
	if left := tree(t, tmp); len(left) > 0 {
		t.Errorf("stdin copies or DuckDB spill directories left behind: %q", left)
	}
	// --progress always draws a bar even on a pipe; auto (above) does not.
	r = srv.ok(t, dir, "get", "piped.parquet", "-o", filepath.Join(dir, "p.csv"), "--progress", "always")
	if !strings.Contains(r.stderr, "100%") {
		t.Errorf("--progress always: stderr %q has no finished bar", r.stderr)
	}
}

func TestCLIPutReplaceAndFailedUpload(t *testing.T) {
	srv := startServer(t)
	dir := t.TempDir()
	first := filepath.Join(dir, "first.csv")
	must(t, os.WriteFile(first, []byte("n\n1\n2\n"), 0o644))
	srv.ok(t, dir, "put", "d.parquet", first)

	r := srv.quiver(t, dir, nil, "put", "d.parquet", first)
	if r.code != 4 || !strings.Contains(r.stderr, `dataset "d.parquet" already exists (2 rows); --replace overwrites it`) {
		t.Errorf("put over an existing dataset: exit %d, stderr %q; want 4 and a hint", r.code, r.stderr)
	}

	// A CSV whose value after the type-inference sample is bad fails mid-upload, after
	// batches went out: the previous version must stay.
	var big strings.Builder
	big.WriteString("n\n")
	// Types are detected from the first 1000 rows (--sample-rows below).
	for i := 0; i < 100000; i++ {
		fmt.Fprintf(&big, "%d\n", i)
	}
	big.WriteString("not a number\n")
	bad := filepath.Join(dir, "bad.csv")
	must(t, os.WriteFile(bad, []byte(big.String()), 0o644))
	r = srv.quiver(t, dir, nil, "put", "d.parquet", bad, "--replace", "--batch-rows", "1000", "--sample-rows", "1000")
	if r.code != 1 || !strings.Contains(r.stderr, "read "+bad) || !strings.Contains(r.stderr, "not a number") {
		t.Errorf("bad CSV: exit %d, stderr %q; want 1 and a CSV error", r.code, r.stderr)
	}
	if _, cells := storedCells(t, srv, "d.parquet"); len(cells) != 2 {
		t.Errorf("after a failed replace the dataset has %d rows, want the previous 2", len(cells))
	}

	second := filepath.Join(dir, "second.csv")
	must(t, os.WriteFile(second, []byte("n\n7\n8\n9\n"), 0o644))
	r = srv.ok(t, dir, "put", "d.parquet", second, "--replace")
	if !strings.Contains(r.stderr, "replaced d.parquet: 3 rows") {
		t.Errorf("replace stderr = %q", r.stderr)
	}
	if _, cells := storedCells(t, srv, "d.parquet"); strings.Join(cells, ",") != "n=7,n=8,n=9" {
		t.Errorf("after replace: %q", cells)
	}
}

// Without a terminal on stdin, drop does not ask.
func TestCLIDropPiped(t *testing.T) {
	srv := startServer(t)
	dir := t.TempDir()
	f := filepath.Join(dir, "x.csv")
	must(t, os.WriteFile(f, []byte("a\n1\n"), 0o644))
	srv.ok(t, dir, "put", "gone.parquet", f)
	r := srv.quiver(t, dir, []byte("n\n"), "drop", "gone.parquet")
	if r.code != 0 {
		t.Fatalf("drop: exit %d: %s", r.code, r.stderr)
	}
	if strings.Contains(r.stderr, "[y/N]") {
		t.Errorf("drop asked although stdin is not a terminal: %q", r.stderr)
	}
	if names := listNames(t, srv.client(t)); len(names) != 0 {
		t.Errorf("datasets after drop: %q", names)
	}
	r = srv.quiver(t, dir, nil, "drop", "gone.parquet", "--yes")
	if r.code != 3 {
		t.Errorf("drop of a dropped dataset: exit %d, want 3: %s", r.code, r.stderr)
	}
}

func TestCLIErrorsAndExitCodes(t *testing.T) {
	srv := startServer(t)
	dir := t.TempDir()
	f := filepath.Join(dir, "x.csv")
	must(t, os.WriteFile(f, []byte("a\n1\n"), 0o644))
	for _, n := range []string{"sales.parquet", "sales_2023.parquet", "sales_2024.parquet", "salaries.parquet", "weather.parquet"} {
		srv.ok(t, dir, "put", n, f)
	}
	cases := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"get nope, no close names", []string{"get", "nope"}, 3, `quiver: dataset "nope" does not exist (` + "`quiver ls`" + ` lists the datasets)`},
		{"get a typo", []string{"get", "sale.parquet"}, 3, `did you mean "sales.parquet"?`},
		{"info without suffix and a typo", []string{"info", "weathr"}, 3, `did you mean "weather.parquet"?`},
		{"several close names", []string{"get", "sales_2025"}, 3, "close names: sales_2023.parquet, sales_2024.parquet"},
		{"a part of a name", []string{"get", "2024"}, 3, `did you mean "sales_2024.parquet"?`},
		{"drop a typo", []string{"drop", "wether.parquet", "--yes"}, 3, `did you mean "weather.parquet"?`},
		{"invalid name", []string{"get", "../etc/passwd"}, 2, "quiver: "},
		{"unknown flag", []string{"ls", "--bogus"}, 2, "unknown flag: --bogus"},
		{"missing argument", []string{"get"}, 2, "usage: quiver get NAME"},
		{"bad list format", []string{"ls", "--format", "xml"}, 2, `--format "xml": want table, csv or json`},
		{"unknown output extension", []string{"get", "sales.parquet", "-o", "x.xlsx"}, 2, `extension ".xlsx"`},
		{"missing file", []string{"put", "new.parquet", filepath.Join(dir, "missing.csv")}, 1, "no such file"},
		{"replace and append", []string{"put", "sales.parquet", f, "--replace", "--append"}, 2, "--replace and --append exclude each other"},
		{"unreachable server", []string{"ls", "--server", "grpc://127.0.0.1:1"}, 5, "cannot reach a Quiver server at grpc://127.0.0.1:1"},
		{"bad server URL", []string{"ls", "--server", "http://x:1"}, 2, `scheme "http"`},
		{"stdin without format", []string{"put", "x.parquet", "-"}, 2, "--input-format"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := srv.quiver(t, dir, nil, c.args...)
			if r.code != c.code || !strings.Contains(r.stderr, c.stderr) {
				t.Errorf("quiver %s: exit %d, stderr %q; want exit %d and %q", strings.Join(c.args, " "), r.code, r.stderr, c.code, c.stderr)
			}
			if strings.Contains(r.stderr, "panic") || strings.Contains(r.stderr, "rpc error:") {
				t.Errorf("stderr is not for people: %q", r.stderr)
			}
		})
	}
}

// pinModified sets every dataset's files to one time, so the golden tables are stable.
func pinModified(t *testing.T, srv *testServer) {
	t.Helper()
	// A landed put's Parquet file is written in the background; List waits for the
	// puts acknowledged before it (catalog/landing.go), so every file is in place.
	if _, err := srv.Store.List(context.Background()); err != nil {
		t.Fatalf("list the datasets before pinning their times: %v", err)
	}
	at := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	must(t, filepath.Walk(srv.Root, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Chtimes(p, at, at)
	}))
}

func TestCLIGolden(t *testing.T) {
	skipOnS3(t, "pins the datasets' modification times by touching their files in the root directory")
	srv := startSQLServer(t)
	dir := t.TempDir()
	rec := cliRecord(t)
	defer rec.Release()
	in := filepath.Join(dir, "people.arrow")
	writeInput(t, in, "arrow", rec)
	srv.ok(t, dir, "put", "people.parquet", in)
	small := filepath.Join(dir, "small.csv")
	must(t, os.WriteFile(small, []byte("k,v\na,1\nb,2\n"), 0o644))
	srv.ok(t, dir, "put", "small.parquet", small)
	pinModified(t, srv)

	// Sizes are those of the server's Parquet files, fixed for one arrow-go version:
	// after an upgrade, -update rewrites them.

	golden(t, "ls.txt", srv.ok(t, dir, "ls").stdout)
	golden(t, "ls.json", srv.ok(t, dir, "ls", "--format", "json").stdout)
	golden(t, "ls.csv", srv.ok(t, dir, "ls", "--format", "csv").stdout)
	golden(t, "info.txt", srv.ok(t, dir, "info", "people.parquet").stdout)
	golden(t, "info.json", srv.ok(t, dir, "info", "people.parquet", "--format", "json").stdout)
	r := srv.ok(t, dir, "sql", "SELECT * FROM people")
	golden(t, "sql.txt", r.stdout)
	if r.stderr != "(4 rows)\n" {
		t.Errorf("sql stderr = %q, want the row count", r.stderr)
	}
	r = srv.ok(t, dir, "sql", "SELECT * FROM people", "--max-rows", "2")
	golden(t, "sql-max-rows.txt", r.stdout)
	if !strings.Contains(r.stderr, "4 rows (2 shown)") {
		t.Errorf("sql --max-rows stderr = %q", r.stderr)
	}
}

// The sql command against Quiver's Flight SQL server.
func TestCLISQL(t *testing.T) {
	srv := startSQLServer(t)
	dir := t.TempDir()
	f := filepath.Join(dir, "kv.csv")
	must(t, os.WriteFile(f, []byte("k,v\na,1\nb,2\n"), 0o644))
	srv.ok(t, dir, "put", "kv.parquet", f)

	if r := srv.ok(t, dir, "sql", "SELECT * FROM kv", "--format", "csv"); r.stdout != "k,v\na,1\nb,2\n" {
		t.Errorf("sql --format csv = %q", r.stdout)
	}
	if r := srv.ok(t, dir, "sql", "SELECT * FROM kv;", "--format", "json"); r.stdout != "{\"k\":\"a\",\"v\":1}\n{\"k\":\"b\",\"v\":2}\n" {
		t.Errorf("sql --format json = %q", r.stdout)
	}
	r := srv.ok(t, dir, "sql", "SELECT * FROM kv", "--format", "arrow")
	rdr, err := ipc.NewReader(strings.NewReader(r.stdout))
	if err != nil {
		t.Fatalf("sql --format arrow: %v", err)
	}
	var n int64
	for rdr.Next() {
		n += rdr.RecordBatch().NumRows()
	}
	rdr.Release()
	if n != 2 {
		t.Errorf("sql --format arrow: %d rows, want 2", n)
	}
	// Not a terminal: the query comes from stdin.
	if r := srv.quiver(t, dir, []byte("SELECT * FROM kv\n"), "sql", "--format", "csv"); r.code != 0 || r.stdout != "k,v\na,1\nb,2\n" {
		t.Errorf("sql from stdin: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	r = srv.quiver(t, dir, nil, "sql", "DELETE FROM kv")
	if r.code != 1 || !strings.Contains(r.stderr, "not allowed") || !strings.Contains(r.stderr, "DELETE FROM kv") || !strings.Contains(r.stderr, "read-only") {
		t.Errorf("refused SQL: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestCLIAppend(t *testing.T) {
	srv := startSQLServer(t)
	dir := t.TempDir()
	f := filepath.Join(dir, "n.csv")
	must(t, os.WriteFile(f, []byte("n\n1\n2\n"), 0o644))
	// --append to a dataset that does not exist creates it with DoPut.
	if r := srv.ok(t, dir, "put", "log.parquet", f, "--append"); !strings.Contains(r.stderr, "stored log.parquet: 2 rows") {
		t.Errorf("first --append: %q", r.stderr)
	}
	// Then it appends with Flight SQL bulk ingest.
	if r := srv.ok(t, dir, "put", "log.parquet", f, "--append"); !strings.Contains(r.stderr, "appended log.parquet: 2 rows") {
		t.Errorf("second --append: %q", r.stderr)
	}
	if _, cells := storedCells(t, srv, "log.parquet"); strings.Join(cells, ",") != "n=1,n=2,n=1,n=2" {
		t.Errorf("after append: %q", cells)
	}
	// Columns that do not match are refused and change nothing.
	other := filepath.Join(dir, "other.csv")
	must(t, os.WriteFile(other, []byte("x\nfoo\n"), 0o644))
	r := srv.quiver(t, dir, nil, "put", "log.parquet", other, "--append")
	if r.code == 0 {
		t.Errorf("appending other columns succeeded: %q", r.stderr)
	}
	if _, cells := storedCells(t, srv, "log.parquet"); len(cells) != 4 {
		t.Errorf("after a refused append: %d rows, want 4", len(cells))
	}
}

func TestCLIHelpVersionCompletion(t *testing.T) {
	srv := startServer(t)
	dir := t.TempDir()
	for _, sub := range []string{"ls", "info", "put", "get", "sql", "drop", "version", "serve", "completion"} {
		r := srv.ok(t, dir, sub, "--help")
		if !strings.Contains(r.stdout, "Usage:") {
			t.Errorf("%s --help has no usage: %q", sub, r.stdout)
		}
	}
	if r := srv.ok(t, dir, "version"); !strings.HasPrefix(r.stdout, "quiver ") {
		t.Errorf("version = %q", r.stdout)
	}
	for _, sh := range []string{"bash", "zsh", "fish", "powershell"} {
		if r := srv.ok(t, dir, "completion", sh); len(r.stdout) < 100 {
			t.Errorf("completion %s: %q", sh, r.stdout)
		}
	}
	// Dataset names complete from the server.
	f := filepath.Join(dir, "x.csv")
	must(t, os.WriteFile(f, []byte("a\n1\n"), 0o644))
	srv.ok(t, dir, "put", "complete_me.parquet", f)
	if r := srv.ok(t, dir, "__complete", "get", ""); !strings.Contains(r.stdout, "complete_me.parquet") {
		t.Errorf("completion of get NAME = %q", r.stdout)
	}
}

// startSQLServer is the test server; it runs Quiver's Flight SQL server too.
func startSQLServer(t testing.TB) *testServer { return startServer(t) }
