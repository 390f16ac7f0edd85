package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/quiverdata/quiver/catalog"
)

// BenchmarkEncode measures the encode step of a put on its own, no network: the
// 10Mx4 batches written as a Parquet dataset by the store (catalog.Store.Put: pqarrow,
// Snappy, statistics, temp file, fsync, rename) beside DuckDB's COPY of the same
// batches from an Arrow stream into a Parquet file (Snappy, its default row groups, no
// fsync), in the same run. "quiver/duckdb" is the store's rows/s over DuckDB's.
//
//	go test -tags duckdb_arrow -run='^$' -bench=BenchmarkEncode -benchtime=3x ./integration/
func BenchmarkEncode(b *testing.B) {
	if testing.Short() {
		b.Skip("10M rows: skipped under -short")
	}
	d := wide()
	defer d.release()
	ctx := context.Background()
	dir := b.TempDir()

	var duckRate, duckCPU float64
	b.Run("duckdb_copy", func(b *testing.B) {
		ar := inProcessDuckDB(b)
		out := filepath.Join(dir, "duck.parquet")
		cpu0 := ownCPU()
		duckRate = runBench(b, d, func() int64 {
			rdr, err := array.NewRecordReader(d.schema, d.recs)
			if err != nil {
				b.Fatal(err)
			}
			defer rdr.Release()
			release, err := ar.RegisterView(rdr, "upload")
			if err != nil {
				b.Fatal(err)
			}
			defer release()
			res, err := ar.QueryContext(ctx, fmt.Sprintf("COPY (SELECT * FROM upload) TO '%s' (FORMAT parquet, COMPRESSION snappy)", out))
			if err != nil {
				b.Fatal(err)
			}
			if _, _, err := drain(res); err != nil {
				b.Fatal(err)
			}
			return d.rows
		})
		duckCPU = reportCPU(b, cpu0)
		reportFileSize(b, out)
	})
	b.Run("quiver_put", func(b *testing.B) {
		store, err := catalog.Open(filepath.Join(dir, "root"), catalog.Options{LandingBudget: -1}) // encode on the clock, not landing
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { store.Close() }) // stops the converter of landed puts
		cpu0 := ownCPU()
		rate := runBench(b, d, func() int64 {
			rdr, err := array.NewRecordReader(d.schema, d.recs)
			if err != nil {
				b.Fatal(err)
			}
			defer rdr.Release()
			rows, err := store.Put(ctx, "bench.parquet", catalog.Replace, rdr)
			if err != nil {
				b.Fatal(err)
			}
			return rows
		})
		cpu := reportCPU(b, cpu0)
		reportFileSize(b, filepath.Join(store.Root(), "bench.parquet"))
		if duckRate > 0 {
			b.ReportMetric(rate/duckRate, "quiver/duckdb")
		}
		if duckCPU > 0 {
			b.ReportMetric(cpu/duckCPU, "cpu-quiver/duckdb")
		}
	})
}

func reportFileSize(b *testing.B, path string) {
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(st.Size())/(1<<20), "file-MiB")
}
