package catalog

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/quiverdata/quiver/catalog/storage"
	"github.com/quiverdata/quiver/catalog/storage/local"
)

// countingBucket counts the requests a store sends to a bucket without filesystem
// operations (as on object storage).
type countingBucket struct {
	storage.Bucket
	stats, lists, reads, opens atomic.Int64
}

func (c *countingBucket) Stat(ctx context.Context, key string) (storage.Entry, error) {
	c.stats.Add(1)
	return c.Bucket.Stat(ctx, key)
}

func (c *countingBucket) List(ctx context.Context, dir string) ([]storage.Entry, error) {
	c.lists.Add(1)
	return c.Bucket.List(ctx, dir)
}

func (c *countingBucket) ReadVersioned(ctx context.Context, key string) ([]byte, string, error) {
	c.reads.Add(1)
	return c.Bucket.ReadVersioned(ctx, key)
}

func (c *countingBucket) Open(ctx context.Context, key string) (storage.Object, error) {
	c.opens.Add(1)
	return c.Bucket.Open(ctx, key)
}

func (c *countingBucket) requests() int64 {
	return c.stats.Load() + c.lists.Load() + c.reads.Load() + c.opens.Load()
}

func (c *countingBucket) reset() {
	c.stats.Store(0)
	c.lists.Store(0)
	c.reads.Store(0)
	c.opens.Store(0)
}

// countedMultiPart opens a store on an object-storage bucket whose requests it
// counts, holding dataset "d" of parts parts (10 rows each).
func countedMultiPart(t *testing.T, parts int) (*Store, *countingBucket) {
	t.Helper()
	b, err := local.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cb := &countingBucket{Bucket: b}
	s, err := OpenBucket(context.Background(), cb, Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	put(t, s, "d", Create, 0, 10)
	for i := 1; i < parts; i++ {
		put(t, s, "d", Append, int64(i*10), 10)
	}
	return s, cb
}

// TestListCostOnObjectStorage: on object storage, listing a multi-part dataset whose
// manifest has not changed costs one LIST and one GET of the manifest, not a HEAD
// per part; after a commit, the new parts are seen.
func TestListCostOnObjectStorage(t *testing.T) {
	ctx := context.Background()
	const parts = 8
	s, cb := countedMultiPart(t, parts)
	if _, err := s.List(ctx); err != nil { // warms the metadata cache
		t.Fatal(err)
	}

	cb.reset()
	infos, err := s.List(ctx)
	if err != nil || len(infos) != 1 || len(infos[0].Keys) != parts || infos[0].Rows != parts*10 {
		t.Fatalf("List = %+v, %v", infos, err)
	}
	t.Logf("warm List of one %d-part dataset: %d requests (%d stat, %d list, %d manifest reads, %d opens)",
		parts, cb.requests(), cb.stats.Load(), cb.lists.Load(), cb.reads.Load(), cb.opens.Load())
	if cb.stats.Load() != 0 || cb.requests() != 2 {
		t.Fatalf("warm List sent %d requests (%d stat); want 2: the listing and the manifest", cb.requests(), cb.stats.Load())
	}

	// A commit changes the manifest: the next List sees the new part.
	put(t, s, "d", Append, 1000, 10)
	infos, err = s.List(ctx)
	if err != nil || len(infos) != 1 || len(infos[0].Keys) != parts+1 || infos[0].Rows != parts*10+10 {
		t.Fatalf("List after an append = %+v, %v; want %d parts", infos, err, parts+1)
	}
	assertIDs(t, s, "d", concat(seq(0, parts*10), seq(1000, 10)))
}

// TestStatAfterAppendReadsOneFooter: the metadata of a dataset's new version reads
// only the footers of the parts it has not seen: after an append to an 8-part
// dataset, one footer, not nine (the SQL engine's catalog re-reads a dataset each
// time it changes, and under load appends arrive many times a second).
func TestStatAfterAppendReadsOneFooter(t *testing.T) {
	ctx := context.Background()
	const parts = 8
	s, cb := countedMultiPart(t, parts)
	if _, err := s.Stat(ctx, "d"); err != nil { // warms the metadata cache
		t.Fatal(err)
	}
	put(t, s, "d", Append, 1000, 10)
	cb.reset()
	info, err := s.Stat(ctx, "d")
	if err != nil || len(info.Keys) != parts+1 || info.Rows != parts*10+10 {
		t.Fatalf("Stat after an append = %+v, %v; want %d parts, %d rows", info, err, parts+1, parts*10+10)
	}
	if got := cb.opens.Load(); got != 1 {
		t.Fatalf("Stat after an append opened %d parts to read their footers, want 1", got)
	}

	// A replace writes all new parts: every footer is read again.
	put(t, s, "d", Replace, 0, 10)
	cb.reset()
	info, err = s.Stat(ctx, "d")
	if err != nil || info.Rows != 10 {
		t.Fatalf("Stat after a replace = %+v, %v; want 10 rows", info, err)
	}
	if got := cb.opens.Load(); got != int64(len(info.Keys)) {
		t.Fatalf("Stat after a replace opened %d parts, want %d", got, len(info.Keys))
	}
	assertIDs(t, s, "d", seq(0, 10))
}
