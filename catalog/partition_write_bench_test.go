package catalog

import (
	"context"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// withPartColumn returns recs with a column "region" (int32) appended: row i holds
// region(i). The caller releases the result.
func withPartColumn(recs []arrow.RecordBatch, region func(i int64) int32) []arrow.RecordBatch {
	var out []arrow.RecordBatch
	var row int64
	for _, r := range recs {
		b := array.NewInt32Builder(memory.DefaultAllocator)
		for i := int64(0); i < r.NumRows(); i++ {
			b.Append(region(row + i))
		}
		row += r.NumRows()
		col := b.NewArray()
		b.Release()
		fields := append(r.Schema().Fields(), arrow.Field{Name: "region", Type: arrow.PrimitiveTypes.Int32})
		cols := append(append([]arrow.Array(nil), r.Columns()...), col)
		out = append(out, array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, r.NumRows()))
		col.Release()
	}
	return out
}

// BenchmarkPutPartitioned writes 2M rows x 5 columns through Store.Put (the peer:
// one plain file) and through Store.PutPartitioned by region, 16 partitions, in the
// same loop, interleaved. "mixed": every batch holds all 16 regions (rows taken
// per partition); "clustered": the rows arrive grouped by region (zero-copy
// slices). ratio is partitioned wall time over plain wall time; the cpu-ms/op of
// each (all cores) is what a busy shared machine disturbs least.
func BenchmarkPutPartitioned(b *testing.B) {
	const rows = 2_000_000
	base := benchWide(rows)
	defer func() {
		for _, r := range base {
			r.Release()
		}
	}()
	for _, tc := range []struct {
		name   string
		region func(i int64) int32
	}{
		{"mixed", func(i int64) int32 { return int32(i % 16) }},
		{"clustered", func(i int64) int32 { return int32(i * 16 / rows) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			recs := withPartColumn(base, tc.region)
			defer func() {
				for _, r := range recs {
					r.Release()
				}
			}()
			s, _ := openTestStore(b, b.TempDir(), Options{})
			var plain, parted, plainCPU, partedCPU time.Duration
			var parts int
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for _, partitioned := range []bool{false, true} {
					rdr, err := array.NewRecordReader(recs[0].Schema(), recs)
					if err != nil {
						b.Fatal(err)
					}
					t0, cpu0 := time.Now(), cpuTime()
					var n int64
					if partitioned {
						n, err = s.PutPartitioned(context.Background(), "bench_p", Replace, []string{"region"}, rdr)
						parted += time.Since(t0)
						partedCPU += cpuTime() - cpu0
					} else {
						n, err = s.Put(context.Background(), "bench", Replace, rdr)
						plain += time.Since(t0)
						plainCPU += cpuTime() - cpu0
					}
					rdr.Release()
					if err != nil || n != rows {
						b.Fatalf("put: %d rows, %v", n, err)
					}
				}
			}
			b.StopTimer()
			if info, err := s.Stat(context.Background(), "bench_p"); err == nil {
				parts = len(info.Keys)
			}
			b.ReportMetric(float64(rows)*float64(b.N)/plain.Seconds(), "plain-rows/s")
			b.ReportMetric(float64(rows)*float64(b.N)/parted.Seconds(), "partitioned-rows/s")
			b.ReportMetric(parted.Seconds()/plain.Seconds(), "ratio")
			b.ReportMetric(float64(plainCPU.Milliseconds())/float64(b.N), "plain-cpu-ms/op")
			b.ReportMetric(float64(partedCPU.Milliseconds())/float64(b.N), "partitioned-cpu-ms/op")
			b.ReportMetric(float64(parts), "parts")
		})
	}
}
