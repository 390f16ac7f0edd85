package catalog

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// readInfo reads the Parquet footers of a dataset's parts. Every part must have the
// same Arrow schema; a dataset whose parts disagree is unreadable.
func readInfo(name string, l layout, mem memory.Allocator) (Info, error) {
	info := Info{
		Name:     name,
		Bytes:    l.bytes,
		Modified: l.modified,
		Files:    l.parts,
		Version:  version(l.fingerprint),

		dir:         l.dir,
		fingerprint: l.fingerprint,
	}
	for _, p := range l.parts {
		schema, rows, err := readFooter(p, mem)
		if err != nil {
			return Info{}, err
		}
		if info.Schema == nil {
			info.Schema = schema
		} else if sameColumns(info.Schema, schema) != nil {
			return Info{}, fmt.Errorf("%w: part %s has schema %s, unlike the first part's %s",
				ErrUnreadable, filepath.Base(p), schemaString(schema), schemaString(info.Schema))
		} else {
			// Append accepts parts whose columns match in name and type only.
			info.Schema = mergeNullable(info.Schema, schema)
		}
		info.Rows += rows
	}
	return info, nil
}

// mergeNullable returns a, with each field nullable if it is nullable in a or b. The
// two schemas have the same columns (sameColumns); a part written by an append may
// differ from the first in nullability or field metadata, and the dataset's schema
// must admit every part's batches.
func mergeNullable(a, b *arrow.Schema) *arrow.Schema {
	fields := a.Fields()
	changed := false
	for i := range fields {
		if !fields[i].Nullable && b.Field(i).Nullable {
			fields[i].Nullable = true
			changed = true
		}
	}
	if !changed {
		return a
	}
	md := a.Metadata()
	return arrow.NewSchema(fields, &md)
}

// readFooter returns the Arrow schema and row count of one Parquet file.
func readFooter(path string, mem memory.Allocator) (*arrow.Schema, int64, error) {
	rdr, err := file.OpenParquetFile(path, false)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %s: %v", ErrUnreadable, filepath.Base(path), err)
	}
	defer rdr.Close()
	props := pqarrow.ArrowReadProperties{}
	schema, err := pqarrow.FromParquet(rdr.MetaData().Schema, &props, rdr.MetaData().KeyValueMetadata())
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %s: schema: %v", ErrUnreadable, filepath.Base(path), err)
	}
	return stripArrowSchemaMetadata(schema), rdr.NumRows(), nil
}

// stripArrowSchemaMetadata drops what the Parquet round trip adds to a schema: the
// serialized "ARROW:schema" key in the schema metadata, and the "PARQUET:field_id"
// of -1 ("no id") that pqarrow puts on every top-level field. Neither is user metadata,
// and keeping them would make the schema read back differ from the schema put.
func stripArrowSchemaMetadata(s *arrow.Schema) *arrow.Schema {
	changed := false
	md := s.Metadata()
	var newMD *arrow.Metadata
	if md.FindKey("ARROW:schema") >= 0 {
		changed = true
		if m := dropKey(md, "ARROW:schema", ""); m.Len() > 0 {
			newMD = &m
		}
	} else if md.Len() > 0 {
		newMD = &md
	}
	fields := s.Fields()
	for i, f := range fields {
		if f.Metadata.FindKey(fieldIDKey) >= 0 {
			m := dropKey(f.Metadata, fieldIDKey, "-1")
			if m.Len() != f.Metadata.Len() {
				fields[i].Metadata = m
				changed = true
			}
		}
	}
	if !changed {
		return s
	}
	return arrow.NewSchema(fields, newMD)
}

const fieldIDKey = "PARQUET:field_id"

// dropKey returns md without key; when val is not empty, only if key has that value.
func dropKey(md arrow.Metadata, key, val string) arrow.Metadata {
	var keys, vals []string
	for i, k := range md.Keys() {
		if k == key && (val == "" || md.Values()[i] == val) {
			continue
		}
		keys = append(keys, k)
		vals = append(vals, md.Values()[i])
	}
	return arrow.NewMetadata(keys, vals)
}

// version condenses a layout fingerprint into a short opaque string.
func version(fingerprint string) string {
	var h uint64 = 14695981039346656037 // FNV-1a
	for i := 0; i < len(fingerprint); i++ {
		h ^= uint64(fingerprint[i])
		h *= 1099511628211
	}
	return strconv.FormatUint(h, 36)
}

func schemaString(s *arrow.Schema) string {
	parts := make([]string, s.NumFields())
	for i, f := range s.Fields() {
		parts[i] = f.Name + ": " + f.Type.String()
	}
	return "(" + strings.Join(parts, ", ") + ")"
}
