package integration

import (
	"context"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	fsql "github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc/codes"

	"github.com/quiverdata/quiver/flightsql"
)

// slowRowSQL takes a noticeable time (about 0.1 s here) for each parameter row and
// returns the row's parameter, so a client sees which rows ran.
const slowRowSQL = `SELECT ?::BIGINT AS p, (SELECT count(*) FROM range(10000000) t(x) WHERE hash(x) % 7 = 0) AS n`

// TestQueryTimeoutIsPerRequest: --query-timeout bounds one DoGet of a prepared
// statement, not each of its parameter rows. Each row alone fits well inside the limit;
// all 40 together do not, so the stream ends with DeadlineExceeded and the rows after
// the deadline never run.
func TestQueryTimeoutIsPerRequest(t *testing.T) {
	const timeout = 1500 * time.Millisecond
	srv := startServerOpts(t, t.TempDir(), memory.DefaultAllocator, harnessOptions{
		service: func(c *flightsql.ServiceConfig) { c.Engine.QueryTimeout = timeout },
	})
	cl := srv.sqlClient(t)
	ctx := context.Background()

	// One row alone runs well inside the limit.
	ps, err := cl.Prepare(ctx, slowRowSQL)
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close(ctx)
	start := time.Now()
	ps.SetParameters(paramRecord(t, arrow.PrimitiveTypes.Int64, int64(0)))
	if got, err := preparedRows(ctx, t, cl, ps); err != nil || len(got) != 1 {
		t.Fatalf("one row: %v, %v", got, err)
	}
	one := time.Since(start)
	t.Logf("one parameter row: %s", one)
	if one > timeout/2 {
		t.Skipf("one row took %s, too slow a machine to tell a per-row from a per-request limit", one)
	}

	const rows = 40
	vals := make([]any, rows)
	for i := range vals {
		vals[i] = int64(i)
	}
	ps.SetParameters(paramRecord(t, arrow.PrimitiveTypes.Int64, vals...))
	start = time.Now()
	got, err := preparedRows(ctx, t, cl, ps)
	elapsed := time.Since(start)
	t.Logf("%d of %d rows in %s, then %v", len(got), rows, elapsed, err)
	wantStatus(t, err, codes.DeadlineExceeded, "query timeout 1.5s")
	if len(got) >= rows {
		t.Errorf("all %d rows ran", len(got))
	}
	for i, p := range got {
		if p != int64(i) {
			t.Fatalf("row %d carries parameter %d", i, p)
		}
	}
	// Generous: the deadline plus one row's run and the interrupt, far less than 40 rows.
	if elapsed > timeout+10*one+5*time.Second {
		t.Errorf("the request ran %s under a %s limit", elapsed, timeout)
	}
}

// preparedRows runs ps and returns the first column of its result, and the error that
// ended the stream.
func preparedRows(ctx context.Context, t testing.TB, cl *fsql.Client, ps *fsql.PreparedStatement) ([]int64, error) {
	t.Helper()
	info, err := ps.Execute(ctx)
	if err != nil {
		return nil, err
	}
	rdr, err := cl.DoGet(ctx, info.Endpoint[0].Ticket)
	if err != nil {
		return nil, err
	}
	defer rdr.Release()
	var got []int64
	for rdr.Next() {
		col := rdr.RecordBatch().Column(0).(*array.Int64)
		got = append(got, col.Int64Values()...)
	}
	return got, rdr.Err()
}
