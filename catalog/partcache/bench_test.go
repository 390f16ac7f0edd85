package partcache_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/quiverdata/quiver/catalog/partcache"
	"github.com/quiverdata/quiver/catalog/storage"
	s3 "github.com/quiverdata/quiver/catalog/storage/s3"
	"github.com/quiverdata/quiver/catalog/storage/s3/s3test"
)

// BenchmarkPartCache reads one 10M-row part (integration's 10Mx4 shape: int64, float64,
// int64, 16-character string; snappy; 2M rows under -short) through the cache from
// versitygw on loopback, and the same file straight from local disk, interleaved in
// each iteration so both see the same machine load.
//
//		go test -tags duckdb_arrow -run '^$' -bench PartCache -benchtime 3x ./catalog/partcache/
//
//	  - cold: an empty cache directory each iteration: Get (the download) plus a read of
//	    the whole file, i.e. a part's first use on a node.
//	  - warm: the part is cached: Get plus a read of the whole file.
//
// QUIVER_BENCH_CACHE_DIR puts the cache directories under another directory (say a
// tmpfs, to take the disk's write speed out of the cold figure).
//
// MB/s is the part's bytes over the cache path's time; local-MB/s the same read of the
// original file; x-local = cache time / local time; peak-RSS-MB is this process's
// (the download streams in 8 MiB chunks, so it does not grow with the part).
func BenchmarkPartCache(b *testing.B) {
	rows := int64(10_000_000)
	if testing.Short() {
		rows = 2_000_000
	}
	ctx := context.Background()
	localPath := filepath.Join(b.TempDir(), "part-0001.parquet")
	writePart(b, localPath, rows)
	st, err := os.Stat(localPath)
	if err != nil {
		b.Fatal(err)
	}
	size := st.Size()

	srv := s3test.Start(b)
	bucket := srv.NewBucket(b)
	bkt, err := s3.Open(ctx, s3.Config{
		URL: "s3://" + bucket + "/bench", Endpoint: srv.Endpoint, Region: s3test.Region, PathStyle: true,
		AccessKey: s3test.AccessKey, SecretKey: s3test.SecretKey,
	})
	if err != nil {
		b.Fatal(err)
	}
	const key = "sales/part-0001.parquet"
	start := time.Now()
	entry := upload(b, bkt, key, localPath)
	b.Logf("part: %d rows, %.1f MB; upload to versitygw %.0f MB/s", rows, float64(size)/1e6,
		float64(size)/1e6/time.Since(start).Seconds())

	run := func(b *testing.B, cold bool, workers int) {
		var c *partcache.Cache
		if !cold {
			c = openCache(b, b.TempDir(), workers)
			_, release, err := c.Get(ctx, bkt, key, entry.Version)
			if err != nil {
				b.Fatal(err)
			}
			release()
		}
		var cacheTime, localTime time.Duration
		b.SetBytes(size)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if cold {
				b.StopTimer()
				c = openCache(b, b.TempDir(), workers)
				b.StartTimer()
			}
			t0 := time.Now()
			path, release, err := c.Get(ctx, bkt, key, entry.Version)
			if err != nil {
				b.Fatal(err)
			}
			readFile(b, path, size)
			release()
			cacheTime += time.Since(t0)

			b.StopTimer()
			t0 = time.Now()
			readFile(b, localPath, size)
			localTime += time.Since(t0)
			if cold {
				c.Close()
			}
			b.StartTimer()
		}
		b.StopTimer()
		b.ReportMetric(float64(size)*float64(b.N)/1e6/localTime.Seconds(), "local-MB/s")
		b.ReportMetric(cacheTime.Seconds()/localTime.Seconds(), "x-local")
		b.ReportMetric(float64(peakRSS())/(1<<20), "peak-RSS-MB")
	}
	b.Run("cold/workers=1", func(b *testing.B) { run(b, true, 1) })
	b.Run("cold/workers=4", func(b *testing.B) { run(b, true, 4) })
	b.Run("warm", func(b *testing.B) { run(b, false, 0) })
}

func openCache(b *testing.B, dir string, workers int) *partcache.Cache {
	if parent := os.Getenv("QUIVER_BENCH_CACHE_DIR"); parent != "" {
		d, err := os.MkdirTemp(parent, "partcache-bench-")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(d) })
		dir = d
	}
	c, err := partcache.Open(dir, partcache.Options{MaxBytes: 4 << 30, FetchWorkers: workers})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

// readFile reads the whole file, as a scan that touches every page would.
func readFile(b *testing.B, path string, size int64) {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	n, err := io.CopyBuffer(io.Discard, f, make([]byte, 1<<20))
	if err != nil || n != size {
		b.Fatalf("read %s: %d bytes, %v; want %d", path, n, err, size)
	}
}

// upload copies the local file to key through a Writer (a multipart upload).
func upload(b *testing.B, bkt storage.Bucket, key, path string) storage.Entry {
	ctx := context.Background()
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	w, err := bkt.Create(ctx, key)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Abort()
	if _, err := io.CopyBuffer(w, f, make([]byte, 1<<20)); err != nil {
		b.Fatal(err)
	}
	e, err := w.Commit(ctx)
	if err != nil {
		b.Fatal(err)
	}
	return e
}

// writePart writes rows of (id, price, qty, sku) to a snappy Parquet file in 64Ki-row
// batches, 1Mi-row groups, streaming.
func writePart(b *testing.B, path string, rows int64) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "price", Type: arrow.PrimitiveTypes.Float64},
		{Name: "qty", Type: arrow.PrimitiveTypes.Int64},
		{Name: "sku", Type: arrow.BinaryTypes.String},
	}, nil)
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Snappy), parquet.WithMaxRowGroupLength(1<<20))
	w, err := pqarrow.NewFileWriter(schema, f, props, pqarrow.DefaultWriterProps())
	if err != nil {
		b.Fatal(err)
	}
	bld := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer bld.Release()
	id, price := bld.Field(0).(*array.Int64Builder), bld.Field(1).(*array.Float64Builder)
	qty, sku := bld.Field(2).(*array.Int64Builder), bld.Field(3).(*array.StringBuilder)
	const batch = 64 << 10
	for start := int64(0); start < rows; start += batch {
		for i := start; i < min(start+batch, rows); i++ {
			id.Append(i)
			price.Append(float64(i%100000) / 100)
			qty.Append(i % 1000)
			sku.Append(fmt.Sprintf("%016x", uint64(i)*0x9E3779B97F4A7C15))
		}
		rec := bld.NewRecordBatch()
		err := w.Write(rec)
		rec.Release()
		if err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
}

// peakRSS is this process's peak resident set in bytes.
func peakRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Maxrss * 1024
}
