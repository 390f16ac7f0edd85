package integration

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/flight"
	pb "github.com/apache/arrow-go/v18/arrow/flight/gen/flight"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/quiverdata/quiver/flightsql/auth"
	"github.com/quiverdata/quiver/flightsql/observe"
	"github.com/quiverdata/quiver/flightsql/wire"
)

// TestRouterGuardAndLogReadRequestsAlike sends every kind of request through the
// whole chain (request log, guard, router) and checks that the three read it as
// wire.Classify does: the router sends it where its kind says (the admin's answer
// comes from that handler), the guard checks the dataset or statement it names (the
// restricted token's refusal names it), and the log line names the same dataset and
// command. A request one of them read differently would be authorized as one thing
// and served as another.
func TestRouterGuardAndLogReadRequestsAlike(t *testing.T) {
	restricted, hashR, err := auth.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	admin, hashA, err := auth.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	a, err := auth.New(&auth.File{Tokens: []auth.TokenEntry{
		{Name: "in-only", TokenHash: hashR, Permission: "write", Datasets: []string{"in*"}},
		{Name: "admin", TokenHash: hashA, Permission: "admin"},
	}}, auth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The chain of quiver serve: the request log outside, then the guard (told by the
	// SQL service which tables a statement reads), then the router.
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	obs := observe.New(observe.Options{Logger: log})
	ts := startServerOpts(t, t.TempDir(), memory.DefaultAllocator, harnessOptions{
		logger: log, grpcOptions: obs.ServerOptions(), guard: auth.NewGuard(a, log)})
	srv := &observedServer{testServer: ts, logs: logs}
	c := srv.client(t)
	as := func(tok string) context.Context {
		return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+tok)
	}
	anyBytes := func(m proto.Message) []byte {
		a, err := anypb.New(m)
		if err != nil {
			t.Fatal(err)
		}
		b, err := proto.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cmd := func(m proto.Message) *flight.FlightDescriptor {
		return &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: anyBytes(m)}
	}
	query := &pb.CommandStatementQuery{Query: "SELECT * FROM out"}
	ticket := &pb.TicketStatementQuery{StatementHandle: []byte(`{"id":"x","sql":"SELECT * FROM out"}`)}

	type call func(ctx context.Context) error
	getInfo := func(d *flight.FlightDescriptor) call {
		return func(ctx context.Context) error { _, err := c.GetFlightInfo(ctx, d); return err }
	}
	getSchema := func(d *flight.FlightDescriptor) call {
		return func(ctx context.Context) error { _, err := c.GetSchema(ctx, d); return err }
	}
	doGet := func(tk []byte) call {
		return func(ctx context.Context) error { _, err := tryGet(ctx, c, tk); return err }
	}
	doAction := func(a *flight.Action) call {
		return func(ctx context.Context) error { return drainAction(ctx, c, a) }
	}
	doPut := func(d *flight.FlightDescriptor) call {
		return func(ctx context.Context) error {
			return rawPut(ctx, c, ipcMessages(t, d, eventSchema, events(t, 1))...)
		}
	}
	cases := []struct {
		name    string
		method  string
		msg     any // what the call sends first, for wire.Classify
		call    call
		want    wire.Request
		routed  codes.Code // the admin's answer, from the handler the kind routes to
		refusal string     // in the restricted token's PermissionDenied: what the guard checked
	}{
		{"GetFlightInfo PATH", "GetFlightInfo", pathDescriptor("out.parquet"), getInfo(pathDescriptor("out.parquet")),
			wire.Request{Kind: wire.KindDataset, Dataset: "out.parquet"}, codes.NotFound, `dataset "out.parquet"`},
		{"GetSchema PATH", "GetSchema", pathDescriptor("out.parquet"), getSchema(pathDescriptor("out.parquet")),
			wire.Request{Kind: wire.KindDataset, Dataset: "out.parquet"}, codes.NotFound, `dataset "out.parquet"`},
		{"DoGet dataset ticket", "DoGet", &flight.Ticket{Ticket: []byte("out.parquet")}, doGet([]byte("out.parquet")),
			wire.Request{Kind: wire.KindDataset, Dataset: "out.parquet"}, codes.NotFound, `dataset "out.parquet"`},
		{"DoGet ticket that only starts like an Any", "DoGet", &flight.Ticket{Ticket: []byte("\nout")}, doGet([]byte("\nout")),
			wire.Request{Kind: wire.KindDataset, Dataset: "\nout"}, codes.InvalidArgument, `dataset "\nout"`},
		{"DoGet statement ticket", "DoGet", &flight.Ticket{Ticket: anyBytes(ticket)}, doGet(anyBytes(ticket)),
			wire.Request{Kind: wire.KindFlightSQL, Command: "TicketStatementQuery", SQL: "SELECT * FROM out"}, codes.InvalidArgument, `table "out"`},
		{"GetFlightInfo statement", "GetFlightInfo", cmd(query), getInfo(cmd(query)),
			wire.Request{Kind: wire.KindFlightSQL, Command: "CommandStatementQuery", SQL: "SELECT * FROM out"}, codes.InvalidArgument, `table "out"`},
		{"GetFlightInfo non-Flight-SQL command", "GetFlightInfo", &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: []byte("out")},
			getInfo(&flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: []byte("out")}),
			wire.Request{Kind: wire.KindFlightSQL}, codes.InvalidArgument, "an unknown command"},
		{"drop_dataset", "DoAction", &flight.Action{Type: wire.DropDatasetAction, Body: []byte("out.parquet")},
			doAction(&flight.Action{Type: wire.DropDatasetAction, Body: []byte("out.parquet")}),
			wire.Request{Kind: wire.KindDataset, Dataset: "out.parquet", Action: "drop_dataset"}, codes.NotFound, `dataset "out.parquet"`},
		{"CreatePreparedStatement", "DoAction", &flight.Action{Type: "CreatePreparedStatement", Body: anyBytes(&pb.ActionCreatePreparedStatementRequest{Query: "SELECT * FROM out"})},
			doAction(&flight.Action{Type: "CreatePreparedStatement", Body: anyBytes(&pb.ActionCreatePreparedStatementRequest{Query: "SELECT * FROM out"})}),
			wire.Request{Kind: wire.KindAction, Action: "CreatePreparedStatement", Command: "ActionCreatePreparedStatementRequest", SQL: "SELECT * FROM out"}, codes.InvalidArgument, `table "out"`},
		{"DoPut PATH", "DoPut", &flight.FlightData{FlightDescriptor: pathDescriptor("out.parquet")}, doPut(pathDescriptor("out.parquet")),
			wire.Request{Kind: wire.KindDataset, Dataset: "out.parquet"}, codes.OK, `dataset "out.parquet"`},
		{"DoPut ingest", "DoPut", &flight.FlightData{FlightDescriptor: cmd(&pb.CommandStatementIngest{Table: "out2"})},
			doPut(cmd(&pb.CommandStatementIngest{Table: "out2"})),
			wire.Request{Kind: wire.KindFlightSQL, Command: "CommandStatementIngest", Table: "out2"}, codes.InvalidArgument, `table "out2"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := wire.Classify(tc.msg)
			if got.Kind != tc.want.Kind || got.Dataset != tc.want.Dataset || got.Command != tc.want.Command ||
				got.SQL != tc.want.SQL || got.Table != tc.want.Table || got.Action != tc.want.Action {
				t.Fatalf("wire.Classify = %+v, want %+v", got, tc.want)
			}

			// The router: the admin passes the guard, and the handler of the kind answers.
			err := tc.call(as(admin))
			if status.Code(err) != tc.routed {
				t.Errorf("admin: %v, want %v from the %v handler", err, tc.routed, got.Kind)
			}
			routedLine := srv.lastRPC(t, tc.method)

			// The guard: the restricted token is refused for what wire says it names.
			err = tc.call(as(restricted))
			if status.Code(err) != codes.PermissionDenied || !strings.Contains(status.Convert(err).Message(), tc.refusal) {
				t.Errorf("restricted: %v, want PermissionDenied naming %s", err, tc.refusal)
			}

			// The log: both lines name what wire read.
			for _, line := range []map[string]any{routedLine, srv.lastRPC(t, tc.method)} {
				want := map[string]any{}
				if got.Kind == wire.KindDataset {
					want["dataset"] = got.Dataset
				}
				if got.Table != "" {
					want["dataset"] = got.Table
				}
				if got.Command != "" {
					want["command"] = got.Command
				}
				if got.Action != "" {
					want["action"] = got.Action
				}
				if got.SQL != "" {
					want["sql"] = got.SQL
				}
				for k, v := range want {
					if line[k] != v {
						t.Errorf("log line %s = %s, want %s: %v", k, strconv.Quote(toString(line[k])), strconv.Quote(toString(v)), line)
					}
				}
				if got.Command == "" {
					if _, ok := line["command"]; ok {
						t.Errorf("log line names a command wire did not read: %v", line)
					}
				}
			}
		})
	}
}

func toString(v any) string {
	s, _ := v.(string)
	return s
}
