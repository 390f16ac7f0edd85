package flightsql

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/quiverdata/quiver/catalog"
	"github.com/quiverdata/quiver/flightsql/wire"
)

var idSchema = arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}}, nil)

// putIDs writes ids from..to-1 to name as one part (mode Replace or Append).
func putIDs(t *testing.T, store *catalog.Store, name string, mode catalog.PutMode, from, to int64) {
	t.Helper()
	b := array.NewInt64Builder(memory.DefaultAllocator)
	defer b.Release()
	for i := from; i < to; i++ {
		b.Append(i)
	}
	col := b.NewArray()
	defer col.Release()
	rec := array.NewRecordBatch(idSchema, []arrow.Array{col}, to-from)
	defer rec.Release()
	rdr, err := array.NewRecordReader(idSchema, []arrow.RecordBatch{rec})
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Release()
	if _, err := store.Put(context.Background(), name, mode, rdr); err != nil {
		t.Fatal(err)
	}
}

// nodesFixture is a plain Flight Server on 127.0.0.1:0 that believes it has peers,
// with a client, over a store holding "ids.parquet" in five parts of ten ids each.
func nodesFixture(t *testing.T, nodes Nodes) (*catalog.Store, flight.Client) {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	store, err := catalog.Open(t.TempDir(), catalog.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() }) // stops the converter of landed puts
	putIDs(t, store, "ids.parquet", catalog.Replace, 0, 10)
	for k := int64(1); k < 5; k++ {
		putIDs(t, store, "ids.parquet", catalog.Append, 10*k, 10*k+10)
	}
	srv, err := NewServer(Config{Store: store, Logger: quiet, Nodes: nodes})
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	flight.RegisterFlightServiceServer(gs, srv)
	done := make(chan struct{})
	go func() { defer close(done); gs.Serve(lis) }()
	t.Cleanup(func() { gs.Stop(); <-done })
	c, err := flight.NewClientWithMiddlewareCtx(context.Background(), lis.Addr().String(), nil, nil,
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return store, c
}

// fetchIDs reads the ids one ticket streams.
func fetchIDs(c flight.Client, ticket *flight.Ticket) ([]int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := c.DoGet(ctx, ticket)
	if err != nil {
		return nil, err
	}
	rdr, err := flight.NewRecordReader(stream)
	if err != nil {
		return nil, err
	}
	defer rdr.Release()
	var ids []int64
	for rdr.Next() {
		ids = append(ids, rdr.RecordBatch().Column(0).(*array.Int64).Int64Values()...)
	}
	return ids, rdr.Err()
}

func idInfo(t *testing.T, c flight.Client) *flight.FlightInfo {
	t.Helper()
	info, err := c.GetFlightInfo(context.Background(), &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{"ids.parquet"}})
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// With peers, a multi-part dataset has one endpoint per part, in read order, each
// pinned to the version, led by the nodes in turn with the others as fallbacks; the
// endpoints together stream exactly the dataset.
func TestEndpointsSpreadOverNodes(t *testing.T) {
	nodes := Nodes{Self: "grpc://10.0.0.1:8815", Peers: []string{"grpc://10.0.0.2:8815", "grpc://10.0.0.3:8815"}}
	_, c := nodesFixture(t, nodes)
	info := idInfo(t, c)
	if len(info.Endpoint) != 5 {
		t.Fatalf("%d endpoints, want one per part: 5", len(info.Endpoint))
	}
	all := []string{nodes.Self, nodes.Peers[0], nodes.Peers[1]}
	var got []int64
	for i, ep := range info.Endpoint {
		var locs []string
		for _, l := range ep.Location {
			locs = append(locs, l.Uri)
		}
		want := append(slices.Clone(all[i%3:]), all[:i%3]...)
		if !slices.Equal(locs, want) {
			t.Errorf("endpoint %d locations %v, want %v", i, locs, want)
		}
		p, isParts, ok := wire.DecodePartsTicket(ep.Ticket.Ticket)
		if !isParts || !ok || p.Dataset != "ids.parquet" || p.First != i || p.Count != 1 || p.Version == "" {
			t.Errorf("endpoint %d ticket %q decodes to %+v (parts %v, ok %v)", i, ep.Ticket.Ticket, p, isParts, ok)
		}
		if r := wire.Ticket(ep.Ticket.Ticket); r.Kind != wire.KindDataset || r.Dataset != "ids.parquet" {
			t.Errorf("endpoint %d ticket classified as %v of %q: authorization would not see its dataset", i, r.Kind, r.Dataset)
		}
		ids, err := fetchIDs(c, ep.Ticket)
		if err != nil {
			t.Fatalf("DoGet endpoint %d: %v", i, err)
		}
		got = append(got, ids...)
	}
	want := make([]int64, 50)
	for i := range want {
		want[i] = int64(i)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("endpoints streamed %v, want 0..49 in order", got)
	}
}

// Without peers a dataset keeps its one endpoint: the name as ticket, no location,
// as the Arrow cookbook's clients expect.
func TestEndpointsWithoutPeers(t *testing.T) {
	_, c := nodesFixture(t, Nodes{})
	info := idInfo(t, c)
	if len(info.Endpoint) != 1 || len(info.Endpoint[0].Location) != 0 || string(info.Endpoint[0].Ticket.Ticket) != "ids.parquet" {
		t.Fatalf("endpoints %v, want one: ticket \"ids.parquet\", no location", info.Endpoint)
	}
	ids, err := fetchIDs(c, info.Endpoint[0].Ticket)
	if err != nil || len(ids) != 50 {
		t.Fatalf("DoGet: %d ids, %v", len(ids), err)
	}
}

// Many parts are grouped, in order, into at most maxEndpoints endpoints whose sizes
// differ by at most one; a single part keeps the name ticket.
func TestEndpointsGroupParts(t *testing.T) {
	nodes := Nodes{Self: "grpc://a:1", Peers: []string{"grpc://b:1"}}
	info := catalog.Info{Name: "many.parquet", Version: "v1"}
	for i := 0; i < 130; i++ {
		info.Keys = append(info.Keys, fmt.Sprintf("many.parquet/%d.parquet", i))
	}
	eps := nodes.endpoints(info)
	if len(eps) != maxEndpoints {
		t.Fatalf("%d endpoints for 130 parts, want %d", len(eps), maxEndpoints)
	}
	next := 0
	for i, ep := range eps {
		p, _, ok := wire.DecodePartsTicket(ep.Ticket.Ticket)
		if !ok || p.First != next || p.Count < 2 || p.Count > 3 || p.Version != "v1" {
			t.Fatalf("endpoint %d: %+v (ok %v), want parts from %d, 2 or 3 of them", i, p, ok, next)
		}
		next += p.Count
	}
	if next != 130 {
		t.Fatalf("endpoints cover %d parts, want 130", next)
	}
	// Without Self the endpoints name only the peers, never an empty location.
	for _, ep := range (Nodes{Peers: []string{"grpc://b:1"}}).endpoints(info) {
		if len(ep.Location) != 1 || ep.Location[0].Uri != "grpc://b:1" {
			t.Fatalf("no Self: locations %v, want only the peer", ep.Location)
		}
	}
	info.Keys = info.Keys[:1]
	if eps := nodes.endpoints(info); len(eps) != 1 || string(eps[0].Ticket.Ticket) != "many.parquet" || len(eps[0].Location) != 0 {
		t.Fatalf("single part: %v, want the name ticket", eps)
	}
}

// A parts ticket of a version that is no longer current is refused with
// FailedPrecondition naming the dataset, not served from the new version.
func TestPartsTicketStaleVersion(t *testing.T) {
	store, c := nodesFixture(t, Nodes{Self: "grpc://a:1", Peers: []string{"grpc://b:1"}})
	info := idInfo(t, c)
	putIDs(t, store, "ids.parquet", catalog.Append, 50, 60)
	_, err := fetchIDs(c, info.Endpoint[0].Ticket)
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), `"ids.parquet"`) || !strings.Contains(err.Error(), "changed") {
		t.Fatalf("DoGet of a stale version: %v, want FailedPrecondition naming the dataset and that it changed", err)
	}
}

// Parts tickets are client bytes: whatever they say, the answer is a clear status.
func TestPartsTicketInvalid(t *testing.T) {
	_, c := nodesFixture(t, Nodes{Self: "grpc://a:1", Peers: []string{"grpc://b:1"}})
	info := idInfo(t, c)
	p, _, _ := wire.DecodePartsTicket(info.Endpoint[0].Ticket.Ticket)
	with := func(f func(*wire.PartsTicket)) []byte {
		q := p
		f(&q)
		return q.Encode()
	}
	for _, tc := range []struct {
		name   string
		ticket []byte
		code   codes.Code
		msg    string
	}{
		{"not JSON", []byte(wire.PartsTicketPrefix + "{"), codes.InvalidArgument, "does not decode"},
		{"trailing bytes", append(with(func(*wire.PartsTicket) {}), " {}"...), codes.InvalidArgument, "does not decode"},
		{"unknown field", []byte(wire.PartsTicketPrefix + `{"dataset":"ids.parquet","version":"x","first":0,"count":1,"all":true}`), codes.InvalidArgument, "does not decode"},
		{"bad name", with(func(q *wire.PartsTicket) { q.Dataset = "../etc/passwd" }), codes.InvalidArgument, "dataset name"},
		{"no version", with(func(q *wire.PartsTicket) { q.Version = "" }), codes.InvalidArgument, "want a version"},
		{"negative first", with(func(q *wire.PartsTicket) { q.First = -1 }), codes.InvalidArgument, "first >= 0"},
		{"no parts", with(func(q *wire.PartsTicket) { q.Count = 0 }), codes.InvalidArgument, "count >= 1"},
		{"past the end", with(func(q *wire.PartsTicket) { q.First = 4; q.Count = 2 }), codes.InvalidArgument, "has 5"},
		{"huge count", with(func(q *wire.PartsTicket) { q.Count = 1 << 62 }), codes.InvalidArgument, "has 5"},
		{"other dataset", with(func(q *wire.PartsTicket) { q.Dataset = "none.parquet" }), codes.NotFound, `"none.parquet"`},
		{"other version", with(func(q *wire.PartsTicket) { q.Version = "abc" }), codes.FailedPrecondition, "abc"},
	} {
		_, err := fetchIDs(c, &flight.Ticket{Ticket: tc.ticket})
		if status.Code(err) != tc.code || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: DoGet = %v, want %v mentioning %q", tc.name, err, tc.code, tc.msg)
		}
	}
}

// FuzzPartsTicket: no ticket makes DecodePartsTicket or the server's ticket
// decoding panic, and a ticket that decodes is one Encode would write.
func FuzzPartsTicket(f *testing.F) {
	f.Add(wire.PartsTicket{Dataset: "ids.parquet", Version: "1x2y", First: 0, Count: 3}.Encode())
	f.Add([]byte(wire.PartsTicketPrefix + `{"dataset":"a","version":"v","first":-1,"count":99999999999999999999}`))
	f.Add([]byte(wire.PartsTicketPrefix))
	f.Add([]byte("ids.parquet"))
	srv := &Server{}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, isParts, ok := wire.DecodePartsTicket(b)
		if ok && !isParts {
			t.Fatalf("decoded %q without the prefix", b)
		}
		if ok {
			if q, _, ok2 := wire.DecodePartsTicket(p.Encode()); !ok2 || q != p {
				t.Fatalf("%+v does not survive Encode: %+v", p, q)
			}
		}
		name, open, err := srv.ticketReader(b)
		if err == nil && (open == nil || catalog.ValidateName(name) != nil) {
			t.Fatalf("ticket %q accepted with dataset %q", b, name)
		}
		if err != nil && !errors.Is(err, errInvalidRequest) {
			t.Fatalf("ticket %q: %v, want an invalid request", b, err)
		}
	})
}
