package catalog

import (
	"bufio"
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/quiverdata/quiver/catalog/storage"
)

// partitionSink splits batches by partition and writes each partition's rows to a
// part of its own (partition_write.go). It is used by one goroutine.
type partitionSink struct {
	s       *Store
	sp      *partitionSpec
	props   *parquet.WriterProperties
	maxOpen int
	// create makes the object of the part at rel (partition directories, file name)
	// relative to the dataset directory.
	create func(ctx context.Context, rel string) (storage.Writer, error)
	// remove deletes the committed part at rel after a failure.
	remove func(ctx context.Context, rel string)

	open  map[string]*partOut // by partition directory path
	tick  int64
	done  []string // committed parts, relative paths
	made  int      // parts opened so far
	dirOf []string // scratch: each row's partition directory path
	sb    strings.Builder
}

// partOut is one part being written.
type partOut struct {
	rel   string
	out   storage.Writer
	buf   *bufio.Writer
	pw    *pqarrow.FileWriter
	write func(arrow.RecordBatch) error
	used  int64 // the sink's tick at its last write
}

func newPartitionSink(s *Store, sp *partitionSpec) *partitionSink {
	maxOpen := s.opts.MaxOpenPartitions
	if maxOpen <= 0 {
		maxOpen = DefaultMaxOpenPartitions
	}
	return &partitionSink{
		s:  s,
		sp: sp,
		props: parquet.NewWriterProperties(
			parquet.WithAllocator(s.opts.Allocator),
			parquet.WithCompression(s.opts.Compression),
			parquet.WithMaxRowGroupLength(s.opts.RowGroupRows),
			parquet.WithStats(true),
			parquet.WithDictionaryPageSizeLimit(dictionaryPageLimit),
		),
		maxOpen: maxOpen,
		open:    make(map[string]*partOut),
	}
}

// writeAll reads rdr to the end, writing every batch; it returns the rows read.
func (k *partitionSink) writeAll(ctx context.Context, rdr array.RecordReader) (rows int64, err error) {
	schema := rdr.Schema()
	for rdr.Next() {
		if err := ctx.Err(); err != nil {
			return rows, err
		}
		rec := rdr.RecordBatch()
		if !rec.Schema().Equal(schema) {
			return rows, fmt.Errorf("%w: batch %s differs from the stream's schema %s", ErrInvalidData, schemaString(rec.Schema()), schemaString(schema))
		}
		if err := k.write(ctx, rec); err != nil {
			return rows, err
		}
		rows += rec.NumRows()
	}
	if err := rdr.Err(); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return rows, ctxErr
		}
		return rows, fmt.Errorf("%w: reading the upload: %w", ErrInvalidData, err)
	}
	return rows, ctx.Err()
}

// write splits rec by partition and writes each partition's rows.
func (k *partitionSink) write(ctx context.Context, rec arrow.RecordBatch) error {
	n := int(rec.NumRows())
	if n == 0 {
		return nil
	}
	var order []string           // partition paths in order of first row
	groups := map[string][]int{} // row indices per partition path
	k.dirOf = k.dirOf[:0]
	for i := 0; i < n; i++ {
		dir, err := k.dirPath(rec, i)
		if err != nil {
			return err
		}
		if _, ok := groups[dir]; !ok {
			order = append(order, dir)
		}
		groups[dir] = append(groups[dir], i)
	}
	cols := make([]arrow.Array, len(k.sp.fileCols))
	for i, c := range k.sp.fileCols {
		cols[i] = rec.Column(c)
	}
	file := array.NewRecordBatch(k.sp.fileSchema, cols, int64(n))
	defer file.Release()
	for _, dir := range order {
		rows := groups[dir]
		p, err := k.part(ctx, dir)
		if err != nil {
			return err
		}
		if err := k.writeRows(ctx, p, file, rows); err != nil {
			return err
		}
	}
	return nil
}

// dirPath is the partition directory path of row i of rec: key=value/... escaped.
func (k *partitionSink) dirPath(rec arrow.RecordBatch, i int) (string, error) {
	k.sb.Reset()
	for j, c := range k.sp.keyCols {
		key := k.sp.keys[j]
		v, null, err := partitionValueString(key, rec.Column(c), i)
		if err != nil {
			return "", err
		}
		ev := HiveNull
		if !null {
			ev = EscapePartitionValue(v)
		}
		if len(key)+1+len(ev) > maxPartitionValue {
			return "", fmt.Errorf("%w: partition column %q: value %q makes a directory name of %d bytes escaped, more than %d",
				ErrInvalidData, key, clipName(v), len(key)+1+len(ev), maxPartitionValue)
		}
		if j > 0 {
			k.sb.WriteByte('/')
		}
		k.sb.WriteString(key)
		k.sb.WriteByte('=')
		k.sb.WriteString(ev)
	}
	return k.sb.String(), nil
}

// writeRows writes rows of file (row indices, ascending) to p: a zero-copy slice
// when they are contiguous, else the rows taken into a new batch.
func (k *partitionSink) writeRows(ctx context.Context, p *partOut, file arrow.RecordBatch, rows []int) error {
	first, last := rows[0], rows[len(rows)-1]
	if last-first+1 == len(rows) {
		part := file.NewSlice(int64(first), int64(last+1))
		defer part.Release()
		return k.s.guarded("encode a batch as Parquet", func() error { return p.write(part) })
	}
	taken, err := takeRows(ctx, k.s.opts.Allocator, file, rows)
	if err != nil {
		// A type compute cannot take: write the contiguous runs one by one.
		for start := 0; start < len(rows); {
			end := start + 1
			for end < len(rows) && rows[end] == rows[end-1]+1 {
				end++
			}
			part := file.NewSlice(int64(rows[start]), int64(rows[end-1]+1))
			werr := k.s.guarded("encode a batch as Parquet", func() error { return p.write(part) })
			part.Release()
			if werr != nil {
				return werr
			}
			start = end
		}
		return nil
	}
	defer taken.Release()
	return k.s.guarded("encode a batch as Parquet", func() error { return p.write(taken) })
}

// takeRows returns a new batch of the rows of rec at indices.
func takeRows(ctx context.Context, mem memory.Allocator, rec arrow.RecordBatch, rows []int) (arrow.RecordBatch, error) {
	ib := array.NewInt32Builder(mem)
	defer ib.Release()
	ib.Reserve(len(rows))
	for _, r := range rows {
		ib.UnsafeAppend(int32(r))
	}
	idx := ib.NewArray()
	defer idx.Release()
	ctx = compute.WithAllocator(ctx, mem)
	cols := make([]arrow.Array, 0, rec.NumCols())
	defer func() {
		for _, c := range cols {
			c.Release()
		}
	}()
	for _, c := range rec.Columns() {
		t, err := compute.TakeArray(ctx, c, idx)
		if err != nil {
			return nil, err
		}
		cols = append(cols, t)
	}
	return array.NewRecordBatch(rec.Schema(), cols, int64(len(rows))), nil
}

// part returns the open part of partition dir, opening one (and closing the least
// recently written one when maxOpen are open).
func (k *partitionSink) part(ctx context.Context, dir string) (*partOut, error) {
	k.tick++
	if p, ok := k.open[dir]; ok {
		p.used = k.tick
		return p, nil
	}
	if k.made >= maxPartitionedParts {
		return nil, fmt.Errorf("%w: the stream needs more than %d parts (%d partitions written at once at most): sort it by the partition columns, or put it in pieces",
			ErrTooManyPartitions, maxPartitionedParts, k.maxOpen)
	}
	if len(k.open) >= k.maxOpen {
		var lru *partOut
		var lruDir string
		for d, p := range k.open {
			if lru == nil || p.used < lru.used {
				lru, lruDir = p, d
			}
		}
		delete(k.open, lruDir)
		if err := k.finishPart(ctx, lru); err != nil {
			return nil, err
		}
	}
	rel := dir + "/" + newPartName()
	out, err := k.create(ctx, rel)
	if err != nil {
		return nil, err
	}
	k.made++
	p := &partOut{rel: rel, out: out, buf: bufio.NewWriterSize(out, 256<<10), used: k.tick}
	p.pw, p.write, err = newParquetWriter(k.sp.fileSchema, onlyWriter{p.buf}, k.props, k.s.opts.Allocator)
	if err != nil {
		out.Abort()
		return nil, err
	}
	k.open[dir] = p
	return p, nil
}

// finishPart completes p's file and commits its object (durable, still invisible
// to readers: no manifest lists it yet).
func (k *partitionSink) finishPart(ctx context.Context, p *partOut) error {
	err := k.s.guarded("finish the Parquet file", p.pw.Close)
	if err == nil {
		err = p.buf.Flush()
	}
	if err == nil {
		_, err = p.out.Commit(context.WithoutCancel(ctx))
		if err == nil {
			k.done = append(k.done, p.rel)
			return nil
		}
	}
	p.out.Abort()
	return fmt.Errorf("write part %s: %w", p.rel, err)
}

// finish completes every open part and returns all the parts written, sorted by
// path (so that each partition's parts are together, in the order written).
func (k *partitionSink) finish(ctx context.Context) ([]string, error) {
	dirs := make([]string, 0, len(k.open))
	for d := range k.open {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	for _, d := range dirs {
		p := k.open[d]
		delete(k.open, d)
		if err := k.finishPart(ctx, p); err != nil {
			return nil, err
		}
	}
	parts := append([]string(nil), k.done...)
	sort.Strings(parts)
	return parts, nil
}

// abort discards every part: open ones are aborted, committed ones removed.
func (k *partitionSink) abort(ctx context.Context) {
	for d, p := range k.open {
		k.s.guarded("abort a Parquet file", p.pw.Close) // its error does not matter
		p.out.Abort()
		delete(k.open, d)
	}
	for _, rel := range k.done {
		k.remove(ctx, rel)
	}
	k.done = nil
}
