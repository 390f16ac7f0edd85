package wire

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow/flight"
	pb "github.com/apache/arrow-go/v18/arrow/flight/gen/flight"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

func packAny(t testing.TB, m proto.Message) []byte {
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

func TestClassify(t *testing.T) {
	stmt := packAny(t, &pb.TicketStatementQuery{StatementHandle: []byte(`{"id":"1","sql":"SELECT 1"}`)})
	for _, tc := range []struct {
		name string
		msg  any
		want Request
	}{
		{"PATH", &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{"a.parquet"}}, Request{Kind: KindDataset, Dataset: "a.parquet"}},
		{"PATH of two", &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{"a", "b"}}, Request{Kind: KindDataset}},
		{"CMD query", &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: packAny(t, &pb.CommandStatementQuery{Query: "SELECT 2"})}, Request{Kind: KindFlightSQL, Command: "CommandStatementQuery", SQL: "SELECT 2"}},
		{"CMD not Flight SQL", &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: []byte("x")}, Request{Kind: KindFlightSQL}},
		{"unknown descriptor type", &flight.FlightDescriptor{Type: flight.DescriptorUNKNOWN}, Request{}},
		{"DoPut without descriptor", &flight.FlightData{}, Request{}},
		{"DoPut ingest", &flight.FlightData{FlightDescriptor: &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: packAny(t, &pb.CommandStatementIngest{Table: "t"})}}, Request{Kind: KindFlightSQL, Command: "CommandStatementIngest", Table: "t"}},
		{"dataset ticket", &flight.Ticket{Ticket: []byte("a.parquet")}, Request{Kind: KindDataset, Dataset: "a.parquet"}},
		{"statement ticket", &flight.Ticket{Ticket: stmt}, Request{Kind: KindFlightSQL, Command: "TicketStatementQuery", SQL: "SELECT 1"}},
		{"raw Parquet ticket", &flight.Ticket{Ticket: RawParquetTicket("a.parquet")}, Request{Kind: KindDataset, Dataset: "a.parquet", RawParquet: true}},
		{"drop_dataset", &flight.Action{Type: DropDatasetAction, Body: []byte("a.parquet")}, Request{Kind: KindDataset, Action: DropDatasetAction, Dataset: "a.parquet"}},
		{"prepare", &flight.Action{Type: "CreatePreparedStatement", Body: packAny(t, &pb.ActionCreatePreparedStatementRequest{Query: "SELECT 3"})}, Request{Kind: KindAction, Action: "CreatePreparedStatement", Command: "ActionCreatePreparedStatementRequest", SQL: "SELECT 3"}},
		{"other action", &flight.Action{Type: "nope"}, Request{Kind: KindAction, Action: "nope"}},
		{"other message", &flight.Criteria{}, Request{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Classify(tc.msg)
			if got.Kind != tc.want.Kind || got.Dataset != tc.want.Dataset || got.Command != tc.want.Command ||
				got.SQL != tc.want.SQL || got.Table != tc.want.Table || got.Action != tc.want.Action || got.RawParquet != tc.want.RawParquet {
				t.Errorf("Classify = %+v, want %+v", got, tc.want)
			}
			if (got.Command != "") != (got.Message != nil) && tc.want.Command != "" {
				t.Errorf("Command %q without its decoded Message", got.Command)
			}
		})
	}
}

// FuzzClassifyTicket: whatever a ticket holds, it is read one way, without panic: a
// Flight SQL ticket exactly when IsFlightSQL says so, else a dataset name.
func FuzzClassifyTicket(f *testing.F) {
	f.Add([]byte("sales.parquet"))
	f.Add([]byte("\n"))
	f.Add(RawParquetTicket("sales.parquet"))
	f.Add(packAny(f, &pb.TicketStatementQuery{StatementHandle: []byte(`{"sql":"SELECT 1"}`)}))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := Ticket(b)
		if (r.Kind == KindFlightSQL) != IsFlightSQL(b) {
			t.Fatalf("Ticket(%q).Kind = %v, IsFlightSQL = %v", b, r.Kind, IsFlightSQL(b))
		}
		switch {
		case r.RawParquet && (r.Kind != KindDataset || RawParquetTicketPrefix+r.Dataset != string(b)):
			t.Fatalf("Ticket(%q) = %+v: a raw-Parquet ticket names the dataset after its prefix", b, r)
		case !r.RawParquet && r.Kind == KindDataset && r.Dataset != string(b):
			t.Fatalf("Ticket(%q).Dataset = %q", b, r.Dataset)
		}
		_ = Action(&flight.Action{Type: "x", Body: b})
		_ = Descriptor(&flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: b})
	})
}
