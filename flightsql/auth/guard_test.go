package auth_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	pb "github.com/apache/arrow-go/v18/arrow/flight/gen/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"golang.org/x/crypto/bcrypt"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/quiverdata/quiver/catalog"
	"github.com/quiverdata/quiver/flightsql"
	"github.com/quiverdata/quiver/flightsql/auth"
)

// The Guard is tested in front of the real plain Flight server, with a fake Flight
// SQL server behind it that says yes to everything: what comes back is the Guard's
// verdict (or the plain Flight handler's answer once the Guard let a request by).

// fakeSQL accepts every Flight SQL request. It records who asked for FlightInfos.
// fakeTables knows the tables of a few statements, as the engine would tell them,
// and the datasets: sales.parquet, sales_eu.parquet, marketing.parquet and the
// hand-copied payroll (no suffix).
type fakeTables struct{}

// notCoveredError is what the engine returns for a table covered refused.
type notCoveredError struct{ table string }

func (e notCoveredError) Error() string {
	return "table " + e.table + " is not a dataset the grant covers"
}
func (e notCoveredError) NotCoveredTable() string { return e.table }

func (f fakeTables) ReadTables(ctx context.Context, sql string, covered func(string) bool) ([]string, error) {
	var tables []string
	switch sql {
	case "SELECT 1":
	case "SELECT * FROM sales":
		tables = []string{"sales"}
	case "SELECT * FROM sales JOIN sales_eu USING (id)":
		tables = []string{"sales", "sales_eu"}
	case "SELECT * FROM marketing", "WITH sales AS (SELECT * FROM marketing) SELECT * FROM sales":
		tables = []string{"marketing"}
	case "SELECT * FROM sales JOIN marketing USING (id)":
		tables = []string{"marketing", "sales"}
	case "SELECT * FROM payroll":
		tables = []string{"payroll"}
	case "SELECT * FROM nosuch":
		tables = []string{"nosuch"}
	default:
		return nil, errors.New("cannot tell which datasets the statement reads: table function read_parquet")
	}
	var out []string
	for _, t := range tables {
		d, exists, _ := f.DatasetForTable(ctx, t)
		if !exists || !covered(d) {
			return nil, notCoveredError{t}
		}
		out = append(out, d)
	}
	return out, nil
}

func (fakeTables) DatasetForTable(_ context.Context, table string) (string, bool, error) {
	switch table {
	case "sales", "sales_eu", "marketing":
		return table + ".parquet", true, nil
	case "payroll":
		return "payroll", true, nil
	}
	return table + ".parquet", false, nil
}

type fakeSQL struct {
	flight.BaseFlightServer
	mu   sync.Mutex
	seen []string // principal names, in order
}

func (f *fakeSQL) GetFlightInfo(ctx context.Context, _ *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	p, ok := auth.FromContext(ctx)
	if !ok {
		return nil, status.Error(codes.Internal, "no principal in the context")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seen = append(f.seen, p.Name)
	return &flight.FlightInfo{}, nil
}

func (f *fakeSQL) principals() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.seen)
}

func (*fakeSQL) PollFlightInfo(context.Context, *flight.FlightDescriptor) (*flight.PollInfo, error) {
	return &flight.PollInfo{}, nil
}

func (*fakeSQL) GetSchema(context.Context, *flight.FlightDescriptor) (*flight.SchemaResult, error) {
	return &flight.SchemaResult{}, nil
}

func (*fakeSQL) DoGet(*flight.Ticket, flight.FlightService_DoGetServer) error { return nil }

func (*fakeSQL) DoPut(stream flight.FlightService_DoPutServer) error {
	for {
		if _, err := stream.Recv(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

func (*fakeSQL) DoAction(*flight.Action, flight.FlightService_DoActionServer) error { return nil }

func (*fakeSQL) ListActions(_ *flight.Empty, stream flight.FlightService_ListActionsServer) error {
	for _, typ := range []string{"CreatePreparedStatement", "ClosePreparedStatement", "CancelFlightInfo"} {
		if err := stream.Send(&flight.ActionType{Type: typ}); err != nil {
			return err
		}
	}
	return nil
}

// lockedBuffer is a log sink the server writes while the test reads.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Credentials of the test's auth file.
const (
	writerPassword = "w-Pa55word-Secret"
	adminPassword  = "a-Pa55word-Secret"
)

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *testClock) Add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

type guardedServer struct {
	addr    string
	sql     *fakeSQL
	logs    *lockedBuffer
	clock   *testClock
	secrets []string          // every password and token of the test, to look for in logs
	tokens  map[string]string // static tokens by name
}

// startGuarded runs the plain Flight server with the fake Flight SQL server behind a
// Guard. Its auth file: user "writer" (write), user "admin" (admin); static tokens
// "reader" (read), "admin" (admin), "sales" (write on sales*), "old" (expired).
func startGuarded(t *testing.T) *guardedServer {
	t.Helper()
	gsrv := &guardedServer{logs: &lockedBuffer{}, clock: &testClock{t: time.Now()}, tokens: map[string]string{}, sql: &fakeSQL{}}
	f := &auth.File{}
	for _, u := range []struct{ name, pw, perm string }{{"writer", writerPassword, "write"}, {"admin", adminPassword, "admin"}} {
		h, err := auth.HashPassword(u.pw, bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		f.Users = append(f.Users, auth.UserEntry{Name: u.name, PasswordHash: h, Permission: u.perm})
		gsrv.secrets = append(gsrv.secrets, u.pw)
	}
	for _, tk := range []struct {
		name, perm string
		datasets   []string
		expires    time.Time
	}{
		{"reader", "read", nil, time.Time{}},
		{"admin", "admin", nil, time.Time{}},
		{"sales", "write", []string{"sales*"}, time.Time{}},
		{"old", "admin", nil, gsrv.clock.Now().Add(-time.Minute)},
	} {
		tok, hash, err := auth.NewToken()
		if err != nil {
			t.Fatal(err)
		}
		f.Tokens = append(f.Tokens, auth.TokenEntry{Name: tk.name, TokenHash: hash, Permission: tk.perm, Datasets: tk.datasets, Expires: tk.expires})
		gsrv.tokens[tk.name] = tok
		gsrv.secrets = append(gsrv.secrets, tok)
	}
	a, err := auth.New(f, auth.Options{TokenTTL: time.Hour, Now: gsrv.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(gsrv.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	store, err := catalog.Open(t.TempDir(), catalog.Options{Allocator: mem, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() }) // stops the converter of landed puts
	srv, err := flightsql.NewServer(flightsql.Config{Store: store, SQL: gsrv.sql, Allocator: mem, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	guard := auth.NewGuard(a, log)
	guard.SetTableReader(fakeTables{})
	gs := grpc.NewServer(append(flightsql.GRPCOptions(64<<20), guard.ServerOptions()...)...)
	srv.Register(gs)
	healthpb.RegisterHealthServer(gs, health.NewServer())
	done := make(chan struct{})
	go func() { defer close(done); gs.Serve(lis) }()
	t.Cleanup(func() {
		gs.Stop()
		<-done
		mem.AssertSize(t, 0)
	})
	gsrv.addr = lis.Addr().String()
	return gsrv
}

func (s *guardedServer) client(t *testing.T) flight.Client {
	t.Helper()
	c, err := flight.NewClientWithMiddlewareCtx(context.Background(), s.addr, nil, nil,
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func bearer(ctx context.Context, tok string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
}

// login runs the basic-auth handshake with arrow-go's client.
func login(t *testing.T, c flight.Client, user, pw string) context.Context {
	t.Helper()
	ctx, err := c.AuthenticateBasicToken(context.Background(), user, pw)
	if err != nil {
		t.Fatalf("login %s: %v", user, err)
	}
	return ctx
}

var testSchema = arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64}}, nil)

// call is one request; it returns the request's final error (nil for success).
type call func(ctx context.Context, c flight.Client) error

func drain[T any](recv func() (T, error)) error {
	for {
		if _, err := recv(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

func listFlights(ctx context.Context, c flight.Client) ([]string, error) {
	st, err := c.ListFlights(ctx, &flight.Criteria{})
	if err != nil {
		return nil, err
	}
	var names []string
	for {
		info, err := st.Recv()
		if errors.Is(err, io.EOF) {
			return names, nil
		}
		if err != nil {
			return names, err
		}
		names = append(names, info.GetFlightDescriptor().GetPath()...)
	}
}

func path(name string) *flight.FlightDescriptor {
	return &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{name}}
}

func cmd(m proto.Message) *flight.FlightDescriptor {
	a, err := anypb.New(m)
	if err != nil {
		panic(err)
	}
	b, err := proto.Marshal(a)
	if err != nil {
		panic(err)
	}
	return &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: b}
}

func getFlightInfo(d *flight.FlightDescriptor) call {
	return func(ctx context.Context, c flight.Client) error { _, err := c.GetFlightInfo(ctx, d); return err }
}

func pollFlightInfo(d *flight.FlightDescriptor) call {
	return func(ctx context.Context, c flight.Client) error { _, err := c.PollFlightInfo(ctx, d); return err }
}

func getSchema(d *flight.FlightDescriptor) call {
	return func(ctx context.Context, c flight.Client) error { _, err := c.GetSchema(ctx, d); return err }
}

func doGet(ticket []byte) call {
	return func(ctx context.Context, c flight.Client) error {
		st, err := c.DoGet(ctx, &flight.Ticket{Ticket: ticket})
		if err != nil {
			return err
		}
		return drain(st.Recv)
	}
}

func doPut(d *flight.FlightDescriptor) call {
	return func(ctx context.Context, c flight.Client) error {
		st, err := c.DoPut(ctx)
		if err != nil {
			return err
		}
		w := flight.NewRecordWriter(st, ipc.WithSchema(testSchema))
		w.SetFlightDescriptor(d)
		b := array.NewInt64Builder(memory.DefaultAllocator)
		defer b.Release()
		b.AppendValues([]int64{1, 2, 3}, nil)
		col := b.NewArray()
		defer col.Release()
		rec := array.NewRecordBatch(testSchema, []arrow.Array{col}, 3)
		defer rec.Release()
		// A refused upload may fail the writes (the server hung up): the verdict
		// is in the stream's status below.
		_ = w.Write(rec)
		_ = w.Close()
		_ = st.CloseSend()
		return drain(st.Recv)
	}
}

func doAction(typ, body string) call {
	return func(ctx context.Context, c flight.Client) error {
		st, err := c.DoAction(ctx, &flight.Action{Type: typ, Body: []byte(body)})
		if err != nil {
			return err
		}
		return drain(st.Recv)
	}
}

func ticket(m proto.Message) []byte { return cmd(m).GetCmd() }

// putAs uploads a dataset as admin.
func (s *guardedServer) putAs(t *testing.T, c flight.Client, name string) {
	t.Helper()
	if err := doPut(path(name))(bearer(context.Background(), s.tokens["admin"]), c); err != nil {
		t.Fatalf("put %s: %v", name, err)
	}
}

func TestGuardDecidesEveryRequestFamily(t *testing.T) {
	s := startGuarded(t)
	c := s.client(t)
	s.putAs(t, c, "sales.parquet")
	s.putAs(t, c, "marketing.parquet")

	writerCtx := login(t, c, "writer", writerPassword)
	principals := []struct {
		name string
		ctx  context.Context
	}{
		{"reader", bearer(context.Background(), s.tokens["reader"])},
		{"writer", writerCtx},
		{"admin", bearer(context.Background(), s.tokens["admin"])},
		{"sales-only", bearer(context.Background(), s.tokens["sales"])},
	}
	const (
		ok     = codes.OK
		denied = codes.PermissionDenied
	)
	cases := []struct {
		name string
		call call
		// want is the code for reader, writer, admin and the writer on sales* only.
		want [4]codes.Code
	}{
		{"ListFlights", func(ctx context.Context, c flight.Client) error { _, err := listFlights(ctx, c); return err }, [4]codes.Code{ok, ok, ok, ok}},
		{"ListActions", func(ctx context.Context, c flight.Client) error {
			st, err := c.ListActions(ctx, &flight.Empty{})
			if err != nil {
				return err
			}
			return drain(st.Recv)
		}, [4]codes.Code{ok, ok, ok, ok}},
		{"GetFlightInfo covered dataset", getFlightInfo(path("sales.parquet")), [4]codes.Code{ok, ok, ok, ok}},
		{"GetFlightInfo other dataset", getFlightInfo(path("marketing.parquet")), [4]codes.Code{ok, ok, ok, denied}},
		{"GetFlightInfo two-element path", getFlightInfo(&flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{"a", "b"}}), [4]codes.Code{codes.InvalidArgument, codes.InvalidArgument, codes.InvalidArgument, denied}},
		{"PollFlightInfo covered dataset", pollFlightInfo(path("sales.parquet")), [4]codes.Code{ok, ok, ok, ok}},
		{"PollFlightInfo other dataset", pollFlightInfo(path("marketing.parquet")), [4]codes.Code{ok, ok, ok, denied}},
		{"GetSchema covered dataset", getSchema(path("sales.parquet")), [4]codes.Code{ok, ok, ok, ok}},
		{"GetSchema other dataset", getSchema(path("marketing.parquet")), [4]codes.Code{ok, ok, ok, denied}},
		{"DoGet covered dataset", doGet([]byte("sales.parquet")), [4]codes.Code{ok, ok, ok, ok}},
		{"DoGet other dataset", doGet([]byte("marketing.parquet")), [4]codes.Code{ok, ok, ok, denied}},
		{"DoPut PATH covered", doPut(path("sales-new.parquet")), [4]codes.Code{denied, ok, ok, ok}},
		{"DoPut PATH other", doPut(path("marketing-new.parquet")), [4]codes.Code{denied, ok, ok, denied}},
		{"drop_dataset covered", doAction("drop_dataset", "sales-gone.parquet"), [4]codes.Code{denied, codes.NotFound, codes.NotFound, codes.NotFound}},
		{"drop_dataset other", doAction("drop_dataset", "marketing-gone.parquet"), [4]codes.Code{denied, codes.NotFound, codes.NotFound, denied}},
		{"DoExchange", func(ctx context.Context, c flight.Client) error {
			st, err := c.DoExchange(ctx)
			if err != nil {
				return err
			}
			_ = st.CloseSend()
			return drain(st.Recv)
		}, [4]codes.Code{denied, denied, codes.Unimplemented, denied}},
		{"unknown action", doAction("shutdown", ""), [4]codes.Code{denied, denied, codes.Unimplemented, denied}},

		{"SQL GetFlightInfo statement", getFlightInfo(cmd(&pb.CommandStatementQuery{Query: "SELECT * FROM sales"})), [4]codes.Code{ok, ok, ok, ok}},
		{"SQL GetFlightInfo join of covered", getFlightInfo(cmd(&pb.CommandStatementQuery{Query: "SELECT * FROM sales JOIN sales_eu USING (id)"})), [4]codes.Code{ok, ok, ok, ok}},
		{"SQL GetFlightInfo statement other", getFlightInfo(cmd(&pb.CommandStatementQuery{Query: "SELECT * FROM marketing"})), [4]codes.Code{ok, ok, ok, denied}},
		{"SQL GetFlightInfo join with other", getFlightInfo(cmd(&pb.CommandStatementQuery{Query: "SELECT * FROM sales JOIN marketing USING (id)"})), [4]codes.Code{ok, ok, ok, denied}},
		{"SQL GetFlightInfo CTE named like a covered table", getFlightInfo(cmd(&pb.CommandStatementQuery{Query: "WITH sales AS (SELECT * FROM marketing) SELECT * FROM sales"})), [4]codes.Code{ok, ok, ok, denied}},
		{"SQL GetFlightInfo unattributable", getFlightInfo(cmd(&pb.CommandStatementQuery{Query: "SELECT * FROM read_parquet('x')"})), [4]codes.Code{ok, ok, ok, denied}},
		{"SQL GetFlightInfo empty statement", getFlightInfo(cmd(&pb.CommandStatementQuery{})), [4]codes.Code{ok, ok, ok, denied}},
		{"SQL GetSchema statement", getSchema(cmd(&pb.CommandStatementQuery{Query: "SELECT * FROM sales"})), [4]codes.Code{ok, ok, ok, ok}},
		{"SQL GetSchema statement other", getSchema(cmd(&pb.CommandStatementQuery{Query: "SELECT * FROM marketing"})), [4]codes.Code{ok, ok, ok, denied}},
		{"SQL PollFlightInfo statement", pollFlightInfo(cmd(&pb.CommandStatementQuery{Query: "SELECT 1"})), [4]codes.Code{ok, ok, ok, ok}},
		{"SQL PollFlightInfo statement other", pollFlightInfo(cmd(&pb.CommandStatementQuery{Query: "SELECT * FROM marketing"})), [4]codes.Code{ok, ok, ok, denied}},
		{"SQL GetFlightInfo prepared", getFlightInfo(cmd(&pb.CommandPreparedStatementQuery{PreparedStatementHandle: []byte("h")})), [4]codes.Code{ok, ok, ok, ok}},
		{"SQL GetFlightInfo Substrait", getFlightInfo(cmd(&pb.CommandStatementSubstraitPlan{})), [4]codes.Code{ok, ok, ok, denied}},
		{"SQL GetTables", getFlightInfo(cmd(&pb.CommandGetTables{})), [4]codes.Code{ok, ok, ok, ok}},
		{"SQL GetSqlInfo", getFlightInfo(cmd(&pb.CommandGetSqlInfo{})), [4]codes.Code{ok, ok, ok, ok}},
		{"SQL GetCatalogs", getFlightInfo(cmd(&pb.CommandGetCatalogs{})), [4]codes.Code{ok, ok, ok, ok}},
		{"SQL GetPrimaryKeys covered", getFlightInfo(cmd(&pb.CommandGetPrimaryKeys{Table: "sales"})), [4]codes.Code{ok, ok, ok, ok}},
		{"SQL GetPrimaryKeys other", getFlightInfo(cmd(&pb.CommandGetPrimaryKeys{Table: "marketing"})), [4]codes.Code{ok, ok, ok, denied}},
		{"SQL GetFlightInfo update", getFlightInfo(cmd(&pb.CommandStatementUpdate{Query: "DELETE FROM sales"})), [4]codes.Code{denied, ok, ok, denied}},
		{"SQL DoGet malformed statement ticket", doGet(ticket(&pb.TicketStatementQuery{StatementHandle: []byte("h")})), [4]codes.Code{ok, ok, ok, denied}},
		{"SQL DoGet statement ticket", doGet(ticket(&pb.TicketStatementQuery{StatementHandle: []byte(`{"id":"1","sql":"SELECT * FROM sales"}`)})), [4]codes.Code{ok, ok, ok, ok}},
		{"SQL DoGet forged statement ticket", doGet(ticket(&pb.TicketStatementQuery{StatementHandle: []byte(`{"id":"1","sql":"SELECT * FROM marketing"}`)})), [4]codes.Code{ok, ok, ok, denied}},
		{"SQL DoGet GetTables ticket", doGet(ticket(&pb.CommandGetTables{})), [4]codes.Code{ok, ok, ok, ok}},
		{"SQL DoGet GetSqlInfo ticket", doGet(ticket(&pb.CommandGetSqlInfo{})), [4]codes.Code{ok, ok, ok, ok}},
		{"SQL DoPut ingest covered", doPut(cmd(&pb.CommandStatementIngest{Table: "sales_2026"})), [4]codes.Code{denied, ok, ok, ok}},
		{"SQL DoPut ingest other", doPut(cmd(&pb.CommandStatementIngest{Table: "marketing_2026"})), [4]codes.Code{denied, ok, ok, denied}},
		{"SQL DoPut bind parameters", doPut(cmd(&pb.CommandPreparedStatementQuery{PreparedStatementHandle: []byte("h")})), [4]codes.Code{ok, ok, ok, ok}},
		{"SQL DoPut update", doPut(cmd(&pb.CommandStatementUpdate{Query: "DELETE FROM sales"})), [4]codes.Code{denied, ok, ok, denied}},
		{"SQL DoPut prepared update", doPut(cmd(&pb.CommandPreparedStatementUpdate{PreparedStatementHandle: []byte("h")})), [4]codes.Code{denied, ok, ok, denied}},
		{"SQL CreatePreparedStatement without a body", doAction("CreatePreparedStatement", ""), [4]codes.Code{ok, ok, ok, denied}},
		{"SQL CreatePreparedStatement", doAction("CreatePreparedStatement", string(ticket(&pb.ActionCreatePreparedStatementRequest{Query: "SELECT * FROM sales"}))), [4]codes.Code{ok, ok, ok, ok}},
		{"SQL CreatePreparedStatement other", doAction("CreatePreparedStatement", string(ticket(&pb.ActionCreatePreparedStatementRequest{Query: "SELECT * FROM marketing"}))), [4]codes.Code{ok, ok, ok, denied}},
		{"SQL CreatePreparedStatement unattributable", doAction("CreatePreparedStatement", string(ticket(&pb.ActionCreatePreparedStatementRequest{Query: "SELECT * FROM glob('*')"}))), [4]codes.Code{ok, ok, ok, denied}},
		{"SQL ClosePreparedStatement", doAction("ClosePreparedStatement", ""), [4]codes.Code{ok, ok, ok, ok}},
		{"CancelFlightInfo", doAction("CancelFlightInfo", ""), [4]codes.Code{ok, ok, ok, ok}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for i, p := range principals {
				err := tc.call(p.ctx, c)
				if got := status.Code(err); got != tc.want[i] {
					t.Errorf("%s: code %v (%v), want %v", p.name, got, err, tc.want[i])
				}
			}
		})
	}

	// Unauthenticated: no header, a wrong token, an expired static token, Basic on
	// a call that is not the handshake, an unknown scheme.
	unauth := []struct {
		name string
		ctx  context.Context
	}{
		{"no credentials", context.Background()},
		{"unknown token", bearer(context.Background(), "qvs_not-a-token")},
		{"expired static token", bearer(context.Background(), s.tokens["old"])},
		{"basic outside handshake", metadata.AppendToOutgoingContext(context.Background(), "authorization",
			"Basic "+base64.StdEncoding.EncodeToString([]byte("writer:"+writerPassword)))},
		{"unknown scheme", metadata.AppendToOutgoingContext(context.Background(), "authorization", "Token abc")},
	}
	for _, tc := range cases {
		for _, u := range unauth {
			if err := tc.call(u.ctx, c); status.Code(err) != codes.Unauthenticated {
				t.Errorf("%s with %s: %v, want Unauthenticated", tc.name, u.name, err)
			}
		}
	}

	// Nothing was uploaded, ingested or dropped by a refused request.
	names, err := listFlights(principals[2].ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	if want := []string{"marketing-new.parquet", "marketing.parquet", "sales-new.parquet", "sales.parquet"}; !slices.Equal(names, want) {
		t.Errorf("datasets after the matrix = %q, want %q", names, want)
	}

	s.assertNoSecrets(t)
	logs := s.logs.String()
	for _, want := range []string{`"msg":"permission denied"`, `"msg":"unauthenticated request"`, `"principal":"token sales"`, `"principal":"token reader"`, `"msg":"login"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s", want)
		}
	}
}

func (s *guardedServer) assertNoSecrets(t *testing.T) {
	t.Helper()
	logs := s.logs.String()
	if logs == "" {
		t.Fatal("no logs captured")
	}
	for _, secret := range s.secrets {
		if strings.Contains(logs, secret) {
			t.Errorf("a secret appears in the logs: %q", secret)
		}
	}
	if strings.Contains(logs, "qv1.") {
		t.Error("an issued token appears in the logs")
	}
	if strings.Contains(logs, base64.RawStdEncoding.EncodeToString([]byte("writer:" + writerPassword))[:12]) {
		t.Error("Basic credentials appear in the logs")
	}
}

func TestListFlightsShowsOnlyCoveredDatasets(t *testing.T) {
	s := startGuarded(t)
	c := s.client(t)
	for _, n := range []string{"sales.parquet", "sales_eu.parquet", "marketing.parquet", "hr.parquet"} {
		s.putAs(t, c, n)
	}
	got, err := listFlights(bearer(context.Background(), s.tokens["sales"]), c)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	if want := []string{"sales.parquet", "sales_eu.parquet"}; !slices.Equal(got, want) {
		t.Errorf("sales-only sees %q, want %q", got, want)
	}
	all, err := listFlights(bearer(context.Background(), s.tokens["reader"]), c)
	if err != nil || len(all) != 4 {
		t.Errorf("reader sees %q, %v; want all four", all, err)
	}
}

func TestHandshakeBasicLogin(t *testing.T) {
	s := startGuarded(t)
	c := s.client(t)
	s.putAs(t, c, "sales.parquet")

	// arrow-go's AuthenticateBasicToken (what ADBC's username/password uses) gets
	// the bearer token from the response headers and sends it on.
	ctx := login(t, c, "writer", writerPassword)
	md, _ := metadata.FromOutgoingContext(ctx)
	tok := md.Get("authorization")
	if len(tok) != 1 || !strings.HasPrefix(tok[0], "Bearer qv1.") {
		t.Fatalf("authorization after login = %q", tok)
	}
	if _, err := c.GetFlightInfo(ctx, path("sales.parquet")); err != nil {
		t.Fatalf("GetFlightInfo with the issued token: %v", err)
	}

	// The token is in a response header, not only a trailer: C++ (pyarrow) and Java
	// clients read the headers.
	var hdr metadata.MD
	basic := metadata.AppendToOutgoingContext(context.Background(), "authorization",
		"Basic "+base64.StdEncoding.EncodeToString([]byte("admin:"+adminPassword))) // padded, as most clients send it
	st, err := c.Handshake(basic, grpc.Header(&hdr))
	if err != nil {
		t.Fatal(err)
	}
	_ = st.CloseSend()
	if _, err := st.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("handshake: %v", err)
	}
	if got := hdr.Get("authorization"); len(got) != 1 || !strings.HasPrefix(got[0], "Bearer qv1.") {
		t.Fatalf("handshake response header authorization = %q", got)
	}

	// Wrong password, unknown user, no credentials: Unauthenticated.
	for _, tc := range []struct{ user, pw string }{{"writer", "nope"}, {"nobody", writerPassword}, {"writer", ""}} {
		if _, err := c.AuthenticateBasicToken(context.Background(), tc.user, tc.pw); status.Code(err) != codes.Unauthenticated {
			t.Errorf("login %s/%s: %v, want Unauthenticated", tc.user, tc.pw, err)
		}
	}
	st, err = c.Handshake(context.Background())
	if err == nil {
		_ = st.CloseSend()
		_, err = st.Recv()
	}
	if status.Code(err) != codes.Unauthenticated {
		t.Errorf("handshake without credentials: %v, want Unauthenticated", err)
	}
	// A handshake with a valid bearer token is fine (some clients handshake anyway).
	st, err = c.Handshake(bearer(context.Background(), s.tokens["reader"]))
	if err == nil {
		_ = st.CloseSend()
		_, err = st.Recv()
	}
	if !errors.Is(err, io.EOF) {
		t.Errorf("handshake with a bearer token: %v, want success", err)
	}
	s.assertNoSecrets(t)
}

func TestIssuedTokenExpires(t *testing.T) {
	s := startGuarded(t)
	c := s.client(t)
	s.putAs(t, c, "sales.parquet")
	ctx := login(t, c, "writer", writerPassword)
	if _, err := c.GetFlightInfo(ctx, path("sales.parquet")); err != nil {
		t.Fatal(err)
	}
	s.clock.Add(time.Hour)
	_, err := c.GetFlightInfo(ctx, path("sales.parquet"))
	if status.Code(err) != codes.Unauthenticated || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("after the TTL: %v, want Unauthenticated saying the token expired", err)
	}
	// Logging in again works.
	ctx = login(t, c, "writer", writerPassword)
	if _, err := c.GetFlightInfo(ctx, path("sales.parquet")); err != nil {
		t.Fatal(err)
	}
}

func TestHealthNeedsNoCredentials(t *testing.T) {
	s := startGuarded(t)
	conn, err := grpc.NewClient(s.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	resp, err := healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health: %v, %v", resp, err)
	}
}
