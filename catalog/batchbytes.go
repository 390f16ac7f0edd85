package catalog

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// DefaultBatchBytes is the size, in bytes of Arrow buffers, that a record batch
// leaving the server aims for: plain DoGet batches (Options.ReadBatchBytes) and SQL
// results (the engine's Config.BatchBytes) are cut at it as well as at their row
// count. Rows of a few KB would otherwise make a 64Ki-row batch larger than gRPC's
// message limit (256 MiB by default), and such a dataset could be stored but never
// read back. A few MiB per message costs nothing in throughput and bounds the memory
// each stream holds. It stays 64 KiB under 4 MiB, gRPC's default receive limit,
// which arrow-go's Flight clients keep unless told otherwise: with room for the
// message's header, a batch of it reaches them.
const DefaultBatchBytes = 4<<20 - 64<<10

// RowsBytes estimates the Arrow IPC body size of rows [i, j) of arr: its buffers'
// bytes for those rows only, so that a slice is measured by what it sends. It is
// exact for fixed-width, binary and list layouts and proportional for the rest.
func RowsBytes(arr arrow.Array, i, j int) int64 {
	return dataBytes(arr.Data(), i, j)
}

// BatchBytes estimates the Arrow IPC body size of rec (see RowsBytes).
func BatchBytes(rec arrow.RecordBatch) int64 {
	return RowsRangeBytes(rec, 0, int(rec.NumRows()))
}

// RowsRangeBytes estimates the IPC body size of rows [i, j) of rec.
func RowsRangeBytes(rec arrow.RecordBatch, i, j int) int64 {
	var n int64
	for _, c := range rec.Columns() {
		n += RowsBytes(c, i, j)
	}
	return n
}

// FitRows returns how many rows of rec, from row `from` on, fit in maxBytes, and at
// most maxRows of them. It is 0 when not even one row fits; the caller decides whether
// a row larger than the target goes alone.
func FitRows(rec arrow.RecordBatch, from int, maxRows int, maxBytes int64) int {
	n := int(rec.NumRows()) - from
	if n > maxRows {
		n = maxRows
	}
	if n <= 0 || RowsRangeBytes(rec, from, from+n) <= maxBytes {
		return max(n, 0)
	}
	// The size grows with the row count: search for the largest count that fits.
	lo, hi := 0, n // lo fits, hi does not
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if RowsRangeBytes(rec, from, from+mid) <= maxBytes {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}

// dataBytes is the size of the elements [i, j) of d, counted from d's first element
// (d.Offset() is added where buffers are indexed). A child's positions follow
// arrow-go's layout: list offsets are relative to the child's first element; struct
// and fixed-size-list children start where the parent's buffers do, so the parent's
// offset carries over to them.
func dataBytes(d arrow.ArrayData, i, j int) int64 {
	if j <= i {
		return 0
	}
	n := int64(j - i)
	off := d.Offset()
	var size int64
	if b := d.Buffers(); len(b) > 0 && b[0] != nil {
		size += (n + 7) / 8 // validity bitmap
	}
	switch t := d.DataType().(type) {
	case *arrow.NullType:
		return 0
	case *arrow.BooleanType:
		return size + (n+7)/8
	case *arrow.StringType, *arrow.BinaryType:
		offs := arrow.Int32Traits.CastFromBytes(d.Buffers()[1].Bytes())
		return size + 4*n + int64(offs[off+j]-offs[off+i])
	case *arrow.LargeStringType, *arrow.LargeBinaryType:
		offs := arrow.Int64Traits.CastFromBytes(d.Buffers()[1].Bytes())
		return size + 8*n + offs[off+j] - offs[off+i]
	case *arrow.ListType, *arrow.MapType:
		offs := arrow.Int32Traits.CastFromBytes(d.Buffers()[1].Bytes())
		return size + 4*n + dataBytes(d.Children()[0], int(offs[off+i]), int(offs[off+j]))
	case *arrow.LargeListType:
		offs := arrow.Int64Traits.CastFromBytes(d.Buffers()[1].Bytes())
		return size + 8*n + dataBytes(d.Children()[0], int(offs[off+i]), int(offs[off+j]))
	case *arrow.FixedSizeListType:
		k := int(t.Len())
		return size + dataBytes(d.Children()[0], (off+i)*k, (off+j)*k)
	case *arrow.StructType:
		for _, c := range d.Children() {
			size += dataBytes(c, off+i, off+j)
		}
		return size
	case *arrow.DictionaryType:
		// The indices for these rows, and the whole dictionary, which goes along.
		size += n * int64(t.IndexType.(arrow.FixedWidthDataType).BitWidth()/8)
		if dict := d.Dictionary(); dict != nil {
			size += dataBytes(dict, 0, dict.Len())
		}
		return size
	case arrow.ExtensionType:
		st := array.NewData(t.StorageType(), d.Len(), d.Buffers(), d.Children(), d.NullN(), d.Offset())
		defer st.Release()
		return dataBytes(st, i, j)
	case arrow.FixedWidthDataType:
		if w := t.BitWidth(); w >= 8 {
			return size + n*int64(w/8)
		}
		return size + (n+7)/8
	}
	// Views, unions, run-end encoded: their share of every buffer, in proportion.
	var total int64
	for _, b := range d.Buffers() {
		if b != nil {
			total += int64(b.Len())
		}
	}
	for _, c := range d.Children() {
		total += dataBytes(c, 0, c.Len())
	}
	if l := d.Len(); l > 0 {
		return total * n / int64(l)
	}
	return total
}
