package catalog

// Hive-style partitions
//
// A multi-part dataset directory may hold its parts in hive-style partition
// directories: events/year=2024/month=01/part-0.parquet. Every part then sits at the
// same depth under directories named key=value, with the same keys in the same order,
// and the dataset has one column per key after the columns of its files, holding the
// value of the part's directory. Such a directory is copied in by hand (Spark, Hive,
// DuckDB and pyarrow write this layout) or listed by a manifest ("parts":
// ["year=2024/month=01/part-0.parquet"]).
//
// Partition keys and values are bytes from the file system or from a manifest, so
// they are checked before anything uses them: a key is 1-64 of [A-Za-z0-9_] not
// starting with a digit, a value 0-255 bytes without NUL, '/', '\\' or '=' (a
// writer escapes those as %XX: partition_escape.go), and neither is "." or "..".
// Directories whose names start with '_' or '.' (Spark's _temporary, .staging) are
// not partitions and are skipped; any other directory that
// is not key=value makes the dataset unreadable, as does a part outside the partition
// directories or a key that is also a column of the files.
//
// The columns' types are those DuckDB's hive_partitioning infers from the values
// (SetPartitionTyper; the SQL engine provides it), so that plain Flight and SQL show
// the same schema. Without a typer every partition column is a string. A dataset
// written by a partitioned put declares its columns' types in its manifest
// (partition_types.go), which then type the values instead.

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/scalar"

	"github.com/quiverdata/quiver/catalog/storage"
)

// Bounds on hive-style partition paths.
const (
	// MaxPartitionDepth is the most partition directory levels a dataset may have.
	MaxPartitionDepth = 8
	maxPartitionKey   = 64
	maxPartitionValue = 255
	// maxHiveParts bounds the parts a partitioned directory listing may yield.
	maxHiveParts = 100_000
)

// errBadPartition is a partition directory name or a manifest path that is refused.
var errBadPartition = errors.New("bad hive partition")

// PartitionTyper returns values, the distinct values of the partition key key as
// they appear in directory names, as one Arrow array of the type DuckDB's
// hive_partitioning gives that column (element i holds values[i]; null where DuckDB
// reads NULL).
type PartitionTyper func(ctx context.Context, key string, values []string) (arrow.Array, error)

// SetPartitionTyper makes typer type the partition columns of every dataset read from
// now on (nil: strings). The engine calls it once it is open.
func (s *Store) SetPartitionTyper(typer PartitionTyper) {
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	s.typer = typer
	s.typerGen++
	clear(s.cache) // infos read before typed their partitions as strings
}

func (s *Store) partitionTyper() PartitionTyper {
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	return s.typer
}

// PartitionValues returns, per part in read order, the value of each partition
// column (Partitions) of a partitioned dataset; nil otherwise.
func (i Info) PartitionValues() [][]scalar.Scalar { return i.partValues }

// ParsePartitionDir splits a partition directory name "key=value", checking both.
func ParsePartitionDir(seg string) (key, value string, err error) {
	key, value, ok := strings.Cut(seg, "=")
	if !ok {
		return "", "", fmt.Errorf("%w: directory %q is not key=value", errBadPartition, seg)
	}
	if err := checkPartitionKey(key); err != nil {
		return "", "", err
	}
	if err := checkPartitionValue(value); err != nil {
		return "", "", err
	}
	return key, value, nil
}

func checkPartitionKey(key string) error {
	if key == "" || len(key) > maxPartitionKey || ('0' <= key[0] && key[0] <= '9') {
		return fmt.Errorf("%w: key %q: want 1-%d of [A-Za-z0-9_], not starting with a digit", errBadPartition, clipName(key), maxPartitionKey)
	}
	for _, c := range []byte(key) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
			return fmt.Errorf("%w: key %q: want 1-%d of [A-Za-z0-9_], not starting with a digit", errBadPartition, clipName(key), maxPartitionKey)
		}
	}
	return nil
}

func checkPartitionValue(v string) error {
	// An empty value ("k=") is the empty string to DuckDB, pyarrow and Spark.
	if len(v) > maxPartitionValue || v == "." || v == ".." || strings.ContainsAny(v, "\x00/\\=") {
		return fmt.Errorf("%w: value %q: want 0-%d bytes without NUL, '/', '\\' or '=', not . or ..", errBadPartition, clipName(v), maxPartitionValue)
	}
	return nil
}

func clipName(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// checkPartPath checks a part path relative to its dataset directory, as a manifest
// names it: partition directories, then a file name.
func checkPartPath(p string) error {
	segs := strings.Split(p, "/")
	if len(segs)-1 > MaxPartitionDepth {
		return fmt.Errorf("%w: part %q is deeper than %d partition levels", errBadPartition, clipName(p), MaxPartitionDepth)
	}
	file := segs[len(segs)-1]
	if file == "" || file[0] == '.' || file == ".." || strings.ContainsRune(file, 0) || strings.ContainsRune(file, '\\') {
		return fmt.Errorf("%w: part %q", errBadPartition, clipName(p))
	}
	// Each directory is key=value, and no key comes twice.
	_, _, err := partitionsOf([]string{p})
	return err
}

// listHive lists the parts under dir/rel (rel "" or partition directories ending in
// '/'), appending their paths relative to dir. depth is the levels below dir.
func listHive(ctx context.Context, b storage.Bucket, dir, rel string, depth int, names []string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	key := dir
	if rel != "" {
		key = dir + "/" + strings.TrimSuffix(rel, "/")
	}
	entries, err := b.List(ctx, key)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		n := path.Base(e.Key)
		if strings.HasPrefix(n, ".") || strings.HasPrefix(n, "_") {
			continue // hidden, or a writer's _temporary / _SUCCESS: not data
		}
		if !e.Dir {
			if strings.HasSuffix(n, parquetSuffix) {
				names = append(names, rel+n)
			}
			continue
		}
		if depth >= MaxPartitionDepth {
			return nil, fmt.Errorf("%w: %s/%s%s is deeper than %d partition levels", errBadPartition, dir, rel, n, MaxPartitionDepth)
		}
		if _, _, err := ParsePartitionDir(n); err != nil {
			return nil, fmt.Errorf("%s/%s: %w", dir, rel, err)
		}
		names, err = listHive(ctx, b, dir, rel+n+"/", depth+1, names)
		if err != nil {
			return nil, err
		}
		if len(names) > maxHiveParts {
			return nil, fmt.Errorf("%w: %s holds more than %d parts", errBadPartition, dir, maxHiveParts)
		}
	}
	return names, nil
}

// partitionsOf returns the partition keys and per-part values of parts (paths
// relative to the dataset directory), or nil keys when the parts are not
// partitioned. Every part must have the same keys in the same order.
func partitionsOf(parts []string) (keys []string, values [][]string, err error) {
	for i, p := range parts {
		segs := strings.Split(p, "/")
		segs = segs[:len(segs)-1]
		var ks, vs []string
		for _, seg := range segs {
			k, v, err := ParsePartitionDir(seg)
			if err != nil {
				return nil, nil, fmt.Errorf("part %q: %w", clipName(p), err)
			}
			for _, seen := range ks {
				if strings.EqualFold(seen, k) {
					return nil, nil, fmt.Errorf("%w: part %q repeats key %q", errBadPartition, clipName(p), k)
				}
			}
			ks = append(ks, k)
			vs = append(vs, v)
		}
		if i == 0 {
			keys = ks
		} else if !equalStrings(keys, ks) {
			return nil, nil, fmt.Errorf("%w: part %q has partition keys %v, the first part %v", errBadPartition, clipName(p), ks, keys)
		}
		values = append(values, vs)
	}
	if len(keys) == 0 {
		return nil, nil, nil
	}
	return keys, values, nil
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// partitionColumns types the partition columns of a dataset whose files have schema
// fileSchema: it returns the fields to append and, per part, the value of each.
func partitionColumns(ctx context.Context, typer PartitionTyper, fileSchema *arrow.Schema, keys []string, values [][]string) ([]arrow.Field, [][]scalar.Scalar, error) {
	for _, k := range keys {
		for _, f := range fileSchema.Fields() {
			if strings.EqualFold(f.Name, k) {
				return nil, nil, fmt.Errorf("%w: partition key %q is also a column of the files", errBadPartition, k)
			}
		}
	}
	fields := make([]arrow.Field, len(keys))
	perPart := make([][]scalar.Scalar, len(values))
	for i := range perPart {
		perPart[i] = make([]scalar.Scalar, len(keys))
	}
	for ki, k := range keys {
		var distinct []string
		index := map[string]int{}
		for _, vs := range values {
			if _, ok := index[vs[ki]]; !ok {
				index[vs[ki]] = len(distinct)
				distinct = append(distinct, vs[ki])
			}
		}
		var typed arrow.Array
		if typer != nil {
			var err error
			typed, err = typer(ctx, k, distinct)
			if err != nil {
				return nil, nil, fmt.Errorf("type partition key %q: %w", k, err)
			}
			if typed.Len() != len(distinct) {
				typed.Release()
				return nil, nil, fmt.Errorf("type partition key %q: %d values typed, want %d", k, typed.Len(), len(distinct))
			}
		} else {
			var err error
			if typed, err = parsePartitionValues(arrow.BinaryTypes.String, distinct); err != nil {
				return nil, nil, err
			}
		}
		fields[ki] = arrow.Field{Name: k, Type: typed.DataType(), Nullable: true}
		scalars := make([]scalar.Scalar, len(distinct))
		for j := range distinct {
			sc, err := scalar.GetScalar(typed, j)
			if err != nil {
				typed.Release()
				return nil, nil, fmt.Errorf("partition key %q value %q: %w", k, distinct[j], err)
			}
			scalars[j] = sc
		}
		typed.Release()
		for pi, vs := range values {
			perPart[pi][ki] = scalars[index[vs[ki]]]
		}
	}
	return fields, perPart, nil
}

// constantColumns appends to rec (a new reference) one column per value, each
// holding that value in every row.
func constantColumns(mem memory.Allocator, rec arrow.RecordBatch, values []scalar.Scalar) (arrow.RecordBatch, error) {
	n := int(rec.NumRows())
	cols := make([]arrow.Array, 0, int(rec.NumCols())+len(values))
	fields := make([]arrow.Field, 0, cap(cols))
	defer func() {
		for _, c := range cols[rec.NumCols():] {
			c.Release()
		}
	}()
	cols = append(cols, rec.Columns()...)
	fields = append(fields, rec.Schema().Fields()...)
	for i, v := range values {
		var c arrow.Array
		var err error
		if v.IsValid() {
			c, err = scalar.MakeArrayFromScalar(v, n, mem)
		} else {
			c = array.MakeArrayOfNull(mem, v.DataType(), n)
		}
		if err != nil {
			return nil, fmt.Errorf("partition column %d: %w", i, err)
		}
		cols = append(cols, c)
		fields = append(fields, arrow.Field{Name: fmt.Sprintf("p%d", i), Type: v.DataType(), Nullable: true})
	}
	return array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, int64(n)), nil
}
