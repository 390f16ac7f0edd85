//go:build duckdb_arrow

package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	bindings "github.com/duckdb/duckdb-go-bindings"

	"github.com/quiverdata/quiver/catalog"
)

// Query executes one read-only statement and streams its result. params may be nil;
// otherwise row `row` of params binds the placeholders in order.
//
// ctx governs the whole stream, not just this call: cancelling it (or Config.QueryTimeout
// elapsing) interrupts DuckDB, and Rows then reports context.Canceled or
// context.DeadlineExceeded, wrapped. Under a context from Request the request's
// deadline applies; otherwise the query gets a Config.QueryTimeout of its own. The
// caller must Release the Rows.
//
// With a Config.Catalog, the views are brought in step with the catalog first.
func (e *Engine) Query(ctx context.Context, sql string, params arrow.RecordBatch, row int) (*Rows, error) {
	if err := ctxError(ctx); err != nil {
		return nil, sqlError(sql, err)
	}
	if err := e.syncCatalog(ctx); err != nil {
		return nil, sqlError(sql, err)
	}
	before := e.catalogSnapshot()
	if beforeStatement != nil {
		beforeStatement()
	}
	rows, err := e.query(ctx, sql, params, row)
	if err != nil && before != nil {
		if derr := e.droppedUnder(ctx, before, err); derr != nil {
			return nil, sqlError(sql, derr)
		}
	}
	if rows != nil {
		rows.before = before
		rows.bulk = true
	}
	return rows, err
}

// beforeStatement, when a test sets it, runs between Query's view sync and its
// statement: where a concurrent drop or replace races the query.
var beforeStatement func()

// query is Query on the views as they are.
func (e *Engine) query(ctx context.Context, sql string, params arrow.RecordBatch, row int) (*Rows, error) {
	return e.runQuery(ctx, sql, params, row, false)
}

// runQuery is query. With schemaOnly the caller wants only the result's schema
// (DescribeBound): the statement may then read a stand-in of LocalFiles, which has
// its dataset's schema, and does not count as a read of its datasets for the
// memory tier.
func (e *Engine) runQuery(ctx context.Context, sql string, params arrow.RecordBatch, row int, schemaOnly bool) (*Rows, error) {
	if err := ctxError(ctx); err != nil {
		return nil, sqlError(sql, err)
	}
	ctx, cancel := e.Request(ctx)
	s, err := e.newSessionFor(sql)
	if err != nil {
		cancel()
		return nil, sqlError(sql, err)
	}
	s.cancel = cancel
	s.schemaOnly = schemaOnly
	s.watch(ctx)
	defer s.mu.Unlock()

	schema, tables, flat, err := s.start(sql, params, row)
	if err != nil {
		// Explain before destroying: destroying cancels ctx, and explain would then
		// report the failure as a cancellation instead of DuckDB's error.
		err = sqlError(sql, e.noteFailure(s.gen, e.explain(ctx, err)))
		s.destroyLocked(nil)
		return nil, err
	}
	if !schemaOnly {
		e.hot.noteRead(s.scans)
	}
	r := &Rows{eng: e, s: s, ctx: ctx, sql: sql, schema: schema, tables: tables}
	if flat != nil && !e.noFlat {
		r.flat, r.queue = flat, newChunkQueue(e.batchBytes)
	}
	r.refs.Store(1)
	return r, nil
}

// start prepares, binds and starts executing sql on the session's connection, keeping
// the prepared statement and the streaming result in the session. s.mu is held.
// It also returns the table of each result column, as Description.Tables, and how
// to copy the columns straight from DuckDB's chunks (flatColumns; nil if not).
func (s *session) start(sql string, params arrow.RecordBatch, row int) (*arrow.Schema, []string, []flatColumn, error) {
	origins, err := s.eng.startReadingData(s, sql, params, row)
	if err != nil {
		return nil, nil, nil, err
	}
	s.opts = bindings.ResultGetArrowOptions(&s.res)
	s.hasRes = true

	n := int(bindings.ColumnCount(&s.res))
	names := make([]string, n)
	types := make([]bindings.LogicalType, n)
	for i := range n {
		names[i] = bindings.ColumnName(&s.res, bindings.IdxT(i))
		types[i] = bindings.ColumnLogicalType(&s.res, bindings.IdxT(i))
	}
	defer destroyTypes(types)
	schema, err := newArrowSchema(s.opts, types, names)
	if err != nil {
		return nil, nil, nil, err
	}
	var tables []string
	if len(origins) == n {
		tables = s.eng.originTables(origins)
	}
	return schema, tables, flatColumns(types, schema), nil
}

// executeStreaming starts st as a streaming query: DuckDB produces chunks as they are
// fetched instead of materialising the result first. It is the one place that uses
// duckdb_pending_prepared_streaming, deprecated in DuckDB's C API since 1.0 but the
// only streaming entry point the bindings offer in 1.5.6; when it goes, only this
// function changes. On error res needs no cleanup.
func executeStreaming(st bindings.PreparedStatement, res *bindings.Result) error {
	var pending bindings.PendingResult
	defer bindings.DestroyPending(&pending)
	//lint:ignore SA1019 see the function comment
	if bindings.PendingPreparedStreaming(st, &pending) == bindings.StateError { //nolint:staticcheck
		return duckError(bindings.ErrorTypeInvalid, bindings.PendingError(pending))
	}
	if bindings.ExecutePending(pending, res) == bindings.StateError {
		err := duckError(bindings.ResultErrorType(res), bindings.ResultError(res))
		bindings.DestroyResult(res)
		return err
	}
	return nil
}

// Rows streams a query's result as Arrow record batches. It implements
// array.RecordReader. Batches hold about Config.BatchRows rows and at most
// Config.BatchBytes bytes (but for a single row larger than that), regrouped from
// DuckDB's 2048-row chunks, which are cut when one is larger. A batch returned by RecordBatch is valid until the next call to
// Next or Release; Retain it to keep it longer.
//
// Next, RecordBatch and Err belong to one goroutine; Release may come from another,
// and then interrupts a Next that is waiting in DuckDB. For a result of flat
// columns (flatbatch.go) a goroutine of the Rows fetches DuckDB's chunks about one
// batch ahead of Next (prefetch.go); Release stops it and waits for it.
type Rows struct {
	eng    *Engine
	s      *session
	ctx    context.Context
	sql    string
	schema *arrow.Schema
	tables []string // of each column, as Description.Tables
	refs   atomic.Int64
	// bulk marks a client's statement, whose chunks are fetched ahead at a lower
	// priority (lowprio); the engine's own small queries (keywords, DESCRIBE) keep
	// the priority of the request that needs them.
	bulk bool
	// before is the catalog snapshot the statement's views were synced to, to tell
	// a dataset dropped under the stream (consistent.go); nil without a catalog.
	before *Snapshot

	released atomic.Bool
	mu       sync.Mutex // guards cur, carry and err against a concurrent final Release
	cur      arrow.RecordBatch
	err      error

	// carry is a converted DuckDB chunk not yet wholly sent: its rows from carryAt on
	// start the next batch. A chunk of 2048 wide rows can be far over the byte target.
	carry   arrow.RecordBatch
	carryAt int64
	// chunk is a DuckDB chunk too large to convert at once (chunks.go), converted
	// into carry a batch's worth of rows at a time from row chunkAt on; rowBytes
	// holds its rows' estimated sizes. chunk.Ptr is nil when there is none. For a
	// flat result (flatbatch.go) it is the chunk whose rows from chunkAt on start
	// the next batch.
	chunk    bindings.DataChunk
	chunkAt  int
	rowBytes []int64
	// flat, when not nil, says how to copy each column straight from DuckDB's
	// chunks into batches (fetchFlat); carry is then unused. queue then holds the
	// chunks fetched ahead by a goroutine of the Rows (prefetch.go), started by
	// the first Next; fetcherDone, set then, is closed when it returns.
	flat        []flatColumn
	queue       *chunkQueue
	fetcherDone chan struct{}
	// flatEnded: the flat result has been read to its end.
	flatEnded bool
	// measured is the fetcher's measure of chunk, for its rows from 0 on.
	measured queuedChunk
}

var _ array.RecordReader = (*Rows)(nil)

// Retain adds a reference.
func (r *Rows) Retain() { r.refs.Add(1) }

// Release drops a reference. The last one interrupts DuckDB if the query is still
// running, frees the current batch and the connection.
func (r *Rows) Release() {
	if r.refs.Add(-1) != 0 {
		return
	}
	r.released.Store(true)
	r.s.interrupt()
	if r.queue != nil {
		r.queue.close()
	}
	r.mu.Lock()
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	r.stopFetching()
	r.dropCarry()
	r.mu.Unlock()
	r.s.shutdown(nil)
}

// Schema is the result schema, known before the first batch.
func (r *Rows) Schema() *arrow.Schema { return r.schema }

// Tables names, per result column, the table it is a column of, as
// Description.Tables: "" for a computed column or where not known; nil: none known.
func (r *Rows) Tables() []string { return r.tables }

// RecordBatch is the current batch; nil before the first Next and after the end.
func (r *Rows) RecordBatch() arrow.RecordBatch {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cur
}

// Record is RecordBatch under its older name.
//
// Deprecated: use RecordBatch.
func (r *Rows) Record() arrow.RecordBatch { return r.RecordBatch() }

// Err is the error that ended the stream, or nil at a clean end.
func (r *Rows) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Next advances to the next batch, reporting false at the end or on an error.
func (r *Rows) Next() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	if r.err != nil {
		return false
	}
	if r.released.Load() {
		r.err = sqlError(r.sql, errors.New("rows used after Release"))
		return false
	}
	rec, err := r.fetch()
	if err != nil {
		if r.before != nil {
			// A multi-part dataset's files are opened as the scan reaches them.
			if derr := r.eng.droppedUnder(r.ctx, r.before, err); derr != nil {
				err = derr
			}
		}
		r.err = sqlError(r.sql, err)
		return false
	}
	r.cur = rec
	return rec != nil
}

// fetch gathers chunks until it has a batch's worth of rows or bytes, or the result
// ends, and returns them as one batch (nil at the end). When the result ends or fails,
// the DuckDB result and connection are freed at once rather than at Release. r.mu is
// held.
func (r *Rows) fetch() (arrow.RecordBatch, error) {
	if r.queue != nil {
		return r.fetchFlat()
	}
	s := r.s
	s.mu.Lock()
	defer s.mu.Unlock()

	var parts []arrow.RecordBatch
	defer func() {
		for _, p := range parts {
			p.Release()
		}
	}()
	maxRows, maxBytes := r.eng.batchRows, r.eng.batchBytes
	rows, size := 0, int64(0)
	for rows < maxRows && size < maxBytes {
		if r.carry != nil {
			part, ok := r.takeCarry(maxRows-rows, maxBytes-size, len(parts) == 0)
			if !ok {
				break // the next rows do not fit: they start the next batch
			}
			if part == nil {
				continue // carry used up
			}
			parts = append(parts, part)
			rows += int(part.NumRows())
			size += catalog.BatchBytes(part)
			continue
		}
		if r.chunk.Ptr != nil {
			if err := r.convertNext(maxBytes); err != nil {
				s.destroyLocked(nil)
				return nil, err
			}
			continue
		}
		if s.finished {
			if s.err != nil {
				return nil, s.err
			}
			break
		}
		if err := ctxError(r.ctx); err != nil {
			s.destroyLocked(nil)
			return nil, err
		}
		chunk := bindings.FetchChunk(s.res)
		if chunk.Ptr == nil {
			// nil is both the end and an error; the result's error tells them apart.
			var err error
			if msg := bindings.ResultError(&s.res); msg != "" {
				err = r.eng.noteFailure(s.gen, r.eng.explain(r.ctx, duckError(bindings.ResultErrorType(&s.res), msg)))
			}
			s.destroyLocked(nil)
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
		if rowBytes := chunkRowBytes(chunk, n); sum(rowBytes) > maxBytes {
			r.chunk, r.chunkAt, r.rowBytes = chunk, 0, rowBytes
			continue
		}
		// The conversion copies the chunk into Arrow buffers that DuckDB allocates and
		// the record's release callback frees; the chunk can go at once.
		rec, ed := bindings.DataChunkToArrowArray(s.opts, r.schema, chunk)
		bindings.DestroyDataChunk(&chunk)
		if err := r.eng.noteFailure(s.gen, errorData(ed)); err != nil {
			if rec != nil {
				rec.Release()
			}
			s.destroyLocked(nil)
			return nil, err
		}
		r.carry, r.carryAt = rec, 0
	}
	switch len(parts) {
	case 0:
		return nil, nil
	case 1:
		rec := parts[0]
		parts = nil
		return rec, nil
	}
	return concat(r.eng, r.schema, parts, int64(rows))
}

// takeCarry takes the next rows of the carried chunk that fit in maxRows and
// maxBytes, at least one when first (a row larger than the target goes alone). It
// returns nil, true when the carry is used up, and nil, false when nothing fits.
func (r *Rows) takeCarry(maxRows int, maxBytes int64, first bool) (arrow.RecordBatch, bool) {
	total := r.carry.NumRows()
	if r.carryAt >= total {
		r.carry.Release()
		r.carry = nil
		return nil, true
	}
	n := int64(catalog.FitRows(r.carry, int(r.carryAt), maxRows, maxBytes))
	if n == 0 {
		if !first {
			return nil, false
		}
		n = 1
	}
	if r.carryAt == 0 && n == total {
		part := r.carry
		r.carry = nil
		return part, true
	}
	part := r.carry.NewSlice(r.carryAt, r.carryAt+n)
	r.carryAt += n
	return part, true
}

// convertNext converts the next rows of r.chunk that fit in maxBytes (at least one)
// into r.carry, and frees the chunk once it is all converted.
func (r *Rows) convertNext(maxBytes int64) error {
	s := r.s
	from, to := r.chunkAt, r.chunkAt
	var size int64
	for to < len(r.rowBytes) && (to == from || size+r.rowBytes[to] <= maxBytes) {
		size += r.rowBytes[to]
		to++
	}
	rec, ed := convertRows(s.opts, r.schema, r.chunk, from, to)
	if err := r.eng.noteFailure(s.gen, errorData(ed)); err != nil {
		if rec != nil {
			rec.Release()
		}
		r.dropChunk()
		return err
	}
	r.carry, r.carryAt = rec, 0
	r.chunkAt = to
	if to == len(r.rowBytes) {
		r.dropChunk()
	}
	return nil
}

func (r *Rows) dropChunk() {
	if r.chunk.Ptr != nil {
		bindings.DestroyDataChunk(&r.chunk)
		r.chunk.Ptr = nil
	}
	r.rowBytes = nil
}

// dropCarry frees what Rows holds of chunks not yet sent.
func (r *Rows) dropCarry() {
	if r.carry != nil {
		r.carry.Release()
		r.carry = nil
	}
	r.dropChunk()
}

func sum(xs []int64) int64 {
	var n int64
	for _, x := range xs {
		n += x
	}
	return n
}

// concat regroups DuckDB's small batches into one, in the engine's allocator.
func concat(e *Engine, schema *arrow.Schema, parts []arrow.RecordBatch, rows int64) (arrow.RecordBatch, error) {
	ncol := len(schema.Fields())
	cols := make([]arrow.Array, ncol)
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	arrs := make([]arrow.Array, len(parts))
	for i := range ncol {
		for j, p := range parts {
			arrs[j] = p.Column(i)
		}
		c, err := array.Concatenate(arrs, e.alloc)
		if err != nil {
			return nil, fmt.Errorf("regroup batches: %w", err)
		}
		cols[i] = c
	}
	return array.NewRecordBatch(schema, cols, rows), nil
}
