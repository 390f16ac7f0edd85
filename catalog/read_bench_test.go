package catalog

import (
	"context"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
)

// BenchmarkRead measures the Reader alone: Parquet pages to record batches, no
// network. The dataset has the shape of integration's BenchmarkDoGet/10Mx4 (int64,
// float64, int64, 16-character string, every row distinct), 2M rows under -short.
//
//	go test -tags duckdb_arrow -run '^$' -bench Read -benchtime 3x ./catalog/
//
// MB/s counts the Arrow bytes of the batches read (BatchBytes).
func BenchmarkRead(b *testing.B) {
	rows := int64(10_000_000)
	if testing.Short() {
		rows = 2_000_000
	}
	s, err := Open(b.TempDir(), Options{Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	rdr := wideBatches(rows)
	if _, err := s.Put(context.Background(), "bench.parquet", Create, rdr); err != nil {
		b.Fatal(err)
	}
	rdr.Release()

	var bytes int64
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := s.Open(context.Background(), "bench.parquet")
		if err != nil {
			b.Fatal(err)
		}
		var n int64
		bytes = 0
		for r.Next() {
			n += r.RecordBatch().NumRows()
			bytes += BatchBytes(r.RecordBatch())
		}
		if err := r.Err(); err != nil {
			b.Fatal(err)
		}
		r.Release()
		if n != rows {
			b.Fatalf("read %d rows, want %d", n, rows)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64((cpuTime()-cpu0).Milliseconds())/float64(b.N), "cpu-ms/op")
	b.SetBytes(bytes)
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// wideBatches is benchWide's batches as a reader.
func wideBatches(rows int64) array.RecordReader {
	recs := benchWide(rows)
	rdr, err := array.NewRecordReader(recs[0].Schema(), recs)
	if err != nil {
		panic(err)
	}
	for _, r := range recs {
		r.Release()
	}
	return rdr
}
