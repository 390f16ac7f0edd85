package integration

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/quiverdata/quiver/flightsql/wire"
)

// TestS3DoGetThroughPartCache: on an S3 root a plain DoGet reads its part through the
// part cache: downloaded once, then a hit. When the parts others hold (here one held
// as a query's lease holds it) leave no room in the budget, the DoGet neither fails
// nor pushes them out: it reads with ranged GETs, and SQL on the same dataset still
// gets its lease. Before, DoGet never used the cache (no miss, no hit).
func TestS3DoGetThroughPartCache(t *testing.T) {
	const (
		rows   = 200_000 // random int64s: about 1.6 MB of Parquet per dataset
		budget = 3 << 20 // room for one dataset's part, not two
	)
	srv := startServerOpts(t, t.TempDir(), memory.DefaultAllocator, harnessOptions{s3CacheBytes: budget})
	c := srv.client(t)
	ctx := context.Background()
	var sums [2]int64
	for i, name := range []string{"d0.parquet", "d1.parquet"} {
		rec := randomInt64s(rows, uint64(i)+10, &sums[i])
		putRecords(t, c, name, rec.Schema(), rec)
		rec.Release()
	}

	// Cold, then warm.
	if got := sumDoGet(t, c, "d0.parquet"); got != sums[0] {
		t.Fatalf("DoGet d0: sum %d, want %d", got, sums[0])
	}
	st := srv.Cache.Stats()
	if st.Misses != 1 || st.NoRoom != 0 {
		t.Fatalf("after the first DoGet: cache %+v; want its part downloaded", st)
	}
	if got := sumDoGet(t, c, "d0.parquet"); got != sums[0] {
		t.Fatalf("second DoGet d0: sum %d, want %d", got, sums[0])
	}
	if st2 := srv.Cache.Stats(); st2.Misses != 1 || st2.Hits != st.Hits+1 {
		t.Fatalf("after the second DoGet: cache %+v; want a hit and no new download", st2)
	}

	// d0's part held (as a running query's lease holds it): d1's part has no room.
	info, err := srv.Store.Stat(ctx, "d0.parquet")
	must(t, err)
	leased, release, err := srv.Cache.Get(ctx, s3EnvOf(srv.Root).bkt, info.Keys[0], "")
	must(t, err)
	defer release()
	before := srv.Cache.Stats()
	if before.Misses != 1 {
		t.Fatalf("a query's Get of the part DoGet cached: cache %+v; want it shared, not downloaded again", before)
	}
	if got := sumDoGet(t, c, "d1.parquet"); got != sums[1] {
		t.Fatalf("DoGet d1 with the cache full: sum %d, want %d", got, sums[1])
	}
	st = srv.Cache.Stats()
	if st.NoRoom != before.NoRoom+1 || st.Misses != before.Misses || st.Evictions != before.Evictions {
		t.Fatalf("DoGet d1 with the cache full: cache %+v (before %+v); want it refused room, nothing downloaded or evicted", st, before)
	}
	if _, err := os.Stat(leased); err != nil {
		t.Fatalf("the held part after a DoGet found no room: %v", err)
	}
	// SQL's lease is never refused: it goes over the budget while held.
	if got := queryInt64(t, srv.sqlClient(t), "SELECT sum(v) FROM d1"); got != sums[1] {
		t.Fatalf("SQL sum of d1 = %d, want %d", got, sums[1])
	}
}

// sumDoGet reads the named dataset with a plain DoGet and sums its int64 column v.
func sumDoGet(t *testing.T, c flight.Client, name string) int64 {
	t.Helper()
	stream, err := c.DoGet(context.Background(), &flight.Ticket{Ticket: []byte(name)})
	must(t, err)
	rdr, err := flight.NewRecordReader(stream)
	must(t, err)
	defer rdr.Release()
	var sum int64
	for rdr.Next() {
		for _, v := range rdr.RecordBatch().Column(0).(*array.Int64).Int64Values() {
			sum += v
		}
	}
	must(t, rdr.Err())
	return sum
}

// TestS3RawParquetThroughPartCache: the raw-Parquet ticket (`quiver get -o x.parquet`)
// on an S3 root hands out the stored object byte for byte, read through the part
// cache: downloaded once, then a hit.
func TestS3RawParquetThroughPartCache(t *testing.T) {
	srv := startServerOpts(t, t.TempDir(), memory.DefaultAllocator, harnessOptions{s3CacheBytes: 64 << 20})
	c := srv.client(t)
	ctx := context.Background()
	var sum int64
	rec := randomInt64s(100_000, 3, &sum)
	putRecords(t, c, "d.parquet", rec.Schema(), rec)
	rec.Release()
	info, err := srv.Store.Stat(ctx, "d.parquet")
	must(t, err)
	obj, err := s3EnvOf(srv.Root).bkt.Open(ctx, info.Keys[0])
	must(t, err)
	want := make([]byte, obj.Size())
	_, err = obj.ReadAt(want, 0)
	must(t, err)
	obj.Close()
	for round, wantMisses := range []int64{1, 1} {
		got, err := rawGet(ctx, c, wire.RawParquetTicket("d.parquet"))
		must(t, err)
		if !bytes.Equal(got, want) {
			t.Fatalf("round %d: raw get returned %d bytes that differ from the %d-byte stored object", round, len(got), len(want))
		}
		if st := srv.Cache.Stats(); st.Misses != wantMisses || st.Hits != int64(round) {
			t.Fatalf("round %d: cache %+v; want %d download(s) and %d hit(s)", round, st, wantMisses, round)
		}
	}
}
