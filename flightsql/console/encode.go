package console

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"google.golang.org/grpc/codes"

	"github.com/quiverdata/quiver/catalog"
)

// format is how a query result is answered.
type format int

const (
	formatJSON format = iota
	formatCSV
	formatArrow
	formatParquet
)

// Media types of the result formats.
const (
	mediaJSON    = "application/json"
	mediaCSV     = "text/csv"
	mediaArrow   = "application/vnd.apache.arrow.stream"
	mediaParquet = "application/vnd.apache.parquet"
)

var formats = []struct {
	name, media, ext string
	f                format
}{
	{"json", mediaJSON, "json", formatJSON},
	{"csv", mediaCSV, "csv", formatCSV},
	{"arrow", mediaArrow, "arrows", formatArrow},
	{"parquet", mediaParquet, "parquet", formatParquet},
}

// resultFormat reads ?format= or else the Accept header: the first media type it
// names that is one of ours; JSON when it names none.
func resultFormat(r *http.Request) (format, error) {
	if name := r.URL.Query().Get("format"); name != "" {
		for _, f := range formats {
			if strings.EqualFold(name, f.name) {
				return f.f, nil
			}
		}
		return 0, errorf(codes.InvalidArgument, "format=%q: want json, csv, arrow or parquet", clipText(name, 40))
	}
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		for _, f := range formats {
			if mt == f.media {
				return f.f, nil
			}
		}
	}
	return formatJSON, nil
}

// batchWriter writes a result in one download format.
type batchWriter interface {
	write(rec arrow.RecordBatch) error
	close() error
}

// download streams the whole result in format, batch by batch: nothing but the
// batch at hand is held. Errors before the first batch get a JSON error answer; after
// it the status is sent, so a failure (the query's, or the download limit) cuts the
// connection, and the client sees a broken download rather than a short file.
func (s *Server) download(w http.ResponseWriter, r *http.Request, res *result, f format) {
	first, err := res.next()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	media, ext := mediaJSON, "json"
	for _, x := range formats {
		if x.f == f {
			media, ext = x.media, x.ext
		}
	}
	if f == formatCSV {
		media += "; charset=utf-8; header=present"
	}
	w.Header().Set("Content-Type", media)
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="result.%s"`, ext))
	// Writes go through one buffer: the encoders write many small pieces, and each
	// would otherwise be a write to the connection.
	buf := bufio.NewWriterSize(w, downloadBuffer)
	bw, err := newBatchWriter(buf, f, res.schema)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var sent int64
	for rec := first; rec != nil; {
		sent += catalog.BatchBytes(rec)
		if s.cfg.MaxDownloadBytes > 0 && sent > s.cfg.MaxDownloadBytes {
			s.abort(r, errorf(codes.ResourceExhausted, "the result exceeds %d bytes, the console's download limit (--http-max-download-bytes); download less, or use Flight SQL", s.cfg.MaxDownloadBytes))
		}
		if err := bw.write(rec); err != nil {
			s.abort(r, err)
		}
		if rec, err = res.next(); err != nil {
			s.abort(r, err)
		}
	}
	if err := bw.close(); err != nil {
		s.abort(r, err)
	}
	if err := buf.Flush(); err != nil {
		s.abort(r, err)
	}
}

// downloadBuffer is the buffer between a download's encoder and the connection.
const downloadBuffer = 256 << 10

// parquetDictionaryLimit is the dictionary size at which a Parquet column chunk of a
// download falls back to plain encoding: the catalog's choice (catalog/put.go
// measures it), which keeps columns of many distinct values from hashing a
// dictionary they then throw away.
const parquetDictionaryLimit = 64 << 10

// abort ends a download whose status has been sent: the connection is cut.
func (s *Server) abort(r *http.Request, err error) {
	s.log.Warn("console download cut", "path", r.URL.Path, "err", statusOf(err).Message())
	panic(http.ErrAbortHandler)
}

func newBatchWriter(w io.Writer, f format, schema *arrow.Schema) (batchWriter, error) {
	switch f {
	case formatCSV:
		return newCSVWriter(w, schema)
	case formatArrow:
		return &arrowWriter{w: ipc.NewWriter(w, ipc.WithSchema(schema))}, nil
	case formatParquet:
		props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Snappy), parquet.WithStats(true),
			parquet.WithDictionaryPageSizeLimit(parquetDictionaryLimit))
		plain := plainSchema(schema)
		pw, err := pqarrow.NewFileWriter(plain, w, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
		if err != nil {
			return nil, errorf(codes.InvalidArgument, "the result cannot be written as Parquet: %v", err)
		}
		return &parquetWriter{w: pw, schema: plain}, nil
	}
	return nil, errorf(codes.Internal, "no writer for format %d", f)
}

// plainSchema drops the Flight SQL column metadata, which means nothing in a file.
func plainSchema(schema *arrow.Schema) *arrow.Schema {
	fields := schema.Fields()
	for i := range fields {
		fields[i].Metadata = arrow.Metadata{}
	}
	return arrow.NewSchema(fields, nil)
}

// csvWriter writes a header row of column names, then one line per row (values
// as textValue has them), flushed after every batch.
type csvWriter struct {
	w   *csv.Writer
	row []string
}

func newCSVWriter(w io.Writer, schema *arrow.Schema) (*csvWriter, error) {
	cw := &csvWriter{w: csv.NewWriter(w), row: make([]string, schema.NumFields())}
	for i, f := range schema.Fields() {
		cw.row[i] = f.Name
	}
	if err := cw.w.Write(cw.row); err != nil {
		return nil, err
	}
	return cw, nil
}

func (c *csvWriter) write(rec arrow.RecordBatch) error {
	cols := rec.Columns()
	for i := 0; i < int(rec.NumRows()); i++ {
		for j, col := range cols {
			c.row[j] = textValue(col, i)
		}
		if err := c.w.Write(c.row); err != nil {
			return err
		}
	}
	c.w.Flush()
	return c.w.Error()
}

func (c *csvWriter) close() error {
	c.w.Flush()
	return c.w.Error()
}

type arrowWriter struct{ w *ipc.Writer }

func (a *arrowWriter) write(rec arrow.RecordBatch) error { return a.w.Write(rec) }
func (a *arrowWriter) close() error                      { return a.w.Close() }

// parquetWriter writes each batch as a row group: memory holds one batch, which
// the service caps at a few MiB.
type parquetWriter struct {
	w      *pqarrow.FileWriter
	schema *arrow.Schema
}

func (p *parquetWriter) write(rec arrow.RecordBatch) error {
	plain := array.NewRecordBatch(p.schema, rec.Columns(), rec.NumRows())
	defer plain.Release()
	return p.w.Write(plain)
}
func (p *parquetWriter) close() error { return p.w.Close() }
