package flightsql

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"golang.org/x/sync/semaphore"

	"github.com/quiverdata/quiver/catalog"
	"github.com/quiverdata/quiver/catalog/lowprio"
)

// What leaves the server as results: every record batch of a plain DoGet and of a
// SQL result passes through here on its way to gRPC.
//
// Batches are cut by bytes where they are made (catalog.DefaultBatchBytes, in the
// catalog's reader and the engine's Rows), so they are a few MiB. Two things remain
// to hold here, for every stream alike:
//
//   - A batch must fit in one gRPC message. One that does not is cut again (an
//     operator may run with --max-message-bytes below the batch target); a single
//     row that does not fails the stream with ResourceExhausted naming the column,
//     its size and the flag, instead of gRPC's own "message larger than max".
//   - The batches made and not yet handed to gRPC, over all streams, stay inside
//     the result memory budget (--result-memory-limit). A stream waits for room
//     before it sends; a batch larger than the whole budget fails with
//     ResourceExhausted naming the limit.

// DefaultMaxMessageBytes is the largest gRPC message the server sends or accepts
// unless configured otherwise (gRPC's own default receive limit is 4 MiB; Quiver's
// is the flag --max-message-bytes).
const DefaultMaxMessageBytes = 256 << 20

// DefaultResultMemoryLimit bounds the Arrow bytes of result batches that all
// streams together hold between making them and gRPC taking them.
const DefaultResultMemoryLimit = 1 << 30

// ResultLimits bound what result streams send and hold. The zero value means the
// defaults.
type ResultLimits struct {
	// MaxMessageBytes is the gRPC message limit the server runs with (the value
	// given to GRPCOptions); 0: DefaultMaxMessageBytes.
	MaxMessageBytes int
	// MemoryLimit bounds the bytes of result batches held by all streams together;
	// 0: DefaultResultMemoryLimit; negative: no limit.
	MemoryLimit int64
}

var (
	// errMessageTooLarge is a single result row larger than one gRPC message.
	errMessageTooLarge = errors.New("result row too large to send")
	// errResultMemory is a result batch larger than the whole result memory budget.
	errResultMemory = errors.New("result memory limit exceeded")
)

// messageOverhead is what a batch's IPC message adds to its buffers, at most: the
// flatbuffer header, 8-byte padding of each buffer, the Flight and gRPC framing.
// Counted per column, generously, so that a batch that passes fits.
func messageOverhead(rec arrow.RecordBatch) int64 { return 4096 + 256*rec.NumCols() }

// outgoing applies ResultLimits. One is shared by the plain Flight and the Flight SQL
// server of a Service, so that one budget holds for every stream.
type outgoing struct {
	maxMessage int64
	limit      int64               // 0: no budget
	budget     *semaphore.Weighted // nil without a budget
}

func newOutgoing(l ResultLimits) *outgoing {
	o := &outgoing{maxMessage: int64(l.MaxMessageBytes), limit: l.MemoryLimit}
	if o.maxMessage <= 0 {
		o.maxMessage = DefaultMaxMessageBytes
	}
	if o.limit == 0 {
		o.limit = DefaultResultMemoryLimit
	}
	if o.limit < 0 {
		o.limit = 0
	} else {
		o.budget = semaphore.NewWeighted(o.limit)
	}
	return o
}

// split calls each with rec cut into batches that fit in one message and in the
// result memory budget: rec itself when it fits (the common case), else slices. It
// fails, naming the column, when a single row does not fit in a message; a single
// row larger than the budget is passed on alone (reserve refuses it). Each batch
// passed to each is a new reference that each owns; each returning false stops the
// split.
func (o *outgoing) split(rec arrow.RecordBatch, each func(arrow.RecordBatch) bool) error {
	msgRoom := o.maxMessage - messageOverhead(rec)
	room := msgRoom
	if o.budget != nil {
		room = min(room, o.limit)
	}
	if catalog.BatchBytes(rec) <= room {
		rec.Retain()
		each(rec)
		return nil
	}
	rows := int(rec.NumRows())
	for at := 0; at < rows; {
		n := catalog.FitRows(rec, at, rows-at, room)
		if n == 0 {
			if catalog.RowsRangeBytes(rec, at, at+1) > msgRoom {
				return o.rowTooLarge(rec, at)
			}
			n = 1
		}
		if !each(rec.NewSlice(int64(at), int64(at+n))) {
			return nil
		}
		at += n
	}
	return nil
}

// rowTooLarge describes row i of rec, which does not fit in one message, by its
// largest column.
func (o *outgoing) rowTooLarge(rec arrow.RecordBatch, i int) error {
	col, size := 0, int64(-1)
	for c, arr := range rec.Columns() {
		if b := catalog.RowsBytes(arr, i, i+1); b > size {
			col, size = c, b
		}
	}
	return fmt.Errorf("%w: a row's column %q holds %s, more than fits in one message of %s: raise --max-message-bytes on the server, or select less of that column",
		errMessageTooLarge, rec.ColumnName(col), byteSize(size), byteSize(o.maxMessage))
}

// reserve takes n bytes of the budget, waiting for room until ctx ends. The
// returned reservation gives them back once, on its first release.
func (o *outgoing) reserve(ctx context.Context, n int64) (*reservation, error) {
	r := &reservation{o: o, n: n, done: make(chan struct{})}
	if o.budget == nil {
		return r, nil
	}
	if n > o.limit {
		return nil, fmt.Errorf("%w: one result batch holds %s, more than the server's whole result memory limit of %s (--result-memory-limit)",
			errResultMemory, byteSize(n), byteSize(o.limit))
	}
	if err := o.budget.Acquire(ctx, n); err != nil {
		return nil, fmt.Errorf("waiting for result memory: %w", err)
	}
	return r, nil
}

// reservation is n bytes of the result budget.
type reservation struct {
	o    *outgoing
	n    int64
	once sync.Once
	done chan struct{} // closed by the first release
}

func (r *reservation) release() {
	r.once.Do(func() {
		if r.o.budget != nil {
			r.o.budget.Release(r.n)
		}
		close(r.done)
	})
}

// reservedBatch is a record batch that gives its reservation back when its last
// reference goes: the Flight SQL server releases each batch it has written.
type reservedBatch struct {
	arrow.RecordBatch
	refs atomic.Int64
	res  *reservation
}

// withReservation wraps rec, taking over the caller's reference.
func withReservation(rec arrow.RecordBatch, res *reservation) *reservedBatch {
	b := &reservedBatch{RecordBatch: rec, res: res}
	b.refs.Store(1)
	return b
}

func (b *reservedBatch) Retain() { b.refs.Add(1) }

func (b *reservedBatch) Release() {
	if b.refs.Add(-1) == 0 {
		b.RecordBatch.Release()
		b.res.release()
	}
}

// sendBatches sends rec on ch, cut to fit messages, each batch holding a reservation
// that the Flight SQL server's release of it gives back. It takes over rec's
// reference. It returns false when the stream must stop: ctx ended, or an error
// (a row too large, the budget exceeded) was sent in place of data. *last is the
// reservation of the last batch sent.
func (o *outgoing) sendBatches(ctx context.Context, ch chan<- flight.StreamChunk, rec arrow.RecordBatch, last **reservation) bool {
	defer rec.Release()
	var failed error
	sent := true
	err := o.split(rec, func(b arrow.RecordBatch) bool {
		res, err := o.reserve(ctx, catalog.BatchBytes(b))
		if err != nil {
			b.Release()
			failed = err
			return false
		}
		rb := withReservation(b, res)
		if !send(ctx, ch, flight.StreamChunk{Data: rb}) {
			rb.Release()
			sent = false
			return false
		}
		*last = res
		return true
	})
	if err == nil {
		err = failed
	}
	if !sent {
		return false
	}
	if err != nil {
		send(ctx, ch, flight.StreamChunk{Err: toStatus(err)})
		return false
	}
	return true
}

// settle waits until the reservation of a stream's last batch is given back: by the
// batch's release once written, or here once the stream is over (ctx ends when the
// call does). arrow-go's Flight SQL DoGet does not release a batch whose write
// failed, and a reservation lost that way would shrink the budget for good.
func (o *outgoing) settle(ctx context.Context, last *reservation) {
	if last == nil {
		return
	}
	select {
	case <-last.done:
	case <-ctx.Done():
		last.release()
	}
}

// sendAhead is how many batches a plain DoGet decodes ahead of the one it writes.
const sendAhead = 1

// heldBatch is a batch cut to fit one message, holding its share of the result
// memory budget until it is written.
type heldBatch struct {
	rec arrow.RecordBatch
	res *reservation
}

func (h heldBatch) release() {
	h.rec.Release()
	h.res.release()
}

// readAhead reads rdr to the end and passes its batches on out, cut to fit messages,
// each holding a reservation that the receiver releases with the batch. It returns
// the rows read, the error of a batch refused by the limits (or of ctx ending while
// it waited for a bulk slot, for room or for the receiver), and rdr's own error. The caller must not
// touch rdr until readAhead returns, and must receive from out until then.
func (o *outgoing) readAhead(ctx context.Context, rdr array.RecordReader, out chan<- heldBatch) (rows int64, limitErr, readErr error) {
	for {
		more, err := nextInSlot(ctx, rdr)
		if err != nil {
			return rows, err, nil
		}
		if !more {
			break
		}
		rec := rdr.RecordBatch()
		err = o.split(rec, func(b arrow.RecordBatch) bool {
			res, err := o.reserve(ctx, catalog.BatchBytes(b))
			if err != nil {
				b.Release()
				limitErr = err
				return false
			}
			select {
			case out <- heldBatch{rec: b, res: res}:
				return true
			case <-ctx.Done():
				b.Release()
				res.release()
				limitErr = ctx.Err()
				return false
			}
		})
		if err != nil {
			return rows, err, nil
		}
		if limitErr != nil {
			return rows, limitErr, nil
		}
		rows += rec.NumRows()
	}
	return rows, nil, rdr.Err()
}

// nextInSlot decodes rdr's next batch in a bulk slot (lowprio.Slot), so that
// decoding streams leave the CPU to short requests first. It fails only when ctx
// ends while it waits for the slot.
func nextInSlot(ctx context.Context, rdr array.RecordReader) (bool, error) {
	release, err := lowprio.Slot(ctx)
	if err != nil {
		return false, err
	}
	defer release()
	return rdr.Next(), nil
}

// byteSize formats n bytes for a message: "300.0 MiB".
func byteSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
