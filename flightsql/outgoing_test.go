package flightsql

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/quiverdata/quiver/catalog"
)

// TestResultBudget checks the budget's accounting: a reservation waits while the
// budget is taken, gives its bytes back once however often it is released, and one
// larger than the whole budget fails with ResourceExhausted naming the flag.
func TestResultBudget(t *testing.T) {
	o := newOutgoing(ResultLimits{MemoryLimit: 100})
	live := context.Background()
	done, cancel := context.WithCancel(context.Background())
	cancel() // a reservation that would wait fails at once on done

	r1, err := o.reserve(live, 60)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.reserve(done, 50); !errors.Is(err, context.Canceled) {
		t.Fatalf("50 of 100 bytes with 60 taken: %v, want to wait (and fail on the ended context)", err)
	}
	waiting := make(chan error)
	go func() {
		r, err := o.reserve(live, 50)
		if err == nil {
			r.release()
		}
		waiting <- err
	}()
	r1.release() // lets the waiting reservation in
	if err := <-waiting; err != nil {
		t.Fatalf("50 of 100 bytes, waiting for 60 to be given back: %v", err)
	}
	r1.release() // a second release gives nothing back twice
	r2, err := o.reserve(live, 50)
	if err != nil {
		t.Fatalf("50 of 100 bytes with none taken: %v", err)
	}
	r3, err := o.reserve(live, 50)
	if err != nil {
		t.Fatalf("50 of 100 bytes with 50 taken: %v", err)
	}
	if o.budget.TryAcquire(1) {
		t.Fatal("1 byte with 100 of 100 taken (a release counted twice?)")
	}
	r2.release()
	r3.release()
	if !o.budget.TryAcquire(100) {
		t.Fatal("100 bytes with every reservation released")
	}

	_, err = o.reserve(live, 101)
	if s, _ := status.FromError(toStatus(err)); s.Code() != codes.ResourceExhausted ||
		!strings.Contains(s.Message(), "--result-memory-limit") || !strings.Contains(s.Message(), "100 bytes") {
		t.Fatalf("101 bytes of a 100-byte budget: %v, want ResourceExhausted naming the limit and the flag", err)
	}

	// No limit: anything goes.
	if _, err := newOutgoing(ResultLimits{MemoryLimit: -1}).reserve(done, 1<<40); err != nil {
		t.Fatalf("no limit: %v", err)
	}
}

// TestReservedBatchAndSettle: a reserved batch gives its bytes back when its last
// reference goes; settle gives back a reservation that no release will (arrow-go
// drops a batch whose write failed) when the call ends.
func TestReservedBatchAndSettle(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	o := newOutgoing(ResultLimits{MemoryLimit: 100})
	live := context.Background()

	res, err := o.reserve(live, 100)
	if err != nil {
		t.Fatal(err)
	}
	b := withReservation(oneRow(mem), res)
	b.Retain()
	b.Release()
	if o.budget.TryAcquire(1) {
		t.Fatal("the batch still has a reference, but its bytes were given back")
	}
	b.Release()
	r, err := o.reserve(live, 100)
	if err != nil {
		t.Fatalf("after the batch's last release: %v", err)
	}

	call, end := context.WithCancel(context.Background())
	settled := make(chan struct{})
	go func() { o.settle(call, r); close(settled) }()
	end()
	<-settled
	if !o.budget.TryAcquire(100) {
		t.Fatal("settle did not give the last reservation back")
	}
	o.budget.Release(100)

	// Released as usual, by the batch: settle returns without the call ending.
	r, err = o.reserve(live, 100)
	if err != nil {
		t.Fatal(err)
	}
	settled = make(chan struct{})
	go func() { o.settle(context.Background(), r); close(settled) }()
	r.release()
	<-settled
}

// TestSplitToMessages: a batch over the message limit is cut into batches that fit,
// and a single row that does not fit fails naming its column and the flag.
func TestSplitToMessages(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	schema := arrow.NewSchema([]arrow.Field{{Name: "s", Type: arrow.BinaryTypes.String}}, nil)
	b := array.NewRecordBuilder(mem, schema)
	for range 100 {
		b.Field(0).(*array.StringBuilder).Append(strings.Repeat("x", 10_000))
	}
	b.Field(0).(*array.StringBuilder).Append(strings.Repeat("y", 200_000))
	rec := b.NewRecordBatch()
	b.Release()
	defer rec.Release()

	o := newOutgoing(ResultLimits{MaxMessageBytes: 100_000, MemoryLimit: -1})
	var rows int64
	err := o.split(rec, func(part arrow.RecordBatch) bool {
		defer part.Release()
		if part.NumRows() > 9 {
			t.Errorf("a part of %d rows of 10 KB, over a 100 KB message", part.NumRows())
		}
		rows += part.NumRows()
		return true
	})
	if rows != 100 {
		t.Errorf("%d rows sent before the large one, want 100", rows)
	}
	if s, _ := status.FromError(toStatus(err)); s.Code() != codes.ResourceExhausted ||
		!strings.Contains(s.Message(), `column "s"`) || !strings.Contains(s.Message(), "195.3 KiB") ||
		!strings.Contains(s.Message(), "--max-message-bytes") {
		t.Fatalf("a 200 KB row, 100 KB messages: %v", err)
	}
}

func oneRow(mem memory.Allocator) arrow.RecordBatch {
	schema := arrow.NewSchema([]arrow.Field{{Name: "n", Type: arrow.PrimitiveTypes.Int64}}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	b.Field(0).(*array.Int64Builder).Append(1)
	return b.NewRecordBatch()
}

// TestReadAhead: readAhead passes batches on with their reservations, counts rows,
// tells the reader's error from a refusal by the limits, and, when the receiver
// stops taking batches and the call ends, returns without holding any batch or any
// of the budget.
func TestReadAhead(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	one := oneRow(memory.DefaultAllocator)
	rowBytes := catalog.BatchBytes(one)
	one.Release()
	recs := []arrow.RecordBatch{oneRow(mem), oneRow(mem), oneRow(mem)}
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	readerOf := func(err error) array.RecordReader {
		rdr, e := array.NewRecordReader(recs[0].Schema(), recs)
		if e != nil {
			t.Fatal(e)
		}
		return &failingReader{RecordReader: rdr, err: err}
	}

	t.Run("every batch, then the reader's error", func(t *testing.T) {
		o := newOutgoing(ResultLimits{MemoryLimit: 10 * rowBytes})
		out := make(chan heldBatch, len(recs))
		broken := errors.New("part 2 is unreadable")
		rdr := readerOf(broken)
		defer rdr.Release()
		rows, limitErr, readErr := o.readAhead(context.Background(), rdr, out)
		close(out)
		if rows != 3 || limitErr != nil || !errors.Is(readErr, broken) {
			t.Fatalf("rows %d, limit error %v, read error %v; want 3, none, %v", rows, limitErr, readErr, broken)
		}
		if o.budget.TryAcquire(8 * rowBytes) {
			t.Fatal("three batches held, yet more than seven of ten batches' bytes free")
		}
		for b := range out {
			b.release()
		}
		if !o.budget.TryAcquire(10 * rowBytes) {
			t.Fatal("every batch released, yet the budget is not whole")
		}
	})

	t.Run("receiver gone", func(t *testing.T) {
		o := newOutgoing(ResultLimits{MemoryLimit: 10 * rowBytes})
		out := make(chan heldBatch) // nobody receives
		rdr := readerOf(nil)
		defer rdr.Release()
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		rows, limitErr, readErr := o.readAhead(ctx, rdr, out)
		if rows != 0 || !errors.Is(limitErr, context.DeadlineExceeded) || readErr != nil {
			t.Fatalf("rows %d, limit error %v, read error %v; want 0, the deadline, none", rows, limitErr, readErr)
		}
		if !o.budget.TryAcquire(10 * rowBytes) {
			t.Fatal("the batch no one took still holds its reservation")
		}
	})

	t.Run("batch over the budget", func(t *testing.T) {
		o := newOutgoing(ResultLimits{MemoryLimit: rowBytes - 1})
		out := make(chan heldBatch, 1)
		rdr := readerOf(nil)
		defer rdr.Release()
		_, limitErr, readErr := o.readAhead(context.Background(), rdr, out)
		if !errors.Is(limitErr, errResultMemory) || readErr != nil {
			t.Fatalf("limit error %v, read error %v; want %v", limitErr, readErr, errResultMemory)
		}
		if len(out) != 0 {
			t.Fatal("a batch over the budget was passed on")
		}
	})
}

// failingReader is a RecordReader that reports err once its batches are read.
type failingReader struct {
	array.RecordReader
	err error
}

func (r *failingReader) Err() error { return r.err }
