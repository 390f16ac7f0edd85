package integration

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"

	"github.com/quiverdata/quiver/catalog/lowprio"
)

// TestBulkWorkSetApart runs puts, plain DoGets, SQL through DuckDB and bare scans,
// and table listings at once with bulk work set apart as `quiver serve` does it
// (catalog/lowprio: lowered threads, one bulk slot per core), and checks every
// answer: the in-process servers of the other tests run with it off.
func TestBulkWorkSetApart(t *testing.T) {
	// A lowered thread ends with its goroutine, and it may be a thread on which this
	// test process started a versitygw earlier, whose parent-death signal then kills
	// it (s3test sets Pdeathsig). quiver serve starts no child processes.
	skipOnS3(t, "lowered threads end, and versitygw dies with the thread that started it")
	if err := lowprio.Configure(10, runtime.GOMAXPROCS(0)); err != nil {
		t.Skip(err) // not Linux
	}
	t.Cleanup(func() { lowprio.Configure(0, 0) })
	srv := startServer(t)
	ctx := context.Background()
	const rows = 100_000
	rec := int64Record(srv.Mem, "id", 0, rows)
	defer rec.Release()
	if err := tryPut(ctx, srv.client(t), "base.parquet", rec.Schema(), rec); err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	for w := range 6 {
		c := srv.client(t)
		cl := srv.sqlClient(t)
		wg.Go(func() {
			for i := range 4 {
				name := fmt.Sprintf("w%d.parquet", w)
				if err := tryPut(ctx, c, name, rec.Schema(), rec); err != nil && i == 0 {
					t.Errorf("worker %d put: %v", w, err)
					return
				}
				ids, err := tryGet(ctx, c, []byte("base.parquet"))
				if err != nil || len(ids) != rows {
					t.Errorf("worker %d DoGet: %d rows, %v; want %d", w, len(ids), err, rows)
				}
				for _, q := range []struct {
					sql  string
					want int
				}{
					{"SELECT * FROM base", rows},                       // a bare scan
					{"SELECT id FROM base WHERE id % 2 = 0", rows / 2}, // DuckDB
					{"SELECT count(*) FROM base", 1},
				} {
					if res := runSQL(t, cl, q.sql); res.err != "" || len(res.rows) != q.want {
						t.Errorf("worker %d %q: %d rows, %s; want %d", w, q.sql, len(res.rows), res.err, q.want)
					}
				}
				info, err := cl.GetTables(ctx, &flightsql.GetTablesOpts{IncludeSchema: true})
				if err != nil {
					t.Errorf("worker %d GetTables: %v", w, err)
					continue
				}
				rdr, err := cl.DoGet(ctx, info.Endpoint[0].Ticket)
				if err != nil {
					t.Errorf("worker %d GetTables DoGet: %v", w, err)
					continue
				}
				n := int64(0)
				for rdr.Next() {
					n += rdr.RecordBatch().NumRows()
				}
				if err := rdr.Err(); err != nil || n < 1 {
					t.Errorf("worker %d GetTables: %d tables, %v", w, n, err)
				}
				rdr.Release()
			}
		})
	}
	wg.Wait()
}
