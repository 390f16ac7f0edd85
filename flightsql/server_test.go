package flightsql

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/quiverdata/quiver/catalog"
)

// A server composed without Flight SQL answers Flight SQL requests Unimplemented,
// naming Flight SQL, and still serves datasets.
func TestServerWithoutSQL(t *testing.T) {
	store, err := catalog.Open(t.TempDir(), catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() }) // stops the converter of landed puts
	srv, err := NewServer(Config{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, err = srv.GetFlightInfo(ctx, &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: []byte("x")})
	if status.Code(err) != codes.Unimplemented {
		t.Errorf("GetFlightInfo(CMD) = %v, want Unimplemented", err)
	}
	if err := srv.DoExchange(nil); status.Code(err) != codes.Unimplemented {
		t.Errorf("DoExchange = %v, want Unimplemented", err)
	}
	_, err = srv.GetFlightInfo(ctx, &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{"none.parquet"}})
	if status.Code(err) != codes.NotFound {
		t.Errorf("GetFlightInfo(PATH) = %v, want NotFound", err)
	}
}

// DoExchange is refused without reading a message: no client batch is decoded
// outside the intake.
func TestDoExchangeReadsNothing(t *testing.T) {
	store, err := catalog.Open(t.TempDir(), catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() }) // stops the converter of landed puts
	srv, err := NewServer(Config{Store: store, SQL: &flight.BaseFlightServer{}})
	if err != nil {
		t.Fatal(err)
	}
	err = srv.DoExchange(recvFails{t})
	if status.Code(err) != codes.Unimplemented || !strings.Contains(err.Error(), "DoPut") {
		t.Errorf("DoExchange = %v, want Unimplemented pointing to DoPut", err)
	}
}

// recvFails is a DoExchange stream that fails the test if anything reads it.
type recvFails struct{ t *testing.T }

func (r recvFails) Recv() (*flight.FlightData, error) {
	r.t.Error("DoExchange read a client message")
	return nil, io.EOF
}

func (recvFails) Send(*flight.FlightData) error { return nil }
func (recvFails) Context() context.Context      { return context.Background() }
func (recvFails) SetHeader(metadata.MD) error   { return nil }
func (recvFails) SendHeader(metadata.MD) error  { return nil }
func (recvFails) SetTrailer(metadata.MD)        {}
func (recvFails) SendMsg(any) error             { return nil }
func (recvFails) RecvMsg(any) error             { return io.EOF }
