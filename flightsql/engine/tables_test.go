//go:build duckdb_arrow

package engine

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

func count(t testing.TB, e *Engine, table string) int64 {
	t.Helper()
	return queryAll(t, e, "SELECT count(*) FROM "+quoteIdent(table), nil)[0][0].(int64)
}

func TestSyncTablesAddReplaceDrop(t *testing.T) {
	e, root := testEngine(t, Config{})
	ctx := context.Background()
	a1 := writePeople(t, root, "a-1.parquet", 0, 10)
	a2 := writePeople(t, root, "a-2.parquet", 10, 15)
	b1 := writePeople(t, root, "b.parquet", 0, 3)

	syncOrFail(t, e, Table{Name: "a", Files: []string{a1}, Version: "1"}, Table{Name: "my-data.v2", Files: []string{b1}, Version: "1"})
	if n := count(t, e, "a"); n != 10 {
		t.Fatalf("a has %d rows", n)
	}
	if n := count(t, e, "my-data.v2"); n != 3 {
		t.Fatalf("my-data.v2 has %d rows", n)
	}

	// Same version, more files: replaced (Files differ).
	syncOrFail(t, e, Table{Name: "a", Files: []string{a1, a2}, Version: "1"}, Table{Name: "my-data.v2", Files: []string{b1}, Version: "1"})
	if n := count(t, e, "a"); n != 15 {
		t.Fatalf("a has %d rows after append", n)
	}
	// Same files, new version: replaced too (the contents changed in place).
	a1Again := writePeople(t, root, "a-1.parquet", 100, 101)
	syncOrFail(t, e, Table{Name: "a", Files: []string{a1Again}, Version: "2"})
	if got := queryAll(t, e, "SELECT id FROM a", nil); len(got) != 1 || got[0][0] != int64(100) {
		t.Fatalf("a after replace: %v", got)
	}
	// my-data.v2 was not listed: dropped.
	if _, err := e.Query(ctx, `SELECT * FROM "my-data.v2"`, nil, 0); !errors.Is(err, ErrInvalidSQL) {
		t.Fatalf("dropped table still queryable: %v", err)
	}
	// Unchanged: nothing to do (and the view still works).
	syncOrFail(t, e, Table{Name: "a", Files: []string{a1Again}, Version: "2"})
	if n := count(t, e, "a"); n != 1 {
		t.Fatalf("a has %d rows", n)
	}
	// A rename that only changes case drops and recreates.
	syncOrFail(t, e, Table{Name: "A", Files: []string{a1Again}, Version: "2"})
	if n := count(t, e, "A"); n != 1 {
		t.Fatalf("A has %d rows", n)
	}
	syncOrFail(t, e)
	if _, err := e.Query(ctx, "SELECT * FROM a", nil, 0); !errors.Is(err, ErrInvalidSQL) {
		t.Fatalf("all dropped, yet: %v", err)
	}
}

func TestSyncTablesRefusesBadTables(t *testing.T) {
	e, root := testEngine(t, Config{})
	good := writePeople(t, root, "good.parquet", 0, 2)
	outside := filepath.Join(filepath.Dir(root), "x.parquet")
	bad := []Table{
		{Name: "../x", Files: []string{good}},
		{Name: "a b", Files: []string{good}},
		{Name: ".hidden", Files: []string{good}},
		{Name: `q"uote`, Files: []string{good}},
		{Name: "", Files: []string{good}},
		{Name: strings.Repeat("n", 256), Files: []string{good}},
		{Name: "nofiles"},
		{Name: "outside", Files: []string{outside}},
		{Name: "dotdot", Files: []string{root + "/../x.parquet"}},
		{Name: "relative", Files: []string{"good.parquet"}},
		{Name: "glob", Files: []string{root + "/*.parquet"}},
		{Name: "missing", Files: []string{root + "/missing.parquet"}},
		{Name: "GOOD", Files: []string{good}}, // same SQL name as "good", listed first below
	}
	tables := append([]Table{{Name: "good", Files: []string{good}, Version: "1"}}, bad...)
	err := e.SyncTables(context.Background(), tables)
	if err == nil {
		t.Fatal("no error")
	}
	for _, b := range bad {
		if !strings.Contains(err.Error(), fmt.Sprintf("table %q", b.Name)) {
			t.Errorf("error does not name %q:\n%v", b.Name, err)
		}
	}
	// The good table was applied regardless.
	if n := count(t, e, "good"); n != 2 {
		t.Fatalf("good has %d rows", n)
	}
}

// TestReplaceDuringQuery: a query that started before its view was replaced finishes
// on the files it started with.
func TestReplaceDuringQuery(t *testing.T) {
	e, root := testEngine(t, Config{BatchRows: 2048})
	old := writePeople(t, root, "old.parquet", 0, 50000)
	syncOrFail(t, e, Table{Name: "t", Files: []string{old}, Version: "1"})
	rows, err := e.Query(context.Background(), "SELECT id FROM t", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !rows.Next() {
		t.Fatal(rows.Err())
	}
	read := rows.RecordBatch().NumRows()
	syncOrFail(t, e, Table{Name: "t", Files: []string{writePeople(t, root, "new.parquet", 0, 5)}, Version: "2"})
	n, _, err := drain(t, rows)
	if err != nil || read+n != 50000 {
		t.Fatalf("old query read %d rows, err %v; want 50000", read+n, err)
	}
	if n := count(t, e, "t"); n != 5 {
		t.Fatalf("new queries see %d rows, want 5", n)
	}
}

// TestConcurrentQueries runs 16 queries at once while the tables change underneath.
func TestConcurrentQueries(t *testing.T) {
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	e, root := testEngine(t, Config{Allocator: alloc, BatchRows: 4096})
	f := writePeople(t, root, "people.parquet", 0, 20000)
	other := writePeople(t, root, "other.parquet", 0, 10)
	syncOrFail(t, e, Table{Name: "people", Files: []string{f}, Version: "1"})

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // flip a second table in and out while the queries run
		defer wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			tables := []Table{{Name: "people", Files: []string{f}, Version: "1"}}
			if i%2 == 0 {
				tables = append(tables, Table{Name: "other", Files: []string{other}, Version: "1"})
			}
			if err := e.SyncTables(ctx, tables); err != nil && ctx.Err() == nil {
				t.Errorf("SyncTables: %v", err)
			}
		}
	}()
	var qwg sync.WaitGroup
	for g := 0; g < 16; g++ {
		qwg.Add(1)
		go func() {
			defer qwg.Done()
			for i := 0; i < 5; i++ {
				if _, err := e.Describe(ctx, "SELECT id FROM people WHERE id < ?"); err != nil {
					t.Errorf("Describe: %v", err)
					return
				}
				rows, err := e.Query(ctx, "SELECT id, name FROM people WHERE id % 16 = "+itoa(int64(g))+" ORDER BY id", nil, 0)
				if err != nil {
					t.Errorf("Query: %v", err)
					return
				}
				var n, sum int64
				for rows.Next() {
					ids := rows.RecordBatch().Column(0).(*array.Int64)
					for j := 0; j < ids.Len(); j++ {
						sum += ids.Value(j)
					}
					n += int64(ids.Len())
				}
				if err := rows.Err(); err != nil {
					t.Errorf("stream: %v", err)
				}
				rows.Release()
				// ids g, g+16, ... below 20000
				var wantN, wantSum int64
				for id := int64(g); id < 20000; id += 16 {
					wantN++
					wantSum += id
				}
				if n != wantN || sum != wantSum {
					t.Errorf("goroutine %d: %d rows sum %d, want %d sum %d", g, n, sum, wantN, wantSum)
				}
			}
		}()
	}
	qwg.Wait()
	cancel()
	wg.Wait()
}
