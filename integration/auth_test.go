package integration

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/apache/arrow-adbc/go/adbc"
	adbcflightsql "github.com/apache/arrow-adbc/go/adbc/driver/flightsql"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

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
	srv := startServerWith(t, t.TempDir(), memory.DefaultAllocator, auth.NewGuard(a, nil).ServerOptions()...)
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
	if _, _, err := adbcQuery(t, tok, "SELECT 1"); err == nil || adbcStatus(err) != adbc.StatusUnauthorized {
		// The token is restricted to sales*: it may not run SQL, whose tables the
		// server cannot check against the pattern.
		t.Errorf("restricted token SQL: %v, want unauthorized", err)
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
