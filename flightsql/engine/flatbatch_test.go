//go:build duckdb_arrow

package engine

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/quiverdata/quiver/catalog"
)

// flatQueries are results whose every column fetchFlat copies (flat true) or not:
// every flat type with nulls at irregular places, short (inlined) and long strings,
// empty strings, constant columns, and filters that make DuckDB's chunks of uneven
// sizes, so that the batches' validity bitmaps are stitched at bit offsets that are
// not multiples of 8 or 64.
var flatQueries = []struct {
	name string
	sql  string
	flat bool
}{
	{"integers", `SELECT (i % 100)::TINYINT AS a, i::SMALLINT AS b, i::INTEGER AS c, i AS d,
		(i % 200)::UTINYINT AS e, (i % 60000)::USMALLINT AS f, i::UINTEGER AS g, i::UBIGINT AS h
		FROM range(20000) t(i)`, true},
	{"nulls", `SELECT CASE WHEN i % 7 = 0 THEN NULL ELSE i END AS a,
		CASE WHEN i % 3 = 1 THEN NULL ELSE i / 2 END AS b,
		CASE WHEN i % 5 = 2 THEN NULL ELSE 'name-' || i END AS c,
		CASE WHEN i % 11 = 0 THEN NULL ELSE repeat('x', (i % 40)::INTEGER) END AS d
		FROM range(30000) t(i)`, true},
	{"uneven chunks", `SELECT i, CASE WHEN i % 13 = 0 THEN NULL ELSE 'a longer string ' || i END AS s,
		CASE WHEN i % 2 = 0 THEN NULL ELSE i::DOUBLE END AS x
		FROM range(100000) t(i) WHERE i % 3 <> 0 AND (i // 1000) % 4 <> 1`, true},
	{"all null", `SELECT NULL::BIGINT AS a, NULL::VARCHAR AS b FROM range(5000)`, true},
	{"constants", `SELECT 42 AS a, 'constant but longer than twelve' AS b, 'short' AS c, i FROM range(9000) t(i)`, true},
	{"times", `SELECT DATE '2020-01-01' + (i % 3000)::INTEGER AS d,
		TIMESTAMP '2020-01-01' + to_microseconds(i * 1001) AS ts,
		(TIMESTAMP '2020-01-01' + to_microseconds(i))::TIMESTAMPTZ AS tz,
		(TIMESTAMP '2020-01-01' + to_seconds(i))::TIMESTAMP_S AS ts_s,
		(TIMESTAMP '2020-01-01' + to_milliseconds(i))::TIMESTAMP_MS AS ts_ms,
		(TIMESTAMP '2020-01-01' + to_microseconds(i))::TIMESTAMP_NS AS ts_ns,
		TIME '00:00:00' + to_microseconds(i * 7) AS tm,
		CASE WHEN i = 5 THEN 'infinity'::TIMESTAMP ELSE NULL END AS inf
		FROM range(7000) t(i)`, true},
	{"floats and blobs", `SELECT i::FLOAT / 3 AS f, CASE WHEN i % 4 = 0 THEN NULL ELSE ('\xAA\x00' || i)::BLOB END AS b,
		'' AS empty, CASE WHEN i % 9 = 0 THEN 'NaN'::DOUBLE ELSE -i::DOUBLE END AS x
		FROM range(6000) t(i)`, true},
	{"unicode", `SELECT 'ÿ€𝄞 ' || i || repeat('é', (i % 9)::INTEGER) AS s FROM range(4000) t(i)`, true},
	{"empty result", `SELECT i, 'x' || i AS s FROM range(10) t(i) WHERE i > 100`, true},
	{"booleans", `SELECT i, i % 2 = 0 AS even, CASE WHEN i % 3 = 0 THEN NULL ELSE i % 5 = 1 END AS b, true AS t,
		's' || i AS s FROM range(10000) t(i) WHERE i % 7 <> 3`, true},
	{"nested falls back", `SELECT i, [i, NULL] AS l, {'a': i} AS st FROM range(5000) t(i)`, false},
	{"uuid falls back", `SELECT i, ('00000000-0000-0000-0000-' || lpad(i::VARCHAR, 12, '0'))::UUID AS u FROM range(100) t(i)`, false},
	{"decimal falls back", `SELECT i, (i / 7)::DECIMAL(10, 3) AS d FROM range(5000) t(i)`, false},
}

// TestFlatBatchesEqualConversion runs each query through fetchFlat and through
// DuckDB's own Arrow conversion (engines alike but for noFlat) and checks that the
// results are equal row for row, that the batches keep to the row and byte targets,
// that every buffer goes back to the allocator, and that the flat path is taken
// exactly where the result's types allow it.
func TestFlatBatchesEqualConversion(t *testing.T) {
	configs := []struct {
		name string
		cfg  Config
	}{
		{"defaults", Config{}},
		{"1000-row batches", Config{BatchRows: 1000}},
		{"7-row batches", Config{BatchRows: 7}},
		{"byte-bound batches", Config{BatchBytes: 3000}},
	}
	for _, c := range configs {
		t.Run(c.name, func(t *testing.T) {
			cfgFlat, cfgConv := c.cfg, c.cfg
			cfgFlat.Allocator = memory.NewCheckedAllocator(memory.NewGoAllocator())
			cfgConv.Allocator = memory.NewCheckedAllocator(memory.NewGoAllocator())
			flat, _ := testEngine(t, cfgFlat)
			conv, _ := testEngine(t, cfgConv)
			conv.noFlat = true
			for _, q := range flatQueries {
				t.Run(q.name, func(t *testing.T) {
					got, usedFlat := readAll(t, flat, q.sql)
					want, _ := readAll(t, conv, q.sql)
					defer releaseAll(got)
					defer releaseAll(want)
					if usedFlat != q.flat {
						t.Fatalf("flat path taken: %v, want %v", usedFlat, q.flat)
					}
					for _, rec := range got {
						if rows := rec.NumRows(); rows > int64(flat.batchRows) {
							t.Errorf("batch of %d rows, over the %d-row target", rows, flat.batchRows)
						}
						if size := catalog.BatchBytes(rec); size > flat.batchBytes && rec.NumRows() > 1 {
							t.Errorf("batch of %d rows and %d bytes, over the %d-byte target", rec.NumRows(), size, flat.batchBytes)
						}
					}
					assertSameRows(t, got, want)
				})
			}
		})
	}
}

// readAll runs sql on e and returns its batches (retained) and whether Rows copied
// them straight from DuckDB's chunks.
func readAll(t *testing.T, e *Engine, sql string) ([]arrow.RecordBatch, bool) {
	t.Helper()
	rows, err := e.Query(context.Background(), sql, nil, 0)
	if err != nil {
		t.Fatalf("query: %v", err)
	}
	defer rows.Release()
	var recs []arrow.RecordBatch
	for rows.Next() {
		rec := rows.RecordBatch()
		rec.Retain()
		recs = append(recs, rec)
	}
	if err := rows.Err(); err != nil {
		releaseAll(recs)
		t.Fatalf("rows: %v", err)
	}
	return recs, rows.flat != nil
}

func releaseAll(recs []arrow.RecordBatch) {
	for _, r := range recs {
		r.Release()
	}
}

// assertSameRows checks that got and want hold the same schema and the same rows in
// the same order, however they are cut into batches.
func assertSameRows(t *testing.T, got, want []arrow.RecordBatch) {
	t.Helper()
	if len(got) == 0 || len(want) == 0 {
		if total(got) != total(want) {
			t.Fatalf("%d rows, want %d", total(got), total(want))
		}
		return
	}
	if !got[0].Schema().Equal(want[0].Schema()) {
		t.Fatalf("schema %v, want %v", got[0].Schema(), want[0].Schema())
	}
	if total(got) != total(want) {
		t.Fatalf("%d rows, want %d", total(got), total(want))
	}
	for c := range int(got[0].NumCols()) {
		g, w := column(t, got, c), column(t, want, c)
		// Exact, but for NaN equal to NaN.
		if !array.ApproxEqual(g, w, array.WithNaNsEqual(true), array.WithAbsTolerance(0)) {
			t.Errorf("column %q differs", got[0].ColumnName(c))
			for i := 0; i < g.Len(); i++ {
				if !array.SliceEqual(g, int64(i), int64(i+1), w, int64(i), int64(i+1)) {
					t.Errorf("first difference at row %d: %v, want %v", i, g.ValueStr(i), w.ValueStr(i))
					break
				}
			}
		}
		if g.NullN() != w.NullN() {
			t.Errorf("column %q: %d nulls, want %d", got[0].ColumnName(c), g.NullN(), w.NullN())
		}
		g.Release()
		w.Release()
	}
}

func total(recs []arrow.RecordBatch) int64 {
	var n int64
	for _, r := range recs {
		n += r.NumRows()
	}
	return n
}

// column is column c of recs as one array.
func column(t *testing.T, recs []arrow.RecordBatch, c int) arrow.Array {
	t.Helper()
	arrs := make([]arrow.Array, len(recs))
	for i, r := range recs {
		arrs[i] = r.Column(c)
	}
	out, err := array.Concatenate(arrs, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestFlatBatchesFromTheMemoryTier compares the two paths on a dataset read from the
// memory tier's in-memory copy, whose string values DuckDB may point into its own
// table storage rather than copy, with long strings and nulls, and across a new
// version swapped in while a flat stream is half read.
func TestFlatBatchesFromTheMemoryTier(t *testing.T) {
	e, root, _ := hotEngine(t, 256<<20)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "x", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	const n = 200_000
	for i := int64(0); i < n; i++ {
		b.Field(0).(*array.Int64Builder).Append(i)
		switch {
		case i%17 == 0:
			b.Field(1).AppendNull()
		case i%2 == 0:
			b.Field(1).(*array.StringBuilder).Append("a string longer than twelve bytes " + itoa(i))
		default:
			b.Field(1).(*array.StringBuilder).Append(itoa(i))
		}
		if i%5 == 0 {
			b.Field(2).AppendNull()
		} else {
			b.Field(2).(*array.Float64Builder).Append(float64(i) / 4)
		}
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	path := filepath.Join(root, "wide-1.parquet")
	writeParquet(t, path, rec)
	syncOrFail(t, e, Table{Name: "wide", Files: []string{path}, Version: "1"})
	queryAll(t, e, "SELECT count(*) FROM wide", nil)
	waitFor(t, "wide to be in memory", func() bool { return hot(e, "wide") })

	for _, q := range []string{"SELECT * FROM wide", "SELECT s, id FROM wide WHERE x > 100 OR x IS NULL"} {
		e.noFlat = false
		got, flat := readAll(t, e, q)
		e.noFlat = true
		want, _ := readAll(t, e, q)
		e.noFlat = false
		if !flat {
			t.Errorf("%s: not read through the flat path", q)
		}
		assertSameRows(t, got, want)
		releaseAll(got)
		releaseAll(want)
	}

	// A new version while a flat stream is half read: the stream reads the copy it
	// started on to the end, every row intact.
	rows, err := e.Query(context.Background(), "SELECT id, s FROM wide", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Release()
	if !rows.Next() {
		t.Fatalf("no first batch: %v", rows.Err())
	}
	syncOrFail(t, e, Table{Name: "wide", Files: []string{writePeople(t, root, "wide-2.parquet", 0, 10)}, Version: "2"})
	next := int64(0)
	for ok := true; ok; ok = rows.Next() {
		rec := rows.RecordBatch()
		ids, strs := rec.Column(0).(*array.Int64), rec.Column(1).(*array.String)
		for i := range ids.Len() {
			want := itoa(next)
			if next%2 == 0 {
				want = "a string longer than twelve bytes " + want
			}
			if ids.Value(i) != next || strs.IsNull(i) != (next%17 == 0) || (!strs.IsNull(i) && strs.Value(i) != want) {
				t.Fatalf("row %d: id %d, string %q", next, ids.Value(i), strs.Value(i))
			}
			next++
		}
	}
	if err := rows.Err(); err != nil || next != n {
		t.Fatalf("read %d rows, want %d: %v", next, n, err)
	}
}

// TestFlatFetcherHoldsAboutOneBatchAhead: while the reader holds a batch, the fetcher
// takes DuckDB's chunks ahead of it, but no more than about Config.BatchBytes; a
// Release mid-stream stops it and every buffer goes back (testEngine checks the
// allocator).
func TestFlatFetcherHoldsAboutOneBatchAhead(t *testing.T) {
	const target = 256 << 10
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	e, _ := testEngine(t, Config{Allocator: alloc, BatchBytes: target})
	rows, err := e.Query(context.Background(), "SELECT i, 'row number ' || i AS s FROM range(3000000) t(i)", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if rows.queue == nil {
		t.Fatal("not a flat result")
	}
	if !rows.Next() {
		t.Fatalf("no first batch: %v", rows.Err())
	}
	q := rows.queue
	var held int64
	var chunks int
	waitFor(t, "the fetcher to fill its room", func() bool {
		q.mu.Lock()
		defer q.mu.Unlock()
		held, chunks = q.bytes, len(q.chunks)
		return held >= target
	})
	time.Sleep(100 * time.Millisecond) // would it take more?
	q.mu.Lock()
	held, chunks = q.bytes, len(q.chunks)
	q.mu.Unlock()
	// A chunk of these rows is 2048 x (8+1 + 4+1 + ~17) bytes, about 64 KB.
	if held > target+100<<10 {
		t.Errorf("fetcher holds %d bytes in %d chunks ahead, want about %d", held, chunks, target)
	}
	rows.Release()
	if chunks := len(q.chunks); chunks != 0 || !q.stop {
		t.Errorf("after Release: %d chunks left, stopped %v", chunks, q.stop)
	}
}
