package duckread

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Conform returns a reader of rdr's batches in exactly the schema target, which has
// as many columns: a dataset's stored Arrow schema, which an append must match to the
// type. DuckDB hands some types back in another Arrow form than the dataset stores
// (timestamp[ms] as timestamp[us], large_utf8 as utf8, a list's item field named
// "l"); those columns go through arrow-go's safe cast, which fails rather than lose
// a value. The returned reader owns rdr.
func Conform(ctx context.Context, rdr array.RecordReader, target *arrow.Schema, mem memory.Allocator) (array.RecordReader, error) {
	have := rdr.Schema()
	if have.NumFields() != target.NumFields() {
		return nil, fmt.Errorf("%d columns, the dataset has %d", have.NumFields(), target.NumFields())
	}
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	c := &conformer{rdr: rdr, target: target, ctx: compute.WithAllocator(ctx, mem)}
	c.refs.Store(1)
	for i := range target.NumFields() {
		if !arrow.TypeEqual(have.Field(i).Type, target.Field(i).Type) {
			c.cast = append(c.cast, i)
		}
	}
	return c, nil
}

type conformer struct {
	refs   atomic.Int64
	rdr    array.RecordReader
	target *arrow.Schema
	ctx    context.Context
	cast   []int // the columns to cast
	cur    arrow.RecordBatch
	err    error
}

func (c *conformer) Retain()                        { c.refs.Add(1) }
func (c *conformer) Schema() *arrow.Schema          { return c.target }
func (c *conformer) RecordBatch() arrow.RecordBatch { return c.cur }
func (c *conformer) Record() arrow.RecordBatch      { return c.cur }

func (c *conformer) Err() error {
	if c.err != nil {
		return c.err
	}
	return c.rdr.Err()
}

func (c *conformer) Release() {
	if c.refs.Add(-1) != 0 {
		return
	}
	if c.cur != nil {
		c.cur.Release()
		c.cur = nil
	}
	c.rdr.Release()
}

func (c *conformer) Next() bool {
	if c.cur != nil {
		c.cur.Release()
		c.cur = nil
	}
	if c.err != nil || !c.rdr.Next() {
		return false
	}
	rec := c.rdr.RecordBatch()
	cols := make([]arrow.Array, rec.NumCols())
	copy(cols, rec.Columns())
	var made []arrow.Array
	defer func() {
		for _, a := range made {
			a.Release()
		}
	}()
	for _, i := range c.cast {
		want := c.target.Field(i)
		out, err := compute.CastArray(c.ctx, cols[i], compute.SafeCastOptions(want.Type))
		if err != nil {
			c.err = fmt.Errorf("column %q: %s to the dataset's %s: %w", want.Name, cols[i].DataType(), want.Type, err)
			return false
		}
		made = append(made, out)
		cols[i] = out
	}
	c.cur = array.NewRecordBatch(c.target, cols, rec.NumRows())
	return true
}
