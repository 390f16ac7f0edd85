//go:build duckdb_arrow

package engine

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/quiverdata/quiver/catalog"
	"github.com/quiverdata/quiver/flightsql/memtier"
)

// hotEngine opens an engine with a memory tier of budget bytes.
func hotEngine(t *testing.T, budget int64) (*Engine, string, *memtier.Tier) {
	t.Helper()
	tier := memtier.New(budget)
	e, root := testEngine(t, Config{MemoryTier: tier, Threads: 2})
	return e, root, tier
}

// waitFor polls cond for up to 20 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// hot reports whether dataset's view reads its in-memory copy.
func hot(e *Engine, dataset string) bool { return slices.Contains(e.HotTables(), dataset) }

// memTables lists the tables in the memory tier's schema, as DuckDB has them.
func memTables(t *testing.T, e *Engine) []string {
	t.Helper()
	e.syncMu.Lock()
	defer e.syncMu.Unlock()
	out, err := queryString(e.admin, "SELECT coalesce(string_agg(table_name, ',' ORDER BY table_name), '') FROM duckdb_tables() WHERE schema_name = '"+memSchema+"'")
	if err != nil {
		t.Fatal(err)
	}
	if out == "" {
		return nil
	}
	return strings.Split(out, ",")
}

// memTableOf names the table dataset's view reads now, "" if none.
func memTableOf(e *Engine, view string) string {
	e.syncMu.Lock()
	defer e.syncMu.Unlock()
	return e.views[view].mem
}

const sumQuery = "SELECT count(*) AS n, sum(id) AS s, min(name) AS m FROM people"

// TestMemTierServesHotDatasetAndNeverStaleData: a dataset read once is copied into
// memory in the background and its view swapped to the copy, with the same answers;
// a new version of the dataset is read at once (the very next statement), not the
// copy, and the old copy is dropped.
func TestMemTierServesHotDatasetAndNeverStaleData(t *testing.T) {
	e, root, tier := hotEngine(t, 64<<20)
	v1 := Table{Name: "people", Files: []string{writePeople(t, root, "people-1.parquet", 0, 50000)}, Version: "1"}
	syncOrFail(t, e, v1)

	want1 := queryAll(t, e, sumQuery, nil) // on Parquet; makes it hot
	waitFor(t, "people to be in memory", func() bool { return hot(e, "people") })
	if tier.Used() <= 0 {
		t.Fatalf("tier used %d bytes, want the copy's size", tier.Used())
	}
	copy1 := memTableOf(e, "people")
	if got := memTables(t, e); !reflect.DeepEqual(got, []string{copy1}) {
		t.Fatalf("memory tables %v, want [%s]", got, copy1)
	}
	if got := queryAll(t, e, sumQuery, nil); !reflect.DeepEqual(got, want1) {
		t.Fatalf("from memory: %v, want %v", got, want1)
	}
	rows, err := e.Query(context.Background(), "SELECT id FROM people WHERE id = 4242", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if n, _, err := drain(t, rows); n != 1 || err != nil {
		t.Fatalf("point query from memory: %d rows, %v", n, err)
	}

	// A new version: the next statement reads it, whatever the worker is doing.
	for i := 2; i <= 6; i++ {
		lo := int64(i * 100000)
		vi := Table{Name: "people", Files: []string{writePeople(t, root, "people-"+itoa(int64(i))+".parquet", lo, lo+int64(1000*i))}, Version: itoa(int64(i))}
		syncOrFail(t, e, vi)
		got := queryAll(t, e, sumQuery, nil)
		if n := got[0][0].(int64); n != int64(1000*i) {
			t.Fatalf("version %d: count %d, want %d (a stale copy?)", i, n, 1000*i)
		}
		if hot(e, "people") && memTableOf(e, "people") == copy1 {
			t.Fatalf("version %d: the view still reads the first copy", i)
		}
	}
	waitFor(t, "the first copy to be dropped", func() bool { return !slices.Contains(memTables(t, e), copy1) })
}

// TestMemTierRunningQueryKeepsItsCopy: a query streaming from a copy when the dataset
// changes reads the whole copy; the copy is dropped only after the query ends.
func TestMemTierRunningQueryKeepsItsCopy(t *testing.T) {
	e, root, _ := hotEngine(t, 256<<20)
	syncOrFail(t, e, Table{Name: "people", Files: []string{writePeople(t, root, "people-1.parquet", 0, 300000)}, Version: "1"})
	queryAll(t, e, sumQuery, nil)
	waitFor(t, "people to be in memory", func() bool { return hot(e, "people") })
	copy1 := memTableOf(e, "people")

	rows, err := e.Query(context.Background(), "SELECT * FROM people", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !rows.Next() {
		t.Fatalf("no first batch: %v", rows.Err())
	}
	n := rows.RecordBatch().NumRows()
	syncOrFail(t, e, Table{Name: "people", Files: []string{writePeople(t, root, "people-2.parquet", 0, 10)}, Version: "2"})
	time.Sleep(5 * memReapInterval) // the worker would have dropped it by now
	if !slices.Contains(memTables(t, e), copy1) {
		t.Fatalf("copy %s dropped under a running query", copy1)
	}
	for rows.Next() {
		n += rows.RecordBatch().NumRows()
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Release()
	if n != 300000 {
		t.Fatalf("the running query read %d rows of its copy, want 300000", n)
	}
	waitFor(t, "the copy to be dropped after the query", func() bool { return !slices.Contains(memTables(t, e), copy1) })
	if got := queryAll(t, e, "SELECT count(*) FROM people", nil); got[0][0].(int64) != 10 {
		t.Fatalf("after the change: %v rows, want 10", got)
	}
}

// TestMemTierEvictsLeastRecentlyUsed: a budget for one of two datasets keeps the one
// read last; the other goes back to Parquet with the same answers.
func TestMemTierEvictsLeastRecentlyUsed(t *testing.T) {
	e, root, tier := hotEngine(t, 64<<20)
	a := Table{Name: "a", Files: []string{writePeople(t, root, "a.parquet", 0, 100000)}, Version: "1"}
	b := Table{Name: "b", Files: []string{writePeople(t, root, "b.parquet", 0, 100000)}, Version: "1"}
	syncOrFail(t, e, a, b)
	wantA := queryAll(t, e, "SELECT count(*), sum(id) FROM a", nil)
	waitFor(t, "a in memory", func() bool { return hot(e, "a") })
	one := tier.Used()
	e2, root2, tier2 := hotEngine(t, one+one/2) // room for one copy only
	a.Files = []string{writePeople(t, root2, "a.parquet", 0, 100000)}
	b.Files = []string{writePeople(t, root2, "b.parquet", 0, 100000)}
	syncOrFail(t, e2, a, b)
	queryAll(t, e2, "SELECT count(*) FROM a", nil)
	waitFor(t, "a in memory", func() bool { return hot(e2, "a") })
	queryAll(t, e2, "SELECT count(*) FROM b", nil)
	waitFor(t, "b in memory and a evicted", func() bool { return hot(e2, "b") && !hot(e2, "a") })
	if tier2.Used() > tier2.Max() {
		t.Fatalf("tier holds %d bytes over its %d", tier2.Used(), tier2.Max())
	}
	if got := queryAll(t, e2, "SELECT count(*), sum(id) FROM a", nil); !reflect.DeepEqual(got, wantA) {
		t.Fatalf("a after eviction: %v, want %v", got, wantA)
	}
	waitFor(t, "a's copy dropped", func() bool { return len(memTables(t, e2)) == 1 })
}

// TestMemTierSkipsWhatDoesNotFit: a dataset larger than the budget stays on Parquet.
func TestMemTierSkipsWhatDoesNotFit(t *testing.T) {
	e, root, tier := hotEngine(t, 64<<10)
	syncOrFail(t, e, Table{Name: "people", Files: []string{writePeople(t, root, "people.parquet", 0, 100000)}, Version: "1"})
	queryAll(t, e, sumQuery, nil)
	waitFor(t, "the worker to give up", func() bool {
		e.syncMu.Lock()
		defer e.syncMu.Unlock()
		return e.hot.skip["people"] == "1"
	})
	if hot(e, "people") || tier.Used() != 0 || len(memTables(t, e)) != 0 {
		t.Fatalf("hot %v, tier used %d, tables %v: want nothing in memory", e.HotTables(), tier.Used(), memTables(t, e))
	}
}

// TestMemTierTablesAreHidden: no statement may name the tier's tables, whoever sends
// it, and a restricted caller sees the hot dataset only through a view its grant
// covers: by name, quoted, schema- and catalog-qualified, in another case, as a
// string argument, and through the catalog functions and views.
func TestMemTierTablesAreHidden(t *testing.T) {
	e, root, _ := hotEngine(t, 64<<20)
	syncOrFail(t, e,
		Table{Name: "people", Files: []string{writePeople(t, root, "people.parquet", 0, 1000)}, Version: "1"},
		Table{Name: "other", Files: []string{writePeople(t, root, "other.parquet", 0, 10)}, Version: "1"})
	queryAll(t, e, sumQuery, nil)
	waitFor(t, "people in memory", func() bool { return hot(e, "people") })
	copyName := memTableOf(e, "people")
	ctx := context.Background()
	onlyOther := func(ds string) bool { return ds == "other" }
	onlyPeople := func(ds string) bool { return ds == "people" }

	for _, sql := range []string{
		`SELECT * FROM __quiver_mem."` + copyName + `"`,
		`SELECT * FROM "__quiver_mem"."` + copyName + `"`,
		`SELECT * FROM "__QUIVER_MEM"."` + copyName + `"`,
		`SELECT * FROM memory.__quiver_mem."` + copyName + `"`,
		`SELECT * FROM memory."__quiver_mem"."` + copyName + `"`,
		`SELECT "__quiver_mem"."` + copyName + `".id FROM other`,
		`SELECT * FROM pragma_table_info('__quiver_mem."` + copyName + `"')`,
		`SELECT * FROM duckdb_tables() WHERE schema_name = '__quiver_mem'`,
	} {
		_, err := e.Query(ctx, sql, nil, 0)
		if !errors.Is(err, ErrForbidden) || !strings.Contains(err.Error(), "internal to the server") {
			t.Errorf("Query(%s): err %v, want ErrForbidden naming the internal schema", sql, err)
		}
		if _, err := e.ReadTables(ctx, sql, onlyOther); err == nil {
			t.Errorf("ReadTables(%s) for a grant of other: no error", sql)
		}
	}
	// The catalog functions and views, and names that are not datasets, for a grant
	// of other: refused without listing anything.
	for _, sql := range []string{
		"SELECT * FROM duckdb_tables()",
		"SELECT * FROM duckdb_views()",
		"SELECT * FROM information_schema.tables",
		"SELECT * FROM information_schema.columns",
		"SHOW ALL TABLES",
		"SHOW TABLES",
		"SELECT * FROM sqlite_master",
		`SELECT * FROM "` + copyName + `"`,
		"SELECT * FROM people",
		`SELECT * FROM "PEOPLE"`,
		"SELECT * FROM main.people",
		"SELECT * FROM other, people",
	} {
		if _, err := e.ReadTables(ctx, sql, onlyOther); !errors.Is(err, ErrUnattributable) && !errors.Is(err, ErrNotCovered) {
			t.Errorf("ReadTables(%s) for a grant of other: err %v, want ErrUnattributable or ErrNotCovered", sql, err)
		}
	}
	// The hot dataset through its own view, for a grant of it: attributed to it.
	if !hot(e, "people") {
		t.Fatal("people left memory during the test")
	}
	for _, sql := range []string{"SELECT * FROM people", `SELECT count(*) FROM "People" WHERE id > 3`} {
		got, err := e.ReadTables(ctx, sql, onlyPeople)
		if err != nil || !reflect.DeepEqual(got, []string{"people"}) {
			t.Errorf("ReadTables(%s) for a grant of people: %v, %v; want [people]", sql, got, err)
		}
	}
	// Result column origins name the view, not the copy.
	d, err := e.Describe(ctx, "SELECT id, name FROM people")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(d.Tables, []string{"people", "people"}) {
		t.Errorf("column tables %v, want [people people]", d.Tables)
	}
}

// TestMemTierRecovery: a replaced database has Parquet views only; the tier forgets
// the copies of the old one, and the dataset can become hot again.
func TestMemTierRecovery(t *testing.T) {
	e, root, tier := hotEngine(t, 64<<20)
	syncOrFail(t, e, Table{Name: "people", Files: []string{writePeople(t, root, "people.parquet", 0, 1000)}, Version: "1"})
	want := queryAll(t, e, sumQuery, nil)
	waitFor(t, "people in memory", func() bool { return hot(e, "people") })
	e.noteFailure(e.gen, ErrDatabaseFailed)
	settle(t, e)
	if hot(e, "people") || tier.Used() != 0 {
		t.Fatalf("after recovery: hot %v, tier used %d; want none", e.HotTables(), tier.Used())
	}
	if got := queryAll(t, e, sumQuery, nil); !reflect.DeepEqual(got, want) {
		t.Fatalf("after recovery: %v, want %v", got, want)
	}
	waitFor(t, "people in memory again", func() bool { return hot(e, "people") })
	if got := queryAll(t, e, sumQuery, nil); !reflect.DeepEqual(got, want) {
		t.Fatalf("in memory after recovery: %v, want %v", got, want)
	}
}

// TestMemoryLimitMakesRoomForTheTier: a configured memory_limit is raised by the
// tier's budget, so that queries keep what they had.
func TestMemoryLimitMakesRoomForTheTier(t *testing.T) {
	tier := memtier.New(1 << 30)
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"1GiB", "2097152KiB"},
		{"1GB", itoa((1000000000+(1<<30)+1023)/1024) + "KiB"},
		{"512 MiB", "1572864KiB"},
		{"80%", "80%"}, // not ours to parse: kept, logged
	} {
		if got := memoryLimit(c.in, tier, slog.New(slog.DiscardHandler)); got != c.want {
			t.Errorf("memoryLimit(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if got := memoryLimit("1GiB", memtier.New(0), slog.New(slog.DiscardHandler)); got != "1GiB" {
		t.Errorf("without a tier: %q, want 1GiB", got)
	}
	e, _ := testEngine(t, Config{MemoryLimit: "1GiB", MemoryTier: tier})
	got, err := queryString(e.admin, "SELECT current_setting('memory_limit')")
	if err != nil {
		t.Fatal(err)
	}
	if got != "2.0 GiB" {
		t.Fatalf("memory_limit %q, want 2.0 GiB", got)
	}
}

// logWatch is a slog handler that passes each record's message to msgs.
type logWatch struct{ msgs chan string }

func (w logWatch) Enabled(context.Context, slog.Level) bool { return true }
func (w logWatch) WithAttrs([]slog.Attr) slog.Handler       { return w }
func (w logWatch) WithGroup(string) slog.Handler            { return w }
func (w logWatch) Handle(_ context.Context, r slog.Record) error {
	select {
	case w.msgs <- r.Message:
	default:
	}
	return nil
}

// TestMemTierNeverCopiesAStandIn: on object storage a view names a file without rows
// while no query leases the dataset's parts; a copy made then is refused (its rows
// are not the dataset's), and one made while the parts are lent is used.
func TestMemTierNeverCopiesAStandIn(t *testing.T) {
	store, err := catalog.Open(t.TempDir(), catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() }) // stops the converter of landed puts
	w := logWatch{msgs: make(chan string, 100)}
	e, _ := testEngine(t, Config{Root: store.Root(), Catalog: store, MemoryTier: memtier.New(64 << 20), Logger: slog.New(w)})
	dir := filepath.Join(store.Root(), ".standin")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	lf := &switchFiles{standIn: writePeople(t, dir, "people.parquet", 0, 0)}
	e.SetLocalFiles(lf)
	putPeople(t, store, "people.parquet", catalog.Create, 10)

	waitLog := func(msg string) {
		t.Helper()
		timeout := time.After(20 * time.Second)
		for {
			select {
			case m := <-w.msgs:
				if m == msg {
					return
				}
			case <-timeout:
				t.Fatalf("no log %q", msg)
			}
		}
	}
	// The engine refuses a statement that would read the stand-in (consistent.go)...
	if n, err := countRows(t, e, "people"); !errors.Is(err, ErrViewsMoved) {
		t.Fatalf("through the stand-in: %d, %v; want ErrViewsMoved", n, err)
	}
	// ...and were one read anyway, the tier's own row check refuses to keep its copy.
	lf.unmarked.Store(true)
	if n, err := countRows(t, e, "people"); err != nil || n != 0 {
		t.Fatalf("through an unmarked stand-in: %d, %v", n, err)
	}
	waitLog("memory tier: dataset stays on Parquet")
	lf.unmarked.Store(false)
	if hot(e, "people.parquet") || len(memTables(t, e)) != 0 {
		t.Fatalf("a copy of the stand-in was kept: hot %v, tables %v", e.HotTables(), memTables(t, e))
	}

	lf.real.Store(true)
	if err := e.RefreshViews(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n, err := countRows(t, e, "people"); err != nil || n != 10 {
		t.Fatalf("through the parts: %d, %v", n, err)
	}
	waitLog("memory tier: dataset in memory")
	// The parts' lease ends: the view would name the stand-in again, but the copy
	// holds this version's rows and stays.
	lf.real.Store(false)
	lf.gen.Add(1)
	if n, err := countRows(t, e, "people"); err != nil || n != 10 || !hot(e, "people.parquet") {
		t.Fatalf("from memory after the lease: %d, %v, hot %v", n, err, e.HotTables())
	}
}
