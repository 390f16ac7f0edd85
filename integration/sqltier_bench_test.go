package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// BenchmarkSQLMemoryTier runs the SQL benchmarks' queries on the 10M-row file through
// two servers over the same root, one with the memory tier on (--memory-tier 4GiB,
// the dataset made hot before timing) and one with it off, beside the same queries
// in process: duckdb-go over the Parquet file, and over a DuckDB table loaded from
// it (what a server that holds whole tables in memory does). Each tier_on run reports
// its ratio to the tier_off and in-process runs just before it; point reports
// latencies over b.N lookups, a new key each time, the four taking turns. peak_rss_MB
// is the whole benchmark process's (both servers, the client and in-process DuckDB).
func BenchmarkSQLMemoryTier(b *testing.B) {
	if testing.Short() {
		b.Skip("10M-row dataset: skipped with -short")
	}
	root := sqlBenchRoot(b)
	file := filepath.Join(root, "wide.parquet")
	off := startServerOpts(b, root, memory.DefaultAllocator, harnessOptions{})
	w := newTierWatch()
	on := startServerOpts(b, root, memory.DefaultAllocator, tierOptions(w, 4<<30))
	connOff, connOn := off.adbcConn(b), on.adbcConn(b)
	ctx := context.Background()
	start := time.Now()
	if _, _, err := adbcRun(ctx, connOn, "SELECT count(*) FROM wide"); err != nil {
		b.Fatal(err)
	}
	w.wait(b, "wide.parquet", 1)
	b.Logf("wide made hot in %v", time.Since(start).Round(time.Millisecond))

	ar := inProcessDuckDB(b)
	if _, err := ar.QueryContext(ctx, fmt.Sprintf("CREATE TABLE wide_mem AS SELECT * FROM read_parquet('%s')", file)); err != nil {
		b.Fatal(err)
	}
	inProc := func(sql string) func() (int64, int64, error) {
		return func() (int64, int64, error) {
			rdr, err := ar.QueryContext(ctx, sql)
			if err != nil {
				return 0, 0, err
			}
			return drain(rdr)
		}
	}
	queries := []struct{ name, quiver, parquet, table string }{
		{"select_star", "SELECT * FROM wide", fmt.Sprintf("SELECT * FROM read_parquet('%s')", file), "SELECT * FROM wide_mem"},
		{"aggregate", "SELECT c, count(*), sum(b), min(s) FROM wide GROUP BY c",
			fmt.Sprintf("SELECT c, count(*), sum(b), min(s) FROM read_parquet('%s') GROUP BY c", file),
			"SELECT c, count(*), sum(b), min(s) FROM wide_mem GROUP BY c"},
		{"filter", "SELECT a, s FROM wide WHERE b > 0", fmt.Sprintf("SELECT a, s FROM read_parquet('%s') WHERE b > 0", file), "SELECT a, s FROM wide_mem WHERE b > 0"},
	}
	for _, q := range queries {
		rates := map[string]float64{}
		run := func(name string, query func() (int64, int64, error)) {
			b.Run(q.name+"/"+name, func(b *testing.B) {
				var rows, bytes int64
				for i := 0; i < b.N; i++ {
					r, by, err := query()
					if err != nil {
						b.Fatal(err)
					}
					rows, bytes = r, by
				}
				b.SetBytes(bytes)
				rps := float64(rows) * float64(b.N) / b.Elapsed().Seconds()
				rates[name] = rps
				b.ReportMetric(rps, "rows/s")
				for _, peer := range []string{"in_process_parquet", "in_process_table", "tier_off"} {
					if p := rates[peer]; p > 0 && peer != name {
						b.ReportMetric(rps/p, "ratio_to_"+peer)
					}
				}
				b.ReportMetric(peakRSSMB(), "peak_rss_MB")
			})
		}
		run("in_process_parquet", inProc(q.parquet))
		run("in_process_table", inProc(q.table))
		run("tier_off", func() (int64, int64, error) { return adbcRun(ctx, connOff, q.quiver) })
		run("tier_on", func() (int64, int64, error) { return adbcRun(ctx, connOn, q.quiver) })
	}

	b.Run("point", func(b *testing.B) {
		key := func(i int) int { return (i * 7919993) % sqlBenchRows }
		type side struct {
			name string
			run  func(i int) (int64, error)
			lat  []time.Duration
		}
		sides := []*side{
			{name: "tier_on", run: func(i int) (int64, error) {
				r, _, err := adbcRun(ctx, connOn, fmt.Sprintf("SELECT * FROM wide WHERE a = %d", key(i)))
				return r, err
			}},
			{name: "tier_off", run: func(i int) (int64, error) {
				r, _, err := adbcRun(ctx, connOff, fmt.Sprintf("SELECT * FROM wide WHERE a = %d", key(i)))
				return r, err
			}},
			{name: "in_process_parquet", run: func(i int) (int64, error) {
				r, _, err := inProc(fmt.Sprintf("SELECT * FROM read_parquet('%s') WHERE a = %d", file, key(i)))()
				return r, err
			}},
			{name: "in_process_table", run: func(i int) (int64, error) {
				r, _, err := inProc(fmt.Sprintf("SELECT * FROM wide_mem WHERE a = %d", key(i)))()
				return r, err
			}},
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			for _, s := range sides {
				t0 := time.Now()
				rows, err := s.run(i)
				if err != nil || rows != 1 {
					b.Fatalf("%s: rows %d err %v", s.name, rows, err)
				}
				s.lat = append(s.lat, time.Since(t0))
			}
		}
		b.StopTimer()
		p50s := map[string]float64{}
		for _, s := range sides {
			p50, p99 := percentiles(s.lat)
			p50s[s.name] = p50
			b.ReportMetric(p50, s.name+"_p50_ms")
			b.ReportMetric(p99, s.name+"_p99_ms")
		}
		b.ReportMetric(p50s["tier_off"]/p50s["tier_on"], "tier_on_speedup_p50")
		b.ReportMetric(peakRSSMB(), "peak_rss_MB")
	})
}

// peakRSSMB is this process's peak resident set (VmHWM) in MiB; 0 if unknown.
func peakRSSMB() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
			if err == nil {
				return kb / 1024
			}
		}
	}
	return 0
}
