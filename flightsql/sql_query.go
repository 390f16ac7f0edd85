package flightsql

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	fsql "github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/util"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/quiverdata/quiver/flightsql/auth"
	"github.com/quiverdata/quiver/flightsql/wire"
)

// Statement queries, prepared statements and cancellation.
//
// A query runs when its ticket is fetched (DoGet), not when it is planned: planning
// (GetFlightInfo) only prepares the SQL in DuckDB to learn the result schema, so no
// query runs twice and results stream while DuckDB produces them.

// maxBoundRows bounds the parameter rows one DoPut may bind to a prepared statement.
const maxBoundRows = 10000

// DefaultMaxBindBytes is SQLConfig.MaxBindBytes's default: 64 MiB of bound
// parameters per bind.
const DefaultMaxBindBytes = 64 << 20

// readOnlyUpdateError is the answer to every Flight SQL update.
var readOnlyUpdateError = status.Error(codes.PermissionDenied,
	"Quiver's SQL is read-only: datasets change through Flight DoPut or bulk ingest (CommandStatementIngest), not through SQL updates")

// statementHandle is what a statement ticket carries (see wire.StatementHandle).
type statementHandle = wire.StatementHandle

func decodeStatementHandle(b []byte) (statementHandle, error) {
	h, ok := wire.DecodeStatementHandle(b)
	if !ok {
		return h, fmt.Errorf("%w: malformed statement ticket", errInvalidRequest)
	}
	return h, nil
}

// describe asks the engine for sql's schemas.
func (s *SQLServer) describe(ctx context.Context, sql string) (*arrow.Schema, *arrow.Schema, error) {
	ctx, end, err := s.startRequest(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer end()
	unpin := s.pin()
	defer unpin()
	d, err := s.engine.Describe(ctx, sql)
	if err != nil {
		return nil, nil, err
	}
	return resultSchema(d.Schema, d.Tables), d.Params, nil
}

// describeBound asks the engine for sql's result schema with the first row of params
// bound.
func (s *SQLServer) describeBound(ctx context.Context, sql string, params arrow.RecordBatch) (*arrow.Schema, error) {
	ctx, end, err := s.startRequest(ctx)
	if err != nil {
		return nil, err
	}
	defer end()
	unpin := s.pin()
	defer unpin()
	d, err := s.engine.DescribeBound(ctx, sql, params, 0)
	if err != nil {
		return nil, err
	}
	return resultSchema(d.Schema, d.Tables), nil
}

// resultSchema is schema with the Flight SQL column metadata (type name, precision,
// scale, ...) that JDBC's ResultSetMetaData is built from.
func resultSchema(schema *arrow.Schema, tables []string) *arrow.Schema {
	return annotateColumns(schema, tables, nil)
}

// resultInfo is the FlightInfo of a query result: its schema, one endpoint at this
// server, and unknown size.
func (s *SQLServer) resultInfo(desc *flight.FlightDescriptor, schema *arrow.Schema, ticket []byte) *flight.FlightInfo {
	return &flight.FlightInfo{
		Schema:           flight.SerializeSchema(schema, s.mem),
		FlightDescriptor: desc,
		Endpoint:         []*flight.FlightEndpoint{{Ticket: &flight.Ticket{Ticket: ticket}}},
		TotalRecords:     -1,
		TotalBytes:       -1,
	}
}

// GetFlightInfoStatement plans a query: its result schema and a ticket to run it.
func (s *SQLServer) GetFlightInfoStatement(ctx context.Context, cmd fsql.StatementQuery, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	schema, _, err := s.describe(ctx, cmd.GetQuery())
	if err != nil {
		return nil, toStatus(err)
	}
	handle, err := json.Marshal(statementHandle{ID: s.handles.addQuery(), SQL: cmd.GetQuery()})
	if err != nil {
		return nil, toStatus(err)
	}
	ticket, err := fsql.CreateStatementQueryTicket(handle)
	if err != nil {
		return nil, toStatus(err)
	}
	return s.resultInfo(desc, schema, ticket), nil
}

// PollFlightInfoStatement answers at once: planning is immediate, and the query
// itself runs, streaming, when the ticket is fetched.
func (s *SQLServer) PollFlightInfoStatement(ctx context.Context, cmd fsql.StatementQuery, desc *flight.FlightDescriptor) (*flight.PollInfo, error) {
	info, err := s.GetFlightInfoStatement(ctx, cmd, desc)
	if err != nil {
		return nil, err
	}
	done := 1.0
	return &flight.PollInfo{Info: info, Progress: &done}, nil
}

// GetSchemaStatement returns a query's result schema without running it.
func (s *SQLServer) GetSchemaStatement(ctx context.Context, cmd fsql.StatementQuery, _ *flight.FlightDescriptor) (*flight.SchemaResult, error) {
	schema, _, err := s.describe(ctx, cmd.GetQuery())
	if err != nil {
		return nil, toStatus(err)
	}
	return &flight.SchemaResult{Schema: flight.SerializeSchema(schema, s.mem)}, nil
}

// DoGetStatement runs a planned query and streams its result.
func (s *SQLServer) DoGetStatement(ctx context.Context, t fsql.StatementQueryTicket) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	h, err := decodeStatementHandle(t.GetStatementHandle())
	if err != nil {
		return nil, nil, toStatus(err)
	}
	qctx, done, err := s.handles.startQuery(ctx, h.ID)
	if err != nil {
		return nil, nil, toStatus(fmt.Errorf("query %s: cancelled before it ran: %w", h.ID, err))
	}
	rctx, end, err := s.startRequest(qctx)
	if err != nil {
		done()
		return nil, nil, err
	}
	return s.stream(ctx, rctx, h.SQL, nil, nil, func() { end(); done() })
}

// CancelFlightInfo cancels a planned or running statement query.
func (s *SQLServer) CancelFlightInfo(_ context.Context, req *flight.CancelFlightInfoRequest) (flight.CancelFlightInfoResult, error) {
	st := flight.CancelStatusNotCancellable
	for _, ep := range req.GetInfo().GetEndpoint() {
		t, err := fsql.GetStatementQueryTicket(ep.GetTicket())
		if err != nil {
			continue
		}
		h, err := decodeStatementHandle(t.GetStatementHandle())
		if err != nil {
			continue
		}
		if s.handles.cancelQuery(h.ID) {
			st = flight.CancelStatusCancelled
		}
	}
	return flight.CancelFlightInfoResult{Status: st}, nil
}

// DoPutCommandStatementUpdate refuses: SQL does not write here.
func (s *SQLServer) DoPutCommandStatementUpdate(context.Context, fsql.StatementUpdate) (int64, error) {
	return 0, readOnlyUpdateError
}

// DoPutPreparedStatementUpdate refuses: SQL does not write here.
func (s *SQLServer) DoPutPreparedStatementUpdate(context.Context, fsql.PreparedStatementUpdate, flight.MessageReader) (int64, error) {
	return 0, readOnlyUpdateError
}

// CreatePreparedStatement prepares a read-only query and returns its handle, result
// schema and parameter schema.
func (s *SQLServer) CreatePreparedStatement(ctx context.Context, req fsql.ActionCreatePreparedStatementRequest) (fsql.ActionCreatePreparedStatementResult, error) {
	if req.GetTransactionId() != nil {
		return fsql.ActionCreatePreparedStatementResult{}, status.Error(codes.InvalidArgument, "transactions are not supported: Quiver's SQL is read-only")
	}
	schema, params, err := s.describe(ctx, req.GetQuery())
	if err != nil {
		return fsql.ActionCreatePreparedStatementResult{}, toStatus(err)
	}
	id, err := s.handles.addPrepared(&preparedStatement{owner: principalName(ctx), client: clientKey(ctx), sql: req.GetQuery(), schema: schema, params: params})
	if err != nil {
		return fsql.ActionCreatePreparedStatementResult{}, toStatus(err)
	}
	isUpdate := false
	return fsql.ActionCreatePreparedStatementResult{
		Handle:          []byte(id),
		DatasetSchema:   schema,
		ParameterSchema: params,
		IsUpdate:        &isUpdate,
	}, nil
}

// ClosePreparedStatement frees a prepared statement.
func (s *SQLServer) ClosePreparedStatement(ctx context.Context, req fsql.ActionClosePreparedStatementRequest) error {
	if !s.handles.closePrepared(string(req.GetPreparedStatementHandle()), principalName(ctx)) {
		return status.Error(codes.NotFound, "prepared statement handle is unknown or expired")
	}
	return nil
}

// preparedOr looks up a prepared statement handle of the calling principal. Another
// principal's handle is answered as unknown.
func (s *SQLServer) preparedOr(ctx context.Context, handle []byte) (preparedStatement, error) {
	p, ok := s.handles.lookupPrepared(string(handle))
	if ok && p.owner != principalName(ctx) {
		if p.bound != nil {
			p.bound.Release()
		}
		ok = false
	}
	if !ok {
		return preparedStatement{}, status.Error(codes.NotFound, "prepared statement handle is unknown or expired (idle statements are closed); prepare it again")
	}
	return p, nil
}

// principalName names the authenticated caller with its grant (auth.Principal.Owner),
// "" without authentication: a handle prepared under a grant that a reload of the
// auth file has since changed is unknown to the caller.
func principalName(ctx context.Context) string {
	if p, ok := auth.FromContext(ctx); ok {
		return p.Owner()
	}
	return ""
}

// DoPutPreparedStatementQuery binds parameter rows to a prepared statement. Each row
// is one execution; the results are concatenated.
func (s *SQLServer) DoPutPreparedStatementQuery(ctx context.Context, cmd fsql.PreparedStatementQuery, rdr flight.MessageReader, _ flight.MetadataWriter) ([]byte, error) {
	handle := cmd.GetPreparedStatementHandle()
	p, err := s.preparedOr(ctx, handle)
	if err != nil {
		return nil, err
	}
	if p.bound != nil {
		p.bound.Release()
	}
	rec, err := collectParams(ctx, s.mem, rdr, p.params, s.maxBindBytes)
	if err != nil {
		return nil, toStatus(fmt.Errorf("bind parameters to prepared statement %q: %w", abbreviate(p.sql, 80), err))
	}
	// Where a result column's type comes from a parameter, the schema the statement
	// was prepared with does not say it ("SELECT ?" has a null-typed column); the
	// FlightInfo must report the type the stream will have, or clients (ADBC) reject
	// the stream. Learn it now, once per bind.
	var schema *arrow.Schema
	if p.params != nil && p.params.NumFields() > 0 && rec.NumRows() > 0 {
		if schema, err = s.describeBound(ctx, p.sql, rec); err != nil {
			rec.Release()
			return nil, toStatus(err)
		}
	}
	ok, err := s.handles.bind(string(handle), rec, schema)
	if !ok || err != nil {
		if rec != nil {
			rec.Release()
		}
		if err != nil {
			return nil, toStatus(err)
		}
		return nil, status.Error(codes.NotFound, "prepared statement was closed while binding")
	}
	return handle, nil
}

// collectParams reads the parameter batches of a DoPut into one record batch,
// through the intake. At most maxBoundRows rows and maxBytes bytes (the buffers of
// the decoded batches, as util.TotalRecordSize counts them) are taken: the bound
// rows stay in memory with the prepared statement until it is closed or bound again.
func collectParams(ctx context.Context, mem memory.Allocator, rdr flight.MessageReader, want *arrow.Schema, maxBytes int64) (arrow.RecordBatch, error) {
	in := newIntakeReader(rdr, mem)
	var recs []arrow.RecordBatch
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	var rows, size int64
	for in.Next() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rec := in.RecordBatch()
		rows += rec.NumRows()
		if rows > maxBoundRows {
			return nil, fmt.Errorf("%w: more than %d parameter rows in one bind", errInvalidRequest, maxBoundRows)
		}
		size += util.TotalRecordSize(rec)
		if size > maxBytes {
			return nil, fmt.Errorf("%w: the bound parameters exceed %d bytes, the limit on one bind (--max-bind-bytes)", errInvalidRequest, maxBytes)
		}
		rec.Retain()
		recs = append(recs, rec)
	}
	if err := in.Err(); err != nil {
		return nil, fmt.Errorf("reading parameters: %w", err)
	}
	schema := in.Schema()
	if schema == nil {
		return nil, fmt.Errorf("%w: the parameters are not an Arrow IPC stream", errInvalidRequest)
	}
	if want != nil && schema.NumFields() != want.NumFields() {
		return nil, fmt.Errorf("%w: the statement has %d parameters, the bound rows have %d columns", errInvalidRequest, want.NumFields(), schema.NumFields())
	}
	return concatRecords(mem, schema, recs)
}

// abbreviate shortens s to at most n runes for a message, marking the cut.
func abbreviate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// GetFlightInfoPreparedStatement plans a prepared query with its bound parameters.
func (s *SQLServer) GetFlightInfoPreparedStatement(ctx context.Context, cmd fsql.PreparedStatementQuery, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	p, err := s.preparedOr(ctx, cmd.GetPreparedStatementHandle())
	if err != nil {
		return nil, err
	}
	if p.bound != nil {
		p.bound.Release()
	}
	// The descriptor's command is itself a valid ticket: DoGet routes it to
	// DoGetPreparedStatement.
	return s.resultInfo(desc, p.resultSchema(), desc.GetCmd()), nil
}

// PollFlightInfoPreparedStatement answers at once, like PollFlightInfoStatement.
func (s *SQLServer) PollFlightInfoPreparedStatement(ctx context.Context, cmd fsql.PreparedStatementQuery, desc *flight.FlightDescriptor) (*flight.PollInfo, error) {
	info, err := s.GetFlightInfoPreparedStatement(ctx, cmd, desc)
	if err != nil {
		return nil, err
	}
	done := 1.0
	return &flight.PollInfo{Info: info, Progress: &done}, nil
}

// GetSchemaPreparedStatement returns a prepared query's result schema.
func (s *SQLServer) GetSchemaPreparedStatement(ctx context.Context, cmd fsql.PreparedStatementQuery, _ *flight.FlightDescriptor) (*flight.SchemaResult, error) {
	p, err := s.preparedOr(ctx, cmd.GetPreparedStatementHandle())
	if err != nil {
		return nil, err
	}
	if p.bound != nil {
		p.bound.Release()
	}
	return &flight.SchemaResult{Schema: flight.SerializeSchema(p.resultSchema(), s.mem)}, nil
}

// DoGetPreparedStatement runs a prepared query once per bound parameter row (once
// when it has no parameters) and streams the results one after another, all under the
// schema GetFlightInfo reported (see conform). The query timeout is one deadline for
// all the rows: a row that would start after it does not run.
func (s *SQLServer) DoGetPreparedStatement(ctx context.Context, cmd fsql.PreparedStatementQuery) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	p, err := s.preparedOr(ctx, cmd.GetPreparedStatementHandle())
	if err != nil {
		return nil, nil, err
	}
	bound := p.bound // released when the stream ends
	rows := 1
	if p.params != nil && p.params.NumFields() > 0 {
		if bound == nil || bound.NumRows() == 0 {
			if bound != nil {
				bound.Release()
			}
			return nil, nil, status.Errorf(codes.InvalidArgument, "prepared statement has %d parameters and none are bound: bind them with DoPut first", p.params.NumFields())
		}
		rows = int(bound.NumRows())
	}
	release := func() {
		if bound != nil {
			bound.Release()
		}
	}
	want := p.resultSchema()
	rctx, cancel, err := s.startRequest(ctx)
	if err != nil {
		release()
		return nil, nil, err
	}
	// Run the first row now, so that errors surface as the call's status.
	schema, first, err := s.stream(ctx, rctx, p.sql, rowOf(bound, 0), want, nil)
	if err != nil {
		cancel()
		release()
		return nil, nil, err
	}
	out := make(chan flight.StreamChunk)
	go func() {
		defer close(out)
		defer release()
		defer cancel()
		defer recoverChunk(ctx, s.log, "stream a prepared statement's results", out)
		if !forward(ctx, first, out) {
			return
		}
		for row := 1; row < rows; row++ {
			if rctx.Err() != nil {
				err := fmt.Errorf("prepared statement: parameter row %d of %d not run: %w", row+1, rows, context.Cause(rctx))
				send(ctx, out, flight.StreamChunk{Err: toStatus(err)})
				return
			}
			_, ch, err := s.stream(ctx, rctx, p.sql, rowOf(bound, row), want, nil)
			if err != nil {
				send(ctx, out, flight.StreamChunk{Err: err})
				return
			}
			if !forward(ctx, ch, out) {
				return
			}
		}
	}()
	return schema, out, nil
}

// startRequest admits one client request that runs SQL in DuckDB, however many
// statements it runs (a prepared statement runs one per parameter row; planning
// describes first): it takes one of the client's query slots (limits.go), or fails
// with ResourceExhausted, and bounds the request by the session's query_timeout
// (sql_session.go) and the engine's --query-timeout, the shorter winning. Call end
// exactly once when the request is over.
func (s *SQLServer) startRequest(ctx context.Context) (context.Context, func(), error) {
	release, err := s.admit.queries.acquire(ctx, clientKey(ctx))
	if err != nil {
		return nil, nil, toStatus(err)
	}
	ctx, cancelSession := sessionQueryContext(ctx)
	ctx, cancelEngine := s.engine.Request(ctx)
	return ctx, func() {
		cancelEngine()
		cancelSession()
		release()
	}, nil
}

// boundRow is one row of bound parameters.
type boundRow struct {
	rec arrow.RecordBatch
	row int
}

func rowOf(rec arrow.RecordBatch, row int) *boundRow {
	if rec == nil || rec.NumCols() == 0 {
		return nil
	}
	return &boundRow{rec: rec, row: row}
}

// stream runs sql under qctx (the request's context from startRequest, which
// cancellation and the query timeout end) and sends its batches on the returned
// channel until the end or until ctx (the call's) ends. Errors in the stream arrive as
// gRPC status errors.
// With want, the batches carry that schema (see conform); without, the query's own.
// onEnd, if not nil, is called once the query is over, also when it fails to start.
func (s *SQLServer) stream(ctx, qctx context.Context, sql string, params *boundRow, want *arrow.Schema, onEnd func()) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	// The pin keeps the files the views name on disk until the query ends.
	pin := s.pin()
	unpin := func() {
		pin()
		if onEnd != nil {
			onEnd()
		}
	}
	// On object storage the parts of the tables sql reads are fetched and held
	// until the query ends.
	rows, unlease, err := s.leaseAndQuery(qctx, sql, params)
	if err != nil {
		unpin()
		return nil, nil, toStatus(err)
	}
	unpinOnly := unpin
	unpin = func() {
		unlease()
		unpinOnly()
	}
	schema := resultSchema(rows.Schema(), rows.Tables())
	fill := func(rec arrow.RecordBatch) (arrow.RecordBatch, error) {
		// The same columns under the annotated schema: no data is copied.
		return array.NewRecordBatch(schema, rec.Columns(), rec.NumRows()), nil
	}
	if want != nil {
		if fill, err = conform(want, schema, s.mem); err != nil {
			rows.Release()
			unpin()
			return nil, nil, toStatus(err)
		}
		schema = want
	}
	ch := make(chan flight.StreamChunk)
	go func() {
		var last *reservation // of the last batch sent (outgoing.go)
		defer func() { s.out.settle(ctx, last) }()
		defer close(ch)
		defer unpin()
		defer rows.Release()
		defer recoverChunk(ctx, s.log, "stream a query result", ch)
		for rows.Next() {
			rec, err := fill(rows.RecordBatch())
			if err != nil {
				send(ctx, ch, flight.StreamChunk{Err: toStatus(err)})
				return
			}
			if !s.out.sendBatches(ctx, ch, rec, &last) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			send(ctx, ch, flight.StreamChunk{Err: toStatus(err)})
		}
	}()
	return schema, ch, nil
}

// conform returns a function that turns batches of schema got into batches of schema
// want, or fails naming the first column it cannot convert. One prepared statement's
// results share one schema, the one its FlightInfo reported, however many parameter
// rows it runs for; but DuckDB types a result column that comes from a parameter by
// the value bound, row by row ("SELECT ?" is INTEGER for a NULL). A column holding
// only nulls takes want's type; any other difference is refused, with
// InvalidArgument: bind one type per parameter, or cast in SQL.
func conform(want, got *arrow.Schema, mem memory.Allocator) (func(arrow.RecordBatch) (arrow.RecordBatch, error), error) {
	if want.NumFields() != got.NumFields() {
		return nil, fmt.Errorf("%w: this parameter row gives %d result columns, the statement's schema has %d; prepare it again",
			errInvalidRequest, got.NumFields(), want.NumFields())
	}
	var differ []int
	for i, w := range want.Fields() {
		if !arrow.TypeEqual(w.Type, got.Field(i).Type) {
			differ = append(differ, i)
		}
	}
	return func(rec arrow.RecordBatch) (arrow.RecordBatch, error) {
		cols := rec.Columns()
		if len(differ) > 0 {
			cols = slices.Clone(cols)
			for _, i := range differ {
				w := want.Field(i)
				if cols[i].NullN() != cols[i].Len() {
					return nil, fmt.Errorf("%w: result column %d %q is %s for this parameter row but %s in the statement's schema "+
						"(from its first parameter row): bind values of one type per parameter, or cast the column in SQL",
						errInvalidRequest, i+1, w.Name, got.Field(i).Type, w.Type)
				}
				cols[i] = array.MakeArrayOfNull(mem, w.Type, cols[i].Len())
				defer cols[i].Release()
			}
		}
		return array.NewRecordBatch(want, cols, rec.NumRows()), nil
	}, nil
}

// send delivers c unless ctx ends first.
func send(ctx context.Context, ch chan<- flight.StreamChunk, c flight.StreamChunk) bool {
	select {
	case ch <- c:
		return true
	case <-ctx.Done():
		return false
	}
}

// forward copies in to out; false when ctx ended or an error was forwarded.
func forward(ctx context.Context, in <-chan flight.StreamChunk, out chan<- flight.StreamChunk) bool {
	ok := true
	for c := range in {
		if !ok {
			if c.Data != nil {
				c.Data.Release()
			}
			continue // drain so the producer finishes
		}
		if !send(ctx, out, c) {
			if c.Data != nil {
				c.Data.Release()
			}
			ok = false
			continue
		}
		if c.Err != nil {
			ok = false
		}
	}
	return ok
}

// concatRecords joins record batches of one schema into one (zero batches: an empty
// one). The result is a new reference; recs are not released.
func concatRecords(mem memory.Allocator, schema *arrow.Schema, recs []arrow.RecordBatch) (arrow.RecordBatch, error) {
	if len(recs) == 1 {
		recs[0].Retain()
		return recs[0], nil
	}
	cols := make([]arrow.Array, schema.NumFields())
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release() // the record holds its own references
			}
		}
	}()
	var rows int64
	for _, r := range recs {
		rows += r.NumRows()
	}
	for i, f := range schema.Fields() {
		if len(recs) == 0 {
			cols[i] = array.MakeArrayOfNull(mem, f.Type, 0)
			continue
		}
		parts := make([]arrow.Array, len(recs))
		for j, r := range recs {
			parts[j] = r.Column(i)
		}
		c, err := array.Concatenate(parts, mem)
		if err != nil {
			return nil, fmt.Errorf("%w: parameter column %d: %w", errInvalidRequest, i, err)
		}
		cols[i] = c
	}
	return array.NewRecordBatch(schema, cols, rows), nil
}
