package integration

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	fsql "github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/quiverdata/quiver/flightsql"
	"github.com/quiverdata/quiver/flightsql/auth"
)

// tierWatch is a slog handler that counts the engine's "dataset in memory" records
// per dataset, so that tests and benchmarks can wait for a dataset to become hot.
type tierWatch struct {
	mu     sync.Mutex
	loaded map[string]int
	inner  slog.Handler
}

func newTierWatch() *tierWatch {
	return &tierWatch{loaded: map[string]int{}, inner: slog.DiscardHandler}
}

func (w *tierWatch) Enabled(context.Context, slog.Level) bool { return true }
func (w *tierWatch) WithAttrs([]slog.Attr) slog.Handler       { return w }
func (w *tierWatch) WithGroup(string) slog.Handler            { return w }
func (w *tierWatch) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "memory tier: dataset in memory" {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "dataset" {
			w.mu.Lock()
			w.loaded[a.Value.String()]++
			w.mu.Unlock()
		}
		return true
	})
	return nil
}

// wait blocks until dataset has been loaded n times in all, for up to two minutes.
func (w *tierWatch) wait(t testing.TB, dataset string, n int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		w.mu.Lock()
		got := w.loaded[dataset]
		w.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s was loaded into the memory tier %d times, want %d", dataset, got, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// tierOptions are harness options for a server with a memory tier of budget bytes,
// its log watched by w.
func tierOptions(w *tierWatch, budget int64) harnessOptions {
	return harnessOptions{logger: slog.New(w), service: func(c *flightsql.ServiceConfig) { c.MemoryTier = budget }}
}

// sumOf runs SELECT count(*), sum(id) on numbers through ADBC.
func sumOf(t *testing.T, srv *testServer, table string) (int64, int64) {
	t.Helper()
	_, recs, err := adbcQuery(t, srv.adbcConn(t), "SELECT count(*)::BIGINT, sum(id)::BIGINT FROM "+table)
	if err != nil {
		t.Fatal(err)
	}
	return recs[0].Column(0).(*array.Int64).Value(0), recs[0].Column(1).(*array.Int64).Value(0)
}

// TestSQLMemoryTierFollowsPuts: through the whole server (on S3 too, with
// QUIVER_TEST_BACKEND=s3, where the copy is made from the leased parts), a dataset
// that a query read is served from memory with the same answers, and a put of a new
// version is what the very next query reads.
func TestSQLMemoryTierFollowsPuts(t *testing.T) {
	w := newTierWatch()
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	srv := startServerOpts(t, t.TempDir(), mem, tierOptions(w, 256<<20))
	t.Logf("on object storage: %v", srv.Cache != nil)
	c := srv.client(t)
	putNumbers(t, c, "numbers.parquet", 1000)

	n, sum := sumOf(t, srv, "numbers")
	if n != 1000 || sum != 999*1000/2 {
		t.Fatalf("on Parquet: count %d sum %d", n, sum)
	}
	w.wait(t, "numbers.parquet", 1)
	if n2, sum2 := sumOf(t, srv, "numbers"); n2 != n || sum2 != sum {
		t.Fatalf("from memory: count %d sum %d, want %d %d", n2, sum2, n, sum)
	}
	for i, rows := range []int{10, 2000, 5} {
		putNumbers(t, c, "numbers.parquet", rows)
		if n, sum := sumOf(t, srv, "numbers"); n != int64(rows) || sum != int64(rows*(rows-1)/2) {
			t.Fatalf("put %d of %d rows: the next query read count %d sum %d (a stale copy?)", i, rows, n, sum)
		}
		w.wait(t, "numbers.parquet", i+2) // each version becomes hot in turn
		if n, _ := sumOf(t, srv, "numbers"); n != int64(rows) {
			t.Fatalf("version %d from memory: count %d, want %d", i, n, rows)
		}
	}
}

// TestSQLMemoryTierKeepsGrants: a restricted token cannot reach another dataset's
// in-memory copy by any name, nor see it in the catalog, while its own dataset is
// served from memory to it.
func TestSQLMemoryTierKeepsGrants(t *testing.T) {
	f := &auth.File{}
	tokens := map[string]string{}
	for _, g := range []struct {
		name, perm string
		datasets   []string
	}{{"sales", "read", []string{"sales*"}}, {"admin", "admin", nil}} {
		tok, hash, err := auth.NewToken()
		if err != nil {
			t.Fatal(err)
		}
		tokens[g.name] = tok
		f.Tokens = append(f.Tokens, auth.TokenEntry{Name: g.name, TokenHash: hash, Permission: g.perm, Datasets: g.datasets})
	}
	a, err := auth.New(f, auth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	writeParquetFile(t, filepath.Join(root, "sales.parquet"), events(t, 1, 2, 3))
	writeParquetFile(t, filepath.Join(root, "payroll.parquet"), events(t, 7, 8))
	w := newTierWatch()
	o := tierOptions(w, 64<<20)
	o.guard = auth.NewGuard(a, nil)
	srv := startServerOpts(t, root, memory.DefaultAllocator, o)
	ctxFor := func(name string) context.Context {
		return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+tokens[name])
	}
	admin, sales := ctxFor("admin"), ctxFor("sales")
	cl := srv.sqlClient(t)

	for _, q := range []struct {
		ctx context.Context
		sql string
	}{{admin, "SELECT count(*) FROM payroll"}, {sales, "SELECT count(*) FROM sales"}} { // a bare SELECT * streams the dataset, not DuckDB
		if _, err := fetchSQL(q.ctx, cl, q.sql); err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
	}
	w.wait(t, "payroll.parquet", 1)
	w.wait(t, "sales.parquet", 1)

	recs, err := fetchSQL(sales, cl, "SELECT count(*) FROM sales")
	if err != nil || recs[0].Column(0).(*array.Int64).Value(0) != 3 {
		t.Fatalf("sales from memory for its own token: %v, %v", recs, err)
	}
	for _, sql := range []string{
		`SELECT * FROM __quiver_mem."payroll@1"`,
		`SELECT * FROM "__quiver_mem"."payroll@1"`,
		`SELECT * FROM memory.__quiver_mem."payroll@1"`,
		`SELECT * FROM __QUIVER_MEM."payroll@2"`,
		`SELECT * FROM "payroll@1"`,
		`SELECT * FROM payroll`,
		`SELECT * FROM sales, __quiver_mem."payroll@1"`,
		`SELECT * FROM duckdb_tables()`,
		`SELECT * FROM information_schema.tables`,
		`SHOW ALL TABLES`,
		`SELECT * FROM pragma_table_info('__quiver_mem."payroll@1"')`,
	} {
		_, err := fetchSQL(sales, cl, sql)
		if code := status.Code(err); code != codes.PermissionDenied {
			t.Errorf("sales token, %s: %v, want PermissionDenied", sql, err)
		}
	}
	// Not even the admin names the copies.
	if _, err := fetchSQL(admin, cl, `SELECT * FROM __quiver_mem."payroll@1"`); status.Code(err) != codes.PermissionDenied ||
		!strings.Contains(err.Error(), "internal to the server") {
		t.Errorf("admin naming a copy: %v, want PermissionDenied", err)
	}
	// GetTables lists the datasets, never the copies.
	for _, ctx := range []context.Context{admin, sales} {
		names := tableNames(t, ctx, cl)
		for _, n := range names {
			if strings.Contains(n, "@") || strings.Contains(n, "quiver_mem") {
				t.Errorf("GetTables lists %q", n)
			}
		}
	}
}

// tableNames lists GetTables' table names.
func tableNames(t *testing.T, ctx context.Context, cl *fsql.Client) []string {
	t.Helper()
	info, err := cl.GetTables(ctx, &fsql.GetTablesOpts{})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := readEndpoint(ctx, cl, info)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range recs {
		col := r.Column(int(r.Schema().FieldIndices("table_name")[0])).(*array.String)
		for i := 0; i < col.Len(); i++ {
			out = append(out, col.Value(i))
		}
		r.Release()
	}
	return out
}
