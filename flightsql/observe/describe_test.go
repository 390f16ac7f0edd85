package observe

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/flight"
	fsql "github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	pb "github.com/apache/arrow-go/v18/arrow/flight/gen/flight"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

func packAny(t *testing.T, m proto.Message) []byte {
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

// attrString renders attrs as "k=v k=v".
func attrString(attrs []slog.Attr) string {
	parts := make([]string, len(attrs))
	for i, a := range attrs {
		parts[i] = fmt.Sprintf("%s=%s", a.Key, a.Value)
	}
	return strings.Join(parts, " ")
}

func TestDescribeRequest(t *testing.T) {
	stmtTicket, err := fsql.CreateStatementQueryTicket([]byte(`{"id":"q1","sql":"SELECT  *\n FROM t"}`))
	if err != nil {
		t.Fatal(err)
	}
	longSQL := "SELECT " + strings.Repeat("x, ", 200) + "1"
	for _, c := range []struct {
		name  string
		req   any
		want  string
		query queryKind
	}{
		{"path descriptor", &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{"sales.parquet"}}, "dataset=sales.parquet", ""},
		{"put's first message", &flight.FlightData{FlightDescriptor: &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{"up.parquet"}}}, "dataset=up.parquet", ""},
		{"later put message", &flight.FlightData{DataBody: []byte("x")}, "", ""},
		{"statement query", &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: packAny(t, &pb.CommandStatementQuery{Query: "SELECT 1\n\tFROM   t"})}, "command=CommandStatementQuery sql=SELECT 1 FROM t", ""},
		{"long statement", &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: packAny(t, &pb.CommandStatementQuery{Query: longSQL})}, "command=CommandStatementQuery sql=" + longSQL[:maxSQLLen] + "…", ""},
		{"get tables", &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: packAny(t, &pb.CommandGetTables{})}, "command=CommandGetTables", ""},
		{"ingest", &flight.FlightData{FlightDescriptor: &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: packAny(t, &pb.CommandStatementIngest{Table: "events"})}}, "command=CommandStatementIngest dataset=events", ""},
		{"not flight sql", &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: []byte("garbage")}, "", ""},
		{"dataset ticket", &flight.Ticket{Ticket: []byte("sales.parquet")}, "dataset=sales.parquet", ""},
		{"statement ticket", &flight.Ticket{Ticket: stmtTicket}, "command=TicketStatementQuery sql=SELECT * FROM t", queryStatement},
		{"prepared ticket", &flight.Ticket{Ticket: packAny(t, &pb.CommandPreparedStatementQuery{PreparedStatementHandle: []byte("h")})}, "command=CommandPreparedStatementQuery", queryPrepared},
		{"drop", &flight.Action{Type: "drop_dataset", Body: []byte("old.parquet")}, "action=drop_dataset dataset=old.parquet", ""},
		{"prepare", &flight.Action{Type: "CreatePreparedStatement", Body: packAny(t, &pb.ActionCreatePreparedStatementRequest{Query: "SELECT ?"})}, "action=CreatePreparedStatement command=ActionCreatePreparedStatementRequest sql=SELECT ?", ""},
		{"other action body unquoted", &flight.Action{Type: "SetSessionOptions", Body: []byte("secret")}, "action=SetSessionOptions", ""},
		{"handshake", &flight.HandshakeRequest{Payload: []byte("user:password")}, "", ""},
		{"criteria", &flight.Criteria{Expression: []byte("x")}, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := describeRequest(c.req)
			if got := attrString(d.attrs); got != c.want {
				t.Errorf("attrs %q, want %q", got, c.want)
			}
			if d.query != c.query {
				t.Errorf("query kind %q, want %q", d.query, c.query)
			}
		})
	}
}

func TestShorten(t *testing.T) {
	for _, c := range []struct {
		in   string
		max  int
		want string
	}{
		{"abc", 3, "abc"},
		{"abcd", 3, "abc…"},
		{"ééé", 2, "éé…"},
		{"", 1, ""},
	} {
		if got := shorten(c.in, c.max); got != c.want {
			t.Errorf("shorten(%q, %d) = %q, want %q", c.in, c.max, got, c.want)
		}
	}
}
