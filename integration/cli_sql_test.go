package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `quiver sql` prints as DuckDB's CLI does: numbers in DuckDB's form, types under the
// names, the first and last rows of a long result with the total count.
func TestCLISQLOutputLikeDuckDB(t *testing.T) {
	srv := startSQLServer(t)
	dir := t.TempDir()
	r := srv.ok(t, dir, "sql", "SELECT 249443097.17::DOUBLE AS total, 12345678901234567890.12::DECIMAL(38,2) AS exact, DATE '2024-01-02' AS day")
	for _, want := range []string{"249443097.17", "12345678901234567890.12", "2024-01-02", "double", "decimal(38,2)", "date"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "e+08") {
		t.Errorf("a double printed with an exponent:\n%s", r.stdout)
	}
	if r := srv.ok(t, dir, "sql", "SELECT 249443097.17::DOUBLE AS total, 3::DOUBLE AS whole", "--format", "csv"); r.stdout != "total,whole\n249443097.17,3.0\n" {
		t.Errorf("--format csv = %q", r.stdout)
	}

	r = srv.ok(t, dir, "sql", "SELECT range AS n FROM range(100000)", "--max-rows", "10")
	if r.stderr != "(100000 rows (10 shown); --max-rows 0 shows all, --format csv streams them)\n" {
		t.Errorf("stderr = %q", r.stderr)
	}
	for _, want := range []string{"│      0 │", "│      4 │", "│  99995 │", "│  99999 │", "·"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("head and tail lack %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "│      5 │") || strings.Contains(r.stdout, "│  99994 │") {
		t.Errorf("more than 10 rows shown:\n%s", r.stdout)
	}
	if r := srv.quiver(t, dir, nil, "sql", "SELECT 1", "--max-rows", "-1"); r.code != 2 || !strings.Contains(r.stderr, "--max-rows -1") {
		t.Errorf("--max-rows -1: exit %d, %q", r.code, r.stderr)
	}
}

// Scripts run statement by statement and stop at the first failure, naming it.
func TestCLISQLScripts(t *testing.T) {
	srv := startSQLServer(t)
	dir := t.TempDir()
	script := filepath.Join(dir, "report.sql")
	must(t, os.WriteFile(script, []byte("-- a report\nSELECT 'a;b' AS s;\n\nSELECT 2 AS n; /* ; */\nSELECT *\n  FROM missing_table;\nSELECT 4 AS never;\n"), 0o644))
	r := srv.quiver(t, dir, nil, "sql", "-f", script, "--format", "csv")
	if r.code != 1 {
		t.Errorf("failing script: exit %d, want 1; stderr %q", r.code, r.stderr)
	}
	if r.stdout != "s\na;b\nn\n2\n" {
		t.Errorf("stdout = %q, want the first two results only", r.stdout)
	}
	if !strings.Contains(r.stderr, script+":5: statement 3 of 4") || !strings.Contains(r.stderr, "missing_table") {
		t.Errorf("stderr = %q, want the file, line 5, statement 3 and the server's message", r.stderr)
	}

	// stdin with several statements, and a query argument with several.
	if r := srv.quiver(t, dir, []byte("SELECT 1 AS a;\nSELECT 2 AS b;\n"), "sql", "--format", "csv"); r.code != 0 || r.stdout != "a\n1\nb\n2\n" {
		t.Errorf("stdin script: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if r := srv.quiver(t, dir, nil, "sql", "SELECT 1 AS a; SELECT 2 AS b", "--format", "json"); r.code != 0 || r.stdout != "{\"a\":1}\n{\"b\":2}\n" {
		t.Errorf("two statements in the argument: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	// A write statement second is refused before it runs, and nothing after it runs.
	r = srv.quiver(t, dir, []byte("SELECT 1 AS a; COPY (SELECT 1) TO 'x.parquet'; SELECT 3 AS c;"), "sql", "--format", "csv")
	if r.code != 1 || r.stdout != "a\n1\n" || !strings.Contains(r.stderr, "stdin:1: statement 2 of 3") || !strings.Contains(r.stderr, "not allowed") {
		t.Errorf("refused second statement: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"sql", "-f", script, "SELECT 1"}, "not both"},
		{[]string{"sql", "-f", filepath.Join(dir, "nope.sql")}, "nope.sql"},
		{[]string{"sql", "SELECT 1; SELECT 2", "--format", "arrow"}, "--format arrow writes one result"},
		{[]string{"sql", "/* only a comment */;"}, "no query"},
	} {
		if r := srv.quiver(t, dir, nil, c.args...); r.code != 2 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%q: exit %d, stderr %q; want exit 2 and %q", c.args, r.code, r.stderr, c.want)
		}
	}
}
