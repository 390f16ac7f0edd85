//go:build duckdb_arrow

package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/quiverdata/quiver/catalog"
)

// countingCatalog is a store that counts what the engine asks of it.
type countingCatalog struct {
	*catalog.Store
	lists, stats, scans atomic.Int64
}

func (c *countingCatalog) List(ctx context.Context) ([]catalog.Info, error) {
	c.lists.Add(1)
	return c.Store.List(ctx)
}

func (c *countingCatalog) Stat(ctx context.Context, name string) (catalog.Info, error) {
	c.stats.Add(1)
	return c.Store.Stat(ctx, name)
}

func (c *countingCatalog) Scan(ctx context.Context) (map[string]catalog.EntryStamp, error) {
	c.scans.Add(1)
	return c.Store.Scan(ctx)
}

// catalogEngine opens a store and an engine that keeps its own snapshot of it.
func catalogEngine(t *testing.T) (*Engine, *catalog.Store, *countingCatalog) {
	t.Helper()
	store, err := catalog.Open(t.TempDir(), catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() }) // stops the converter of landed puts
	cc := &countingCatalog{Store: store}
	e, _ := testEngine(t, Config{Root: store.Root(), Catalog: cc})
	return e, store, cc
}

// putPeople stores rows [0, n) of the people schema under name.
func putPeople(t testing.TB, store *catalog.Store, name string, mode catalog.PutMode, n int64) {
	t.Helper()
	rec := peopleRecord(0, n)
	defer rec.Release()
	putRecord(t, store, name, mode, rec)
}

// putRecord stores rec under name.
func putRecord(t testing.TB, store *catalog.Store, name string, mode catalog.PutMode, rec arrow.RecordBatch) {
	t.Helper()
	rdr, err := array.NewRecordReader(rec.Schema(), []arrow.RecordBatch{rec})
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Release()
	if _, err := store.Put(context.Background(), name, mode, rdr); err != nil {
		t.Fatalf("put %s: %v", name, err)
	}
}

func peopleRecord(from, to int64) arrow.RecordBatch {
	b := array.NewRecordBuilder(memory.DefaultAllocator, peopleSchema)
	defer b.Release()
	for i := from; i < to; i++ {
		b.Field(0).(*array.Int64Builder).Append(i)
		b.Field(1).(*array.StringBuilder).Append("p" + itoa(i))
		b.Field(2).(*array.Float64Builder).Append(float64(i) / 2)
	}
	return b.NewRecordBatch()
}

// snapshotRows returns the row count the snapshot has for dataset, or -1.
func snapshotRows(t testing.TB, e *Engine, dataset string) int64 {
	t.Helper()
	snap, err := e.Snapshot(context.Background())
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	info, ok := snap.Dataset(dataset)
	if !ok {
		return -1
	}
	return info.Rows
}

// countRows runs SELECT count(*) FROM table.
func countRows(t testing.TB, e *Engine, table string) (int64, error) {
	t.Helper()
	rows, err := e.Query(context.Background(), "SELECT count(*) AS n FROM "+quoteIdent(table), nil, 0)
	if err != nil {
		return 0, err
	}
	defer rows.Release()
	var n int64
	for rows.Next() {
		n = rows.RecordBatch().Column(0).(*array.Int64).Value(0)
	}
	return n, rows.Err()
}

// TestSnapshotFollowsTheStoreAtOnce: a put, an append and a drop through the store
// are in the very next snapshot and query, learned from the store's notice with one
// Stat of the dataset, never a listing; a snapshot with nothing changed asks the
// store nothing but a scan of the root.
func TestSnapshotFollowsTheStoreAtOnce(t *testing.T) {
	e, store, cc := catalogEngine(t)
	ctx := context.Background()
	if n := snapshotRows(t, e, "people.parquet"); n != -1 {
		t.Fatalf("empty store: people has %d rows", n)
	}
	lists := cc.lists.Load()
	if lists != 1 {
		t.Fatalf("first snapshot made %d listings, want 1", lists)
	}

	putPeople(t, store, "people.parquet", catalog.Create, 10)
	if n := snapshotRows(t, e, "people.parquet"); n != 10 {
		t.Fatalf("after the put: %d rows in the snapshot, want 10", n)
	}
	if n, err := countRows(t, e, "people"); err != nil || n != 10 {
		t.Fatalf("count after the put = %d, %v; want 10", n, err)
	}

	stats := cc.stats.Load()
	for range 20 {
		if _, err := e.Snapshot(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := cc.stats.Load(); got != stats {
		t.Errorf("20 snapshots of an unchanged store made %d Stats, want 0", got-stats)
	}

	putPeople(t, store, "people.parquet", catalog.Append, 5)
	if n := snapshotRows(t, e, "people.parquet"); n != 15 {
		t.Fatalf("after the append: %d rows, want 15", n)
	}
	if n, err := countRows(t, e, "people"); err != nil || n != 15 {
		t.Fatalf("count after the append = %d, %v; want 15", n, err)
	}

	if err := store.Drop(ctx, "people.parquet"); err != nil {
		t.Fatal(err)
	}
	if n := snapshotRows(t, e, "people.parquet"); n != -1 {
		t.Fatalf("after the drop the snapshot still has people (%d rows)", n)
	}
	if _, err := countRows(t, e, "people"); !errors.Is(err, ErrInvalidSQL) {
		t.Fatalf("query after the drop: %v, want ErrInvalidSQL (no such table)", err)
	}
	if got := cc.lists.Load(); got != lists {
		t.Errorf("put, append and drop made %d listings, want none (Stat of the dataset)", got-lists)
	}
}

// TestSnapshotSeesHandChanges: files copied into the root, rewritten in place or
// deleted by hand are in the next snapshot; a part rewritten in place inside a
// dataset directory (which no stamp of the root shows) within FullScanInterval.
func TestSnapshotSeesHandChanges(t *testing.T) {
	e, store, cc := catalogEngine(t)
	root := store.Root()
	if _, err := e.Snapshot(context.Background()); err != nil {
		t.Fatal(err)
	}

	writePeople(t, root, "hand.parquet", 0, 3)
	if n := snapshotRows(t, e, "hand.parquet"); n != 3 {
		t.Fatalf("copied in: %d rows in the snapshot, want 3", n)
	}
	if n, err := countRows(t, e, "hand"); err != nil || n != 3 {
		t.Fatalf("count of the copied file = %d, %v; want 3", n, err)
	}
	writePeople(t, root, "hand.parquet", 0, 7) // same inode, new size
	if n := snapshotRows(t, e, "hand.parquet"); n != 7 {
		t.Fatalf("rewritten in place: %d rows, want 7", n)
	}
	if n, err := countRows(t, e, "hand"); err != nil || n != 7 {
		t.Fatalf("count after the rewrite = %d, %v; want 7", n, err)
	}

	// Not a dataset: skipped, and not looked at again while it stays the same.
	if err := os.WriteFile(filepath.Join(root, "notes.txt"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Snapshot(context.Background()); err != nil {
		t.Fatal(err)
	}
	stats := cc.stats.Load()
	for range 5 {
		if _, err := e.Snapshot(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if got := cc.stats.Load(); got != stats {
		t.Errorf("an unchanged file that is not a dataset was looked at %d more times", got-stats)
	}

	dir := filepath.Join(root, "parts")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writePeople(t, dir, "a.parquet", 0, 2)
	writePeople(t, dir, "b.parquet", 2, 4)
	if n := snapshotRows(t, e, "parts"); n != 4 {
		t.Fatalf("hand-made directory: %d rows, want 4", n)
	}
	// A part rewritten in place changes no stamp of the root; the next full listing
	// notices it.
	start := time.Now()
	writePeople(t, dir, "b.parquet", 2, 12)
	for snapshotRows(t, e, "parts") != 12 {
		if time.Since(start) > 3*FullScanInterval {
			t.Fatalf("a part rewritten in place was not noticed within %v", 3*FullScanInterval)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n, err := countRows(t, e, "parts"); err != nil || n != 12 {
		t.Fatalf("count after the part's rewrite = %d, %v; want 12", n, err)
	}
	t.Logf("a part rewritten in place was noticed after %v", time.Since(start).Round(time.Millisecond))

	if err := os.Remove(filepath.Join(root, "hand.parquet")); err != nil {
		t.Fatal(err)
	}
	if n := snapshotRows(t, e, "hand.parquet"); n != -1 {
		t.Fatalf("deleted by hand, still in the snapshot with %d rows", n)
	}
	if _, err := countRows(t, e, "hand"); !errors.Is(err, ErrInvalidSQL) {
		t.Fatalf("query of the deleted file: %v, want ErrInvalidSQL", err)
	}
}

// TestTableColumnsAskDuckDBOncePerSchema: a table's columns are learned from DuckDB
// once, kept across appends (same schema), and learned again when a replace
// changes the schema.
func TestTableColumnsAskDuckDBOncePerSchema(t *testing.T) {
	e, store, _ := catalogEngine(t)
	ctx := context.Background()
	putPeople(t, store, "people.parquet", catalog.Create, 3)
	columns := func() *Columns {
		t.Helper()
		snap, err := e.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		info, ok := snap.Dataset("people.parquet")
		if !ok {
			t.Fatal("people.parquet not in the snapshot")
		}
		c, err := e.TableColumns(ctx, []catalog.Info{info})
		if err != nil {
			t.Fatal(err)
		}
		return c[0]
	}
	c := columns()
	if want := []string{"BIGINT", "VARCHAR", "DOUBLE"}; !slices.Equal(c.Types, want) {
		t.Errorf("types = %q, want %q", c.Types, want)
	}
	if c.Schema.NumFields() != 3 || c.Schema.Field(1).Name != "name" {
		t.Errorf("schema = %s", c.Schema)
	}
	learned := e.columns.learned.Load()
	putPeople(t, store, "people.parquet", catalog.Append, 3)
	columns()
	columns()
	if got := e.columns.learned.Load(); got != learned {
		t.Errorf("an append with the same columns asked DuckDB %d more times", got-learned)
	}

	putOther(t, store, "people.parquet", catalog.Replace)
	c = columns()
	if c.Schema.NumFields() != 1 || c.Schema.Field(0).Name != "other" || !slices.Equal(c.Types, []string{"BIGINT"}) {
		t.Errorf("after a replace with other columns: %s %q", c.Schema, c.Types)
	}
	if got := e.columns.learned.Load(); got != learned+1 {
		t.Errorf("the new schema was learned %d times, want 1", got-learned)
	}
}

// TestTableColumnsSharedAcrossDatasets: datasets of the same shape are described by
// DuckDB once, however many requests ask at once (GetTables under load used to
// describe each new dataset once per concurrent request), and each still gets its
// own columns when the shapes differ.
func TestTableColumnsSharedAcrossDatasets(t *testing.T) {
	e, store, _ := catalogEngine(t)
	ctx := context.Background()
	learned := e.columns.learned.Load() // the background pass (columns_warm.go) counts too
	for i := range 8 {
		putPeople(t, store, "people_"+itoa(int64(i))+".parquet", catalog.Create, 3)
	}
	putOther(t, store, "other.parquet", catalog.Create)
	snap, err := e.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	infos := snap.Datasets()
	if len(infos) != 9 {
		t.Fatalf("%d datasets in the snapshot, want 9", len(infos))
	}

	var wg sync.WaitGroup
	results := make([][]*Columns, 16)
	errs := make([]error, len(results))
	for i := range results {
		wg.Go(func() { results[i], errs[i] = e.TableColumns(ctx, infos) })
	}
	wg.Wait()
	if got := e.columns.learned.Load() - learned; got != 2 {
		t.Errorf("16 concurrent listings of 9 datasets of 2 shapes, and the background pass, asked DuckDB %d times, want 2", got)
	}
	for i, cols := range results {
		if errs[i] != nil {
			t.Fatalf("request %d: %v", i, errs[i])
		}
		for j, info := range infos {
			want := []string{"BIGINT", "VARCHAR", "DOUBLE"}
			if info.Name == "other.parquet" {
				want = []string{"BIGINT"}
			}
			if !slices.Equal(cols[j].Types, want) {
				t.Errorf("request %d, %s: types %q, want %q", i, info.Name, cols[j].Types, want)
			}
		}
	}
}

// TestNewDatasetsColumnsLearnedAhead: after a commit, the engine learns a new
// dataset's columns in the background, so that a listing asks DuckDB nothing; a
// dataset of a shape already known is not described again.
func TestNewDatasetsColumnsLearnedAhead(t *testing.T) {
	e, store, _ := catalogEngine(t)
	ctx := context.Background()
	putPeople(t, store, "people.parquet", catalog.Create, 3)
	info := waitKnownColumns(t, e, "people.parquet")
	learned := e.columns.learned.Load()
	cols, err := e.TableColumns(ctx, []catalog.Info{info})
	if err != nil {
		t.Fatal(err)
	}
	if got := e.columns.learned.Load(); got != learned {
		t.Errorf("a listing after the background pass asked DuckDB %d times", got-learned)
	}
	if want := []string{"BIGINT", "VARCHAR", "DOUBLE"}; !slices.Equal(cols[0].Types, want) {
		t.Errorf("types = %q, want %q", cols[0].Types, want)
	}
	putPeople(t, store, "more_people.parquet", catalog.Create, 3)
	waitKnownColumns(t, e, "more_people.parquet")
	if got := e.columns.learned.Load(); got != learned {
		t.Errorf("a second dataset of the same shape was described %d times", got-learned)
	}
}

// waitKnownColumns waits until the engine remembers the columns of dataset, which
// the background pass learns after its commit, and returns its Info.
func waitKnownColumns(t *testing.T, e *Engine, dataset string) catalog.Info {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		snap, err := e.Snapshot(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if info, ok := snap.Dataset(dataset); ok && e.knownColumns(info) {
			return info
		}
		if time.Now().After(deadline) {
			t.Fatalf("columns of %s not learned in the background within 30s", dataset)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// putOther puts 5 rows of one int64 column "other" as name.
func putOther(t *testing.T, store *catalog.Store, name string, mode catalog.PutMode) {
	t.Helper()
	rec := int64Column("other", 5)
	defer rec.Release()
	putRecord(t, store, name, mode, rec)
}

func int64Column(name string, n int64) arrow.RecordBatch {
	b := array.NewRecordBuilder(memory.DefaultAllocator, arrow.NewSchema([]arrow.Field{{Name: name, Type: arrow.PrimitiveTypes.Int64}}, nil))
	defer b.Release()
	for i := range n {
		b.Field(0).(*array.Int64Builder).Append(i)
	}
	return b.NewRecordBatch()
}

// TestSnapshotUnderConcurrentPutsAndDrops: writers put, append and drop while readers
// take snapshots, learn columns and query, pinning the store as the server does; a
// dataset no writer touches always answers, every answer is one a version of the
// data could give, and once the writers stop the snapshot is exactly the store's
// listing and every table counts what the store holds.
func TestSnapshotUnderConcurrentPutsAndDrops(t *testing.T) {
	e, store, _ := catalogEngine(t)
	ctx := context.Background()
	putPeople(t, store, "stable.parquet", catalog.Create, 30)
	const datasets = 3
	stop := make(chan struct{})
	var writers, readers sync.WaitGroup
	errs := make(chan error, 100)
	for w := range datasets {
		writers.Add(1)
		go func() {
			defer writers.Done()
			name := fmt.Sprintf("d%d.parquet", w)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				switch i % 4 {
				case 0, 1:
					putPeople(t, store, name, catalog.CreateOrAppend, 10)
				case 2:
					putPeople(t, store, name, catalog.Replace, 10)
				case 3:
					if err := store.Drop(ctx, name); err != nil && !errors.Is(err, catalog.ErrNotFound) {
						errs <- err
					}
				}
			}
		}()
	}
	for range 3 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				unpin := store.Pin()
				snap, err := e.Snapshot(ctx)
				if err != nil {
					unpin()
					errs <- err
					return
				}
				if _, ok := snap.Dataset("stable.parquet"); !ok {
					errs <- errors.New("stable.parquet missing from a snapshot")
				}
				for _, info := range snap.Datasets() {
					if info.Rows%10 != 0 || info.Rows == 0 {
						errs <- fmt.Errorf("%s: %d rows, not a whole number of puts", info.Name, info.Rows)
					}
					if _, err := e.TableColumns(ctx, []catalog.Info{info}); err != nil {
						errs <- fmt.Errorf("columns of %s: %w", info.Name, err)
					}
					n, err := countRows(t, e, info.Table())
					switch {
					case err != nil && info.Name == "stable.parquet":
						errs <- fmt.Errorf("count %s: %w", info.Table(), err)
					case err != nil:
						// Dropped since the snapshot: a drop moves the files away
						// from under a view, pinned or not.
					case n%10 != 0:
						errs <- fmt.Errorf("count %s = %d, not a whole number of puts", info.Table(), n)
					}
				}
				unpin()
			}
		}()
	}
	time.Sleep(1500 * time.Millisecond)
	close(stop)
	writers.Wait()
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	want, err := store.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := e.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := snap.Datasets()
	if len(got) != len(want) {
		t.Fatalf("after the writers stopped the snapshot has %d datasets, the store %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Name != want[i].Name || got[i].Version != want[i].Version || got[i].Rows != want[i].Rows {
			t.Errorf("snapshot %s v%s (%d rows), store %s v%s (%d rows)",
				got[i].Name, got[i].Version, got[i].Rows, want[i].Name, want[i].Version, want[i].Rows)
		}
		n, err := countRows(t, e, want[i].Table())
		if err != nil || n != want[i].Rows {
			t.Errorf("count %s = %d, %v; want %d", want[i].Table(), n, err, want[i].Rows)
		}
	}
}

// blindCatalog is a store whose Scan never sees a change: what the engine learns, it
// learns from the store's notices (and its periodic full listing).
type blindCatalog struct {
	*catalog.Store
	scan map[string]catalog.EntryStamp
}

func (c *blindCatalog) Scan(context.Context) (map[string]catalog.EntryStamp, error) {
	return c.scan, nil
}

// TestSnapshotHearsTheStore: with a scan that sees nothing, puts and drops through
// the store still reach the very next snapshot and query, by the store's notice.
func TestSnapshotHearsTheStore(t *testing.T) {
	store, err := catalog.Open(t.TempDir(), catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() }) // stops the converter of landed puts
	e, _ := testEngine(t, Config{Root: store.Root(), Catalog: &blindCatalog{Store: store, scan: map[string]catalog.EntryStamp{}}})
	ctx := context.Background()
	if _, err := e.Snapshot(ctx); err != nil {
		t.Fatal(err)
	}
	putPeople(t, store, "heard.parquet", catalog.Create, 4)
	if n := snapshotRows(t, e, "heard.parquet"); n != 4 {
		t.Fatalf("after the put: %d rows, want 4", n)
	}
	if n, err := countRows(t, e, "heard"); err != nil || n != 4 {
		t.Fatalf("count after the put = %d, %v; want 4", n, err)
	}
	putPeople(t, store, "heard.parquet", catalog.Append, 4) // splits the file into parts
	putPeople(t, store, "heard.parquet", catalog.Append, 4) // appends to the directory
	if n, err := countRows(t, e, "heard"); err != nil || n != 12 {
		t.Fatalf("count after two appends = %d, %v; want 12", n, err)
	}
	if err := store.Drop(ctx, "heard.parquet"); err != nil {
		t.Fatal(err)
	}
	if n := snapshotRows(t, e, "heard.parquet"); n != -1 {
		t.Fatalf("after the drop: still in the snapshot with %d rows", n)
	}
}

// TestSameMap: one map is the same as itself, two equal maps are not the same (the
// snapshot then compares them entry by entry).
func TestSameMap(t *testing.T) {
	a := map[string]catalog.EntryStamp{"x.parquet": {Size: 1}}
	b := map[string]catalog.EntryStamp{"x.parquet": {Size: 1}}
	if !sameMap(a, a) {
		t.Error("a map is not the same as itself")
	}
	if sameMap(a, b) {
		t.Error("two maps with equal entries are the same map")
	}
	if sameMap(a, nil) || !sameMap(nil, nil) {
		t.Error("nil maps: want only nil the same as nil")
	}
}
