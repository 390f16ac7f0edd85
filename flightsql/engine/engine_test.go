//go:build duckdb_arrow

package engine

import (
	"context"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

func syncOrFail(t testing.TB, e *Engine, tables ...Table) {
	t.Helper()
	if err := e.SyncTables(context.Background(), tables); err != nil {
		t.Fatalf("SyncTables: %v", err)
	}
}

func TestQueryValuesAcrossPartsAndBatches(t *testing.T) {
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	e, root := testEngine(t, Config{Allocator: alloc, BatchRows: 5000})
	f1 := writePeople(t, root, "people-1.parquet", 0, 6000)
	f2 := writePeople(t, root, "people-2.parquet", 6000, 10000)
	syncOrFail(t, e, Table{Name: "people", Files: []string{f1, f2}, Version: "v1"})

	got := queryAll(t, e, "SELECT id, name, score FROM people WHERE id IN (0, 5999, 6000, 9999) ORDER BY id", nil)
	want := [][]any{{int64(0), "p0", 0.0}, {int64(5999), "p5999", 2999.5}, {int64(6000), "p6000", 3000.0}, {int64(9999), "p9999", 4999.5}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}

	// Regrouped batches: every row once, in order, values intact across the seams.
	rows, err := e.Query(context.Background(), "SELECT id, name FROM people ORDER BY id", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Release()
	next, batches := int64(0), 0
	for rows.Next() {
		rec := rows.RecordBatch()
		if n := rec.NumRows(); batches == 0 && (n < 5000 || n >= 5000+2048) {
			t.Errorf("first batch has %d rows, want about 5000", n)
		}
		batches++
		ids := rec.Column(0).(*array.Int64)
		names := rec.Column(1).(*array.String)
		for i := 0; i < ids.Len(); i++ {
			if ids.Value(i) != next || names.Value(i) != "p"+itoa(next) {
				t.Fatalf("row %d: got (%d, %q)", next, ids.Value(i), names.Value(i))
			}
			next++
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if next != 10000 || batches != 2 {
		t.Fatalf("read %d rows in %d batches, want 10000 in 2", next, batches)
	}
}

func TestDescribeDoesNotExecute(t *testing.T) {
	e, root := testEngine(t, Config{})
	syncOrFail(t, e, Table{Name: "people", Files: []string{writePeople(t, root, "p.parquet", 0, 10)}, Version: "1"})
	ctx := context.Background()

	const q = "SELECT id, name, score * 2 AS s2 FROM people WHERE score > ? AND name <> $2"
	d, err := e.Describe(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	wantSchema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "s2", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	}, nil)
	if !d.Schema.Equal(wantSchema) {
		t.Errorf("schema %v, want %v", d.Schema, wantSchema)
	}
	wantParams := arrow.NewSchema([]arrow.Field{
		{Name: "$1", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "$2", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	if !d.Params.Equal(wantParams) {
		t.Errorf("params %v, want %v", d.Params, wantParams)
	}
	if d.StatementType != "SELECT" {
		t.Errorf("statement type %q", d.StatementType)
	}

	// The schema Describe promises is the one Query delivers.
	params := record(t, arrow.NewSchema([]arrow.Field{{Name: "a", Type: arrow.PrimitiveTypes.Float64}, {Name: "b", Type: arrow.BinaryTypes.String}}, nil),
		func(b *array.RecordBuilder) {
			b.Field(0).(*array.Float64Builder).Append(2)
			b.Field(1).(*array.StringBuilder).Append("p9")
		})
	rows, err := e.Query(ctx, q, params, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !rows.Schema().Equal(d.Schema) {
		t.Errorf("Query schema %v differs from Describe's %v", rows.Schema(), d.Schema)
	}
	n, _, err := drain(t, rows)
	if err != nil || n != 4 { // ids 5..8
		t.Errorf("got %d rows, err %v; want 4", n, err)
	}

	// A query that would never finish if it ran is described at once.
	done := make(chan error, 1)
	go func() {
		_, err := e.Describe(ctx, "SELECT count(*) FROM range(1000000000000) a, range(1000000) b")
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Describe of a huge query: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Describe executed the statement")
	}
}

// record builds a one-row... or n-row record with fill, released at cleanup.
func record(t testing.TB, schema *arrow.Schema, fill func(*array.RecordBuilder)) arrow.RecordBatch {
	t.Helper()
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	fill(b)
	rec := b.NewRecordBatch()
	t.Cleanup(rec.Release)
	return rec
}

func TestParamsBindEveryType(t *testing.T) {
	e, _ := testEngine(t, Config{})
	dec := &arrow.Decimal128Type{Precision: 10, Scale: 2}
	ts := &arrow.TimestampType{Unit: arrow.Microsecond}
	tsns := &arrow.TimestampType{Unit: arrow.Nanosecond}
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "i64", Type: arrow.PrimitiveTypes.Int64},
		{Name: "u64", Type: arrow.PrimitiveTypes.Uint64},
		{Name: "i8", Type: arrow.PrimitiveTypes.Int8},
		{Name: "f64", Type: arrow.PrimitiveTypes.Float64},
		{Name: "f32", Type: arrow.PrimitiveTypes.Float32},
		{Name: "b", Type: arrow.FixedWidthTypes.Boolean},
		{Name: "s", Type: arrow.BinaryTypes.String},
		{Name: "bin", Type: arrow.BinaryTypes.Binary},
		{Name: "d", Type: arrow.FixedWidthTypes.Date32},
		{Name: "ts", Type: ts},
		{Name: "tsns", Type: tsns},
		{Name: "dec", Type: dec},
		{Name: "null", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	}, nil)
	params := record(t, schema, func(b *array.RecordBuilder) {
		// Row 0 is a decoy: the test binds row 1.
		for row := 0; row < 2; row++ {
			k := int64(row)
			b.Field(0).(*array.Int64Builder).Append(-7 * k)
			b.Field(1).(*array.Uint64Builder).Append(18446744073709551615 * uint64(k))
			b.Field(2).(*array.Int8Builder).Append(int8(-3 * k))
			b.Field(3).(*array.Float64Builder).Append(2.5 * float64(k))
			b.Field(4).(*array.Float32Builder).Append(0.25 * float32(k))
			b.Field(5).(*array.BooleanBuilder).Append(k == 1)
			b.Field(6).(*array.StringBuilder).Append(strings.Repeat("héllo ", int(k)))
			b.Field(7).(*array.BinaryBuilder).Append([]byte{0, 1, byte(k)})
			b.Field(8).(*array.Date32Builder).Append(arrow.Date32(19000 * k)) // 2022-01-08
			b.Field(9).(*array.TimestampBuilder).Append(arrow.Timestamp(1700000000123456 * k))
			b.Field(10).(*array.TimestampBuilder).Append(arrow.Timestamp(1700000000123456789 * k))
			b.Field(11).(*array.Decimal128Builder).Append(decimal128.FromI64(12345 * k))
			if k == 1 {
				b.Field(12).AppendNull()
			} else {
				b.Field(12).(*array.Int32Builder).Append(1)
			}
		}
	})
	const q = `SELECT ?::BIGINT, ?::UBIGINT, ?::TINYINT, ?::DOUBLE, ?::FLOAT, ?::BOOLEAN, ?::VARCHAR,
		?::BLOB, ?::DATE, ?::TIMESTAMP, ?::TIMESTAMP_NS, ?::DECIMAL(10,2), ? IS NULL`
	rows, err := e.Query(context.Background(), q, params, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Release()
	if !rows.Next() {
		t.Fatalf("no row: %v", rows.Err())
	}
	rec := rows.RecordBatch()
	var got []string
	for c := 0; c < int(rec.NumCols()); c++ {
		got = append(got, rec.Column(c).ValueStr(0))
	}
	want := []string{"-7", "18446744073709551615", "-3", "2.5", "0.25", "true", "héllo ",
		"AAEB", "2022-01-08", "2023-11-14T22:13:20.123456", "2023-11-14T22:13:20.123456789", "123.45", "true"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("bound values\n got %q\nwant %q", got, want)
	}
}

// TestParamsBindNullType binds a column of Arrow's null type, as ADBC Python sends a
// lone None, as SQL NULL.
func TestParamsBindNullType(t *testing.T) {
	e, _ := testEngine(t, Config{})
	nulls := array.NewNull(2)
	defer nulls.Release()
	f := arrow.Field{Name: "p", Type: arrow.Null, Nullable: true}
	params := array.NewRecordBatch(arrow.NewSchema([]arrow.Field{f, f}, nil), []arrow.Array{nulls, nulls}, 2)
	defer params.Release()
	got := queryAll(t, e, "SELECT ? IS NULL, coalesce(?::INTEGER, 7)", params)
	if len(got) != 1 || got[0][0] != true || got[0][1] != int32(7) {
		t.Fatalf("got %v, want [[true 7]]", got)
	}
}

// TestParamsBindUnions binds union parameters, each row's value with its own type, as
// flightsql-dbapi (the SQLAlchemy dialect Superset uses) sends them.
func TestParamsBindUnions(t *testing.T) {
	e, _ := testEngine(t, Config{})
	mem := memory.DefaultAllocator
	build := func(fill func(*array.Int64Builder, *array.StringBuilder, *array.BooleanBuilder)) []arrow.Array {
		ib, sb, bb := array.NewInt64Builder(mem), array.NewStringBuilder(mem), array.NewBooleanBuilder(mem)
		defer ib.Release()
		defer sb.Release()
		defer bb.Release()
		fill(ib, sb, bb)
		return []arrow.Array{ib.NewArray(), sb.NewArray(), bb.NewArray()}
	}
	release := func(arrs []arrow.Array) {
		for _, a := range arrs {
			a.Release()
		}
	}
	types := []arrow.UnionTypeCode{0, 1, 2, 0}
	codes := array.NewInt8Builder(mem)
	defer codes.Release()
	for _, c := range types {
		codes.Append(int8(c))
	}
	typeIDs := codes.NewArray()
	defer typeIDs.Release()

	// Dense: each child holds only its own rows.
	dense := build(func(i *array.Int64Builder, s *array.StringBuilder, b *array.BooleanBuilder) {
		i.AppendValues([]int64{42, -1}, nil)
		s.Append("héllo")
		b.Append(true)
	})
	defer release(dense)
	offs := array.NewInt32Builder(mem)
	defer offs.Release()
	offs.AppendValues([]int32{0, 0, 0, 1}, nil)
	offsets := offs.NewArray()
	defer offsets.Release()
	du, err := array.NewDenseUnionFromArrays(typeIDs, offsets, dense)
	if err != nil {
		t.Fatal(err)
	}
	defer du.Release()

	// Sparse: every child is as long as the union.
	sparse := build(func(i *array.Int64Builder, s *array.StringBuilder, b *array.BooleanBuilder) {
		i.AppendValues([]int64{42, 0, 0, -1}, nil)
		s.AppendValues([]string{"", "héllo", "", ""}, nil)
		b.AppendValues([]bool{false, false, true, false}, nil)
	})
	defer release(sparse)
	su, err := array.NewSparseUnionFromArrays(typeIDs, sparse)
	if err != nil {
		t.Fatal(err)
	}
	defer su.Release()

	for _, col := range []arrow.Array{du, su} {
		t.Run(col.DataType().Name(), func(t *testing.T) {
			schema := arrow.NewSchema([]arrow.Field{{Name: "p", Type: col.DataType()}}, nil)
			params := array.NewRecordBatch(schema, []arrow.Array{col}, int64(col.Len()))
			defer params.Release()
			var got []string
			for row := range col.Len() {
				// typeof shows the type each value was bound with. (Not in one
				// statement with $1::VARCHAR: with a VARCHAR bound, DuckDB 1.5.6
				// fails that with an internal error that invalidates the database.)
				var vals []string
				for _, q := range []string{"SELECT typeof($1)", "SELECT $1::VARCHAR"} {
					rows, err := e.Query(context.Background(), q, params, row)
					if err != nil {
						t.Fatalf("%s, row %d: %v", q, row, err)
					}
					if !rows.Next() {
						t.Fatalf("%s, row %d: no result: %v", q, row, rows.Err())
					}
					vals = append(vals, strings.Clone(rows.RecordBatch().Column(0).ValueStr(0))) // aliases the batch
					rows.Release()
				}
				got = append(got, strings.Join(vals, " "))
			}
			want := []string{"BIGINT 42", "VARCHAR héllo", "BOOLEAN true", "BIGINT -1"}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("bound %q, want %q", got, want)
			}
		})
	}
}

func TestParamsErrors(t *testing.T) {
	// With a query timeout, the query runs under a context of its own; ending it
	// must not turn the error into a cancellation (as it once did).
	for _, cfg := range []Config{{}, {QueryTimeout: time.Minute}} {
		t.Run("timeout="+cfg.QueryTimeout.String(), func(t *testing.T) { testParamsErrors(t, cfg) })
	}
}

func testParamsErrors(t *testing.T, cfg Config) {
	e, _ := testEngine(t, cfg)
	ctx := context.Background()
	one := record(t, arrow.NewSchema([]arrow.Field{{Name: "a", Type: arrow.PrimitiveTypes.Int64}}, nil),
		func(b *array.RecordBuilder) { b.Field(0).(*array.Int64Builder).Append(1) })
	list := record(t, arrow.NewSchema([]arrow.Field{{Name: "a", Type: arrow.ListOf(arrow.PrimitiveTypes.Int64)}}, nil),
		func(b *array.RecordBuilder) {
			lb := b.Field(0).(*array.ListBuilder)
			lb.Append(true)
			lb.ValueBuilder().(*array.Int64Builder).Append(1)
		})
	cases := []struct {
		name   string
		sql    string
		params arrow.RecordBatch
		row    int
	}{
		{"placeholders without params", "SELECT ? + 1", nil, 0},
		{"too few params", "SELECT ? + ?", one, 0},
		{"too many params", "SELECT 1", one, 0},
		{"row out of range", "SELECT ?", one, 1},
		{"unsupported type", "SELECT ?", list, 0},
		{"value does not cast", "SELECT ?::INTEGER", record(t, arrow.NewSchema([]arrow.Field{{Name: "a", Type: arrow.BinaryTypes.String}}, nil),
			func(b *array.RecordBuilder) { b.Field(0).(*array.StringBuilder).Append("forty-two") }), 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rows, err := e.Query(ctx, c.sql, c.params, c.row)
			if err == nil {
				_, _, err = drain(t, rows)
			}
			if !errors.Is(err, ErrInvalidSQL) || errors.Is(err, context.Canceled) {
				t.Fatalf("got %v, want ErrInvalidSQL", err)
			}
		})
	}
	// An error DuckDB raises while executing keeps its message too.
	rows, err := e.Query(ctx, "SELECT error('boom')", nil, 0)
	if err == nil {
		_, _, err = drain(t, rows)
	}
	if err == nil || errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("SELECT error('boom'): got %v, want DuckDB's error", err)
	}
}

func TestStreamingDoesNotMaterialise(t *testing.T) {
	n := int64(10_000_000)
	if testing.Short() {
		n = 1_000_000
	}
	e, _ := testEngine(t, Config{})
	rows, err := e.Query(context.Background(), "SELECT range AS i, range * 2 AS j FROM range("+itoa(n)+")", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !rows.Next() {
		t.Fatalf("no first batch: %v", rows.Err())
	}
	first := rows.RecordBatch()
	if first.NumRows() != DefaultBatchRows {
		t.Errorf("first batch has %d rows, want %d", first.NumRows(), DefaultBatchRows)
	}
	if v := first.Column(1).(*array.Int64).Value(7); v != 14 {
		t.Errorf("j[7] = %d", v)
	}
	total, batches, err := drain(t, rows)
	total += first.NumRows() // drain started after the first batch
	if err != nil {
		t.Fatal(err)
	}
	if total != n || int64(batches+1) != (n+DefaultBatchRows-1)/DefaultBatchRows {
		t.Fatalf("got %d rows in %d batches, want %d", total, batches+1, n)
	}
	t.Logf("peak RSS of the test process after streaming %d rows: %s", n, peakRSS())
}

// longQuery runs until interrupted: a filtered cross join of 10^14 pairs.
const longQuery = "SELECT count(*) FROM range(100000000) a, range(1000000) b WHERE a.range + b.range < 0"

// runLong runs sql and returns the error that ended it, from Query or the stream.
func runLong(t *testing.T, e *Engine, ctx context.Context, sql string) error {
	rows, err := e.Query(ctx, sql, nil, 0)
	if err != nil {
		return err
	}
	_, _, err = drain(t, rows)
	return err
}

func TestCancelInterruptsPromptly(t *testing.T) {
	e, _ := testEngine(t, Config{})
	for _, sql := range []string{longQuery, "SELECT * FROM range(1000000000000)"} {
		t.Run(sql[:20], func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(300*time.Millisecond, cancel)
			start := time.Now()
			err := runLong(t, e, ctx, sql)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("got %v, want context.Canceled", err)
			}
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("cancel took %s", d)
			}
		})
	}
	// The engine is still fine.
	if got := queryAll(t, e, "SELECT 42", nil); got[0][0] != int32(42) {
		t.Fatalf("after cancel: %v", got)
	}
}

func TestQueryTimeout(t *testing.T) {
	e, _ := testEngine(t, Config{QueryTimeout: 300 * time.Millisecond})
	start := time.Now()
	err := runLong(t, e, context.Background(), longQuery)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "query timeout 300ms") {
		t.Fatalf("got %v, want the query timeout", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("timeout took %s", d)
	}
}

func TestReleaseMidStreamAndClose(t *testing.T) {
	e, _ := testEngine(t, Config{})
	rows, err := e.Query(context.Background(), "SELECT * FROM range(1000000000000)", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !rows.Next() {
		t.Fatal(rows.Err())
	}
	rows.Retain()
	rows.Release() // not the last reference: still readable
	if !rows.Next() {
		t.Fatal(rows.Err())
	}
	rows.Release()
	e.mu.Lock()
	live := len(e.sessions)
	e.mu.Unlock()
	if live != 0 {
		t.Fatalf("%d sessions live after Release", live)
	}

	// Close interrupts a running query and waits for it.
	errc := make(chan error, 1)
	go func() { errc <- runLong(t, e, context.Background(), longQuery) }()
	time.Sleep(300 * time.Millisecond)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if err == nil {
			t.Fatal("query survived Close")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("query still running after Close")
	}
	if _, err := e.Query(context.Background(), "SELECT 1", nil, 0); !errors.Is(err, ErrClosed) {
		t.Fatalf("Query after Close: %v", err)
	}
	if err := e.SyncTables(context.Background(), nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("SyncTables after Close: %v", err)
	}
}

func TestOwnTempDirRemovedOnClose(t *testing.T) {
	e, err := Open(context.Background(), Config{Root: t.TempDir(), TempParent: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	dir := e.tempDir
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Fatalf("temp dir %q: %v", dir, err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("temp dir %q left behind: %v", dir, err)
	}
	if err := e.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestOpenRefusesBadConfig(t *testing.T) {
	for _, cfg := range []Config{
		{Root: ""},
		{Root: "relative/dir"},
		{Root: "/nonexistent/quiver-root"},
		{Root: t.TempDir(), MemoryLimit: "lots"},
		{Root: t.TempDir(), Threads: -1},
	} {
		if e, err := Open(context.Background(), cfg); err == nil {
			e.Close()
			t.Errorf("Open(%+v) succeeded", cfg)
		}
	}
}
