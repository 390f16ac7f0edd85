package console

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"google.golang.org/grpc/codes"
)

// JSON results: queryRequest.Limit rows, default defaultQueryRows, at most maxQueryRows.
const (
	defaultQueryRows = 1000
	maxQueryRows     = 10000
)

// result is a running query's stream. next hands out one batch at a time, releasing
// the one before (and with it its share of the result memory budget); close stops the
// query and frees what is left. One goroutine uses it.
type result struct {
	schema *arrow.Schema
	ch     <-chan flight.StreamChunk
	cancel context.CancelFunc
	cur    arrow.RecordBatch
}

// run checks that the caller may run sql, as the Guard checks a Flight SQL statement,
// and starts it through the service: the same sandbox, limits, timeout and result
// memory budget as Flight SQL. what names the request in logs and refusals.
func (s *Server) run(ctx context.Context, what, sql string) (*result, error) {
	if p := principal(ctx); p != nil {
		if err := s.guard.AuthorizeStatement(ctx, p, what, sql); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	schema, ch, err := s.svc.Query(ctx, sql)
	if err != nil {
		cancel()
		return nil, err
	}
	return &result{schema: schema, ch: ch, cancel: cancel}, nil
}

// next returns the next batch, nil at the end. The batch is valid until the next
// call of next or close.
func (r *result) next() (arrow.RecordBatch, error) {
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	for c := range r.ch {
		if c.Err != nil {
			return nil, c.Err
		}
		if c.Data == nil {
			continue
		}
		r.cur = c.Data
		return r.cur, nil
	}
	return nil, nil
}

// close stops the query and releases every batch still on its way.
func (r *result) close() {
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	r.cancel()
	for c := range r.ch {
		if c.Data != nil {
			c.Data.Release()
		}
	}
}

// columnsOf lists a result's columns with DuckDB's type names.
func columnsOf(schema *arrow.Schema) []columnInfo {
	cols := make([]columnInfo, 0, schema.NumFields())
	for _, f := range schema.Fields() {
		cols = append(cols, columnInfo{Name: f.Name, Type: typeName(f)})
	}
	return cols
}

// typeNameKey is the Flight SQL column metadata key of the type name, which the
// service sets from DuckDB's type on every result column.
const typeNameKey = "ARROW:FLIGHT:SQL:TYPE_NAME"

// typeName is a result column's DuckDB type name, or its Arrow type without one.
func typeName(f arrow.Field) string {
	if i := f.Metadata.FindKey(typeNameKey); i >= 0 {
		return f.Metadata.Values()[i]
	}
	return f.Type.String()
}

// jsonPage is a result's first rows, as JSON.
type jsonPage struct {
	columns   []columnInfo
	rows      json.RawMessage // a JSON array of row arrays
	count     int
	truncated bool
}

// jsonRows encodes up to limit rows of res, and fewer if their JSON would pass the
// console's byte limit; truncated says whether rows were left out.
func (s *Server) jsonRows(res *result, limit int) (jsonPage, error) {
	page := jsonPage{columns: columnsOf(res.schema)}
	buf := bytes.NewBuffer(make([]byte, 0, 4096))
	buf.WriteByte('[')
	var row []byte
	maxBytes := int(s.cfg.MaxJSONBytes)
batches:
	for {
		rec, err := res.next()
		if err != nil {
			return page, err
		}
		if rec == nil {
			break
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			if page.count == limit {
				page.truncated = true
				break batches
			}
			row = append(row[:0], '[')
			for c, col := range rec.Columns() {
				if c > 0 {
					row = append(row, ',')
				}
				row = appendJSON(row, col, i)
			}
			row = append(row, ']')
			if buf.Len()+len(row)+2 > maxBytes {
				page.truncated = true
				break batches
			}
			if page.count > 0 {
				buf.WriteByte(',')
			}
			buf.Write(row)
			page.count++
		}
	}
	buf.WriteByte(']')
	page.rows = buf.Bytes()
	return page, nil
}

// queryRequest is the body of POST /api/query.
type queryRequest struct {
	SQL   string `json:"sql"`
	Limit *int   `json:"limit"`
}

// queryAnswer is the JSON answer of POST /api/query.
type queryAnswer struct {
	Columns   []columnInfo    `json:"columns"`
	Rows      json.RawMessage `json:"rows"`
	RowCount  int             `json:"row_count"`
	Truncated bool            `json:"truncated"`
	ElapsedMS int64           `json:"elapsed_ms"`
}

// query runs a SQL statement and answers its result as JSON (the first rows), or
// whole as CSV, Arrow IPC or Parquet, as ?format= or the Accept header asks.
func (s *Server) query(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	format, err := resultFormat(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var req queryRequest
	if err := decodeBody(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if strings.TrimSpace(req.SQL) == "" {
		s.writeError(w, r, errorf(codes.InvalidArgument, `query: "sql" is empty`))
		return
	}
	limit := defaultQueryRows
	if req.Limit != nil {
		limit = *req.Limit
		if limit < 1 || limit > maxQueryRows {
			s.writeError(w, r, errorf(codes.InvalidArgument, `query: "limit" %d: want 1 to %d rows (download CSV, Arrow or Parquet for more)`, limit, maxQueryRows))
			return
		}
	}
	res, err := s.run(r.Context(), "console query", req.SQL)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	defer res.close()
	if format != formatJSON {
		s.download(w, r, res, format)
		return
	}
	page, err := s.jsonRows(res, limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, queryAnswer{Columns: page.columns, Rows: page.rows, RowCount: page.count, Truncated: page.truncated,
		ElapsedMS: time.Since(start).Milliseconds()})
}
