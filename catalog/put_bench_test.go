package catalog

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// benchWide is rows of (id int64, price float64, qty int64, sku 16-char string) in
// 64Ki-row batches, every row distinct: integration's 10Mx4 dataset, smaller.
func benchWide(rows int64) []arrow.RecordBatch {
	const batch = 64 << 10
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "price", Type: arrow.PrimitiveTypes.Float64},
		{Name: "qty", Type: arrow.PrimitiveTypes.Int64},
		{Name: "sku", Type: arrow.BinaryTypes.String},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	id, price := b.Field(0).(*array.Int64Builder), b.Field(1).(*array.Float64Builder)
	qty, sku := b.Field(2).(*array.Int64Builder), b.Field(3).(*array.StringBuilder)
	var recs []arrow.RecordBatch
	for start := int64(0); start < rows; start += batch {
		for i := start; i < min(start+batch, rows); i++ {
			id.Append(i)
			price.Append(float64(i%100000) / 100)
			qty.Append(i % 1000)
			sku.Append(fmt.Sprintf("%016x", uint64(i)*0x9E3779B97F4A7C15))
		}
		recs = append(recs, b.NewRecordBatch())
	}
	return recs
}

// cpuTime is the process's user plus system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPut writes 2M rows x 4 columns through Store.Put (no network): the encode
// step of a DoPut on its own. cpu-ms/op is the CPU the put took on all cores, which a
// busy shared machine disturbs far less than wall time.
func BenchmarkPut(b *testing.B) {
	const rows = 2_000_000
	recs := benchWide(rows)
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	s, _ := openTestStore(b, b.TempDir(), Options{LandingBudget: -1}) // the encoding, on the clock
	var size int64
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		rdr, err := array.NewRecordReader(recs[0].Schema(), recs)
		if err != nil {
			b.Fatal(err)
		}
		n, err := s.Put(context.Background(), "bench.parquet", Replace, rdr)
		rdr.Release()
		if err != nil || n != rows {
			b.Fatalf("put: %d rows, %v", n, err)
		}
	}
	cpu := cpuTime() - cpu0
	b.StopTimer()
	if st, err := os.Stat(filepath.Join(s.Root(), "bench.parquet")); err == nil {
		size = st.Size()
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
	b.ReportMetric(float64(size)/(1<<20), "file-MiB")
}
