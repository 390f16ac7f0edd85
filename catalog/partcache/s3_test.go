package partcache_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"sync"
	"testing"

	"github.com/quiverdata/quiver/catalog/partcache"
	"github.com/quiverdata/quiver/catalog/storage"
	s3 "github.com/quiverdata/quiver/catalog/storage/s3"
	"github.com/quiverdata/quiver/catalog/storage/s3/s3test"
)

// TestS3ReadThrough: the cache over a real S3 server (versitygw): concurrent Gets of a
// multipart object download it once and read its exact bytes; after the key is
// replaced, the old version is a conflict and the new one a new entry.
func TestS3ReadThrough(t *testing.T) {
	ctx := context.Background()
	srv := s3test.Start(t)
	bkt, err := s3.Open(ctx, s3.Config{
		URL: "s3://" + srv.NewBucket(t) + "/root", Endpoint: srv.Endpoint, Region: s3test.Region, PathStyle: true,
		AccessKey: s3test.AccessKey, SecretKey: s3test.SecretKey, PartSize: s3.MinPartSize,
	})
	if err != nil {
		t.Fatal(err)
	}
	put := func(data []byte) storage.Entry {
		w, err := bkt.Create(ctx, "ds/part-1.parquet")
		if err != nil {
			t.Fatal(err)
		}
		defer w.Abort()
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
		e, err := w.Commit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	first := make([]byte, 21<<20+3) // three 8 MiB chunks, the last short; a multipart object
	for i := range first {
		first[i] = byte(i*7 + i>>20)
	}
	e1 := put(first)

	c, err := partcache.Open(t.TempDir(), partcache.Options{MaxBytes: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const n = 8
	var wg sync.WaitGroup
	paths := make([]string, n)
	for i := range n {
		wg.Go(func() {
			p, release, err := c.Get(ctx, bkt, "ds/part-1.parquet", e1.Version)
			if err != nil {
				t.Errorf("Get %d: %v", i, err)
				return
			}
			defer release()
			got, err := os.ReadFile(p)
			if err != nil || !bytes.Equal(got, first) {
				t.Errorf("Get %d: %s holds %d bytes (%v) unlike the %d uploaded", i, p, len(got), err, len(first))
			}
			paths[i] = p
		})
	}
	wg.Wait()
	if st := c.Stats(); st.Misses != 1 || st.Hits+st.Shared != n-1 {
		t.Fatalf("stats %+v: want one download for %d Gets", st, n)
	}

	second := bytes.Repeat([]byte("v2"), 1000)
	e2 := put(second)
	// The first version is cached: asking for it by version still gets it.
	if p, release, err := c.Get(ctx, bkt, "ds/part-1.parquet", e1.Version); err != nil || p != paths[0] {
		t.Fatalf("Get of the cached first version = %s, %v", p, err)
	} else {
		release()
	}
	// A fresh cache cannot download the first version any more: a conflict, not v2.
	c2, err := partcache.Open(t.TempDir(), partcache.Options{MaxBytes: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if _, _, err := c2.Get(ctx, bkt, "ds/part-1.parquet", e1.Version); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("Get of a replaced version: %v, want ErrConflict", err)
	}
	p, release, err := c2.Get(ctx, bkt, "ds/part-1.parquet", "")
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if got, _ := os.ReadFile(p); !bytes.Equal(got, second) {
		t.Fatalf("Get without a version read %d bytes, want the second version's %d", len(got), len(second))
	}
	if p2, r2, err := c2.Get(ctx, bkt, "ds/part-1.parquet", e2.Version); err != nil || p2 != p {
		t.Fatalf("Get by the second version's ETag = %s, %v; want %s", p2, err, p)
	} else {
		r2()
	}
}
