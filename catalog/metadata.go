package catalog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/quiverdata/quiver/catalog/storage"
)

// partFooter is what readInfo takes from one part's Parquet footer, remembered per
// part version so that a new version of a dataset (an append adds one part to many)
// reads only the footers of the parts it has not seen.
type partFooter struct {
	schema *arrow.Schema
	rows   int64
}

// readInfo reads the Parquet footers of a dataset's parts, but for parts of prev
// (the footers read for the dataset's layout prevLayout, aligned with its parts)
// with the same key and storage version: parts are never rewritten in place by the
// store, and a rewrite by hand changes the version. It also returns the footers of
// l's parts, for the next call. Every part must have the same Arrow schema; a
// dataset whose parts disagree is unreadable.
func (s *Store) readInfo(ctx context.Context, name string, l layout, prevLayout layout, prev []partFooter) (Info, []partFooter, error) {
	info := Info{
		Name:     name,
		Bytes:    l.bytes,
		Modified: l.modified,
		Keys:     l.parts,
		Version:  version(l.fingerprint),

		dir:          l.dir,
		fingerprint:  l.fingerprint,
		partVersions: l.versions,
	}
	if lf, ok := s.bucket.(storage.LocalFiler); ok {
		info.Files = make([]string, len(l.parts))
		for i, k := range l.parts {
			info.Files[i] = lf.LocalPath(k)
		}
	}
	known := make(map[string]partFooter, len(prev))
	for i, f := range prev {
		if i < len(prevLayout.parts) && i < len(prevLayout.versions) && prevLayout.versions[i] != "" {
			known[prevLayout.parts[i]+"\x00"+prevLayout.versions[i]] = f
		}
	}
	footers := make([]partFooter, len(l.parts))
	for i, k := range l.parts {
		f, ok := partFooter{}, false
		if i < len(l.versions) && l.versions[i] != "" {
			f, ok = known[k+"\x00"+l.versions[i]]
		}
		if !ok {
			schema, rows, err := readFooter(ctx, s.bucket, k)
			if err != nil {
				return Info{}, nil, err
			}
			f = partFooter{schema: schema, rows: rows}
		}
		footers[i] = f
		schema, rows := f.schema, f.rows
		if info.Schema == nil {
			info.Schema = schema
		} else if sameColumns(info.Schema, schema) != nil {
			return Info{}, nil, fmt.Errorf("%w: part %s has schema %s, unlike the first part's %s",
				ErrUnreadable, path.Base(k), schemaString(schema), schemaString(info.Schema))
		} else {
			// Append accepts parts whose columns match in name and type only.
			info.Schema = mergeNullable(info.Schema, schema)
		}
		info.Rows += rows
	}
	if l.dir {
		rel := make([]string, len(l.parts))
		for i, k := range l.parts {
			rel[i] = strings.TrimPrefix(k, name+"/")
		}
		keys, values, err := partitionsOf(rel)
		if err != nil {
			return Info{}, nil, fmt.Errorf("%w: %w", ErrUnreadable, err)
		}
		if keys != nil {
			typer := s.partitionTyper()
			if l.partTypes != nil {
				typer = declaredTyper(l.partTypes)
			}
			fields, perPart, err := partitionColumns(ctx, typer, info.Schema, keys, values)
			if errors.Is(err, errBadPartition) {
				return Info{}, nil, fmt.Errorf("%w: %w", ErrUnreadable, err)
			}
			if err != nil {
				return Info{}, nil, err
			}
			md := info.Schema.Metadata()
			info.Schema = arrow.NewSchema(append(info.Schema.Fields(), fields...), &md)
			info.Partitions = keys
			info.partValues = perPart
		}
	}
	return info, footers, nil
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

// readFooter returns the Arrow schema and row count of one Parquet object.
func readFooter(ctx context.Context, b storage.Bucket, key string) (*arrow.Schema, int64, error) {
	obj, err := b.Open(ctx, key)
	if errors.Is(err, fs.ErrNotExist) {
		// Gone since the layout was read (a drop renamed its directory away): the
		// caller looks again rather than calling the dataset unreadable.
		return nil, 0, fmt.Errorf("%s: %w", path.Base(key), err)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %s: %v", ErrUnreadable, path.Base(key), err)
	}
	defer obj.Close()
	rdr, err := file.NewParquetReader(io.NewSectionReader(obj, 0, obj.Size()))
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %s: %v", ErrUnreadable, path.Base(key), err)
	}
	props := pqarrow.ArrowReadProperties{}
	schema, err := pqarrow.FromParquet(rdr.MetaData().Schema, &props, rdr.MetaData().KeyValueMetadata())
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %s: schema: %v", ErrUnreadable, path.Base(key), err)
	}
	return cleanSchema(schema), rdr.NumRows(), nil
}

// cleanSchema drops what reading Parquet adds to an Arrow schema: the serialized
// "ARROW:schema" key in the schema metadata and the "PARQUET:field_id" key pqarrow puts
// on every field. Clients see the schema they uploaded.
func cleanSchema(s *arrow.Schema) *arrow.Schema {
	fields := make([]arrow.Field, s.NumFields())
	for i, f := range s.Fields() {
		fields[i] = cleanField(f)
	}
	md := withoutKey(s.Metadata(), "ARROW:schema")
	return arrow.NewSchema(fields, md)
}

// cleanField drops the field id -1 ("no id") pqarrow puts on fields; real ids stay.
func cleanField(f arrow.Field) arrow.Field {
	if i := f.Metadata.FindKey("PARQUET:field_id"); i >= 0 && f.Metadata.Values()[i] == "-1" {
		f.Metadata = derefMetadata(withoutKey(f.Metadata, "PARQUET:field_id"))
	}
	f.Type = cleanType(f.Type)
	return f
}

// cleanType removes Parquet field ids from the children of nested types.
func cleanType(t arrow.DataType) arrow.DataType {
	switch t := t.(type) {
	case *arrow.StructType:
		fields := make([]arrow.Field, t.NumFields())
		for i, f := range t.Fields() {
			fields[i] = cleanField(f)
		}
		return arrow.StructOf(fields...)
	case *arrow.ListType:
		return arrow.ListOfField(cleanField(t.ElemField()))
	case *arrow.LargeListType:
		return arrow.LargeListOfField(cleanField(t.ElemField()))
	case *arrow.FixedSizeListType:
		return arrow.FixedSizeListOfField(t.Len(), cleanField(t.ElemField()))
	case *arrow.MapType:
		m := arrow.MapOfFields(cleanField(t.KeyField()), cleanField(t.ItemField()))
		m.KeysSorted = t.KeysSorted
		return m
	}
	return t
}

// withoutKey returns md without key, or nil when nothing is left.
func withoutKey(md arrow.Metadata, key string) *arrow.Metadata {
	var keys, vals []string
	for i, k := range md.Keys() {
		if k != key {
			keys = append(keys, k)
			vals = append(vals, md.Values()[i])
		}
	}
	if len(keys) == 0 {
		return nil
	}
	m := arrow.NewMetadata(keys, vals)
	return &m
}

func derefMetadata(md *arrow.Metadata) arrow.Metadata {
	if md == nil {
		return arrow.Metadata{}
	}
	return *md
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
