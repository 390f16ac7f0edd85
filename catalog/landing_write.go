package catalog

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/util"
	"golang.org/x/sync/semaphore"
)

// landingQueueBytes bounds the bytes of the batches a landing writer holds and has not
// finished writing, the one it is writing included (a batch larger than this counts
// as this much): a put holds at most this, or one batch when a batch is larger,
// beyond what it held before, whatever the upload's size.
const landingQueueBytes = 16 << 20

// landingQueueTotal bounds what all the landing writers of a store hold unwritten
// together: sixteen puts' worth. With many puts at once on a slow disk, a put waits
// here rather than every put holding landingQueueBytes.
const landingQueueTotal = 16 * landingQueueBytes

// landingWriter writes the batches of a landed put to its file, as an Arrow IPC
// stream, on a goroutine of its own: the put's handler receives, decodes and
// validates the next batch while the previous one goes to the file. Writing on the
// handler's goroutine, the write syscalls came after the receiving: 170-290 ms of a
// 0.8 s put of 10M rows x 4 columns (440 MB), beside 350-480 ms receiving.
//
// The handler owns the goroutine: finish or stop waits for it, on every path. Batches
// are written in the order they are handed over, each Retained until written.
type landingWriter struct {
	items  chan landingItem
	queued *semaphore.Weighted // bytes handed over and not yet written
	shared *semaphore.Weighted // the same bytes, counted with every writer's of the store
	done   chan struct{}       // closed when the goroutine has returned
	failed chan struct{}       // closed when err is set, before done
	err    error               // the first error; read after failed or done is closed
	once   sync.Once           // closes items
	halt   atomic.Bool         // set by stop: the goroutine discards what is left
}

type landingItem struct {
	rec   arrow.RecordBatch
	bytes int64 // what it holds of queued
}

// startLandingWriter starts writing an IPC stream of schema to out.
func (s *Store) startLandingWriter(out io.Writer, schema *arrow.Schema) *landingWriter {
	lw := &landingWriter{
		items:  make(chan landingItem, 64),
		queued: semaphore.NewWeighted(landingQueueBytes),
		shared: s.landingQueued,
		done:   make(chan struct{}),
		failed: make(chan struct{}),
	}
	// Small writes (message headers, padding) gather in buf; a body buffer larger than
	// what buf has room for goes to the file without being copied (bufio writes it
	// directly once buf is flushed). With 1 MiB here, the column buffers of a 64Ki-row
	// batch (0.25-1 MiB each) were all copied into buf first.
	buf := bufio.NewWriterSize(out, 64<<10)
	w := ipc.NewWriter(buf, ipc.WithSchema(schema), ipc.WithAllocator(s.opts.Allocator))
	go lw.run(s, w, buf)
	return lw
}

// write hands rec to the writer, waiting while the bytes it has not written yet are
// over landingQueueBytes. It returns the writer's error if it has failed, or ctx's.
func (lw *landingWriter) write(ctx context.Context, rec arrow.RecordBatch) error {
	select {
	case <-lw.failed:
		return lw.err
	default:
	}
	n := min(util.TotalRecordSize(rec), landingQueueBytes)
	if err := lw.queued.Acquire(ctx, n); err != nil {
		return err
	}
	if err := lw.shared.Acquire(ctx, n); err != nil {
		lw.queued.Release(n)
		return err
	}
	rec.Retain() // released by the goroutine once written or discarded
	lw.items <- landingItem{rec: rec, bytes: n}
	return nil
}

// finish ends the stream (its end-of-stream marker), flushes it and waits for the
// goroutine. It returns the first error of any write.
func (lw *landingWriter) finish() error {
	lw.once.Do(func() { close(lw.items) })
	<-lw.done
	return lw.err
}

// stop discards what is not written yet and waits for the goroutine: the put failed.
// It may follow finish, and may be called more than once.
func (lw *landingWriter) stop() {
	lw.halt.Store(true)
	lw.once.Do(func() { close(lw.items) })
	<-lw.done
}

// run writes the batches handed over until items is closed, then ends the stream.
// After an error, or once stopped, it only releases what it is handed.
func (lw *landingWriter) run(s *Store, w *ipc.Writer, buf *bufio.Writer) {
	defer close(lw.done)
	fail := func(err error) {
		if lw.err == nil {
			lw.err = err
			close(lw.failed)
		}
	}
	written := 0
	for it := range lw.items {
		if lw.err == nil && !lw.halt.Load() {
			if err := s.recovering("write a landing batch", "the Arrow IPC writer", func() error { return w.Write(it.rec) }); err != nil {
				fail(fmt.Errorf("write landing: %w", err))
			} else if written++; written == 1 {
				reached("land: first batch written")
			}
		}
		it.rec.Release()
		lw.shared.Release(it.bytes)
		lw.queued.Release(it.bytes)
	}
	if lw.err != nil || lw.halt.Load() {
		return
	}
	if err := s.recovering("end the landing stream", "the Arrow IPC writer", w.Close); err != nil {
		fail(fmt.Errorf("write landing: %w", err))
		return
	}
	if err := buf.Flush(); err != nil {
		fail(fmt.Errorf("write landing: %w", err))
	}
}
