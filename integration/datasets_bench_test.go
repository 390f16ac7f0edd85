package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// BenchmarkTrivialQueryDatasets runs SELECT 1 through ADBC Go against two servers in
// turn, one over a root with one dataset and one over a root with many (files copied
// in by hand; QUIVER_BENCH_DATASETS, default 2000), and reports both p50s and their
// ratio: what a query pays for the datasets beside it. Every SQL request looks at the
// root for files copied in by hand; a listing per request made it grow with the
// root (ADBC Python, 5,000 datasets: 46 ms against 5.6 ms), a watch of the root
// (catalog/scanwatch.go) keeps it flat.
//
//	go test -tags duckdb_arrow -run '^$' -bench BenchmarkTrivialQueryDatasets -benchtime 500x ./integration/
func BenchmarkTrivialQueryDatasets(b *testing.B) {
	if testing.Short() {
		b.Skip("writes thousands of files: skipped with -short")
	}
	skipOnS3(b, "measures the watch of a local root")
	many := 2000
	if v := os.Getenv("QUIVER_BENCH_DATASETS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("QUIVER_BENCH_DATASETS=%q: want a positive number", v)
		}
		many = n
	}
	rec := int64Record(memory.DefaultAllocator, "a", 1, 3)
	defer rec.Release()
	rootWith := func(n int) string {
		root := b.TempDir()
		for i := range n {
			writeParquetFile(b, filepath.Join(root, fmt.Sprintf("t%05d.parquet", i)), rec)
		}
		return root
	}
	one, lots := startServerAt(b, rootWith(1)), startServerAt(b, rootWith(many))
	conns := [2]struct {
		name string
		run  func() error
		lat  []time.Duration
	}{}
	ctx := context.Background()
	for i, srv := range []*testServer{one, lots} {
		conn := srv.adbcConn(b)
		conns[i].name = []string{"one", "many"}[i]
		conns[i].run = func() error {
			rows, _, err := adbcRun(ctx, conn, "SELECT 1")
			if err == nil && rows != 1 {
				err = fmt.Errorf("%d rows", rows)
			}
			return err
		}
		for range 20 { // warm: the first listings, the watches
			if err := conns[i].run(); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ResetTimer()
	for range b.N {
		for i := range conns {
			start := time.Now()
			if err := conns[i].run(); err != nil {
				b.Fatalf("%s: %v", conns[i].name, err)
			}
			conns[i].lat = append(conns[i].lat, time.Since(start))
		}
	}
	b.StopTimer()
	p1, _ := percentiles(conns[0].lat)
	pn, pn99 := percentiles(conns[1].lat)
	b.ReportMetric(p1, "one_dataset_p50_ms")
	b.ReportMetric(pn, "many_datasets_p50_ms")
	b.ReportMetric(pn99, "many_datasets_p99_ms")
	b.ReportMetric(float64(many), "datasets")
	b.ReportMetric(pn/p1, "many/one")
}
