package integration

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/quiverdata/quiver/catalog"
)

// BenchmarkPointQuery measures `SELECT * FROM bench WHERE id = k` on the 10Mx4 dataset
// uploaded through DoPut, so the file has the layout Quiver writes. Each layout is
// queried through Quiver (ADBC Go over Flight SQL) and by an in-process DuckDB reading
// the same file, in the same run: the in-process figure is what the file's layout
// allows, the difference is the service's cost. "default" is the layout Quiver writes
// today; "rowgroup-1Mi" is the layout before row groups were sized for lookups.
//
//	go test -tags duckdb_arrow -run='^$' -bench=BenchmarkPointQuery -benchtime=50x ./integration/
func BenchmarkPointQuery(b *testing.B) {
	if testing.Short() {
		b.Skip("10M rows: skipped under -short")
	}
	d := wide()
	defer d.release()
	layouts := []struct {
		name string
		opts catalog.Options
	}{
		{"default", catalog.Options{}},
		{"rowgroup-1Mi", catalog.Options{RowGroupRows: 1 << 20}},
	}
	for _, l := range layouts {
		b.Run(l.name, func(b *testing.B) {
			root := b.TempDir()
			srv := startServerOpts(b, root, memory.DefaultAllocator, harnessOptions{store: l.opts})
			putRecords(b, srv.client(b), "bench.parquet", d.schema, d.recs...)
			file := filepath.Join(root, "bench.parquet")
			ar := inProcessDuckDB(b)
			conn := srv.adbcConn(b)
			ctx := context.Background()

			var inProcP50 float64
			b.Run("in_process", func(b *testing.B) {
				inProcP50 = pointLatencies(b, d.rows, func(id int64) (int64, error) {
					rdr, err := ar.QueryContext(ctx, fmt.Sprintf("SELECT * FROM read_parquet('%s') WHERE id = %d", file, id))
					if err != nil {
						return 0, err
					}
					rows, _, err := drain(rdr)
					return rows, err
				})
			})
			b.Run("quiver_adbc", func(b *testing.B) {
				p50 := pointLatencies(b, d.rows, func(id int64) (int64, error) {
					rows, _, err := adbcRun(ctx, conn, fmt.Sprintf("SELECT * FROM bench WHERE id = %d", id))
					return rows, err
				})
				if inProcP50 > 0 {
					b.ReportMetric(p50/inProcP50, "p50_ratio_to_in_process")
				}
			})
		})
	}
}

// pointLatencies runs query b.N times for ids spread over [0, rows), checks each
// returns one row, reports p50 and p99 in ms and returns p50.
func pointLatencies(b *testing.B, rows int64, query func(id int64) (int64, error)) float64 {
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id := (int64(i)*7_919_993 + 12_345) % rows
		start := time.Now()
		n, err := query(id)
		if err != nil || n != 1 {
			b.Fatalf("id %d: %d rows, err %v", id, n, err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	p50 := float64(lat[len(lat)/2].Microseconds()) / 1000
	b.ReportMetric(p50, "p50_ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99_ms")
	return p50
}
