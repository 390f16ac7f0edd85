package catalog

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// settle waits until every landed put of s is converted and committed.
func settle(t testing.TB, s *Store) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.waitAllLanded(ctx); err != nil {
		t.Fatalf("waiting for the landed puts: %v", err)
	}
}

// holdConverter makes the converter wait before each conversion until release is
// called (or the store closes). It must be called before the store under test puts.
func holdConverter(t testing.TB) (release func()) {
	t.Helper()
	gate := make(chan struct{})
	beforeConvert = func(ctx context.Context) {
		select {
		case <-gate:
		case <-ctx.Done():
		}
	}
	var once atomic.Bool
	release = func() {
		if once.CompareAndSwap(false, true) {
			close(gate)
		}
	}
	// Registered first, so it runs after the stores' Close (cleanups run last first):
	// no converter is left to read the hook.
	t.Cleanup(func() { release(); beforeConvert = nil })
	return release
}

// landingFiles lists the landings in the root of s.
func landingFiles(t testing.TB, s *Store) []string {
	t.Helper()
	entries, err := s.files.ListAll(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Key, landingPrefix) {
			out = append(out, e.Key)
		}
	}
	return out
}

// otherColumns is a stream of one batch whose schema differs from testSchema.
func otherColumns(mem memory.Allocator) array.RecordReader {
	schema := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64}}, nil)
	b := array.NewInt64Builder(mem)
	defer b.Release()
	b.AppendValues([]int64{1, 2, 3}, nil)
	col := b.NewArray()
	defer col.Release()
	rec := array.NewRecordBatch(schema, []arrow.Array{col}, 3)
	return newScriptedReader(schema, []arrow.RecordBatch{rec}, -1, nil)
}

// TestLandedPutDecidesBeforeTheAck holds the converter, so that every put below is
// acknowledged while the ones before it are still landings: each is checked against
// the dataset as its landings leave it, and readers wait for the conversion.
func TestLandedPutDecidesBeforeTheAck(t *testing.T) {
	release := holdConverter(t)
	ctx := context.Background()
	s, mem := newTestStore(t)

	put(t, s, "d", Create, 0, 10)
	if got := landingFiles(t, s); len(got) != 1 {
		t.Fatalf("after a landed put the root holds landings %v, want one", got)
	}
	if _, err := os.Stat(filepath.Join(s.Root(), "d")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the dataset is on disk before its conversion: %v", err)
	}
	// A reader waits for the conversion, bounded by its context.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	_, err := s.Stat(short, "d")
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), `uploads of dataset "d" to be converted`) {
		t.Fatalf("Stat while converting = %v, want a deadline naming the wait", err)
	}

	for _, tc := range []struct {
		name string
		mode PutMode
		rdr  func() array.RecordReader
		want error
	}{
		{"d", Create, func() array.RecordReader { return batches(mem, 0, 10, 1) }, ErrAlreadyExists},
		{"D.parquet", Create, func() array.RecordReader { return batches(mem, 0, 10, 1) }, ErrAlreadyExists},
		{"d", Append, func() array.RecordReader { return otherColumns(mem) }, ErrInvalidData},
		{"d", CreateOrAppend, func() array.RecordReader { return otherColumns(mem) }, ErrInvalidData},
		{"missing", Append, func() array.RecordReader { return batches(mem, 0, 10, 1) }, ErrNotFound},
	} {
		rdr := tc.rdr()
		_, err := s.Put(ctx, tc.name, tc.mode, rdr)
		rdr.Release()
		if !errors.Is(err, tc.want) {
			t.Errorf("%v %q with d landed: %v, want %v", tc.mode, tc.name, err, tc.want)
		}
	}
	put(t, s, "d", Append, 10, 10) // against the landed schema
	if got := landingFiles(t, s); len(got) != 2 {
		t.Fatalf("root holds landings %v, want two", got)
	}
	release()
	assertIDs(t, s, "d", seq(0, 20))
	if got := landingFiles(t, s); len(got) != 0 {
		t.Fatalf("after conversion the root holds landings %v", got)
	}
	assertNoGarbage(t, s.Root())
}

// TestLandedPutsKeepOrder lands a chain of puts and drops of one dataset while the
// converter is held, then lets it go: the result is the chain applied in order.
func TestLandedPutsKeepOrder(t *testing.T) {
	release := holdConverter(t)
	ctx := context.Background()
	s, _ := newTestStore(t)
	put(t, s, "d", Create, 0, 10)
	put(t, s, "d", Append, 10, 10)
	put(t, s, "d", Replace, 100, 5)
	put(t, s, "d", Append, 200, 5)
	put(t, s, "d", CreateOrAppend, 300, 5)
	put(t, s, "e", Create, 0, 5)
	// A drop waits for the landings before it.
	dropped := make(chan error, 1)
	go func() { dropped <- s.Drop(ctx, "e") }()
	select {
	case err := <-dropped:
		t.Fatalf("Drop returned before the landing it follows was converted: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	release()
	if err := <-dropped; err != nil {
		t.Fatalf("Drop: %v", err)
	}
	assertIDs(t, s, "d", concat(seq(100, 5), seq(200, 5), seq(300, 5)))
	if _, err := s.Stat(ctx, "e"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Stat of the dropped dataset = %v", err)
	}
	// Read your writes, with the converter free: each read sees the put before it.
	for i := int64(0); i < 5; i++ {
		put(t, s, "d", Append, 1000+10*i, 10)
		if got := readIDs(t, s, "d"); int64(len(got)) != 15+10*(i+1) {
			t.Fatalf("after append %d, read %d rows", i, len(got))
		}
		list, err := s.List(ctx)
		if err != nil || len(list) != 1 || list[0].Rows != 15+10*(i+1) {
			t.Fatalf("List after append %d = %v, %v", i, list, err)
		}
	}
	assertNoGarbage(t, s.Root())
}

// TestLandingBudget: with the budget spent a put encodes Parquet itself, after the
// landings of its dataset.
func TestLandingBudget(t *testing.T) {
	release := holdConverter(t)
	ctx := context.Background()
	s, mem := openTestStore(t, t.TempDir(), Options{LandingBudget: 1})
	put(t, s, "a", Create, 0, 10) // lands: nothing was pending
	put(t, s, "b", Create, 0, 10) // over budget: on disk when Put returns
	if got := landingFiles(t, s); len(got) != 1 || !strings.HasSuffix(got[0], "-a") {
		t.Fatalf("landings %v, want only a's", got)
	}
	if _, err := os.Stat(filepath.Join(s.Root(), "b")); err != nil {
		t.Fatalf("the put over budget is not on disk: %v", err)
	}
	// Over budget, a put to a dataset with landings waits for them (order).
	done := make(chan error, 1)
	go func() {
		rdr := batches(mem, 10, 10, 1)
		_, err := s.Put(ctx, "a", Append, rdr)
		rdr.Release() // before the test may end and check the allocator
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("a direct append overtook a landing: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	assertIDs(t, s, "a", seq(0, 20))
	assertIDs(t, s, "b", seq(0, 10))
	assertNoGarbage(t, s.Root())
}

// TestLandedConversionFailure: a conversion that fails (here the Parquet writer
// panics on lying offsets that no intake would pass) is logged, keeps its landing for
// the next Open, and fails the dataset's readers and writers with a message saying
// so; other datasets go on.
func TestLandedConversionFailure(t *testing.T) {
	root := t.TempDir()
	ctx := context.Background()
	s, _ := openTestStore(t, root, Options{})
	rdr := decreasingOffsetsUpload()
	defer rdr.Release()
	if _, err := s.Put(ctx, "bad", Create, rdr); err != nil {
		t.Fatalf("Put lands without encoding: %v", err)
	}
	_, err := s.Stat(ctx, "bad")
	if err == nil || !strings.Contains(err.Error(), "could not be converted to Parquet") || !strings.Contains(err.Error(), "the Parquet writer failed") {
		t.Fatalf("Stat after a failed conversion = %v", err)
	}
	put2 := batches(s.opts.Allocator, 0, 10, 1)
	defer put2.Release()
	if _, err := s.Put(ctx, "bad", Replace, put2); err == nil || !strings.Contains(err.Error(), "could not be converted") {
		t.Fatalf("Put after a failed conversion = %v", err)
	}
	put(t, s, "good", Create, 0, 10)
	assertIDs(t, s, "good", seq(0, 10))
	if list, err := s.List(ctx); err != nil || len(list) != 1 {
		t.Fatalf("List = %v, %v; want good only", list, err)
	}
	if got := landingFiles(t, s); len(got) != 1 {
		t.Fatalf("the failed landing is not kept: %v", got)
	}
	s.Close()
	// The next Open tries again, fails again, and opens.
	s2, _ := openTestStore(t, root, Options{})
	if _, err := s2.Stat(ctx, "bad"); err == nil || !strings.Contains(err.Error(), "could not be converted") {
		t.Fatalf("Stat after reopening = %v", err)
	}
	assertIDs(t, s2, "good", seq(0, 10))
}

// TestCloseLeavesLandingsForNextOpen: a Close cut short by its context stops the
// converter without converting; the next Open converts before it returns. A Close
// that may wait converts first.
func TestCloseLeavesLandingsForNextOpen(t *testing.T) {
	holdConverter(t)
	root := t.TempDir()
	ctx := context.Background()
	s, _ := openTestStore(t, root, Options{})
	put(t, s, "d", Create, 0, 10)
	put(t, s, "d", Append, 10, 10)
	waited := make(chan error, 1)
	go func() { _, err := s.Stat(ctx, "d"); waited <- err }()
	time.Sleep(20 * time.Millisecond)
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := s.CloseContext(short); err == nil || !strings.Contains(err.Error(), "2 uploads landed but not converted") {
		t.Fatalf("CloseContext with the converter held = %v", err)
	}
	if err := <-waited; !errors.Is(err, ErrClosed) {
		t.Fatalf("Stat waiting at Close = %v, want ErrClosed", err)
	}
	if got := landingFiles(t, s); len(got) != 2 {
		t.Fatalf("after Close the root holds landings %v, want both", got)
	}
	beforeConvert = nil
	s2, _ := openTestStore(t, root, Options{})
	if got := landingFiles(t, s2); len(got) != 0 {
		t.Fatalf("Open left landings %v", got)
	}
	assertIDs(t, s2, "d", seq(0, 20))
	assertNoGarbage(t, root)

	beforeConvert = func(ctx context.Context) { time.Sleep(10 * time.Millisecond) }
	put(t, s2, "d", Append, 20, 10)
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
	if got := landingFiles(t, s2); len(got) != 0 {
		t.Fatalf("Close left landings %v", got)
	}
}

// TestPartitionedPutsFollowLandings: a partitioned put (never landed) waits for the
// landed puts of its dataset acknowledged before it, and a plain append after a
// landed plain replace of a partitioned dataset follows that replace, so every put
// lands in the order it was acknowledged.
func TestPartitionedPutsFollowLandings(t *testing.T) {
	release := holdConverter(t)
	ctx := context.Background()
	s, _ := newTestStore(t)
	put(t, s, "ev", Create, 0, 10) // landed, held
	done := make(chan error, 1)
	go func() {
		rdr := partReader(s.opts.Allocator, 100, 20, 1)
		defer rdr.Release()
		_, err := s.PutPartitioned(ctx, "ev", Replace, []string{"b"}, rdr)
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("a partitioned replace returned before the landed create it follows was converted: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	release()
	if err := <-done; err != nil {
		t.Fatalf("partitioned replace: %v", err)
	}
	assertPartRows(t, s, "ev", seq(100, 20))

	// A landed plain replace, then a plain append: the append follows the replace
	// (the dataset it appends to is plain by then), it does not go to the old
	// version's partitions.
	put(t, s, "ev", Replace, 200, 5)
	put(t, s, "ev", Append, 300, 5)
	assertIDs(t, s, "ev", concat(seq(200, 5), seq(300, 5)))
	if info, err := s.Stat(ctx, "ev"); err != nil || len(info.Partitions) != 0 {
		t.Fatalf("after a plain replace and append: %+v, %v; want a plain dataset", info, err)
	}
}
