package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	fsql "github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc/codes"

	"github.com/quiverdata/quiver/flightsql"
	"github.com/quiverdata/quiver/flightsql/auth"
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

// limitsServer starts a server with authentication and the given limits (zero
// fields: the defaults) and idle handle expiry (0: the default). Users alice (admin),
// bob and carol (read) log in with the password "pw-<name>"; it returns a Flight SQL
// client and a context per user.
func limitsServer(t *testing.T, limits flightsql.Limits, idle time.Duration) (*testServer, *fsql.Client, map[string]context.Context) {
	t.Helper()
	f := &auth.File{}
	for _, u := range []struct{ name, perm string }{{"alice", "admin"}, {"bob", "read"}, {"carol", "read"}} {
		h, err := auth.HashPassword("pw-"+u.name, 4)
		if err != nil {
			t.Fatal(err)
		}
		f.Users = append(f.Users, auth.UserEntry{Name: u.name, PasswordHash: h, Permission: u.perm})
	}
	a, err := auth.New(f, auth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := startServerOpts(t, t.TempDir(), memory.DefaultAllocator, harnessOptions{
		guard: auth.NewGuard(a, nil),
		service: func(c *flightsql.ServiceConfig) {
			c.Limits = limits
			c.HandleIdleTimeout = idle
		},
	})
	cl := srv.sqlClient(t)
	ctxs := map[string]context.Context{}
	for _, u := range []string{"alice", "bob", "carol"} {
		ctx, err := cl.Client.AuthenticateBasicToken(context.Background(), u, "pw-"+u)
		if err != nil {
			t.Fatal(err)
		}
		ctxs[u] = ctx
	}
	return srv, cl, ctxs
}

// endlessSQL streams for ever: a DoGet of it that the client does not read stays open,
// holding its stream and its query, until the client cancels.
const endlessSQL = "SELECT * FROM range(1000000000000)"

// holdQuery plans endlessSQL and opens its DoGet, reads the first message (so the
// server is streaming it) and leaves the stream unread. cancel ends it.
func holdQuery(ctx context.Context, cl *fsql.Client) (cancel func(), err error) {
	ctx, cancel = context.WithCancel(ctx)
	info, err := cl.Execute(ctx, endlessSQL)
	if err != nil {
		cancel()
		return nil, err
	}
	stream, err := cl.Client.DoGet(ctx, info.Endpoint[0].Ticket)
	if err == nil {
		_, err = stream.Recv()
	}
	if err != nil {
		cancel()
		return nil, err
	}
	return cancel, nil
}

// eventually retries f until it succeeds, for at most 20 s: slots come free when the
// server's handler has seen the cancellation, a moment after the client cancels.
func eventually(t *testing.T, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %v after 20s", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestStreamLimits: DoGet, DoPut and DoExchange streams are limited per principal and
// in all; over a limit the client gets ResourceExhausted naming the limit's flag,
// another principal is still served, and cancelled streams give their slots back.
func TestStreamLimits(t *testing.T) {
	_, cl, ctx := limitsServer(t, flightsql.Limits{StreamsPerClient: 2, Streams: 3, QueriesPerClient: 10, Queries: 10, QueueWait: 200 * time.Millisecond}, 0)
	var held []func()
	defer func() {
		for _, c := range held {
			c()
		}
	}()
	hold := func(user string) {
		t.Helper()
		cancel, err := holdQuery(ctx[user], cl)
		if err != nil {
			t.Fatalf("%s: %v", user, err)
		}
		held = append(held, cancel)
	}
	hold("alice")
	hold("alice")

	_, err := holdQuery(ctx["alice"], cl)
	wantStatus(t, err, codes.ResourceExhausted, "user alice", "--max-streams-per-client=2")
	// Every kind of stream counts.
	put, err := cl.Client.DoPut(ctx["alice"])
	if err == nil {
		_, err = put.Recv()
	}
	wantStatus(t, err, codes.ResourceExhausted, "--max-streams-per-client=2")
	ex, err := cl.Client.DoExchange(ctx["alice"])
	if err == nil {
		_, err = ex.Recv()
	}
	wantStatus(t, err, codes.ResourceExhausted, "--max-streams-per-client=2")

	// Another principal is served, up to the server's limit.
	hold("bob")
	_, err = holdQuery(ctx["bob"], cl)
	wantStatus(t, err, codes.ResourceExhausted, "--max-streams=3")
	// Unary calls are not streams.
	if _, err := cl.Execute(ctx["bob"], "SELECT 1"); err != nil {
		t.Fatalf("GetFlightInfo at the stream limit: %v", err)
	}

	// Cancelled streams give their slots back: after many, two are admitted again.
	for _, c := range held {
		c()
	}
	held = nil
	for i := range 10 {
		var cancel func()
		eventually(t, fmt.Sprintf("stream %d after cancelling", i), func() (err error) {
			cancel, err = holdQuery(ctx["alice"], cl)
			return err
		})
		cancel()
	}
	for range 2 {
		eventually(t, "alice's streams after cancelling", func() error {
			cancel, err := holdQuery(ctx["alice"], cl)
			if err == nil {
				held = append(held, cancel)
			}
			return err
		})
	}
	eventually(t, "bob's stream", func() error {
		cancel, err := holdQuery(ctx["bob"], cl)
		if err == nil {
			held = append(held, cancel)
		}
		return err
	})
}

// TestQueryLimits: SQL requests running in DuckDB (planning and streaming) are
// limited per principal and in all.
func TestQueryLimits(t *testing.T) {
	_, cl, ctx := limitsServer(t, flightsql.Limits{QueriesPerClient: 1, Queries: 2, QueueWait: 200 * time.Millisecond}, 0)
	cancelAlice, err := holdQuery(ctx["alice"], cl)
	if err != nil {
		t.Fatal(err)
	}
	defer cancelAlice()

	_, err = cl.Execute(ctx["alice"], "SELECT 1")
	wantStatus(t, err, codes.ResourceExhausted, "user alice", "concurrent SQL queries", "--max-queries-per-client=1")
	_, err = cl.Prepare(ctx["alice"], "SELECT 1")
	wantStatus(t, err, codes.ResourceExhausted, "--max-queries-per-client=1")

	cancelBob, err := holdQuery(ctx["bob"], cl)
	if err != nil {
		t.Fatalf("another principal: %v", err)
	}
	defer cancelBob()
	_, err = cl.Execute(ctx["carol"], "SELECT 1")
	wantStatus(t, err, codes.ResourceExhausted, "--max-queries=2")

	cancelAlice()
	eventually(t, "alice's query after cancelling", func() error {
		_, err := cl.Execute(ctx["alice"], "SELECT 1")
		return err
	})
}

// TestPreparedStatementLimits: prepared statements and the bytes of their bound
// parameters are limited per principal and in all, closing gives room back, and
// idle statements expire after the configured time.
func TestPreparedStatementLimits(t *testing.T) {
	const idle = 2 * time.Second
	_, cl, ctx := limitsServer(t, flightsql.Limits{PreparedPerClient: 2, BoundBytesPerClient: 768 << 10, BoundBytes: 1 << 20}, idle)
	a1, err := cl.Prepare(ctx["alice"], "SELECT length(?::VARCHAR) AS n")
	if err != nil {
		t.Fatal(err)
	}
	a2, err := cl.Prepare(ctx["alice"], "SELECT length(?::VARCHAR) AS n")
	if err != nil {
		t.Fatal(err)
	}
	_, err = cl.Prepare(ctx["alice"], "SELECT 1")
	wantStatus(t, err, codes.ResourceExhausted, "user alice", "prepared statements", "--max-prepared-per-client=2")
	b1, err := cl.Prepare(ctx["bob"], "SELECT length(?::VARCHAR) AS n")
	if err != nil {
		t.Fatalf("another principal: %v", err)
	}
	if err := a2.Close(ctx["alice"]); err != nil {
		t.Fatal(err)
	}
	if a2, err = cl.Prepare(ctx["alice"], "SELECT length(?::VARCHAR) AS n"); err != nil {
		t.Fatalf("after closing one: %v", err)
	}

	// 600 KiB of parameters fit a client's 768 KiB; a second 600 KiB does not.
	big := make([]any, 300)
	for i := range big {
		big[i] = strings.Repeat("x", 2048)
	}
	params := paramRecord(t, arrow.BinaryTypes.String, big...)
	a1.SetParameters(params)
	if _, err := a1.Execute(ctx["alice"]); err != nil {
		t.Fatalf("bind 600 KiB: %v", err)
	}
	a2.SetParameters(params)
	_, err = a2.Execute(ctx["alice"])
	wantStatus(t, err, codes.ResourceExhausted, "user alice", "--max-bound-bytes-per-client=786432")
	// Bob's 600 KiB would take the server past its 1 MiB.
	b1.SetParameters(params)
	_, err = b1.Execute(ctx["bob"])
	wantStatus(t, err, codes.ResourceExhausted, "--max-bound-bytes=1048576")
	// Rebinding a statement replaces its parameters: it holds no more than before.
	a1.SetParameters(paramRecord(t, arrow.BinaryTypes.String, "abc"))
	info, err := a1.Execute(ctx["alice"])
	if err != nil {
		t.Fatalf("rebind: %v", err)
	}
	rdr, err := cl.DoGet(ctx["alice"], info.Endpoint[0].Ticket)
	if err != nil {
		t.Fatal(err)
	}
	for rdr.Next() {
	}
	rdr.Release()
	b1.SetParameters(params)
	if _, err := b1.Execute(ctx["bob"]); err != nil {
		t.Fatalf("bob's bind once alice's parameters were replaced: %v", err)
	}

	// Idle statements expire: their slots come back and their handles are gone.
	time.Sleep(idle)
	eventually(t, "prepare after the idle statements expired", func() error {
		ps, err := cl.Prepare(ctx["alice"], "SELECT 1")
		if err == nil {
			ps.Close(ctx["alice"])
		}
		return err
	})
	_, err = a1.Execute(ctx["alice"])
	wantStatus(t, err, codes.NotFound, "unknown or expired")
}
