//go:build duckdb_arrow

package duckread

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	bindings "github.com/duckdb/duckdb-go-bindings"

	"github.com/quiverdata/quiver/catalog"
)

// Reader streams the result of one query as Arrow record batches. It implements
// array.RecordReader; Next, RecordBatch and Err belong to one goroutine. A batch is
// valid until the next call to Next or Release.
type Reader struct {
	refs      atomic.Int64
	d         *DB
	mem       memory.Allocator
	batchRows int
	stop      func() bool // ends the interrupt-on-cancel watch
	ctx       context.Context

	st     bindings.PreparedStatement
	res    bindings.Result
	opts   bindings.ArrowOptions
	schema *arrow.Schema
	done   bool // the result is used up or failed and freed

	pending []arrow.RecordBatch // converted chunks not yet in a batch
	cur     arrow.RecordBatch
	err     error
}

var _ array.RecordReader = (*Reader)(nil)

// Query starts sql as a streaming query. Batches hold batchRows rows (the last may
// hold fewer) and at most about catalog.DefaultBatchBytes of Arrow buffers, the most
// a Quiver server takes in one message comfortably. Cancelling ctx interrupts DuckDB.
// The caller releases the Reader before closing the DB.
func (d *DB) Query(ctx context.Context, sql string, mem memory.Allocator, batchRows int) (*Reader, error) {
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	if batchRows <= 0 {
		batchRows = 64 << 10
	}
	r := &Reader{d: d, mem: mem, batchRows: batchRows, ctx: ctx}
	r.refs.Store(1)
	if bindings.Prepare(d.conn, sql, &r.st) == bindings.StateError {
		err := errors.New(cleanMessage(bindings.PrepareError(r.st)))
		bindings.DestroyPrepare(&r.st)
		return nil, err
	}
	var pending bindings.PendingResult
	defer bindings.DestroyPending(&pending)
	// duckdb_pending_prepared_streaming is deprecated in DuckDB's C API but is its
	// only streaming entry point in 1.5.6 (the server's engine uses it too,
	// flightsql/engine/query.go): without it the whole input is materialised.
	//lint:ignore SA1019 see above
	if bindings.PendingPreparedStreaming(r.st, &pending) == bindings.StateError { //nolint:staticcheck
		err := errors.New(cleanMessage(bindings.PendingError(pending)))
		bindings.DestroyPrepare(&r.st)
		return nil, err
	}
	r.stop = context.AfterFunc(ctx, func() { bindings.Interrupt(d.conn) })
	if bindings.ExecutePending(pending, &r.res) == bindings.StateError {
		err := r.resultError()
		r.free()
		return nil, err
	}
	r.opts = bindings.ResultGetArrowOptions(&r.res)
	n := int(bindings.ColumnCount(&r.res))
	names := make([]string, n)
	types := make([]bindings.LogicalType, n)
	for i := range n {
		names[i] = bindings.ColumnName(&r.res, bindings.IdxT(i))
		types[i] = bindings.ColumnLogicalType(&r.res, bindings.IdxT(i))
	}
	schema, ed := bindings.NewArrowSchema(r.opts, types, names)
	for i := range types {
		bindings.DestroyLogicalType(&types[i])
	}
	if err := errorData(ed); err != nil {
		r.free()
		return nil, fmt.Errorf("arrow schema: %w", err)
	}
	r.schema = schema
	return r, nil
}

// resultError is the error of r.res, or the context's when it was cancelled.
func (r *Reader) resultError() error {
	if err := r.ctx.Err(); err != nil {
		return err
	}
	return errors.New(cleanMessage(bindings.ResultError(&r.res)))
}

// free releases what DuckDB holds for the query.
func (r *Reader) free() {
	if r.done {
		return
	}
	r.done = true
	r.stop()
	bindings.DestroyResult(&r.res)
	bindings.DestroyPrepare(&r.st)
}

// Retain adds a reference.
func (r *Reader) Retain() { r.refs.Add(1) }

// Release drops a reference; the last one frees the batches and the query.
func (r *Reader) Release() {
	if r.refs.Add(-1) != 0 {
		return
	}
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	for _, p := range r.pending {
		p.Release()
	}
	r.pending = nil
	r.free()
}

// Schema is the result's schema.
func (r *Reader) Schema() *arrow.Schema { return r.schema }

// RecordBatch is the current batch.
func (r *Reader) RecordBatch() arrow.RecordBatch { return r.cur }

// Record is RecordBatch under its older name.
//
// Deprecated: use RecordBatch.
func (r *Reader) Record() arrow.RecordBatch { return r.cur }

// Err is the error that ended the stream, nil at a clean end.
func (r *Reader) Err() error { return r.err }

// Next gathers the next batch.
func (r *Reader) Next() bool {
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	if r.err != nil {
		return false
	}
	rec, err := r.gather()
	if err != nil {
		r.err = err
		r.free()
		return false
	}
	r.cur = rec
	return rec != nil
}

// gather converts chunks until a batch's worth of rows or bytes, or the end.
func (r *Reader) gather() (arrow.RecordBatch, error) {
	rows, size := 0, int64(0)
	for _, p := range r.pending {
		rows += int(p.NumRows())
		size += catalog.BatchBytes(p)
	}
	for !r.done && rows < r.batchRows && size < catalog.DefaultBatchBytes {
		chunk := bindings.FetchChunk(r.res)
		if chunk.Ptr == nil {
			// The end, or an error: the result's error tells.
			var err error
			if msg := bindings.ResultError(&r.res); msg != "" {
				err = r.resultError()
			}
			r.free()
			if err != nil {
				return nil, err
			}
			break
		}
		n := int(bindings.DataChunkGetSize(chunk))
		if n == 0 {
			bindings.DestroyDataChunk(&chunk)
			continue
		}
		rec, ed := bindings.DataChunkToArrowArray(r.opts, r.schema, chunk)
		bindings.DestroyDataChunk(&chunk)
		if err := errorData(ed); err != nil {
			if rec != nil {
				rec.Release()
			}
			return nil, err
		}
		r.pending = append(r.pending, rec)
		rows += n
		size += catalog.BatchBytes(rec)
	}
	return r.take()
}

// take makes one batch of the pending chunks, up to batchRows rows; rows past that
// stay pending for the next batch.
func (r *Reader) take() (arrow.RecordBatch, error) {
	if len(r.pending) == 0 {
		return nil, nil
	}
	var parts []arrow.RecordBatch
	rows := 0
	for len(r.pending) > 0 && rows < r.batchRows {
		p := r.pending[0]
		if room := r.batchRows - rows; int(p.NumRows()) > room {
			parts = append(parts, p.NewSlice(0, int64(room)))
			r.pending[0] = p.NewSlice(int64(room), p.NumRows())
			p.Release()
			rows += room
			break
		}
		parts = append(parts, p)
		r.pending = r.pending[1:]
		rows += int(p.NumRows())
	}
	defer func() {
		for _, p := range parts {
			p.Release()
		}
	}()
	if len(parts) == 1 {
		parts[0].Retain()
		return parts[0], nil
	}
	cols := make([]arrow.Array, r.schema.NumFields())
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	for i := range cols {
		arrs := make([]arrow.Array, len(parts))
		for j, p := range parts {
			arrs[j] = p.Column(i)
		}
		c, err := array.Concatenate(arrs, r.mem)
		if err != nil {
			return nil, fmt.Errorf("regroup column %q: %w", r.schema.Field(i).Name, err)
		}
		cols[i] = c
	}
	return array.NewRecordBatch(r.schema, cols, int64(rows)), nil
}

// Progress is DuckDB's estimate of how much of the query is done, from 0 to 1, or
// -1 when it has none.
func (r *Reader) Progress() float64 {
	p := bindings.QueryProgress(r.d.conn)
	pct, _, _ := bindings.QueryProgressTypeMembers(&p)
	if pct < 0 {
		return -1
	}
	return pct / 100
}

// errorData turns DuckDB error data into an error and destroys it.
func errorData(ed bindings.ErrorData) error {
	defer bindings.DestroyErrorData(&ed)
	if ed.Ptr == nil || !bindings.ErrorDataHasError(ed) {
		return nil
	}
	return errors.New(bindings.ErrorDataMessage(ed))
}
