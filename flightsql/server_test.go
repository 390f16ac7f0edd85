package flightsql

import (
	"context"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"google.golang.org/grpc/codes"
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
