package catalog

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// Types a Parquet file's stored Arrow schema may announce that pqarrow can describe
// but not read. pyarrow writes a duration column as a plain INT64 and records
// "duration" in the ARROW:schema key; pqarrow then reports the column as a duration
// (so Stat shows it) but fails on its first batch with "no support for reading
// columns of type: duration". DuckDB reads the same file as BIGINT, so SQL served it
// while plain DoGet did not.
//
// The reader asks pqarrow for the storage type instead (readableType), and gives the
// batch back the announced type (retype): the values and buffers are the same, only
// the type differs, so nothing is copied.

// readableType is t with every type pqarrow cannot read replaced by the type of its
// storage in Parquet, at any depth.
func readableType(t arrow.DataType) arrow.DataType {
	switch t := t.(type) {
	case *arrow.DurationType:
		return arrow.PrimitiveTypes.Int64
	case *arrow.StructType:
		fields := make([]arrow.Field, t.NumFields())
		for i, f := range t.Fields() {
			f.Type = readableType(f.Type)
			fields[i] = f
		}
		return arrow.StructOf(fields...)
	case *arrow.ListType:
		f := t.ElemField()
		f.Type = readableType(f.Type)
		return arrow.ListOfField(f)
	case *arrow.LargeListType:
		f := t.ElemField()
		f.Type = readableType(f.Type)
		return arrow.LargeListOfField(f)
	case *arrow.FixedSizeListType:
		f := t.ElemField()
		f.Type = readableType(f.Type)
		return arrow.FixedSizeListOfField(t.Len(), f)
	case *arrow.MapType:
		k, v := t.KeyField(), t.ItemField()
		k.Type, v.Type = readableType(k.Type), readableType(v.Type)
		m := arrow.MapOfFields(k, v)
		m.KeysSorted = t.KeysSorted
		return m
	}
	return t
}

// makeReadable rewrites the manifest of one file reader so that every column is read
// as readableType says. The manifest belongs to that reader alone.
func makeReadable(fields []pqarrow.SchemaField) {
	for i := range fields {
		f := &fields[i]
		if f.Field != nil {
			rt := readableType(f.Field.Type)
			if !arrow.TypeEqual(rt, f.Field.Type) {
				nf := *f.Field
				nf.Type = rt
				f.Field = &nf
			}
		}
		makeReadable(f.Children)
	}
}

// retype returns arr's data under type want, which must have arr's layout
// (readableType(want) has arr's type). The buffers are shared, not copied; the
// result is a new reference.
func retype(data arrow.ArrayData, want arrow.DataType) (arrow.ArrayData, error) {
	if arrow.TypeEqual(data.DataType(), want) {
		data.Retain()
		return data, nil
	}
	if !arrow.TypeEqual(data.DataType(), readableType(want)) {
		return nil, fmt.Errorf("column read as %s cannot be shown as %s", data.DataType(), want)
	}
	kids := data.Children()
	children := make([]arrow.ArrayData, len(kids))
	defer func() {
		for _, c := range children {
			if c != nil {
				c.Release()
			}
		}
	}()
	for i, c := range kids {
		ct, err := childType(want, i)
		if err != nil {
			return nil, err
		}
		if children[i], err = retype(c, ct); err != nil {
			return nil, err
		}
	}
	return array.NewData(want, data.Len(), data.Buffers(), children, data.NullN(), data.Offset()), nil
}

// childType is the type of child i of an array of type t.
func childType(t arrow.DataType, i int) (arrow.DataType, error) {
	switch t := t.(type) {
	case *arrow.StructType:
		return t.Field(i).Type, nil
	case *arrow.MapType:
		return t.Elem(), nil // the entries struct
	case arrow.ListLikeType:
		return t.Elem(), nil
	}
	return nil, fmt.Errorf("type %s has no child %d", t, i)
}
