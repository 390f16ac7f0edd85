package flightsql

import (
	"cmp"
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"

	"github.com/quiverdata/quiver/catalog/lowprio"
)

// sendDecoded streams rdr as encoded messages (dogetwire.go), filling the memory
// tier when fill is not nil. Like the Flight writer path of getDataset, a goroutine
// decodes ahead (readAhead) while this one sends; a batch is released, with its
// reservation, once gRPC is done with every message that borrows from it.
// With as, the stream carries that schema instead of rdr's: the same column names
// and types (sameColumns), other metadata (a bare scan's, sql_barescan.go).
func (s *Server) sendDecoded(ctx context.Context, cancel context.CancelFunc, name string, rdr array.RecordReader, as *arrow.Schema, stream flight.FlightService_DoGetServer, fill *dogetFill) (err error) {
	mw := &messageWriter{stream: stream}
	if fill != nil {
		mw.keep = fill.keep
		defer func() { fill.finish(err == nil) }()
	}
	schema := rdr.Schema()
	if as != nil {
		schema = as
	}
	// The IPC writer wants each batch under its schema, metadata and all: the same
	// buffers, no copy.
	write := func(w *ipc.Writer, rec arrow.RecordBatch) error {
		if as == nil {
			return w.Write(rec)
		}
		rec, err := asColumns(as, rec)
		if err != nil {
			return fmt.Errorf("dataset %q: %w", name, err)
		}
		defer rec.Release()
		return w.Write(rec)
	}
	w := newMessageWriter(mw, ipc.WithSchema(schema))
	held := newHeldBatches()
	// Before the call returns, every batch is released: by gRPC freeing its messages
	// (then the data has left), or here once the stream has ended.
	defer held.settle(stream.Context())

	batches, wait := s.decodeAhead(ctx, name, rdr)
	var sendErr error
	for b := range batches {
		if sendErr != nil {
			b.release()
			continue
		}
		if fill != nil {
			// The messages are copies (the tier's): the batch is free once written.
			mw.hold = nil
			err := write(w, b.rec)
			b.release()
			if err != nil {
				sendErr = fmt.Errorf("send: %w", err)
				cancel()
			}
			continue
		}
		hold := held.hold(b.release)
		mw.hold = hold
		err := write(w, b.rec)
		mw.hold = nil
		hold.unref() // the writer's reference: gRPC's go with the messages
		if err != nil {
			sendErr = fmt.Errorf("send: %w", err)
			cancel() // stop the decoding; the batches still queued are dropped above
		}
	}
	rows, limitErr, readErr := wait() // the reader is ours again: the caller's rdr.Release may run
	if sendErr == nil && limitErr == nil && readErr == nil {
		if err := w.Close(); err != nil { // an empty dataset's schema goes out here
			sendErr = fmt.Errorf("send: %w", err)
		}
	} else {
		w.Close()
	}
	if err := cmp.Or(sendErr, limitErr); err != nil {
		return toStatus(fmt.Errorf("dataset %q: %w", name, err))
	}
	if readErr != nil {
		return toStatus(readErr) // the reader's errors name the dataset
	}
	s.log.Debug("dataset sent", "dataset", name, "rows", rows, "tier_fill", fill != nil)
	return nil
}

// decodeAhead reads rdr's batches on a goroutine of its own, sendAhead batches ahead
// of the sender, into batches (closed at the end). wait waits for that goroutine and
// returns what it read: the rows, an error of the result limits, and one of the
// reader (a panic in the decoding becomes one: the interceptors recover only the
// handler's goroutine, and a panic here would end the server).
func (s *Server) decodeAhead(ctx context.Context, name string, rdr array.RecordReader) (batches <-chan heldBatch, wait func() (rows int64, limitErr, readErr error)) {
	out := make(chan heldBatch, sendAhead)
	var (
		rows              int64
		limitErr, readErr error
		done              = make(chan struct{})
	)
	lowprio.Go(func() { // decoding is bulk work: behind short requests
		defer close(done)
		defer close(out)
		defer func() {
			if p := recover(); p != nil {
				readErr = panicError(s.log, fmt.Sprintf("read dataset %q", name), p)
			}
		}()
		rows, limitErr, readErr = s.out.readAhead(ctx, rdr, out)
	})
	return out, func() (int64, error, error) {
		<-done
		return rows, limitErr, readErr
	}
}

// sendKept sends a memory tier entry. Each message holds its size of the result
// memory budget while it is handed to gRPC, as a decoded batch would.
func (s *Server) sendKept(ctx context.Context, name string, e *dogetEntry, stream flight.FlightService_DoGetServer) error {
	for _, m := range e.msgs {
		if err := ctx.Err(); err != nil { // the call ended, or a query's timeout
			return toStatus(fmt.Errorf("dataset %q: %w", name, err))
		}
		res, err := s.out.reserve(ctx, int64(len(m.wire)))
		if err != nil {
			return toStatus(fmt.Errorf("dataset %q: %w", name, err))
		}
		err = sendEncoded(stream, m.wire, m.header, m.bodyLen)
		res.release()
		if err != nil {
			return toStatus(fmt.Errorf("dataset %q: send: %w", name, err))
		}
	}
	s.log.Debug("dataset sent from the memory tier", "dataset", name, "bytes", e.bytes)
	return nil
}
