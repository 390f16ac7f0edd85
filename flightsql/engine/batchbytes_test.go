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
