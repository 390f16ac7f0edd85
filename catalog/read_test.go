package catalog

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestReaderBatchesAndSchema(t *testing.T) {
	s, _ := openTestStore(t, t.TempDir(), Options{ReadBatchRows: 64, RowGroupRows: 100})
	put(t, s, "d", Create, 0, 1000)
	put(t, s, "d", Append, 1000, 300)
	r, err := s.Open(context.Background(), "d")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	if !r.Schema().Equal(testSchema) || r.Info().Rows != 1300 || r.Info().Name != "d" {
		t.Fatalf("reader schema %v, info %+v", r.Schema(), r.Info())
	}
	var n int64
	for r.Next() {
		rec := r.RecordBatch()
		if rec.NumRows() > 64 || rec.NumRows() == 0 {
			t.Fatalf("batch of %d rows, want 1..64", rec.NumRows())
		}
		if r.Record() != rec {
			t.Fatal("Record and RecordBatch differ")
		}
		n += rec.NumRows()
	}
	if r.Err() != nil || n != 1300 {
		t.Fatalf("read %d rows, err %v", n, r.Err())
	}
	if r.Next() {
		t.Fatal("Next after the end returned true")
	}
}

func TestReaderRetainRelease(t *testing.T) {
	s, _ := newTestStore(t)
	put(t, s, "d", Create, 0, 10)
	r, err := s.Open(context.Background(), "d")
	if err != nil {
		t.Fatal(err)
	}
	r.Retain()
	if !r.Next() {
		t.Fatal(r.Err())
	}
	r.Release() // one reference left: still readable
	if got := r.RecordBatch().NumRows(); got != 10 {
		t.Fatalf("batch of %d rows after a Release with a reference left", got)
	}
	r.Release() // the checked allocator proves the batch and parts were freed
}

// TestReaderReleasedMidStream releases a reader that is partway through a multi-part
// dataset: nothing may leak.
func TestReaderReleasedMidStream(t *testing.T) {
	s, _ := openTestStore(t, t.TempDir(), Options{ReadBatchRows: 10})
	put(t, s, "d", Create, 0, 100)
	put(t, s, "d", Append, 100, 100)
	r, err := s.Open(context.Background(), "d")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3 && r.Next(); i++ {
	}
	r.Release()
}

func TestReaderContextCancelled(t *testing.T) {
	s, _ := openTestStore(t, t.TempDir(), Options{ReadBatchRows: 10})
	put(t, s, "d", Create, 0, 100)
	ctx, cancel := context.WithCancel(context.Background())
	r, err := s.Open(ctx, "d")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	if !r.Next() {
		t.Fatal(r.Err())
	}
	cancel()
	if r.Next() {
		t.Fatal("Next after cancel returned true")
	}
	if !errors.Is(r.Err(), context.Canceled) {
		t.Fatalf("Err = %v, want context.Canceled", r.Err())
	}
}

// TestReaderSurvivesReplaceAndDrop opens a reader, changes the dataset in every way,
// and reads on: the reader sees exactly the version it opened.
func TestReaderSurvivesReplaceAndDrop(t *testing.T) {
	changes := []struct {
		name   string
		multi  bool // start as a multi-part dataset
		change func(t *testing.T, s *Store)
	}{
		{"replace single file", false, func(t *testing.T, s *Store) { put(t, s, "d", Replace, 5000, 100) }},
		{"append splits single file", false, func(t *testing.T, s *Store) { put(t, s, "d", Append, 5000, 100) }},
		{"drop single file", false, func(t *testing.T, s *Store) { mustDrop(t, s, "d") }},
		{"drop and recreate", false, func(t *testing.T, s *Store) {
			mustDrop(t, s, "d")
			put(t, s, "d", Create, 5000, 100)
		}},
		{"replace multi-part", true, func(t *testing.T, s *Store) { put(t, s, "d", Replace, 5000, 100) }},
		{"append multi-part", true, func(t *testing.T, s *Store) { put(t, s, "d", Append, 5000, 100) }},
		{"drop multi-part", true, func(t *testing.T, s *Store) { mustDrop(t, s, "d") }},
	}
	for _, c := range changes {
		t.Run(c.name, func(t *testing.T) {
			s, _ := openTestStore(t, t.TempDir(), Options{ReadBatchRows: 50, RowGroupRows: 100})
			want := seq(0, 1000)
			put(t, s, "d", Create, 0, 1000)
			if c.multi {
				put(t, s, "d", Append, 1000, 500)
				want = seq(0, 1500)
			}
			r, err := s.Open(context.Background(), "d")
			if err != nil {
				t.Fatal(err)
			}
			defer r.Release()
			if !r.Next() { // mid-stream when the change lands
				t.Fatal(r.Err())
			}
			c.change(t, s)
			got := append(batchIDs(r), drain(t, r)...)
			if !equalIDs(got, want) {
				t.Fatalf("reader opened before the change read %s, want %s", abbrev(got), abbrev(want))
			}
			settle(t, s)
			assertNoGarbage(t, s.Root())
		})
	}
}

// batchIDs returns the ids of r's current batch.
func batchIDs(r *Reader) []int64 {
	col := r.RecordBatch().Column(0)
	ids := make([]int64, col.Len())
	for i := range ids {
		ids[i] = r.RecordBatch().Column(0).(interface{ Value(int) int64 }).Value(i)
	}
	return ids
}

func mustDrop(t *testing.T, s *Store, name string) {
	t.Helper()
	if err := s.Drop(context.Background(), name); err != nil {
		t.Fatal(err)
	}
}

// TestOpenRacesReplace opens a dataset while it is replaced (single file, so the path
// is reused) and split into parts. Every Open succeeds and reads one whole version.
func TestOpenRacesReplace(t *testing.T) {
	s, mem := newTestStore(t)
	put(t, s, "d", Create, 0, 100)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := int64(1); ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			mode := Replace
			if i%5 == 0 {
				mode = Append // turns it into a directory; the next replace keeps that form
			}
			if i%10 == 0 {
				if err := s.Drop(context.Background(), "d"); err != nil {
					t.Error(err)
					return
				}
			}
			rdr := batches(mem, i*100, 100, 1)
			_, err := s.Put(context.Background(), "d", mode, rdr)
			rdr.Release()
			if err != nil && !(mode == Append && errors.Is(err, ErrNotFound)) {
				t.Errorf("put %d: %v", i, err)
				return
			}
		}
	}()
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		r, err := s.Open(context.Background(), "d")
		if errors.Is(err, ErrNotFound) {
			continue // between a drop and the next put
		}
		if err != nil {
			t.Errorf("Open during replace: %v", err)
			break
		}
		ids := drain(t, r)
		if int64(len(ids)) != r.Info().Rows {
			t.Errorf("read %d rows, the version opened has %d", len(ids), r.Info().Rows)
		}
		for i := 1; i < len(ids); i++ {
			if ids[i] != ids[i-1]+1 && ids[i]%100 != 0 {
				t.Errorf("read a torn version: %s", abbrev(ids))
				break
			}
		}
		r.Release()
	}
	close(stop)
	wg.Wait()
}
