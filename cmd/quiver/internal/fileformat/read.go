package fileformat

import (
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// ErrNeedsFile is returned for an Arrow IPC file when the input cannot seek, such as
// a pipe.
var ErrNeedsFile = errors.New("needs a seekable file, not a pipe")

// NewReader returns a reader of the record batches in r, an Arrow IPC file
// (ArrowFile, then r must be an io.ReaderAt and io.Seeker, an *os.File of a regular
// file) or stream (ArrowStream). Other formats are read by DuckDB (package
// duckread). mem nil is memory.DefaultAllocator. The caller releases the reader and
// closes r after it.
func NewReader(r io.Reader, f Format, mem memory.Allocator) (array.RecordReader, error) {
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	switch f {
	case ArrowFile:
		ras, err := seekable(r, f)
		if err != nil {
			return nil, err
		}
		fr, err := ipc.NewFileReader(ras, ipc.WithAllocator(mem))
		if err != nil {
			return nil, fmt.Errorf("not an Arrow IPC file: %w", err)
		}
		return newIPCFileReader(fr), nil
	case ArrowStream:
		rdr, err := ipc.NewReader(r, ipc.WithAllocator(mem))
		if err != nil {
			return nil, fmt.Errorf("not an Arrow IPC stream: %w", err)
		}
		return rdr, nil
	}
	return nil, fmt.Errorf("cannot read format %q here: DuckDB reads it", f)
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
