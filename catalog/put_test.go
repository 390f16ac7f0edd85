package catalog

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
)

func TestPutModes(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)

	put(t, s, "a.parquet", Create, 0, 300)
	assertIDs(t, s, "a.parquet", seq(0, 300))

	put(t, s, "a.parquet", Replace, 1000, 200)
	assertIDs(t, s, "a.parquet", seq(1000, 200))

	// Append to a single file splits it into a directory of two parts.
	put(t, s, "a.parquet", Append, 5000, 100)
	assertIDs(t, s, "a.parquet", concat(seq(1000, 200), seq(5000, 100)))
	if st, err := os.Stat(filepath.Join(s.Root(), "a.parquet")); err != nil || !st.IsDir() {
		t.Fatalf("after append, a.parquet is not a directory: %v", err)
	}

	// Append to a directory adds a third part.
	put(t, s, "a.parquet", Append, 7000, 50)
	assertIDs(t, s, "a.parquet", concat(seq(1000, 200), seq(5000, 100), seq(7000, 50)))

	// Replace of a multi-part dataset leaves one part.
	put(t, s, "a.parquet", Replace, 9000, 10)
	assertIDs(t, s, "a.parquet", seq(9000, 10))
	info, err := s.Stat(ctx, "a.parquet")
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Files) != 1 || info.Rows != 10 {
		t.Fatalf("after replace: %d files, %d rows; want 1 file, 10 rows", len(info.Files), info.Rows)
	}

	// CreateOrAppend creates, then appends.
	put(t, s, "b", CreateOrAppend, 0, 100)
	assertIDs(t, s, "b", seq(0, 100))
	put(t, s, "b", CreateOrAppend, 100, 100)
	assertIDs(t, s, "b", seq(0, 200))

	// Replace of a missing dataset creates it.
	put(t, s, "c", Replace, 0, 1)
	assertIDs(t, s, "c", seq(0, 1))

	assertNoGarbage(t, s.Root())
}

func TestPutEmptyStream(t *testing.T) {
	s, mem := newTestStore(t)
	rdr := batches(mem, 0, 0, 0)
	defer rdr.Release()
	rows, err := s.Put(context.Background(), "empty", Create, rdr)
	if err != nil || rows != 0 {
		t.Fatalf("Put of no batches = %d, %v; want 0, nil", rows, err)
	}
	info, err := s.Stat(context.Background(), "empty")
	if err != nil || info.Rows != 0 || !info.Schema.Equal(testSchema) {
		t.Fatalf("Stat = %+v, %v", info, err)
	}
	assertIDs(t, s, "empty", nil)
}

func TestPutErrors(t *testing.T) {
	ctx := context.Background()
	s, mem := newTestStore(t)
	put(t, s, "sales", Create, 0, 100)

	tests := []struct {
		name    string
		dataset string
		mode    PutMode
		want    error
	}{
		{"create over existing", "sales", Create, ErrAlreadyExists},
		{"create differing by suffix", "sales.parquet", Create, ErrAlreadyExists},
		{"create differing by case and suffix", "Sales.parquet", Create, ErrAlreadyExists},
		{"create differing by case", "SALES", Create, ErrAlreadyExists},
		{"replace differing by suffix", "sales.parquet", Replace, ErrAlreadyExists},
		{"create-or-append differing by case", "Sales", CreateOrAppend, ErrAlreadyExists},
		{"append to missing", "nothing", Append, ErrNotFound},
		{"bad name", "../sales", Create, ErrInvalidName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rdr := batches(mem, 1000, 10, 1)
			defer rdr.Release()
			_, err := s.Put(ctx, tt.dataset, tt.mode, rdr)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Put(%q, %v) = %v, want %v", tt.dataset, tt.mode, err, tt.want)
			}
			if tt.want != ErrInvalidName && !strings.Contains(err.Error(), tt.dataset) {
				t.Errorf("error %q does not name the dataset %q", err, tt.dataset)
			}
			assertIDs(t, s, "sales", seq(0, 100))
			if got := listDir(t, s.Root()); !reflect.DeepEqual(got, []string{"sales"}) {
				t.Fatalf("root holds %v, want [sales]", got)
			}
		})
	}

	t.Run("unknown mode", func(t *testing.T) {
		rdr := batches(mem, 0, 1, 1)
		defer rdr.Release()
		if _, err := s.Put(ctx, "x", PutMode(42), rdr); err == nil {
			t.Fatal("Put with PutMode(42) succeeded")
		}
	})
}

// otherSchema differs from testSchema in the type of one column.
var otherSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	{Name: "label", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

func otherBatch(mem memory.Allocator) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, otherSchema)
	defer b.Release()
	b.Field(0).(*array.Int32Builder).Append(1)
	b.Field(1).(*array.StringBuilder).Append("r1")
	return b.NewRecordBatch()
}

// failedPut is a put that must fail with want and leave dataset "d" (ids 0..99 in
// the given form) and the root exactly as they were.
func TestPutFailuresLeaveNoTrace(t *testing.T) {
	for _, multi := range []bool{false, true} {
		form := "single file"
		if multi {
			form = "multi-part"
		}
		t.Run(form, func(t *testing.T) { testPutFailures(t, multi) })
	}
}

func testPutFailures(t *testing.T, multi bool) {
	for _, mode := range []PutMode{Replace, Append, CreateOrAppend} {
		tests := []struct {
			name string
			// rdr builds the upload; cancel, when set, is called by the upload mid-stream.
			rdr  func(mem memory.Allocator, cancel func()) array.RecordReader
			want error
		}{
			{"schema mismatch", func(mem memory.Allocator, _ func()) array.RecordReader {
				rec := otherBatch(mem)
				return newScriptedReader(otherSchema, []arrow.RecordBatch{rec}, -1, nil)
			}, nil}, // Replace accepts a new schema; the others refuse it
			{"schema change mid-stream", func(mem memory.Allocator, _ func()) array.RecordReader {
				recs := []arrow.RecordBatch{makeBatch(mem, 500, 10), makeBatch(mem, 510, 10), otherBatch(mem)}
				return newScriptedReader(testSchema, recs, -1, nil)
			}, ErrInvalidData},
			{"client disconnect", func(mem memory.Allocator, _ func()) array.RecordReader {
				recs := []arrow.RecordBatch{makeBatch(mem, 500, 10), makeBatch(mem, 510, 10)}
				return newScriptedReader(testSchema, recs, 2, errDisconnect)
			}, ErrInvalidData},
			{"bad IPC at start", func(mem memory.Allocator, _ func()) array.RecordReader {
				return newScriptedReader(testSchema, nil, 0, errors.New("arrow/ipc: invalid message"))
			}, ErrInvalidData},
			{"cancelled mid-stream", func(mem memory.Allocator, cancel func()) array.RecordReader {
				recs := []arrow.RecordBatch{makeBatch(mem, 500, 10), makeBatch(mem, 510, 10), makeBatch(mem, 520, 10)}
				r := newScriptedReader(testSchema, recs, -1, nil)
				r.hook = func(i int) {
					if i == 2 {
						cancel()
					}
				}
				return r
			}, context.Canceled},
		}
		for _, tt := range tests {
			t.Run(mode.String()+"/"+tt.name, func(t *testing.T) {
				s, mem := newTestStore(t)
				want := seq(0, 100)
				if multi {
					put(t, s, "d", Create, 0, 50)
					put(t, s, "d", Append, 50, 50)
				} else {
					put(t, s, "d", Create, 0, 100)
				}
				before, err := s.Stat(context.Background(), "d")
				if err != nil {
					t.Fatal(err)
				}
				dirBefore := listDir(t, s.Root())

				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				rdr := tt.rdr(mem, cancel)
				defer rdr.Release()
				wantErr := tt.want
				if wantErr == nil {
					if mode == Replace {
						return // a legitimate replace; covered elsewhere
					}
					wantErr = ErrInvalidData
				}
				_, err = s.Put(ctx, "d", mode, rdr)
				if !errors.Is(err, wantErr) {
					t.Fatalf("Put = %v, want %v", err, wantErr)
				}
				if !strings.Contains(err.Error(), `"d"`) {
					t.Errorf("error %q does not name the dataset", err)
				}
				assertIDs(t, s, "d", want)
				after, err := s.Stat(context.Background(), "d")
				if err != nil {
					t.Fatal(err)
				}
				if after.Version != before.Version {
					t.Errorf("version changed from %s to %s", before.Version, after.Version)
				}
				if got := listDir(t, s.Root()); !reflect.DeepEqual(got, dirBefore) {
					t.Errorf("root holds %v, before the put %v", got, dirBefore)
				}
				assertNoGarbage(t, s.Root())
			})
		}
	}
}

func TestPutNewDatasetFailureLeavesNothing(t *testing.T) {
	s, mem := newTestStore(t)
	recs := []arrow.RecordBatch{makeBatch(mem, 0, 10)}
	rdr := newScriptedReader(testSchema, recs, 1, errDisconnect)
	defer rdr.Release()
	if _, err := s.Put(context.Background(), "new", Create, rdr); !errors.Is(err, ErrInvalidData) {
		t.Fatalf("Put = %v, want ErrInvalidData", err)
	}
	if got := listDir(t, s.Root()); len(got) != 0 {
		t.Fatalf("root holds %v after a failed create", got)
	}
	if _, err := s.Stat(context.Background(), "new"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Stat = %v, want ErrNotFound", err)
	}
}

func TestPutNilOrEmptySchema(t *testing.T) {
	s, _ := newTestStore(t)
	put(t, s, "d", Create, 0, 10)
	for _, mode := range []PutMode{Create, Replace, Append, CreateOrAppend} {
		for _, schema := range []*arrow.Schema{nil, arrow.NewSchema(nil, nil)} {
			rdr := newScriptedReader(schema, nil, -1, nil)
			name := "d"
			if mode == Create {
				name = "new"
			}
			_, err := s.Put(context.Background(), name, mode, rdr)
			rdr.Release()
			if !errors.Is(err, ErrInvalidData) {
				t.Errorf("Put(%v) with schema %v = %v, want ErrInvalidData", mode, schema, err)
			}
		}
	}
	assertIDs(t, s, "d", seq(0, 10))
}

// TestAppendNullabilityDiffers appends a batch whose columns match the dataset's in
// name and type but not in nullability or field metadata, as a client building each
// batch separately may send. The append is accepted, so the dataset must stay readable.
func TestAppendNullabilityDiffers(t *testing.T) {
	ctx := context.Background()
	s, mem := newTestStore(t)
	put(t, s, "d", Create, 0, 10)

	strict := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: false},
		{Name: "label", Type: arrow.BinaryTypes.String, Nullable: true,
			Metadata: arrow.NewMetadata([]string{"comment"}, []string{"a label"})},
	}, nil)
	rec := makeBatch(mem, 10, 10)
	relabelled := array.NewRecordBatch(strict, rec.Columns(), rec.NumRows())
	rec.Release()
	rdr := newScriptedReader(strict, []arrow.RecordBatch{relabelled}, -1, nil)
	defer rdr.Release()
	if _, err := s.Put(ctx, "d", Append, rdr); err != nil {
		t.Fatalf("append with the same columns: %v", err)
	}
	info, err := s.Stat(ctx, "d")
	if err != nil {
		t.Fatalf("Stat after append: %v", err)
	}
	if info.Rows != 20 {
		t.Fatalf("Rows = %d, want 20", info.Rows)
	}
	assertIDs(t, s, "d", seq(0, 20))
	list, err := s.List(ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("List = %v, %v; want the dataset", list, err)
	}
}

// TestRowGroups checks that WriteBuffered cuts row groups of Options.RowGroupRows
// whatever the batch sizes, so memory stays bounded by a row group.
func TestRowGroups(t *testing.T) {
	s, mem := openTestStore(t, t.TempDir(), Options{RowGroupRows: 1000})
	rdr := batches(mem, 0, 300, 12) // 3600 rows in batches that straddle row groups
	defer rdr.Release()
	if _, err := s.Put(context.Background(), "d", Create, rdr); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	pf, err := file.OpenParquetFile(filepath.Join(s.Root(), "d"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	var sizes []int64
	for i := 0; i < pf.NumRowGroups(); i++ {
		sizes = append(sizes, pf.MetaData().RowGroup(i).NumRows())
	}
	if want := []int64{1000, 1000, 1000, 600}; !reflect.DeepEqual(sizes, want) {
		t.Fatalf("row groups of %v rows, want %v", sizes, want)
	}
	assertIDs(t, s, "d", seq(0, 3600))
}

// TestCompression checks that Options.Compression reaches the file.
func TestCompression(t *testing.T) {
	s, _ := newTestStore(t)
	put(t, s, "d", Create, 0, 100)
	settle(t, s)
	pf, err := file.OpenParquetFile(filepath.Join(s.Root(), "d"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	col, err := pf.MetaData().RowGroup(0).ColumnChunk(0)
	if err != nil {
		t.Fatal(err)
	}
	if got := col.Compression().String(); !strings.EqualFold(got, "snappy") {
		t.Fatalf("default compression %s, want snappy", got)
	}
}

// TestReadBatchesStopsWithWriter checks the reading half of a put's pipeline: once
// the Parquet writer gives up, reading stops at the next batch, hands nothing more
// over, and releases what it held (the checked allocator proves it).
func TestReadBatchesStopsWithWriter(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	rdr := batches(mem, 0, 10, 5)
	defer rdr.Release()

	recs := make(chan arrow.RecordBatch, 1)
	stopped := make(chan struct{})
	close(stopped)
	recs <- nil // full: the only way on is the writer having stopped
	rows, err := readBatches(context.Background(), rdr, testSchema, recs, stopped)
	if err != nil || rows != 0 {
		t.Fatalf("readBatches = %d rows, %v; want 0 rows, no error (the writer's error is reported)", rows, err)
	}
	if got := <-recs; got != nil {
		t.Fatalf("a batch was handed over after the writer stopped")
	}
}
