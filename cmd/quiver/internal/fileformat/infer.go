package fileformat

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
)

// Type inference for the text formats. A sample of the input is read through a tee so
// that the rows can be read again, in full, by the Arrow readers: the returned sample
// holds every byte consumed from r, and io.MultiReader(sample, r) is the whole input.

// csvKind is a candidate type of a CSV column, in order of preference.
type csvKind uint8

const (
	csvInt64 csvKind = 1 << iota
	csvFloat64
	csvBool
	csvDate
	csvTimestamp   // without a zone: timestamp[us]
	csvTimestampTZ // with a zone or Z: timestamp[us, UTC]
	csvAll         = csvInt64 | csvFloat64 | csvBool | csvDate | csvTimestamp | csvTimestampTZ
)

// fits reports the candidate kinds that can hold v.
func fits(v string) csvKind {
	var k csvKind
	if _, err := strconv.ParseInt(v, 10, 64); err == nil {
		k |= csvInt64
	}
	if _, err := strconv.ParseFloat(v, 64); err == nil {
		k |= csvFloat64
	}
	switch strings.ToLower(v) {
	case "true", "false":
		k |= csvBool
	}
	if len(v) == 10 {
		if _, err := time.Parse("2006-01-02", v); err == nil {
			k |= csvDate
		}
	}
	if len(v) > 10 {
		if _, zoned, err := arrow.TimestampFromStringInLocation(v, arrow.Microsecond, time.UTC); err == nil {
			if zoned {
				k |= csvTimestampTZ
			} else {
				k |= csvTimestamp
			}
		}
	}
	return k
}

// arrowType is the preferred type among the candidates k, string if none.
func (k csvKind) arrowType() arrow.DataType {
	switch {
	case k&csvInt64 != 0:
		return arrow.PrimitiveTypes.Int64
	case k&csvFloat64 != 0:
		return arrow.PrimitiveTypes.Float64
	case k&csvBool != 0:
		return arrow.FixedWidthTypes.Boolean
	case k&csvDate != 0:
		return arrow.FixedWidthTypes.Date32
	case k&csvTimestamp != 0:
		return &arrow.TimestampType{Unit: arrow.Microsecond}
	case k&csvTimestampTZ != 0:
		return &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	}
	return arrow.BinaryTypes.String
}

// inferCSV reads the header and up to n rows and returns what it read and the schema:
// per column the first type in csvKind order that holds every non-empty sampled value;
// string when none does or the column is empty. Every column is nullable.
func inferCSV(r io.Reader, n int) (*bytes.Buffer, *arrow.Schema, error) {
	var sample bytes.Buffer
	cr := csv.NewReader(io.TeeReader(r, &sample))
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, nil, errors.New("read CSV: the input is empty; a header line naming the columns is needed")
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read CSV header: %w", err)
	}
	names := make([]string, len(header))
	seen := make(map[string]bool, len(header))
	for i, h := range header {
		if h == "" {
			return nil, nil, fmt.Errorf("read CSV header: column %d has no name", i+1)
		}
		if seen[h] {
			return nil, nil, fmt.Errorf("read CSV header: column name %q appears twice", h)
		}
		seen[h] = true
		names[i] = h
	}
	kinds := make([]csvKind, len(header))
	for i := range kinds {
		kinds[i] = csvAll
	}
	nonEmpty := make([]bool, len(header))
	for row := 0; row < n; row++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("read CSV: %w", err)
		}
		for i, v := range rec {
			if v == "" {
				continue
			}
			nonEmpty[i] = true
			kinds[i] &= fits(v)
		}
	}
	fields := make([]arrow.Field, len(names))
	for i, name := range names {
		typ := arrow.DataType(arrow.BinaryTypes.String)
		if nonEmpty[i] {
			typ = kinds[i].arrowType()
		}
		fields[i] = arrow.Field{Name: name, Type: typ, Nullable: true}
	}
	return &sample, arrow.NewSchema(fields, nil), nil
}

// jsonType is the inferred type of a JSON value or of a column of them.
type jsonType struct {
	kind   jsonKind
	elem   *jsonType   // jsonList
	fields []jsonField // jsonObject, in order of first appearance
}

type jsonField struct {
	name string
	typ  *jsonType
}

type jsonKind uint8

const (
	jsonNull jsonKind = iota
	jsonBool
	jsonInt
	jsonFloat
	jsonString
	jsonList
	jsonObject
)

func (k jsonKind) String() string {
	return [...]string{"null", "boolean", "integer", "number", "string", "array", "object"}[k]
}

// merge widens t to hold u too: null fits anything, integers widen to numbers, objects
// take the union of their keys. Anything else is a conflict.
func (t *jsonType) merge(u *jsonType, path string) error {
	switch {
	case u.kind == jsonNull:
		return nil
	case t.kind == jsonNull:
		*t = *u
		return nil
	case t.kind == jsonInt && u.kind == jsonFloat, t.kind == jsonFloat && u.kind == jsonInt:
		t.kind = jsonFloat
		return nil
	case t.kind != u.kind:
		return fmt.Errorf("column %q holds both %s and %s values", path, t.kind, u.kind)
	case t.kind == jsonList:
		return t.elem.merge(u.elem, path+"[]")
	case t.kind == jsonObject:
		for _, uf := range u.fields {
			if f := t.field(uf.name); f != nil {
				if err := f.merge(uf.typ, joinPath(path, uf.name)); err != nil {
					return err
				}
				continue
			}
			t.fields = append(t.fields, uf)
		}
	}
	return nil
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func (t *jsonType) field(name string) *jsonType {
	for _, f := range t.fields {
		if f.name == name {
			return f.typ
		}
	}
	return nil
}

// arrowType maps an inferred type to Arrow; values only ever null become strings.
func (t *jsonType) arrowType() arrow.DataType {
	switch t.kind {
	case jsonBool:
		return arrow.FixedWidthTypes.Boolean
	case jsonInt:
		return arrow.PrimitiveTypes.Int64
	case jsonFloat:
		return arrow.PrimitiveTypes.Float64
	case jsonList:
		return arrow.ListOf(t.elem.arrowType())
	case jsonObject:
		return arrow.StructOf(t.arrowFields()...)
	}
	return arrow.BinaryTypes.String
}

func (t *jsonType) arrowFields() []arrow.Field {
	fields := make([]arrow.Field, len(t.fields))
	for i, f := range t.fields {
		fields[i] = arrow.Field{Name: f.name, Type: f.typ.arrowType(), Nullable: true}
	}
	return fields
}

// inferJSON reads up to n JSON objects and returns what it read and the schema: a
// column per key in order of first appearance, nested objects as structs, arrays as
// lists.
func inferJSON(r io.Reader, n int) (*bytes.Buffer, *arrow.Schema, error) {
	var sample bytes.Buffer
	dec := json.NewDecoder(io.TeeReader(r, &sample))
	dec.UseNumber()
	row := &jsonType{kind: jsonObject}
	count := 0
	for ; count < n; count++ {
		t, err := jsonValue(dec)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("read JSON lines: value %d: %w", count+1, err)
		}
		if t.kind != jsonObject {
			return nil, nil, fmt.Errorf("read JSON lines: value %d is a JSON %s; each line must be an object", count+1, t.kind)
		}
		if err := row.merge(t, ""); err != nil {
			return nil, nil, fmt.Errorf("read JSON lines: %w", err)
		}
	}
	if count == 0 {
		return nil, nil, errors.New("read JSON lines: the input holds no JSON object")
	}
	if len(row.fields) == 0 {
		return nil, nil, errors.New("read JSON lines: the objects have no keys, so there are no columns")
	}
	return &sample, arrow.NewSchema(row.arrowFields(), nil), nil
}

// jsonValue reads one JSON value from dec and returns its type, keeping key order.
// io.EOF means there was no value; input that ends inside one is io.ErrUnexpectedEOF.
func jsonValue(dec *json.Decoder) (*jsonType, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	t, err := jsonRest(dec, tok)
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return t, err
}

// jsonRest reads the rest of the value that starts with tok.
func jsonRest(dec *json.Decoder, tok json.Token) (*jsonType, error) {
	switch v := tok.(type) {
	case nil:
		return &jsonType{kind: jsonNull}, nil
	case bool:
		return &jsonType{kind: jsonBool}, nil
	case string:
		return &jsonType{kind: jsonString}, nil
	case json.Number:
		if _, err := v.Int64(); err == nil {
			return &jsonType{kind: jsonInt}, nil
		}
		return &jsonType{kind: jsonFloat}, nil
	case json.Delim:
		switch v {
		case '[':
			elem := &jsonType{kind: jsonNull}
			for dec.More() {
				t, err := jsonValue(dec)
				if err != nil {
					return nil, err
				}
				if err := elem.merge(t, "[]"); err != nil {
					return nil, err
				}
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return &jsonType{kind: jsonList, elem: elem}, nil
		case '{':
			obj := &jsonType{kind: jsonObject}
			for dec.More() {
				key, err := dec.Token()
				if err != nil {
					return nil, err
				}
				t, err := jsonValue(dec)
				if err != nil {
					return nil, err
				}
				name := key.(string)
				if f := obj.field(name); f != nil {
					if err := f.merge(t, name); err != nil {
						return nil, err
					}
					continue
				}
				obj.fields = append(obj.fields, jsonField{name: name, typ: t})
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return obj, nil
		}
	}
	return nil, fmt.Errorf("unexpected JSON token %v", tok)
}
