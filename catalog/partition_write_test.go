package catalog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
)

// partSchema is the schema of partitioned test puts: id and label (testSchema's
// columns, so drain reads them), then the partition candidates.
var partSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "label", Type: arrow.BinaryTypes.String},
	{Name: "k", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "n", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	{Name: "b", Type: arrow.FixedWidthTypes.Boolean},
	{Name: "d", Type: arrow.FixedWidthTypes.Date32},
	{Name: "f", Type: arrow.PrimitiveTypes.Float64},
}, nil)

// oddValues are hostile partition values; nil is NULL.
var oddValues = []*string{
	ptr("plain"), ptr("a/b"), ptr(".."), ptr("."), ptr("="), ptr("k=v"), ptr("x\x00y"),
	ptr("ünï©ødé"), ptr(""), nil, ptr(HiveNull), ptr("%41"), ptr("a b\\c"), ptr("_hidden"), ptr(".dot"),
}

func ptr(s string) *string { return &s }

// partBatch makes rows ids [start, start+n): k cycles through oddValues, n is id%3
// (NULL when id%7 == 0), b is id%2 == 0, d is day id%4.
func partBatch(mem memory.Allocator, start, n int64) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, partSchema)
	defer b.Release()
	for id := start; id < start+n; id++ {
		b.Field(0).(*array.Int64Builder).Append(id)
		b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("r%d", id))
		if v := oddValues[id%int64(len(oddValues))]; v != nil {
			b.Field(2).(*array.StringBuilder).Append(*v)
		} else {
			b.Field(2).AppendNull()
		}
		if id%7 == 0 {
			b.Field(3).AppendNull()
		} else {
			b.Field(3).(*array.Int32Builder).Append(int32(id % 3))
		}
		b.Field(4).(*array.BooleanBuilder).Append(id%2 == 0)
		b.Field(5).(*array.Date32Builder).Append(arrow.Date32(19000 + id%4))
		b.Field(6).(*array.Float64Builder).Append(float64(id) / 2)
	}
	return b.NewRecordBatch()
}

func partReader(mem memory.Allocator, start, size int64, count int) array.RecordReader {
	recs := make([]arrow.RecordBatch, count)
	for i := range recs {
		recs[i] = partBatch(mem, start+int64(i)*size, size)
	}
	rdr, _ := array.NewRecordReader(partSchema, recs)
	for _, r := range recs {
		r.Release()
	}
	return rdr
}

func putParts(t testing.TB, s *Store, name string, mode PutMode, keys []string, start, size int64, count int) {
	t.Helper()
	rdr := partReader(s.opts.Allocator, start, size, count)
	defer rdr.Release()
	n, err := s.PutPartitioned(context.Background(), name, mode, keys, rdr)
	if err != nil {
		t.Fatalf("PutPartitioned(%q, %v, %v): %v", name, mode, keys, err)
	}
	if n != size*int64(count) {
		t.Fatalf("PutPartitioned(%q): %d rows, want %d", name, n, size*int64(count))
	}
}

// wantPartRow renders what partBatch put for id in the columns cols.
func wantPartRow(id int64, cols []string) string {
	var out []string
	for _, c := range cols {
		switch c {
		case "k":
			if v := oddValues[id%int64(len(oddValues))]; v != nil {
				out = append(out, fmt.Sprintf("%q", *v))
			} else {
				out = append(out, "NULL")
			}
		case "n":
			if id%7 == 0 {
				out = append(out, "NULL")
			} else {
				out = append(out, fmt.Sprint(id%3))
			}
		case "b":
			out = append(out, fmt.Sprint(id%2 == 0))
		case "d":
			out = append(out, arrow.Date32(19000+id%4).FormattedString())
		case "f":
			out = append(out, fmt.Sprint(float64(id)/2))
		}
	}
	return strings.Join(out, ",")
}

// readPartRows reads name and returns, per id, its columns cols rendered as
// wantPartRow does.
func readPartRows(t testing.TB, s *Store, name string, cols []string) map[int64]string {
	t.Helper()
	r, err := s.Open(context.Background(), name)
	if err != nil {
		t.Fatalf("Open(%q): %v", name, err)
	}
	defer r.Release()
	got := map[int64]string{}
	for r.Next() {
		rec := r.RecordBatch()
		ids := rec.Column(0).(*array.Int64)
		for i := 0; i < int(rec.NumRows()); i++ {
			var out []string
			for _, c := range cols {
				col := rec.Column(rec.Schema().FieldIndices(c)[0])
				switch {
				case col.IsNull(i):
					out = append(out, "NULL")
				case c == "k":
					out = append(out, fmt.Sprintf("%q", col.(*array.String).Value(i)))
				case c == "d":
					out = append(out, col.(*array.Date32).Value(i).FormattedString())
				default:
					out = append(out, col.ValueStr(i))
				}
			}
			if _, dup := got[ids.Value(i)]; dup {
				t.Fatalf("id %d read twice", ids.Value(i))
			}
			got[ids.Value(i)] = strings.Join(out, ",")
		}
	}
	if err := r.Err(); err != nil {
		t.Fatalf("read %q: %v", name, err)
	}
	return got
}

func assertPartRows(t testing.TB, s *Store, name string, ids []int64) {
	t.Helper()
	cols := []string{"k", "n", "b", "d", "f"}
	got := readPartRows(t, s, name, cols)
	if len(got) != len(ids) {
		t.Fatalf("%s: %d rows, want %d", name, len(got), len(ids))
	}
	for _, id := range ids {
		if want := wantPartRow(id, cols); got[id] != want {
			t.Errorf("%s: id %d reads %s, want %s", name, id, got[id], want)
		}
	}
}

// stores runs f on a local root and on the manifest-only path of object storage.
func stores(t *testing.T, f func(t *testing.T, s *Store, root string)) {
	t.Run("local", func(t *testing.T) {
		root := t.TempDir()
		s, _ := openTestStore(t, root, Options{})
		f(t, s, root)
	})
	t.Run("manifest", func(t *testing.T) {
		root := t.TempDir()
		f(t, openPlainStore(t, root), root)
	})
}

// TestPartitionedPutRoundTrip puts hostile partition values and reads back the same
// rows with the same column types; the directories on disk are escaped, the
// partition columns are not in the files, and the manifest lists every part.
func TestPartitionedPutRoundTrip(t *testing.T) {
	stores(t, func(t *testing.T, s *Store, root string) {
		putParts(t, s, "ev", Create, []string{"k", "n", "b", "d"}, 0, 100, 3)
		info, err := s.Stat(context.Background(), "ev")
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(info.Partitions, ","); got != "k,n,b,d" {
			t.Errorf("Partitions = %q", got)
		}
		want := "id:int64,label:utf8,f:float64,k:utf8,n:int32,b:bool,d:date32"
		if got := fieldList(info.Schema); got != want {
			t.Errorf("schema %s, want %s", got, want)
		}
		assertPartRows(t, s, "ev", seq(0, 300))

		// On disk: every directory name is a checked key=value, and the files hold
		// only id, label and f.
		dirs := map[string]bool{}
		for _, k := range info.Keys {
			rel := strings.TrimPrefix(k, "ev/")
			if err := checkPartPath(rel); err != nil {
				t.Errorf("part %q: %v", rel, err)
			}
			dirs[strings.SplitN(rel, "/", 2)[0]] = true
			schema, _, err := readFooter(context.Background(), s.bucket, k)
			if err != nil {
				t.Fatal(err)
			}
			if got := fieldList(schema); got != "id:int64,label:utf8,f:float64" {
				t.Errorf("part %s stores %s", rel, got)
			}
		}
		for _, d := range []string{"k=a%2Fb", "k=%2E%2E", "k=%2E", "k=%3D", "k=x%00y", "k=", "k=" + HiveNull, "k=%5F_HIVE_DEFAULT_PARTITION__", "k=%2541", "k=_hidden", "k=.dot"} {
			if !dirs[d] {
				t.Errorf("no directory %q among %v", d, sortedKeys(dirs))
			}
		}
		if len(dirs) != len(oddValues) {
			t.Errorf("%d k= directories, want %d: %v", len(dirs), len(oddValues), sortedKeys(dirs))
		}
	})
}

// TestPartitionedAppendAndReplace: an append adds parts to the right partitions
// (also a plain Put append, which goes to the dataset's partitions), a replace
// replaces every partition, and keys that differ are refused naming both.
func TestPartitionedAppendAndReplace(t *testing.T) {
	stores(t, func(t *testing.T, s *Store, root string) {
		ctx := context.Background()
		putParts(t, s, "ev", Create, []string{"n"}, 0, 50, 1)
		putParts(t, s, "ev", Append, []string{"n"}, 50, 50, 2)
		rdr := partReader(s.opts.Allocator, 150, 30, 1)
		if _, err := s.Put(ctx, "ev", Append, rdr); err != nil {
			t.Fatalf("plain append to a partitioned dataset: %v", err)
		}
		rdr.Release()
		assertPartRows(t, s, "ev", seq(0, 180))
		info, _ := s.Stat(ctx, "ev")
		for _, k := range info.Keys {
			if !strings.HasPrefix(k, "ev/n=") {
				t.Errorf("part %s is not under n=", k)
			}
		}
		// Each partition got the rows of its value, and the NULL partition its own.
		got := readPartRows(t, s, "ev", []string{"n"})
		for id, v := range got {
			if want := wantPartRow(id, []string{"n"}); v != want {
				t.Errorf("id %d in n=%s, want %s", id, v, want)
			}
		}

		// A plain append without the partition column is refused naming it.
		rdr = batches(s.opts.Allocator, 0, 10, 1)
		_, err := s.Put(ctx, "ev", Append, rdr)
		rdr.Release()
		if !errors.Is(err, ErrInvalidData) || !strings.Contains(err.Error(), `partitioned by n (hive-style directories): the rows appended need the partition column "n"`) {
			t.Errorf("plain append without the partition column: %v", err)
		}
		rdr = partReader(s.opts.Allocator, 0, 10, 1)
		_, err = s.PutPartitioned(ctx, "ev", Append, []string{"k"}, rdr)
		rdr.Release()
		if !errors.Is(err, ErrInvalidData) || !strings.Contains(err.Error(), "partitioned by n, not by k") {
			t.Errorf("append by other keys: %v", err)
		}
		rdr = partReader(s.opts.Allocator, 0, 10, 1)
		_, err = s.PutPartitioned(ctx, "ev", Create, []string{"n"}, rdr)
		rdr.Release()
		if !errors.Is(err, ErrAlreadyExists) {
			t.Errorf("create over an existing dataset: %v", err)
		}

		putParts(t, s, "ev", Replace, []string{"b"}, 1000, 20, 1)
		assertPartRows(t, s, "ev", seq(1000, 20))
		info, _ = s.Stat(ctx, "ev")
		if got := strings.Join(info.Partitions, ","); got != "b" {
			t.Errorf("after replace Partitions = %q, want b", got)
		}
		// A plain replace makes it a plain dataset again.
		put(t, s, "ev", Replace, 0, 5)
		assertIDs(t, s, "ev", seq(0, 5))
		if info, _ := s.Stat(ctx, "ev"); info.Partitions != nil {
			t.Errorf("after a plain replace Partitions = %v", info.Partitions)
		}
		// A plain dataset is not appended to by partitions.
		rdr = partReader(s.opts.Allocator, 0, 10, 1)
		_, err = s.PutPartitioned(ctx, "plain", Create, []string{"k"}, rdr)
		rdr.Release()
		if err != nil {
			t.Fatal(err)
		}
		put(t, s, "flat", Create, 0, 5)
		rdr = partReader(s.opts.Allocator, 0, 10, 1)
		_, err = s.PutPartitioned(ctx, "flat", Append, []string{"k"}, rdr)
		rdr.Release()
		if !errors.Is(err, ErrInvalidData) || !strings.Contains(err.Error(), "not partitioned") {
			t.Errorf("partitioned append to a plain dataset: %v", err)
		}
		if s.files != nil {
			assertNoGarbage(t, root)
		}
	})
}

// TestPartitionedPutRefuses bad partition columns, naming them.
func TestPartitionedPutRefuses(t *testing.T) {
	s, _ := newTestStore(t)
	tests := []struct {
		keys []string
		want string
	}{
		{[]string{"f"}, `partition column "f" has type float64`},
		{[]string{"nope"}, `partition column "nope" is not a column`},
		{[]string{"k", "k"}, `partition column "k" is named twice`},
		{[]string{"_x"}, `partition column "_x"`},
		{[]string{"id", "label", "k", "n", "b", "d", "f"}, "has type float64"},
		{nil, "no partition columns"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.keys, ","), func(t *testing.T) {
			rdr := partReader(s.opts.Allocator, 0, 10, 1)
			defer rdr.Release()
			_, err := s.PutPartitioned(context.Background(), "x", Create, tt.keys, rdr)
			if !errors.Is(err, ErrInvalidData) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want ErrInvalidData with %q", err, tt.want)
			}
		})
	}
	all := arrow.NewSchema([]arrow.Field{{Name: "a", Type: arrow.PrimitiveTypes.Int64}}, nil)
	if _, err := newPartitionSpec(all, []string{"a"}); err == nil || !strings.Contains(err.Error(), "every column is a partition column") {
		t.Errorf("all columns as keys: %v", err)
	}
	if _, err := s.Stat(context.Background(), "x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a refused put left dataset x: %v", err)
	}
}

// TestPartitionedPutBoundsOpenParts: with 2 parts open at most, a stream that
// alternates between 5 partitions flushes and reopens, and reads back whole; past
// the part limit it fails with ErrTooManyPartitions and leaves nothing.
func TestPartitionedPutBoundsOpenParts(t *testing.T) {
	root := t.TempDir()
	s, _ := openTestStore(t, root, Options{MaxOpenPartitions: 2})
	// ids cycle k through 15 values every batch of 15 rows: many distinct per batch.
	putParts(t, s, "ev", Create, []string{"k"}, 0, 15, 4)
	assertPartRows(t, s, "ev", seq(0, 60))
	info, _ := s.Stat(context.Background(), "ev")
	if len(info.Keys) < 15 {
		t.Errorf("%d parts, want at least one per partition", len(info.Keys))
	}

	old := maxPartitionedParts
	maxPartitionedParts = 20
	defer func() { maxPartitionedParts = old }()
	rdr := partReader(s.opts.Allocator, 0, 15, 4)
	defer rdr.Release()
	_, err := s.PutPartitioned(context.Background(), "ev2", Create, []string{"k"}, rdr)
	if !errors.Is(err, ErrTooManyPartitions) || !strings.Contains(err.Error(), "more than 20 parts") {
		t.Errorf("err = %v, want ErrTooManyPartitions naming 20", err)
	}
	if _, err := s.Stat(context.Background(), "ev2"); !errors.Is(err, ErrNotFound) {
		t.Errorf("failed put left ev2: %v", err)
	}
	assertNoGarbage(t, root)
}

// TestPartitionedPutFailsWhole: a stream that fails midway leaves the previous
// version and no parts behind.
func TestPartitionedPutFailsWhole(t *testing.T) {
	stores(t, func(t *testing.T, s *Store, root string) {
		putParts(t, s, "ev", Create, []string{"k"}, 0, 30, 1)
		recs := []arrow.RecordBatch{partBatch(s.opts.Allocator, 100, 30), partBatch(s.opts.Allocator, 130, 30)}
		rdr := newScriptedReader(partSchema, recs, 1, errDisconnect)
		_, err := s.PutPartitioned(context.Background(), "ev", Append, []string{"k"}, rdr)
		rdr.Release()
		if err == nil {
			t.Fatal("a failed stream was committed")
		}
		assertPartRows(t, s, "ev", seq(0, 30))
		var parts int
		filepath.WalkDir(filepath.Join(root, "ev"), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(p, ".parquet") {
				parts++
			}
			return nil
		})
		if info, _ := s.Stat(context.Background(), "ev"); parts != len(info.Keys) {
			t.Errorf("%d part files on disk, %d listed", parts, len(info.Keys))
		}
	})
}

// TestPartitionedCrashAtEveryCommitStep copies the root at every step of a
// partitioned create, append and replace: each copy holds the old version or the
// new one, and the sweep leaves no unlisted part in a partition directory.
func TestPartitionedCrashAtEveryCommitStep(t *testing.T) {
	tests := []struct {
		name   string
		change func(t *testing.T, s *Store)
		want   []int64
	}{
		{"create", func(t *testing.T, s *Store) { putParts(t, s, "new", Create, []string{"k"}, 0, 30, 1) }, nil},
		{"append", func(t *testing.T, s *Store) { putParts(t, s, "d", Append, []string{"k"}, 500, 30, 1) }, concat(seq(0, 30), seq(500, 30))},
		{"replace", func(t *testing.T, s *Store) { putParts(t, s, "d", Replace, []string{"n"}, 500, 30, 1) }, seq(500, 30)},
		{"replace plain file", func(t *testing.T, s *Store) { putParts(t, s, "flat", Replace, []string{"n"}, 500, 30, 1) }, seq(500, 30)},
	}
	for _, tt := range tests {
		for _, manifestOnly := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/manifest-only=%v", tt.name, manifestOnly), func(t *testing.T) {
				root := t.TempDir()
				var s *Store
				if manifestOnly {
					s = openPlainStore(t, root)
				} else {
					// The plain puts that set the case up are encoded at once (the
					// landed path has its own crash tests, landing_crash_test.go): a
					// converter running under the snapshots would be snapshotted too.
					s, _ = openTestStore(t, root, Options{LandingBudget: -1})
				}
				crashPartitioned(t, s, root, tt.name, tt.change, tt.want)
			})
		}
	}
}

// crashPartitioned is one case of TestPartitionedCrashAtEveryCommitStep.
func crashPartitioned(t *testing.T, s *Store, root, name string, change func(t *testing.T, s *Store), want []int64) {
	{
		tt := struct {
			name   string
			change func(t *testing.T, s *Store)
			want   []int64
		}{name, change, want}
		{
			putParts(t, s, "d", Create, []string{"k"}, 0, 30, 1)
			put(t, s, "flat", Create, 0, 30)
			target, old := "d", seq(0, 30)
			switch tt.name {
			case "create":
				target, old = "new", nil
			case "replace plain file":
				target = "flat"
			}
			snaps := snapshotCommit(t, root, func() { tt.change(t, s) })
			want := tt.want
			if want == nil {
				want = seq(0, 30)
			}
			for point, snap := range snaps {
				var got []int64
				if s.files != nil {
					got = readSnapshot(t, snap, target)
				} else {
					got = readPlainSnapshot(t, snap, target)
				}
				sort.Slice(got, func(i, j int) bool { return got[i] < got[j] })
				if !equalIDs(got, old) && !equalIDs(got, want) {
					t.Errorf("crash at %q: %s holds %d rows %s; want old %s or new %s", point, target, len(got), abbrev(got), abbrev(old), abbrev(want))
				}
				if s.files != nil {
					// (On object storage an unlisted part is swept only after an hour.)
					assertNoPartitionGarbage(t, snap, target)
				}
			}
			got := readIDs(t, s, target)
			sort.Slice(got, func(i, j int) bool { return got[i] < got[j] })
			if !equalIDs(got, want) {
				t.Errorf("after the change %s holds %s, want %s", target, abbrev(got), abbrev(want))
			}
		}
	}
}

// readPlainSnapshot is readSnapshot for a root the manifest-only path wrote.
func readPlainSnapshot(t testing.TB, root, name string) []int64 {
	t.Helper()
	s := openPlainStore(t, root)
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

// assertNoPartitionGarbage fails if the dataset directory name under root holds
// a part file its manifest does not list (the sweep at Open must remove those).
func assertNoPartitionGarbage(t testing.TB, root, name string) {
	t.Helper()
	listed, _, err := partNames(context.Background(), testBucket(t, root), name)
	if err != nil {
		return // no such dataset in this snapshot
	}
	want := map[string]bool{}
	for _, l := range listed {
		want[l] = true
	}
	filepath.WalkDir(filepath.Join(root, name), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(filepath.Join(root, name), p)
		rel = filepath.ToSlash(rel)
		if rel != manifestName && !want[rel] {
			t.Errorf("snapshot %s: %s holds unlisted %s", root, name, rel)
		}
		return nil
	})
}

func fieldList(s *arrow.Schema) string {
	var out []string
	for _, f := range s.Fields() {
		out = append(out, f.Name+":"+f.Type.String())
	}
	return strings.Join(out, ",")
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestPartitionedPutBoundsRowGroups: wide rows make smaller row groups, so that the
// open parts' buffered row groups stay near partitionBufferBytes.
func TestPartitionedPutBoundsRowGroups(t *testing.T) {
	s, _ := newTestStore(t)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "k", Type: arrow.PrimitiveTypes.Int32},
		{Name: "wide", Type: arrow.BinaryTypes.String},
	}, nil)
	b := array.NewRecordBuilder(s.opts.Allocator, schema)
	wide := strings.Repeat("x", 4096)
	for i := 0; i < 3000; i++ {
		b.Field(0).(*array.Int32Builder).Append(1)
		b.Field(1).(*array.StringBuilder).Append(wide)
	}
	rec := b.NewRecordBatch()
	b.Release()
	rdr, _ := array.NewRecordReader(schema, []arrow.RecordBatch{rec})
	rec.Release()
	defer rdr.Release()
	if _, err := s.PutPartitioned(context.Background(), "w", Create, []string{"k"}, rdr); err != nil {
		t.Fatal(err)
	}
	info, err := s.Stat(context.Background(), "w")
	if err != nil || len(info.Keys) != 1 {
		t.Fatalf("Stat: %v, keys %v", err, info.Keys)
	}
	obj, err := s.bucket.Open(context.Background(), info.Keys[0])
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	pr, err := file.NewParquetReader(io.NewSectionReader(obj, 0, obj.Size()))
	if err != nil {
		t.Fatal(err)
	}
	// 4 KiB rows, 64 open parts at most: 64 MiB / 64 / 4 KiB = 256 rows, so the
	// 1024-row minimum: 3 row groups, not one of 3000 rows.
	if got := pr.NumRowGroups(); got != 3 {
		t.Errorf("%d row groups, want 3 of at most %d rows", got, minPartitionRowGroup)
	}
}
