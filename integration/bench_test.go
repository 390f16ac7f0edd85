package integration

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"

	"github.com/quiverdata/quiver/catalog"
	"github.com/quiverdata/quiver/flightsql"
)

// Benchmarks of DoGet and DoPut through Quiver, each beside the same batches
// streamed by an in-memory Flight server (no Parquet, no disk) in the same run: the
// ceiling the network stack and IPC encoding allow on this machine. Each quiver
// sub-benchmark reports its throughput as a fraction of that ceiling
// ("quiver/inmem": 1.0 is as fast as the in-memory stream).
//
//	go test -run='^$' -bench=. -benchtime=3x ./integration/
//
// MB/s counts the Arrow IPC stream's bytes (schema, batch metadata and bodies).

// benchData is one dataset to benchmark, built outside the timer.
type benchData struct {
	schema *arrow.Schema
	recs   []arrow.RecordBatch
	rows   int64
	bytes  int64 // size of the Arrow IPC stream of recs
}

func (d *benchData) release() {
	seen := map[arrow.RecordBatch]bool{}
	for _, r := range d.recs {
		if !seen[r] {
			r.Release()
			seen[r] = true
		}
	}
}

// cookbookInts is the cookbook's streamed dataset: one 4096-row batch of int64 sent
// 1024 times.
func cookbookInts() *benchData {
	rec := int64Record(memory.DefaultAllocator, "ints", 0, 4096)
	recs := make([]arrow.RecordBatch, 1024)
	for i := range recs {
		recs[i] = rec
	}
	return newBenchData(recs)
}

// wide is 10M rows of (int64, float64, int64, 16-character string) in 64Ki-row
// batches, every row distinct.
func wide() *benchData { return wideRows(10_000_000) }

// wideRows is the first rows rows of wide.
func wideRows(rows int64) *benchData {
	const batch = 64 << 10
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "price", Type: arrow.PrimitiveTypes.Float64},
		{Name: "qty", Type: arrow.PrimitiveTypes.Int64},
		{Name: "sku", Type: arrow.BinaryTypes.String},
	}, nil)
	var recs []arrow.RecordBatch
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	id, price := b.Field(0).(*array.Int64Builder), b.Field(1).(*array.Float64Builder)
	qty, sku := b.Field(2).(*array.Int64Builder), b.Field(3).(*array.StringBuilder)
	for start := int64(0); start < rows; start += batch {
		n := min(batch, rows-start)
		for i := start; i < start+n; i++ {
			id.Append(i)
			price.Append(float64(i%100000) / 100)
			qty.Append(i % 1000)
			sku.Append(fmt.Sprintf("%016x", uint64(i)*0x9E3779B97F4A7C15))
		}
		recs = append(recs, b.NewRecordBatch())
	}
	return newBenchData(recs)
}

func newBenchData(recs []arrow.RecordBatch) *benchData {
	d := &benchData{schema: recs[0].Schema(), recs: recs}
	var cw countingWriter
	w := ipc.NewWriter(&cw, ipc.WithSchema(d.schema))
	for _, r := range recs {
		d.rows += r.NumRows()
		if err := w.Write(r); err != nil {
			panic(err)
		}
	}
	w.Close()
	d.bytes = cw.n
	return d
}

type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// memServer is the ceiling: a Flight server that streams recs from memory on any
// DoGet and reads and drops every DoPut.
type memServer struct {
	flight.BaseFlightServer
	recs []arrow.RecordBatch
}

func (s *memServer) DoGet(_ *flight.Ticket, stream flight.FlightService_DoGetServer) error {
	w := flight.NewRecordWriter(stream, ipc.WithSchema(s.recs[0].Schema()))
	defer w.Close()
	for _, r := range s.recs {
		if err := w.Write(r); err != nil {
			return err
		}
	}
	return nil
}

func (s *memServer) DoPut(stream flight.FlightService_DoPutServer) error {
	rdr, err := flight.NewRecordReader(stream)
	if err != nil {
		return err
	}
	defer rdr.Release()
	for rdr.Next() {
	}
	return rdr.Err()
}

func startMemServer(b *testing.B, recs []arrow.RecordBatch) string {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	gs := grpc.NewServer(flightsql.GRPCOptions(256 << 20)...)
	flight.RegisterFlightServiceServer(gs, &memServer{recs: recs})
	go gs.Serve(lis)
	b.Cleanup(gs.Stop)
	return lis.Addr().String()
}

// benchDatasets are the datasets to run, built only when selected; the 10M-row one
// is skipped under -short.
var benchDatasets = []struct {
	name  string
	make  func() *benchData
	large bool
}{
	{"ints", cookbookInts, false},
	{"10Mx4", wide, true},
}

// eachDataset runs f as a sub-benchmark per dataset.
func eachDataset(b *testing.B, f func(b *testing.B, d *benchData)) {
	for _, ds := range benchDatasets {
		b.Run(ds.name, func(b *testing.B) {
			if ds.large && testing.Short() {
				b.Skip("10M rows: skipped under -short")
			}
			d := ds.make()
			defer d.release()
			f(b, d)
		})
	}
}

// peakAllocator counts the Arrow memory a server holds and remembers the most it held
// at once: the bound a streaming server keeps whatever the dataset's size.
type peakAllocator struct {
	memory.Allocator
	cur, peak atomic.Int64
}

func (a *peakAllocator) add(n int) {
	cur := a.cur.Add(int64(n))
	for p := a.peak.Load(); cur > p && !a.peak.CompareAndSwap(p, cur); p = a.peak.Load() {
	}
}

func (a *peakAllocator) Allocate(size int) []byte { a.add(size); return a.Allocator.Allocate(size) }

func (a *peakAllocator) Reallocate(size int, b []byte) []byte {
	a.add(size - len(b))
	return a.Allocator.Reallocate(size, b)
}

func (a *peakAllocator) Free(b []byte) { a.add(-len(b)); a.Allocator.Free(b) }

// reportPeak reports the most Arrow memory the server held at once during b, in MiB.
func (a *peakAllocator) reportPeak(b *testing.B) {
	a.peak.Store(a.cur.Load())
	b.Cleanup(func() { b.ReportMetric(float64(a.peak.Load())/(1<<20), "server-peak-MiB") })
}

func BenchmarkDoGet(b *testing.B) {
	eachDataset(b, func(b *testing.B, d *benchData) {
		mem := &peakAllocator{Allocator: memory.DefaultAllocator}
		srv := startServerWith(b, b.TempDir(), mem)
		quiver := srv.client(b)
		putRecords(b, quiver, "bench.parquet", d.schema, d.recs...)
		inmem := (&testServer{Addr: startMemServer(b, d.recs)}).client(b)

		var ceiling float64 // in-memory bytes/s, measured first
		b.Run("inmem", func(b *testing.B) {
			ceiling = runBench(b, d, func() int64 { return benchGet(b, inmem) })
		})
		b.Run("quiver", func(b *testing.B) {
			mem.reportPeak(b)
			rate := runBench(b, d, func() int64 { return benchGet(b, quiver) })
			if ceiling > 0 {
				b.ReportMetric(rate/ceiling, "quiver/inmem")
			}
		})
		// The same server with a memory tier large enough for the dataset
		// (--memory-tier): the first DoGet (outside the timer) fills it, the timed
		// ones send the kept messages.
		tierMem := &peakAllocator{Allocator: memory.DefaultAllocator}
		tiered := startServerOpts(b, b.TempDir(), tierMem, harnessOptions{service: func(c *flightsql.ServiceConfig) { c.MemoryTier = 2 << 30 }})
		tieredClient := tiered.client(b)
		putRecords(b, tieredClient, "bench.parquet", d.schema, d.recs...)
		benchGet(b, tieredClient)
		b.Run("quiver-tier", func(b *testing.B) {
			tierMem.reportPeak(b)
			rate := runBench(b, d, func() int64 { return benchGet(b, tieredClient) })
			if ceiling > 0 {
				b.ReportMetric(rate/ceiling, "quiver/inmem")
			}
		})
	})
}

// BenchmarkDoPut puts each dataset into Quiver beside a Flight server that discards
// uploads, in the same run. On a local root a put lands (catalog/landing.go): it is
// acknowledged once the Arrow stream is durable, and Parquet is encoded after. So
// there are three Quiver figures:
//
//   - quiver: until the acknowledgement. The conversion of each put runs off the
//     clock before the next, so each is one put into an idle server (cpu-ms/op still
//     counts the conversion's CPU);
//   - quiver-queryable: until the data is readable, the acknowledgement followed by
//     a GetFlightInfo (which waits for the conversion): what back-to-back puts
//     sustain, since the landing budget makes a put wait for conversion once full;
//   - quiver-direct: a server with --landing-budget 0, which encodes Parquet before
//     acknowledging, as on object storage.
func BenchmarkDoPut(b *testing.B) {
	eachDataset(b, func(b *testing.B, d *benchData) {
		mem := &peakAllocator{Allocator: memory.DefaultAllocator}
		srv := startServerWith(b, b.TempDir(), mem)
		quiver := srv.client(b)
		direct := startServerOpts(b, b.TempDir(), memory.DefaultAllocator, harnessOptions{store: catalog.Options{LandingBudget: -1}}).client(b)
		inmem := (&testServer{Addr: startMemServer(b, nil)}).client(b)
		queryable := func(c flight.Client) {
			if _, err := c.GetFlightInfo(context.Background(), &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{"bench.parquet"}}); err != nil {
				b.Fatal(err)
			}
		}

		var ceiling, ceilingCPU float64
		b.Run("inmem", func(b *testing.B) {
			cpu0 := ownCPU()
			ceiling = runBench(b, d, func() int64 { putRecords(b, inmem, "bench.parquet", d.schema, d.recs...); return d.rows })
			ceilingCPU = reportCPU(b, cpu0)
		})
		ratios := func(b *testing.B, rate, cpu float64) {
			if ceiling > 0 {
				b.ReportMetric(rate/ceiling, "quiver/inmem")
			}
			if ceilingCPU > 0 {
				b.ReportMetric(cpu/ceilingCPU, "cpu-quiver/inmem")
			}
		}
		b.Run("quiver", func(b *testing.B) {
			mem.reportPeak(b)
			cpu0 := ownCPU()
			rate := runBench(b, d, func() int64 {
				putRecords(b, quiver, "bench.parquet", d.schema, d.recs...)
				b.StopTimer()
				queryable(quiver)
				b.StartTimer()
				return d.rows
			})
			ratios(b, rate, reportCPU(b, cpu0))
		})
		b.Run("quiver-queryable", func(b *testing.B) {
			cpu0 := ownCPU()
			rate := runBench(b, d, func() int64 {
				putRecords(b, quiver, "bench.parquet", d.schema, d.recs...)
				queryable(quiver)
				return d.rows
			})
			ratios(b, rate, reportCPU(b, cpu0))
		})
		b.Run("quiver-direct", func(b *testing.B) {
			cpu0 := ownCPU()
			rate := runBench(b, d, func() int64 { putRecords(b, direct, "bench.parquet", d.schema, d.recs...); return d.rows })
			ratios(b, rate, reportCPU(b, cpu0))
		})
	})
}

// ownCPU is the CPU time this process has used: client and server together, as
// both run here. On a shared machine it moves far less than wall time when other
// work competes for the cores.
func ownCPU() time.Duration {
	cpu, err := processCPU(os.Getpid())
	if err != nil {
		return 0
	}
	return cpu
}

// reportCPU reports the process CPU per op since cpu0, in ms, and returns it.
func reportCPU(b *testing.B, cpu0 time.Duration) float64 {
	ms := float64((ownCPU() - cpu0).Milliseconds()) / float64(b.N)
	b.ReportMetric(ms, "cpu-ms/op")
	return ms
}

// runBench runs op b.N times, checks every run moved all rows, reports MB/s (via
// SetBytes) and rows/s, and returns bytes/s.
func runBench(b *testing.B, d *benchData, op func() int64) float64 {
	b.SetBytes(d.bytes)
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if rows := op(); rows != d.rows {
			b.Fatalf("moved %d rows, want %d", rows, d.rows)
		}
	}
	b.StopTimer()
	// Client and server share the process: this is the CPU of both.
	b.ReportMetric(float64((cpuTime()-cpu0).Milliseconds())/float64(b.N), "cpu-ms/op")
	secs := b.Elapsed().Seconds()
	b.ReportMetric(float64(d.rows)*float64(b.N)/secs, "rows/s")
	return float64(d.bytes) * float64(b.N) / secs
}

// cpuTime is the CPU time (user and system) the process has used so far. On a shared
// machine it varies less than wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchGet reads the whole dataset, batch by batch, and returns the row count.
func benchGet(b *testing.B, c flight.Client) int64 {
	stream, err := c.DoGet(context.Background(), &flight.Ticket{Ticket: []byte("bench.parquet")})
	if err != nil {
		b.Fatal(err)
	}
	rdr, err := flight.NewRecordReader(stream)
	if err != nil {
		b.Fatal(err)
	}
	defer rdr.Release()
	var rows int64
	for rdr.Next() {
		rows += rdr.RecordBatch().NumRows()
	}
	if err := rdr.Err(); err != nil && !errors.Is(err, io.EOF) {
		b.Fatal(err)
	}
	return rows
}
