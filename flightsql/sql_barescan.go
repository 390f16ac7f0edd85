package flightsql

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	pb "github.com/apache/arrow-go/v18/arrow/flight/gen/flight"

	"github.com/quiverdata/quiver/catalog"
	"github.com/quiverdata/quiver/flightsql/wire"
)

// Bare scans through the dataset stream.
//
// `SELECT * FROM t` (every column of one dataset, in order, nothing else: the engine
// decides, engine.BareScan) asks for the dataset exactly as the plain DoGet streams
// it. DuckDB would decode the Parquet, convert its 2048-row chunks to Arrow and
// concatenate them, which makes it the slowest way to the same bytes; the plain
// stream decodes ahead, frames without copies, and with the memory tier sends a kept
// encoded stream. So a statement's DoGet that is a bare scan streams the dataset
// instead (Server.DoGet asks serveBareScan first).
//
// What a client sees does not change: the decision is taken again at DoGet (never on
// what the ticket says); the dataset opened is the version current then, as DuckDB
// would read it; the schema sent is the one the DuckDB path would send (DuckDB's
// names and types with the Flight SQL column metadata, or a prepared statement's
// schema), and the shortcut is taken only when the opened version's columns have
// exactly those names and Arrow types, so the batches are the ones DuckDB would
// produce. It runs under the same query slot, timeout and cancellation as the DuckDB
// path (startQuery, startRequest), and the same result memory budget (s.out, shared
// with plain DoGet). Authorization is the guard's, before any handler runs: it
// checks the statement's tables whichever path then serves it.
//
// Rows come in the order of the dataset's parts and row groups, which is the order
// DuckDB scans them with insertion order kept, but SQL promises no order without
// ORDER BY either way.
//
// Whenever anything differs (not a bare scan, the dataset gone or replaced with other
// columns in between, a prepared statement with parameters), the DuckDB path runs
// the statement as it always has, and its errors are the ones the client gets.
//
// DuckDB's Parquet reader is not the plain stream's (pqarrow): a file another tool
// wrote may be one pqarrow cannot decode where DuckDB can (catalog's validateDecoded:
// DuckDB's fixed-size ARRAY columns holding NULLs). Three guards keep SQL serving
// such files: a schema with a fixed-size list never takes the shortcut; the first
// batch is decoded before anything is sent, and a failure there hands the statement
// to DuckDB; and a version that failed to decode later in a stream is remembered
// (unreadable), so that only that one stream fails and every later scan of the
// version runs in DuckDB.

// bareScanState is the SQL server's switch and count of bare scans served, and the
// dataset versions the plain reader failed to decode.
type bareScanState struct {
	off    atomic.Bool  // set: every statement runs in DuckDB
	served atomic.Int64 // statement DoGets answered with the dataset stream

	mu         sync.Mutex
	unreadable map[string]bool // by unreadableKey; cleared when full
}

// maxUnreadable bounds the versions bareScanState remembers as unreadable.
const maxUnreadable = 256

func unreadableKey(info catalog.Info) string { return info.Name + "\x00" + info.Version }

// isUnreadable reports whether the plain reader failed on this version before.
func (b *bareScanState) isUnreadable(info catalog.Info) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.unreadable[unreadableKey(info)]
}

// markUnreadable remembers that the plain reader failed on this version.
func (b *bareScanState) markUnreadable(info catalog.Info) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.unreadable == nil || len(b.unreadable) >= maxUnreadable {
		b.unreadable = make(map[string]bool)
	}
	b.unreadable[unreadableKey(info)] = true
}

// SetBareScans turns serving bare scans from the dataset stream on (the default) or
// off. Off, every statement runs in DuckDB: for comparisons and benchmarks.
func (s *SQLServer) SetBareScans(on bool) { s.bare.off.Store(!on) }

// BareScansServed counts the statement DoGets answered with the dataset stream
// instead of DuckDB.
func (s *SQLServer) BareScansServed() int64 { return s.bare.served.Load() }

// bareScan is one statement DoGet that the dataset stream answers.
type bareScan struct {
	dataset string
	schema  *arrow.Schema // what the client is sent
	rdr     *catalog.Reader
	ctx     context.Context // the request's: its cancellation and timeout
	end     func()          // releases the reader and the request's slot
}

// planBareScan decides whether the Flight SQL ticket req is a bare scan to stream
// from the dataset, and if so admits it as the DuckDB path would and opens the
// dataset. Not ok: nothing was taken, and the DuckDB path must run.
func (s *SQLServer) planBareScan(ctx context.Context, req wire.Request) (*bareScan, bool) {
	if s.bare.off.Load() {
		return nil, false
	}
	var (
		sql  string
		want *arrow.Schema // a prepared statement's schema: what its stream carries
		id   string        // a statement's query id, for cancellation
	)
	switch m := req.Message.(type) {
	case *pb.TicketStatementQuery:
		h, err := decodeStatementHandle(m.GetStatementHandle())
		if err != nil {
			return nil, false
		}
		sql, id = h.SQL, h.ID
	case *pb.CommandPreparedStatementQuery:
		p, err := s.preparedOr(ctx, m.GetPreparedStatementHandle())
		if err != nil {
			return nil, false
		}
		if p.bound != nil {
			p.bound.Release()
		}
		if p.params != nil && p.params.NumFields() > 0 {
			return nil, false // runs once per bound row, in DuckDB
		}
		sql, want = p.sql, p.resultSchema()
	default:
		return nil, false
	}
	// Most statements end here, before taking anything.
	if !s.engine.BareScanShape(sql) {
		return nil, false
	}
	// Admitted as DoGetStatement admits a query: a query slot, the timeouts, the
	// handle's cancellation. A refusal here is left to the DuckDB path to repeat.
	qctx, done := ctx, func() {}
	if id != "" {
		var err error
		if qctx, done, err = s.handles.startQuery(ctx, id); err != nil {
			return nil, false
		}
	}
	rctx, end, err := s.startRequest(qctx)
	if err != nil {
		done()
		return nil, false
	}
	release := func() { end(); done() }
	dataset, d, ok := s.engine.BareScan(rctx, sql)
	if !ok {
		release()
		return nil, false
	}
	schema := resultSchema(d.Schema, d.Tables)
	if want != nil {
		schema = want
	}
	rdr, err := s.store.Open(rctx, dataset)
	if err != nil {
		release()
		return nil, false
	}
	if !sameColumns(schema, rdr.Schema()) || hasFixedSizeList(schema) || s.bare.isUnreadable(rdr.Info()) {
		rdr.Release()
		release()
		return nil, false
	}
	return &bareScan{dataset: dataset, schema: schema, rdr: rdr, ctx: rctx, end: func() { rdr.Release(); release() }}, true
}

// hasFixedSizeList reports whether a column of schema is or holds a fixed-size list,
// which pqarrow decodes wrongly when one holds a NULL (see above).
func hasFixedSizeList(schema *arrow.Schema) bool {
	var nested func(t arrow.DataType) bool
	nested = func(t arrow.DataType) bool {
		if _, ok := t.(*arrow.FixedSizeListType); ok {
			return true
		}
		if n, ok := t.(arrow.NestedType); ok {
			for _, f := range n.Fields() {
				if nested(f.Type) {
					return true
				}
			}
		}
		return false
	}
	for _, f := range schema.Fields() {
		if nested(f.Type) {
			return true
		}
	}
	return false
}

// sameColumns reports whether a and b have the same column names and Arrow types,
// in the same order (nullability and metadata aside: the schema sent is a's). Two
// timestamp columns of one unit, both with a time zone, are the same column: Arrow
// stores such a timestamp as the UTC instant whatever the zone's name, and DuckDB
// names every zone-aware result column by its own zone ("Etc/UTC" for a dataset's
// "UTC"); the values do not change (asColumns relabels the column).
func sameColumns(a, b *arrow.Schema) bool {
	if a.NumFields() != b.NumFields() {
		return false
	}
	for i, f := range a.Fields() {
		g := b.Field(i)
		if f.Name != g.Name || !(arrow.TypeEqual(f.Type, g.Type) || sameInstants(f.Type, g.Type)) {
			return false
		}
	}
	return true
}

// sameInstants reports whether a and b are zone-aware timestamps of one unit.
func sameInstants(a, b arrow.DataType) bool {
	ta, ok := a.(*arrow.TimestampType)
	tb, ok2 := b.(*arrow.TimestampType)
	return ok && ok2 && ta.Unit == tb.Unit && ta.TimeZone != "" && tb.TimeZone != ""
}

// asColumns returns rec's columns under schema as (sameColumns with rec's schema, or
// an error): the same buffers, a zone-aware timestamp column relabelled with as's
// zone. The caller releases the result.
func asColumns(as *arrow.Schema, rec arrow.RecordBatch) (arrow.RecordBatch, error) {
	if !sameColumns(as, rec.Schema()) {
		return nil, fmt.Errorf("a batch has columns %s, its stream %s", rec.Schema(), as)
	}
	cols := make([]arrow.Array, rec.NumCols())
	for i, c := range rec.Columns() {
		if want := as.Field(i).Type; !arrow.TypeEqual(want, c.DataType()) {
			d := c.Data()
			relabelled := array.NewData(want, d.Len(), d.Buffers(), d.Children(), d.NullN(), d.Offset())
			c = array.MakeFromData(relabelled)
			relabelled.Release()
			defer c.Release()
		}
		cols[i] = c
	}
	return array.NewRecordBatch(as, cols, rec.NumRows()), nil
}

// serveBareScan answers a Flight SQL DoGet with the dataset stream when it is a bare
// scan (see above); served false: the caller runs it in DuckDB.
func (s *Server) serveBareScan(req wire.Request, stream flight.FlightService_DoGetServer) (served bool, err error) {
	if s.scans == nil || !s.encodedSends.Load() {
		return false, nil
	}
	scan, ok := s.scans.planBareScan(stream.Context(), req)
	if !ok {
		return false, nil
	}
	defer scan.end()
	ctx, cancel := context.WithCancel(scan.ctx)
	defer cancel()
	// The kept stream of a bare scan starts with its own schema message (the one
	// DuckDB's path sends), so it is kept apart from the plain DoGet's.
	info := scan.rdr.Info()
	key := dogetKey(bareScanKind(scan.schema), info)
	if e := s.dogets.get(key); e != nil {
		s.scans.bare.served.Add(1)
		err = s.sendKept(ctx, scan.dataset, e, stream)
	} else {
		first, ok := peekFirst(scan.rdr)
		if !ok {
			s.scans.bare.markUnreadable(info)
			s.log.Debug("bare scan handed to DuckDB: the first batch does not decode", "dataset", scan.dataset, "err", scan.rdr.Err())
			return false, nil
		}
		s.scans.bare.served.Add(1)
		err = s.sendDecoded(ctx, cancel, scan.dataset, first, scan.schema, stream, s.dogets.startFill(key, scan.dataset))
		first.Release()
		if err != nil && scan.ctx.Err() == nil && stream.Context().Err() == nil {
			s.scans.bare.markUnreadable(info) // not cut short: the reader failed
		}
	}
	s.log.Debug("bare scan served from the dataset stream", "dataset", scan.dataset, "err", err)
	if err != nil && scan.ctx.Err() != nil {
		// Cut by the query timeout or a cancellation: say which, as DuckDB's path does.
		return true, toStatus(fmt.Errorf("dataset %q: %w", scan.dataset, context.Cause(scan.ctx)))
	}
	return true, err
}

// peekedReader is a dataset reader whose first batch was decoded ahead (peekFirst).
type peekedReader struct {
	*catalog.Reader
	first   arrow.RecordBatch // retained until the next batch, or Release
	pending bool              // first not yet returned by Next
	cur     arrow.RecordBatch
}

// peekFirst decodes rdr's first batch. Not ok: rdr failed before giving one (no
// batch and an error). The caller releases the returned reader, not rdr's batches.
func peekFirst(rdr *catalog.Reader) (*peekedReader, bool) {
	p := &peekedReader{Reader: rdr}
	if !rdr.Next() {
		return p, rdr.Err() == nil // an empty dataset reads fine
	}
	p.first = rdr.RecordBatch()
	p.first.Retain()
	p.pending = true
	return p, true
}

// Next returns the peeked batch first, then rdr's.
func (p *peekedReader) Next() bool {
	if p.pending {
		p.pending, p.cur = false, p.first
		return true
	}
	p.dropFirst()
	if p.Reader.Next() {
		p.cur = p.Reader.RecordBatch()
		return true
	}
	p.cur = nil
	return false
}

// RecordBatch is the current batch, valid until the next call to Next.
func (p *peekedReader) RecordBatch() arrow.RecordBatch { return p.cur }

// Record is RecordBatch (array.RecordReader's older name).
func (p *peekedReader) Record() arrow.RecordBatch { return p.cur }

// Release releases the peeked batch; the dataset reader is its owner's to release.
func (p *peekedReader) Release() { p.dropFirst() }

// Retain does nothing: the owner of the dataset reader holds it.
func (p *peekedReader) Retain() {}

func (p *peekedReader) dropFirst() {
	if p.first != nil {
		p.first.Release()
		p.first, p.pending = nil, false
	}
}

// bareScanKind is the memory tier's kind (dogetKey) of a bare scan sent with schema.
func bareScanKind(schema *arrow.Schema) string {
	sum := sha256.Sum256(flight.SerializeSchema(schema, goAllocator))
	return "sql/" + hex.EncodeToString(sum[:])
}
