package catalog

import (
	"context"
	"errors"
	"os"
	"slices"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/quiverdata/quiver/catalog/storage"
	"github.com/quiverdata/quiver/catalog/storage/local"
)

// openPlainStore opens a store on root through the local backend with its filesystem
// operations hidden: the manifest-only commit path of object storage.
func openPlainStore(t testing.TB, root string) *Store {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	s, err := OpenBucket(context.Background(), plainBucket{testBucket(t, root)}, Options{Logger: quietLogger(), Allocator: mem})
	if err != nil {
		t.Fatal(err)
	}
	if s.files != nil {
		t.Fatal("a plain bucket got the local commit path")
	}
	return s
}

// TestManifestConcurrentAppends has several stores on one root (as several nodes on one
// bucket: no shared mutex, only WriteIf) and several goroutines per store append at
// once, some of them creating the dataset: every acknowledged append is in the result.
func TestManifestConcurrentAppends(t *testing.T) {
	root := t.TempDir()
	const stores, perStore, appends, rows = 3, 3, 4, 10
	nodes := make([]*Store, stores)
	for i := range nodes {
		nodes[i] = openPlainStore(t, root)
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		want []int64
	)
	for n, s := range nodes {
		for g := range perStore {
			wg.Go(func() {
				for a := range appends {
					start := int64(((n*perStore+g)*appends + a) * rows)
					rdr := batches(s.opts.Allocator, start, rows, 1)
					got, err := s.Put(context.Background(), "d", CreateOrAppend, rdr)
					rdr.Release()
					if err != nil || got != rows {
						t.Errorf("node %d goroutine %d append %d: %d rows, %v", n, g, a, got, err)
						continue
					}
					mu.Lock()
					want = append(want, seq(start, rows)...)
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	for i, s := range nodes {
		got := readIDs(t, s, "d")
		slices.Sort(got)
		slices.Sort(want)
		if !equalIDs(got, want) {
			t.Fatalf("node %d reads %d rows %s; %d were acknowledged %s", i, len(got), abbrev(got), len(want), abbrev(want))
		}
	}
	info, err := nodes[0].Stat(context.Background(), "d")
	if err != nil || len(info.Keys) != stores*perStore*appends {
		t.Fatalf("Stat: %d parts, %v; want %d", len(info.Keys), err, stores*perStore*appends)
	}
	if info.Files != nil {
		t.Errorf("a bucket without LocalPath reports files %v", info.Files)
	}
}

// TestManifestOnlyLifecycle drives create, append, replace, drop and create again on
// the manifest-only path, and checks what each refuses.
func TestManifestOnlyLifecycle(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	s := openPlainStore(t, root)
	put(t, s, "d", Create, 0, 10)
	put(t, s, "d", Append, 10, 10)
	assertIDs(t, s, "d", seq(0, 20))
	rdr := batches(s.opts.Allocator, 0, 10, 1)
	if _, err := s.Put(ctx, "d", Create, rdr); !errors.Is(err, ErrAlreadyExists) {
		t.Errorf("Create of an existing dataset: %v, want ErrAlreadyExists", err)
	}
	rdr.Release()
	put(t, s, "d", Replace, 100, 10)
	assertIDs(t, s, "d", seq(100, 10))
	mustDrop(t, s, "d")
	if _, err := s.Stat(ctx, "d"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Stat after drop: %v, want ErrNotFound", err)
	}
	if err := s.Drop(ctx, "d"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second drop: %v, want ErrNotFound", err)
	}
	list, err := s.List(ctx)
	if err != nil || len(list) != 0 {
		t.Errorf("List after drop = %v, %v; want nothing", list, err)
	}
	put(t, s, "d", Create, 200, 10)
	assertIDs(t, s, "d", seq(200, 10))

	// A single file dropped in by hand is read, refused a change in place, dropped.
	writeIDsFile(t, root+"/hand.parquet", 0, 5)
	assertIDs(t, s, "hand.parquet", seq(0, 5))
	rdr = batches(s.opts.Allocator, 5, 5, 1)
	if _, err := s.Put(ctx, "hand.parquet", Append, rdr); !errors.Is(err, ErrReadOnly) {
		t.Errorf("append to a single file: %v, want ErrReadOnly", err)
	}
	rdr.Release()
	assertIDs(t, s, "hand.parquet", seq(0, 5))
	mustDrop(t, s, "hand.parquet")
	if _, err := s.Stat(ctx, "hand.parquet"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Stat after dropping a single file: %v", err)
	}

	// A hand-made directory of parts is adopted by its first append, in order.
	if err := os.Mkdir(root+"/parts", 0o755); err != nil {
		t.Fatal(err)
	}
	writeIDsFile(t, root+"/parts/a.parquet", 0, 5)
	writeIDsFile(t, root+"/parts/b.parquet", 5, 5)
	put(t, s, "parts", Append, 10, 5)
	assertIDs(t, s, "parts", seq(0, 15))
}

// TestManifestWriteIfConflictRetries shows the retry path: a WriteIf that loses to
// another writer re-reads the manifest and still lands the append.
func TestManifestWriteIfConflictRetries(t *testing.T) {
	root := t.TempDir()
	a, b := openPlainStore(t, root), openPlainStore(t, root)
	put(t, a, "d", Create, 0, 10)
	lost := 0
	crashPoint = func(step string) {
		if step == "manifest: read" && lost == 0 {
			lost++
			put(t, b, "d", Append, 100, 10) // b commits between a's write and a's commit
		}
		if step == "manifest: lost a race" {
			lost++
		}
	}
	defer func() { crashPoint = nil }()
	put(t, a, "d", Append, 10, 10)
	crashPoint = nil
	if lost != 2 {
		t.Fatalf("the race was lost %d times, want once", lost-1)
	}
	assertIDs(t, a, "d", concat(seq(0, 10), seq(100, 10), seq(10, 10)))
}

var _ storage.Bucket = plainBucket{}
var _ = local.TempPrefix
