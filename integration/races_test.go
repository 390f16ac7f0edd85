package integration

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc/codes"
)

// Uploads and reads that race each other: a client that vanishes mid-put, readers
// that outlive the version they started on, and puts that collide. Run under -race.

// TestPutClientDisconnects cancels a large upload half-way: the previous version
// stays, and the server removes its temporary file.
func TestPutClientDisconnects(t *testing.T) {
	srv := startServer(t)
	c := srv.client(t)
	mem := memory.DefaultAllocator

	old := int64Record(mem, "v", 1, 3)
	defer old.Release()
	putRecords(t, c, "big.parquet", old.Schema(), old)

	batch := int64Record(mem, "v", 0, 64<<10)
	defer batch.Release()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := c.DoPut(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w := flight.NewRecordWriter(stream, ipc.WithSchema(batch.Schema()))
	w.SetFlightDescriptor(pathDescriptor("big.parquet"))
	// Send until the server is visibly writing the new version, then a bit more,
	// then vanish without closing the stream.
	sent := 0
	for deadline := time.Now().Add(30 * time.Second); ; sent++ {
		if err := w.Write(batch); err != nil {
			t.Fatalf("write batch %d: %v", sent, err)
		}
		if len(tempFiles(t, srv.Root)) > 0 && sent > 20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %d batches the server has no temporary file", sent)
		}
	}
	cancel()
	w.Close() // fails: the stream is gone; releases the writer's buffers

	waitNoTempFiles(t, srv.Root)
	got, err := tryGet(context.Background(), c, []byte("big.parquet"))
	if err != nil || !slices.Equal(got, []string{"1", "2", "3"}) {
		t.Fatalf("after a cancelled put of %d batches, big.parquet = %d values %.5q, %v; want the previous [1 2 3]", sent, len(got), got, err)
	}
	checkRows(t, c, "big.parquet", 3)
}

// TestReaderOutlivesReplaceAndDrop starts a DoGet, replaces (or drops) the dataset
// while the reader is on its first batch, and reads on: it gets the old version, all
// of it, with the old values.
func TestReaderOutlivesReplaceAndDrop(t *testing.T) {
	const rows = 2 << 20 // 32 batches of the server's 64Ki rows, 16 MiB: more than gRPC's largest window
	for _, change := range []string{"replace", "drop"} {
		t.Run(change, func(t *testing.T) {
			srv := startServer(t)
			c := srv.client(t)
			mem := memory.DefaultAllocator
			putSeq(t, c, "ds.parquet", 0, rows)

			ctx := context.Background()
			stream, err := c.DoGet(ctx, &flight.Ticket{Ticket: []byte("ds.parquet")})
			if err != nil {
				t.Fatal(err)
			}
			rdr, err := flight.NewRecordReader(stream)
			if err != nil {
				t.Fatal(err)
			}
			defer rdr.Release()
			if !rdr.Next() {
				t.Fatalf("no first batch: %v", rdr.Err())
			}
			var n int64
			check := func(rec arrow.RecordBatch) {
				for _, v := range rec.Column(0).(*array.Int64).Int64Values() {
					if v != n {
						t.Fatalf("row %d = %d: not the version the reader started on", n, v)
					}
					n++
				}
			}
			check(rdr.RecordBatch())

			switch change {
			case "replace":
				repl := int64Record(mem, "v", -1000, 10)
				defer repl.Release()
				putRecords(t, c, "ds.parquet", repl.Schema(), repl)
				checkRows(t, c, "ds.parquet", 10)
			case "drop":
				drop(t, c, "ds.parquet")
				_, err := c.GetFlightInfo(ctx, pathDescriptor("ds.parquet"))
				wantStatus(t, err, codes.NotFound, `"ds.parquet"`)
			}

			for rdr.Next() {
				check(rdr.RecordBatch())
			}
			if err := rdr.Err(); err != nil {
				t.Fatalf("reading on after the %s: %v", change, err)
			}
			if n != rows {
				t.Fatalf("read %d rows after the %s, want the old version's %d", n, change, rows)
			}
		})
	}
}

// TestConcurrentPutsOneName runs several puts to one name at once: every one
// finishes, and the dataset is then exactly one of them, not a mix.
func TestConcurrentPutsOneName(t *testing.T) {
	const writers = 6
	srv := startServer(t)
	c := srv.client(t)
	mem := memory.DefaultAllocator

	// Writer k puts (k+1) batches of 10000 rows, every value k.
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for k := 0; k < writers; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := constRecord(mem, int64(k), 10000)
			defer rec.Release()
			recs := make([]arrow.RecordBatch, k+1)
			for i := range recs {
				recs[i] = rec
			}
			errs[k] = tryPut(context.Background(), c, "shared.parquet", rec.Schema(), recs...)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("concurrent puts: %v", err)
	}
	got, err := tryGet(context.Background(), c, []byte("shared.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 {
		t.Fatal("shared.parquet is empty")
	}
	winner := got[0]
	var k int
	if _, err := fmt.Sscan(winner, &k); err != nil || k < 0 || k >= writers {
		t.Fatalf("first value %q is no writer's", winner)
	}
	if len(got) != (k+1)*10000 {
		t.Errorf("shared.parquet has %d rows, want writer %d's %d", len(got), k, (k+1)*10000)
	}
	for i, v := range got {
		if v != winner {
			t.Fatalf("row %d = %s, row 0 = %s: a mix of two puts", i, v, winner)
		}
	}
	checkRows(t, c, "shared.parquet", int64(len(got)))
	waitNoTempFiles(t, srv.Root)
}

// putSeq puts the values from, from+1, ... (n of them) in 64Ki-row batches.
func putSeq(t testing.TB, c flight.Client, name string, from, n int64) {
	t.Helper()
	const batch = 64 << 10
	var recs []arrow.RecordBatch
	for i := from; i < from+n; i += batch {
		rec := int64Record(memory.DefaultAllocator, "v", i, min(batch, from+n-i))
		defer rec.Release()
		recs = append(recs, rec)
	}
	putRecords(t, c, name, recs[0].Schema(), recs...)
}

func constRecord(mem memory.Allocator, v int64, n int) arrow.RecordBatch {
	schema := arrow.NewSchema([]arrow.Field{{Name: "v", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	for i := 0; i < n; i++ {
		b.Field(0).(*array.Int64Builder).Append(v)
	}
	return b.NewRecordBatch()
}

// checkRows fails t unless GetFlightInfo reports rows for name.
func checkRows(t testing.TB, c flight.Client, name string, rows int64) {
	t.Helper()
	info, err := c.GetFlightInfo(context.Background(), pathDescriptor(name))
	if err != nil {
		t.Fatal(err)
	}
	if info.TotalRecords != rows {
		t.Fatalf("%s: total_records = %d, want %d", name, info.TotalRecords, rows)
	}
}

func drop(t testing.TB, c flight.Client, name string) {
	t.Helper()
	stream, err := c.DoAction(context.Background(), &flight.Action{Type: "drop_dataset", Body: []byte(name)})
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := stream.Recv(); err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("drop %s: %v", name, err)
			}
			return
		}
	}
}
