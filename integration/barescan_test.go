package integration

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	fsql "github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/quiverdata/quiver/flightsql"
)

// sqlResult is what a client sees of one statement: the stream's schema (metadata
// and all), its rows rendered as JSON and sorted (a multiset), or the error's code
// and message.
type sqlResult struct {
	schema *arrow.Schema
	rows   []string
	err    string
}

// runSQL plans sql and reads its one endpoint with arrow-go's Flight SQL client.
func runSQL(t testing.TB, cl *fsql.Client, sql string) sqlResult {
	t.Helper()
	ctx := context.Background()
	info, err := cl.Execute(ctx, sql)
	if err != nil {
		return sqlResult{err: status.Convert(err).Code().String() + ": " + status.Convert(err).Message()}
	}
	return readResult(t, cl, info.Endpoint[0].Ticket)
}

// readResult reads one ticket as runSQL does.
func readResult(t testing.TB, cl *fsql.Client, ticket *flight.Ticket) sqlResult {
	t.Helper()
	return readResultCtx(context.Background(), t, cl, ticket)
}

// readResultCtx is readResult under ctx (a principal's).
func readResultCtx(ctx context.Context, t testing.TB, cl *fsql.Client, ticket *flight.Ticket) sqlResult {
	t.Helper()
	rdr, err := cl.DoGet(ctx, ticket)
	if err != nil {
		return sqlResult{err: status.Convert(err).Code().String() + ": " + status.Convert(err).Message()}
	}
	defer rdr.Release()
	res := sqlResult{schema: rdr.Schema()}
	for rdr.Next() {
		res.rows = append(res.rows, rowJSON(t, rdr.RecordBatch())...)
	}
	if err := rdr.Err(); err != nil {
		return sqlResult{err: status.Convert(err).Code().String() + ": " + status.Convert(err).Message()}
	}
	slices.Sort(res.rows)
	return res
}

// rowJSON renders each row of rec as one JSON array.
func rowJSON(t testing.TB, rec arrow.RecordBatch) []string {
	t.Helper()
	out := make([]string, rec.NumRows())
	for i := range out {
		row := make([]any, rec.NumCols())
		for j, c := range rec.Columns() {
			row[j] = c.GetOneForMarshal(i)
		}
		b, err := json.Marshal(row)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = string(b)
	}
	return out
}

// sameResult fails t unless got and want are the same result.
func sameResult(t testing.TB, what string, got, want sqlResult) {
	t.Helper()
	if got.err != want.err {
		t.Errorf("%s: error %q, want %q", what, got.err, want.err)
		return
	}
	if want.err != "" {
		return
	}
	if !got.schema.Equal(want.schema) {
		t.Errorf("%s: schema\n%s\nwant (DuckDB's)\n%s", what, got.schema, want.schema)
	}
	if !slices.Equal(got.rows, want.rows) {
		t.Errorf("%s: %d rows differ from DuckDB's %d; first %.300v, want %.300v", what, len(got.rows), len(want.rows), got.rows, want.rows)
	}
}

// bareScanDatasets puts the datasets the equality test reads and returns the SQL
// table names that must take the shortcut and those that must not (a type DuckDB
// gives back differently).
func bareScanDatasets(t testing.TB, srv *testServer) (takes, runsInDuckDB []string) {
	t.Helper()
	ctx := context.Background()
	c := srv.client(t)
	mem := memory.DefaultAllocator

	// Every stored type DuckDB gives back as stored, a row of nulls among them.
	all := allTypesRecord(t)
	defer all.Release()
	var fields []arrow.Field
	var cols []arrow.Array
	for i, f := range all.Schema().Fields() {
		if f.Name != "lstr" {
			fields, cols = append(fields, f), append(cols, all.Column(i))
		}
	}
	types := array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, all.NumRows())
	defer types.Release()
	putRecords(t, c, "types.parquet", types.Schema(), types)
	// large_string comes back from DuckDB as utf8: DuckDB runs it.
	putRecords(t, c, "alltypes.parquet", all.Schema(), all)

	// Several parts, and hive-style partitions.
	r1, r2, r3 := partRecord(mem, 0, 40), partRecord(mem, 40, 30), partRecord(mem, 70, 25)
	defer r1.Release()
	defer r2.Release()
	defer r3.Release()
	must(t, putWithHeaders(ctx, c, "parts.parquet", nil, r1))
	must(t, putWithHeaders(ctx, c, "parts.parquet", []string{"quiver-put-mode", "append"}, r2, r3))
	must(t, putWithHeaders(ctx, c, "hive", []string{"quiver-partition-by", "year"}, r1, r2))

	// Empty.
	empty := partRecord(mem, 0, 0)
	defer empty.Release()
	must(t, putWithHeaders(ctx, c, "empty.parquet", nil, empty))
	if onS3() {
		// On object storage the engine cannot attribute a hive dataset's scan to its
		// view (ReadTables: "reads through read_parquet"), which restricted grants
		// meet too; a statement it cannot attribute is never a bare scan.
		return []string{"types", "parts", "empty"}, []string{"alltypes", "hive"}
	}
	return []string{"types", "parts", "empty", "hive"}, []string{"alltypes"}
}

// A bare scan served from the dataset stream is, to the client, exactly what DuckDB
// sends: schema with its Flight SQL column metadata, and rows (as a multiset), for
// every stored type, several parts, hive partitions, no rows and nulls. With
// QUIVER_TEST_BACKEND=s3 the same on object storage.
func TestBareScanEqualsDuckDB(t *testing.T) {
	srv := startServer(t)
	takes, runsInDuckDB := bareScanDatasets(t, srv)
	cl := srv.sqlClient(t)
	q := srv.Service.SQL
	for _, table := range slices.Concat(takes, runsInDuckDB) {
		t.Run(table, func(t *testing.T) {
			sql := "SELECT * FROM " + table
			q.SetBareScans(false)
			want := runSQL(t, cl, sql)
			q.SetBareScans(true)
			before := q.BareScansServed()
			got := runSQL(t, cl, sql)
			served := q.BareScansServed() - before
			if want.err != "" {
				t.Fatalf("DuckDB: %s", want.err)
			}
			sameResult(t, sql, got, want)
			wantServed := int64(1)
			if slices.Contains(runsInDuckDB, table) {
				wantServed = 0
			}
			if served != wantServed {
				t.Errorf("%s: %d bare scans served, want %d", sql, served, wantServed)
			}
		})
	}
}

// Which statements take the shortcut, through the wire: every statement gives
// exactly what DuckDB gives (result or error), and only bare scans are counted.
func TestBareScanOnlyForBareScans(t *testing.T) {
	srv := startServer(t)
	ctx := context.Background()
	c := srv.client(t)
	r := partRecord(memory.DefaultAllocator, 0, 50)
	defer r.Release()
	must(t, putWithHeaders(ctx, c, "ev.parquet", nil, r))
	must(t, putWithHeaders(ctx, c, "other.parquet", nil, r))
	cl := srv.sqlClient(t)
	q := srv.Service.SQL
	cases := []struct {
		sql   string
		takes bool
	}{
		{"SELECT * FROM ev", true},
		{"select * from EV", true},
		{`SELECT * FROM "ev"`, true},
		{"SELECT * FROM main.ev", true},
		{"SELECT * FROM memory.main.ev", true},
		{"FROM ev", true},
		{"SELECT e.* FROM ev AS e", true},
		{"SELECT * FROM ev;", true},
		{"SELECT * FROM ev WHERE id > 3", false},
		{"SELECT * FROM ev LIMIT 5", false},
		{"SELECT * FROM ev ORDER BY id", false},
		{"SELECT DISTINCT * FROM ev", false},
		{"SELECT *, 1 FROM ev", false},
		{"SELECT * EXCLUDE (k) FROM ev", false},
		{"SELECT id, k, year, v FROM ev", false},
		{"SELECT e.* FROM ev e JOIN other o USING (id)", false},
		{"SELECT * FROM ev, other", false},
		{"SELECT * FROM ev TABLESAMPLE reservoir(5 ROWS) REPEATABLE (42)", false}, // repeatable: both runs sample alike
		{"WITH ev AS (SELECT 1 AS x) SELECT * FROM ev", false},
		{"SELECT * FROM (SELECT * FROM ev)", false},
		{"SELECT * FROM ev UNION ALL SELECT * FROM other", false},
		{"SELECT * FROM read_parquet('ev.parquet')", false},
		{"SELECT * FROM __quiver_mem.ev", false},
		{"SELECT * FROM ev; SELECT * FROM other", false},
		{"SELECT * FROM nothing", false},
		{"SELECT * FROM ev AS e(a, b, c, d)", false},
	}
	for _, c := range cases {
		t.Run(c.sql, func(t *testing.T) {
			q.SetBareScans(false)
			want := runSQL(t, cl, c.sql)
			q.SetBareScans(true)
			before := q.BareScansServed()
			got := runSQL(t, cl, c.sql)
			sameResult(t, c.sql, got, want)
			served := q.BareScansServed() - before
			if c.takes && (served != 1 || want.err != "") {
				t.Errorf("%s: %d bare scans served (DuckDB: %q), want 1", c.sql, served, want.err)
			}
			if !c.takes && served != 0 {
				t.Errorf("%s: %d bare scans served, want none", c.sql, served)
			}
		})
	}
	// The refusals stay what they were, planned or in a forged ticket (its handle is
	// the client's to write): the decision at DoGet never trusts the ticket.
	refusals := map[string]string{
		"SELECT * FROM __quiver_mem.ev":            "PermissionDenied: sql \"SELECT * FROM __quiver_mem.ev\": not allowed by Quiver's SQL sandbox: __quiver_mem (in \"__quiver_mem\") is internal to the server",
		"SELECT * FROM read_parquet('ev.parquet')": "PermissionDenied: sql \"SELECT * FROM read_parquet('ev.parquet')\": not allowed by Quiver's SQL sandbox: Cannot access file \"ev.parquet\" - file system operations are disabled by configuration",
		"SELECT * FROM ev; SELECT * FROM other":    "InvalidArgument: sql \"SELECT * FROM ev; SELECT * FROM other\": invalid SQL: 2 statements; multiple statements are not allowed",
		"SELECT * FROM nothing":                    "InvalidArgument: sql \"SELECT * FROM nothing\": invalid SQL: Table with name nothing does not exist!\nDid you mean \"other\"?",
	}
	for sql, want := range refusals {
		if got := runSQL(t, cl, sql).err; got != want {
			t.Errorf("planned %s: %q, want %q", sql, got, want)
		}
		handle, err := json.Marshal(map[string]string{"id": "forged", "sql": sql})
		if err != nil {
			t.Fatal(err)
		}
		before := q.BareScansServed()
		got := readResult(t, cl, &flight.Ticket{Ticket: statementTicket(t, string(handle))})
		if got.err != want {
			t.Errorf("forged ticket %s: %q, want %q", sql, got.err, want)
		}
		if n := q.BareScansServed() - before; n != 0 {
			t.Errorf("forged ticket %s: %d bare scans served", sql, n)
		}
	}
}

// bothWays reads ticket with the shortcut on and then off and fails t unless the
// client sees the same; it returns how many bare scans were served.
func bothWays(ctx context.Context, t testing.TB, srv *testServer, cl *fsql.Client, what string, ticket *flight.Ticket) (sqlResult, int64) {
	t.Helper()
	q := srv.Service.SQL
	before := q.BareScansServed()
	got := readResultCtx(ctx, t, cl, ticket)
	served := q.BareScansServed() - before
	q.SetBareScans(false)
	defer q.SetBareScans(true)
	want := readResultCtx(ctx, t, cl, ticket)
	sameResult(t, what, got, want)
	return got, served
}

// The version served is the one current at DoGet, never the one planned: a dataset
// replaced (same columns, other columns) or dropped after GetFlightInfo behaves as
// DuckDB does. Prepared statements without parameters take the shortcut too, under
// the schema they were prepared with; with parameters they run in DuckDB.
func TestBareScanVersionsAndPrepared(t *testing.T) {
	srv := startServer(t)
	ctx := context.Background()
	c := srv.client(t)
	mem := memory.DefaultAllocator
	put := func(recs ...arrow.RecordBatch) {
		t.Helper()
		putRecords(t, c, "ev.parquet", recs[0].Schema(), recs...)
		for _, r := range recs {
			r.Release()
		}
	}
	put(int64Record(mem, "id", 0, 50))
	cl := srv.sqlClient(t)

	plan := func() *flight.Ticket {
		t.Helper()
		info, err := cl.Execute(ctx, "SELECT * FROM ev")
		if err != nil {
			t.Fatal(err)
		}
		return info.Endpoint[0].Ticket
	}
	ps, err := cl.Prepare(ctx, "SELECT * FROM ev")
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close(ctx)
	prepared := func() *flight.Ticket {
		t.Helper()
		info, err := ps.Execute(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return info.Endpoint[0].Ticket
	}

	ticket, pticket := plan(), prepared()
	if res, n := bothWays(ctx, t, srv, cl, "as planned", ticket); n != 1 || len(res.rows) != 50 {
		t.Errorf("as planned: %d served, %d rows (%s); want 1, 50", n, len(res.rows), res.err)
	}
	if res, n := bothWays(ctx, t, srv, cl, "prepared", pticket); n != 1 || len(res.rows) != 50 {
		t.Errorf("prepared: %d served, %d rows (%s); want 1, 50", n, len(res.rows), res.err)
	}

	put(int64Record(mem, "id", 1000, 30)) // replaced after planning, same columns
	res, n := bothWays(ctx, t, srv, cl, "replaced", ticket)
	if n != 1 || len(res.rows) != 30 || res.rows[0] != "[1000]" {
		t.Errorf("replaced: %d served, rows %.60v (%s); want 1 and the 30 new rows", n, res.rows, res.err)
	}
	if res, n := bothWays(ctx, t, srv, cl, "prepared, replaced", pticket); n != 1 || len(res.rows) != 30 {
		t.Errorf("prepared, replaced: %d served, %d rows (%s); want 1, 30", n, len(res.rows), res.err)
	}

	put(int64Record(mem, "other", 7, 3)) // replaced with another column
	if res, n := bothWays(ctx, t, srv, cl, "other columns", ticket); n != 1 || res.schema == nil || res.schema.Field(0).Name != "other" {
		t.Errorf("other columns: %d served, %v (%s); want 1 and column other", n, res.schema, res.err)
	}
	// The prepared statement's schema no longer names the columns: DuckDB's answer
	// (which sends the new column under the prepared name), not the shortcut.
	if _, n := bothWays(ctx, t, srv, cl, "prepared, other columns", pticket); n != 0 {
		t.Errorf("prepared, other columns: %d served; want DuckDB to run it", n)
	}

	drop(t, c, "ev.parquet")
	if res, n := bothWays(ctx, t, srv, cl, "dropped", ticket); n != 0 || !strings.HasPrefix(res.err, "InvalidArgument:") {
		t.Errorf("dropped: %d served, %q; want 0 and InvalidArgument", n, res.err)
	}

	// With a parameter: DuckDB, once per bound row.
	put(int64Record(mem, "id", 0, 50))
	pp, err := cl.Prepare(ctx, "SELECT * FROM ev WHERE id = ?")
	if err != nil {
		t.Fatal(err)
	}
	defer pp.Close(ctx)
	params := int64Record(mem, "$1", 3, 1)
	defer params.Release()
	pp.SetParameters(params)
	info, err := pp.Execute(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res, n := bothWays(ctx, t, srv, cl, "with a parameter", info.Endpoint[0].Ticket); n != 0 || len(res.rows) != 1 {
		t.Errorf("with a parameter: %d served, %d rows (%s); want 0, 1", n, len(res.rows), res.err)
	}

	// Cancelled after planning: DuckDB's refusal.
	ticket = plan()
	info = &flight.FlightInfo{Endpoint: []*flight.FlightEndpoint{{Ticket: ticket}}}
	if _, err := cl.CancelFlightInfo(ctx, &flight.CancelFlightInfoRequest{Info: info}); err != nil {
		t.Fatal(err)
	}
	if res, n := bothWays(ctx, t, srv, cl, "cancelled", ticket); n != 0 || !strings.HasPrefix(res.err, "Canceled:") {
		t.Errorf("cancelled: %d served, %q; want 0 and Canceled", n, res.err)
	}
}

// A grant holds on the shortcut as on DuckDB: the guard checks the statement's
// tables before either path runs, and a forged ticket is no way around it.
func TestBareScanKeepsGrants(t *testing.T) {
	srv, ctxs := grantServer(t)
	cl := srv.sqlClient(t)
	q := srv.Service.SQL
	info, err := cl.Execute(ctxs["sales"], "SELECT * FROM sales")
	if err != nil {
		t.Fatal(err)
	}
	if res, n := bothWays(ctxs["sales"], t, srv, cl, "covered", info.Endpoint[0].Ticket); n != 1 || len(res.rows) != 3 {
		t.Errorf("covered: %d served, %d rows (%s); want 1, 3", n, len(res.rows), res.err)
	}
	if _, err := cl.Execute(ctxs["sales"], "SELECT * FROM payroll"); status.Code(err).String() != "PermissionDenied" {
		t.Errorf("planning an uncovered table: %v, want PermissionDenied", err)
	}
	handle, err := json.Marshal(map[string]string{"id": "forged", "sql": "SELECT * FROM payroll"})
	if err != nil {
		t.Fatal(err)
	}
	before := q.BareScansServed()
	res := readResultCtx(ctxs["sales"], t, cl, &flight.Ticket{Ticket: statementTicket(t, string(handle))})
	if !strings.HasPrefix(res.err, "PermissionDenied:") || !strings.Contains(res.err, "payroll") {
		t.Errorf("forged ticket for an uncovered table: %q, want PermissionDenied naming payroll", res.err)
	}
	if n := q.BareScansServed() - before; n != 0 {
		t.Errorf("forged ticket for an uncovered table: %d bare scans served", n)
	}
	// An admin reads it, by the shortcut.
	info, err = cl.Execute(ctxs["admin"], "SELECT * FROM payroll")
	if err != nil {
		t.Fatal(err)
	}
	if res, n := bothWays(ctxs["admin"], t, srv, cl, "admin", info.Endpoint[0].Ticket); n != 1 || len(res.rows) != 2 {
		t.Errorf("admin: %d served, %d rows (%s); want 1, 2", n, len(res.rows), res.err)
	}
}

// With the memory tier, a bare scan's stream is kept (apart from the plain DoGet's:
// its schema message is DuckDB's) and sent again as it is: a file corrupted in place
// under the same version is not read again. A new version is what the next scan
// reads.
func TestBareScanFromTheMemoryTier(t *testing.T) {
	if onS3() {
		t.Skip("corrupts a file of a local root")
	}
	srv := tierServer(t, 64<<20)
	c := srv.client(t)
	putRecords(t, c, "hot.parquet", eventSchema, numbered(t, 0, 20_000))
	cl := srv.sqlClient(t)
	q := srv.Service.SQL
	const sql = "SELECT * FROM hot"

	q.SetBareScans(false)
	want := runSQL(t, cl, sql)
	q.SetBareScans(true)
	before := q.BareScansServed()
	sameResult(t, "first bare scan", runSQL(t, cl, sql), want)
	if len(want.rows) != 20_000 {
		t.Fatalf("DuckDB read %d rows (%s), want 20000", len(want.rows), want.err)
	}

	corruptInPlace(t, filepath.Join(srv.Root, "hot.parquet"))
	sameResult(t, "kept bare scan", runSQL(t, cl, sql), want)
	if n := q.BareScansServed() - before; n != 2 {
		t.Errorf("%d bare scans served, want 2", n)
	}

	putRecords(t, c, "hot.parquet", eventSchema, numbered(t, 500_000, 10))
	got := runSQL(t, cl, sql)
	q.SetBareScans(false)
	want = runSQL(t, cl, sql)
	q.SetBareScans(true)
	sameResult(t, "new version", got, want)
	if len(got.rows) != 10 || !strings.HasPrefix(got.rows[0], "[500000,") {
		t.Errorf("new version: rows %.80v (%s), want the 10 new rows", got.rows, got.err)
	}
}

// A bare scan is bound by the query timeout as DuckDB's path is: a client too slow to
// read it within --query-timeout gets DeadlineExceeded naming the timeout, from the
// decoded stream and from the memory tier's kept one.
func TestBareScanQueryTimeout(t *testing.T) {
	// Long enough for the first, fast read under -race on a busy machine.
	const timeout = time.Second
	srv := startServerOpts(t, t.TempDir(), memory.DefaultAllocator, harnessOptions{
		service: func(c *flightsql.ServiceConfig) {
			c.Engine.QueryTimeout = timeout
			c.MemoryTier = 256 << 20
		},
	})
	rec := int64Record(memory.DefaultAllocator, "id", 0, 1<<20)
	putRecords(t, srv.client(t), "big.parquet", rec.Schema(), rec)
	rec.Release()
	// A small receive window: the server cannot send ahead of the reader.
	cl, err := fsql.NewClient(srv.Addr, nil, nil, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithInitialWindowSize(64<<10), grpc.WithInitialConnWindowSize(64<<10))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	q := srv.Service.SQL
	slowRead := func() (int64, error) {
		info, err := cl.Execute(ctx, "SELECT * FROM big")
		if err != nil {
			return 0, err
		}
		rdr, err := cl.DoGet(ctx, info.Endpoint[0].Ticket)
		if err != nil {
			return 0, err
		}
		defer rdr.Release()
		var rows int64
		for rdr.Next() {
			if rows == 0 {
				time.Sleep(timeout + time.Second)
			}
			rows += rdr.RecordBatch().NumRows()
		}
		return rows, rdr.Err()
	}
	// Fast, the whole stream arrives, and the tier keeps it.
	info, err := cl.Execute(ctx, "SELECT * FROM big")
	if err != nil {
		t.Fatal(err)
	}
	rdr, err := cl.DoGet(ctx, info.Endpoint[0].Ticket)
	if err != nil {
		t.Fatal(err)
	}
	if rows, err := drainRows(rdr); err != nil || rows != 1<<20 {
		t.Fatalf("a fast read: %d rows, %v", rows, err)
	}
	for _, c := range []struct {
		name string
		bare bool
	}{{"kept stream", true}, {"DuckDB", false}} {
		q.SetBareScans(c.bare)
		before := q.BareScansServed()
		rows, err := slowRead()
		t.Logf("%s: %d rows, then %v", c.name, rows, err)
		wantStatus(t, err, codes.DeadlineExceeded, "query timeout")
		if rows >= 1<<20 {
			t.Errorf("%s: all rows arrived", c.name)
		}
		if n := q.BareScansServed() - before; (n == 1) != c.bare {
			t.Errorf("%s: %d bare scans served", c.name, n)
		}
	}
	q.SetBareScans(true)
	// The decoded stream: the tier's entry gone with a new version.
	rec = int64Record(memory.DefaultAllocator, "id", 5, 1<<20)
	putRecords(t, srv.client(t), "big.parquet", rec.Schema(), rec)
	rec.Release()
	rows, err := slowRead()
	t.Logf("decoded: %d rows, then %v", rows, err)
	wantStatus(t, err, codes.DeadlineExceeded, "query timeout")
}

// A version the plain reader fails on after its first batch (here a later part
// corrupted in place, size and time kept) fails that one stream; every later bare
// scan of the version runs in DuckDB, which answers as it would have.
func TestBareScanRemembersUnreadableVersions(t *testing.T) {
	if onS3() {
		t.Skip("corrupts a file of a local root")
	}
	srv := startServer(t)
	c := srv.client(t)
	ctx := context.Background()
	putRecords(t, c, "ev.parquet", eventSchema, numbered(t, 0, 20_000))
	must(t, tryPut(metadata.AppendToOutgoingContext(ctx, "quiver-put-mode", "append"), c, "ev.parquet", eventSchema, numbered(t, 20_000, 20_000)))
	info, err := srv.Store.Stat(ctx, "ev.parquet")
	if err != nil || len(info.Files) != 2 {
		t.Fatalf("ev.parquet: %d parts, %v; want 2", len(info.Files), err)
	}
	corruptInPlace(t, info.Files[1])

	cl := srv.sqlClient(t)
	q := srv.Service.SQL
	before := q.BareScansServed()
	first := runSQL(t, cl, "SELECT * FROM ev")
	if !strings.Contains(first.err, "ev.parquet") || q.BareScansServed()-before != 1 {
		t.Fatalf("first scan: %d served, error %q; want 1 and the part's error", q.BareScansServed()-before, first.err)
	}
	info2, _ := cl.Execute(ctx, "SELECT * FROM ev")
	if _, n := bothWays(ctx, t, srv, cl, "after a failed stream", info2.Endpoint[0].Ticket); n != 0 {
		t.Errorf("after a failed stream: %d bare scans served, want DuckDB to run it", n)
	}
}
