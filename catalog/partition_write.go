package catalog

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// Partitioned puts
//
// PutPartitioned writes a stream as hive-style partitions: each batch is split by
// the values of the partition columns, the rows of each value set go to a part under
// key=value/ directories (the values escaped: partition_escape.go), and the
// partition columns are stored in the paths, not in the files, as hive readers
// expect. All the parts a put writes are committed in ONE step, the same step a
// plain put commits with (a rename, an exchange or a manifest write locally; a
// conditional manifest write on object storage: partition_commit.go), so a crash or
// a failure at any point leaves the previous version or the new one, never a
// partial put. The manifest lists every part by its partition path and declares the
// partition columns' types (partition_types.go).
//
// Memory: at most MaxOpenPartitions parts are being written at once, each holding
// one buffered row group. A batch that needs another closes the part least
// recently written to (flush and reopen: a later row of that partition starts a new
// part), so a stream sorted or clustered by the partition columns makes one part per
// partition, and any stream is bounded. A put that would make more than
// maxPartitionedParts parts fails with ErrTooManyPartitions.

// DefaultMaxOpenPartitions is the number of partition parts a put writes at once
// unless Options say otherwise.
const DefaultMaxOpenPartitions = 64

// maxPartitionedParts bounds the parts one partitioned put may write.
var maxPartitionedParts = 10_000

// ErrTooManyPartitions is a partitioned put that would write more parts than allowed.
var ErrTooManyPartitions = errors.New("too many partitions")

// partitionSpec is how a stream of schema in is split into partitions.
type partitionSpec struct {
	keys       []string
	keyCols    []int // index in the input schema of each key
	fileCols   []int // index in the input schema of each file column
	types      []partitionType
	fileSchema *arrow.Schema // what the parts store
	schema     *arrow.Schema // the dataset's: file columns, then partition columns
}

// newPartitionSpec checks keys against the input schema in.
func newPartitionSpec(in *arrow.Schema, keys []string) (*partitionSpec, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: no partition columns", ErrInvalidData)
	}
	if len(keys) > MaxPartitionDepth {
		return nil, fmt.Errorf("%w: %d partition columns, at most %d", ErrInvalidData, len(keys), MaxPartitionDepth)
	}
	sp := &partitionSpec{keys: keys}
	isKey := make(map[int]bool)
	var partFields []arrow.Field
	for _, k := range keys {
		if err := checkPartitionKey(k); err != nil || k[0] == '_' {
			return nil, fmt.Errorf("%w: partition column %q: a partition column's name must be 1-%d of [A-Za-z0-9_], starting with a letter",
				ErrInvalidData, clipName(k), maxPartitionKey)
		}
		idx := in.FieldIndices(k)
		if len(idx) != 1 {
			return nil, fmt.Errorf("%w: partition column %q is not a column of the stream (%s)", ErrInvalidData, clipName(k), schemaString(in))
		}
		if isKey[idx[0]] {
			return nil, fmt.Errorf("%w: partition column %q is named twice", ErrInvalidData, k)
		}
		isKey[idx[0]] = true
		typ, err := partitionTypeOf(k, in.Field(idx[0]).Type)
		if err != nil {
			return nil, err
		}
		sp.keyCols = append(sp.keyCols, idx[0])
		sp.types = append(sp.types, partitionType{Key: k, Type: typ})
		partFields = append(partFields, arrow.Field{Name: k, Type: partitionTypeNames[typ], Nullable: true})
	}
	var fileFields []arrow.Field
	for i, f := range in.Fields() {
		if isKey[i] {
			continue
		}
		for _, k := range keys {
			if strings.EqualFold(f.Name, k) {
				return nil, fmt.Errorf("%w: column %q differs from partition column %q only in case", ErrInvalidData, f.Name, k)
			}
		}
		sp.fileCols = append(sp.fileCols, i)
		fileFields = append(fileFields, f)
	}
	if len(fileFields) == 0 {
		return nil, fmt.Errorf("%w: every column is a partition column; the files need at least one other", ErrInvalidData)
	}
	md := in.Metadata()
	sp.fileSchema = arrow.NewSchema(fileFields, &md)
	sp.schema = arrow.NewSchema(append(append([]arrow.Field(nil), fileFields...), partFields...), &md)
	return sp, nil
}

// PutPartitioned writes the record batches of rdr to the named dataset as hive-style
// partitions by the columns keys (in directory order) and returns the rows written.
// Modes are those of Put: an append adds parts to the partitions of a dataset
// partitioned by the same keys; a replace replaces every partition. Nothing changes
// unless the whole stream arrives and every part is written.
//
// PutPartitioned does not release rdr.
func (s *Store) PutPartitioned(ctx context.Context, name string, mode PutMode, keys []string, rdr array.RecordReader) (int64, error) {
	if err := ValidateName(name); err != nil {
		return 0, err
	}
	if mode < Create || mode > CreateOrAppend {
		return 0, fmt.Errorf("put %q: unknown mode %v", name, mode)
	}
	schema := rdr.Schema()
	if schema == nil || schema.NumFields() == 0 {
		return 0, fmt.Errorf("%s dataset %q: %w: the stream has no columns", mode, name, ErrInvalidData)
	}
	if err := CheckNesting(schema); err != nil {
		return 0, fmt.Errorf("%s dataset %q: %w: %w", mode, name, ErrInvalidData, err)
	}
	sp, err := newPartitionSpec(schema, keys)
	if err != nil {
		return 0, fmt.Errorf("%s dataset %q: %w", mode, name, err)
	}
	if s.files != nil {
		// A partitioned put is never landed, but it takes the dataset's lane and
		// waits for the landed puts acknowledged before it (landing.go): the order
		// of puts to one dataset is the order they were acknowledged in.
		unlock, err := s.lockLane(ctx, name)
		if err != nil {
			return 0, fmt.Errorf("%s dataset %q: %w", mode, name, err)
		}
		defer unlock()
		if err := s.waitLanded(ctx, name); err != nil {
			return 0, fmt.Errorf("%s dataset %q: %w", mode, name, err)
		}
	}
	if err := s.checkPartitionedPut(ctx, name, mode, sp); err != nil {
		return 0, fmt.Errorf("%s dataset %q: %w", mode, name, err)
	}
	var rows int64
	if s.files != nil {
		rows, err = s.putPartitionedFiles(ctx, name, mode, sp, rdr)
	} else {
		rows, err = s.putPartitionedManifest(ctx, name, mode, sp, rdr)
	}
	if err != nil {
		return 0, fmt.Errorf("%s dataset %q partitioned by %s: %w", mode, name, strings.Join(keys, ", "), err)
	}
	s.log.Debug("dataset written", "dataset", name, "mode", mode.String(), "rows", rows, "partitioned_by", keys)
	return rows, nil
}

// checkPartitionedPut is checkPut for a partitioned put.
func (s *Store) checkPartitionedPut(ctx context.Context, name string, mode PutMode, sp *partitionSpec) error {
	info, err := s.stat(ctx, name)
	exists := err == nil || !errors.Is(err, ErrNotFound)
	switch {
	case mode == Create && exists:
		return ErrAlreadyExists
	case mode == Append && !exists:
		return ErrNotFound
	case !exists:
		return s.checkTableName(ctx, name)
	case mode == Replace:
		return nil
	case err != nil:
		return err
	case len(info.Partitions) == 0:
		return fmt.Errorf("%w: dataset %q is not partitioned: append without partition columns, or replace it", ErrInvalidData, name)
	case !equalStrings(info.Partitions, sp.keys):
		return fmt.Errorf("%w: dataset %q is partitioned by %s, not by %s", ErrInvalidData, name,
			strings.Join(info.Partitions, ", "), strings.Join(sp.keys, ", "))
	}
	return sameColumns(info.Schema, sp.schema)
}

// appendPartitions returns the partition keys of name when mode appends to an
// existing partitioned dataset (nil otherwise): Put then appends partitioned.
func (s *Store) appendPartitions(ctx context.Context, name string, mode PutMode) []string {
	if mode != Append && mode != CreateOrAppend {
		return nil
	}
	if s.files != nil && s.hasLandings(name) {
		// Only plain puts land, and they leave a plain dataset: the append follows
		// them on the landed path. (One that slips in after this look is caught by
		// PutPartitioned's check under the lane.)
		return nil
	}
	info, err := s.stat(ctx, name)
	if err != nil {
		return nil
	}
	return info.Partitions
}

// appendPartitioned is Put's append to the partitioned dataset name: the rows go to
// its partitions by keys, which the stream must carry as columns.
func (s *Store) appendPartitioned(ctx context.Context, name string, mode PutMode, keys []string, rdr array.RecordReader) (int64, error) {
	for _, k := range keys {
		if schema := rdr.Schema(); schema == nil || len(schema.FieldIndices(k)) != 1 {
			return 0, fmt.Errorf("%s dataset %q: %w: the dataset is partitioned by %s (hive-style directories): the rows appended need the partition column %q",
				mode, name, ErrInvalidData, strings.Join(keys, ", "), k)
		}
	}
	return s.PutPartitioned(ctx, name, mode, keys, rdr)
}
