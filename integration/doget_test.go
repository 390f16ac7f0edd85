package integration

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/quiverdata/quiver/catalog"
	qflightsql "github.com/quiverdata/quiver/flightsql"
)

// TestDoGetAbandonedStreamsGiveBack: a plain DoGet decodes batches ahead of the one
// it sends, each holding part of the result memory budget. Clients that hang up
// mid-stream must leave neither reservations nor batches behind: after many of
// them, under a budget of a few batches, a whole read still completes, in order, and
// the checked allocator (at cleanup) proves every batch was released.
func TestDoGetAbandonedStreamsGiveBack(t *testing.T) {
	const rows, batchRows = 100_000, 1000 // 100 batches of about 9 KB
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	// Registered first, so it runs last: after the server has stopped.
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	srv := startServerOpts(t, t.TempDir(), mem, harnessOptions{
		store:   catalog.Options{ReadBatchRows: batchRows},
		results: qflightsql.ResultLimits{MemoryLimit: 48 << 10}, // about five batches
	})
	c := srv.client(t)
	rec := int64Record(memory.DefaultAllocator, "id", 0, rows)
	defer rec.Release()
	putRecords(t, c, "ids.parquet", rec.Schema(), rec)

	for i := range 20 {
		// With reservations lost, a read waits for room: the deadline turns that
		// into a failure.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		stream, err := c.DoGet(ctx, &flight.Ticket{Ticket: []byte("ids.parquet")})
		if err != nil {
			cancel()
			t.Fatalf("abandoned read %d: %v", i, err)
		}
		rdr, err := flight.NewRecordReader(stream)
		if err != nil {
			cancel()
			t.Fatalf("abandoned read %d: %v", i, err)
		}
		for range 2 {
			if !rdr.Next() {
				t.Fatalf("abandoned read %d ended early: %v", i, rdr.Err())
			}
		}
		rdr.Release()
		cancel()
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stream, err := c.DoGet(ctx, &flight.Ticket{Ticket: []byte("ids.parquet")})
	if err != nil {
		t.Fatal(err)
	}
	rdr, err := flight.NewRecordReader(stream)
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Release()
	var next int64
	for rdr.Next() {
		col := rdr.RecordBatch().Column(0).(*array.Int64)
		if n := col.Len(); n > batchRows {
			t.Fatalf("a batch of %d rows, the server reads at most %d", n, batchRows)
		}
		for j := range col.Len() {
			if col.Value(j) != next {
				t.Fatalf("row %d holds %d: batches out of order", next, col.Value(j))
			}
			next++
		}
	}
	if err := rdr.Err(); err != nil && !errors.Is(err, io.EOF) {
		t.Fatalf("whole read after 20 abandoned ones, at row %d: %v", next, err)
	}
	if next != rows {
		t.Fatalf("read %d rows, want %d", next, rows)
	}
}
