//go:build duckdb_arrow

package engine

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestReadTables(t *testing.T) {
	e, root := testEngine(t, Config{})
	syncOrFail(t, e,
		Table{Name: "sales", Files: []string{writePeople(t, root, "sales.parquet", 0, 10)}, Version: "1"},
		Table{Name: "sales_eu", Files: []string{writePeople(t, root, "sales_eu.parquet", 10, 20)}, Version: "1"},
		Table{Name: "other", Files: []string{writePeople(t, root, "other.parquet", 100, 110)}, Version: "1"},
		Table{Name: "Odd-Name", Files: []string{writePeople(t, root, "odd.parquet", 200, 210)}, Version: "1"},
		Table{Name: "sales.2024", Files: []string{writePeople(t, root, "s2024.parquet", 300, 310)}, Version: "1"},
		Table{Name: "keys", Dataset: "keys.parquet", Files: []string{writePeople(t, root, "keys.parquet", 400, 410)}, Version: "1"},
		Table{Name: "invoices", Files: []string{writePeople(t, root, "invoices.parquet", 500, 510)}, Version: "1"},
	)
	tests := []struct {
		name, sql string
		want      []string // nil: ErrUnattributable (or wantErr)
		wantErr   error
	}{
		{"plain", "SELECT * FROM sales", []string{"sales"}, nil},
		{"no table", "SELECT 1 + 1", []string{}, nil},
		{"FROM shorthand", "FROM sales", []string{"sales"}, nil},
		{"case folded", "SELECT * FROM SALES", []string{"sales"}, nil},
		{"quoted", `SELECT * FROM "sales"`, []string{"sales"}, nil},
		{"quoted odd name", `SELECT * FROM "odd-name"`, []string{"Odd-Name"}, nil},
		{"not a dataset name", `SELECT * FROM "odd name"`, nil, ErrUnattributable},
		{"dotted dataset name", `SELECT * FROM "sales.2024"`, []string{"sales.2024"}, nil},
		{"schema qualified", "SELECT * FROM main.sales", []string{"sales"}, nil},
		{"catalog qualified", "SELECT * FROM memory.main.sales", []string{"sales"}, nil},
		{"catalog shorthand", "SELECT * FROM memory.sales", []string{"sales"}, nil},
		{"join", "SELECT * FROM sales s JOIN sales_eu e USING (id)", []string{"sales", "sales_eu"}, nil},
		{"join other", "SELECT * FROM sales, other", []string{"other", "sales"}, nil},
		{"union", "SELECT id FROM sales UNION ALL SELECT id FROM other", []string{"other", "sales"}, nil},
		{"except", "SELECT id FROM sales EXCEPT SELECT id FROM sales_eu", []string{"sales", "sales_eu"}, nil},
		{"where subquery", "SELECT * FROM sales WHERE id IN (SELECT id FROM other)", []string{"other", "sales"}, nil},
		{"nested subqueries", "SELECT * FROM sales WHERE id > (SELECT max(id) FROM (SELECT id FROM other WHERE EXISTS (SELECT 1 FROM sales_eu)))", []string{"other", "sales", "sales_eu"}, nil},
		{"select list subquery", "SELECT (SELECT max(id) FROM other) FROM sales", []string{"other", "sales"}, nil},
		{"lateral", "SELECT * FROM sales, LATERAL (SELECT * FROM other WHERE other.id = sales.id)", []string{"other", "sales"}, nil},
		{"cte", "WITH x AS (SELECT * FROM sales) SELECT * FROM x", []string{"sales"}, nil},
		{"cte shadowing a table", "WITH sales AS (SELECT * FROM other) SELECT * FROM sales", []string{"other"}, nil},
		{"cte name is a table outside its scope", "SELECT * FROM (WITH other AS (SELECT * FROM sales) SELECT * FROM other) UNION ALL SELECT * FROM other", []string{"other", "sales"}, nil},
		{"qualified name is not the cte", "WITH sales AS (SELECT 1) SELECT * FROM main.sales", []string{"sales"}, nil},
		{"later cte sees earlier", "WITH a AS (SELECT * FROM sales), b AS (SELECT * FROM a) SELECT * FROM b", []string{"sales"}, nil},
		{"cte names ignore case", `WITH other AS (SELECT 1) SELECT * FROM "OTHER"`, []string{}, nil},
		{"cte names ignore case, quoted cte", `WITH "Other" AS (SELECT 1) SELECT * FROM other`, []string{}, nil},
		{"cte body does not see itself", "WITH other AS (SELECT * FROM other) SELECT * FROM other", []string{"other"}, nil},
		{"recursive cte", "WITH RECURSIVE r AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT * FROM r", []string{}, nil},
		{"recursive cte reads a table", "WITH RECURSIVE r AS (SELECT id FROM sales UNION ALL SELECT id + 1 FROM r WHERE id < 3) SELECT * FROM r", []string{"sales"}, nil},
		{"subquery in cte in subquery", "SELECT * FROM sales WHERE id IN (WITH c AS (SELECT id FROM other) SELECT id FROM c)", []string{"other", "sales"}, nil},
		{"describe", "DESCRIBE sales", []string{"sales"}, nil},
		{"describe query", "DESCRIBE SELECT * FROM other", []string{"other"}, nil},
		{"summarize", "SUMMARIZE sales", []string{"sales"}, nil},
		{"show table", "SHOW sales", []string{"sales"}, nil},
		{"values", "SELECT * FROM (VALUES (1), (2)) v(x)", []string{}, nil},
		{"range", "SELECT * FROM range(3)", []string{}, nil},
		{"unnest with subquery", "SELECT * FROM unnest((SELECT list(id) FROM other))", []string{"other"}, nil},

		{"read_parquet", "SELECT * FROM read_parquet('" + root + "/other.parquet')", nil, ErrUnattributable},
		{"read_parquet in subquery", "SELECT * FROM sales WHERE id IN (SELECT id FROM read_parquet('other.parquet'))", nil, ErrUnattributable},
		{"read_csv", "SELECT * FROM read_csv('x.csv')", nil, ErrUnattributable},
		{"glob", "SELECT * FROM glob('*')", nil, ErrUnattributable},
		{"qualified range", "SELECT * FROM main.range(3)", nil, ErrUnattributable},
		{"parquet_metadata", "SELECT * FROM parquet_metadata('other.parquet')", nil, ErrUnattributable},
		{"file as table", "SELECT * FROM 'other.parquet'", nil, ErrNotCovered},
		{"path as table", `SELECT * FROM "` + root + `/other.parquet"`, nil, ErrUnattributable},
		{"unknown dotted name", `SELECT * FROM "sales_x.csv"`, nil, ErrNotCovered},
		{"unknown table", "SELECT * FROM nosuch", nil, ErrNotCovered},
		{"kelvin sign cte does not shadow", "WITH \"\u212AEYS\" AS (SELECT 1) SELECT * FROM keys", []string{"keys.parquet"}, nil},
		{"dotted capital I cte does not shadow", "WITH \"\u0130NVOICES\" AS (SELECT 1) SELECT * FROM invoices", []string{"invoices"}, nil},
		{"kelvin sign table is not keys", "SELECT * FROM \"\u212AEYS\"", nil, ErrUnattributable},
		{"ascii case cte shadows", `WITH "KEYS" AS (SELECT 1) SELECT * FROM keys`, []string{}, nil},
		{"pg_get_viewdef", "SELECT pg_get_viewdef(1)", nil, ErrUnattributable},
		{"macro over the catalog", "SELECT * FROM sales WHERE pg_get_constraintdef(1) IS NULL", nil, ErrUnattributable},
		{"current_setting", "SELECT current_setting('temp_directory')", nil, ErrForbidden},
		{"a view's files macro", `SELECT "__quiver_files_other"()`, nil, ErrForbidden},
		{"a plan of SQL given as a string", "SELECT json_serialize_plan('SELECT * FROM other')", nil, ErrForbidden},
		{"information_schema views", "SELECT * FROM information_schema.views", nil, ErrUnattributable},
		{"system view", "SELECT * FROM duckdb_tables", nil, ErrUnattributable},
		{"sqlite_master", "SELECT * FROM sqlite_master", nil, ErrUnattributable},
		{"information_schema", "SELECT * FROM information_schema.tables", nil, ErrUnattributable},
		{"pg_catalog", "SELECT * FROM pg_catalog.pg_class", nil, ErrUnattributable},
		{"other catalog", "SELECT * FROM system.main.sales", nil, ErrUnattributable},
		{"temp catalog", "SELECT * FROM temp.main.sales", nil, ErrUnattributable},
		{"show tables", "SHOW TABLES", nil, ErrUnattributable},
		{"show all tables", "SHOW ALL TABLES", nil, ErrUnattributable},
		{"table function in join", "SELECT * FROM sales JOIN read_parquet('other.parquet') USING (id)", nil, ErrUnattributable},

		{"not a select", "COPY sales TO 'x.csv'", nil, ErrReadOnly},
		{"two statements", "SELECT 1; SELECT * FROM other", nil, ErrInvalidSQL},
		{"syntax error", "SELEC 1", nil, ErrInvalidSQL},
		{"denied function", "SELECT * FROM query('SELECT * FROM other')", nil, ErrForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := e.ReadTables(context.Background(), tc.sql, coverAll)
			if tc.want == nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("ReadTables(%q) = %v, %v; want error %v", tc.sql, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("ReadTables(%q) = %q, %v; want %q", tc.sql, got, err, tc.want)
			}
		})
	}
}

// coverAll is the covered function of an unrestricted grant.
func coverAll(string) bool { return true }

// TestReadTablesRefusesUncoveredAndUnknownAlike: a name outside the grant and a name
// that is no dataset get one answer, and nothing is bound before it (a binder error
// would suggest names: "Did you mean ...").
func TestReadTablesRefusesUncoveredAndUnknownAlike(t *testing.T) {
	e, root := testEngine(t, Config{})
	syncOrFail(t, e,
		Table{Name: "sales", Dataset: "sales.parquet", Files: []string{writePeople(t, root, "sales.parquet", 0, 10)}, Version: "1"},
		Table{Name: "payroll", Dataset: "payroll", Files: []string{writePeople(t, root, "payroll", 10, 20)}, Version: "1"},
	)
	onlySales := func(d string) bool { return d == "sales.parquet" }
	msgs := map[string]string{}
	for _, name := range []string{"payroll", "payrol", "nosuch"} {
		_, err := e.ReadTables(context.Background(), "SELECT * FROM sales, "+name, onlySales)
		if !errors.Is(err, ErrNotCovered) {
			t.Fatalf("%s: %v, want ErrNotCovered", name, err)
		}
		msgs[name] = strings.ReplaceAll(err.Error(), name, "NAME")
	}
	if msgs["payroll"] != msgs["nosuch"] || msgs["payrol"] != msgs["nosuch"] {
		t.Errorf("answers differ: %q", msgs)
	}
	if strings.Contains(msgs["payrol"], "Did you mean") {
		t.Errorf("binder suggestion leaked: %s", msgs["payrol"])
	}
	got, err := e.ReadTables(context.Background(), "SELECT * FROM SALES", onlySales)
	if err != nil || !reflect.DeepEqual(got, []string{"sales.parquet"}) {
		t.Errorf("covered: %q, %v; want the dataset name sales.parquet", got, err)
	}
	// A restricted statement reading the catalog through a macro or a system view is
	// refused on what DuckDB binds, though its text names no table.
	for _, sql := range []string{
		"SELECT *, pg_get_viewdef(1) FROM sales",
		"SELECT count(*) FROM sales WHERE pg_get_constraintdef(1) IS NULL",
		"SELECT * FROM sales WHERE id IN (SELECT 1 FROM information_schema.tables)",
	} {
		if _, err := e.ReadTables(context.Background(), sql, onlySales); !errors.Is(err, ErrUnattributable) && !errors.Is(err, ErrForbidden) {
			t.Errorf("%s: %v, want refused", sql, err)
		}
	}
}

// TestReadTablesScopeMatchesDuckDB runs the CTE cases and checks that DuckDB read the
// tables ReadTables named: sales holds ids 0-9, other 100-109.
func TestReadTablesScopeMatchesDuckDB(t *testing.T) {
	e, root := testEngine(t, Config{})
	syncOrFail(t, e,
		Table{Name: "sales", Files: []string{writePeople(t, root, "sales.parquet", 0, 10)}, Version: "1"},
		Table{Name: "other", Files: []string{writePeople(t, root, "other.parquet", 100, 110)}, Version: "1"},
	)
	for sql, wantMin := range map[string]int64{
		"WITH sales AS (SELECT * FROM other) SELECT min(id) FROM sales":                                                               100,
		"WITH sales AS (SELECT 1 AS id) SELECT min(id) FROM main.sales":                                                               0,
		"SELECT min(id) FROM (SELECT * FROM (WITH other AS (SELECT * FROM sales) SELECT * FROM other) UNION ALL SELECT * FROM other)": 0,
		"WITH other AS (SELECT * FROM other) SELECT min(id) FROM other":                                                               100,
		`WITH other AS (SELECT 1::BIGINT AS id) SELECT min(id) FROM "OTHER"`:                                                          1,
		`WITH "Other" AS (SELECT 2::BIGINT AS id) SELECT min(id) FROM other`:                                                          2,
	} {
		rows := queryAll(t, e, sql, nil)
		if len(rows) != 1 || rows[0][0] != wantMin {
			t.Errorf("%s: got %v, want min %d", sql, rows, wantMin)
		}
	}
}

// FuzzReadTables: whatever the SQL, ReadTables does not panic, and what it accepts
// names only dataset views.
func FuzzReadTables(f *testing.F) {
	for _, s := range []string{
		"SELECT * FROM sales", "WITH sales AS (SELECT * FROM other) SELECT * FROM sales",
		"SELECT * FROM read_parquet('x')", "DESCRIBE sales", "FROM sales, LATERAL (FROM other)",
		"WITH RECURSIVE r AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM r) SELECT * FROM r",
	} {
		f.Add(s)
	}
	e, root := testEngine(f, Config{})
	syncOrFail(f, e,
		Table{Name: "sales", Files: []string{writePeople(f, root, "sales.parquet", 0, 3)}, Version: "1"},
		Table{Name: "other", Files: []string{writePeople(f, root, "other.parquet", 0, 3)}, Version: "1"},
	)
	f.Fuzz(func(t *testing.T, sql string) {
		tables, err := e.ReadTables(context.Background(), sql, coverAll)
		if err != nil {
			return
		}
		for _, name := range tables {
			if name != "sales" && name != "other" {
				t.Fatalf("ReadTables(%q) = %q: %q is not a dataset", sql, tables, name)
			}
		}
	})
}

// FuzzReadTablesMatchesDuckDB checks the parse-tree walk against what DuckDB really
// binds: every view the bound plan scans (told apart by its files) must be among the
// tables the walk names, and ReadTables must name it too. The seeds include the
// identifiers Go's Unicode folding confuses with ASCII ones (U+212A KELVIN SIGN, U+0130)
// which DuckDB does not fold: a CTE so named does not hide the table.
func FuzzReadTablesMatchesDuckDB(f *testing.F) {
	for _, s := range []string{
		"WITH \"\u212AEYS\" AS (SELECT 1) SELECT * FROM keys",
		"WITH \"\u0130NVOICES\" AS (SELECT 1) SELECT * FROM invoices",
		"WITH \"KEYS\" AS (SELECT 1) SELECT * FROM keys",
		"WITH \"\u017FALES\" AS (SELECT 1) SELECT * FROM sales",
		"WITH RECURSIVE \"\u212Aeys\" AS (SELECT 1 UNION ALL SELECT * FROM keys) SELECT * FROM \"\u212Aeys\"",
		"WITH sales AS (SELECT * FROM keys) SELECT * FROM sales, invoices",
		"SELECT * FROM sales WHERE id IN (WITH keys AS (SELECT 1) SELECT * FROM keys) UNION ALL SELECT * FROM keys",
		"FROM invoices, LATERAL (FROM \"Sales\")",
		"SELECT pg_get_viewdef(1), * FROM sales",
	} {
		f.Add(s)
	}
	e, root := testEngine(f, Config{})
	tables := []Table{
		{Name: "keys", Dataset: "keys.parquet", Files: []string{writePeople(f, root, "keys.parquet", 0, 3)}, Version: "1"},
		{Name: "invoices", Dataset: "invoices", Files: []string{writePeople(f, root, "invoices", 0, 3)}, Version: "1"},
		{Name: "sales", Dataset: "sales.parquet", Files: []string{writePeople(f, root, "sales.parquet", 0, 3)}, Version: "1"},
	}
	syncOrFail(f, e, tables...)
	byFile := map[string]Table{}
	for _, t := range tables {
		byFile[t.Files[0]] = t
	}
	f.Fuzz(func(t *testing.T, sql string) {
		s, err := e.newSession()
		if err != nil {
			t.Fatal(err)
		}
		named, stmt, walkErr := parsedReads(s.conn, sql)
		var plan boundPlan
		var planErr error
		if walkErr == nil {
			plan, planErr = bindPlan(s.conn, sql, stmt)
		}
		s.destroyLocked(nil)
		s.mu.Unlock()
		if walkErr != nil || planErr != nil {
			return
		}
		got, rtErr := e.ReadTables(context.Background(), sql, coverAll)
		for _, g := range plan.gets {
			if g.name != "read_parquet" || len(g.files) != 1 {
				continue
			}
			tbl, ok := byFile[g.files[0]]
			if !ok {
				continue
			}
			if _, ok := named[tbl.Name]; !ok {
				t.Fatalf("%q: DuckDB scans %s, the parse walk names %q", sql, tbl.Name, named)
			}
			if rtErr == nil && !slices.Contains(got, tbl.Dataset) {
				t.Fatalf("%q: DuckDB scans %s, ReadTables says %q", sql, tbl.Dataset, got)
			}
		}
	})
}
