package auth

import (
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/flight"
	pb "github.com/apache/arrow-go/v18/arrow/flight/gen/flight"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/quiverdata/quiver/flightsql/wire"
)

// packCmd serializes a Flight SQL message as an Any, as descriptors and tickets
// carry it.
func packCmd(t testing.TB, m proto.Message) []byte {
	t.Helper()
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

func cmdDesc(t testing.TB, m proto.Message) *flight.FlightDescriptor {
	return &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: packCmd(t, m)}
}

func pathDesc(p ...string) *flight.FlightDescriptor {
	return &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: p}
}

func TestMessageNeed(t *testing.T) {
	cases := []struct {
		name     string
		method   string
		msg      any
		perm     Permission
		scope    scope
		datasets []string
		tables   []string
	}{
		{"GetFlightInfo PATH", methodGetFlightInfo, pathDesc("sales.parquet"), Read, scopeDatasets, []string{"sales.parquet"}, nil},
		{"GetSchema PATH", methodGetSchema, pathDesc("sales.parquet"), Read, scopeDatasets, []string{"sales.parquet"}, nil},
		{"PollFlightInfo PATH", methodPollInfo, pathDesc("sales.parquet"), Read, scopeDatasets, []string{"sales.parquet"}, nil},
		{"GetFlightInfo two-element PATH", methodGetFlightInfo, pathDesc("a", "b"), Read, scopeDatasets, nil, nil},
		{"GetFlightInfo statement", methodGetFlightInfo, cmdDesc(t, &pb.CommandStatementQuery{Query: "SELECT 1"}), Read, scopeStatement, nil, nil},
		{"GetFlightInfo Substrait", methodGetFlightInfo, cmdDesc(t, &pb.CommandStatementSubstraitPlan{}), Read, scopeAll, nil, nil},
		{"GetFlightInfo prepared", methodGetFlightInfo, cmdDesc(t, &pb.CommandPreparedStatementQuery{}), Read, scopePrepared, nil, nil},
		{"GetSchema statement", methodGetSchema, cmdDesc(t, &pb.CommandStatementQuery{Query: "SELECT 1"}), Read, scopeStatement, nil, nil},
		{"GetTables", methodGetFlightInfo, cmdDesc(t, &pb.CommandGetTables{}), Read, scopeTableList, nil, nil},
		{"GetSqlInfo", methodGetFlightInfo, cmdDesc(t, &pb.CommandGetSqlInfo{}), Read, scopeServer, nil, nil},
		{"GetCatalogs", methodGetFlightInfo, cmdDesc(t, &pb.CommandGetCatalogs{}), Read, scopeServer, nil, nil},
		{"GetDbSchemas", methodGetFlightInfo, cmdDesc(t, &pb.CommandGetDbSchemas{}), Read, scopeServer, nil, nil},
		{"GetTableTypes", methodGetFlightInfo, cmdDesc(t, &pb.CommandGetTableTypes{}), Read, scopeServer, nil, nil},
		{"GetXdbcTypeInfo", methodGetFlightInfo, cmdDesc(t, &pb.CommandGetXdbcTypeInfo{}), Read, scopeServer, nil, nil},
		{"GetPrimaryKeys", methodGetFlightInfo, cmdDesc(t, &pb.CommandGetPrimaryKeys{Table: "sales"}), Read, scopeDatasets, nil, []string{"sales"}},
		{"GetExportedKeys", methodGetFlightInfo, cmdDesc(t, &pb.CommandGetExportedKeys{Table: "sales"}), Read, scopeDatasets, nil, []string{"sales"}},
		{"GetImportedKeys", methodGetFlightInfo, cmdDesc(t, &pb.CommandGetImportedKeys{Table: "sales"}), Read, scopeDatasets, nil, []string{"sales"}},
		{"GetCrossReference", methodGetFlightInfo, cmdDesc(t, &pb.CommandGetCrossReference{PkTable: "a", FkTable: "b"}), Read, scopeDatasets, nil, []string{"a", "b"}},
		{"GetFlightInfo update", methodGetFlightInfo, cmdDesc(t, &pb.CommandStatementUpdate{Query: "DELETE FROM t"}), Write, scopeAll, nil, nil},
		{"GetFlightInfo not Flight SQL", methodGetFlightInfo, &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: []byte("SELECT 1")}, Read, scopeAll, nil, nil},
		{"GetFlightInfo unknown Flight SQL", methodGetFlightInfo, &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: anyBytes(t, wire.FlightSQLTypePrefix+"CommandFromTheFuture")}, Read, scopeAll, nil, nil},

		{"DoGet dataset", methodDoGet, &flight.Ticket{Ticket: []byte("sales.parquet")}, Read, scopeDatasets, []string{"sales.parquet"}, nil},
		{"DoGet malformed statement ticket", methodDoGet, &flight.Ticket{Ticket: packCmd(t, &pb.TicketStatementQuery{StatementHandle: []byte("h")})}, Read, scopeAll, nil, nil},
		{"DoGet statement", methodDoGet, &flight.Ticket{Ticket: packCmd(t, &pb.TicketStatementQuery{StatementHandle: []byte(`{"id":"x","sql":"SELECT 1"}`)})}, Read, scopeStatement, nil, nil},
		{"DoGet prepared", methodDoGet, &flight.Ticket{Ticket: packCmd(t, &pb.CommandPreparedStatementQuery{})}, Read, scopePrepared, nil, nil},
		{"DoGet GetTables", methodDoGet, &flight.Ticket{Ticket: packCmd(t, &pb.CommandGetTables{})}, Read, scopeTableList, nil, nil},
		{"DoGet GetSqlInfo", methodDoGet, &flight.Ticket{Ticket: packCmd(t, &pb.CommandGetSqlInfo{})}, Read, scopeServer, nil, nil},

		{"DoPut PATH", methodDoPut, &flight.FlightData{FlightDescriptor: pathDesc("sales.parquet")}, Write, scopeDatasets, []string{"sales.parquet"}, nil},
		{"DoPut no descriptor", methodDoPut, &flight.FlightData{}, Write, scopeDatasets, nil, nil},
		{"DoPut ingest", methodDoPut, &flight.FlightData{FlightDescriptor: cmdDesc(t, &pb.CommandStatementIngest{Table: "sales"})}, Write, scopeDatasets, nil, []string{"sales"}},
		{"DoPut ingest with no table", methodDoPut, &flight.FlightData{FlightDescriptor: cmdDesc(t, &pb.CommandStatementIngest{})}, Write, scopeDatasets, nil, nil},
		{"DoPut bind parameters", methodDoPut, &flight.FlightData{FlightDescriptor: cmdDesc(t, &pb.CommandPreparedStatementQuery{})}, Read, scopePrepared, nil, nil},
		{"DoPut update", methodDoPut, &flight.FlightData{FlightDescriptor: cmdDesc(t, &pb.CommandStatementUpdate{})}, Write, scopeAll, nil, nil},
		{"DoPut prepared update", methodDoPut, &flight.FlightData{FlightDescriptor: cmdDesc(t, &pb.CommandPreparedStatementUpdate{})}, Write, scopeAll, nil, nil},
		{"DoPut Substrait", methodDoPut, &flight.FlightData{FlightDescriptor: cmdDesc(t, &pb.CommandStatementSubstraitPlan{})}, Write, scopeAll, nil, nil},
		{"DoPut unknown command", methodDoPut, &flight.FlightData{FlightDescriptor: &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: []byte("x")}}, Write, scopeAll, nil, nil},

		{"drop_dataset", methodDoAction, &flight.Action{Type: "drop_dataset", Body: []byte("sales.parquet")}, Write, scopeDatasets, []string{"sales.parquet"}, nil},
		{"CreatePreparedStatement without a body", methodDoAction, &flight.Action{Type: "CreatePreparedStatement"}, Read, scopeAll, nil, nil},
		{"CreatePreparedStatement", methodDoAction, &flight.Action{Type: "CreatePreparedStatement", Body: packCmd(t, &pb.ActionCreatePreparedStatementRequest{Query: "SELECT 1"})}, Read, scopeStatement, nil, nil},
		{"CreatePreparedSubstraitPlan", methodDoAction, &flight.Action{Type: "CreatePreparedSubstraitPlan"}, Read, scopeAll, nil, nil},
		{"ClosePreparedStatement", methodDoAction, &flight.Action{Type: "ClosePreparedStatement"}, Read, scopeServer, nil, nil},
		{"CancelFlightInfo", methodDoAction, &flight.Action{Type: "CancelFlightInfo"}, Read, scopeServer, nil, nil},
		{"CloseSession", methodDoAction, &flight.Action{Type: "CloseSession"}, Read, scopeServer, nil, nil},
		{"unknown action", methodDoAction, &flight.Action{Type: "shutdown"}, Admin, scopeServer, nil, nil},
		{"wrong message type", methodDoGet, &flight.Action{}, Admin, scopeServer, nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := messageNeed(c.method, c.msg)
			if n.perm != c.perm || n.scope != c.scope || !slices.Equal(n.datasets, c.datasets) || !slices.Equal(n.tables, c.tables) {
				t.Errorf("need = {%v %v %q %q}, want {%v %v %q %q}", n.perm, n.scope, n.datasets, n.tables, c.perm, c.scope, c.datasets, c.tables)
			}
			if n.what == "" {
				t.Error("need has no description")
			}
		})
	}
}

func anyBytes(t testing.TB, typeURL string) []byte {
	b, err := proto.Marshal(&anypb.Any{TypeUrl: typeURL})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestMethodNeed(t *testing.T) {
	cases := []struct {
		method string
		perm   Permission
		authn  bool
	}{
		{methodListFlights, Read, true},
		{methodListActions, Read, true},
		{methodDoGet, Read, true},
		{methodDoPut, Read, true},
		{methodDoAction, Read, true},
		{methodDoExchange, Admin, true},
		{flightService + "SomethingNew", Admin, true},
		{"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", Admin, true},
		{"/grpc.health.v1.Health/Check", None, false},
		{"/grpc.health.v1.Health/Watch", None, false},
	}
	for _, c := range cases {
		n, authn := methodNeed(c.method)
		if authn != c.authn || n.perm != c.perm {
			t.Errorf("%s: need %v, authenticate %v; want %v, %v", c.method, n.perm, authn, c.perm, c.authn)
		}
	}
}

// FuzzMessageNeed: classification never panics on client bytes.
func FuzzMessageNeed(f *testing.F) {
	f.Add([]byte("sales.parquet"))
	f.Add(packCmd(f, &pb.CommandStatementIngest{Table: "t"}))
	f.Add(packCmd(f, &pb.CommandGetCrossReference{PkTable: "a"}))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, m := range []string{methodGetFlightInfo, methodDoGet, methodDoPut, methodDoAction} {
			messageNeed(m, &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: b})
			messageNeed(m, &flight.Ticket{Ticket: b})
			messageNeed(m, &flight.FlightData{FlightDescriptor: &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: b}})
			messageNeed(m, &flight.Action{Type: string(b), Body: b})
		}
	})
}
