package fileformat

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	arrowcsv "github.com/apache/arrow-go/v18/arrow/csv"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// ReadOptions tune NewReader. The zero value is usable.
type ReadOptions struct {
	Allocator memory.Allocator // nil: memory.DefaultAllocator
	// BatchRows is the number of rows per record batch for the formats whose batches
	// the reader chooses (Parquet, CSV, JSON lines); 0: 64Ki.
	BatchRows int
	// SampleRows is how many rows of CSV and JSON lines the column types are inferred
	// from; 0: 10000. A later value that does not fit the inferred type fails the read.
	SampleRows int
}

func (o *ReadOptions) defaults() {
	if o.Allocator == nil {
		o.Allocator = memory.DefaultAllocator
	}
	if o.BatchRows <= 0 {
		o.BatchRows = 64 << 10
	}
	if o.SampleRows <= 0 {
		o.SampleRows = 10000
	}
}

// ErrNeedsFile is returned for a format that needs random access (Parquet, Arrow IPC
// file) when the input cannot seek, such as a pipe.
var ErrNeedsFile = errors.New("needs a seekable file, not a pipe")

// NewReader returns a reader of the record batches in r, a file of format f. For
// Parquet and Arrow IPC files, r must be an io.ReaderAt and io.Seeker (an *os.File
// of a regular file). The caller releases the reader and closes r after it.
func NewReader(ctx context.Context, r io.Reader, f Format, opts ReadOptions) (array.RecordReader, error) {
	opts.defaults()
	switch f {
	case Parquet:
		ras, err := seekable(r, f)
		if err != nil {
			return nil, err
		}
		return newParquetReader(ctx, ras, opts)
	case ArrowFile:
		ras, err := seekable(r, f)
		if err != nil {
			return nil, err
		}
		fr, err := ipc.NewFileReader(ras, ipc.WithAllocator(opts.Allocator))
		if err != nil {
			return nil, fmt.Errorf("not an Arrow IPC file: %w", err)
		}
		return newIPCFileReader(fr), nil
	case ArrowStream:
		rdr, err := ipc.NewReader(r, ipc.WithAllocator(opts.Allocator))
		if err != nil {
			return nil, fmt.Errorf("not an Arrow IPC stream: %w", err)
		}
		return rdr, nil
	case CSV:
		return newCSVReader(r, opts)
	case JSONLines:
		return newJSONReader(r, opts)
	}
	return nil, fmt.Errorf("cannot read format %q", f)
}

type readAtSeeker interface {
	io.ReaderAt
	io.Seeker
	io.Reader
}

func seekable(r io.Reader, f Format) (readAtSeeker, error) {
	ras, ok := r.(readAtSeeker)
	if !ok {
		return nil, fmt.Errorf("%s input %w", f, ErrNeedsFile)
	}
	if _, err := ras.Seek(0, io.SeekCurrent); err != nil {
		return nil, fmt.Errorf("%s input %w", f, ErrNeedsFile)
	}
	return ras, nil
}

func newParquetReader(ctx context.Context, r parquet.ReaderAtSeeker, opts ReadOptions) (array.RecordReader, error) {
	pf, err := file.NewParquetReader(r, file.WithReadProps(parquet.NewReaderProperties(opts.Allocator)))
	if err != nil {
		return nil, fmt.Errorf("not a Parquet file: %w", err)
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: int64(opts.BatchRows)}, opts.Allocator)
	if err != nil {
		return nil, fmt.Errorf("read Parquet schema: %w", err)
	}
	rr, err := fr.GetRecordReader(ctx, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("read Parquet: %w", err)
	}
	return rr, nil
}

// ipcFileReader is an ipc.FileReader as an array.RecordReader.
type ipcFileReader struct {
	refs atomic.Int64
	fr   *ipc.FileReader
	next int
	cur  arrow.RecordBatch // owned by fr, valid until the next call
	err  error
}

func newIPCFileReader(fr *ipc.FileReader) *ipcFileReader {
	r := &ipcFileReader{fr: fr}
	r.refs.Add(1)
	return r
}

func (r *ipcFileReader) Retain()                        { r.refs.Add(1) }
func (r *ipcFileReader) Schema() *arrow.Schema          { return r.fr.Schema() }
func (r *ipcFileReader) RecordBatch() arrow.RecordBatch { return r.cur }
func (r *ipcFileReader) Record() arrow.RecordBatch      { return r.cur }
func (r *ipcFileReader) Err() error                     { return r.err }
func (r *ipcFileReader) Release() {
	if r.refs.Add(-1) == 0 {
		r.cur = nil
		r.fr.Close()
	}
}

func (r *ipcFileReader) Next() bool {
	if r.err != nil || r.next >= r.fr.NumRecords() {
		r.cur = nil
		return false
	}
	r.cur, r.err = r.fr.RecordBatch(r.next)
	r.next++
	return r.err == nil
}

// newCSVReader reads CSV with a header line. Column types are inferred from the first
// SampleRows rows, which are kept and read again through arrow-go's CSV reader.
// Empty cells are nulls.
func newCSVReader(r io.Reader, opts ReadOptions) (array.RecordReader, error) {
	sample, schema, err := inferCSV(r, opts.SampleRows)
	if err != nil {
		return nil, err
	}
	rdr := arrowcsv.NewReader(io.MultiReader(sample, r), schema,
		arrowcsv.WithHeader(true),
		arrowcsv.WithChunk(opts.BatchRows),
		arrowcsv.WithNullReader(true, ""),
		arrowcsv.WithAllocator(opts.Allocator))
	return &wrapErr{RecordReader: rdr, what: "CSV"}, nil
}

// newJSONReader reads JSON lines: one object per line, a column per key.
func newJSONReader(r io.Reader, opts ReadOptions) (array.RecordReader, error) {
	sample, schema, err := inferJSON(r, opts.SampleRows)
	if err != nil {
		return nil, err
	}
	rdr := array.NewJSONReader(io.MultiReader(sample, r), schema,
		array.WithChunk(opts.BatchRows), array.WithAllocator(opts.Allocator))
	return &wrapErr{RecordReader: rdr, what: "JSON lines"}, nil
}

// wrapErr says which format failed to parse.
type wrapErr struct {
	array.RecordReader
	what string
}

func (w *wrapErr) Err() error {
	if err := w.RecordReader.Err(); err != nil {
		return fmt.Errorf("read %s: %w", w.what, err)
	}
	return nil
}
