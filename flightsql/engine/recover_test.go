//go:build duckdb_arrow

package engine

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// strings1 is a one-row parameter batch of one utf8 column per value.
func strings1(t testing.TB, vals ...string) arrow.RecordBatch {
	t.Helper()
	fields := make([]arrow.Field, len(vals))
	for i := range vals {
		fields[i] = arrow.Field{Name: "p" + itoa(int64(i)), Type: arrow.BinaryTypes.String}
	}
	return record(t, arrow.NewSchema(fields, nil), func(b *array.RecordBuilder) {
		for i, v := range vals {
			b.Field(i).(*array.StringBuilder).Append(v)
		}
	})
}

// untypedThenTyped is a statement that DuckDB 1.5.6, planning without values as its C
// API does, plans with $1 untyped in typeof and VARCHAR in the cast; executing it with
// a VARCHAR bound fails with INTERNAL "Invalid PhysicalType for GetTypeIdSize".
// (DuckDB's Python client plans with the values and answers VARCHAR, x.)
const untypedThenTyped = "SELECT typeof($1) AS a, $1::VARCHAR AS b"

// TestInternalErrorFailsOneQueryOnly: the statement DuckDB fails internally fails
// alone. Another client's query, streaming meanwhile, finishes; the next statements
// run on a fresh database with the same views.
func TestInternalErrorFailsOneQueryOnly(t *testing.T) {
	e, root := testEngine(t, Config{BatchRows: 2048})
	syncOrFail(t, e, Table{Name: "people", Files: []string{writePeople(t, root, "p.parquet", 0, 50000)}, Version: "1"})
	ctx := context.Background()

	running, err := e.Query(ctx, "SELECT id FROM people", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !running.Next() {
		t.Fatal(running.Err())
	}
	read := running.RecordBatch().NumRows()

	for _, sql := range []string{
		untypedThenTyped,
		"SELECT typeof($1) AS a, $1 = 'x' AS b",
		"SELECT hash($1) AS a, $1::VARCHAR AS b",
	} {
		_, err = e.Query(ctx, sql, strings1(t, "x"), 0)
		if !errors.Is(err, ErrDatabaseFailed) {
			t.Fatalf("%s: err %v, want ErrDatabaseFailed (did DuckDB fix its bug? then run it and find another trigger)", sql, err)
		}
		if n := count(t, e, "people"); n != 50000 {
			t.Fatalf("after %s: count %d, want 50000", sql, n)
		}
	}
	if e.gen != 3 {
		t.Errorf("database replaced %d times, want once per failure (3)", e.gen)
	}
	n, _, err := drain(t, running)
	if err != nil || read+n != 50000 {
		t.Fatalf("the query running meanwhile read %d rows, err %v; want 50000", read+n, err)
	}
	// The same placeholder, typed in its first use, runs.
	if got := queryAll(t, e, "SELECT $1::VARCHAR AS b, typeof($1) AS a", strings1(t, "x")); !reflect.DeepEqual(got, [][]any{{"x", "VARCHAR"}}) {
		t.Fatalf("typed first: %v", got)
	}
}

// TestDescribeBoundReportsTheStreamSchema: where a result column's type comes from a
// parameter, Describe cannot know it, and DescribeBound reports what Query streams.
func TestDescribeBoundReportsTheStreamSchema(t *testing.T) {
	e, root := testEngine(t, Config{})
	syncOrFail(t, e, Table{Name: "people", Files: []string{writePeople(t, root, "p.parquet", 0, 3)}, Version: "1"})
	f64 := record(t, arrow.NewSchema([]arrow.Field{{Name: "p", Type: arrow.PrimitiveTypes.Float64}}, nil),
		func(b *array.RecordBuilder) { b.Field(0).(*array.Float64Builder).Append(0.5) })
	cases := []struct {
		sql         string
		params      arrow.RecordBatch
		before, got arrow.DataType
	}{
		{"SELECT ? AS greeting", strings1(t, "hi"), arrow.Null, arrow.BinaryTypes.String},
		{"SELECT id + ? AS n FROM people", f64, nil, arrow.PrimitiveTypes.Float64},
		{"SELECT coalesce(id, ?) AS n FROM people", f64, arrow.PrimitiveTypes.Int64, arrow.PrimitiveTypes.Float64},
		{"SELECT id FROM people WHERE name = ?", strings1(t, "p1"), arrow.PrimitiveTypes.Int64, arrow.PrimitiveTypes.Int64},
	}
	for _, c := range cases {
		t.Run(c.sql, func(t *testing.T) {
			ctx := context.Background()
			d, err := e.Describe(ctx, c.sql)
			if err != nil {
				t.Fatal(err)
			}
			if c.before != nil && !arrow.TypeEqual(d.Schema.Field(0).Type, c.before) {
				t.Errorf("Describe: column 0 is %s, want %s", d.Schema.Field(0).Type, c.before)
			}
			b, err := e.DescribeBound(ctx, c.sql, c.params, 0)
			if err != nil {
				t.Fatal(err)
			}
			if !arrow.TypeEqual(b.Schema.Field(0).Type, c.got) {
				t.Errorf("DescribeBound: column 0 is %s, want %s", b.Schema.Field(0).Type, c.got)
			}
			if !b.Params.Equal(d.Params) {
				t.Errorf("DescribeBound params %s, Describe's %s", b.Params, d.Params)
			}
			rows, err := e.Query(ctx, c.sql, c.params, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Release()
			if !rows.Schema().Equal(b.Schema) {
				t.Errorf("Query streams\n%s\nDescribeBound said\n%s", rows.Schema(), b.Schema)
			}
			if _, _, err := drain(t, rows); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestRecoversFromInvalidatedDatabase keeps DuckDB's own reaction to an INTERNAL error
// (invalidateOnInternal), which invalidates the database so that every statement of
// every connection fails with FATAL, and checks that the engine replaces it: the views
// come back, and the next statements, on concurrent sessions, succeed.
func TestRecoversFromInvalidatedDatabase(t *testing.T) {
	root := t.TempDir()
	e, err := open(context.Background(), Config{Root: root, TempDir: t.TempDir()},
		func(e *Engine) { e.invalidateOnInternal = true })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	table := Table{Name: "people", Files: []string{writePeople(t, root, "p.parquet", 0, 100)}, Version: "1"}
	syncOrFail(t, e, table)
	ctx := context.Background()

	if _, err := e.Query(ctx, untypedThenTyped, strings1(t, "x"), 0); !errors.Is(err, ErrDatabaseFailed) {
		t.Fatalf("provoked query: err %v, want ErrDatabaseFailed", err)
	}
	// DuckDB did invalidate its database: it refuses even the engine's own statements.
	if err := exec(e.admin, "SELECT 1"); err == nil || !strings.Contains(err.Error(), "invalidated") {
		t.Fatalf("statement on the invalidated database: err %v, want DuckDB's FATAL", err)
	}

	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if n := count(t, e, "people"); n != 100 {
				t.Errorf("goroutine %d: count %d, want 100", g, n)
			}
		}()
	}
	wg.Wait()
	if e.gen != 1 {
		t.Fatalf("database replaced %d times, want exactly 1", e.gen)
	}
	syncOrFail(t, e, table) // nothing to do, and no error
	if d, err := e.Describe(ctx, "SELECT * FROM people WHERE id = ?"); err != nil || d.Schema.NumFields() != 3 {
		t.Fatalf("Describe after recovery: %v, %v", d, err)
	}
	// The fresh database is locked down as the first was.
	if _, err := e.Query(ctx, "SELECT * FROM read_parquet('/etc/passwd')", nil, 0); !errors.Is(err, ErrForbidden) {
		t.Fatalf("read outside the root after recovery: %v, want ErrForbidden", err)
	}
	if _, err := e.Query(ctx, "SET threads = 1", nil, 0); err == nil {
		t.Fatal("SET after recovery succeeded")
	}
}

// TestRecoveryIgnoresReportsAboutOldDatabases: a failure reported by a session of an
// earlier database must not replace the current one.
func TestRecoveryIgnoresReportsAboutOldDatabases(t *testing.T) {
	e, _ := testEngine(t, Config{})
	e.noteFailure(0, ErrDatabaseFailed)
	if err := e.recover(); err != nil {
		t.Fatal(err)
	}
	e.noteFailure(0, ErrDatabaseFailed) // from a session of database 0, now replaced
	e.noteFailure(1, errors.New("an ordinary error"))
	if err := e.recover(); err != nil {
		t.Fatal(err)
	}
	if e.gen != 1 {
		t.Fatalf("database replaced %d times, want 1", e.gen)
	}
}
