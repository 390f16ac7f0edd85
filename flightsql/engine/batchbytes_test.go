//go:build duckdb_arrow

package engine

import (
	"context"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/quiverdata/quiver/catalog"
)

// TestRowsCutByBytes runs a query whose rows are about 4 KB wide with a 64 KiB byte
// target: DuckDB's 2048-row chunks (8 MB each) are cut, every batch stays under the
// target but for the one row larger than it, which comes alone, and every row
// arrives once, in order, intact.
func TestRowsCutByBytes(t *testing.T) {
	const target = 64 << 10
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	e, _ := testEngine(t, Config{Allocator: alloc, BatchBytes: target})
	const q = `SELECT i, CASE WHEN i = 777 THEN repeat('y', 200000) ELSE repeat(chr(65 + (i % 26)::INTEGER), 4000 + (i % 97)::INTEGER) END AS body
		FROM range(5000) t(i) ORDER BY i`
	rows, err := e.Query(context.Background(), q, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Release()
	var next int64
	batches := 0
	for rows.Next() {
		rec := rows.RecordBatch()
		batches++
		// What the engine holds converted beyond this batch is a batch's worth too,
		// not the rest of DuckDB's 8 MB chunk.
		if c := rows.carry; c != nil && c.NumRows() > 1 && catalog.BatchBytes(c) > target {
			t.Fatalf("after batch %d: %d converted rows of %d bytes held, over the target", batches, c.NumRows(), catalog.BatchBytes(c))
		}
		size := catalog.BatchBytes(rec)
		if size > target && rec.NumRows() != 1 {
			t.Fatalf("batch %d: %d rows, %d bytes, over the %d-byte target", batches, rec.NumRows(), size, target)
		}
		ids := rec.Column(0).(*array.Int64)
		bodies := rec.Column(1).(*array.String)
		for i := range ids.Len() {
			want := strings.Repeat(string(rune('A'+next%26)), 4000+int(next%97))
			if next == 777 {
				want = strings.Repeat("y", 200000)
				if rec.NumRows() != 1 {
					t.Errorf("the 200 KB row came in a batch of %d rows, want alone", rec.NumRows())
				}
			}
			if ids.Value(i) != next || bodies.Value(i) != want {
				t.Fatalf("row %d: id %d, body of %d bytes", next, ids.Value(i), len(bodies.Value(i)))
			}
			next++
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if next != 5000 {
		t.Fatalf("read %d rows, want 5000", next)
	}
	if min := 5000 * 4000 / target; batches < min {
		t.Errorf("%d batches, want at least %d", batches, min)
	}
}

// TestRowsCutByBytesNestedAndNulls cuts chunks whose wide columns hold nulls, sit in
// structs, or come with lists (which the chunk measure does not read), and checks
// every value.
func TestRowsCutByBytesNestedAndNulls(t *testing.T) {
	const target = 64 << 10
	e, _ := testEngine(t, Config{BatchBytes: target})
	const q = `SELECT i, CASE WHEN i % 5 = 0 THEN NULL ELSE repeat('a', 3000) END AS s,
		{'k': repeat('b', 1000 + (i % 7)::INTEGER), 'n': i} AS st, [repeat('c', 10), NULL] AS l
		FROM range(5000) t(i) ORDER BY i`
	rows, err := e.Query(context.Background(), q, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Release()
	var next int64
	for rows.Next() {
		rec := rows.RecordBatch()
		if size := catalog.BatchBytes(rec); size > target && rec.NumRows() > 1 {
			t.Fatalf("batch of %d rows, %d bytes, over the target", rec.NumRows(), size)
		}
		ids := rec.Column(0).(*array.Int64)
		ss := rec.Column(1).(*array.String)
		st := rec.Column(2).(*array.Struct)
		ls := rec.Column(3).(*array.List)
		for i := range ids.Len() {
			if ids.Value(i) != next {
				t.Fatalf("row %d: id %d", next, ids.Value(i))
			}
			if null := next%5 == 0; ss.IsNull(i) != null || (!null && ss.Value(i) != strings.Repeat("a", 3000)) {
				t.Fatalf("row %d: s null=%v, %d bytes", next, ss.IsNull(i), len(ss.Value(i)))
			}
			k := st.Field(0).(*array.String).Value(st.Offset() + i)
			n := st.Field(1).(*array.Int64).Value(st.Offset() + i)
			if k != strings.Repeat("b", 1000+int(next%7)) || n != next {
				t.Fatalf("row %d: struct k of %d bytes, n %d", next, len(k), n)
			}
			if got := ls.ValueStr(i); got != `["cccccccccc",null]` {
				t.Fatalf("row %d: list %s", next, got)
			}
			next++
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if next != 5000 {
		t.Fatalf("read %d rows, want 5000", next)
	}
}
