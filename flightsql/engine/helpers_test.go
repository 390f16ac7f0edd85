//go:build duckdb_arrow

package engine

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// testEngine opens an engine over a fresh root and closes it at cleanup. With a checked
// allocator it also asserts that every byte the engine allocated was released.
func testEngine(t testing.TB, cfg Config) (*Engine, string) {
	t.Helper()
	if cfg.Root == "" {
		cfg.Root = t.TempDir()
	}
	if cfg.TempDir == "" {
		cfg.TempDir = t.TempDir()
	}
	e, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if ca, ok := cfg.Allocator.(*memory.CheckedAllocator); ok {
			ca.AssertSize(t, 0)
		}
	})
	return e, cfg.Root
}

// writeParquet writes rec to path as one Parquet file.
func writeParquet(t testing.TB, path string, rec arrow.RecordBatch) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := pqarrow.NewFileWriter(rec.Schema(), f, parquet.NewWriterProperties(), pqarrow.DefaultWriterProps())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

var peopleSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "score", Type: arrow.PrimitiveTypes.Float64},
}, nil)

// writePeople writes rows (id, name, score) for ids [from, to) with name "p<id>" and
// score id/2, and returns the file's path.
func writePeople(t testing.TB, dir, file string, from, to int64) string {
	t.Helper()
	b := array.NewRecordBuilder(memory.DefaultAllocator, peopleSchema)
	defer b.Release()
	for i := from; i < to; i++ {
		b.Field(0).(*array.Int64Builder).Append(i)
		b.Field(1).(*array.StringBuilder).Append("p" + itoa(i))
		b.Field(2).(*array.Float64Builder).Append(float64(i) / 2)
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	path := filepath.Join(dir, file)
	writeParquet(t, path, rec)
	return path
}

func itoa(i int64) string {
	if i == 0 {
		return "0"
	}
	neg := i < 0
	if neg {
		i = -i
	}
	var buf [20]byte
	n := len(buf)
	for i > 0 {
		n--
		buf[n] = byte('0' + i%10)
		i /= 10
	}
	if neg {
		n--
		buf[n] = '-'
	}
	return string(buf[n:])
}

// drain reads rows to the end, releasing it, and returns the number of rows and batches.
func drain(t testing.TB, rows *Rows) (nrows int64, batches int, err error) {
	t.Helper()
	defer rows.Release()
	for rows.Next() {
		nrows += rows.RecordBatch().NumRows()
		batches++
	}
	return nrows, batches, rows.Err()
}

// queryAll runs sql and returns every value of every row, as Go values
// (via Array.GetOneForMarshal), for tests to compare.
func queryAll(t testing.TB, e *Engine, sql string, params arrow.RecordBatch) [][]any {
	t.Helper()
	rows, err := e.Query(context.Background(), sql, params, 0)
	if err != nil {
		t.Fatalf("Query(%q): %v", sql, err)
	}
	defer rows.Release()
	var out [][]any
	for rows.Next() {
		rec := rows.RecordBatch()
		for r := 0; r < int(rec.NumRows()); r++ {
			row := make([]any, rec.NumCols())
			for c := range row {
				// Strings and byte slices alias the batch's buffers, which the next
				// Next frees: copy them.
				switch v := rec.Column(c).GetOneForMarshal(r).(type) {
				case string:
					row[c] = strings.Clone(v)
				case []byte:
					row[c] = bytes.Clone(v)
				default:
					row[c] = v
				}
			}
			out = append(out, row)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("Query(%q) stream: %v", sql, err)
	}
	return out
}

// peakRSS reports the process's peak resident set size, for logs.
func peakRSS() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			return strings.TrimSpace(strings.TrimPrefix(line, "VmHWM:"))
		}
	}
	return "unknown"
}
