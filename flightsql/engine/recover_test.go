//go:build duckdb_arrow

package engine

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	bindings "github.com/duckdb/duckdb-go-bindings"
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

// settle starts replacing a failed database and waits until no replacement is due
// or running.
func settle(t testing.TB, e *Engine) {
	t.Helper()
	if err := e.recover(); err != nil {
		t.Fatal(err)
	}
	for {
		e.dbMu.RLock()
		done, broken := e.rebuildDone, e.broken
		e.dbMu.RUnlock()
		switch {
		case done != nil:
			<-done
		case broken != nil:
			t.Fatalf("database still failed after its rebuild: %v", broken)
		default:
			return
		}
	}
}

// untypedThenTyped is a statement that DuckDB 1.5.6, planning without values as its C
// API does, plans with $1 untyped in typeof and VARCHAR in the cast; executing it with
// a VARCHAR bound fails with INTERNAL "Invalid PhysicalType for GetTypeIdSize".
// (DuckDB's Python client plans with the values and answers VARCHAR, x.)
const untypedThenTyped = "SELECT typeof($1) AS a, $1::VARCHAR AS b"

// TestUntypedParameterFailsAlone: the statements DuckDB fails internally for a
// placeholder left untyped fail alone, as invalid SQL that says how to write them,
// and cost no recovery: the database is not replaced, another client's query
// streaming meanwhile finishes, and the same placeholder typed in its first use runs.
func TestUntypedParameterFailsAlone(t *testing.T) {
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
		if !errors.Is(err, ErrInvalidSQL) || errors.Is(err, ErrDatabaseFailed) {
			t.Fatalf("%s: err %v, want ErrInvalidSQL only (did DuckDB fix its bug? then this statement runs)", sql, err)
		}
		for _, want := range []string{"cast it at its first use", "GetTypeIdSize"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %q does not say %q", sql, err, want)
			}
		}
		if n := count(t, e, "people"); n != 50000 {
			t.Fatalf("after %s: count %d, want 50000", sql, n)
		}
	}
	e.dbMu.RLock()
	gen, broken, rebuilding := e.gen, e.broken, e.rebuildDone != nil
	e.dbMu.RUnlock()
	if gen != 0 || broken != nil || rebuilding {
		t.Errorf("after the untyped parameters: generation %d, broken %v, rebuilding %v; want no recovery", gen, broken, rebuilding)
	}
	n, _, err := drain(t, running)
	if err != nil || read+n != 50000 {
		t.Fatalf("the query running meanwhile read %d rows, err %v; want 50000", read+n, err)
	}
	// The same placeholder, typed in its first use, runs.
	if got := queryAll(t, e, "SELECT $1::VARCHAR AS b, typeof($1) AS a", strings1(t, "x")); !reflect.DeepEqual(got, [][]any{{"x", "VARCHAR"}}) {
		t.Fatalf("typed first: %v", got)
	}
	if got := queryAll(t, e, "SELECT typeof($1::VARCHAR) AS a, $1::VARCHAR AS b", strings1(t, "x")); !reflect.DeepEqual(got, [][]any{{"VARCHAR", "x"}}) {
		t.Fatalf("cast at its first use, as the error advises: %v", got)
	}
}

// TestInternalErrorFailsOneQueryOnly: any other INTERNAL error of DuckDB (reported
// here through noteFailure, as Query reports one) fails its query alone: queries
// streaming meanwhile finish, and the next statements run on a fresh database with
// the same views.
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
	for i := range 3 {
		failure := duckError(bindings.ErrorTypeInternal, "INTERNAL Error: a bug\n\nStack Trace: 0x1")
		if err := e.noteFailure(uint64(i), failure); !errors.Is(err, ErrDatabaseFailed) || strings.Contains(err.Error(), "Stack Trace") {
			t.Fatalf("noteFailure = %v, want ErrDatabaseFailed without the stack trace", err)
		}
		if n := count(t, e, "people"); n != 50000 {
			t.Fatalf("after failure %d: count %d, want 50000", i, n)
		}
		settle(t, e)
	}
	if e.gen != 3 {
		t.Errorf("database replaced %d times, want once per failure (3)", e.gen)
	}
	n, _, err := drain(t, running)
	if err != nil || read+n != 50000 {
		t.Fatalf("the query running meanwhile read %d rows, err %v; want 50000", read+n, err)
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
	settle(t, e)
	e.noteFailure(0, ErrDatabaseFailed) // from a session of database 0, now replaced
	e.noteFailure(1, errors.New("an ordinary error"))
	settle(t, e)
	if e.gen != 1 {
		t.Fatalf("database replaced %d times, want 1", e.gen)
	}
}

// TestRecoveryDoesNotStopQueries: replacing a failed database with 10,000 views (2,000
// under -short) takes seconds; queries keep completing on the old database
// meanwhile, SyncTables changes made during the rebuild reach the new database, and
// the new database has every view.
func TestRecoveryDoesNotStopQueries(t *testing.T) {
	n := 10000
	if testing.Short() {
		n = 2000
	}
	e, root := testEngine(t, Config{})
	file := writePeople(t, root, "p.parquet", 0, 3)
	other := writePeople(t, root, "q.parquet", 100, 101)
	tables := make([]Table, n)
	for i := range tables {
		tables[i] = Table{Name: "v" + itoa(int64(i)), Files: []string{file}, Version: "1"}
	}
	start := time.Now()
	syncOrFail(t, e, tables...)
	t.Logf("%d views created in %v", n, time.Since(start))

	// Two clients run SELECT 1 in a loop, noting each one's latency and end.
	type sample struct {
		end     time.Time
		latency time.Duration
	}
	var (
		mu      sync.Mutex
		samples []sample
		stop    = make(chan struct{})
		wg      sync.WaitGroup
	)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				t0 := time.Now()
				rows, err := e.Query(context.Background(), "SELECT 1 AS one", nil, 0)
				if err == nil {
					_, _, err = drain(t, rows)
					rows.Release()
				}
				if err != nil {
					t.Errorf("SELECT 1 during recovery: %v", err)
					return
				}
				mu.Lock()
				samples = append(samples, sample{end: time.Now(), latency: time.Since(t0)})
				mu.Unlock()
				time.Sleep(2 * time.Millisecond) // leave the cores to the rebuild
			}
		}()
	}
	time.Sleep(100 * time.Millisecond)

	failedAt := time.Now()
	e.noteFailure(0, ErrDatabaseFailed)
	if err := e.recover(); err != nil { // what the next session does: start the rebuild
		t.Fatal(err)
	}
	// Changed while the new database is being built: v0 dropped, v1 replaced, late added.
	changed := slices.Clone(tables[1:])
	changed[0] = Table{Name: "v1", Files: []string{other}, Version: "2"}
	changed = append(changed, Table{Name: "late", Files: []string{other}, Version: "1"})
	syncOrFail(t, e, changed...)
	e.dbMu.RLock()
	during := e.rebuildDone != nil
	e.dbMu.RUnlock()
	settle(t, e)
	rebuilt := time.Since(failedAt)
	close(stop)
	wg.Wait()
	if !during {
		t.Log("the rebuild ended before the concurrent SyncTables: its changes were not tested against a rebuild")
	}
	if e.gen != 1 {
		t.Fatalf("database replaced %d times, want 1", e.gen)
	}

	var worst time.Duration
	completed := 0
	rebuiltAt := failedAt.Add(rebuilt)
	for _, s := range samples {
		if s.end.After(failedAt) && !s.end.After(rebuiltAt) {
			completed++
		}
		if s.end.After(failedAt) && s.end.Add(-s.latency).Before(rebuiltAt) { // overlaps the rebuild
			worst = max(worst, s.latency)
		}
	}
	t.Logf("rebuild took %v; meanwhile %d SELECT 1 completed, the slowest in %v", rebuilt, completed, worst)
	if completed < 20 || worst > rebuilt/2 {
		t.Errorf("queries were held up by the rebuild: %d completed in %v, slowest %v", completed, rebuilt, worst)
	}

	// Every view is in the new database, with the changes made during the rebuild.
	var res bindings.Result
	defer bindings.DestroyResult(&res)
	if bindings.Query(e.admin, "SELECT count(*) FROM duckdb_views() WHERE NOT internal", &res) == bindings.StateError {
		t.Fatal(bindings.ResultError(&res))
	}
	if got := bindings.ValueInt64(&res, 0, 0); got != int64(n) {
		t.Errorf("new database has %d views, want %d", got, n)
	}
	if _, err := e.Query(context.Background(), "SELECT * FROM v0", nil, 0); !errors.Is(err, ErrInvalidSQL) {
		t.Errorf("v0, dropped during the rebuild: %v, want ErrInvalidSQL", err)
	}
	if got := queryAll(t, e, "SELECT id FROM v1", nil); !reflect.DeepEqual(got, [][]any{{int64(100)}}) {
		t.Errorf("v1, replaced during the rebuild: %v", got)
	}
	if c := count(t, e, "late"); c != 1 {
		t.Errorf("late, added during the rebuild: %d rows", c)
	}
	if c := count(t, e, "v"+itoa(int64(n-1))); c != 3 {
		t.Errorf("last view: %d rows", c)
	}
}
