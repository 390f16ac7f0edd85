//go:build duckdb_arrow

package engine

import (
	"context"
	"slices"
	"testing"
)

// TestDescribeTables: Describe (and Query's Rows) name the table of each result
// column that is one of its columns, read through projections, filters, sorts and
// limits, and no table for a computed column or one from a join or an aggregate.
func TestDescribeTables(t *testing.T) {
	e, root := testEngine(t, Config{})
	f := writePeople(t, root, "people.parquet", 0, 10)
	g := writePeople(t, root, "others.parquet", 0, 10)
	syncOrFail(t, e, Table{Name: "people", Files: []string{f}, Version: "1"},
		Table{Name: "others", Files: []string{g}, Version: "1"})
	cases := []struct {
		sql  string
		want []string
	}{
		{"SELECT * FROM people", []string{"people", "people", "people"}},
		{"SELECT name, id FROM people WHERE score > 1 ORDER BY name LIMIT 3", []string{"people", "people"}},
		{"SELECT id + 1 AS n, name FROM people", []string{"", "people"}},
		{"SELECT DISTINCT name FROM others", []string{"others"}},
		{"SELECT count(*) AS n FROM people", []string{""}},
		{"SELECT p.name, o.score FROM people p JOIN others o USING (id)", []string{"", ""}},
		{"SELECT 1 AS one", []string{""}},
	}
	for _, c := range cases {
		for pass := range 2 { // the second time the gate's verdict is cached
			d, err := e.Describe(context.Background(), c.sql)
			if err != nil {
				t.Fatalf("%s: %v", c.sql, err)
			}
			got := d.Tables
			if got == nil {
				got = make([]string, d.Schema.NumFields())
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("%s (pass %d): tables %q, want %q", c.sql, pass, got, c.want)
			}
		}
		rows, err := e.Query(context.Background(), c.sql, nil, 0)
		if err != nil {
			t.Fatalf("%s: %v", c.sql, err)
		}
		got := rows.Tables()
		rows.Release()
		if got == nil {
			got = make([]string, len(c.want))
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: Rows.Tables %q, want %q", c.sql, got, c.want)
		}
	}
}
