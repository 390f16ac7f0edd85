package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/flight"
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
// each served by the real binary, in one run: the 10Mx4 dataset of BenchmarkDoGet
// (its first $QUIVER_BENCH_S3_ROWS rows when set) as one Parquet file (snappy, 128Ki-row groups), the same bytes
// in both roots, and on S3 the same rows again as a dataset of 8 parts.
//
//		go test -tags duckdb_arrow -run '^$' -bench 'BenchmarkS3$' -benchtime 1x ./integration/
//		QUIVER_BENCH_S3_ROWS=2000000 go test -tags duckdb_arrow -run '^$' -bench 'BenchmarkS3$' -benchtime 1x ./integration/   # ~1 minute
//
//	  - doget/local: DoGet of every row from a local root.
//	  - doget/s3-cold: the same from a fresh server with an empty part cache (the
//	    part is downloaded into the cache, then read); starting it is outside the timer.
//	  - doget/s3-warm: the same on a running server whose cache holds the part.
//	    This and the other running-server cases do one untimed operation first.
//	  - doget/s3-ranged: a 64 MiB cache, too small for the part: DoGet reads it with
//	    ranged GETs (the fallback when the cache has no room).
//	  - sql/local, sql/s3-warm: an aggregate over every row (count, sum(price),
//	    max(sku)) on a running server; on S3 the part is already in the cache.
//	  - sql/s3-first: the same query as the first request of a fresh server with an
//	    empty cache: listing the bucket, reading the footer, downloading the part into
//	    the cache, then DuckDB. Starting the server is outside the timer.
//	  - nodes/one: the 8-part dataset from one node without peers (one endpoint).
//	  - nodes/two-parallel: two nodes on the bucket, each the other's peer; the 8
//	    endpoints fetched at once, each from its first location (4 per node).
//	    Both nodes/ cases are warm (one untimed fetch first).
//
// x-local is the time per operation over the local root's in the same run (sql/ over
// sql/local, doget/ over doget/local); speedup is nodes/one's time over this one's.
// server-peak-MB is the server's VmHWM at the end of the sub-benchmark (a-, b- for
// two nodes), server-cpu-ms/op the CPU its process (both, for two nodes) used per
// operation: on a shared machine a steadier figure than the time.
func BenchmarkS3(b *testing.B) {
	rows := int64(10_000_000)
	if v := os.Getenv("QUIVER_BENCH_S3_ROWS"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 8 {
			b.Fatalf("QUIVER_BENCH_S3_ROWS=%q: want a row count of at least 8", v)
		}
		rows = n
	}
	ctx := context.Background()
	d := wideRows(rows)
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
	uploadParts(b, bkt, "parts.parquet", d, 8)
	b.Setenv("AWS_ACCESS_KEY_ID", s3test.AccessKey)
	b.Setenv("AWS_SECRET_ACCESS_KEY", s3test.SecretKey)
	b.Setenv("AWS_REGION", s3test.Region)
	b.Setenv("AWS_CONFIG_FILE", filepath.Join(b.TempDir(), "none"))
	b.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(b.TempDir(), "none"))
	b.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	s3Args := func(cacheDir, cacheSize string) []string {
		return []string{"--root", "s3://" + bucket + "/warehouse", "--addr", "127.0.0.1:0", "--s3-endpoint", s3srv.Endpoint,
			"--s3-path-style", "--cache-dir", cacheDir, "--cache-size", cacheSize}
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
	peakMB := func(p *quiverProcess) float64 {
		if m, err := readProcMemory(p.cmd.Process.Pid); err == nil {
			return float64(m.hwm) / 1e6
		}
		return 0
	}
	// perOp is each finished sub-benchmark's time per operation, for the ratios.
	perOp := map[string]float64{}
	finish := func(b *testing.B, name, peer string) {
		op := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		perOp[name] = op
		if peer != "" && perOp[peer] > 0 {
			b.ReportMetric(op/perOp[peer], "x-local")
		}
	}
	getRows := func(b *testing.B, c flight.Client) {
		if got := benchGet(b, c); got != d.rows {
			b.Fatalf("DoGet read %d rows, want %d", got, d.rows)
		}
	}
	reportGet := func(b *testing.B) {
		b.SetBytes(d.bytes)
		b.ReportMetric(float64(d.rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	}

	// running times b.N operations against one server started with args, after warm
	// (untimed) when set.
	running := func(b *testing.B, name, peer string, args []string, warm bool, op func(*testing.B, *quiverProcess)) {
		p := startQuiver(b, b.TempDir(), args...)
		if warm {
			op(b, p)
		}
		cpu0 := serverCPU(p)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			op(b, p)
		}
		b.StopTimer()
		finish(b, name, peer)
		b.ReportMetric(peakMB(p), "server-peak-MB")
		b.ReportMetric(float64((serverCPU(p)-cpu0).Milliseconds())/float64(b.N), "server-cpu-ms/op")
	}
	// fresh times one operation per fresh server and empty cache; starting and
	// stopping servers is outside the timer.
	fresh := func(b *testing.B, name, peer string, op func(*testing.B, *quiverProcess)) {
		var (
			peak float64
			cpu  time.Duration
		)
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			p := startQuiver(b, b.TempDir(), s3Args(b.TempDir(), "4GiB")...)
			cpu0 := serverCPU(p)
			b.StartTimer()
			op(b, p)
			b.StopTimer()
			cpu += serverCPU(p) - cpu0
			peak = max(peak, peakMB(p))
			p.terminate(b, 30*time.Second)
			b.StartTimer()
		}
		b.StopTimer()
		finish(b, name, peer)
		b.ReportMetric(peak, "server-peak-MB")
		b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "server-cpu-ms/op")
	}
	doget := func(b *testing.B, p *quiverProcess) { getRows(b, (&testServer{Addr: p.addr}).client(b)) }
	sql := func(b *testing.B, p *quiverProcess) { sqlOnce(b, p.addr) }

	b.Run("doget/local", func(b *testing.B) {
		running(b, "doget/local", "", localArgs, true, doget)
		reportGet(b)
	})
	b.Run("doget/s3-cold", func(b *testing.B) {
		fresh(b, "doget/s3-cold", "doget/local", doget)
		reportGet(b)
	})
	b.Run("doget/s3-warm", func(b *testing.B) {
		running(b, "doget/s3-warm", "doget/local", s3Args(b.TempDir(), "4GiB"), true, doget)
		reportGet(b)
	})
	b.Run("doget/s3-ranged", func(b *testing.B) {
		running(b, "doget/s3-ranged", "doget/local", s3Args(b.TempDir(), "64MiB"), true, doget)
		reportGet(b)
	})
	b.Run("sql/local", func(b *testing.B) { running(b, "sql/local", "", localArgs, true, sql) })
	b.Run("sql/s3-warm", func(b *testing.B) {
		running(b, "sql/s3-warm", "sql/local", s3Args(b.TempDir(), "4GiB"), true, sql)
	})
	b.Run("sql/s3-first", func(b *testing.B) { fresh(b, "sql/s3-first", "sql/local", sql) })

	desc := &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{"parts.parquet"}}
	// fetch reads every endpoint of the 8-part dataset at once, each from its first
	// location (from c when it has none).
	fetch := func(b *testing.B, c flight.Client, ec *endpointClients) {
		info, err := c.GetFlightInfo(ctx, desc)
		if err != nil {
			b.Fatal(err)
		}
		var (
			wg    sync.WaitGroup
			total atomic.Int64
		)
		for _, ep := range info.Endpoint {
			wg.Add(1)
			go func() {
				defer wg.Done()
				at := c
				if len(ep.Location) > 0 {
					at = ec.at(ep.Location[0].Uri)
				}
				total.Add(countRows(b, at, ep.Ticket))
			}()
		}
		wg.Wait()
		if total.Load() != d.rows {
			b.Fatalf("read %d rows from %d endpoints, want %d", total.Load(), len(info.Endpoint), d.rows)
		}
	}
	nodes := func(b *testing.B, name string, n int) {
		procs := benchS3Nodes(b, s3srv, bucket, n)
		ec := &endpointClients{t: b}
		c := ec.at("grpc://" + procs[0].addr)
		fetch(b, c, ec) // warm
		var cpu0 time.Duration
		for _, p := range procs {
			cpu0 += serverCPU(p)
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			fetch(b, c, ec)
		}
		b.StopTimer()
		var cpu time.Duration
		for _, p := range procs {
			cpu += serverCPU(p)
		}
		b.ReportMetric(float64((cpu-cpu0).Milliseconds())/float64(b.N), "server-cpu-ms/op")
		finish(b, name, "")
		if one := perOp["nodes/one"]; name != "nodes/one" && one > 0 {
			b.ReportMetric(one/perOp[name], "speedup")
		}
		reportGet(b)
		for i, p := range procs {
			b.ReportMetric(peakMB(p), fmt.Sprintf("%c-server-peak-MB", 'a'+i))
		}
	}
	b.Run("nodes/one", func(b *testing.B) { nodes(b, "nodes/one", 1) })
	b.Run("nodes/two-parallel", func(b *testing.B) { nodes(b, "nodes/two-parallel", 2) })
}

// serverCPU is the CPU time the server process has used (0 if unknown).
func serverCPU(p *quiverProcess) time.Duration {
	d, _ := processCPU(p.cmd.Process.Pid)
	return d
}

// benchS3Nodes runs n `quiver serve` binaries on bucket, each with the others as
// --peers (none when n is 1) and a part cache of its own large enough for the
// benchmark's data.
func benchS3Nodes(b *testing.B, s3srv *s3test.Server, bucket string, n int) []*quiverProcess {
	addrs := make([]string, n)
	for i := range addrs {
		addrs[i] = freeAddr(b)
	}
	procs := make([]*quiverProcess, n)
	for i := range procs {
		var peers []string
		for j, a := range addrs {
			if j != i {
				peers = append(peers, a)
			}
		}
		args := []string{"--root", "s3://" + bucket + "/warehouse", "--addr", addrs[i], "--s3-endpoint", s3srv.Endpoint,
			"--s3-path-style", "--cache-dir", b.TempDir(), "--cache-size", "4GiB"}
		if len(peers) > 0 {
			args = append(args, "--peers", strings.Join(peers, ","))
		}
		procs[i] = startQuiver(b, b.TempDir(), args...)
	}
	return procs
}

// uploadParts stores d under dataset name as a manifest and parts Parquet parts of
// about equal rows.
func uploadParts(b *testing.B, bkt *s3.Bucket, name string, d *benchData, parts int) {
	per := (len(d.recs) + parts - 1) / parts
	var names []string
	for p := 0; p < parts && p*per < len(d.recs); p++ {
		part := &benchData{schema: d.schema, recs: d.recs[p*per : min(len(d.recs), (p+1)*per)]}
		file := filepath.Join(b.TempDir(), fmt.Sprintf("part-%03d.parquet", p))
		writeBenchParquet(b, file, part)
		uploadFile(b, bkt, name+"/"+filepath.Base(file), file)
		names = append(names, filepath.Base(file))
	}
	manifest, _ := json.Marshal(map[string][]string{"parts": names})
	if _, err := bkt.WriteIf(context.Background(), name+"/_quiver_manifest.json", manifest, ""); err != nil {
		b.Fatal(err)
	}
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
