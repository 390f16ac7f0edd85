//go:build duckdb_arrow

package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/quiverdata/quiver/catalog"
)

// switchFiles is a LocalFiles that lends either a dataset's own files or one file
// with no rows standing for them, as object storage lends a schema file while no
// query reads the dataset.
type switchFiles struct {
	standIn string
	real    atomic.Bool
	gen     atomic.Uint64
	// unmarked makes StandIn deny the stand-in, so that a statement reads it: for
	// checks that must hold even when the engine's stand-in check does not see one.
	unmarked atomic.Bool

	mu     sync.Mutex
	synced []string // dataset names of the last Synced
}

func (f *switchFiles) Files(_ context.Context, info catalog.Info) ([]string, error) {
	if f.real.Load() {
		return info.Files, nil
	}
	return []string{f.standIn}, nil
}

func (f *switchFiles) Synced(datasets []catalog.Info) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.synced = f.synced[:0]
	for _, info := range datasets {
		f.synced = append(f.synced, info.Name)
	}
}

func (f *switchFiles) Generation() uint64 { return f.gen.Load() }

func (f *switchFiles) StandIn(file string) bool { return !f.unmarked.Load() && file == f.standIn }

// TestLocalFilesRebuildViews checks when the views follow what LocalFiles lends for
// an unchanged snapshot: a Generation change rebuilds them before the next
// statement, RefreshViews rebuilds them at once, and nothing else does (a statement
// on an unchanged snapshot and Generation does not call Files).
func TestLocalFilesRebuildViews(t *testing.T) {
	e, store, _ := catalogEngine(t)
	dir := filepath.Join(store.Root(), ".standin") // dot names are not datasets
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	lf := &switchFiles{standIn: writePeople(t, dir, "people.parquet", 0, 0)}
	e.SetLocalFiles(lf)
	putPeople(t, store, "people.parquet", catalog.Create, 10)
	ctx := context.Background()
	// A landed put is notified twice, when it lands and when its conversion commits:
	// wait for the commit, so that the views are built once, below.
	if _, err := store.Stat(ctx, "people.parquet"); err != nil {
		t.Fatal(err)
	}

	count := func(want int64) {
		t.Helper()
		n, err := countRows(t, e, "people")
		if want < 0 {
			// The view names the stand-in: a statement never reads it as the data.
			if !errors.Is(err, ErrViewsMoved) || !strings.Contains(err.Error(), `table "people"`) {
				t.Fatalf("count(*) on the stand-in = %d, %v; want ErrViewsMoved naming the table", n, err)
			}
			return
		}
		if err != nil || n != want {
			t.Fatalf("count(*) = %d, %v; want %d", n, err, want)
		}
	}
	const standIn = -1
	count(standIn)
	lf.mu.Lock()
	if len(lf.synced) != 1 || lf.synced[0] != "people.parquet" {
		t.Errorf("Synced got %q, want the snapshot's [people.parquet]", lf.synced)
	}
	lf.mu.Unlock()

	lf.real.Store(true) // Generation unchanged: the views stay as built
	count(standIn)
	if err := e.RefreshViews(ctx); err != nil {
		t.Fatal(err)
	}
	count(10)

	lf.real.Store(false)
	lf.gen.Add(1)
	count(standIn)

	// A change to the store still rebuilds them, with the files lent then.
	lf.real.Store(true)
	putPeople(t, store, "people.parquet", catalog.Replace, 4)
	count(4)
}

// TestDescribeBoundOnAStandIn: DescribeBound runs a statement only to learn its
// result's schema, so it may run where a view names a stand-in (object storage, no
// lease), which has the dataset's schema; a query there is refused.
func TestDescribeBoundOnAStandIn(t *testing.T) {
	e, store, _ := catalogEngine(t)
	dir := filepath.Join(store.Root(), ".standin")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	lf := &switchFiles{standIn: writePeople(t, dir, "people.parquet", 0, 0)}
	e.SetLocalFiles(lf)
	putPeople(t, store, "people.parquet", catalog.Create, 10)
	ctx := context.Background()
	const sql = "SELECT coalesce(id, ?) AS n FROM people"
	params := record(t, arrow.NewSchema([]arrow.Field{{Name: "p", Type: arrow.PrimitiveTypes.Float64}}, nil),
		func(b *array.RecordBuilder) { b.Field(0).(*array.Float64Builder).Append(1.5) })
	d, err := e.DescribeBound(ctx, sql, params, 0)
	if err != nil {
		t.Fatalf("DescribeBound on a stand-in: %v", err)
	}
	if got := d.Schema.Field(0).Type; !arrow.TypeEqual(got, arrow.PrimitiveTypes.Float64) {
		t.Errorf("DescribeBound: column n is %s, want float64", got)
	}
	if _, err := e.Query(ctx, sql, params, 0); !errors.Is(err, ErrViewsMoved) {
		t.Errorf("Query on a stand-in = %v, want ErrViewsMoved", err)
	}
}
