package catalog

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/parquet"

	"github.com/quiverdata/quiver/catalog/lowprio"
	"github.com/quiverdata/quiver/catalog/storage"
)

// PutMode says what Put does when the dataset exists, or does not.
type PutMode int

const (
	// Create makes a new dataset and fails with ErrAlreadyExists if it exists.
	Create PutMode = iota
	// Replace makes the dataset, replacing any previous version.
	Replace
	// Append adds the rows as a new part of an existing dataset (ErrNotFound if
	// missing) without rewriting what is there. The schemas must match.
	Append
	// CreateOrAppend appends to the dataset, creating it if missing.
	CreateOrAppend
)

func (m PutMode) String() string {
	switch m {
	case Create:
		return "create"
	case Replace:
		return "replace"
	case Append:
		return "append"
	case CreateOrAppend:
		return "create or append"
	}
	return fmt.Sprintf("PutMode(%d)", int(m))
}

// Put writes the record batches of rdr to the named dataset and returns the number of
// rows written. The stream goes batch by batch into a temporary Parquet file in the
// root, so memory stays bounded by a row group whatever the dataset's size. The new
// version becomes visible only when the file is complete and synced; a failed,
// cancelled or malformed upload leaves the previous version intact and nothing behind.
// Concurrent puts to one name all complete; the last to commit wins.
//
// Put does not release rdr.
func (s *Store) Put(ctx context.Context, name string, mode PutMode, rdr array.RecordReader) (int64, error) {
	if err := ValidateName(name); err != nil {
		return 0, err
	}
	if mode < Create || mode > CreateOrAppend {
		return 0, fmt.Errorf("put %q: unknown mode %v", name, mode)
	}
	if keys := s.appendPartitions(ctx, name, mode); keys != nil {
		// An append to a partitioned dataset goes to its partitions.
		return s.appendPartitioned(ctx, name, mode, keys, rdr)
	}
	if schema := rdr.Schema(); schema == nil || schema.NumFields() == 0 {
		return 0, fmt.Errorf("%s dataset %q: %w: the stream has no columns", mode, name, ErrInvalidData)
	}
	// A column nested deeper than the SQL engine can read safely would be stored and
	// then never be queryable (nesting.go): refuse it before anything is written.
	if err := CheckNesting(rdr.Schema()); err != nil {
		return 0, fmt.Errorf("%s dataset %q: %w: %w", mode, name, ErrInvalidData, err)
	}
	var rows int64
	var err error
	if s.files != nil {
		// The dataset's lane orders the checks and the commit with every other put
		// and drop of it, landed or not (landing.go).
		rows, err = s.putLanded(ctx, name, mode, rdr)
	} else {
		// Refuse early what the commit would refuse, before reading the whole upload.
		if err := s.checkPut(ctx, name, mode, rdr.Schema()); err != nil {
			return 0, fmt.Errorf("%s dataset %q: %w", mode, name, err)
		}
		rows, err = s.putManifest(ctx, name, mode, rdr)
	}
	if err != nil {
		return 0, fmt.Errorf("%s dataset %q: %w", mode, name, err)
	}
	s.log.Debug("dataset written", "dataset", name, "mode", mode.String(), "rows", rows)
	return rows, nil
}

// checkPut says whether a put of schema to name in mode can commit as things stand.
func (s *Store) checkPut(ctx context.Context, name string, mode PutMode, schema *arrow.Schema) error {
	info, err := s.stat(ctx, name)
	exists := err == nil || !errors.Is(err, ErrNotFound)
	switch {
	case mode == Create && exists:
		return ErrAlreadyExists
	case mode == Append && !exists:
		return ErrNotFound
	case !exists:
		return s.checkTableName(ctx, name)
	case (mode == Append || mode == CreateOrAppend) && err != nil:
		return err
	case (mode == Append || mode == CreateOrAppend) && len(info.Partitions) > 0:
		return fmt.Errorf("%w: dataset %q is partitioned by %s (hive-style directories): appending to it is not supported; replace it or add a partition directory",
			ErrInvalidData, name, strings.Join(info.Partitions, ", "))
	case mode == Append || mode == CreateOrAppend:
		return sameColumns(info.Schema, schema)
	}
	return nil
}

// checkTableName refuses a new dataset whose SQL table name another dataset has.
func (s *Store) checkTableName(ctx context.Context, name string) error {
	entries, err := s.bucket.List(ctx, "")
	if err != nil {
		return err
	}
	for _, e := range entries {
		other := e.Key
		if other != name && ValidateName(other) == nil && sameTable(other, name) {
			return fmt.Errorf("%w: dataset %q has the same SQL table name %q", ErrAlreadyExists, other, TableName(other))
		}
	}
	// Datasets landed but not yet converted are not in the root yet.
	for _, other := range s.landingNames() {
		if other != name && sameTable(other, name) {
			return fmt.Errorf("%w: dataset %q has the same SQL table name %q", ErrAlreadyExists, other, TableName(other))
		}
	}
	return nil
}

// sameColumns reports an ErrInvalidData unless both schemas have the same column
// names and types (nullability and metadata aside).
func sameColumns(have, got *arrow.Schema) error {
	mismatch := have.NumFields() != got.NumFields()
	for i := 0; !mismatch && i < have.NumFields(); i++ {
		a, b := have.Field(i), got.Field(i)
		mismatch = a.Name != b.Name || !sameType(a.Type, b.Type)
	}
	if mismatch {
		return fmt.Errorf("%w: schema %s does not match the dataset's %s", ErrInvalidData, schemaString(got), schemaString(have))
	}
	return nil
}

// dictionaryPageLimit is the dictionary size at which a column chunk gives up its
// dictionary and falls back to plain encoding.
//
// Every row group starts its dictionaries afresh, so a column of many distinct values
// hashes this much into a dictionary it then throws away, once per row group. At
// arrow-go's 1 MiB, a float64 column of 100k distinct values kept its dictionary
// through every 1Mi-row group and hashing it was a fifth of a put's CPU; 256 KiB
// (32Ki int64 values) cut the 10M x 4 write from 2.0-2.9 s to 1.4-2.0 s. With
// 128Ki-row groups 256 KiB is a quarter of each group hashed in vain: BenchmarkPut
// (catalog, 2M x 4, interleaved) took 388-500 CPU-ms per put against 299-374 with
// 1Mi-row groups. At 64 KiB (8Ki int64 values, ~3k 16-character strings) it took
// 305-358, and the file is byte for byte the same size: the columns that keep a
// dictionary (1000 distinct values here) fit either way. On the 10M x 4 dataset
// (integration's BenchmarkEncode, interleaved): 1300-1337 CPU-ms per put, against
// 1200-1333 with 1Mi-row groups and 256 KiB.
const dictionaryPageLimit = 64 << 10

// writeParquet streams rdr into out, a new object, and commits it (durably) when the
// stream is complete; on any failure it aborts out.
func (s *Store) writeParquet(ctx context.Context, out storage.Writer, rdr array.RecordReader) (rows int64, err error) {
	return s.writeParquetTagged(ctx, out, rdr, "", "")
}

// writeParquetTagged is writeParquet that also stores the key-value metadata key=value
// in the file's footer (none when key is empty).
func (s *Store) writeParquetTagged(ctx context.Context, out storage.Writer, rdr array.RecordReader, key, value string) (rows int64, err error) {
	defer func() {
		if err == nil {
			// A cancel after the last batch does not undo a complete upload.
			_, err = out.Commit(context.WithoutCancel(ctx))
		}
		if err != nil {
			out.Abort()
		}
	}()
	schema := rdr.Schema()
	if schema == nil || schema.NumFields() == 0 {
		return 0, fmt.Errorf("%w: the stream has no columns", ErrInvalidData)
	}
	buf := bufio.NewWriterSize(out, 1<<20)
	// The Parquet writer must not close w: we commit it. onlyWriter hides any Close.
	w, write, err := newParquetWriter(schema, onlyWriter{buf}, s.writerProps(), s.opts.Allocator)
	if err != nil {
		return 0, err
	}
	if key != "" {
		if err := w.AppendKeyValueMetadata(key, value); err != nil {
			w.Close()
			return 0, fmt.Errorf("write Parquet metadata: %w", err)
		}
	}
	defer func() {
		if cerr := s.guarded("finish the Parquet file", w.Close); err == nil && cerr != nil {
			err = fmt.Errorf("finish Parquet file: %w", cerr)
		}
		if err == nil {
			err = buf.Flush()
		}
	}()
	// Decoding the upload (rdr.Next: IPC decoding and the caller's checks) and
	// encoding Parquet each keep a core busy, so they run side by side: batches are
	// read on this goroutine and encoded on one other. Only this goroutine touches
	// rdr, so a writer that fails never leaves a goroutine blocked on a network read;
	// only the writer touches w until it has finished, which we wait for. At most
	// three batches are alive: one being encoded, one in the channel, one being
	// decoded. Measured, BenchmarkDoPut/10Mx4 on a busy 2-core machine, 5 interleaved
	// pairs: faster in 4, equal in 1, median 4.03 s/op -> 2.86 s/op.
	var (
		recs    = make(chan arrow.RecordBatch, 1)
		stopped = make(chan struct{}) // closed when the writer gives up
		written = make(chan error, 1) // the writer's result, once recs is closed
	)
	// The encoding is bulk work: lowprio keeps it behind short requests.
	lowprio.Go(func() {
		var werr error
		for rec := range recs {
			if werr == nil {
				if werr = s.encodeBatch(ctx, write, rec); werr != nil {
					close(stopped)
				}
			}
			rec.Release()
		}
		written <- werr
	})
	rows, err = readBatches(ctx, rdr, schema, recs, stopped)
	close(recs)
	if werr := <-written; werr != nil {
		return rows, fmt.Errorf("write Parquet: %w", werr)
	}
	return rows, err
}

// encodeBatch encodes rec with write in a bulk slot (lowprio.Slot).
func (s *Store) encodeBatch(ctx context.Context, write func(arrow.RecordBatch) error, rec arrow.RecordBatch) error {
	release, err := lowprio.Slot(ctx)
	if err != nil {
		return err
	}
	defer release()
	return s.guarded("encode a batch as Parquet", func() error { return write(rec) })
}

// writerProps are the properties of every Parquet file the store writes.
func (s *Store) writerProps() *parquet.WriterProperties {
	return parquet.NewWriterProperties(
		parquet.WithAllocator(s.opts.Allocator),
		parquet.WithCompression(s.opts.Compression),
		parquet.WithMaxRowGroupLength(s.opts.RowGroupRows),
		parquet.WithStats(true),
		parquet.WithDictionaryPageSizeLimit(dictionaryPageLimit),
	)
}

// checkWritable refuses a schema the Parquet writer would refuse, by making that
// writer on a discarded output: a landed put must know before it acknowledges.
func (s *Store) checkWritable(schema *arrow.Schema) error {
	w, _, err := newParquetWriter(schema, onlyWriter{io.Discard}, s.writerProps(), s.opts.Allocator)
	if err != nil {
		return err
	}
	return w.Close()
}

// readBatches reads rdr to the end and sends each batch, retained, on recs, until the
// writer stops. It returns the rows sent.
func readBatches(ctx context.Context, rdr array.RecordReader, schema *arrow.Schema, recs chan<- arrow.RecordBatch, stopped <-chan struct{}) (rows int64, err error) {
	for rdr.Next() {
		if err := ctx.Err(); err != nil {
			return rows, err
		}
		rec := rdr.RecordBatch()
		if !rec.Schema().Equal(schema) {
			return rows, fmt.Errorf("%w: batch %s differs from the stream's schema %s", ErrInvalidData, schemaString(rec.Schema()), schemaString(schema))
		}
		rec.Retain() // the writer releases it
		select {
		case recs <- rec:
		case <-stopped:
			rec.Release()
			return rows, nil // the writer's error is the one to report
		}
		rows += rec.NumRows()
	}
	return rows, uploadEnd(ctx, rdr)
}

// uploadEnd is how reading the upload rdr ended: ctx's error when the call was cut
// short, ErrInvalidData naming the stream's error when the client sent a bad one,
// else nil.
func uploadEnd(ctx context.Context, rdr array.RecordReader) error {
	if err := rdr.Err(); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		return fmt.Errorf("%w: reading the upload: %w", ErrInvalidData, err)
	}
	return ctx.Err()
}

// guarded runs f, one step of the Parquet writer, and turns a panic in it into an
// error (recovering).
func (s *Store) guarded(what string, f func() error) error {
	return s.recovering(what, "the Parquet writer", f)
}

// recovering runs f, one step of writer (a Parquet or Arrow IPC writer), and turns a
// panic in it into an error: the writers run on data a client sent, on goroutines of
// their own, where a panic would end the whole server. The put then fails and cleans
// up as for any other error.
func (s *Store) recovering(what, writer string, f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("recovered from a panic", "in", what, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			err = fmt.Errorf("%s: %s failed (a bug, logged by the server)", what, writer)
		}
	}()
	return f()
}

type onlyWriter struct{ io.Writer }

// Drop removes the named dataset. Readers that opened it read on to the end.
func (s *Store) Drop(ctx context.Context, name string) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	var err error
	if s.files != nil {
		// After the landed puts before it (order), and before any put after it.
		unlock, lerr := s.lockLane(ctx, name)
		if lerr != nil {
			return fmt.Errorf("drop dataset %q: %w", name, lerr)
		}
		defer unlock()
		if lerr := s.waitLanded(ctx, name); lerr != nil {
			return fmt.Errorf("drop dataset %q: %w", name, lerr)
		}
		s.commitMu.Lock()
		err = s.dropFile(context.WithoutCancel(ctx), name)
		s.commitMu.Unlock()
	} else {
		err = s.dropManifest(context.WithoutCancel(ctx), name)
	}
	if err != nil {
		return fmt.Errorf("drop dataset %q: %w", name, err)
	}
	return nil
}
