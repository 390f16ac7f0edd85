package flightsql

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	pb "github.com/apache/arrow-go/v18/arrow/flight/gen/flight"

	"github.com/quiverdata/quiver/catalog"
	"github.com/quiverdata/quiver/flightsql/wire"
)

// sqlTicket serializes m in an Any, as arrow-go's Flight SQL server issues tickets.
func sqlTicket(t testing.TB, m proto.Message) []byte {
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

// realSQLTickets are tickets a Flight SQL server really issues: statement results
// and the metadata commands it answers GetFlightInfo with.
func realSQLTickets(t testing.TB) map[string][]byte {
	return map[string][]byte{
		"TicketStatementQuery":       sqlTicket(t, &pb.TicketStatementQuery{StatementHandle: []byte("handle-1")}),
		"TicketStatementQuery-empty": sqlTicket(t, &pb.TicketStatementQuery{}),
		"CommandGetTables":           sqlTicket(t, &pb.CommandGetTables{IncludeSchema: true}),
		"CommandGetCatalogs":         sqlTicket(t, &pb.CommandGetCatalogs{}),
		"CommandGetSqlInfo":          sqlTicket(t, &pb.CommandGetSqlInfo{Info: []uint32{0, 1}}),
		"CommandPreparedStatementQuery": sqlTicket(t,
			&pb.CommandPreparedStatementQuery{PreparedStatementHandle: []byte("p")}),
	}
}

func TestTicketClassification(t *testing.T) {
	for name, b := range realSQLTickets(t) {
		if !wire.IsFlightSQL(b) {
			t.Errorf("%s ticket %q not classified as Flight SQL", name, b)
		}
		if _, err := datasetFromTicket(b); err == nil {
			t.Errorf("%s ticket accepted as a dataset name", name)
		}
	}
	for _, name := range []string{"uploaded.parquet", "streamed.parquet", "sales", "a", "x-y_z.2024.parquet"} {
		if wire.IsFlightSQL([]byte(name)) {
			t.Errorf("dataset ticket %q classified as Flight SQL", name)
		}
		got, err := datasetFromTicket([]byte(name))
		if err != nil || got != name {
			t.Errorf("datasetFromTicket(%q) = %q, %v", name, got, err)
		}
	}
	// An Any of another protocol's message is neither.
	other, err := proto.Marshal(&anypb.Any{TypeUrl: "type.googleapis.com/google.protobuf.Empty"})
	if err != nil {
		t.Fatal(err)
	}
	if wire.IsFlightSQL(other) {
		t.Errorf("an Any of google.protobuf.Empty classified as Flight SQL")
	}
	for _, bad := range []string{"", "../x", "/etc/passwd", "a/b", ".hidden", "a\x00b", "\n", "\nuploaded.parquet"} {
		if _, err := datasetFromTicket([]byte(bad)); err == nil {
			t.Errorf("datasetFromTicket(%q) accepted it", bad)
		}
	}
}

// FuzzTicket feeds arbitrary tickets to the two functions DoGet decides with. They
// never panic; a ticket is never both a dataset name and Flight SQL; a ticket taken
// as a dataset name is exactly a valid name; one taken as Flight SQL is an Any whose
// type is a Flight SQL message.
func FuzzTicket(f *testing.F) {
	for _, b := range realSQLTickets(f) {
		f.Add(b)
	}
	for _, s := range []string{"uploaded.parquet", "", "../x", "\n", "\n\x00"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		sql := wire.IsFlightSQL(b)
		name, err := datasetFromTicket(b)
		if err == nil {
			if sql {
				t.Fatalf("ticket %q is both Flight SQL and the dataset %q", b, name)
			}
			if name != string(b) {
				t.Fatalf("ticket %q decoded as the name %q", b, name)
			}
			if verr := catalog.ValidateName(name); verr != nil {
				t.Fatalf("ticket %q accepted as the invalid name %q: %v", b, name, verr)
			}
		}
		if sql {
			var a anypb.Any
			if err := proto.Unmarshal(b, &a); err != nil {
				t.Fatalf("ticket %q classified as Flight SQL but is no Any: %v", b, err)
			}
			if !strings.HasPrefix(a.GetTypeUrl(), wire.FlightSQLTypePrefix) {
				t.Fatalf("ticket %q classified as Flight SQL with type %q", b, a.GetTypeUrl())
			}
		}
	})
}
