package integration

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// BenchmarkBareScan times `SELECT * FROM wide` (10M rows x int64, float64, int64,
// string) through ADBC Go, each iteration running every side once, in turn, so that
// all see the same machine: in_process is duckdb-go's Arrow result of
// read_parquet on the same file (the ceiling issue 11 names); bare is Quiver on its
// defaults, which streams the dataset (sql_barescan.go); duckdb is the same server
// with bare scans off (what every release before this one did); tier_bare is a
// server with --memory-tier 4GiB, which sends the kept encoded stream after the
// first read. Each side reports its rows/s and MB/s of Arrow buffers, and its ratio
// to in_process and to duckdb; peak_rss_MB is the whole test process (servers,
// clients and the in-process DuckDB).
func BenchmarkBareScan(b *testing.B) {
	if testing.Short() {
		b.Skip("10M-row dataset: skipped with -short")
	}
	root := sqlBenchRoot(b)
	file := filepath.Join(root, "wide.parquet")
	srv := startServerAt(b, root)
	tiered := startServerOpts(b, root, memory.DefaultAllocator, tierOptions(newTierWatch(), 4<<30))
	conn, connTier := srv.adbcConn(b), tiered.adbcConn(b)
	ar := inProcessDuckDB(b)
	ctx := context.Background()
	const sql = "SELECT * FROM wide"

	type side struct {
		name string
		run  func() (rows, bytes int64, err error)
		took time.Duration
		rows int64
		byts int64
	}
	sides := []*side{
		{name: "in_process", run: func() (int64, int64, error) {
			rdr, err := ar.QueryContext(ctx, fmt.Sprintf("SELECT * FROM read_parquet('%s')", file))
			if err != nil {
				return 0, 0, err
			}
			return drain(rdr)
		}},
		{name: "bare", run: func() (int64, int64, error) { return adbcRun(ctx, conn, sql) }},
		{name: "duckdb", run: func() (int64, int64, error) {
			srv.Service.SQL.SetBareScans(false)
			defer srv.Service.SQL.SetBareScans(true)
			return adbcRun(ctx, conn, sql)
		}},
		{name: "tier_bare", run: func() (int64, int64, error) { return adbcRun(ctx, connTier, sql) }},
	}
	// The tier keeps the stream of the first bare scan it serves: one read first.
	if _, _, err := adbcRun(ctx, connTier, sql); err != nil {
		b.Fatal(err)
	}
	served := srv.Service.SQL.BareScansServed()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, s := range sides {
			t0 := time.Now()
			rows, byts, err := s.run()
			if err != nil {
				b.Fatalf("%s: %v", s.name, err)
			}
			s.took += time.Since(t0)
			s.rows, s.byts = s.rows+rows, s.byts+byts
		}
	}
	b.StopTimer()
	if n := srv.Service.SQL.BareScansServed() - served; n != int64(b.N) {
		b.Fatalf("%d bare scans served in %d iterations", n, b.N)
	}
	rate := map[string]float64{}
	for _, s := range sides {
		rate[s.name] = float64(s.rows) / s.took.Seconds()
		b.ReportMetric(rate[s.name], s.name+"_rows/s")
		b.ReportMetric(float64(s.byts)/s.took.Seconds()/1e6, s.name+"_MB/s")
		b.ReportMetric(s.took.Seconds()/float64(b.N), s.name+"_s/op")
	}
	for _, s := range []string{"bare", "duckdb", "tier_bare"} {
		b.ReportMetric(rate[s]/rate["in_process"], s+"_to_in_process")
	}
	b.ReportMetric(rate["bare"]/rate["duckdb"], "bare_to_duckdb")
	b.ReportMetric(peakRSSMB(), "peak_rss_MB")
}
