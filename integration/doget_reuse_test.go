package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"golang.org/x/sync/errgroup"
)

// TestDoGetReusedBuffersArriveIntact: a plain DoGet hands gRPC the decoded batches'
// own buffers, and the reader reuses a batch's buffers once it is released
// (catalog/readpool.go). A buffer reused while gRPC still sends a message that
// borrows from it would put the next batch's values into this one. Several DoGets
// at once, one of them reading slowly, each get every value that was put, with nulls
// at odd offsets and empty strings; batches are large enough (64Ki rows) for their
// buffers to be reused. On S3 too (QUIVER_TEST_BACKEND=s3).
func TestDoGetReusedBuffersArriveIntact(t *testing.T) {
	const rows = 400_003
	srv := startServer(t)
	c := srv.client(t)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for i := range rows {
		b.Field(0).(*array.Int64Builder).Append(int64(i))
		switch sb := b.Field(1).(*array.StringBuilder); {
		case i%7 == 3:
			sb.AppendNull()
		case i%11 == 0:
			sb.Append("")
		default:
			sb.Append(reuseString(i))
		}
		if fb := b.Field(2).(*array.Float64Builder); i%5 == 1 {
			fb.AppendNull()
		} else {
			fb.Append(float64(i) / 4)
		}
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	putRecords(t, c, "reuse.parquet", schema, rec)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	g, ctx := errgroup.WithContext(ctx)
	for reader := range 4 {
		g.Go(func() error {
			stream, err := c.DoGet(ctx, &flight.Ticket{Ticket: []byte("reuse.parquet")})
			if err != nil {
				return err
			}
			rdr, err := flight.NewRecordReader(stream)
			if err != nil {
				return err
			}
			defer rdr.Release()
			var next int
			for rdr.Next() {
				if reader == 0 {
					time.Sleep(5 * time.Millisecond) // gRPC holds the server's messages longer
				}
				got := rdr.RecordBatch()
				ids := got.Column(0).(*array.Int64)
				ss := got.Column(1).(*array.String)
				fs := got.Column(2).(*array.Float64)
				for j := range int(got.NumRows()) {
					i := next + j
					if ids.Value(j) != int64(i) {
						return fmt.Errorf("reader %d: row %d has id %d", reader, i, ids.Value(j))
					}
					switch {
					case i%7 == 3:
						if !ss.IsNull(j) {
							return fmt.Errorf("reader %d: row %d: s is %q, want null", reader, i, ss.Value(j))
						}
					case ss.IsNull(j):
						return fmt.Errorf("reader %d: row %d: s is null", reader, i)
					case i%11 == 0 && ss.Value(j) != "":
						return fmt.Errorf("reader %d: row %d: s is %q, want empty", reader, i, ss.Value(j))
					case i%11 != 0 && ss.Value(j) != reuseString(i):
						return fmt.Errorf("reader %d: row %d: s is %q, want %q", reader, i, ss.Value(j), reuseString(i))
					}
					if i%5 == 1 {
						if !fs.IsNull(j) {
							return fmt.Errorf("reader %d: row %d: f is %v, want null", reader, i, fs.Value(j))
						}
					} else if fs.IsNull(j) || fs.Value(j) != float64(i)/4 {
						return fmt.Errorf("reader %d: row %d: f is %v (null %v), want %v", reader, i, fs.Value(j), fs.IsNull(j), float64(i)/4)
					}
				}
				next += int(got.NumRows())
			}
			if err := rdr.Err(); err != nil {
				return fmt.Errorf("reader %d: %w", reader, err)
			}
			if next != rows {
				return fmt.Errorf("reader %d: %d rows, want %d", reader, next, rows)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
}

func reuseString(i int) string { return fmt.Sprintf("row-%d-%x", i, i*2654435761) }
