package integration

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-adbc/go/adbc"
	adbcflightsql "github.com/apache/arrow-adbc/go/adbc/driver/flightsql"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	pb "github.com/apache/arrow-go/v18/arrow/flight/gen/flight"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/quiverdata/quiver/flightsql/auth"
)

// authServer starts a server that requires authentication: users reader (read),
// writer (write) with password "pw-<name>", and a static read token for sales*
// datasets only, which it returns.
func authServer(t *testing.T) (*testServer, string) {
	t.Helper()
	readerHash, err := auth.HashPassword("pw-reader", 4)
	if err != nil {
		t.Fatal(err)
	}
	writerHash, err := auth.HashPassword("pw-writer", 4)
	if err != nil {
		t.Fatal(err)
	}
	token, tokenHash, err := auth.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	f := &auth.File{
		Users: []auth.UserEntry{
			{Name: "reader", PasswordHash: readerHash, Permission: "read"},
			{Name: "writer", PasswordHash: writerHash, Permission: "write"},
		},
		Tokens: []auth.TokenEntry{{Name: "dashboards", TokenHash: tokenHash, Permission: "read", Datasets: []string{"sales*"}}},
	}
	a, err := auth.New(f, auth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := startServerOpts(t, t.TempDir(), memory.DefaultAllocator, harnessOptions{guard: auth.NewGuard(a, nil)})
	return srv, token
}

func adbcStatus(err error) adbc.Status {
	var ae adbc.Error
	if errors.As(err, &ae) {
		return ae.Code
	}
	return adbc.StatusUnknown
}

func TestAuthWithRealClients(t *testing.T) {
	srv, token := authServer(t)
	ctx := context.Background()

	// ADBC with username and password (Flight handshake, HTTP Basic → bearer token).
	writer := srv.adbcConn(t, map[string]string{adbc.OptionKeyUsername: "writer", adbc.OptionKeyPassword: "pw-writer"})
	if _, err := adbcIngest(t, writer, "sales", adbc.OptionValueIngestModeCreate, nil, events(t, 1, 2, 3, 4, 5)); err != nil {
		t.Fatalf("writer ingest: %v", err)
	}
	if _, recs, err := adbcQuery(t, writer, "SELECT count(*)::BIGINT FROM sales"); err != nil || int64s(recs, 0)[0] != 5 {
		t.Fatalf("writer query: %v %v", int64s(recs, 0), err)
	}

	// A reader may query but not ingest.
	reader := srv.adbcConn(t, map[string]string{adbc.OptionKeyUsername: "reader", adbc.OptionKeyPassword: "pw-reader"})
	if _, _, err := adbcQuery(t, reader, "SELECT count(*) FROM sales"); err != nil {
		t.Fatalf("reader query: %v", err)
	}
	if _, err := adbcIngest(t, reader, "sales", adbc.OptionValueIngestModeAppend, nil, events(t, 6)); adbcStatus(err) != adbc.StatusUnauthorized {
		t.Errorf("reader ingest: %v, want unauthorized", err)
	}

	// ADBC with an authorization header carrying a static token.
	tok := srv.adbcConn(t, map[string]string{adbcflightsql.OptionAuthorizationHeader: "Bearer " + token})
	if _, recs, err := adbcQuery(t, tok, "SELECT count(*)::BIGINT FROM sales"); err != nil || int64s(recs, 0)[0] != 5 {
		t.Errorf("restricted token query of sales: %v %v", int64s(recs, 0), err)
	}

	// The arrow-go Flight client with the token: sales.parquet is visible, others not.
	c := srv.client(t)
	tctx := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
	if _, err := c.GetFlightInfo(tctx, pathDescriptor("sales.parquet")); err != nil {
		t.Errorf("token GetFlightInfo(sales.parquet): %v", err)
	}
	_, err := c.GetFlightInfo(tctx, pathDescriptor("other.parquet"))
	if status.Code(err) != codes.PermissionDenied {
		t.Errorf("token GetFlightInfo(other.parquet): %v, want PermissionDenied", err)
	}

	// Wrong password and no credentials.
	drv := adbcflightsql.NewDriver(memory.DefaultAllocator)
	db, err := drv.NewDatabase(map[string]string{adbc.OptionKeyURI: "grpc://" + srv.Addr, adbc.OptionKeyUsername: "writer", adbc.OptionKeyPassword: "nope"})
	if err == nil {
		var cn adbc.Connection
		cn, err = db.Open(ctx)
		if err == nil {
			cn.Close()
		}
		db.Close()
	}
	if err == nil || !strings.Contains(strings.ToLower(err.Error()), "unauth") {
		t.Errorf("wrong password: %v, want unauthenticated", err)
	}
	_, err = c.GetFlightInfo(ctx, pathDescriptor("sales.parquet"))
	if status.Code(err) != codes.Unauthenticated {
		t.Errorf("no credentials: %v, want Unauthenticated", err)
	}
	// Plain Flight drop needs write.
	actions, err := c.DoAction(tctx, &flight.Action{Type: "drop_dataset", Body: []byte("sales.parquet")})
	if err == nil {
		_, err = actions.Recv()
	}
	if status.Code(err) != codes.PermissionDenied {
		t.Errorf("read token drop: %v, want PermissionDenied", err)
	}
}

func TestCLIWithCredentials(t *testing.T) {
	srv, token := authServer(t)
	writer := srv.adbcConn(t, map[string]string{adbc.OptionKeyUsername: "writer", adbc.OptionKeyPassword: "pw-writer"})
	if _, err := adbcIngest(t, writer, "sales", adbc.OptionValueIngestModeCreate, nil, events(t, 1, 2, 3)); err != nil {
		t.Fatalf("writer ingest: %v", err)
	}
	dir := t.TempDir()

	if r := srv.quiver(t, dir, nil, "ls", "--format", "csv"); r.code == 0 {
		t.Errorf("ls without credentials succeeded: %q", r.stdout)
	}
	r := srv.quiver(t, dir, nil, "ls", "--format", "csv", "--token", token)
	if r.code != 0 || !strings.Contains(r.stdout, "sales.parquet") {
		t.Errorf("ls --token: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	r = srv.quiverEnv(t, dir, []string{"QUIVER_PASSWORD=pw-reader"}, "sql", "SELECT count(*) AS n FROM sales", "--format", "csv", "--user", "reader")
	if r.code != 0 || r.stdout != "n\n3\n" {
		t.Errorf("sql --user reader: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

// TestRestrictedGrantSQL: a token restricted to sales* runs SQL over the sales*
// datasets only, whatever the statement's shape, and lists only them.
func TestRestrictedGrantSQL(t *testing.T) {
	skipOnS3(t, "reads a dataset's file by its path with read_parquet, which has no path into a bucket")
	srv, token := authServer(t)
	writer := srv.adbcConn(t, map[string]string{adbc.OptionKeyUsername: "writer", adbc.OptionKeyPassword: "pw-writer"})
	for name, ids := range map[string][]int64{"sales": {1, 2, 3}, "sales_eu": {2, 3, 4}, "other": {7, 8}} {
		if _, err := adbcIngest(t, writer, name, adbc.OptionValueIngestModeCreate, nil, events(t, ids...)); err != nil {
			t.Fatalf("ingest %s: %v", name, err)
		}
	}
	tok := srv.adbcConn(t, map[string]string{adbcflightsql.OptionAuthorizationHeader: "Bearer " + token})
	reader := srv.adbcConn(t, map[string]string{adbc.OptionKeyUsername: "reader", adbc.OptionKeyPassword: "pw-reader"})
	otherFile := filepath.Join(srv.Root, "other.parquet")

	allowed := []struct {
		sql  string
		want int64 // count(*)
	}{
		{"SELECT count(*)::BIGINT FROM sales", 3},
		{"SELECT count(*)::BIGINT FROM sales JOIN sales_eu USING (id)", 2},
		{"SELECT count(*)::BIGINT FROM (SELECT id FROM sales UNION SELECT id FROM main.sales_eu)", 4},
		{"WITH other AS (SELECT * FROM sales) SELECT count(*)::BIGINT FROM other", 3},
		{"SELECT count(*)::BIGINT FROM sales WHERE id IN (SELECT id FROM sales_eu)", 2},
	}
	for _, c := range allowed {
		if _, recs, err := adbcQuery(t, tok, c.sql); err != nil || int64s(recs, 0)[0] != c.want {
			t.Errorf("token: %s = %v, %v; want %d", c.sql, int64s(recs, 0), err, c.want)
		}
	}
	// A prepared statement, checked when it is created.
	if _, rows, err := adbcQueryWith(t, tok, "SELECT name FROM sales WHERE id = ?", int64Params(t, 2)); err != nil || len(rows) != 1 || rows[0] != "e2" {
		t.Errorf("token prepared over sales: %q, %v", rows, err)
	}

	refused := []string{
		"SELECT * FROM other",
		"SELECT * FROM sales JOIN other USING (id)",
		"SELECT * FROM sales WHERE id IN (SELECT id FROM other)",
		"SELECT * FROM read_parquet('" + otherFile + "')",
		"SELECT * FROM '" + otherFile + "'",
		"WITH sales AS (SELECT * FROM other) SELECT * FROM sales",
		"SELECT * FROM duckdb_tables",
		"SHOW TABLES",
	}
	for _, sql := range refused {
		if _, _, err := adbcQuery(t, tok, sql); adbcStatus(err) != adbc.StatusUnauthorized {
			t.Errorf("token: %s: %v, want unauthorized", sql, err)
		}
		if _, _, err := adbcQueryWith(t, tok, sql, nil); adbcStatus(err) != adbc.StatusUnauthorized {
			t.Errorf("token prepared: %s: %v, want unauthorized", sql, err)
		}
	}
	if _, _, err := adbcQuery(t, tok, "SELECT * FROM other"); err == nil || !strings.Contains(err.Error(), `table "other" is not a dataset the grant covers`) {
		t.Errorf("refusal does not name the table: %v", err)
	}

	// A statement ticket carries its SQL: a forged one is checked like a query.
	c := srv.client(t)
	tctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+token)
	forged, err := anypb.New(&pb.TicketStatementQuery{StatementHandle: []byte(`{"id":"x","sql":"SELECT * FROM other"}`)})
	if err != nil {
		t.Fatal(err)
	}
	ticket, err := proto.Marshal(forged)
	if err != nil {
		t.Fatal(err)
	}
	st, err := c.DoGet(tctx, &flight.Ticket{Ticket: ticket})
	if err == nil {
		_, err = st.Recv()
	}
	if status.Code(err) != codes.PermissionDenied {
		t.Errorf("forged statement ticket: %v, want PermissionDenied", err)
	}

	// Listings: the token sees sales*, the unrestricted reader everything.
	if got, want := getObjects(t, tok, adbc.ObjectDepthTables, nil), []string{"memory", "memory.main", "memory.main.sales (TABLE)", "memory.main.sales_eu (TABLE)"}; !slices.Equal(got, want) {
		t.Errorf("token GetObjects = %q, want %q", got, want)
	}
	if got := getObjects(t, reader, adbc.ObjectDepthTables, nil); !slices.Contains(got, "memory.main.other (TABLE)") || len(got) != 5 {
		t.Errorf("reader GetObjects = %q, want all three tables", got)
	}
	// Unrestricted grants are as before, table functions included.
	for _, sql := range []string{"SELECT count(*)::BIGINT FROM other", "SELECT count(*)::BIGINT FROM read_parquet('" + otherFile + "')"} {
		if _, recs, err := adbcQuery(t, reader, sql); err != nil || int64s(recs, 0)[0] != 2 {
			t.Errorf("reader: %s = %v, %v", sql, int64s(recs, 0), err)
		}
	}
}

// int64Params is one row of one BIGINT parameter.
func int64Params(t testing.TB, v int64) arrow.RecordBatch {
	t.Helper()
	b := array.NewRecordBuilder(memory.DefaultAllocator, arrow.NewSchema([]arrow.Field{{Name: "p", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil))
	defer b.Release()
	b.Field(0).(*array.Int64Builder).Append(v)
	rec := b.NewRecordBatch()
	t.Cleanup(rec.Release)
	return rec
}

// A prepared statement's handle belongs to the principal that prepared it: another
// principal presenting it is told it is unknown.
func TestPreparedHandleBelongsToItsPrincipal(t *testing.T) {
	srv, _ := authServer(t)
	ctx := context.Background()
	c := srv.sqlClient(t)
	writerCtx, err := c.Client.AuthenticateBasicToken(ctx, "writer", "pw-writer")
	if err != nil {
		t.Fatal(err)
	}
	readerCtx, err := c.Client.AuthenticateBasicToken(ctx, "reader", "pw-reader")
	if err != nil {
		t.Fatal(err)
	}
	stmt, err := c.Prepare(writerCtx, "SELECT 42 AS answer")
	if err != nil {
		t.Fatal(err)
	}
	// The reader replays the writer's handle.
	cmd := &flight.FlightDescriptor{Type: flight.DescriptorCMD}
	any, err := anypb.New(&pb.CommandPreparedStatementQuery{PreparedStatementHandle: stmt.Handle()})
	if err != nil {
		t.Fatal(err)
	}
	if cmd.Cmd, err = proto.Marshal(any); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Client.GetFlightInfo(readerCtx, cmd); status.Code(err) != codes.NotFound {
		t.Errorf("another principal's handle: %v, want NotFound", err)
	}
	info, err := stmt.Execute(writerCtx)
	if err != nil {
		t.Fatalf("owner's handle: %v", err)
	}
	if len(info.Endpoint) != 1 {
		t.Fatalf("endpoints = %d", len(info.Endpoint))
	}
	if err := stmt.Close(writerCtx); err != nil {
		t.Fatal(err)
	}
}
