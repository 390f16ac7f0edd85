package integration

import (
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
