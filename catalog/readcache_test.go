package catalog

import (
	"context"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/quiverdata/quiver/catalog/partcache"
	"github.com/quiverdata/quiver/catalog/storage"
	"github.com/quiverdata/quiver/catalog/storage/local"
)

// rangeCountingBucket is a bucket without filesystem operations (as on object storage)
// that counts the ReadAt calls made on the objects it opens.
type rangeCountingBucket struct {
	storage.Bucket
	reads atomic.Int64
}

func (b *rangeCountingBucket) Open(ctx context.Context, key string) (storage.Object, error) {
	o, err := b.Bucket.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	return &rangeCountingObject{Object: o, reads: &b.reads}, nil
}

type rangeCountingObject struct {
	storage.Object
	reads *atomic.Int64
}

func (o *rangeCountingObject) ReadAt(p []byte, off int64) (int, error) {
	o.reads.Add(1)
	return o.Object.ReadAt(p, off)
}

// openCachedStore opens a store on a bucket without filesystem operations whose plain
// reads go through a part cache of budget bytes, with a checked allocator.
func openCachedStore(t *testing.T, budget int64) (*Store, *rangeCountingBucket, *partcache.Cache) {
	t.Helper()
	b, err := local.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cache, err := partcache.Open(t.TempDir(), partcache.Options{MaxBytes: budget, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cache.Close() })
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	rb := &rangeCountingBucket{Bucket: b}
	s, err := OpenBucket(context.Background(), rb, Options{Logger: quietLogger(), Allocator: mem, PartCache: cache})
	if err != nil {
		t.Fatal(err)
	}
	return s, rb, cache
}

// waitHeld waits (up to 5 s) until the cache holds n entries: a part closed while its
// download syncs is let go when the download ends.
func waitHeld(t *testing.T, c *partcache.Cache, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for c.Stats().Held != n {
		if time.Now().After(deadline) {
			t.Fatalf("cache stats %+v; want %d entries held", c.Stats(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// readHolding reads the dataset through Open, checking after every batch that the
// cache holds 1 or 2 entries, and returns its ids.
func readHolding(t *testing.T, s *Store, cache *partcache.Cache, name string) []int64 {
	t.Helper()
	r, err := s.Open(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	var ids []int64
	for r.Next() {
		if held := cache.Stats().Held; held < 1 || held > 2 {
			t.Fatalf("%d parts held in the cache while reading; want the one read, and the next", held)
		}
		col := r.RecordBatch().Column(0).(*array.Int64)
		ids = append(ids, col.Int64Values()...)
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}

// TestReadThroughPartCache: on object storage a plain read downloads each part into
// the part cache once and reads it there (no ranged read of the object by the reader),
// holding at most the part it reads and the next; a second read is all cache hits; a
// reader released early lets go of everything, the prefetched part included.
func TestReadThroughPartCache(t *testing.T) {
	ctx := context.Background()
	s, rb, cache := openCachedStore(t, 1<<30)
	const parts = 4
	for i := range parts {
		mode := Append
		if i == 0 {
			mode = Create
		}
		put(t, s, "d", mode, int64(i)*1000, 1000)
	}
	want := seq(0, parts*1000)

	if got := readHolding(t, s, cache, "d"); !equalIDs(got, want) {
		t.Fatalf("read %s, want %s", abbrev(got), abbrev(want))
	}
	waitHeld(t, cache, 0)
	st := cache.Stats()
	if st.Misses != parts || st.NoRoom != 0 {
		t.Fatalf("first read: cache stats %+v; want %d downloads", st, parts)
	}

	// Warm: every part from the cache, and the reader reads no range of an object.
	rb.reads.Store(0)
	if got := readHolding(t, s, cache, "d"); !equalIDs(got, want) {
		t.Fatalf("second read: %s, want %s", abbrev(got), abbrev(want))
	}
	if st := cache.Stats(); st.Misses != parts || st.Hits < parts {
		t.Fatalf("second read: cache stats %+v; want %d hits, no new download", st, parts)
	}
	if n := rb.reads.Load(); n != 0 {
		t.Fatalf("second read made %d ranged reads of the objects; want 0 (all from the cache)", n)
	}

	// Released after one batch: the held part and the prefetched one are let go.
	r, err := s.Open(ctx, "d")
	if err != nil {
		t.Fatal(err)
	}
	if !r.Next() {
		t.Fatalf("first batch: %v", r.Err())
	}
	if held := cache.Stats().Held; held < 1 {
		t.Fatalf("reading part 0 with %d parts held; want it held", held)
	}
	r.Release()
	waitHeld(t, cache, 0)
}

// TestReadFallsBackWhenCacheIsFull: when the parts others hold (SQL's leases) leave no
// room in the budget, a plain read does not fail and does not push them out: it
// shares the part that is cached already and reads the others with ranged reads.
func TestReadFallsBackWhenCacheIsFull(t *testing.T) {
	ctx := context.Background()
	s, rb, cache := openCachedStore(t, 1<<30)
	const parts = 3
	for i := range parts {
		mode := Append
		if i == 0 {
			mode = Create
		}
		put(t, s, "d", mode, int64(i)*1000, 1000)
	}
	info, err := s.Stat(ctx, "d")
	if err != nil {
		t.Fatal(err)
	}
	// A budget of exactly the first part, held by someone else (as a query's lease).
	st0, err := rb.Stat(ctx, info.Keys[0])
	if err != nil {
		t.Fatal(err)
	}
	small, err := partcache.Open(t.TempDir(), partcache.Options{MaxBytes: st0.Size, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer small.Close()
	s.opts.PartCache = small
	cache.Close()
	leased, release, err := small.Get(ctx, rb, info.Keys[0], "")
	if err != nil {
		t.Fatal(err)
	}
	defer release()

	rb.reads.Store(0)
	if got, want := readIDs(t, s, "d"), seq(0, parts*1000); !equalIDs(got, want) {
		t.Fatalf("read %s, want %s", abbrev(got), abbrev(want))
	}
	st := small.Stats()
	if st.NoRoom != parts-1 || st.Misses != 1 || st.Hits != 1 || st.Evictions != 0 {
		t.Fatalf("cache stats %+v; want the leased part shared, the other %d refused, nothing evicted", st, parts-1)
	}
	if rb.reads.Load() == 0 {
		t.Fatal("no ranged reads: the parts without room were not read from the bucket")
	}
	if _, err := os.Stat(leased); err != nil {
		t.Fatalf("the leased part's file: %v", err)
	}
}
