//go:build duckdb_arrow

package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/util"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

const benchRows = 10_000_000

// writeBenchParquet writes n rows of (int64, float64, int64, 16-char string) in
// 64Ki-row batches.
func writeBenchParquet(b *testing.B, path string, n int) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "x", Type: arrow.PrimitiveTypes.Float64},
		{Name: "k", Type: arrow.PrimitiveTypes.Int64},
		{Name: "s", Type: arrow.BinaryTypes.String},
	}, nil)
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Snappy), parquet.WithMaxRowGroupLength(1<<20))
	w, err := pqarrow.NewFileWriter(schema, f, props, pqarrow.DefaultWriterProps())
	if err != nil {
		b.Fatal(err)
	}
	bld := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer bld.Release()
	for done := 0; done < n; {
		m := min(64*1024, n-done)
		for i := done; i < done+m; i++ {
			bld.Field(0).(*array.Int64Builder).Append(int64(i))
			bld.Field(1).(*array.Float64Builder).Append(float64(i) * 0.5)
			bld.Field(2).(*array.Int64Builder).Append(int64(i % 1000))
			bld.Field(3).(*array.StringBuilder).Append(fmt.Sprintf("s%015d", i))
		}
		rec := bld.NewRecordBatch()
		if err := w.WriteBuffered(rec); err != nil {
			b.Fatal(err)
		}
		rec.Release()
		done += m
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
}

// benchParquet writes the 10M-row benchmark file into a new directory, root, and
// skips the benchmark under -short.
func benchParquet(b *testing.B) (root, file string) {
	b.Helper()
	if testing.Short() {
		b.Skip("10M-row dataset; run without -short")
	}
	root = b.TempDir()
	file = filepath.Join(root, "bench.parquet")
	writeBenchParquet(b, file, benchRows)
	return root, file
}

// BenchmarkQuery streams SELECT * over 10M rows through the engine and, in the same
// iteration, through duckdb-go's Arrow.QueryContext (which materialises the result
// before the first batch) on the same file, and reports both and their ratio.
func BenchmarkQuery(b *testing.B) {
	root, file := benchParquet(b)
	ctx := context.Background()

	e, err := Open(ctx, Config{Root: root, Logger: nil})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	tbl := Table{Name: "bench", Files: []string{file}, Version: "1"}
	if err := e.SyncTables(ctx, []Table{tbl}); err != nil {
		b.Fatal(err)
	}

	ar := inProcessArrow(b, viewSQL(tbl))

	const q = "SELECT * FROM bench"
	// consume reads a reader to the end and returns rows, bytes and time to first batch.
	consume := func(rdr array.RecordReader, start time.Time) (rows, bytes int64, first time.Duration) {
		for rdr.Next() {
			rec := rdr.RecordBatch()
			if rows == 0 {
				first = time.Since(start)
			}
			rows += rec.NumRows()
			bytes += util.TotalRecordSize(rec)
		}
		if err := rdr.Err(); err != nil {
			b.Fatal(err)
		}
		return rows, bytes, first
	}

	var engineTime, goTime, engineFirst, goFirst time.Duration
	var bytes int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		rows, err := e.Query(ctx, q, nil, 0)
		if err != nil {
			b.Fatal(err)
		}
		n, nb, first := consume(rows, start)
		rows.Release()
		engineTime += time.Since(start)
		engineFirst += first
		bytes = nb
		if n != benchRows {
			b.Fatalf("engine read %d rows", n)
		}

		start = time.Now()
		rdr, err := ar.QueryContext(ctx, q)
		if err != nil {
			b.Fatal(err)
		}
		n, _, first = consume(rdr, start)
		rdr.Release()
		goTime += time.Since(start)
		goFirst += first
		if n != benchRows {
			b.Fatalf("duckdb-go read %d rows", n)
		}
	}
	b.StopTimer()
	iters := float64(b.N)
	engineRate := benchRows * iters / engineTime.Seconds()
	goRate := benchRows * iters / goTime.Seconds()
	b.ReportMetric(engineRate, "rows/s")
	b.ReportMetric(float64(bytes)*iters/engineTime.Seconds()/1e6, "MB/s")
	b.ReportMetric(goRate, "duckdbgo-rows/s")
	b.ReportMetric(engineRate/goRate, "ratio-to-duckdbgo")
	b.ReportMetric(float64(engineFirst.Milliseconds())/iters, "first-batch-ms")
	b.ReportMetric(float64(goFirst.Milliseconds())/iters, "duckdbgo-first-batch-ms")
}

// BenchmarkSmallQuery measures the fixed cost of one query: a fresh connection, the
// gate (json_serialize_sql), prepare, streaming execution and one batch.
func BenchmarkSmallQuery(b *testing.B) {
	e, _ := testEngine(b, Config{})
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rows, err := e.Query(ctx, "SELECT 42 AS answer", nil, 0)
		if err != nil {
			b.Fatal(err)
		}
		for rows.Next() {
		}
		if err := rows.Err(); err != nil {
			b.Fatal(err)
		}
		rows.Release()
	}
}
