package catalog

import (
	"context"
	"errors"
	"fmt"
	"github.com/quiverdata/quiver/catalog/storage/local"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// testSchema is the schema most tests write: an id and a label derived from it, so
// that every row's values can be checked from its position.
var testSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "label", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

// quietLogger drops log output; tests assert behaviour, not log lines.
func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newTestStore opens a store on a fresh root with a checked allocator and, at cleanup,
// asserts that nothing the store allocated is still held.
func newTestStore(t testing.TB) (*Store, *memory.CheckedAllocator) {
	t.Helper()
	return openTestStore(t, t.TempDir(), Options{})
}

func openTestStore(t testing.TB, root string, opts Options) (*Store, *memory.CheckedAllocator) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	opts.Allocator = mem
	if opts.Logger == nil {
		opts.Logger = quietLogger()
	}
	s, err := Open(root, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", root, err)
	}
	t.Cleanup(func() { s.Close() }) // before the allocator's check: stops the converter
	return s, mem
}

// makeBatch returns n rows with ids start..start+n-1 and labels "r<id>".
func makeBatch(mem memory.Allocator, start, n int64) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, testSchema)
	defer b.Release()
	ids := b.Field(0).(*array.Int64Builder)
	labels := b.Field(1).(*array.StringBuilder)
	for i := start; i < start+n; i++ {
		ids.Append(i)
		labels.Append(fmt.Sprintf("r%d", i))
	}
	return b.NewRecordBatch()
}

// batches returns a reader over count batches of size rows each, ids starting at start.
// The reader owns the batches: releasing it releases them.
func batches(mem memory.Allocator, start, size int64, count int) array.RecordReader {
	recs := make([]arrow.RecordBatch, count)
	for i := range recs {
		recs[i] = makeBatch(mem, start+int64(i)*size, size)
	}
	rdr, err := array.NewRecordReader(testSchema, recs)
	if err != nil {
		panic(err)
	}
	for _, r := range recs {
		r.Release() // the reader holds its own reference
	}
	return rdr
}

// put writes rows [start, start+n) in batches of size to name and fails the test on error.
func put(t testing.TB, s *Store, name string, mode PutMode, start, n int64) {
	t.Helper()
	size := int64(100)
	if n < size {
		size = n
	}
	count := 0
	if size > 0 {
		count = int(n / size)
	}
	if int64(count)*size != n {
		t.Fatalf("put helper: %d rows not a multiple of %d", n, size)
	}
	rdr := batches(s.opts.Allocator, start, size, count)
	defer rdr.Release()
	rows, err := s.Put(context.Background(), name, mode, rdr)
	if err != nil {
		t.Fatalf("Put(%q, %v): %v", name, mode, err)
	}
	if rows != n {
		t.Fatalf("Put(%q, %v) = %d rows, want %d", name, mode, rows, n)
	}
}

// readIDs reads a whole dataset through Open and returns its ids, checking that every
// label matches its id.
func readIDs(t testing.TB, s *Store, name string) []int64 {
	t.Helper()
	r, err := s.Open(context.Background(), name)
	if err != nil {
		t.Fatalf("Open(%q): %v", name, err)
	}
	defer r.Release()
	return drain(t, r)
}

// drain reads r to the end and returns its ids, checking labels and the schema.
func drain(t testing.TB, r array.RecordReader) []int64 {
	t.Helper()
	var ids []int64
	for r.Next() {
		rec := r.RecordBatch()
		if !rec.Schema().Equal(r.Schema()) {
			t.Fatalf("batch schema %v differs from reader schema %v", rec.Schema(), r.Schema())
		}
		idCol := rec.Column(0).(*array.Int64)
		labelCol := rec.Column(1).(*array.String)
		for i := 0; i < int(rec.NumRows()); i++ {
			id := idCol.Value(i)
			if got, want := labelCol.Value(i), fmt.Sprintf("r%d", id); got != want {
				t.Fatalf("row with id %d has label %q, want %q", id, got, want)
			}
			ids = append(ids, id)
		}
	}
	if err := r.Err(); err != nil {
		t.Fatalf("reading: %v", err)
	}
	return ids
}

// seq returns start, start+1, ..., start+n-1.
func seq(start, n int64) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = start + int64(i)
	}
	return out
}

func concat(parts ...[]int64) []int64 {
	var out []int64
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func equalIDs(a, b []int64) bool {
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

func assertIDs(t testing.TB, s *Store, name string, want []int64) {
	t.Helper()
	got := readIDs(t, s, name)
	if !equalIDs(got, want) {
		t.Fatalf("dataset %q holds %d rows %s, want %d rows %s", name, len(got), abbrev(got), len(want), abbrev(want))
	}
}

func abbrev(ids []int64) string {
	if len(ids) <= 6 {
		return fmt.Sprint(ids)
	}
	return fmt.Sprintf("[%d %d %d ... %d %d %d]", ids[0], ids[1], ids[2], ids[len(ids)-3], ids[len(ids)-2], ids[len(ids)-1])
}

// listDir returns the sorted entry names of dir.
func listDir(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	sort.Strings(names)
	return names
}

// assertNoGarbage fails if root, or any dataset directory in it, holds a temporary or
// trash entry or a store-written part its manifest does not list.
func assertNoGarbage(t testing.TB, root string) {
	t.Helper()
	for _, n := range listDir(t, root) {
		if strings.HasPrefix(n, ".") {
			t.Errorf("root holds leftover %q; entries: %v", n, listDir(t, root))
			continue
		}
		p := filepath.Join(root, n)
		st, err := os.Stat(p)
		if err != nil || !st.IsDir() {
			continue
		}
		listed, mversion, err := partNames(context.Background(), testBucket(t, root), n)
		hasManifest := mversion != ""
		if err != nil {
			t.Errorf("dataset dir %s: %v", n, err)
			continue
		}
		want := map[string]bool{manifestName: true}
		for _, l := range listed {
			want[l] = true
		}
		for _, e := range listDir(t, p) {
			// An unlisted file the store did not name (a person's part retired by a
			// replace that crashed before deleting it) is invisible, and not swept.
			if strings.HasPrefix(e, ".") || (hasManifest && !want[e] && strings.HasPrefix(e, "part-")) {
				t.Errorf("dataset dir %s holds leftover %q", n, e)
			}
		}
	}
}

// writeParquetFile writes recs with pqarrow straight to path, as a person or another
// tool would, bypassing the store.
func writeParquetFile(t testing.TB, path string, schema *arrow.Schema, recs ...arrow.RecordBatch) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := pqarrow.NewFileWriter(schema, f, parquet.NewWriterProperties(), pqarrow.DefaultWriterProps())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil { // closes f too
		t.Fatal(err)
	}
}

// writeIDsFile writes ids [start, start+n) as a Parquet file at path, bypassing the store.
func writeIDsFile(t testing.TB, path string, start, n int64) {
	t.Helper()
	rec := makeBatch(memory.DefaultAllocator, start, n)
	defer rec.Release()
	writeParquetFile(t, path, testSchema, rec)
}

// scriptedReader is an array.RecordReader that yields its batches and then, or after
// failAfter batches, stops with err: a client that disconnects or sends bad IPC. Each
// call to Next may run hook first (e.g. to cancel a context mid-stream).
type scriptedReader struct {
	refs      atomic.Int64
	schema    *arrow.Schema
	recs      []arrow.RecordBatch
	failAfter int // -1: never
	err       error
	hook      func(i int)

	i   int
	cur arrow.RecordBatch
	e   error
}

func newScriptedReader(schema *arrow.Schema, recs []arrow.RecordBatch, failAfter int, err error) *scriptedReader {
	r := &scriptedReader{schema: schema, recs: recs, failAfter: failAfter, err: err}
	r.refs.Store(1)
	return r
}

func (r *scriptedReader) Retain()               { r.refs.Add(1) }
func (r *scriptedReader) Schema() *arrow.Schema { return r.schema }
func (r *scriptedReader) Err() error            { return r.e }

func (r *scriptedReader) Release() {
	if r.refs.Add(-1) == 0 {
		for _, rec := range r.recs {
			rec.Release()
		}
		r.recs = nil
	}
}

func (r *scriptedReader) Next() bool {
	if r.hook != nil {
		r.hook(r.i)
	}
	if r.e != nil {
		return false
	}
	if r.failAfter >= 0 && r.i == r.failAfter {
		r.e = r.err
		return false
	}
	if r.i >= len(r.recs) {
		return false
	}
	r.cur = r.recs[r.i]
	r.i++
	return true
}

func (r *scriptedReader) RecordBatch() arrow.RecordBatch { return r.cur }
func (r *scriptedReader) Record() arrow.RecordBatch      { return r.cur }

var errDisconnect = errors.New("client disconnected")

// snapshotCommit runs fn, copying root at every crash point a commit reaches. It
// returns the copies by crash point: each is the root as a crash at that point would
// leave it, if every write before it had reached the disk.
func snapshotCommit(t testing.TB, root string, fn func()) map[string]string {
	t.Helper()
	snaps := map[string]string{}
	crashPoint = func(step string) {
		dst := filepath.Join(t.TempDir(), "root")
		if err := copyTree(root, dst); err != nil {
			t.Fatalf("snapshot at %q: %v", step, err)
		}
		snaps[fmt.Sprintf("%02d %s", len(snaps), step)] = dst
	}
	defer func() { crashPoint = nil }()
	fn()
	if len(snaps) == 0 {
		t.Fatal("no crash point reached")
	}
	return snaps
}

func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
}

// readSnapshot opens a store on a crash snapshot (which sweeps it), checks that no
// garbage is left, and returns the ids of dataset name, or nil if it does not exist.
func readSnapshot(t testing.TB, root, name string) []int64 {
	t.Helper()
	s, _ := openTestStore(t, root, Options{})
	assertNoGarbage(t, root)
	r, err := s.Open(context.Background(), name)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		t.Fatalf("snapshot %s: Open(%q): %v", root, name, err)
	}
	defer r.Release()
	return drain(t, r)
}

// testBucket opens root as a local bucket.
func testBucket(t testing.TB, root string) *local.Bucket {
	t.Helper()
	b, err := local.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
