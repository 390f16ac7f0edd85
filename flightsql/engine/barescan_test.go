//go:build duckdb_arrow

package engine

import (
	"context"
	"testing"
)

func TestBareScan(t *testing.T) {
	e, root := testEngine(t, Config{})
	syncOrFail(t, e,
		Table{Name: "sales", Dataset: "sales.parquet", Files: []string{writePeople(t, root, "sales.parquet", 0, 10)}, Version: "1"},
		Table{Name: "other", Files: []string{writePeople(t, root, "other.parquet", 100, 110)}, Version: "1"},
		Table{Name: "Odd-Name", Files: []string{writePeople(t, root, "odd.parquet", 200, 210)}, Version: "1"},
	)
	ctx := context.Background()
	takes := []struct{ name, sql, dataset string }{
		{"plain", "SELECT * FROM sales", "sales.parquet"},
		{"FROM shorthand", "FROM sales", "sales.parquet"},
		{"upper case", "select * from SALES", "sales.parquet"},
		{"quoted", `SELECT * FROM "sales"`, "sales.parquet"},
		{"quoted odd name", `SELECT * FROM "odd-name"`, "Odd-Name"},
		{"schema qualified", "SELECT * FROM main.sales", "sales.parquet"},
		{"catalog qualified", "SELECT * FROM memory.main.sales", "sales.parquet"},
		{"table alias", "SELECT * FROM sales AS s", "sales.parquet"},
		{"star of the alias", "SELECT s.* FROM sales s", "sales.parquet"},
		{"trailing semicolon and comment", "SELECT * FROM sales; -- all of it", "sales.parquet"},
	}
	for _, c := range takes {
		t.Run("takes/"+c.name, func(t *testing.T) {
			ds, d, ok := e.BareScan(ctx, c.sql)
			if !ok || ds != c.dataset {
				t.Fatalf("BareScan(%q) = %q, %v; want %q, true", c.sql, ds, ok, c.dataset)
			}
			if got := d.Schema.NumFields(); got != peopleSchema.NumFields() {
				t.Fatalf("schema has %d fields, want %d: %s", got, peopleSchema.NumFields(), d.Schema)
			}
			for i, f := range peopleSchema.Fields() {
				if g := d.Schema.Field(i); g.Name != f.Name {
					t.Errorf("field %d is %q, want %q", i, g.Name, f.Name)
				}
			}
		})
	}
	refuses := []struct{ name, sql string }{
		{"where", "SELECT * FROM sales WHERE id > 3"},
		{"where true", "SELECT * FROM sales WHERE true"},
		{"limit", "SELECT * FROM sales LIMIT 3"},
		{"offset", "SELECT * FROM sales OFFSET 3"},
		{"order by", "SELECT * FROM sales ORDER BY id"},
		{"distinct", "SELECT DISTINCT * FROM sales"},
		{"distinct on", "SELECT DISTINCT ON (id) * FROM sales"},
		{"star and a column", "SELECT *, 1 FROM sales"},
		{"star twice", "SELECT *, * FROM sales"},
		{"exclude", "SELECT * EXCLUDE (name) FROM sales"},
		{"replace", "SELECT * REPLACE (id + 1 AS id) FROM sales"},
		{"rename", "SELECT * RENAME (id AS key) FROM sales"},
		{"columns", "SELECT COLUMNS(*) FROM sales"},
		{"columns regex", "SELECT COLUMNS('.*') FROM sales"},
		{"named columns", "SELECT id, name, score FROM sales"},
		{"column aliases", "SELECT * FROM sales AS s(a, b, c)"},
		{"star of one side of a join", "SELECT s.* FROM sales s JOIN other o USING (id)"},
		{"cross join", "SELECT * FROM sales, other"},
		{"tablesample", "SELECT * FROM sales TABLESAMPLE 10%"},
		{"using sample", "SELECT * FROM sales USING SAMPLE 5"},
		{"cte shadowing", "WITH sales AS (SELECT 1) SELECT * FROM sales"},
		{"cte of the table", "WITH x AS (SELECT * FROM sales) SELECT * FROM x"},
		{"subquery", "SELECT * FROM (SELECT * FROM sales)"},
		{"union", "SELECT * FROM sales UNION ALL SELECT * FROM other"},
		{"group by all", "SELECT * FROM sales GROUP BY ALL"},
		{"qualify", "SELECT * FROM sales QUALIFY row_number() OVER () = 1"},
		{"read_parquet", "SELECT * FROM read_parquet('sales.parquet')"},
		{"file as table", "SELECT * FROM 'sales.parquet'"},
		{"hidden tables", "SELECT * FROM __quiver_mem.t1"},
		{"system view", "SELECT * FROM duckdb_tables"},
		{"not a dataset", "SELECT * FROM nothing"},
		{"two statements", "SELECT * FROM sales; SELECT * FROM other"},
		{"not a select", "DESCRIBE sales"},
		{"values", "VALUES (1)"},
		{"pivot", "PIVOT sales ON name USING sum(score)"},
		{"parameter", "SELECT * FROM sales WHERE id = ?"},
		{"empty", "  "},
		{"garbage", "SELECT * FROM"},
	}
	for _, c := range refuses {
		t.Run("refuses/"+c.name, func(t *testing.T) {
			if ds, _, ok := e.BareScan(ctx, c.sql); ok {
				t.Fatalf("BareScan(%q) = %q, true; want not a bare scan", c.sql, ds)
			}
			// Asked again, the remembered shape answers the same.
			if ds, _, ok := e.BareScan(ctx, c.sql); ok {
				t.Fatalf("BareScan(%q) again = %q, true", c.sql, ds)
			}
		})
	}
	t.Run("dropped", func(t *testing.T) {
		if _, _, ok := e.BareScan(ctx, "SELECT * FROM other"); !ok {
			t.Fatal("other is not a bare scan before the drop")
		}
		syncOrFail(t, e, Table{Name: "sales", Dataset: "sales.parquet", Files: []string{root + "/sales.parquet"}, Version: "1"})
		if ds, _, ok := e.BareScan(ctx, "SELECT * FROM other"); ok {
			t.Fatalf("a dropped table is a bare scan of %q", ds)
		}
	})
}
