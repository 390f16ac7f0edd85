package catalog

import (
	"context"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// The types a partition column may have, and how its values are written into and
// read back from directory names. A partitioned put records each partition
// column's type in the manifest (partitionType), so that reading the dataset back
// gives the types that were put, not the ones an engine would guess from the
// values ("2024" put as a string stays a string).

// partitionType is a manifest's declaration of one partition column's type.
type partitionType struct {
	Key  string `json:"key"`
	Type string `json:"type"` // partitionTypeNames
}

// partitionTypeNames are the Arrow types a partition column may have, by the name
// a manifest gives them. Strings of every layout (utf8, large_utf8, utf8_view) are
// stored as utf8: a directory name does not say which it was.
var partitionTypeNames = map[string]arrow.DataType{
	"int8":   arrow.PrimitiveTypes.Int8,
	"int16":  arrow.PrimitiveTypes.Int16,
	"int32":  arrow.PrimitiveTypes.Int32,
	"int64":  arrow.PrimitiveTypes.Int64,
	"uint8":  arrow.PrimitiveTypes.Uint8,
	"uint16": arrow.PrimitiveTypes.Uint16,
	"uint32": arrow.PrimitiveTypes.Uint32,
	"uint64": arrow.PrimitiveTypes.Uint64,
	"utf8":   arrow.BinaryTypes.String,
	"bool":   arrow.FixedWidthTypes.Boolean,
	"date32": arrow.FixedWidthTypes.Date32,
}

// partitionTypeOf returns the name of the stored type of a partition column of
// Arrow type t, or an error naming column when t cannot partition.
func partitionTypeOf(column string, t arrow.DataType) (string, error) {
	switch t.ID() {
	case arrow.STRING, arrow.LARGE_STRING, arrow.STRING_VIEW:
		return "utf8", nil
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64,
		arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64, arrow.BOOL, arrow.DATE32:
		return t.String(), nil
	}
	return "", fmt.Errorf("%w: partition column %q has type %s: a partition column must be an integer, a string, a date32 or a boolean",
		ErrInvalidData, column, t)
}

// checkPartitionTypes checks a manifest's partition types against its parts' keys.
func checkPartitionTypes(m manifest) error {
	if len(m.PartitionTypes) == 0 {
		return nil
	}
	keys, _, err := partitionsOf(m.Parts)
	if err != nil {
		return err
	}
	if len(m.Parts) > 0 && len(keys) != len(m.PartitionTypes) {
		return fmt.Errorf("%w: %d partition types for partition keys %v", errBadPartition, len(m.PartitionTypes), keys)
	}
	for i, pt := range m.PartitionTypes {
		if _, ok := partitionTypeNames[pt.Type]; !ok {
			return fmt.Errorf("%w: partition key %q has unknown type %q", errBadPartition, clipName(pt.Key), clipName(pt.Type))
		}
		if len(m.Parts) > 0 && pt.Key != keys[i] {
			return fmt.Errorf("%w: partition type %d is for key %q, the parts' key is %q", errBadPartition, i, clipName(pt.Key), keys[i])
		}
	}
	return nil
}

// declaredTyper types partition values as a manifest declares them: each
// directory value unescaped and parsed as its column's type.
func declaredTyper(types []partitionType) PartitionTyper {
	return func(ctx context.Context, key string, values []string) (arrow.Array, error) {
		var typ arrow.DataType
		for _, pt := range types {
			if pt.Key == key {
				typ = partitionTypeNames[pt.Type]
			}
		}
		if typ == nil {
			return nil, fmt.Errorf("%w: no type declared for partition key %q", errBadPartition, key)
		}
		return parsePartitionValues(typ, values)
	}
}

// parsePartitionValues returns the directory values values, unescaped, as an array
// of type typ.
func parsePartitionValues(typ arrow.DataType, values []string) (arrow.Array, error) {
	b := array.NewBuilder(memory.DefaultAllocator, typ)
	defer b.Release()
	for _, dv := range values {
		v, null := UnescapePartitionValue(dv)
		if null {
			b.AppendNull()
			continue
		}
		if err := b.AppendValueFromString(v); err != nil {
			return nil, fmt.Errorf("%w: value %q is not a %s: %v", errBadPartition, clipName(dv), typ, err)
		}
	}
	return b.NewArray(), nil
}

// partitionValueString returns row i of the partition column col (named column)
// as text, before escaping; null reports a NULL.
func partitionValueString(column string, col arrow.Array, i int) (s string, null bool, err error) {
	if col.IsNull(i) {
		return "", true, nil
	}
	switch c := col.(type) {
	case *array.String:
		s = c.Value(i)
	case *array.LargeString:
		s = c.Value(i)
	case *array.StringView:
		s = c.Value(i)
	case *array.Int8:
		return strconv.FormatInt(int64(c.Value(i)), 10), false, nil
	case *array.Int16:
		return strconv.FormatInt(int64(c.Value(i)), 10), false, nil
	case *array.Int32:
		return strconv.FormatInt(int64(c.Value(i)), 10), false, nil
	case *array.Int64:
		return strconv.FormatInt(c.Value(i), 10), false, nil
	case *array.Uint8:
		return strconv.FormatUint(uint64(c.Value(i)), 10), false, nil
	case *array.Uint16:
		return strconv.FormatUint(uint64(c.Value(i)), 10), false, nil
	case *array.Uint32:
		return strconv.FormatUint(uint64(c.Value(i)), 10), false, nil
	case *array.Uint64:
		return strconv.FormatUint(c.Value(i), 10), false, nil
	case *array.Boolean:
		return strconv.FormatBool(c.Value(i)), false, nil
	case *array.Date32:
		t := c.Value(i).ToTime()
		if t.Year() < 1 || t.Year() > 9999 {
			return "", false, fmt.Errorf("%w: partition column %q: date %d days from 1970-01-01 is outside the years 1-9999 a partition directory can hold",
				ErrInvalidData, column, int32(c.Value(i)))
		}
		return t.Format("2006-01-02"), false, nil
	default:
		return "", false, fmt.Errorf("%w: partition column %q has type %s", ErrInvalidData, column, col.DataType())
	}
	if !utf8.ValidString(s) {
		return "", false, fmt.Errorf("%w: partition column %q: value %q is not valid UTF-8", ErrInvalidData, column, clipName(s))
	}
	return s, false, nil
}
