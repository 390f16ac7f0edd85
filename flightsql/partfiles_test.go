package flightsql

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/quiverdata/quiver/catalog"
	"github.com/quiverdata/quiver/catalog/partcache"
	"github.com/quiverdata/quiver/catalog/storage"
	"github.com/quiverdata/quiver/catalog/storage/local"
)

func writeObject(t *testing.T, bucket storage.Bucket, key string, data []byte) {
	t.Helper()
	ctx := context.Background()
	w, err := bucket.Create(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestPartFilesLeaseUntilUnpinned: a query's lease holds a version's cached parts;
// once the last lease ends they stay until every pin taken before is released, and
// a pin taken after does not keep them; then the cache may evict them.
func TestPartFilesLeaseUntilUnpinned(t *testing.T) {
	ctx := context.Background()
	bucket, err := local.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	writeObject(t, bucket, "ds/p1", []byte("0123456789"))
	writeObject(t, bucket, "ds/p2", []byte("abcdefghij"))
	// A budget of one part: whatever is released beyond it is evicted at once.
	cache, err := partcache.Open(t.TempDir(), partcache.Options{MaxBytes: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()
	pf, err := newPartFiles(cache, bucket)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.close()

	// 20 bytes: more than half the budget, so the lease is not kept idle.
	v1 := catalog.Info{Name: "ds", Keys: []string{"ds/p1", "ds/p2"}, Version: "v1", Bytes: 20}
	release1, err := pf.lease(ctx, []catalog.Info{v1})
	if err != nil {
		t.Fatal(err)
	}
	files := pf.leases["ds"].files
	release2, err := pf.lease(ctx, []catalog.Info{v1})
	if err != nil || pf.leases["ds"].refs != 2 || cache.Stats().Hits != 0 {
		t.Fatalf("second lease of v1: %v, stats %+v; want the same lease, without a new Get", err, cache.Stats())
	}
	if got, err := pf.viewFiles(ctx, v1); err != nil || len(got) != 2 || got[0] != files[0] {
		t.Fatalf("viewFiles of a leased version = %v, %v; want its parts %v", got, err, files)
	}
	before := pf.pin()
	release1()
	release1() // idempotent
	release2()
	after := pf.pin()
	for _, f := range files {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("%s went while a pin taken before the lease ended was held: %v", f, err)
		}
	}
	if st := cache.Stats(); st.Evictions != 0 {
		t.Fatalf("evicted while pinned: %+v", st)
	}
	before()
	// Released, the two 10-byte parts are over the 10-byte budget: one is evicted,
	// though a pin taken after the lease ended is still held.
	left := 0
	for _, f := range files {
		if _, err := os.Stat(f); err == nil {
			left++
		}
	}
	if st := cache.Stats(); left != 1 || st.Bytes != 10 || st.Evictions != 1 {
		t.Fatalf("after the last older pin: %d of 2 parts left, stats %+v; want one evicted", left, st)
	}
	after()
	if len(pf.leases) != 0 || len(pf.retired) != 0 {
		t.Fatalf("leases %v, retired %d left", pf.leases, len(pf.retired))
	}
}

// TestPartFilesIdleLease: a lease no query holds is kept, its view unchanged, while
// its parts fit in half the cache's budget; a query finds it without a download, and
// a new version of the dataset ends it. Generation moves when a lease is taken or
// ended, not when an idle one is found again, so the engine rebuilds views only then.
func TestPartFilesIdleLease(t *testing.T) {
	ctx := context.Background()
	bucket, err := local.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	writeObject(t, bucket, "ds/p1", []byte("0123456789"))
	cache, err := partcache.Open(t.TempDir(), partcache.Options{MaxBytes: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()
	pf, err := newPartFiles(cache, bucket)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.close()
	v1 := catalog.Info{Name: "ds", Keys: []string{"ds/p1"}, Version: "v1", Bytes: 10}
	pf.synced([]catalog.Info{v1})
	gen := pf.Generation()
	release, err := pf.lease(ctx, []catalog.Info{v1})
	if err != nil {
		t.Fatal(err)
	}
	if pf.Generation() == gen {
		t.Fatal("Generation did not move when a lease was taken")
	}
	gen = pf.Generation()
	files := pf.leases["ds"].files
	release()
	if got, err := pf.viewFiles(ctx, v1); err != nil || len(got) != 1 || got[0] != files[0] {
		t.Fatalf("viewFiles of an idle lease = %v, %v; want its parts %v", got, err, files)
	}
	release, err = pf.lease(ctx, []catalog.Info{v1})
	if err != nil || cache.Stats().Misses != 1 {
		t.Fatalf("lease of an idle version: %v, cache %+v; want no new download", err, cache.Stats())
	}
	release()
	if pf.Generation() != gen {
		t.Fatal("Generation moved though the view files did not change")
	}
	v2 := v1
	v2.Version = "v2"
	pf.synced([]catalog.Info{v2})
	if pf.Generation() == gen {
		t.Fatal("Generation did not move when an idle lease ended")
	}
	if len(pf.leases) != 0 || len(pf.idle) != 0 || pf.idleBytes != 0 {
		t.Fatalf("after a new version: leases %v, idle %d (%d bytes); want none", pf.leases, len(pf.idle), pf.idleBytes)
	}
	if st := cache.Stats(); st.Entries != 1 {
		t.Fatalf("cache %+v", st)
	}
}

// TestPartFilesSchemaFile: an unleased dataset's view names a local schema file
// with the first part's Parquet schema and no rows, written from its footer without
// downloading the part; a new version gets a new file, and the old one is removed
// once no pin from before is held.
func TestPartFilesSchemaFile(t *testing.T) {
	ctx := context.Background()
	bucket, err := local.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
		{Name: "tags", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	b.Field(0).(*array.Int64Builder).AppendValues([]int64{1, 2, 3}, nil)
	b.Field(1).AppendNulls(3)
	b.Field(2).AppendNulls(3)
	rec := b.NewRecordBatch()
	defer rec.Release()
	var buf bytes.Buffer
	if err := pqarrow.WriteTable(array.NewTableFromRecords(schema, []arrow.RecordBatch{rec}), &buf, 3, nil, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema())); err != nil {
		t.Fatal(err)
	}
	writeObject(t, bucket, "ds/p1.parquet", buf.Bytes())

	cache, err := partcache.Open(t.TempDir(), partcache.Options{MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()
	pf, err := newPartFiles(cache, bucket)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.close()

	v1 := catalog.Info{Name: "ds", Keys: []string{"ds/p1.parquet"}, Version: "v1"}
	got, err := pf.viewFiles(ctx, v1)
	if err != nil || len(got) != 1 {
		t.Fatalf("viewFiles = %v, %v", got, err)
	}
	if st := cache.Stats(); st.Bytes != 0 || st.Misses != 0 {
		t.Fatalf("a schema file downloaded parts: cache stats %+v", st)
	}
	rows, gotSchema := parquetSchema(t, func() (*file.Reader, error) { return file.OpenParquetFile(got[0], false) })
	_, wantSchema := parquetSchema(t, func() (*file.Reader, error) { return file.NewParquetReader(bytes.NewReader(buf.Bytes())) })
	if rows != 0 || !gotSchema.Equal(wantSchema) {
		t.Fatalf("schema file: %d rows, schema %s; want 0 rows, %s", rows, gotSchema, wantSchema)
	}

	unpin := pf.pin()
	v2 := v1
	v2.Version = "v2"
	got2, err := pf.viewFiles(ctx, v2)
	if err != nil || got2[0] == got[0] {
		t.Fatalf("viewFiles of v2 = %v, %v; want a new file", got2, err)
	}
	if _, err := os.Stat(got[0]); err != nil {
		t.Fatalf("v1's schema file went while a pin from before was held: %v", err)
	}
	unpin()
	if _, err := os.Stat(got[0]); !os.IsNotExist(err) {
		t.Fatalf("v1's schema file after the pin: %v, want it removed", err)
	}
	pf.synced(nil) // dropped
	if _, err := os.Stat(got2[0]); !os.IsNotExist(err) {
		t.Fatalf("a dropped dataset's schema file: %v, want it removed", err)
	}
}

// parquetSchema returns the row count and Arrow schema of the Parquet file open opens.
func parquetSchema(t *testing.T, open func() (*file.Reader, error)) (int64, *arrow.Schema) {
	t.Helper()
	rdr, err := open()
	if err != nil {
		t.Fatalf("not Parquet: %v", err)
	}
	defer rdr.Close()
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	s, err := fr.Schema()
	if err != nil {
		t.Fatal(err)
	}
	return rdr.NumRows(), s
}
