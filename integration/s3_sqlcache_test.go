package integration

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// TestS3SQLFetchesOnlyWhatItReads: a bucket holding more than the part cache's
// budget. Metadata calls (GetTables with schemas, GetFlightInfo's planning, a
// prepared statement's schema) download no part; each query fetches the parts of
// the tables it reads and no others; after each, the cache is within its budget.
// Before, the first SQL request downloaded and held every dataset's parts.
func TestS3SQLFetchesOnlyWhatItReads(t *testing.T) {
	const (
		datasets = 4
		rows     = 200_000 // random int64s: about 1.6 MB of Parquet per dataset
		budget   = 3 << 20 // room for one dataset's parts, not for all four
	)
	srv := startServerOpts(t, t.TempDir(), memory.DefaultAllocator, harnessOptions{s3CacheBytes: budget})
	c := srv.client(t)
	cl := srv.sqlClient(t)
	ctx := context.Background()
	sums := make([]int64, datasets)
	for i := range datasets {
		rec := randomInt64s(rows, uint64(i), &sums[i])
		putRecords(t, c, fmt.Sprintf("d%d.parquet", i), rec.Schema(), rec)
		rec.Release()
	}
	stored := int64(0)
	for _, k := range s3EnvOf(srv.Root).keys(t) {
		st, err := s3EnvOf(srv.Root).bkt.Stat(ctx, k)
		must(t, err)
		stored += st.Size
	}
	if stored <= budget {
		t.Fatalf("the bucket holds %d bytes, not more than the cache's %d: the test proves nothing", stored, budget)
	}

	// Metadata: no part is downloaded.
	info, err := cl.GetTables(ctx, &flightsql.GetTablesOpts{IncludeSchema: true})
	must(t, err)
	if n := countInfoRows(t, cl, info); n != datasets {
		t.Fatalf("GetTables lists %d tables, want %d", n, datasets)
	}
	if _, err := cl.Execute(ctx, "SELECT v FROM d0 JOIN d1 USING (v)"); err != nil {
		t.Fatalf("plan a join: %v", err)
	}
	prep, err := cl.Prepare(ctx, "SELECT sum(v) FROM d2 WHERE v > ?")
	must(t, err)
	if prep.DatasetSchema() == nil || prep.DatasetSchema().NumFields() != 1 {
		t.Fatalf("prepared statement schema = %v", prep.DatasetSchema())
	}
	must(t, prep.Close(ctx))
	if st := srv.Cache.Stats(); st.Bytes != 0 || st.Misses != 0 {
		t.Fatalf("metadata calls downloaded parts: cache %+v", st)
	}

	// Each query fetches its own table's parts; the cache stays within budget.
	for round := range 2 {
		for i := range datasets {
			before := srv.Cache.Stats()
			got := queryInt64(t, cl, fmt.Sprintf("SELECT sum(v) FROM d%d", i))
			if got != sums[i] {
				t.Fatalf("round %d: sum of d%d = %d, want %d", round, i, got, sums[i])
			}
			st := srv.Cache.Stats()
			if st.Bytes > budget {
				t.Fatalf("round %d, after d%d: cache holds %d bytes, budget %d", round, i, st.Bytes, budget)
			}
			if fetched := st.Misses - before.Misses; fetched != 1 {
				t.Fatalf("round %d: SELECT from d%d fetched %d parts, want its 1 (cache %+v)", round, i, fetched, st)
			}
		}
	}
	// A query of two tables reads both; the rows match DoGet's.
	if got := queryInt64(t, cl, "SELECT (SELECT sum(v) FROM d0) + (SELECT sum(v) FROM d3)"); got != sums[0]+sums[3] {
		t.Fatalf("sum over two tables = %d, want %d", got, sums[0]+sums[3])
	}
	if st := srv.Cache.Stats(); st.Bytes > budget {
		t.Fatalf("after a two-table query the cache holds %d bytes, budget %d", st.Bytes, budget)
	}
}

// randomInt64s is a batch of n random values in column v; sum gets their sum.
func randomInt64s(n int, seed uint64, sum *int64) arrow.RecordBatch {
	r := rand.New(rand.NewPCG(seed, 1))
	schema := arrow.NewSchema([]arrow.Field{{Name: "v", Type: arrow.PrimitiveTypes.Int64}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	col := b.Field(0).(*array.Int64Builder)
	for range n {
		v := r.Int64N(1 << 40)
		*sum += v
		col.Append(v)
	}
	return b.NewRecordBatch()
}

// queryInt64 runs sql, which yields one int64-compatible value, and returns it.
func queryInt64(t *testing.T, cl *flightsql.Client, sql string) int64 {
	t.Helper()
	ctx := context.Background()
	info, err := cl.Execute(ctx, sql)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	rdr, err := cl.DoGet(ctx, info.Endpoint[0].Ticket)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	defer rdr.Release()
	var v int64
	var n int
	for rdr.Next() {
		rec := rdr.RecordBatch()
		for i := 0; i < int(rec.NumRows()); i++ {
			switch col := rec.Column(0).(type) {
			case *array.Int64:
				v = col.Value(i)
			case *array.Decimal128:
				v = int64(col.Value(i).LowBits())
			default:
				t.Fatalf("%s: column type %s", sql, col.DataType())
			}
			n++
		}
	}
	if err := rdr.Err(); err != nil || n != 1 {
		t.Fatalf("%s: %d rows, %v", sql, n, err)
	}
	return v
}

// countInfoRows reads every endpoint of info and counts the rows.
func countInfoRows(t *testing.T, cl *flightsql.Client, info *flight.FlightInfo) int64 {
	t.Helper()
	var n int64
	for _, ep := range info.Endpoint {
		rdr, err := cl.DoGet(context.Background(), ep.Ticket)
		if err != nil {
			t.Fatal(err)
		}
		for rdr.Next() {
			n += rdr.RecordBatch().NumRows()
		}
		err = rdr.Err()
		rdr.Release()
		if err != nil {
			t.Fatal(err)
		}
	}
	return n
}
