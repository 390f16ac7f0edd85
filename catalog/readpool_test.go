package catalog

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// TestReadPoolReusesZeroedAndBounded: a freed buffer comes back zeroed for a request
// of about its size, never for one less than half of it; small buffers, buffers
// past the pool's bounds and everything freed after close go back to the store's
// allocator; close gives back what the pool kept.
func TestReadPoolReusesZeroedAndBounded(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	var stored atomic.Int64
	p := newReadPool(mem, &stored, poolMaxTotal)

	b := p.Allocate(100 << 10)
	for i := range b {
		b[i] = 0xAB
	}
	first := &b[0]
	p.Free(b)
	if got := p.Allocate(40 << 10); len(got) != 40<<10 || &got[:1][0] == first {
		t.Fatalf("a 40 KiB request took the 100 KiB buffer (or got %d bytes)", len(got))
	} else {
		p.Free(got)
	}
	got := p.Allocate(90 << 10)
	if &got[0] != first {
		t.Fatal("a 90 KiB request did not reuse the freed 100 KiB buffer")
	}
	got = p.Reallocate(100<<10, got) // grows in place within its capacity
	if &got[0] != first || len(got) != 100<<10 {
		t.Fatalf("Reallocate within capacity moved the buffer or gave %d bytes", len(got))
	}
	for i, v := range got {
		if v != 0 {
			t.Fatalf("reused buffer byte %d is %#x, want 0", i, v)
		}
	}
	p.Free(got)

	// Bounds: poolMaxBuffers buffers are kept, the rest go back at once.
	var bufs [][]byte
	for range poolMaxBuffers + 3 {
		bufs = append(bufs, p.Allocate(poolMinSize))
	}
	for _, b := range bufs {
		p.Free(b)
	}
	p.mu.Lock()
	kept, keptBytes := len(p.free), p.bytes
	p.mu.Unlock()
	if kept != poolMaxBuffers || keptBytes > poolMaxBytes {
		t.Fatalf("pool keeps %d buffers (%d bytes), want %d (at most %d bytes)", kept, keptBytes, poolMaxBuffers, poolMaxBytes)
	}
	held := p.Allocate(poolMinSize)
	p.close()
	if size := mem.CurrentAlloc(); size != poolMinSize {
		t.Fatalf("after close the store's allocator holds %d bytes, want only the %d still in use", size, poolMinSize)
	}
	p.Free(held) // after close: straight back
	small := p.Allocate(100)
	small = p.Reallocate(200, small)
	p.Free(small)
	if n := stored.Load(); n != 0 {
		t.Fatalf("after close the store counts %d bytes kept, want 0", n)
	}
}

// TestReadPoolsKeepWithinTheStoreBound: the pools of one store keep, together, no
// more than the store-wide bound: a second reader's freed buffers go back to the
// allocator while the first keeps the bound's worth, and are kept again once the
// first reader ends.
func TestReadPoolsKeepWithinTheStoreBound(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	var kept atomic.Int64
	const size = 1 << 20
	const bound = 3 * size
	first := newReadPool(mem, &kept, bound)
	second := newReadPool(mem, &kept, bound)

	var bufs [][]byte
	for range 4 {
		bufs = append(bufs, first.Allocate(size))
	}
	for _, b := range bufs {
		first.Free(b)
	}
	if n := kept.Load(); n != bound {
		t.Fatalf("the first pool keeps %d bytes, want the bound %d", n, bound)
	}
	b := second.Allocate(size)
	second.Free(b)
	if n := kept.Load(); n != bound {
		t.Fatalf("with the bound reached the store keeps %d bytes, want %d", n, bound)
	}
	if before := mem.CurrentAlloc(); before != bound {
		t.Fatalf("the allocator holds %d bytes, want only the %d the first pool keeps", before, bound)
	}

	first.close()
	if n := kept.Load(); n != 0 {
		t.Fatalf("after the first pool closes the store counts %d bytes kept, want 0", n)
	}
	b = second.Allocate(size)
	second.Free(b)
	if n := kept.Load(); n != size {
		t.Fatalf("the second pool keeps %d bytes once there is room, want %d", n, size)
	}
	second.close()
}

// TestReaderReusesBuffersValueForValue reads a dataset of every kind of column
// (nulls at odd offsets, empty and long strings, several row groups and parts)
// batch by batch, releasing each batch before the next as a DoGet does, and
// compares every batch with pqarrow's reading of the same rows: the buffers the
// reader gets back are reused, and must not leak old values into new batches. It
// also counts what the store's allocator handed out in buffers the pool keeps:
// without reuse, a read of these 800k rows allocated 118 MB for 57 MB of batches;
// with it, 12 MB.
func TestReaderReusesBuffersValueForValue(t *testing.T) {
	const rows = 400_001
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
		{Name: "i32", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "ok", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "d", Type: &arrow.Decimal128Type{Precision: 18, Scale: 3}, Nullable: true},
		{Name: "xs", Type: arrow.ListOf(arrow.PrimitiveTypes.Int64), Nullable: true},
	}, nil)
	root := t.TempDir()
	counting := &countingAllocator{Allocator: memory.NewGoAllocator()}
	mem := memory.NewCheckedAllocator(counting)
	defer mem.AssertSize(t, 0)
	s, err := Open(root, Options{Allocator: mem, Logger: quietLogger(), RowGroupRows: 100_000, ReadBatchRows: 64 << 10, LandingBudget: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	// Two parts: a put and an append, the append's nulls at other offsets.
	for part, mode := range []PutMode{Create, Append} {
		rec := reuseTestBatch(schema, part, rows)
		rdr, err := array.NewRecordReader(schema, []arrow.RecordBatch{rec})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Put(ctx, "t.parquet", mode, rdr); err != nil {
			t.Fatal(err)
		}
		rdr.Release()
		rec.Release()
	}

	info, err := s.Stat(ctx, "t.parquet")
	if err != nil {
		t.Fatal(err)
	}
	var want []arrow.Table
	for _, k := range info.Keys {
		want = append(want, readWithPqarrow(t, filepath.Join(root, filepath.FromSlash(k))))
	}
	defer func() {
		for _, w := range want {
			w.Release()
		}
	}()

	counting.allocated.Store(0)
	r, err := s.Open(ctx, "t.parquet")
	if err != nil {
		t.Fatal(err)
	}
	var read, bytes int64
	part, at := 0, int64(0) // the rows of want[part] compared so far
	for r.Next() {
		b := r.RecordBatch()
		bytes += BatchBytes(b)
		if at == want[part].NumRows() {
			part, at = part+1, 0
		}
		for j := range schema.NumFields() {
			w := array.NewChunkedSlice(want[part].Column(j).Data(), at, at+b.NumRows())
			g := arrow.NewChunked(b.Column(j).DataType(), []arrow.Array{b.Column(j)})
			if !array.ChunkedEqual(g, w) {
				t.Fatalf("part %d rows %d-%d column %q differs from pqarrow's reading", part, at, at+b.NumRows(), schema.Field(j).Name)
			}
			w.Release()
			g.Release()
		}
		at += b.NumRows()
		read += b.NumRows()
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	r.Release()
	if read != 2*rows {
		t.Fatalf("read %d rows, want %d", read, 2*rows)
	}
	got := counting.allocated.Load()
	t.Logf("read %d bytes of batches, allocated %d bytes", bytes, got)
	if got > bytes/3 {
		t.Errorf("reading %d bytes of batches allocated %d bytes in buffers of %d bytes or more, want under a third: buffers are not reused", bytes, got, poolMinSize)
	}
}

// reuseTestBatch makes rows rows of schema's columns; part moves the nulls.
func reuseTestBatch(schema *arrow.Schema, part, rows int) arrow.RecordBatch {
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for i := range rows {
		null := func(k int) bool { return (i+part)%k == k/2 }
		b.Field(0).(*array.Int64Builder).Append(int64(i))
		if f := b.Field(1).(*array.Float64Builder); null(7) {
			f.AppendNull()
		} else {
			f.Append(float64(i) / 3)
		}
		switch sb := b.Field(2).(*array.StringBuilder); {
		case null(5):
			sb.AppendNull()
		case i%11 == 0:
			sb.Append("")
		case i%997 == 0:
			sb.Append(strings.Repeat("long", 300+i%50))
		default:
			sb.Append(fmt.Sprintf("v%d-%d", part, i))
		}
		if tb := b.Field(3).(*array.TimestampBuilder); null(13) {
			tb.AppendNull()
		} else {
			tb.Append(arrow.Timestamp(int64(i) * 1000))
		}
		if ib := b.Field(4).(*array.Int32Builder); null(3) {
			ib.AppendNull()
		} else {
			ib.Append(int32(i % 1000))
		}
		if bb := b.Field(5).(*array.BooleanBuilder); null(9) {
			bb.AppendNull()
		} else {
			bb.Append(i%2 == 0)
		}
		if db := b.Field(6).(*array.Decimal128Builder); null(17) {
			db.AppendNull()
		} else {
			db.Append(decimal128.FromI64(int64(i) * 7))
		}
		lb := b.Field(7).(*array.ListBuilder)
		if null(19) {
			lb.AppendNull()
			continue
		}
		lb.Append(true)
		for k := range i % 4 {
			lb.ValueBuilder().(*array.Int64Builder).Append(int64(i + k))
		}
	}
	return b.NewRecordBatch()
}

// countingAllocator counts the bytes allocated through it in buffers of at least
// poolMinSize, the ones a readPool keeps.
type countingAllocator struct {
	memory.Allocator
	allocated atomic.Int64
}

func (a *countingAllocator) Allocate(size int) []byte {
	if size >= poolMinSize {
		a.allocated.Add(int64(size))
	}
	return a.Allocator.Allocate(size)
}

func (a *countingAllocator) Reallocate(size int, b []byte) []byte {
	if size > cap(b) && size >= poolMinSize {
		a.allocated.Add(int64(size))
	}
	return a.Allocator.Reallocate(size, b)
}
