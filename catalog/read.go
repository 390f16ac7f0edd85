package catalog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/quiverdata/quiver/catalog/partcache"
	"github.com/quiverdata/quiver/catalog/storage"
)

// Reader streams the record batches of one version of a dataset, part after part,
// holding about one batch per column in memory at a time. Batches hold at most
// Options.ReadBatchRows rows and Options.ReadBatchBytes bytes (a single larger row
// comes alone). It implements array.RecordReader.
//
// A Reader holds every part open from the start (storage.Object), so a replace or drop
// of the dataset while it reads does not disturb it: it reads the version it opened to
// the end.
type Reader struct {
	ctx   context.Context
	info  Info
	files []storage.Object
	mem   memory.Allocator // pool
	pool  *readPool
	batch int64 // most rows per batch
	bytes int64 // most bytes per batch, but for a single row larger than that

	refs atomic.Int64
	// unpin ends the store pin the reader holds on object storage (see Open); nil
	// when it holds none.
	unpin func()
	// On object storage with a part cache (readcache.go): the cache and bucket parts
	// are fetched from, the hold on the part being read and on the next one, and the
	// context that stops fetching the next one when the reader is released.
	remote      bool // parts are objects read by key (object storage)
	cache       *partcache.Cache
	bucket      storage.Bucket
	log         *slog.Logger
	cur, ahead  *cachedPart
	fetchCtx    context.Context
	fetchCancel context.CancelFunc
	next        int          // index of the next part to open
	pf          *file.Reader // the open part; nil between parts
	// The open part's top-level fields, and whether each is a flat string column
	// read by the next of strs (flatstrings.go); pqarrow reads the others (part,
	// nil when there are none).
	fields   []pqarrow.SchemaField
	flat     []bool
	strs     []*flatStrings
	part     pqarrow.RecordReader
	partRows int64 // rows per batch read from the open part
	// whole is the part reader's current batch, sent in slices of at most bytes from
	// row at on; nil when there is none.
	whole arrow.RecordBatch
	at    int64
	rec   arrow.RecordBatch
	err   error
}

// maxOpenAttempts bounds how often Open retries when a single-file dataset is replaced
// between reading its metadata and opening it.
const maxOpenAttempts = 5

// Open opens the current version of the named dataset for reading. The caller must
// Release the reader. ctx bounds the reading, not just the opening.
func (s *Store) Open(ctx context.Context, name string) (*Reader, error) {
	info, files, unpin, err := s.openCurrent(ctx, name)
	if err != nil {
		return nil, err
	}
	r := s.newReader(ctx, info, files)
	if s.readsByKey() {
		r.unpin = unpin
	} else {
		unpin()
	}
	return r, nil
}

// newReader makes a reader of files, the opened parts of info, with one reference.
func (s *Store) newReader(ctx context.Context, info Info, files []storage.Object) *Reader {
	pool := newReadPool(s.opts.Allocator, &s.readPooled, poolMaxTotal) // readpool.go
	r := &Reader{ctx: ctx, info: info, files: files, mem: pool, pool: pool, batch: s.opts.ReadBatchRows, bytes: s.opts.ReadBatchBytes, log: s.log}
	r.refs.Store(1)
	r.remote = s.readsByKey()
	if s.opts.PartCache != nil && r.remote {
		r.cache, r.bucket = s.opts.PartCache, s.bucket
		r.fetchCtx, r.fetchCancel = context.WithCancel(ctx)
	}
	return r
}

// openCurrent opens the parts of the named dataset's current version, looking again
// when a replace reuses its path meanwhile. It returns with the store pinned, so no
// retired part is deleted under it: a local file stays readable through its descriptor
// once unlinked, so a local caller may unpin at once; an object is read by key, range
// by range, so on object storage the caller keeps the pin until it is done reading.
func (s *Store) openCurrent(ctx context.Context, name string) (Info, []storage.Object, func(), error) {
	if err := ValidateName(name); err != nil {
		return Info{}, nil, nil, err
	}
	if err := s.waitLanded(ctx, name); err != nil { // landing.go
		return Info{}, nil, nil, err
	}
	unpin := s.Pin()
	for attempt := 0; attempt < maxOpenAttempts; attempt++ {
		if err := ctx.Err(); err != nil {
			unpin()
			return Info{}, nil, nil, err
		}
		info, err := s.stat(ctx, name)
		if err != nil {
			unpin()
			return Info{}, nil, nil, fmt.Errorf("dataset %q: %w", name, err)
		}
		files, err := s.openVersion(ctx, info)
		if err != nil {
			unpin()
			return Info{}, nil, nil, fmt.Errorf("open dataset %q: %w", name, err)
		}
		if files != nil {
			return info, files, unpin, nil
		}
		// replaced under us: look again
	}
	unpin()
	return Info{}, nil, nil, fmt.Errorf("open dataset %q: it kept changing while being opened", name)
}

// readsByKey reports whether the store's parts are read by key from a bucket that is
// not a local directory (object storage), so readers must keep their pin.
func (s *Store) readsByKey() bool {
	_, local := s.bucket.(storage.LocalFiler)
	return !local
}

// openVersion opens the parts of info. It returns nil files, and no error, when what
// it opened is no longer the version info describes: a single-file dataset's path is
// reused by a replace.
func (s *Store) openVersion(ctx context.Context, info Info) ([]storage.Object, error) {
	files := make([]storage.Object, 0, len(info.Keys))
	var fp strings.Builder
	for _, k := range info.Keys {
		f, err := s.bucket.Open(ctx, k)
		// Gone, or (local) a single file that an append turned into a directory of
		// parts since info was read: the version changed; look again.
		if errors.Is(err, fs.ErrNotExist) || (!info.dir && errors.Is(err, fs.ErrInvalid)) {
			closeAll(files)
			return nil, nil
		}
		if err != nil {
			closeAll(files)
			return nil, err
		}
		files = append(files, f)
		if info.dir {
			fp.WriteString(strings.TrimPrefix(k, info.Name+"/"))
		}
		fp.WriteString(f.Version())
		fp.WriteString(";")
	}
	if fp.String() != info.fingerprint {
		closeAll(files)
		return nil, nil
	}
	return files, nil
}

func closeAll(files []storage.Object) {
	for _, f := range files {
		f.Close()
	}
}

// Info describes the version being read.
func (r *Reader) Info() Info { return r.info }

// Schema is the schema of every batch.
func (r *Reader) Schema() *arrow.Schema { return r.info.Schema }

// Retain adds a reference.
func (r *Reader) Retain() { r.refs.Add(1) }

// Release drops a reference; the last one closes the files.
func (r *Reader) Release() {
	if r.refs.Add(-1) != 0 {
		return
	}
	if r.rec != nil {
		r.rec.Release()
		r.rec = nil
	}
	r.dropWhole()
	r.closePart()
	if r.cache != nil {
		r.closeCached()
		r.fetchCancel()
	}
	closeAll(r.files)
	r.files = nil
	r.pool.close() // batches still held by consumers give their buffers back later
	if r.unpin != nil {
		r.unpin()
	}
}

// Next advances to the next batch; false at the end or on error (see Err).
func (r *Reader) Next() bool {
	if r.rec != nil {
		r.rec.Release()
		r.rec = nil
	}
	for r.err == nil {
		if err := r.ctx.Err(); err != nil {
			r.err = err
			return false
		}
		if r.whole != nil {
			if r.at < r.whole.NumRows() {
				return r.nextSlice()
			}
			r.dropWhole()
		}
		if r.pf == nil {
			if r.next >= len(r.files) {
				return false
			}
			if err := r.openPart(r.next); err != nil {
				r.err = err
				return false
			}
			r.next++
		}
		rec, err := r.partBatch()
		if err != nil {
			r.err = fmt.Errorf("read dataset %q part %d: %w", r.info.Name, r.next, err)
			return false
		}
		if rec == nil {
			r.closePart()
			continue
		}
		if err := validateDecoded(rec); err != nil {
			rec.Release()
			r.err = fmt.Errorf("%w: dataset %q part %d: %w", ErrUnreadable, r.info.Name, r.next, err)
			return false
		}
		r.whole = rec
		r.at = 0
	}
	return false
}

// nextSlice makes the next rows of whole, as many as fit in r.bytes (at least one),
// the current batch.
func (r *Reader) nextSlice() bool {
	n := int64(FitRows(r.whole, int(r.at), int(r.batch), r.bytes))
	if n == 0 {
		n = 1 // a row larger than the target goes alone
	}
	rec := r.whole
	if r.at != 0 || n != rec.NumRows() {
		rec = r.whole.NewSlice(r.at, r.at+n)
		defer rec.Release()
	}
	r.at += n
	if r.info.partValues != nil {
		// The part's partition values, as constant columns (hive.go).
		withParts, err := constantColumns(r.mem, rec, r.info.partValues[r.next-1])
		if err != nil {
			r.err = fmt.Errorf("read dataset %q part %d: %w", r.info.Name, r.next, err)
			return false
		}
		defer withParts.Release()
		rec = withParts
	}
	// Batches carry the reader's schema, without file-format metadata.
	out, err := withSchema(r.info.Schema, rec)
	if err != nil {
		r.err = fmt.Errorf("read dataset %q part %d: %w", r.info.Name, r.next, err)
		return false
	}
	r.rec = out
	return true
}

// validateDecoded checks the buffers pqarrow decoded against their lengths and
// offsets (array.Validate: O(1) per array, not per value). A file pqarrow decodes
// wrongly otherwise fails later, in the IPC writer, as an index out of range: seen
// with DuckDB's fixed-size ARRAY columns holding NULLs, whose list offsets pqarrow
// makes run past the values. DuckDB reads such files itself, so SQL serves them.
func validateDecoded(rec arrow.RecordBatch) error {
	for i, col := range rec.Columns() {
		if err := array.Validate(col); err != nil {
			return fmt.Errorf("column %q cannot be read as Arrow (query it with SQL instead): %w", rec.ColumnName(i), err)
		}
	}
	return nil
}

func (r *Reader) dropWhole() {
	if r.whole != nil {
		r.whole.Release()
		r.whole = nil
	}
}

// RecordBatch is the current batch, valid until the next call to Next.
func (r *Reader) RecordBatch() arrow.RecordBatch { return r.rec }

// Record is the current batch.
//
// Deprecated: use RecordBatch.
func (r *Reader) Record() arrow.RecordBatch { return r.rec }

// Err is the error that stopped Next, if any.
func (r *Reader) Err() error { return r.err }

func (r *Reader) openPart(i int) error {
	// Page buffers come from the store's allocator too, so that it accounts for (and a
	// checked allocator in tests proves the release of) all the reader's memory.
	props := parquet.NewReaderProperties(r.mem)
	// Read column chunks a page at a time: unbuffered, the reader loads each whole
	// column chunk of a row group (up to RowGroupRows rows) into memory, for every
	// open reader, however slowly its client reads.
	props.BufferedStreamEnabled = true
	size := r.files[i].Size()
	src, err := r.partSource(i)
	if err != nil {
		return fmt.Errorf("read dataset %q part %d: %w", r.info.Name, i, err)
	}
	pf, err := file.NewParquetReader(io.NewSectionReader(src, 0, size), file.WithReadProps(props))
	if err != nil {
		return fmt.Errorf("%w: dataset %q part %d: %v", ErrUnreadable, r.info.Name, i, err)
	}
	if _, cached := src.(*partcache.File); !cached && r.remote {
		tuneRangedReads(props, pf.MetaData().Schema.NumColumns())
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: r.partBatchRows(pf), Parallel: true}, r.mem)
	if err != nil {
		pf.Close()
		return fmt.Errorf("%w: dataset %q part %d: %v", ErrUnreadable, r.info.Name, i, err)
	}
	makeReadable(fr.Manifest.Fields)
	r.fields = fr.Manifest.Fields
	r.flat = make([]bool, len(r.fields))
	r.strs = nil
	var leaves []int
	for j, f := range r.fields {
		if r.flat[j] = flatString(pf, f); r.flat[j] {
			r.strs = append(r.strs, newFlatStrings(pf, f, r.mem))
		} else {
			leaves = appendLeaves(leaves, f)
		}
	}
	r.partRows = fr.Props.BatchSize
	r.part = nil
	if len(leaves) > 0 {
		rr, err := fr.GetRecordReader(r.ctx, leaves, nil)
		if err != nil {
			return fmt.Errorf("read dataset %q part %d: %w", r.info.Name, i, err)
		}
		r.part = rr
	}
	r.pf = pf
	return nil
}

// appendLeaves appends the leaf column indices of f to leaves.
func appendLeaves(leaves []int, f pqarrow.SchemaField) []int {
	if f.IsLeaf() {
		return append(leaves, f.ColIndex)
	}
	for _, c := range f.Children {
		leaves = appendLeaves(leaves, c)
	}
	return leaves
}

// partBatch reads the open part's next batch, a new reference, or nil at its end:
// pqarrow's batch of the other columns with the flat string columns of the same
// rows put in their places.
func (r *Reader) partBatch() (arrow.RecordBatch, error) {
	if len(r.strs) == 0 {
		if !r.part.Next() {
			return nil, r.part.Err()
		}
		rec := r.part.RecordBatch()
		rec.Retain()
		return rec, nil
	}
	n := r.partRows
	var rest arrow.RecordBatch
	if r.part != nil {
		if !r.part.Next() {
			return nil, r.part.Err()
		}
		rest = r.part.RecordBatch()
		n = rest.NumRows()
	}
	cols := make([]arrow.Array, 0, len(r.fields))
	defer func() {
		for _, c := range cols {
			c.Release()
		}
	}()
	fields := make([]arrow.Field, 0, len(r.fields))
	si, pi := 0, 0
	for j := range r.fields {
		if !r.flat[j] {
			c := rest.Column(pi)
			c.Retain()
			cols = append(cols, c)
			fields = append(fields, rest.Schema().Field(pi))
			pi++
			continue
		}
		c, err := r.strs[si].next(n)
		si++
		if err != nil {
			return nil, err
		}
		if rest == nil && len(cols) == 0 {
			// A part of string columns only: the first decides the batch's rows.
			if c == nil {
				return nil, nil // read to its end
			}
			n = int64(c.Len())
		}
		if c == nil || int64(c.Len()) != n {
			if c != nil {
				c.Release()
			}
			return nil, fmt.Errorf("%w: column %q", errShortColumn, r.fields[j].Field.Name)
		}
		cols = append(cols, c)
		fields = append(fields, *r.fields[j].Field)
	}
	return array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, n), nil
}

// partBatchRows is how many rows the part reader of pf decodes at a time: the row
// limit, fewer when the widest row group's rows (uncompressed, as the footer says)
// would make a batch larger than the byte target. Rows are cut to the byte target
// again after decoding (nextSlice); reading fewer rows at a time keeps what one
// stream decodes ahead near that target rather than at 64Ki rows of any width.
// Dictionary-encoded columns decode larger than their pages say, so this is an
// estimate, not a bound.
func (r *Reader) partBatchRows(pf *file.Reader) int64 {
	md := pf.MetaData()
	var perRow int64
	for i := range md.NumRowGroups() {
		rg := md.RowGroup(i)
		if n := rg.NumRows(); n > 0 {
			perRow = max(perRow, rg.TotalByteSize()/n)
		}
	}
	if perRow <= 0 {
		return r.batch
	}
	return min(r.batch, max(1, r.bytes/perRow))
}

func (r *Reader) closePart() {
	if r.part != nil {
		r.part.Release()
		r.part = nil
	}
	for _, c := range r.strs {
		c.close()
	}
	r.strs, r.fields, r.flat = nil, nil, nil
	if r.pf != nil {
		// The file reader reads through a section of our object; Release closes those.
		r.pf = nil
	}
	if r.cur != nil {
		r.cur.close() // the local copy of the part just read
		r.cur = nil
	}
}

// withSchema returns rec with schema s (same columns), as a new reference. A column
// read as its storage type (storedtypes.go) gets the type s announces.
func withSchema(s *arrow.Schema, rec arrow.RecordBatch) (arrow.RecordBatch, error) {
	if rec.Schema().Equal(s) && rec.Schema().Metadata().Len() == s.Metadata().Len() {
		rec.Retain()
		return rec, nil
	}
	if rec.NumCols() != int64(s.NumFields()) {
		return nil, fmt.Errorf("batch has %d columns, the dataset %d", rec.NumCols(), s.NumFields())
	}
	return mapColumns(s, rec, retype)
}
