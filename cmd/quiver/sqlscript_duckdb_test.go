package main

import (
	"testing"

	bindings "github.com/duckdb/duckdb-go-bindings"
)

// The splitter cuts scripts where DuckDB's own parser (linked into the binary) does:
// for each script, as many statements, each of which DuckDB parses as one.
func TestSplitStatementsAgreesWithDuckDB(t *testing.T) {
	var db bindings.Database
	if bindings.Open(":memory:", &db) == bindings.StateError {
		t.Fatal("open DuckDB")
	}
	defer bindings.Close(&db)
	var conn bindings.Connection
	if bindings.Connect(db, &conn) == bindings.StateError {
		t.Fatal("connect DuckDB")
	}
	defer bindings.Disconnect(&conn)
	count := func(sql string) (int, string) {
		var ex bindings.ExtractedStatements
		defer bindings.DestroyExtracted(&ex)
		n := int(bindings.ExtractStatements(conn, sql, &ex))
		return n, bindings.ExtractStatementsError(ex)
	}
	for _, script := range []string{
		"SELECT 1; SELECT 2;",
		"SELECT 'a;b'; SELECT 'it''s;'",
		`SELECT 1 AS "x;y"; SELECT 2`,
		`SELECT E'\';'; SELECT 2`,
		"SELECT $$a;b$$;\nSELECT $fn$ ; $$ ; $fn$",
		"-- first; not a statement\nSELECT 1; -- trailing;\nSELECT 2",
		"/* a; /* b; */ c; */ SELECT 1;\n/* only a comment */;",
		"SELECT 'a\nb';\n\n  SELECT 3",
		";;\n  ;SELECT 1;;",
		"SELECT x$$ FROM (SELECT 1 AS x$$); SELECT 2",
		"SELECT 1 /* ; */ + 2; SELECT '--;' -- ;\n;",
	} {
		want, msg := count(script)
		if msg != "" {
			t.Fatalf("DuckDB cannot parse %q: %s", script, msg)
		}
		got := splitStatements(script)
		if len(got) != want {
			t.Errorf("splitStatements(%q): %d statements, DuckDB %d", script, len(got), want)
			continue
		}
		for _, st := range got {
			if n, msg := count(st.text); n != 1 || msg != "" {
				t.Errorf("statement %q of %q: DuckDB reads %d statements (%s)", st.text, script, n, msg)
			}
		}
	}
}
