//go:build duckdb_arrow

package engine

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// listTree returns every path under dir, for before/after comparisons.
func listTree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		out = append(out, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSandboxRefuses runs every statement through both Describe and Query and asserts
// the refusal and that nothing appeared in the root, the temp dir or next to the root.
func TestSandboxRefuses(t *testing.T) {
	parent := t.TempDir()
	root := filepath.Join(parent, "root")
	sibling := filepath.Join(parent, "root2") // shares root's name as a prefix
	for _, d := range []string{root, sibling, filepath.Join(root, "imp")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(sibling, "secret.csv"), []byte("a\n1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// IMPORT DATABASE reads schema.sql at parse time and runs what it says.
	evil := "COPY (SELECT 42) TO '" + root + "/imported.csv';\n"
	if err := os.WriteFile(filepath.Join(root, "imp", "schema.sql"), []byte(evil), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "imp", "load.sql"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	e, _ := testEngine(t, Config{Root: root, TempDir: tmp})
	syncOrFail(t, e, Table{Name: "people", Files: []string{writePeople(t, root, "people.parquet", 0, 10)}, Version: "1"})

	var (
		readOnly  = ErrReadOnly
		invalid   = ErrInvalidSQL
		forbidden = ErrForbidden
	)
	out := func(name string) string { return "'" + filepath.Join(root, name) + "'" }
	cases := []struct {
		name string
		sql  string
		want error
	}{
		{"current_setting", "SELECT current_setting('allowed_directories')", forbidden},
		{"current_setting in capitals", "SELECT CURRENT_SETTING('temp_directory')", forbidden},
		{"duckdb_settings", "SELECT name, value FROM duckdb_settings()", forbidden},
		{"a view's files macro", "SELECT __quiver_files_people()", forbidden},
		{"a view's files macro in capitals", "SELECT __QUIVER_FILES_PEOPLE()", forbidden},
		{"macro definitions", "SELECT macro_definition FROM duckdb_functions()", forbidden},
		{"a plan of SQL given as a string", "SELECT json_serialize_plan('SELECT * FROM people')", forbidden},
		{"temporary files", "SELECT * FROM duckdb_temporary_files()", forbidden},
		{"extension paths", "SELECT install_path FROM duckdb_extensions()", forbidden},
		{"copy to root", "COPY (SELECT 1) TO " + out("out.csv"), readOnly},
		{"copy view to parquet", "COPY people TO " + out("out.parquet") + " (FORMAT parquet)", readOnly},
		{"copy from", "COPY people FROM " + out("people.parquet"), readOnly},
		{"insert", "INSERT INTO people VALUES (1, 'x', 1)", readOnly},
		{"update", "UPDATE people SET id = 1", readOnly},
		{"delete", "DELETE FROM people", readOnly},
		{"create table", "CREATE TABLE t AS SELECT 1", readOnly},
		{"create view", "CREATE VIEW v AS SELECT 1", readOnly},
		{"replace view", "CREATE OR REPLACE VIEW people AS SELECT 1 AS id", readOnly},
		{"create macro", "CREATE MACRO m() AS 1", readOnly},
		{"create sequence", "CREATE SEQUENCE s", readOnly},
		{"create secret", "CREATE SECRET s (TYPE s3, KEY_ID 'a', SECRET 'b')", readOnly},
		{"create type", "CREATE TYPE mood AS ENUM ('a')", readOnly},
		{"drop view", "DROP VIEW people", readOnly},
		{"alter view", "ALTER VIEW people RENAME TO p2", readOnly},
		{"attach", "ATTACH " + out("x.db") + " AS x", readOnly},
		{"detach", "DETACH memory", readOnly},
		{"set", "SET threads = 1", readOnly},
		{"reset", "RESET threads", readOnly},
		{"set variable", "SET VARIABLE x = 1", readOnly},
		{"use", "USE memory", readOnly},
		{"install", "INSTALL httpfs", readOnly},
		{"load", "LOAD httpfs", readOnly},
		{"call", "CALL pragma_version()", readOnly},
		{"export database", "EXPORT DATABASE " + out("exp"), readOnly},
		{"import database", "IMPORT DATABASE " + out("imp"), readOnly},
		{"pragma", "PRAGMA enable_profiling", readOnly},
		{"pragma that expands to a select", "PRAGMA table_info('people')", readOnly},
		{"explain analyze copy", "EXPLAIN ANALYZE COPY (SELECT 1) TO " + out("ea.csv"), readOnly},
		{"explain", "EXPLAIN SELECT 1", readOnly},
		{"vacuum", "VACUUM", readOnly},
		{"checkpoint", "CHECKPOINT", readOnly},
		{"begin", "BEGIN TRANSACTION", readOnly},
		{"prepare", "PREPARE p AS SELECT 1", readOnly},
		{"pivot", "PIVOT people ON name USING sum(score)", readOnly}, // a hidden CREATE TYPE first
		{"nested pivot", "SELECT * FROM (PIVOT people ON name USING sum(score))", readOnly},
		{"comment then copy", "/* hi */ -- there\nCOPY (SELECT 1) TO " + out("c.csv"), readOnly},
		{"select then copy", "SELECT 1; COPY (SELECT 1) TO " + out("multi.csv"), readOnly},
		{"copy then select", "COPY (SELECT 1) TO " + out("multi2.csv") + "; SELECT 1", readOnly},
		{"two selects", "SELECT 1; SELECT 2", invalid},
		{"empty", "", invalid},
		{"blank", " \n\t ", invalid},
		{"only a comment", "-- nothing", invalid},
		{"syntax error", "SELEC 1", invalid},
		{"unknown table", "SELECT * FROM nope", invalid},
		{"unknown column", "SELECT nope FROM people", invalid},
		{"read_csv outside", "SELECT * FROM read_csv('/etc/passwd')", forbidden},
		{"replacement scan outside", "SELECT * FROM '/etc/x.csv'", forbidden},
		{"read_text dotdot", "SELECT * FROM read_text('" + root + "/../root2/secret.csv')", forbidden},
		{"sibling with root prefix", "SELECT * FROM read_csv('" + sibling + "/secret.csv')", forbidden},
		{"read_parquet dotdot", "SELECT * FROM read_parquet('" + root + "/../x.parquet')", forbidden},
		{"read_parquet relative", "SELECT * FROM read_parquet('../x.parquet')", forbidden},
		{"read_blob proc", "SELECT * FROM read_blob('/proc/self/environ')", forbidden},
		{"glob outside", "SELECT * FROM glob('/*')", forbidden},
		{"enable_logging to file", "SELECT * FROM enable_logging(storage := 'file', storage_path := " + out("logs") + ")", forbidden},
		{"enable_logging qualified", "SELECT * FROM system.main.enable_logging()", forbidden},
		{"enable_logging quoted", `SELECT * FROM "Enable_Logging"()`, forbidden},
		{"enable_logging in subquery", "SELECT (SELECT count(*) FROM enable_logging())", forbidden},
		{"write_log", "SELECT write_log('x')", forbidden},
		{"query()", "SELECT * FROM query('SELECT 1')", forbidden},
		{"json_execute_serialized_sql", "SELECT * FROM json_execute_serialized_sql(json_serialize_sql('SELECT 1'))", forbidden},
		{"checkpoint()", "SELECT * FROM checkpoint()", forbidden},
		{"data-modifying CTE", "WITH x AS (INSERT INTO people VALUES (1, 'a', 1) RETURNING *) SELECT * FROM x", invalid},
	}
	before := [][]string{listTree(t, root), listTree(t, tmp), listTree(t, parent)}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			_, derr := e.Describe(ctx, c.sql)
			rows, qerr := e.Query(ctx, c.sql, nil, 0)
			if qerr == nil {
				rows.Release()
			}
			for _, err := range []error{derr, qerr} {
				if !errors.Is(err, c.want) {
					t.Errorf("got %v, want %v", err, c.want)
				}
			}
			if label := stmtLabel(c.sql); !strings.Contains(qerr.Error(), label[:min(10, len(label))]) {
				t.Errorf("error %q does not name the statement", qerr)
			}
		})
	}
	after := [][]string{listTree(t, root), listTree(t, tmp), listTree(t, parent)}
	for i := range before {
		if !slices.Equal(before[i], after[i]) {
			t.Errorf("files changed:\nbefore %v\nafter  %v", before[i], after[i])
		}
	}
	// The database is as it was: views intact, logging off, settings locked.
	// current_setting is refused to clients: read the settings on a session of our own.
	s, err := e.newSession()
	if err != nil {
		t.Fatal(err)
	}
	state, err := queryString(s.conn, "SELECT concat_ws(',', (SELECT count(*) FROM people), current_setting('enable_logging')::BOOLEAN, current_setting('lock_configuration')::BOOLEAN)")
	s.destroyLocked(nil)
	s.mu.Unlock()
	if err != nil || state != "10,false,true" {
		t.Fatalf("database state after the attacks: %q, %v", state, err)
	}
}

// TestSandboxAllows lists reads that must keep working.
func TestSandboxAllows(t *testing.T) {
	e, root := testEngine(t, Config{})
	f := writePeople(t, root, "people.parquet", 0, 10)
	syncOrFail(t, e, Table{Name: "people", Files: []string{f}, Version: "1"})
	for _, sql := range []string{
		"SELECT * FROM people",
		"FROM people",
		"FROM people SELECT id WHERE id > 5",
		"VALUES (1), (2)",
		"WITH x AS (SELECT id FROM people) SELECT count(*) FROM x",
		"SELECT 1 UNION ALL SELECT 2",
		"DESCRIBE people",
		"SHOW TABLES",
		"SELECT table_name FROM information_schema.tables",
		"SELECT sql FROM duckdb_views() WHERE NOT internal",
		"SELECT pg_get_viewdef(view_oid) FROM duckdb_views() WHERE NOT internal",
		"SELECT function_name FROM duckdb_functions()",
		"SELECT name, description FROM duckdb_settings()",
		"SUMMARIZE people",
		"SELECT * FROM read_parquet('" + f + "')",
		"SELECT * FROM glob('" + root + "/*')",
		"SELECT * FROM (SELECT 1) t(x), LATERAL (SELECT x + 1)",
		"UNPIVOT people ON name INTO NAME k VALUE v",
		"SELECT 1; ", // one statement and a trailing semicolon
	} {
		if _, err := e.Describe(context.Background(), sql); err != nil {
			t.Errorf("Describe(%q): %v", sql, err)
		}
		rows, err := e.Query(context.Background(), sql, nil, 0)
		if err != nil {
			t.Errorf("Query(%q): %v", sql, err)
			continue
		}
		if _, _, err := drain(t, rows); err != nil {
			t.Errorf("Query(%q) stream: %v", sql, err)
		}
	}
	// View definitions are shown, and name no file: the server's layout stays hidden.
	defs := queryAll(t, e, "SELECT string_agg(sql, ' ') FROM duckdb_views() WHERE NOT internal", nil)
	if d, _ := defs[0][0].(string); !strings.Contains(d, "people") || strings.Contains(d, root) {
		t.Errorf("view definitions %q: want the view, and not the root %q", d, root)
	}
}
