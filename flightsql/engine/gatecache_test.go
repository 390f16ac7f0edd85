//go:build duckdb_arrow

package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestGateRemembersVerdicts: a statement text seen before on the same views is
// prepared without going through the whole gate again; a change to the views makes
// it go through again.
func TestGateRemembersVerdicts(t *testing.T) {
	e, root := testEngine(t, Config{})
	people := Table{Name: "people", Files: []string{writePeople(t, root, "people.parquet", 0, 10)}, Version: "1"}
	syncOrFail(t, e, people)
	ctx := context.Background()
	const sql = "SELECT count(*) FROM people WHERE id < 5"

	runs := e.gateRuns.Load()
	for i := range 3 {
		if got := queryAll(t, e, sql, nil); !reflect.DeepEqual(got, [][]any{{int64(5)}}) {
			t.Fatalf("query %d: %v", i, got)
		}
		if _, err := e.Describe(ctx, sql); err != nil {
			t.Fatalf("describe %d: %v", i, err)
		}
	}
	if n := e.gateRuns.Load() - runs; n != 1 {
		t.Fatalf("3 queries and 3 describes of one text went %d times through the whole gate, want 1", n)
	}

	// Syncing the same tables changes nothing: the verdict stands.
	syncOrFail(t, e, people)
	queryAll(t, e, sql, nil)
	if n := e.gateRuns.Load() - runs; n != 1 {
		t.Fatalf("after a sync that changed nothing: %d whole-gate runs, want 1", n)
	}

	// A new version of the view: the gate runs again, and the query sees it.
	people2 := Table{Name: "people", Files: []string{writePeople(t, root, "people-2.parquet", 0, 3)}, Version: "2"}
	syncOrFail(t, e, people2)
	if got := queryAll(t, e, sql, nil); !reflect.DeepEqual(got, [][]any{{int64(3)}}) {
		t.Fatalf("after replace: %v", got)
	}
	if n := e.gateRuns.Load() - runs; n != 2 {
		t.Fatalf("after a replace: %d whole-gate runs, want 2", n)
	}
	if e.viewsGen.Load()%2 != 0 {
		t.Fatalf("viewsGen %d is odd after SyncTables returned", e.viewsGen.Load())
	}
}

// TestGateVerdictDoesNotOutliveTheView: a dataset may bear the name of a DuckDB
// system view. While it exists the name reads the dataset; once it is dropped the
// same text would read the system view, which the gate refuses. A verdict
// remembered for the dataset must not let it through.
func TestGateVerdictDoesNotOutliveTheView(t *testing.T) {
	e, root := testEngine(t, Config{})
	shadow := Table{Name: "pg_settings", Files: []string{writePeople(t, root, "s.parquet", 0, 4)}, Version: "1"}
	syncOrFail(t, e, shadow)
	ctx := context.Background()
	const sql = "SELECT * FROM pg_settings"
	for range 2 {
		if got := queryAll(t, e, sql, nil); len(got) != 4 {
			t.Fatalf("the dataset pg_settings: %d rows, want 4", len(got))
		}
	}
	syncOrFail(t, e) // dropped
	for _, run := range []func() error{
		func() error { _, err := e.Query(ctx, sql, nil, 0); return err },
		func() error { _, err := e.Describe(ctx, sql); return err },
	} {
		err := run()
		if !errors.Is(err, ErrForbidden) || !strings.Contains(err.Error(), "duckdb_settings.value") {
			t.Fatalf("after the drop: %v, want ErrForbidden naming duckdb_settings.value", err)
		}
	}
}

// TestGateDoesNotRememberPathReads: what a path names can change on disk without any
// view changing, so a statement that reads files by path goes through the whole
// gate every time, and a file replaced by one nested too deeply is refused.
func TestGateDoesNotRememberPathReads(t *testing.T) {
	e, root := testEngine(t, Config{})
	ctx := context.Background()
	path := writePeople(t, root, "loose.parquet", 0, 2)
	sql := "SELECT count(*) FROM read_parquet('" + path + "')"
	runs := e.gateRuns.Load()
	for range 2 {
		if got := queryAll(t, e, sql, nil); !reflect.DeepEqual(got, [][]any{{int64(2)}}) {
			t.Fatalf("path read: %v", got)
		}
	}
	if n := e.gateRuns.Load() - runs; n != 2 {
		t.Fatalf("two path reads: %d whole-gate runs, want 2", n)
	}
	deep := writeDeep(t, root, "deep.parquet", 30)
	if err := os.Rename(deep, path); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Query(ctx, sql, nil, 0); !errors.Is(err, ErrUnqueryable) {
		t.Fatalf("path read of a file replaced by a deep one: %v, want ErrUnqueryable", err)
	}
	if _, err := os.Stat(filepath.Join(root, "deep.parquet")); !os.IsNotExist(err) {
		t.Fatalf("rename left the deep file: %v", err)
	}
}

// TestReadTablesRemembersOnlyWhatIsGrantFree: ReadTables' analysis of a text is
// remembered, but the grant is asked every time.
func TestReadTablesRemembersOnlyWhatIsGrantFree(t *testing.T) {
	e, root := testEngine(t, Config{})
	syncOrFail(t, e,
		Table{Name: "sales", Dataset: "sales.parquet", Files: []string{writePeople(t, root, "sales.parquet", 0, 10)}, Version: "1"},
		Table{Name: "other", Dataset: "other.parquet", Files: []string{writePeople(t, root, "other.parquet", 0, 10)}, Version: "1"},
	)
	ctx := context.Background()
	all := func(string) bool { return true }
	salesOnly := func(d string) bool { return d == "sales.parquet" }
	const join = "SELECT * FROM sales JOIN other USING (id)"
	for i := range 2 {
		got, err := e.ReadTables(ctx, join, all)
		if err != nil || !reflect.DeepEqual(got, []string{"other.parquet", "sales.parquet"}) {
			t.Fatalf("run %d, grant covers all: %v, %v", i, got, err)
		}
		_, err = e.ReadTables(ctx, join, salesOnly)
		var nc *NotCoveredError
		if !errors.As(err, &nc) || nc.Table != "other" {
			t.Fatalf("run %d, grant covers sales only: %v, want NotCovered naming other", i, err)
		}
	}
	// A remembered refusal of the plan stays a refusal.
	const generator = "SELECT * FROM sales, range(3)"
	for i := range 2 {
		if got, err := e.ReadTables(ctx, generator, all); err != nil || !reflect.DeepEqual(got, []string{"sales.parquet"}) {
			t.Fatalf("run %d, harmless generator: %v, %v", i, got, err)
		}
	}
	const system = "SELECT * FROM sales WHERE id IN (SELECT 1 FROM duckdb_tables())"
	for i := range 2 {
		if _, err := e.ReadTables(ctx, system, all); !errors.Is(err, ErrUnattributable) {
			t.Fatalf("run %d, a system table function: %v, want ErrUnattributable", i, err)
		}
	}
	// After the drop of other, the remembered analysis is not used.
	syncOrFail(t, e, Table{Name: "sales", Dataset: "sales.parquet", Files: []string{filepath.Join(root, "sales.parquet")}, Version: "1"})
	var nc *NotCoveredError
	if _, err := e.ReadTables(ctx, join, all); !errors.As(err, &nc) || nc.Table != "other" {
		t.Fatalf("after other was dropped: %v, want NotCovered naming other", err)
	}
}

// TestGateCacheIsBounded: the cache holds at most gateCacheBytes of statement text
// and skips texts longer than gateCacheMaxSQL.
func TestGateCacheIsBounded(t *testing.T) {
	c := newGateCache()
	long := strings.Repeat("x", gateCacheMaxSQL+1)
	c.admit(gateKey{sql: long}, nil, nil)
	if _, _, ok := c.admitted(gateKey{sql: long}); c.len() != 0 || ok {
		t.Fatalf("a %d-byte text was remembered", len(long))
	}
	text := strings.Repeat("y", 1000)
	n := 0
	for i := 0; c.bytes <= gateCacheBytes && i < 2*gateCacheBytes/1000; i++ {
		c.admit(gateKey{sql: text, views: uint64(i)}, nil, nil)
		n++
	}
	if c.bytes > gateCacheBytes || c.len() > gateCacheBytes/1000 {
		t.Fatalf("cache holds %d bytes in %d entries, bound %d bytes", c.bytes, c.len(), gateCacheBytes)
	}
	_, _, newest := c.admitted(gateKey{sql: text, views: uint64(n - 1)})
	_, _, oldest := c.admitted(gateKey{sql: text, views: 0})
	if !newest || oldest {
		t.Fatal("the newest entry must be kept and the oldest evicted")
	}
}

// TestGateVerdictChecksNestingAgain: a view's file overwritten by hand between a sync
// and a query, with one nested too deeply, is refused even when the statement's
// verdict is remembered: the files of a remembered plan are checked each time.
func TestGateVerdictChecksNestingAgain(t *testing.T) {
	e, root := testEngine(t, Config{})
	path := writePeople(t, root, "people.parquet", 0, 10)
	syncOrFail(t, e, Table{Name: "people", Files: []string{path}, Version: "1"})
	const sql = "SELECT count(*) FROM people"
	for range 2 {
		queryAll(t, e, sql, nil)
	}
	if err := os.Rename(writeDeep(t, root, "deep.parquet", 20), path); err != nil {
		t.Fatal(err)
	}
	runs := e.gateRuns.Load()
	_, err := e.Query(context.Background(), sql, nil, 0)
	if !errors.Is(err, ErrUnqueryable) || !strings.Contains(err.Error(), "people.parquet") {
		t.Fatalf("query over a view whose file went deep: %v, want ErrUnqueryable naming people.parquet", err)
	}
	if n := e.gateRuns.Load() - runs; n != 0 {
		t.Fatalf("the refusal took %d whole-gate runs; want it from the remembered verdict's check", n)
	}
}
