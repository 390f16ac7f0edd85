package catalog

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/quiverdata/quiver/catalog/lowprio"
	"github.com/quiverdata/quiver/catalog/storage"
)

// partitionSink splits batches by partition and writes each partition's rows to a
// part of its own (partition_write.go). writeAll runs the split and the encoding
// on two goroutines; finish and abort run after it.
type partitionSink struct {
	s  *Store
	sp *partitionSpec
	// seenBytes and seenRows are the Arrow bytes and rows the encoder has been
	// given: the row size that sizes the row groups of the parts it opens.
	seenBytes, seenRows int64
	maxOpen             int
	// create makes the object of the part at rel (partition directories, file name)
	// relative to the dataset directory.
	create func(ctx context.Context, rel string) (storage.Writer, error)
	// remove deletes the committed part at rel after a failure.
	remove func(ctx context.Context, rel string)

	open map[string]*partOut // by partition directory path
	tick int64
	done []string        // committed parts, relative paths
	made int             // parts opened so far
	sb   strings.Builder // dirPath's scratch (the splitting goroutine's)
	segs []segmentCache  // segment's, per partition column (the splitting goroutine's)
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

// partitionBufferBytes bounds, roughly, the Arrow bytes of the row groups all the
// open parts of one put hold in memory. A part buffers a row group before writing
// it, and maxOpen of them are open: with the plain put's row groups of 128Ki rows,
// 64 partitions of a 5M-row stream (5 columns, ~48 bytes a row) held the whole
// upload, 760-777 MB of peak RSS against a plain put's 203-211 MB, and wide rows
// would hold far more. So a partitioned put sizes its row groups to fit this
// budget among maxOpen parts, at the row size seen so far (at least
// minPartitionRowGroup rows).
const partitionBufferBytes = 64 << 20

// minPartitionRowGroup is the fewest rows a partitioned put makes a row group of
// (but for a part's last).
const minPartitionRowGroup = 1024

// props are the writer properties of a part opened now.
func (k *partitionSink) props() *parquet.WriterProperties {
	rows := k.s.opts.RowGroupRows
	if k.seenRows > 0 {
		perRow := max(1, k.seenBytes/k.seenRows)
		rows = min(rows, max(minPartitionRowGroup, partitionBufferBytes/int64(k.maxOpen)/perRow))
	}
	return parquet.NewWriterProperties(
		parquet.WithAllocator(k.s.opts.Allocator),
		parquet.WithCompression(k.s.opts.Compression),
		parquet.WithMaxRowGroupLength(rows),
		parquet.WithStats(true),
		parquet.WithDictionaryPageSizeLimit(dictionaryPageLimit),
	)
}

func newPartitionSink(s *Store, sp *partitionSpec) *partitionSink {
	maxOpen := s.opts.MaxOpenPartitions
	if maxOpen <= 0 {
		maxOpen = DefaultMaxOpenPartitions
	}
	return &partitionSink{
		s:       s,
		sp:      sp,
		maxOpen: maxOpen,
		open:    make(map[string]*partOut),
	}
}

// writeAll reads rdr to the end, writing every batch; it returns the rows read.
//
// As in writeParquet, reading and splitting the upload (this goroutine) and encoding
// Parquet (one other) run side by side. Only this goroutine touches rdr; only the
// encoder touches the open parts, until it has finished, which writeAll waits for.
// At most a batch being split, one job in the channel and one being encoded are
// alive.
func (k *partitionSink) writeAll(ctx context.Context, rdr array.RecordReader) (rows int64, err error) {
	var (
		jobs    = make(chan partJob, 1)
		stopped = make(chan struct{}) // closed when the encoder gives up
		written = make(chan error, 1) // the encoder's result, once jobs is closed
	)
	lowprio.Go(func() { // bulk work, as writeParquet's encoder
		var werr error
		for j := range jobs {
			if werr == nil {
				if werr = k.encode(ctx, j); werr != nil {
					close(stopped)
				}
			}
			j.release()
		}
		written <- werr
	})
	rows, err = k.split(ctx, rdr, jobs, stopped)
	close(jobs)
	if werr := <-written; werr != nil {
		return rows, werr
	}
	return rows, err
}

// partJob is rows of one partition for the encoder.
type partJob struct {
	dir  string
	recs []arrow.RecordBatch
}

func (j partJob) release() {
	for _, r := range j.recs {
		r.Release()
	}
}

// encode writes j's rows to its partition's open part.
func (k *partitionSink) encode(ctx context.Context, j partJob) error {
	for _, rec := range j.recs {
		k.seenBytes += BatchBytes(rec)
		k.seenRows += rec.NumRows()
	}
	p, err := k.part(ctx, j.dir)
	if err != nil {
		return err
	}
	for _, rec := range j.recs {
		if err := k.s.encodeBatch(ctx, p.write, rec); err != nil {
			return err
		}
	}
	return nil
}

// split reads rdr to the end and sends each batch's rows, by partition, on jobs,
// until the encoder stops. It returns the rows read.
func (k *partitionSink) split(ctx context.Context, rdr array.RecordReader, jobs chan<- partJob, stopped <-chan struct{}) (rows int64, err error) {
	schema := rdr.Schema()
	for rdr.Next() {
		if err := ctx.Err(); err != nil {
			return rows, err
		}
		rec := rdr.RecordBatch()
		if !rec.Schema().Equal(schema) {
			return rows, fmt.Errorf("%w: batch %s differs from the stream's schema %s", ErrInvalidData, schemaString(rec.Schema()), schemaString(schema))
		}
		if err := k.splitBatch(ctx, rec, jobs, stopped); err == errEncoderStopped {
			return rows, nil // writeAll reports the encoder's error
		} else if err != nil {
			return rows, err
		}
		rows += rec.NumRows()
	}
	return rows, uploadEnd(ctx, rdr)
}

// errEncoderStopped is split's signal that the encoder failed: its error is the one
// to report.
var errEncoderStopped = errors.New("the Parquet encoder stopped")

// splitBatch splits rec by partition and sends each partition's rows as a job.
func (k *partitionSink) splitBatch(ctx context.Context, rec arrow.RecordBatch, jobs chan<- partJob, stopped <-chan struct{}) error {
	n := int(rec.NumRows())
	if n == 0 {
		return nil
	}
	var order []string           // partition paths in order of first row
	groups := map[string][]int{} // row indices per partition path
	var dir string
	for i := 0; i < n; i++ {
		// Rows of one partition often come together: a row with the keys of the row
		// before is in its partition, without formatting its path again.
		if i == 0 || !k.sameKeys(rec, i) {
			var err error
			if dir, err = k.dirPath(rec, i); err != nil {
				return err
			}
			if _, ok := groups[dir]; !ok {
				order = append(order, dir)
			}
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
		recs, err := selectRows(ctx, k.s.opts.Allocator, file, groups[dir])
		if err != nil {
			return err
		}
		select {
		case jobs <- partJob{dir: dir, recs: recs}:
		case <-stopped:
			partJob{recs: recs}.release()
			return errEncoderStopped
		}
	}
	return nil
}

// sameKeys reports whether row i of rec has the partition values of row i-1.
func (k *partitionSink) sameKeys(rec arrow.RecordBatch, i int) bool {
	for _, c := range k.sp.keyCols {
		col := rec.Column(c)
		if n1, n2 := col.IsNull(i-1), col.IsNull(i); n1 || n2 {
			if n1 != n2 {
				return false
			}
			continue
		}
		var same bool
		switch a := col.(type) {
		case *array.String:
			same = a.Value(i) == a.Value(i-1)
		case *array.LargeString:
			same = a.Value(i) == a.Value(i-1)
		case *array.StringView:
			same = a.Value(i) == a.Value(i-1)
		case *array.Int8:
			same = a.Value(i) == a.Value(i-1)
		case *array.Int16:
			same = a.Value(i) == a.Value(i-1)
		case *array.Int32:
			same = a.Value(i) == a.Value(i-1)
		case *array.Int64:
			same = a.Value(i) == a.Value(i-1)
		case *array.Uint8:
			same = a.Value(i) == a.Value(i-1)
		case *array.Uint16:
			same = a.Value(i) == a.Value(i-1)
		case *array.Uint32:
			same = a.Value(i) == a.Value(i-1)
		case *array.Uint64:
			same = a.Value(i) == a.Value(i-1)
		case *array.Boolean:
			same = a.Value(i) == a.Value(i-1)
		case *array.Date32:
			same = a.Value(i) == a.Value(i-1)
		}
		if !same {
			return false
		}
	}
	return true
}

// dirPath is the partition directory path of row i of rec: key=value/... escaped.
func (k *partitionSink) dirPath(rec arrow.RecordBatch, i int) (string, error) {
	if len(k.sp.keyCols) == 1 {
		return k.segment(0, rec.Column(k.sp.keyCols[0]), i)
	}
	k.sb.Reset()
	for j, c := range k.sp.keyCols {
		seg, err := k.segment(j, rec.Column(c), i)
		if err != nil {
			return "", err
		}
		if j > 0 {
			k.sb.WriteByte('/')
		}
		k.sb.WriteString(seg)
	}
	return k.sb.String(), nil
}

// maxSegmentCache bounds the directory names remembered per partition column.
const maxSegmentCache = 4096

// segment is the directory name key=value of row i of the j-th partition column
// col. Names are remembered per value: formatting and escaping a value anew for
// every row was most of the cost of splitting a batch.
func (k *partitionSink) segment(j int, col arrow.Array, i int) (string, error) {
	if k.segs == nil {
		k.segs = make([]segmentCache, len(k.sp.keyCols))
	}
	c := &k.segs[j]
	var (
		ikey  int64
		skey  string
		isStr bool
	)
	switch a := col.(type) {
	case *array.String:
		skey, isStr = a.Value(i), true
	case *array.LargeString:
		skey, isStr = a.Value(i), true
	case *array.StringView:
		skey, isStr = a.Value(i), true
	case *array.Int8:
		ikey = int64(a.Value(i))
	case *array.Int16:
		ikey = int64(a.Value(i))
	case *array.Int32:
		ikey = int64(a.Value(i))
	case *array.Int64:
		ikey = a.Value(i)
	case *array.Uint8:
		ikey = int64(a.Value(i))
	case *array.Uint16:
		ikey = int64(a.Value(i))
	case *array.Uint32:
		ikey = int64(a.Value(i))
	case *array.Uint64:
		ikey = int64(a.Value(i)) // the same bits: one value per key
	case *array.Boolean:
		if a.Value(i) {
			ikey = 1
		}
	case *array.Date32:
		ikey = int64(a.Value(i))
	}
	null := col.IsNull(i)
	switch {
	case null && c.null != "":
		return c.null, nil
	case !null && isStr:
		if seg, ok := c.strs[skey]; ok {
			return seg, nil
		}
	case !null:
		if seg, ok := c.ints[ikey]; ok {
			return seg, nil
		}
	}
	key := k.sp.keys[j]
	v, null, err := partitionValueString(key, col, i)
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
	seg := key + "=" + ev
	switch {
	case null:
		c.null = seg
	case isStr:
		if c.strs == nil || len(c.strs) >= maxSegmentCache {
			c.strs = make(map[string]string)
		}
		c.strs[strings.Clone(skey)] = seg // skey points into the batch's buffer
	default:
		if c.ints == nil || len(c.ints) >= maxSegmentCache {
			c.ints = make(map[int64]string)
		}
		c.ints[ikey] = seg
	}
	return seg, nil
}

// segmentCache remembers one partition column's directory names by value.
type segmentCache struct {
	null string
	ints map[int64]string
	strs map[string]string
}

// selectRows returns rows of file (row indices, ascending) as batches: one
// zero-copy slice when they are contiguous, else the rows taken into a new batch
// (or, for a type compute cannot take, a slice per contiguous run).
func selectRows(ctx context.Context, mem memory.Allocator, file arrow.RecordBatch, rows []int) ([]arrow.RecordBatch, error) {
	first, last := rows[0], rows[len(rows)-1]
	if last-first+1 == len(rows) {
		return []arrow.RecordBatch{file.NewSlice(int64(first), int64(last+1))}, nil
	}
	taken, err := takeRows(ctx, mem, file, rows)
	if err == nil {
		return []arrow.RecordBatch{taken}, nil
	}
	var out []arrow.RecordBatch
	for start := 0; start < len(rows); {
		end := start + 1
		for end < len(rows) && rows[end] == rows[end-1]+1 {
			end++
		}
		out = append(out, file.NewSlice(int64(rows[start]), int64(rows[end-1]+1)))
		start = end
	}
	return out, nil
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
	p.pw, p.write, err = newParquetWriter(k.sp.fileSchema, onlyWriter{p.buf}, k.props(), k.s.opts.Allocator)
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
