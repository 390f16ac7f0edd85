package integration

import (
	"context"
	"database/sql/driver"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-adbc/go/adbc"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	duckdb "github.com/duckdb/duckdb-go/v2"
)

// SQL benchmarks: a query through Quiver (ADBC Go driver over Flight SQL, loopback)
// beside the same query run by an in-process DuckDB on the same Parquet file, in the
// same run. The ratio says what the network service costs.

const sqlBenchRows = 10_000_000

var (
	sqlBenchOnce sync.Once
	sqlBenchDir  string
	sqlBenchErr  error
)

// sqlBenchRoot returns a dataset root holding wide.parquet: sqlBenchRows rows of
// (a int64, b float64, c int64, s 16-char string). It is made once per test binary.
func sqlBenchRoot(b *testing.B) string {
	b.Helper()
	sqlBenchOnce.Do(func() {
		sqlBenchDir, sqlBenchErr = os.MkdirTemp("", "quiver-sqlbench-")
		if sqlBenchErr == nil {
			atExit(func() { os.RemoveAll(sqlBenchDir) })
			sqlBenchErr = writeWideParquet(filepath.Join(sqlBenchDir, "wide.parquet"), sqlBenchRows)
		}
	})
	if sqlBenchErr != nil {
		b.Fatal(sqlBenchErr)
	}
	return sqlBenchDir
}

func writeWideParquet(path string, rows int) error {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "a", Type: arrow.PrimitiveTypes.Int64},
		{Name: "b", Type: arrow.PrimitiveTypes.Float64},
		{Name: "c", Type: arrow.PrimitiveTypes.Int64},
		{Name: "s", Type: arrow.BinaryTypes.String},
	}, nil)
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w, err := pqarrow.NewFileWriter(schema, f,
		parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Snappy), parquet.WithMaxRowGroupLength(1<<20)),
		pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		return err
	}
	const batch = 1 << 16
	bld := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer bld.Release()
	for start := 0; start < rows; start += batch {
		n := min(batch, rows-start)
		for i := start; i < start+n; i++ {
			bld.Field(0).(*array.Int64Builder).Append(int64(i))
			bld.Field(1).(*array.Float64Builder).Append(float64(i) * 0.5)
			bld.Field(2).(*array.Int64Builder).Append(int64(i % 1000))
			bld.Field(3).(*array.StringBuilder).Append(fmt.Sprintf("row-%012d", i))
		}
		rec := bld.NewRecordBatch()
		err := w.WriteBuffered(rec)
		rec.Release()
		if err != nil {
			return err
		}
	}
	return w.Close()
}

// drain reads rdr to the end and returns rows and Arrow buffer bytes seen.
func drain(rdr array.RecordReader) (rows, bytes int64, err error) {
	defer rdr.Release()
	for rdr.Next() {
		rec := rdr.RecordBatch()
		rows += rec.NumRows()
		for _, col := range rec.Columns() {
			for _, buf := range col.Data().Buffers() {
				if buf != nil {
					bytes += int64(buf.Len())
				}
			}
		}
	}
	return rows, bytes, rdr.Err()
}

// inProcessDuckDB opens duckdb-go's in-process Arrow interface, the ceiling.
func inProcessDuckDB(b *testing.B) *duckdb.Arrow {
	b.Helper()
	connector, err := duckdb.NewConnector("", nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { connector.Close() })
	conn, err := connector.Connect(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	ar, err := duckdb.NewArrowFromConn(conn.(driver.Conn))
	if err != nil {
		b.Fatal(err)
	}
	return ar
}

func adbcRun(ctx context.Context, conn adbc.Connection, query string) (int64, int64, error) {
	stmt, err := conn.NewStatement()
	if err != nil {
		return 0, 0, err
	}
	defer stmt.Close()
	if err := stmt.SetSqlQuery(query); err != nil {
		return 0, 0, err
	}
	rdr, _, err := stmt.ExecuteQuery(ctx)
	if err != nil {
		return 0, 0, err
	}
	return drain(rdr)
}

// BenchmarkSQL runs each query through Quiver and in-process; the Quiver run reports
// its ratio to the in-process run measured just before it.
func BenchmarkSQL(b *testing.B) {
	if testing.Short() {
		b.Skip("10M-row dataset: skipped with -short")
	}
	root := sqlBenchRoot(b)
	srv := startServerAt(b, root)
	conn := srv.adbcConn(b)
	ar := inProcessDuckDB(b)
	file := filepath.Join(root, "wide.parquet")
	queries := []struct{ name, quiver, local string }{
		{"select_star", "SELECT * FROM wide", fmt.Sprintf("SELECT * FROM read_parquet('%s')", file)},
		{"aggregate", "SELECT c, count(*), sum(b), min(s) FROM wide GROUP BY c", fmt.Sprintf("SELECT c, count(*), sum(b), min(s) FROM read_parquet('%s') GROUP BY c", file)},
		{"filter", "SELECT a, s FROM wide WHERE b > 0", fmt.Sprintf("SELECT a, s FROM read_parquet('%s') WHERE b > 0", file)},
	}
	ctx := context.Background()
	for _, q := range queries {
		var inProcRowsPerSec float64
		b.Run(q.name+"/in_process", func(b *testing.B) {
			var rows, bytes int64
			for i := 0; i < b.N; i++ {
				rdr, err := ar.QueryContext(ctx, q.local)
				if err != nil {
					b.Fatal(err)
				}
				r, by, err := drain(rdr)
				if err != nil {
					b.Fatal(err)
				}
				rows, bytes = r, by
			}
			b.SetBytes(bytes)
			inProcRowsPerSec = float64(rows) * float64(b.N) / b.Elapsed().Seconds()
			b.ReportMetric(inProcRowsPerSec, "rows/s")
		})
		b.Run(q.name+"/quiver_adbc", func(b *testing.B) {
			var rows, bytes int64
			for i := 0; i < b.N; i++ {
				r, by, err := adbcRun(ctx, conn, q.quiver)
				if err != nil {
					b.Fatal(err)
				}
				rows, bytes = r, by
			}
			b.SetBytes(bytes)
			rps := float64(rows) * float64(b.N) / b.Elapsed().Seconds()
			b.ReportMetric(rps, "rows/s")
			if inProcRowsPerSec > 0 {
				b.ReportMetric(rps/inProcRowsPerSec, "ratio_to_in_process")
			}
		})
	}
}

// BenchmarkSmallQueryLatency measures a point query through ADBC, a new literal each
// time (p50_ms, p99_ms), beside the same query run by an in-process DuckDB on the
// same file, interleaved query by query so that both see the same machine
// (in_process_p50_ms); overhead_p50_ms is the difference of the two p50s.
func BenchmarkSmallQueryLatency(b *testing.B) {
	srv := startServer(b)
	putNumbers(b, srv.client(b), "numbers.parquet", 1000)
	file := filepath.Join(srv.Root, "numbers.parquet")
	latencyVersusInProcess(b, srv,
		func(i int) string { return fmt.Sprintf("SELECT name FROM numbers WHERE id = %d", i%1000) },
		func(i int) string {
			return fmt.Sprintf("SELECT name FROM read_parquet('%s') WHERE id = %d", file, i%1000)
		},
		1)
}

// BenchmarkTrivialQueryLatency is the round trip of SELECT 1, the same text every
// time, against SELECT 1 in process: what Quiver adds to a query that does nothing.
func BenchmarkTrivialQueryLatency(b *testing.B) {
	srv := startServer(b)
	latencyVersusInProcess(b, srv,
		func(int) string { return "SELECT 1" },
		func(int) string { return "SELECT 1" },
		1)
}

// BenchmarkPointQueryLatency is a lookup by key on the 10M-row file (10 row groups of
// 1Mi rows, written by pqarrow directly, not through a put), a new literal each time,
// through Quiver and in process, alternating: the service's cost per lookup.
// BenchmarkPointQuery (point_bench_test.go) measures the layout Quiver writes.
func BenchmarkPointQueryLatency(b *testing.B) {
	if testing.Short() {
		b.Skip("10M-row dataset: skipped with -short")
	}
	root := sqlBenchRoot(b)
	srv := startServerAt(b, root)
	file := filepath.Join(root, "wide.parquet")
	key := func(i int) int { return (i * 7919993) % sqlBenchRows }
	latencyVersusInProcess(b, srv,
		func(i int) string { return fmt.Sprintf("SELECT * FROM wide WHERE a = %d", key(i)) },
		func(i int) string { return fmt.Sprintf("SELECT * FROM read_parquet('%s') WHERE a = %d", file, key(i)) },
		1)
}

// latencyVersusInProcess runs quiver(i) through ADBC and local(i) in process, in
// turn, b.N times each, checks that each returns want rows, and reports both
// latency distributions.
func latencyVersusInProcess(b *testing.B, srv *testServer, quiver, local func(i int) string, want int64) {
	conn := srv.adbcConn(b)
	ar := inProcessDuckDB(b)
	ctx := context.Background()
	ours := make([]time.Duration, 0, b.N)
	theirs := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		rows, _, err := adbcRun(ctx, conn, quiver(i))
		if err != nil || rows != want {
			b.Fatalf("quiver: rows %d err %v", rows, err)
		}
		ours = append(ours, time.Since(start))

		start = time.Now()
		rdr, err := ar.QueryContext(ctx, local(i))
		if err != nil {
			b.Fatal(err)
		}
		if rows, _, err = drain(rdr); err != nil || rows != want {
			b.Fatalf("in process: rows %d err %v", rows, err)
		}
		theirs = append(theirs, time.Since(start))
	}
	b.StopTimer()
	p50, p99 := percentiles(ours)
	ip50, ip99 := percentiles(theirs)
	b.ReportMetric(p50, "p50_ms")
	b.ReportMetric(p99, "p99_ms")
	b.ReportMetric(ip50, "in_process_p50_ms")
	b.ReportMetric(ip99, "in_process_p99_ms")
	b.ReportMetric(p50-ip50, "overhead_p50_ms")
}

// percentiles returns the p50 and p99 of lat, in milliseconds.
func percentiles(lat []time.Duration) (p50, p99 float64) {
	sorted := slices.Clone(lat)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return ms(sorted[len(sorted)/2]), ms(sorted[len(sorted)*99/100])
}
