//go:build duckdb_arrow

package engine

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/quiverdata/quiver/catalog"
)

// writeDeep writes a one-row Parquet file whose column "c" is `depth` lists around an
// int64, as a hand-dropped file might be, and returns its path.
func writeDeep(t testing.TB, dir, file string, depth int) string {
	t.Helper()
	var dt arrow.DataType = arrow.PrimitiveTypes.Int64
	for range depth {
		dt = arrow.ListOf(dt)
	}
	schema := arrow.NewSchema([]arrow.Field{{Name: "c", Type: dt, Nullable: true}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	var bld array.Builder = b.Field(0)
	for {
		lb, ok := bld.(*array.ListBuilder)
		if !ok {
			break
		}
		lb.Append(true)
		bld = lb.ValueBuilder()
	}
	bld.(*array.Int64Builder).Append(1)
	rec := b.NewRecordBatch()
	defer rec.Release()
	path := filepath.Join(dir, file)
	writeParquet(t, path, rec)
	return path
}

// TestDeeplyNestedFileGetsNoView: a hand-dropped file nested deeper than
// catalog.MaxNestingDepth would send DuckDB into exponential, uninterruptible work
// (over 26 s at depth 27, the query timeout ignored). The engine makes no view of it:
// SyncTables reports it once, a query or Describe naming it fails at once with
// ErrUnqueryable naming the table, the file, the column and the depth, and the
// other tables stay queryable. Once the file is replaced by a shallow one, it is
// queryable again.
func TestDeeplyNestedFileGetsNoView(t *testing.T) {
	e, root := testEngine(t, Config{QueryTimeout: 2 * time.Second})
	ctx := context.Background()
	people := Table{Name: "people", Files: []string{writePeople(t, root, "p.parquet", 0, 5)}, Version: "1"}
	atLimit := Table{Name: "nested", Files: []string{writeDeep(t, root, "nested.parquet", catalog.MaxNestingDepth)}, Version: "1"}
	deep := Table{Name: "Deep", Files: []string{writeDeep(t, root, "deep.parquet", 30)}, Version: "1"}

	err := e.SyncTables(ctx, []Table{people, atLimit, deep})
	if !errors.Is(err, ErrUnqueryable) || !errors.Is(err, catalog.ErrTooDeep) {
		t.Fatalf("SyncTables = %v, want ErrUnqueryable and catalog.ErrTooDeep", err)
	}
	for _, want := range []string{`table "Deep"`, "deep.parquet", `column "c.element`, "nested 30 levels deep"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("SyncTables error %q does not say %q", err, want)
		}
	}
	// Unchanged: not read again, not reported again.
	if err := e.SyncTables(ctx, []Table{people, atLimit, deep}); err != nil {
		t.Fatalf("second SyncTables = %v, want nil (reported once per version)", err)
	}

	for _, sql := range []string{"SELECT * FROM deep", "SELECT count(*) FROM DEEP", `SELECT 1 FROM people JOIN "Deep" ON true`} {
		start := time.Now()
		_, err := e.Query(ctx, sql, nil, 0)
		if !errors.Is(err, ErrUnqueryable) {
			t.Fatalf("%s: err %v, want ErrUnqueryable", sql, err)
		}
		if took := time.Since(start); took > time.Second {
			t.Errorf("%s: refused after %v, want at once", sql, took)
		}
		for _, want := range []string{`table "Deep"`, "deep.parquet", "nested 30 levels deep; at most 16"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %q does not say %q", sql, err, want)
			}
		}
		if _, err := e.Describe(ctx, sql); !errors.Is(err, ErrUnqueryable) {
			t.Errorf("Describe(%s) = %v, want ErrUnqueryable", sql, err)
		}
	}
	// A table that does not exist is still just that.
	if _, err := e.Query(ctx, "SELECT * FROM nosuch", nil, 0); !errors.Is(err, ErrInvalidSQL) || errors.Is(err, ErrUnqueryable) {
		t.Fatalf("unknown table: %v, want ErrInvalidSQL only", err)
	}
	if n := count(t, e, "people"); n != 5 {
		t.Fatalf("people: %d rows", n)
	}
	if n := count(t, e, "nested"); n != 1 {
		t.Fatalf("nested (at the limit): %d rows", n)
	}

	// Replaced by a shallow file: a view again.
	shallow := Table{Name: "Deep", Files: []string{writeDeep(t, root, "deep-2.parquet", 2)}, Version: "2"}
	syncOrFail(t, e, people, atLimit, shallow)
	if n := count(t, e, "deep"); n != 1 {
		t.Fatalf("deep after replace: %d rows", n)
	}
	// And a view replaced by a deep version is dropped.
	syncOrFail(t, e, people, atLimit, shallow)
	if err := e.SyncTables(ctx, []Table{people, atLimit, {Name: "Deep", Files: deep.Files, Version: "3"}}); !errors.Is(err, ErrUnqueryable) {
		t.Fatalf("SyncTables back to deep = %v, want ErrUnqueryable", err)
	}
	if _, err := e.Query(ctx, "SELECT * FROM deep", nil, 0); !errors.Is(err, ErrUnqueryable) {
		t.Fatalf("query after the view went deep: %v, want ErrUnqueryable", err)
	}
}

// TestDeepFileReadByPathIsRefused: a principal without dataset patterns may read
// files under the root by path, but a file nested too deeply is refused before
// DuckDB opens it, however it is named (read_parquet, a glob, FROM 'file'), instead
// of pinning a core past the query timeout and past shutdown.
func TestDeepFileReadByPathIsRefused(t *testing.T) {
	e, root := testEngine(t, Config{QueryTimeout: 2 * time.Second})
	ctx := context.Background()
	deep := writeDeep(t, root, "deep.parquet", 30)
	shallow := writeDeep(t, root, "shallow.parquet", 3)
	for _, sql := range []string{
		"SELECT * FROM read_parquet('" + deep + "')",
		"SELECT count(*) FROM parquet_scan(['" + shallow + "', '" + deep + "'])",
		"SELECT * FROM read_parquet('" + filepath.Join(root, "*.parquet") + "')",
		"FROM '" + deep + "'",
	} {
		start := time.Now()
		_, err := e.Query(ctx, sql, nil, 0)
		if !errors.Is(err, ErrUnqueryable) || !errors.Is(err, catalog.ErrTooDeep) {
			t.Fatalf("%s: err %v, want ErrUnqueryable", sql, err)
		}
		if took := time.Since(start); took > time.Second {
			t.Errorf("%s: refused after %v, want at once", sql, took)
		}
		if msg := err.Error(); !strings.Contains(msg, `file "deep.parquet"`) || strings.Contains(msg, root+"/deep") && !strings.Contains(msg, sql) {
			t.Errorf("%s: error %q should name the file by its base name", sql, msg)
		}
	}
	// A shallow file read by path still works, every time (the verdict is cached).
	for range 2 {
		rows, err := e.Query(ctx, "SELECT * FROM read_parquet('"+shallow+"')", nil, 0)
		if err != nil {
			t.Fatalf("shallow file by path: %v", err)
		}
		for rows.Next() {
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Release()
	}
}
