package integration

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	fsql "github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	s3 "github.com/quiverdata/quiver/catalog/storage/s3"
	"github.com/quiverdata/quiver/catalog/storage/s3/s3test"
)

// BenchmarkS3 compares a dataset root on S3 (versitygw on loopback) with a local one,
// each served by the real binary: the 10Mx4 dataset of BenchmarkDoGet as one Parquet
// file (snappy, 128Ki-row groups), the same bytes in both roots.
//
//		go test -tags duckdb_arrow -run '^$' -bench S3 -benchtime 3x ./integration/
//
//	  - sql/local, sql/s3-warm: an aggregate over every row (count, sum(price),
//	    max(sku)) on a running server; on S3 the part is already in the cache.
//	  - sql/s3-first: the same query as the first request of a fresh server with an
//	    empty cache: listing the bucket, reading the footer, downloading the part into
//	    the cache, then DuckDB. Starting the server is outside the timer.
//	  - doget/local, doget/s3: DoGet of every row (plain Flight reads the part itself,
//	    with ranged GETs on S3, not through the cache).
//
// server-peak-MB is the server's VmHWM at the end of the sub-benchmark.
func BenchmarkS3(b *testing.B) {
	if testing.Short() {
		b.Skip("10M rows")
	}
	ctx := context.Background()
	d := wide()
	defer d.release()
	localRoot := b.TempDir()
	file := filepath.Join(localRoot, "bench.parquet")
	writeBenchParquet(b, file, d)

	s3srv := s3test.Start(b)
	bucket := s3srv.NewBucket(b)
	bkt, err := s3.Open(ctx, s3.Config{URL: "s3://" + bucket + "/warehouse", Endpoint: s3srv.Endpoint,
		Region: s3test.Region, PathStyle: true, AccessKey: s3test.AccessKey, SecretKey: s3test.SecretKey})
	if err != nil {
		b.Fatal(err)
	}
	uploadFile(b, bkt, "bench.parquet", file)
	b.Setenv("AWS_ACCESS_KEY_ID", s3test.AccessKey)
	b.Setenv("AWS_SECRET_ACCESS_KEY", s3test.SecretKey)
	b.Setenv("AWS_REGION", s3test.Region)
	b.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	s3Args := func(cacheDir string) []string {
		return []string{"--root", "s3://" + bucket + "/warehouse", "--addr", "127.0.0.1:0", "--s3-endpoint", s3srv.Endpoint,
			"--s3-path-style", "--cache-dir", cacheDir, "--cache-size", "4GiB"}
	}
	localArgs := []string{"--root", localRoot, "--addr", "127.0.0.1:0"}
	const query = "SELECT count(*) AS n, sum(price) AS total, max(sku) AS top FROM bench"

	sqlOnce := func(b *testing.B, addr string) {
		cl, err := fsql.NewClient(addr, nil, nil, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			b.Fatal(err)
		}
		defer cl.Close()
		if n, err := runQuery(ctx, cl, query); err != nil || n != 1 {
			b.Fatalf("query: %d rows, %v", n, err)
		}
	}
	reportPeak := func(b *testing.B, p *quiverProcess) {
		if m, err := readProcMemory(p.cmd.Process.Pid); err == nil {
			b.ReportMetric(float64(m.hwm)/1e6, "server-peak-MB")
		}
	}
	warmSQL := func(b *testing.B, args []string) {
		p := startQuiver(b, b.TempDir(), args...)
		sqlOnce(b, p.addr) // views made, the part cached
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			sqlOnce(b, p.addr)
		}
		b.StopTimer()
		reportPeak(b, p)
	}
	b.Run("sql/local", func(b *testing.B) { warmSQL(b, localArgs) })
	b.Run("sql/s3-warm", func(b *testing.B) { warmSQL(b, s3Args(b.TempDir())) })
	b.Run("sql/s3-first", func(b *testing.B) {
		var peak float64
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			p := startQuiver(b, b.TempDir(), s3Args(b.TempDir())...)
			b.StartTimer()
			sqlOnce(b, p.addr)
			b.StopTimer()
			if m, err := readProcMemory(p.cmd.Process.Pid); err == nil {
				peak = max(peak, float64(m.hwm)/1e6)
			}
			p.terminate(b, 30*time.Second)
			b.StartTimer()
		}
		b.ReportMetric(peak, "server-peak-MB")
	})
	doget := func(b *testing.B, args []string) {
		p := startQuiver(b, b.TempDir(), args...)
		c := (&testServer{Addr: p.addr}).client(b)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if rows := benchGet(b, c); rows != d.rows {
				b.Fatalf("DoGet read %d rows, want %d", rows, d.rows)
			}
		}
		b.StopTimer()
		b.SetBytes(d.bytes)
		b.ReportMetric(float64(d.rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		reportPeak(b, p)
	}
	b.Run("doget/local", func(b *testing.B) { doget(b, localArgs) })
	b.Run("doget/s3", func(b *testing.B) { doget(b, s3Args(b.TempDir())) })
}

// writeBenchParquet writes d to path as the store would: snappy, 128Ki-row groups.
func writeBenchParquet(b *testing.B, path string, d *benchData) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Snappy), parquet.WithMaxRowGroupLength(128<<10))
	w, err := pqarrow.NewFileWriter(d.schema, f, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		b.Fatal(err)
	}
	for _, r := range d.recs {
		if err := w.Write(r); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
}

// uploadFile copies a local file to key through the S3 backend (a multipart upload).
func uploadFile(b *testing.B, bkt *s3.Bucket, key, path string) {
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
	if _, err := io.Copy(w, f); err != nil {
		b.Fatal(err)
	}
	if _, err := w.Commit(ctx); err != nil {
		b.Fatal(err)
	}
}
