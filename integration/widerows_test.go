package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/quiverdata/quiver/catalog"
	qflightsql "github.com/quiverdata/quiver/flightsql"
	"github.com/quiverdata/quiver/flightsql/engine"
)

var wideRowSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "body", Type: arrow.BinaryTypes.String},
}, nil)

// wideBody is row id's body: width bytes that Parquet cannot dictionary-encode away.
func wideBody(id int64, width int) string {
	unit := fmt.Sprintf("<%d>", id)
	return strings.Repeat(unit, width/len(unit)+1)[:width]
}

// putWide stores rows of ~width bytes (id, body) under name through DoPut, perBatch
// rows per uploaded batch; widths may single out rows.
func putWide(t testing.TB, c flight.Client, name string, rows, perBatch int64, width func(int64) int) {
	t.Helper()
	ctx := context.Background()
	stream, err := c.DoPut(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w := flight.NewRecordWriter(stream, ipc.WithSchema(wideRowSchema))
	w.SetFlightDescriptor(pathDescriptor(name))
	mem := memory.NewGoAllocator()
	for start := int64(0); start < rows; start += perBatch {
		b := array.NewRecordBuilder(mem, wideRowSchema)
		for id := start; id < min(start+perBatch, rows); id++ {
			b.Field(0).(*array.Int64Builder).Append(id)
			b.Field(1).(*array.StringBuilder).Append(wideBody(id, width(id)))
		}
		rec := b.NewRecordBatch()
		b.Release()
		err := w.Write(rec)
		rec.Release()
		if err != nil {
			t.Fatalf("put %s: %v", name, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := stream.Recv(); err != nil {
			if !strings.Contains(err.Error(), "EOF") {
				t.Fatalf("put %s: %v", name, err)
			}
			break
		}
	}
}

// checkWide reads a stream of (id, body) batches and checks that it holds rows
// 0..rows-1 in order with their bodies, in batches no larger than maxBatch bytes
// (but for single rows). It returns the number of batches.
func checkWide(t testing.TB, rdr array.RecordReader, rows int64, width func(int64) int, maxBatch int64) int {
	t.Helper()
	var next int64
	batches := 0
	for rdr.Next() {
		rec := rdr.RecordBatch()
		batches++
		if size := catalog.BatchBytes(rec); size > maxBatch && rec.NumRows() > 1 {
			t.Fatalf("batch %d: %d rows of %d bytes, over %d", batches, rec.NumRows(), size, maxBatch)
		}
		ids := rec.Column(0).(*array.Int64)
		bodies := rec.Column(1).(*array.String)
		for i := range ids.Len() {
			if ids.Value(i) != next || bodies.Value(i) != wideBody(next, width(next)) {
				t.Fatalf("row %d: id %d, body of %d bytes", next, ids.Value(i), len(bodies.Value(i)))
			}
			next++
		}
	}
	if err := rdr.Err(); err != nil {
		t.Fatalf("after %d rows: %v", next, err)
	}
	if next != rows {
		t.Fatalf("read %d rows, want %d", next, rows)
	}
	return batches
}

// clientWithLimit is a Flight client whose messages may be up to limit bytes.
func clientWithLimit(t testing.TB, srv *testServer, limit int) flight.Client {
	t.Helper()
	c, err := flight.NewClientWithMiddlewareCtx(context.Background(), srv.Addr, nil, nil,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(limit), grpc.MaxCallSendMsgSize(limit)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func sqlClientWithLimit(t testing.TB, srv *testServer, limit int) *flightsql.Client {
	t.Helper()
	cl, err := flightsql.NewClient(srv.Addr, nil, nil, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(limit), grpc.MaxCallSendMsgSize(limit)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

func doGetReader(t testing.TB, c flight.Client, ticket []byte) *flight.Reader {
	t.Helper()
	stream, err := c.DoGet(context.Background(), &flight.Ticket{Ticket: ticket})
	if err != nil {
		t.Fatal(err)
	}
	rdr, err := flight.NewRecordReader(stream)
	if err != nil {
		t.Fatalf("DoGet %s: %v", ticket, err)
	}
	t.Cleanup(rdr.Release)
	return rdr
}

func sqlReader(t testing.TB, cl *flightsql.Client, query string) (*flight.Reader, error) {
	t.Helper()
	ctx := context.Background()
	info, err := cl.Execute(ctx, query)
	if err != nil {
		return nil, err
	}
	rdr, err := cl.DoGet(ctx, info.Endpoint[0].Ticket)
	if err != nil {
		return nil, err
	}
	t.Cleanup(rdr.Release)
	return rdr, nil
}

// TestWideRowsRoundTrip stores rows of ~4 KB and reads them back through DoGet and
// SQL on a server whose messages are limited to 1 MiB: as many rows as the default
// 64Ki-row batches gather are 8 MB, over that limit, as 64Ki rows of 4 KB are over the
// real 256 MiB one. Batches are cut by bytes where they are made (the store's
// and the engine's target, lowered to 256 KiB) or, with the default target above
// the message limit, where they are sent.
func TestWideRowsRoundTrip(t *testing.T) {
	const (
		message = 1 << 20
		rows    = 2000
	)
	width := func(id int64) int { return 4000 + int(id%97) }
	cases := []struct {
		name     string
		opts     harnessOptions
		maxBatch int64
	}{
		{"batch target 256 KiB", harnessOptions{
			store:   catalog.Options{ReadBatchBytes: 256 << 10},
			engine:  engine.Config{BatchBytes: 256 << 10},
			results: qflightsql.ResultLimits{MaxMessageBytes: message},
		}, 256 << 10},
		{"default target, cut to the message", harnessOptions{
			results: qflightsql.ResultLimits{MaxMessageBytes: message},
		}, message},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServerOpts(t, t.TempDir(), memory.NewCheckedAllocator(memory.DefaultAllocator), tc.opts)
			c := clientWithLimit(t, srv, message)
			putWide(t, c, "wide.parquet", rows, 100, width)

			if n := checkWide(t, doGetReader(t, c, []byte("wide.parquet")), rows, width, tc.maxBatch); n < rows*4000/int(tc.maxBatch) {
				t.Errorf("DoGet: %d batches, want at least %d", n, rows*4000/int(tc.maxBatch))
			}
			rdr, err := sqlReader(t, sqlClientWithLimit(t, srv, message), "SELECT id, body FROM wide ORDER BY id")
			if err != nil {
				t.Fatal(err)
			}
			if n := checkWide(t, rdr, rows, width, tc.maxBatch); n < rows*4000/int(tc.maxBatch) {
				t.Errorf("SQL: %d batches, want at least %d", n, rows*4000/int(tc.maxBatch))
			}
		})
	}
}

// TestRowLargerThanAMessage stores a row larger than the server's message limit:
// DoGet and SQL fail with ResourceExhausted naming the column, its size and the
// flag, after the rows before it, instead of a transport error.
func TestRowLargerThanAMessage(t *testing.T) {
	const message = 1 << 20
	srv := startServerOpts(t, t.TempDir(), memory.NewCheckedAllocator(memory.DefaultAllocator), harnessOptions{
		results: qflightsql.ResultLimits{MaxMessageBytes: message},
	})
	// Uploaded with a larger client limit than the server's send limit would allow
	// back: the server's receive limit is the same 1 MiB, so the big row is made by SQL
	// instead, and plain DoGet is shown a hand-dropped file.
	c := clientWithLimit(t, srv, 4<<20)
	cl := sqlClientWithLimit(t, srv, 4<<20)
	putWide(t, c, "small.parquet", 10, 10, func(int64) int { return 100 })

	rdr, err := sqlReader(t, cl, "SELECT id, body FROM small UNION ALL SELECT 10, repeat('x', 2000000) ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	for rdr.Next() {
	}
	wantStatus(t, rdr.Err(), codes.ResourceExhausted, `"body"`, "1.9 MiB", "--max-message-bytes")

	// A file with the same row, dropped into the root by hand.
	big := wideRecord(20, 2_000_000)
	defer big.Release()
	srv.dropIn(t, "big.parquet", big)
	_, err = tryGet(context.Background(), c, []byte("big.parquet"))
	wantStatus(t, err, codes.ResourceExhausted, `"body"`, "1.9 MiB", "--max-message-bytes")
}

// wideRecord is rows 0..n-1 of (id, body), the last one width bytes wide.
func wideRecord(n int64, width int) arrow.RecordBatch {
	b := array.NewRecordBuilder(memory.NewGoAllocator(), wideRowSchema)
	defer b.Release()
	for id := range n {
		b.Field(0).(*array.Int64Builder).Append(id)
		w := 10
		if id == n-1 {
			w = width
		}
		b.Field(1).(*array.StringBuilder).Append(wideBody(id, w))
	}
	return b.NewRecordBatch()
}

// TestBatchOverResultMemoryLimit runs a query whose single row is larger than the
// whole result memory budget: ResourceExhausted naming the flag.
func TestBatchOverResultMemoryLimit(t *testing.T) {
	srv := startServerOpts(t, t.TempDir(), memory.NewCheckedAllocator(memory.DefaultAllocator), harnessOptions{
		results: qflightsql.ResultLimits{MemoryLimit: 1 << 20},
	})
	cl := srv.sqlClient(t)
	rdr, err := sqlReader(t, cl, "SELECT repeat('x', 3000000) AS big")
	if err != nil {
		t.Fatal(err)
	}
	for rdr.Next() {
	}
	wantStatus(t, rdr.Err(), codes.ResourceExhausted, "result memory limit", "--result-memory-limit", "1.0 MiB")

	// Rows that fit still flow, one batch after another.
	rdr, err = sqlReader(t, cl, "SELECT i, repeat('y', 100000) AS s FROM range(100) t(i)")
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for rdr.Next() {
		n += rdr.RecordBatch().NumRows()
	}
	if err := rdr.Err(); err != nil || n != 100 {
		t.Fatalf("100 rows of 100 KB under a 1 MiB budget: %d rows, %v", n, err)
	}
}

// TestWideRowsRoundTripDefaults is TestWideRowsRoundTrip at full size with the real
// limits: 70,000 rows of ~4.2 KB are 300 MB, so one 64Ki-row batch is over gRPC's
// 256 MiB message limit. Before batches were cut by bytes such a dataset could be
// stored and never read back. The client keeps gRPC's default 4 MiB receive limit,
// as arrow-go's clients do: every batch must fit in it.
func TestWideRowsRoundTripDefaults(t *testing.T) {
	if testing.Short() {
		t.Skip("stores and reads 280 MB; run without -short")
	}
	const rows = 70_000
	// 65,536 rows of these are 278 MB; of 4,000 bytes they would be 262 MB, under
	// the 268 MB limit.
	width := func(id int64) int { return 4200 + int(id%97) }
	srv := startServerWith(t, t.TempDir(), memory.DefaultAllocator)
	putWide(t, srv.client(t), "wide.parquet", rows, 500, width)

	c, err := flight.NewClientWithMiddlewareCtx(context.Background(), srv.Addr, nil, nil,
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	checkWide(t, doGetReader(t, c, []byte("wide.parquet")), rows, width, catalog.DefaultBatchBytes)

	cl, err := flightsql.NewClient(srv.Addr, nil, nil, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	rdr, err := sqlReader(t, cl, "SELECT id, body FROM wide ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	checkWide(t, rdr, rows, width, catalog.DefaultBatchBytes)
}
