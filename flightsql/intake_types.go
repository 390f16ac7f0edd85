package flightsql

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/quiverdata/quiver/catalog"
)

// The intake's type conversion: clients send the same values in many Arrow
// encodings (polars sends string_view, pandas categoricals arrive dictionary-encoded,
// pyarrow can send run-end encoded and list_view columns), while the Parquet writer
// and DuckDB's parameter binding take one plain layout of each value type. Every
// batch that passes the intake is converted here, once, to that plain layout, so
// that the three upload paths (dataset DoPut, bulk ingest, bound parameters) store
// and bind the same types: each reads client batches only through the intake.
//
//	string_view, binary_view          → string, binary
//	list_view, large_list_view        → list, large_list
//	dictionary<I, V>, run_end_encoded → V (their values, decoded)
//	decimal32(p,s), decimal64(p,s)    → decimal128(p,s)
//	date64                            → date32 (values must be whole days)
//
// at any depth (inside lists, structs and maps). Everything else passes unchanged,
// without a copy; a stream that has none of these types costs nothing here. Types
// the store cannot keep (intervals, unions) are refused by the store, which names
// the column; a union still binds as a parameter.
//
// The conversion runs on validated batches (validateColumn first), yet decoding
// can expand: a dictionary or run-end encoded column of a few bytes can stand for
// gigabytes of values, and views may share one buffer. So what a batch's conversion
// allocates is counted before it is allocated, and a batch over maxConvertedBytes
// is refused with a message saying to send smaller batches.

// maxConvertedBytes bounds what converting one batch may allocate: as much as one
// uncompressed message may hold.
const maxConvertedBytes = maxUncompressedBody

// errTooLarge is a conversion over the budget.
var errTooLarge = fmt.Errorf("converted, it would take more than %d MiB; send smaller batches", maxConvertedBytes>>20)

// storedSchema is s with every field of storedType; s itself if nothing changes.
func storedSchema(s *arrow.Schema) *arrow.Schema {
	fields := s.Fields()
	changed := false
	for i, f := range fields {
		if t := storedType(f.Type); t != f.Type {
			fields[i].Type = t
			changed = true
		}
	}
	if !changed {
		return s
	}
	md := s.Metadata()
	return arrow.NewSchema(fields, &md)
}

// storedType is the plain type a column of type t is converted to; t itself (the
// same value) when no conversion is needed.
func storedType(t arrow.DataType) arrow.DataType {
	switch t := t.(type) {
	case *arrow.StringViewType:
		return arrow.BinaryTypes.String
	case *arrow.BinaryViewType:
		return arrow.BinaryTypes.Binary
	case *arrow.Decimal32Type:
		return &arrow.Decimal128Type{Precision: t.Precision, Scale: t.Scale}
	case *arrow.Decimal64Type:
		return &arrow.Decimal128Type{Precision: t.Precision, Scale: t.Scale}
	case *arrow.Date64Type:
		return arrow.FixedWidthTypes.Date32
	case *arrow.DictionaryType:
		return storedType(t.ValueType)
	case *arrow.RunEndEncodedType:
		return storedType(t.Encoded())
	case *arrow.ListViewType:
		return arrow.ListOfField(storedField(t.ElemField()))
	case *arrow.LargeListViewType:
		return arrow.LargeListOfField(storedField(t.ElemField()))
	case *arrow.ListType:
		if f := storedField(t.ElemField()); f.Type != t.Elem() {
			return arrow.ListOfField(f)
		}
	case *arrow.LargeListType:
		if f := storedField(t.ElemField()); f.Type != t.Elem() {
			return arrow.LargeListOfField(f)
		}
	case *arrow.FixedSizeListType:
		if f := storedField(t.ElemField()); f.Type != t.Elem() {
			return arrow.FixedSizeListOfField(t.Len(), f)
		}
	case *arrow.MapType:
		k, v := storedField(t.KeyField()), storedField(t.ItemField())
		if k.Type != t.KeyType() || v.Type != t.ItemType() {
			m := arrow.MapOfFields(k, v)
			m.KeysSorted = t.KeysSorted
			return m
		}
	case *arrow.StructType:
		fields := t.Fields()
		changed := false
		for i, f := range fields {
			if nf := storedField(f); nf.Type != f.Type {
				fields[i] = nf
				changed = true
			}
		}
		if changed {
			return arrow.StructOf(fields...)
		}
	}
	return t
}

func storedField(f arrow.Field) arrow.Field {
	f.Type = storedType(f.Type)
	return f
}

// converter converts the columns of one batch, within a budget of bytes.
type converter struct {
	ctx    context.Context // carries the allocator for compute's kernels
	mem    memory.Allocator
	budget int64
}

// storedRecord converts rec to schema (storedSchema of rec's schema). The result is
// a new reference.
func storedRecord(mem memory.Allocator, rec arrow.RecordBatch, schema *arrow.Schema) (arrow.RecordBatch, error) {
	c := &converter{ctx: compute.WithAllocator(context.Background(), mem), mem: mem, budget: maxConvertedBytes}
	cols := make([]arrow.Array, rec.NumCols())
	defer func() {
		for _, col := range cols {
			if col != nil {
				col.Release()
			}
		}
	}()
	for i, col := range rec.Columns() {
		out, err := c.convert(col, schema.Field(i).Type)
		if err != nil {
			return nil, fmt.Errorf("column %q (%s): %w", rec.ColumnName(i), col.DataType(), err)
		}
		cols[i] = out
	}
	return array.NewRecordBatch(schema, cols, rec.NumRows()), nil
}

// take spends n bytes of the budget.
func (c *converter) take(n int64) error {
	if n > c.budget {
		return errTooLarge
	}
	c.budget -= n
	return nil
}

// convert returns arr as type want (storedType of arr's type), as a new reference.
func (c *converter) convert(arr arrow.Array, want arrow.DataType) (arrow.Array, error) {
	if arr.DataType() == want {
		arr.Retain()
		return arr, nil
	}
	switch a := arr.(type) {
	case *array.StringView:
		return c.views(a.Len(), a.IsNull, func(i int) []byte { return []byte(a.Value(i)) }, want)
	case *array.BinaryView:
		return c.views(a.Len(), a.IsNull, a.Value, want)
	case *array.Decimal32:
		return c.decimals(a.Len(), a.IsNull, func(i int) decimal128.Num { return decimal128.FromI64(int64(a.Value(i))) }, want)
	case *array.Decimal64:
		return c.decimals(a.Len(), a.IsNull, func(i int) decimal128.Num { return decimal128.FromI64(int64(a.Value(i))) }, want)
	case *array.Date64:
		return c.dates(a)
	case *array.Dictionary:
		return c.dictionary(a, want)
	case *array.RunEndEncoded:
		return c.runEnds(a, want)
	case *array.ListView:
		return c.listView(a, want)
	case *array.LargeListView:
		return c.listView(a, want)
	}
	switch arr.DataType().(type) {
	case *arrow.ListType, *arrow.LargeListType, *arrow.FixedSizeListType, *arrow.MapType, *arrow.StructType:
		return c.children(arr, want)
	}
	return nil, fmt.Errorf("no conversion from %s to %s", arr.DataType(), want)
}

// children converts the children of a nested array, keeping its own buffers.
func (c *converter) children(arr arrow.Array, want arrow.DataType) (arrow.Array, error) {
	d := arr.Data()
	kids := make([]arrow.ArrayData, len(d.Children()))
	defer func() {
		for _, k := range kids {
			if k != nil {
				k.Release()
			}
		}
	}()
	for i, kd := range d.Children() {
		kt, err := catalog.ChildType(want, i)
		if err != nil {
			return nil, err
		}
		child := array.MakeFromData(kd)
		out, err := c.convert(child, kt)
		child.Release()
		if err != nil {
			return nil, err
		}
		kids[i] = out.Data()
		kids[i].Retain()
		out.Release()
	}
	nd := array.NewData(want, d.Len(), d.Buffers(), kids, d.NullN(), d.Offset())
	defer nd.Release()
	return array.MakeFromData(nd), nil
}

// views copies the values of a view array into a plain string or binary array.
func (c *converter) views(n int, isNull func(int) bool, value func(int) []byte, want arrow.DataType) (arrow.Array, error) {
	var total int64
	for i := 0; i < n; i++ {
		if !isNull(i) {
			total += int64(len(value(i)))
		}
	}
	if err := c.take(total + 4*int64(n+1) + int64(n+7)/8); err != nil {
		return nil, err
	}
	if total > int64(^uint32(0)>>1) {
		return nil, errTooLarge
	}
	b := array.NewBinaryBuilder(c.mem, want.(arrow.BinaryDataType))
	defer b.Release()
	b.Reserve(n)
	b.ReserveData(int(total))
	for i := 0; i < n; i++ {
		if isNull(i) {
			b.AppendNull()
		} else {
			b.Append(value(i))
		}
	}
	// The builder makes an *array.Binary whatever its type; MakeFromData makes the
	// *array.String a string type has (parameter binding tells them apart).
	arr := b.NewArray()
	defer arr.Release()
	return array.MakeFromData(arr.Data()), nil
}

// decimals widens decimal32 or decimal64 values to decimal128; the unscaled values
// are the same.
func (c *converter) decimals(n int, isNull func(int) bool, value func(int) decimal128.Num, want arrow.DataType) (arrow.Array, error) {
	if err := c.take(16*int64(n) + int64(n+7)/8); err != nil {
		return nil, err
	}
	b := array.NewDecimal128Builder(c.mem, want.(*arrow.Decimal128Type))
	defer b.Release()
	b.Reserve(n)
	for i := 0; i < n; i++ {
		if isNull(i) {
			b.AppendNull()
		} else {
			b.Append(value(i))
		}
	}
	return b.NewArray(), nil
}

// msPerDay is a day in date64's milliseconds.
const msPerDay = 86_400_000

// dates turns date64 (milliseconds) into date32 (days). Arrow requires date64
// values to be whole days; one that is not would lose its time of day, so it is
// refused rather than truncated.
func (c *converter) dates(a *array.Date64) (arrow.Array, error) {
	n := a.Len()
	if err := c.take(4*int64(n) + int64(n+7)/8); err != nil {
		return nil, err
	}
	b := array.NewDate32Builder(c.mem)
	defer b.Release()
	b.Reserve(n)
	for i := 0; i < n; i++ {
		if a.IsNull(i) {
			b.AppendNull()
			continue
		}
		ms := int64(a.Value(i))
		if ms%msPerDay != 0 {
			return nil, fmt.Errorf("%w: row %d is %d ms, not a whole day (date64 holds dates; send a timestamp for a time of day)", catalog.ErrInvalidData, i, ms)
		}
		b.Append(arrow.Date32(ms / msPerDay))
	}
	return b.NewArray(), nil
}

// dictionary decodes a dictionary array into its values.
func (c *converter) dictionary(a *array.Dictionary, want arrow.DataType) (arrow.Array, error) {
	dict, err := c.convert(a.Dictionary(), want)
	if err != nil {
		return nil, err
	}
	defer dict.Release()
	// What the decoded values take: each row's value, counted before any is copied.
	var size int64
	for i := 0; i < a.Len(); i++ {
		if a.IsValid(i) {
			j := a.GetValueIndex(i)
			if j < 0 || j >= dict.Len() {
				return nil, fmt.Errorf("%w: row %d has dictionary index %d; the dictionary has %d values", catalog.ErrInvalidData, i, j, dict.Len())
			}
			size += catalog.RowsBytes(dict, j, j+1)
		}
		if size > c.budget {
			return nil, errTooLarge
		}
	}
	if err := c.take(size + int64(a.Len()+7)/8); err != nil {
		return nil, err
	}
	return compute.TakeArray(c.ctx, dict, a.Indices())
}

// runEnds decodes a run-end encoded array into its values.
func (c *converter) runEnds(a *array.RunEndEncoded, want arrow.DataType) (arrow.Array, error) {
	values, err := c.convert(a.Values(), want)
	if err != nil {
		return nil, err
	}
	defer values.Release()
	n := a.Len()
	// The take below needs an index per row, and each row repeats its run's value.
	size := 8*int64(n) + int64(n+7)/8
	ends := runEndsOf(a.RunEndsArr())
	first := a.GetPhysicalOffset()
	pos := int64(a.Offset())
	for p := first; pos < int64(a.Offset()+n); p++ {
		end := min(ends(p), int64(a.Offset()+n))
		size += (end - pos) * catalog.RowsBytes(values, p, p+1)
		if size > c.budget {
			return nil, errTooLarge
		}
		pos = end
	}
	if err := c.take(size); err != nil {
		return nil, err
	}
	idx := array.NewInt64Builder(c.mem)
	defer idx.Release()
	idx.Reserve(n)
	pos = int64(a.Offset())
	for p := first; pos < int64(a.Offset()+n); p++ {
		end := min(ends(p), int64(a.Offset()+n))
		for ; pos < end; pos++ {
			idx.UnsafeAppend(int64(p))
		}
	}
	indices := idx.NewArray()
	defer indices.Release()
	return compute.TakeArray(c.ctx, values, indices)
}

// runEndsOf reads the run ends array, whose type is int16, int32 or int64.
func runEndsOf(arr arrow.Array) func(int) int64 {
	switch a := arr.(type) {
	case *array.Int16:
		return func(i int) int64 { return int64(a.Value(i)) }
	case *array.Int32:
		return func(i int) int64 { return int64(a.Value(i)) }
	case *array.Int64:
		return a.Value
	}
	panic(fmt.Sprintf("run ends of type %s", arr.DataType())) // validation refuses other types
}

// listViewLike is what ListView and LargeListView share.
type listViewLike interface {
	arrow.Array
	ListValues() arrow.Array
	ValueOffsets(i int) (start, end int64)
}

// listView turns a list view into a list: each row's elements, in row order. Views
// may overlap or come in any order, so the child is rebuilt from the rows' ranges.
func (c *converter) listView(a listViewLike, want arrow.DataType) (arrow.Array, error) {
	elemType := want.(arrow.ListLikeType).Elem()
	child, err := c.convert(a.ListValues(), elemType)
	if err != nil {
		return nil, err
	}
	defer child.Release()
	n := a.Len()
	var size, elems int64
	for i := 0; i < n; i++ {
		if a.IsValid(i) {
			start, end := a.ValueOffsets(i)
			size += catalog.RowsBytes(child, int(start), int(end))
			elems += end - start
		}
		if size > c.budget {
			return nil, errTooLarge
		}
	}
	if _, large := want.(*arrow.LargeListType); !large && elems > int64(^uint32(0)>>1) {
		return nil, errTooLarge
	}
	if err := c.take(size + 8*int64(n+1) + int64(n+7)/8); err != nil {
		return nil, err
	}
	_, large := want.(*arrow.LargeListType)
	width := 4
	if large {
		width = 8
	}
	offsets := memory.NewResizableBuffer(c.mem)
	defer offsets.Release()
	offsets.Resize((n + 1) * width)
	validity := memory.NewResizableBuffer(c.mem)
	defer validity.Release()
	validity.Resize(int(bitutil.BytesForBits(int64(n))))
	clear(validity.Bytes())
	// The elements are the rows' ranges concatenated: one copy, whatever their type.
	var parts []arrow.Array
	defer func() {
		for _, p := range parts {
			p.Release()
		}
	}()
	var at int64
	setOffset := func(i int, v int64) {
		if large {
			arrow.Int64Traits.CastFromBytes(offsets.Bytes())[i] = v
		} else {
			arrow.Int32Traits.CastFromBytes(offsets.Bytes())[i] = int32(v)
		}
	}
	setOffset(0, 0)
	for i := 0; i < n; i++ {
		if a.IsValid(i) {
			bitutil.SetBit(validity.Bytes(), i)
			start, end := a.ValueOffsets(i)
			if end > start {
				parts = append(parts, array.NewSlice(child, start, end))
				at += end - start
			}
		}
		setOffset(i+1, at)
	}
	var elemsArr arrow.Array
	if len(parts) == 0 {
		elemsArr = array.MakeArrayOfNull(c.mem, elemType, 0)
	} else if elemsArr, err = array.Concatenate(parts, c.mem); err != nil {
		return nil, err
	}
	defer elemsArr.Release()
	nd := array.NewData(want, n, []*memory.Buffer{validity, offsets}, []arrow.ArrayData{elemsArr.Data()}, a.NullN(), 0)
	defer nd.Release()
	return array.MakeFromData(nd), nil
}
