package catalog

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// Types a Parquet file's stored Arrow schema may announce that pqarrow can describe
// but not read, nor write. pyarrow writes a duration column as a plain INT64 and records
// "duration" in the ARROW:schema key; pqarrow then reports the column as a duration
// (so Stat shows it) but fails on its first batch with "no support for reading
// columns of type: duration". DuckDB reads the same file as BIGINT, so SQL served it
// while plain DoGet did not.
//
// The reader asks pqarrow for the storage type instead (readableType), and gives the
// batch back the announced type (retype): the values and buffers are the same, only
// the type differs, so nothing is copied. A put does the same the other way round
// (storageSchema): it writes such a column as its storage type and stores the
// announced schema in the ARROW:schema key, as pyarrow does, so a client that puts a
// duration gets a duration back (and SQL sees a BIGINT).

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
// (readableType(want) has arr's type, as sameType compares them). The buffers are
// shared, not copied; the result is a new reference.
func retype(data arrow.ArrayData, want arrow.DataType) (arrow.ArrayData, error) {
	if arrow.TypeEqual(data.DataType(), want) {
		data.Retain()
		return data, nil
	}
	if !sameType(data.DataType(), readableType(want)) {
		return nil, fmt.Errorf("column read as %s cannot be shown as %s", data.DataType(), want)
	}
	return relabel(data, want)
}

// relabel returns data under type want, of the same layout at every depth (a
// duration as int64, or back). The buffers are shared; the result is a new reference.
func relabel(data arrow.ArrayData, want arrow.DataType) (arrow.ArrayData, error) {
	if arrow.TypeEqual(data.DataType(), want) {
		data.Retain()
		return data, nil
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
		ct, err := ChildType(want, i)
		if err != nil {
			return nil, err
		}
		if children[i], err = relabel(c, ct); err != nil {
			return nil, err
		}
	}
	return array.NewData(want, data.Len(), data.Buffers(), children, data.NullN(), data.Offset()), nil
}

// ChildType is the type of child i of an array of type t (a struct's field, a
// map's entries struct, a list's element).
func ChildType(t arrow.DataType, i int) (arrow.DataType, error) {
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

// sameType is arrow.TypeEqual, except that it compares large lists as it compares
// lists: by their element's type and nullability. arrow.TypeEqual has no case for
// large lists and falls back to reflect.DeepEqual, which tells an element without
// metadata from one with empty metadata, so a large_list column read back from its
// own file was "not" its announced type, and DoGet failed. Nested types recurse here
// so that a large list inside a struct or map compares the same way.
func sameType(a, b arrow.DataType) bool {
	switch at := a.(type) {
	case *arrow.LargeListType:
		bt, ok := b.(*arrow.LargeListType)
		return ok && sameElem(at.ElemField(), bt.ElemField())
	case *arrow.ListType:
		bt, ok := b.(*arrow.ListType)
		return ok && sameElem(at.ElemField(), bt.ElemField())
	case *arrow.FixedSizeListType:
		bt, ok := b.(*arrow.FixedSizeListType)
		return ok && at.Len() == bt.Len() && sameElem(at.ElemField(), bt.ElemField())
	case *arrow.MapType:
		bt, ok := b.(*arrow.MapType)
		return ok && at.KeysSorted == bt.KeysSorted &&
			sameElem(at.KeyField(), bt.KeyField()) && sameElem(at.ItemField(), bt.ItemField())
	case *arrow.StructType:
		bt, ok := b.(*arrow.StructType)
		if !ok || at.NumFields() != bt.NumFields() {
			return false
		}
		for i := 0; i < at.NumFields(); i++ {
			if at.Field(i).Name != bt.Field(i).Name || !sameElem(at.Field(i), bt.Field(i)) {
				return false
			}
		}
		return true
	}
	return arrow.TypeEqual(a, b)
}

// sameElem compares a child field as arrow.TypeEqual does: type and nullability.
func sameElem(a, b arrow.Field) bool {
	return a.Nullable == b.Nullable && sameType(a.Type, b.Type)
}

// storageSchema is the schema pqarrow writes for s: every column as readableType.
// It is s itself when nothing changes. Otherwise its metadata carries s in the
// ARROW:schema key, so the file announces s.
func storageSchema(s *arrow.Schema) (*arrow.Schema, error) {
	fields := s.Fields()
	changed := false
	for i, f := range fields {
		if rt := readableType(f.Type); !arrow.TypeEqual(rt, f.Type) {
			fields[i].Type = rt
			changed = true
		}
	}
	if !changed {
		return s, nil
	}
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(s))
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("serialize schema: %w", err)
	}
	md := s.Metadata()
	keys, vals := slices.Clone(md.Keys()), slices.Clone(md.Values())
	keys = append(keys, arrowSchemaKey)
	vals = append(vals, base64.StdEncoding.EncodeToString(buf.Bytes()))
	meta := arrow.NewMetadata(keys, vals)
	return arrow.NewSchema(fields, &meta), nil
}

// arrowSchemaKey is the Parquet metadata key that holds a file's Arrow schema.
const arrowSchemaKey = "ARROW:schema"

// relabelRecord returns rec under schema s, whose columns have rec's layouts.
func relabelRecord(s *arrow.Schema, rec arrow.RecordBatch) (arrow.RecordBatch, error) {
	return mapColumns(s, rec, relabel)
}

// mapColumns returns a batch of schema s whose column i is f(column i of rec, the
// type of field i of s): the same rows with each column's data re-described.
func mapColumns(s *arrow.Schema, rec arrow.RecordBatch, f func(arrow.ArrayData, arrow.DataType) (arrow.ArrayData, error)) (arrow.RecordBatch, error) {
	cols := make([]arrow.Array, rec.NumCols())
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	for i, c := range rec.Columns() {
		data, err := f(c.Data(), s.Field(i).Type)
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", s.Field(i).Name, err)
		}
		cols[i] = array.MakeFromData(data)
		data.Release()
	}
	return array.NewRecordBatch(s, cols, rec.NumRows()), nil
}

// newParquetWriter opens pqarrow's writer of a file of schema on out, and returns
// it with the function that encodes one batch of schema. Columns pqarrow cannot
// write (durations) are written as their storage type and the file announces
// schema (storageSchema); a column Parquet cannot hold at all is refused, named.
func newParquetWriter(schema *arrow.Schema, out io.Writer, props *parquet.WriterProperties, mem memory.Allocator) (*pqarrow.FileWriter, func(arrow.RecordBatch) error, error) {
	stored, err := storageSchema(schema)
	if err != nil {
		return nil, nil, err
	}
	if err := checkStorable(stored, props); err != nil {
		return nil, nil, err
	}
	opts := []pqarrow.WriterOption{pqarrow.WithAllocator(mem)}
	if stored == schema {
		opts = append(opts, pqarrow.WithStoreSchema())
	}
	w, err := pqarrow.NewFileWriter(stored, out, props, pqarrow.NewArrowWriterProperties(opts...))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: schema %s cannot be stored as Parquet: %v", ErrInvalidData, schemaString(schema), err)
	}
	if stored == schema {
		return w, w.WriteBuffered, nil
	}
	return w, func(rec arrow.RecordBatch) error {
		out, err := relabelRecord(stored, rec)
		if err != nil {
			return err
		}
		defer out.Release()
		return w.WriteBuffered(out)
	}, nil
}

// checkStorable refuses a schema with a column Parquet cannot store, naming the
// column and its type.
func checkStorable(s *arrow.Schema, props *parquet.WriterProperties) error {
	for _, f := range s.Fields() {
		one := arrow.NewSchema([]arrow.Field{f}, nil)
		if _, err := pqarrow.ToParquet(one, props, pqarrow.DefaultWriterProps()); err != nil {
			return fmt.Errorf("%w: column %q has type %s, which cannot be stored in Parquet (%v)", ErrInvalidData, f.Name, f.Type, err)
		}
	}
	return nil
}
