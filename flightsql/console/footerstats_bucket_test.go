package console

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/quiverdata/quiver/catalog"
	"github.com/quiverdata/quiver/catalog/partcache"
	"github.com/quiverdata/quiver/catalog/storage"
	"github.com/quiverdata/quiver/catalog/storage/local"
	"github.com/quiverdata/quiver/flightsql"
	"github.com/quiverdata/quiver/flightsql/engine"
)

// remoteBucket hides the local bucket's file paths: to the store it is object
// storage, whose datasets have no Info.Files.
type remoteBucket struct{ storage.Bucket }

// TestFooterStatsOnObjectStorage: a store on object storage has no local files; the
// footers are read from the bucket, and the statistics are the same as on disk.
func TestFooterStatsOnObjectStorage(t *testing.T) {
	ctx := context.Background()
	log := quietLogger()
	b, err := local.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	store, err := catalog.OpenBucket(ctx, remoteBucket{b}, catalog.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() }) // stops the converter of landed puts
	cache, err := partcache.Open(t.TempDir(), partcache.Options{MaxBytes: 1 << 30, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := flightsql.NewService(ctx, flightsql.ServiceConfig{Store: store, PartCache: cache, Logger: log, Version: "test",
		Allocator: memory.NewGoAllocator(), Engine: engine.Config{Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	c, err := New(Config{Service: svc, Store: store, Logger: log, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(c)
	t.Cleanup(hs.Close)
	e := &env{t: t, store: store, svc: svc, console: c, srv: hs}

	schema := allTypesSchema()
	putJSON(t, store, "alltypes.parquet", catalog.Create, schema, allTypesPart1)
	putJSON(t, store, "alltypes.parquet", catalog.Append, schema, allTypesPart2)
	info, err := store.Stat(ctx, "alltypes.parquet")
	if err != nil || info.Files != nil || len(info.Keys) != 2 {
		t.Fatalf("want a dataset of two parts with no local files: %+v %v", info, err)
	}
	d := describe(t, e, "alltypes.parquet")
	want := sqlStats(t, e, "alltypes", schema)
	for _, st := range d.Stats {
		w, flat := want[st.Column]
		if !flat {
			continue
		}
		if st.Nulls == nil || st.Min == nil || st.Max == nil || *st.Min != w[1] || *st.Max != w[2] {
			t.Errorf("%s: %s, the scan %q", st.Column, mustJSON(st), w)
		}
	}
}
