package catalog

import (
	"errors"
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// Top-level string and binary columns are read here rather than by pqarrow. pqarrow
// appends every value to an array.BinaryBuilder one call at a time (after its
// decoder has made a []byte of each); that was half of the CPU a plain DoGet of
// 10M x (int64, float64, int64, 16-character string) spent decoding Parquet. Here
// each page's values are copied once into the batch's data buffer and the offsets
// written in the same loop. Measured on the shared 2-core machine, 3 interleaved
// pairs: BenchmarkRead (2M rows) 155-174 -> 132-144 ms of CPU per read,
// BenchmarkDoGet/10Mx4 961-1210 -> 882-965 ms (client and server together).
//
// Only flat columns qualify: BYTE_ARRAY leaves at the top level, required or
// optional, whose Arrow type is exactly string or binary. Everything else (nested,
// large_string, dictionary, decimals in BYTE_ARRAY) stays with pqarrow.

// flatString reports whether f, a top-level field of a part's manifest, is read by
// a flatStrings.
func flatString(pf *file.Reader, f pqarrow.SchemaField) bool {
	if !f.IsLeaf() || len(f.Children) != 0 || f.Field == nil {
		return false
	}
	switch f.Field.Type.ID() {
	case arrow.STRING, arrow.BINARY:
	default:
		return false
	}
	col := pf.MetaData().Schema.Column(f.ColIndex)
	return col.PhysicalType() == parquet.Types.ByteArray && col.MaxRepetitionLevel() == 0 && col.MaxDefinitionLevel() <= 1
}

// flatStrings reads one flat string or binary column of a part, row group after
// row group.
type flatStrings struct {
	pf    *file.Reader
	col   int // leaf index in the file
	field arrow.Field
	mem   memory.Allocator

	rg       int // next row group to open
	cr       *file.ByteArrayColumnChunkReader
	perValue int64 // bytes per value of the current row group, uncompressed, for sizing
	values   []parquet.ByteArray
	defs     []int16
}

func newFlatStrings(pf *file.Reader, f pqarrow.SchemaField, mem memory.Allocator) *flatStrings {
	return &flatStrings{pf: pf, col: f.ColIndex, field: *f.Field, mem: mem}
}

// errShortColumn is a column that ends before the part's row count.
var errShortColumn = errors.New("column has fewer values than the part has rows")

// next reads the next n rows of the column as one array: n rows, or fewer only at
// the end of the part (0 there).
func (c *flatStrings) next(n int64) (arr arrow.Array, err error) {
	nullable := c.pf.MetaData().Schema.Column(c.col).MaxDefinitionLevel() == 1
	offsets := memory.NewResizableBuffer(c.mem)
	defer offsets.Release()
	data := memory.NewResizableBuffer(c.mem)
	defer data.Release()
	var valid *memory.Buffer
	if nullable {
		valid = memory.NewResizableBuffer(c.mem)
		defer valid.Release()
		valid.Resize(int(bitutil.BytesForBits(n)))
		clear(valid.Bytes())
	}
	offsets.Resize(int(n+1) * arrow.Int32SizeBytes)
	offs := arrow.Int32Traits.CastFromBytes(offsets.Bytes())
	offs[0] = 0

	var got, size, nulls int64
	for got < n {
		if c.cr == nil {
			if c.rg >= c.pf.NumRowGroups() {
				break
			}
			if err := c.openRowGroup(); err != nil {
				return nil, err
			}
			if data.Cap() == 0 {
				data.Reserve(int(min(c.perValue*(n-got), 64<<20)))
			}
		}
		want := n - got
		if int64(cap(c.values)) < want {
			c.values = make([]parquet.ByteArray, want)
			c.defs = make([]int16, want)
		}
		var defs []int16
		if nullable {
			defs = c.defs[:want]
		}
		// Values point into the current page: copied below, before the next call.
		lvls, read, err := c.cr.ReadBatchInPage(want, c.values[:want], defs, nil)
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", c.field.Name, err)
		}
		if lvls == 0 {
			if c.cr.HasNext() {
				return nil, fmt.Errorf("column %q: the Parquet reader made no progress", c.field.Name)
			}
			c.close() // this row group's chunk is done
			continue
		}
		vals := c.values[:read]
		var bytes int64
		for _, v := range vals {
			bytes += int64(len(v))
		}
		if size+bytes > math.MaxInt32 {
			return nil, fmt.Errorf("column %q: more than 2 GiB of values in one batch of %d rows", c.field.Name, n)
		}
		if need := int(size + bytes); need > data.Cap() {
			data.Reserve(max(need, 2*data.Cap()))
		}
		buf := data.Buf()
		if !nullable {
			for i, v := range vals {
				copy(buf[size:], v)
				size += int64(len(v))
				offs[got+int64(i)+1] = int32(size)
			}
		} else {
			bits := valid.Bytes()
			k := 0
			for i, d := range defs[:lvls] {
				row := got + int64(i)
				if d > 0 {
					if k >= len(vals) {
						return nil, fmt.Errorf("column %q: definition levels promise more values than the page holds", c.field.Name)
					}
					v := vals[k]
					k++
					copy(buf[size:], v)
					size += int64(len(v))
					bitutil.SetBit(bits, int(row))
				} else {
					nulls++
				}
				offs[row+1] = int32(size)
			}
		}
		got += lvls
	}
	if got == 0 {
		return nil, nil
	}
	data.Resize(int(size))
	offsets.Resize(int(got+1) * arrow.Int32SizeBytes)
	if valid != nil {
		valid.Resize(int(bitutil.BytesForBits(got)))
		if nulls == 0 {
			valid = nil // the deferred Release still frees it
		}
	}
	d := array.NewData(c.field.Type, int(got), []*memory.Buffer{valid, offsets, data}, nil, int(nulls), 0)
	defer d.Release()
	return array.MakeFromData(d), nil
}

// close releases the open column chunk's pages.
func (c *flatStrings) close() {
	if c.cr != nil {
		c.cr.Close()
		c.cr = nil
	}
}

func (c *flatStrings) openRowGroup() error {
	rg := c.pf.RowGroup(c.rg)
	c.rg++
	cr, err := rg.Column(c.col)
	if err != nil {
		return fmt.Errorf("column %q: %w", c.field.Name, err)
	}
	bcr, ok := cr.(*file.ByteArrayColumnChunkReader)
	if !ok {
		return fmt.Errorf("column %q: a %T where BYTE_ARRAY was announced", c.field.Name, cr)
	}
	c.cr = bcr
	c.perValue = 0
	if md, err := rg.MetaData().ColumnChunk(c.col); err == nil && md.NumValues() > 0 {
		c.perValue = md.TotalUncompressedSize() / md.NumValues()
	}
	return nil
}
