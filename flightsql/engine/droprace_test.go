//go:build duckdb_arrow

package engine

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/quiverdata/quiver/catalog"
)

// TestQueryRacingDrop: a dataset dropped after the engine synced its views for a
// statement, and before the statement ran, fails the query with catalog.ErrNotFound
// naming the table, not with DuckDB's "No files found" (the single file went to the
// trash) or an unknown table; a replace at the same point gives the old or the new
// rows.
func TestQueryRacingDrop(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		parts int  // 1: a single file; more: a directory of parts
		drop  bool // else a replace with 7 rows
	}{
		{"drop single file", 1, true},
		{"drop multi-part", 3, true},
		{"replace single file", 1, false},
		{"replace multi-part", 3, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, store, _ := catalogEngine(t)
			putPeople(t, store, "racy.parquet", catalog.Create, 10)
			for range tc.parts - 1 {
				putPeople(t, store, "racy.parquet", catalog.CreateOrAppend, 10)
			}
			want := int64(10 * tc.parts)
			if n, err := countRows(t, e, "racy"); err != nil || n != want {
				t.Fatalf("count before = %d, %v; want %d", n, err, want)
			}
			var once sync.Once
			beforeStatement = func() {
				once.Do(func() {
					if tc.drop {
						if err := store.Drop(ctx, "racy.parquet"); err != nil {
							t.Errorf("drop: %v", err)
						}
						return
					}
					putPeople(t, store, "racy.parquet", catalog.Replace, 7)
				})
			}
			t.Cleanup(func() { beforeStatement = nil })
			unpin := store.Pin() // as the server holds it for a query
			defer unpin()
			n, err := countRows(t, e, "racy")
			if tc.drop {
				if !errors.Is(err, catalog.ErrNotFound) || !strings.Contains(err.Error(), `"racy"`) {
					t.Fatalf("query racing a drop: %d rows, err %v; want ErrNotFound naming table \"racy\"", n, err)
				}
				return
			}
			if err != nil || (n != want && n != 7) {
				t.Fatalf("query racing a replace: %d rows, err %v; want %d (old) or 7 (new)", n, err, want)
			}
		})
	}
}
