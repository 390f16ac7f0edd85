package catalog

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/util"
	"golang.org/x/sync/semaphore"
)

// gatedWriter collects what is written to it; each Write first waits for open, and
// fails with failWith once failAfter bytes are collected (if failAfter > 0).
type gatedWriter struct {
	open      chan struct{}
	mu        sync.Mutex
	buf       bytes.Buffer
	failAfter int
	failWith  error
}

func (g *gatedWriter) Write(p []byte) (int, error) {
	<-g.open
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.failAfter > 0 && g.buf.Len()+len(p) > g.failAfter {
		return 0, g.failWith
	}
	return g.buf.Write(p)
}

// idsSchema is the schema of idsBatch: one int64 column.
var idsSchema = arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}}, nil)

// idsBatch is a batch of n ids from start: 8n bytes.
func idsBatch(mem memory.Allocator, start, n int64) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, idsSchema)
	defer b.Release()
	ids := b.Field(0).(*array.Int64Builder)
	for i := start; i < start+n; i++ {
		ids.Append(i)
	}
	return b.NewRecordBatch()
}

// TestLandingWriterBoundsWhatItHolds: while the file does not take bytes, the writer
// takes batches until those it holds unwritten reach landingQueueBytes, then makes
// the put wait (here until its context ends); once the file takes bytes again, every
// batch is written, in order, and every batch is released.
func TestLandingWriterBoundsWhatItHolds(t *testing.T) {
	s, mem := newTestStore(t)
	out := &gatedWriter{open: make(chan struct{})}
	openOut := sync.OnceFunc(func() { close(out.open) })
	lw := s.startLandingWriter(out, idsSchema)
	defer lw.stop()
	defer openOut() // before stop: a failing test must not leave the writer blocked

	const rows = 128 << 10 // 1 MiB of int64, and its validity bitmap
	var handed, held int64
	for {
		rec := idsBatch(mem, handed*rows, rows)
		n := util.TotalRecordSize(rec)
		if held+n > landingQueueBytes {
			// One batch more than the bound: the writer makes the put wait.
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			err := lw.write(ctx, rec)
			cancel()
			rec.Release()
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("write of one batch more than the bound (%d bytes held) = %v, want it to wait until the context ends", held, err)
			}
			break
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := lw.write(ctx, rec)
		cancel()
		rec.Release()
		if err != nil {
			t.Fatalf("write of batch %d (%d bytes held): %v", handed+1, held, err)
		}
		handed++
		held += n
	}
	if handed < 8 {
		t.Fatalf("the writer took %d batches of 1 MiB, want up to its bound of %d bytes", handed, landingQueueBytes)
	}
	// The IPC writer's own allocations are a few hundred bytes.
	if got := int64(mem.CurrentAlloc()); got < held || got > held+4096 {
		t.Errorf("%d bytes allocated, want the %d of the batches handed over", got, held)
	}
	// A batch larger than the bound is taken whole, once the others are written.
	openOut()
	big := idsBatch(mem, handed*rows, (landingQueueBytes/8 + 4096))
	if err := lw.write(context.Background(), big); err != nil {
		t.Fatalf("write of a batch over the bound: %v", err)
	}
	big.Release()
	if err := lw.finish(); err != nil {
		t.Fatalf("finish: %v", err)
	}
	if held := mem.CurrentAlloc(); held != 0 {
		t.Errorf("after finish the writer still holds %d bytes", held)
	}

	rdr, err := ipc.NewReader(bytes.NewReader(out.buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Release()
	next := int64(0)
	for rdr.Next() {
		ids := rdr.RecordBatch().Column(0).(*array.Int64)
		for i := 0; i < ids.Len(); i++ {
			if ids.Value(i) != next {
				t.Fatalf("id %d where %d was written", ids.Value(i), next)
			}
			next++
		}
	}
	if err := rdr.Err(); err != nil {
		t.Fatalf("reading the landing back: %v", err)
	}
	if want := handed*rows + (landingQueueBytes/8 + 4096); next != want {
		t.Errorf("read back %d ids, want %d", next, want)
	}
}

// TestLandingWriterFailure: once the file refuses a write, the put's next write or
// its finish returns that error, nothing is written after it, and every batch handed
// over is released. stop without finish writes no end of stream.
func TestLandingWriterFailure(t *testing.T) {
	s, mem := newTestStore(t)
	full := errors.New("no space left on device")
	out := &gatedWriter{open: make(chan struct{}), failAfter: 3 << 20, failWith: full}
	close(out.open)
	lw := s.startLandingWriter(out, idsSchema)
	var err error
	for i := 0; i < 64 && err == nil; i++ {
		rec := idsBatch(mem, 0, 128<<10)
		err = lw.write(context.Background(), rec)
		rec.Release()
	}
	if err == nil {
		err = lw.finish()
	}
	if !errors.Is(err, full) || !strings.Contains(err.Error(), "write landing") {
		t.Fatalf("write after the file failed = %v, want the file's error", err)
	}
	if err := lw.finish(); !errors.Is(err, full) {
		t.Errorf("finish after the failure = %v, want the file's error", err)
	}
	lw.stop()
	if held := mem.CurrentAlloc(); held != 0 {
		t.Errorf("after the failure the writer still holds %d bytes", held)
	}
	if n := out.buf.Len(); n > 3<<20 {
		t.Errorf("%d bytes written, more than the file took", n)
	}

	// Stopped: what was handed over is discarded, and no end of stream is written.
	out2 := &gatedWriter{open: make(chan struct{})}
	lw2 := s.startLandingWriter(out2, idsSchema)
	for i := 0; i < 4; i++ {
		rec := idsBatch(mem, 0, 1024)
		if err := lw2.write(context.Background(), rec); err != nil {
			t.Fatal(err)
		}
		rec.Release()
	}
	close(out2.open)
	lw2.stop()
	if held := mem.CurrentAlloc(); held != 0 {
		t.Errorf("after stop the writer still holds %d bytes", held)
	}
	if eos := []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}; bytes.HasSuffix(out2.buf.Bytes(), eos) {
		t.Errorf("a stopped landing ends with an end-of-stream marker: a reader would take it as complete")
	}
}

// TestLandingWritersShareOneBound: the landing writers of one store hold, together, no
// more than the store's bound: a second put waits while a first holds nearly all of
// it, though the second's own share is untouched, and goes on once the first's file
// takes its bytes.
func TestLandingWritersShareOneBound(t *testing.T) {
	s, mem := newTestStore(t)
	const rows = 128 << 10
	sample := idsBatch(mem, 0, rows)
	n := util.TotalRecordSize(sample)
	sample.Release()
	// Room for eight batches and a half, all of it within one writer's own bound.
	s.landingQueued = semaphore.NewWeighted(8*n + n/2)

	slow := &gatedWriter{open: make(chan struct{})}
	openSlow := sync.OnceFunc(func() { close(slow.open) })
	fast := &gatedWriter{open: make(chan struct{})}
	close(fast.open)
	first := s.startLandingWriter(slow, idsSchema)
	defer first.stop()
	defer openSlow() // before stop: a failing test must not leave the writer blocked
	second := s.startLandingWriter(fast, idsSchema)
	defer second.stop()
	write := func(lw *landingWriter, start int64, wait time.Duration) error {
		rec := idsBatch(mem, start, rows)
		defer rec.Release()
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		return lw.write(ctx, rec)
	}
	for i := range int64(8) {
		if err := write(first, i*rows, 5*time.Second); err != nil {
			t.Fatalf("first put, batch %d: %v", i+1, err)
		}
	}
	if err := write(second, 0, 100*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second put while the first holds the store's bound: %v, want it to wait until its context ends", err)
	}
	openSlow()
	if err := write(second, 0, 5*time.Second); err != nil {
		t.Fatalf("second put once the first's bytes are written: %v", err)
	}
	if err := first.finish(); err != nil {
		t.Fatalf("first finish: %v", err)
	}
	if err := second.finish(); err != nil {
		t.Fatalf("second finish: %v", err)
	}
	if held := mem.CurrentAlloc(); held != 0 {
		t.Errorf("after both finished the writers hold %d bytes", held)
	}
}
