package integration

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// BenchmarkDoPutPaired is BenchmarkDoPut's landed put and its discarding peer, in
// pairs: each iteration puts the dataset into the discarding server, then into
// Quiver, then waits until Quiver can read it. On a machine shared with other work,
// the load moves between BenchmarkDoPut's sub-benchmarks, seconds apart, and their
// ratio with it; within a pair both puts see about the same load. It reports the
// median, lowest and highest ratio of the pairs, to the acknowledgement and until
// queryable (the acknowledgement plus the wait for the conversion), and Quiver's
// MB/s to the acknowledgement.
//
//	go test -tags duckdb_arrow -run '^$' -bench 'BenchmarkDoPutPaired' -benchtime 10x ./integration/
func BenchmarkDoPutPaired(b *testing.B) {
	eachDataset(b, func(b *testing.B, d *benchData) {
		quiver := startServerWith(b, b.TempDir(), memory.DefaultAllocator).client(b)
		inmem := (&testServer{Addr: startMemServer(b, nil)}).client(b)
		desc := &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{"bench.parquet"}}
		timed := func(f func()) time.Duration {
			t0 := time.Now()
			f()
			return time.Since(t0)
		}
		var acked, queryable []float64
		var quiverTime time.Duration
		b.SetBytes(d.bytes)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			peer := timed(func() { putRecords(b, inmem, "bench.parquet", d.schema, d.recs...) })
			ack := timed(func() { putRecords(b, quiver, "bench.parquet", d.schema, d.recs...) })
			conv := timed(func() {
				if _, err := quiver.GetFlightInfo(context.Background(), desc); err != nil {
					b.Fatal(err)
				}
			})
			quiverTime += ack
			acked = append(acked, peer.Seconds()/ack.Seconds())
			queryable = append(queryable, peer.Seconds()/(ack+conv).Seconds())
		}
		b.StopTimer()
		report := func(ratios []float64, unit string) {
			slices.Sort(ratios)
			b.ReportMetric(ratios[len(ratios)/2], unit+"-median")
			b.ReportMetric(ratios[0], unit+"-min")
			b.ReportMetric(ratios[len(ratios)-1], unit+"-max")
		}
		report(acked, "quiver/inmem")
		report(queryable, "queryable/inmem")
		b.ReportMetric(float64(d.bytes)*float64(b.N)/quiverTime.Seconds()/1e6, "quiver-MB/s")
	})
}
