package fileformat

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	arrowcsv "github.com/apache/arrow-go/v18/arrow/csv"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// Writer writes record batches to a file of one format.
type Writer interface {
	// Write writes one batch; it does not keep rec.
	Write(rec arrow.RecordBatch) error
	// Close writes what the format needs at the end (a footer) and flushes. It does
	// not close the underlying io.Writer.
	Close() error
}

// NewWriter returns a Writer of format f to w for batches of schema. Every format
// writes sequentially, so w may be a pipe.
func NewWriter(w io.Writer, f Format, schema *arrow.Schema, mem memory.Allocator) (Writer, error) {
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	w = noClose{w}
	switch f {
	case Parquet:
		props := parquet.NewWriterProperties(
			parquet.WithCompression(compress.Codecs.Snappy),
			parquet.WithAllocator(mem))
		fw, err := pqarrow.NewFileWriter(schema, w, props, pqarrow.NewArrowWriterProperties(
			pqarrow.WithStoreSchema(), pqarrow.WithAllocator(mem)))
		if err != nil {
			return nil, fmt.Errorf("write Parquet: %w", err)
		}
		return fw, nil
	case ArrowFile:
		fw, err := ipc.NewFileWriter(w, ipc.WithSchema(schema), ipc.WithAllocator(mem))
		if err != nil {
			return nil, fmt.Errorf("write Arrow IPC file: %w", err)
		}
		return fw, nil
	case ArrowStream:
		return ipc.NewWriter(w, ipc.WithSchema(schema), ipc.WithAllocator(mem)), nil
	case CSV:
		bw := bufio.NewWriterSize(w, 64<<10)
		text := textSchema(schema)
		cw := arrowcsv.NewWriter(bw, text, arrowcsv.WithHeader(true), arrowcsv.WithNullWriter(""))
		return &csvWriter{cw: cw, bw: bw, schema: text, mem: mem}, nil
	case JSONLines:
		return &jsonWriter{bw: bufio.NewWriterSize(w, 64<<10)}, nil
	}
	return nil, fmt.Errorf("cannot write format %q", f)
}

// noClose hides Close, so writers that close their sink (pqarrow does) leave the
// caller's file to the caller.
type noClose struct{ io.Writer }

type csvWriter struct {
	cw     *arrowcsv.Writer
	bw     *bufio.Writer
	schema *arrow.Schema // floats as text (floats.go)
	mem    memory.Allocator
}

func (w *csvWriter) Write(rec arrow.RecordBatch) error {
	text := floatsAsText(rec, w.schema, w.mem)
	defer text.Release()
	return w.cw.Write(text)
}

func (w *csvWriter) Close() error {
	if err := w.cw.Flush(); err != nil {
		return err
	}
	return w.bw.Flush()
}

type jsonWriter struct{ bw *bufio.Writer }

// Write writes one JSON object per row, on its own line, keys in column order.
func (w *jsonWriter) Write(rec arrow.RecordBatch) error {
	keys := make([][]byte, rec.NumCols())
	for c := range keys {
		k, err := json.Marshal(rec.ColumnName(c))
		if err != nil {
			return err
		}
		keys[c] = k
	}
	for r := 0; r < int(rec.NumRows()); r++ {
		w.bw.WriteByte('{')
		for c, col := range rec.Columns() {
			if c > 0 {
				w.bw.WriteByte(',')
			}
			w.bw.Write(keys[c])
			w.bw.WriteByte(':')
			v, err := json.Marshal(col.GetOneForMarshal(r))
			if err != nil {
				return fmt.Errorf("write JSON column %q: %w", rec.ColumnName(c), err)
			}
			w.bw.Write(v)
		}
		if _, err := w.bw.WriteString("}\n"); err != nil {
			return err
		}
	}
	return nil
}

func (w *jsonWriter) Close() error { return w.bw.Flush() }
