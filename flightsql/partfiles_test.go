package flightsql

import (
	"context"
	"os"
	"testing"

	"github.com/quiverdata/quiver/catalog"
	"github.com/quiverdata/quiver/catalog/partcache"
	"github.com/quiverdata/quiver/catalog/storage/local"
)

// TestPartFilesHoldUntilUnpinned: a dataset version's cached parts stay while a view
// names them, and a replaced or dropped version's stay until the last query pin taken
// before the change is released; then the cache may evict them.
func TestPartFilesHoldUntilUnpinned(t *testing.T) {
	ctx := context.Background()
	bucket, err := local.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	write := func(key, data string) {
		w, err := bucket.Create(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(data)); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	write("ds/p1", "0123456789")
	write("ds/p2", "abcdefghij")
	// A budget of one part: whatever is released beyond it is evicted at once.
	cache, err := partcache.Open(t.TempDir(), partcache.Options{MaxBytes: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()
	pf := newPartFiles(cache, bucket)

	v1 := catalog.Info{Name: "ds", Keys: []string{"ds/p1"}, Version: "v1"}
	files1, err := pf.Files(ctx, v1)
	if err != nil || len(files1) != 1 {
		t.Fatalf("files(v1) = %v, %v", files1, err)
	}
	again, err := pf.Files(ctx, v1)
	if err != nil || again[0] != files1[0] || cache.Stats().Hits != 0 {
		t.Fatalf("files(v1) again = %v, %v (stats %+v); want the held files without a new Get", again, err, cache.Stats())
	}

	unpin := pf.pin()
	v2 := catalog.Info{Name: "ds", Keys: []string{"ds/p1", "ds/p2"}, Version: "v2"}
	files2, err := pf.Files(ctx, v2)
	if err != nil || len(files2) != 2 {
		t.Fatalf("files(v2) = %v, %v", files2, err)
	}
	pf.KeepOnly(map[string]bool{}) // dropped
	for _, f := range append(files1, files2...) {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("%s went while a query pin was held: %v", f, err)
		}
	}
	unpin()
	unpin() // idempotent
	// Released, the two 10-byte parts are over the 10-byte budget: one is evicted.
	left := 0
	for _, f := range files2 {
		if _, err := os.Stat(f); err == nil {
			left++
		}
	}
	if st := cache.Stats(); left != 1 || st.Bytes != 10 || st.Evictions != 1 {
		t.Fatalf("after the last pin: %d of 2 parts left, stats %+v; want one evicted", left, st)
	}
}
