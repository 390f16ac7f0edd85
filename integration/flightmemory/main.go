// Command flightmemory is a Go Flight server that keeps uploads in memory: the
// Go transport's ceiling in the pyarrow benchmarks (integration/python,
// "go-memory"), beside memory_server.py, pyarrow's.
//
// DoPut reads the stream's batches and keeps them under the descriptor's first
// path element; DoGet sends them back as they came. No Parquet, no disk, no
// validation: what a client measures against it is arrow-go's Flight stack and
// gRPC with Quiver's transport options (flightsql.GRPCOptions), the stack Quiver
// is built on, doing nothing with the data. It is not part of Quiver.
//
//	go run -tags duckdb_arrow ./integration/flightmemory grpc://127.0.0.1:PORT
//
// prints "listening on grpc://127.0.0.1:PORT" once clients can connect (the line
// the Python suite waits for) and serves until SIGTERM or SIGINT.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/quiverdata/quiver/flightsql"
)

// maxMessageBytes is Quiver's default bound on one message.
const maxMessageBytes = 256 << 20

// memoryServer keeps each upload's batches by dataset name.
type memoryServer struct {
	flight.BaseFlightServer
	mu       sync.Mutex
	datasets map[string]*dataset
}

type dataset struct {
	schema  *arrow.Schema
	batches []arrow.RecordBatch
}

func (d *dataset) release() {
	for _, b := range d.batches {
		b.Release()
	}
}

// DoPut keeps the uploaded batches, replacing what the name held.
func (s *memoryServer) DoPut(stream flight.FlightService_DoPutServer) error {
	rdr, err := flight.NewRecordReader(stream)
	if err != nil {
		return status.Errorf(codes.InvalidArgument, "read the upload's schema: %v", err)
	}
	defer rdr.Release()
	desc := rdr.LatestFlightDescriptor()
	if desc == nil || len(desc.Path) == 0 {
		return status.Error(codes.InvalidArgument, "the upload names no dataset: its descriptor has no path")
	}
	d := &dataset{schema: rdr.Schema()}
	for rdr.Next() {
		b := rdr.RecordBatch()
		b.Retain()
		d.batches = append(d.batches, b)
	}
	if err := rdr.Err(); err != nil {
		d.release()
		return status.Errorf(codes.InvalidArgument, "read the upload: %v", err)
	}
	s.mu.Lock()
	old := s.datasets[desc.Path[0]]
	s.datasets[desc.Path[0]] = d
	s.mu.Unlock()
	if old != nil {
		old.release() // a DoGet still sending it holds its own references
	}
	return nil
}

// DoGet sends the batches kept under the ticket's name.
func (s *memoryServer) DoGet(tkt *flight.Ticket, stream flight.FlightService_DoGetServer) error {
	name := string(tkt.Ticket)
	s.mu.Lock()
	d := s.datasets[name]
	var batches []arrow.RecordBatch
	if d != nil {
		batches = append(batches, d.batches...)
		for _, b := range batches {
			b.Retain()
		}
	}
	s.mu.Unlock()
	if d == nil {
		return status.Errorf(codes.NotFound, "dataset %q not found", name)
	}
	defer func() {
		for _, b := range batches {
			b.Release()
		}
	}()
	w := flight.NewRecordWriter(stream)
	defer w.Close()
	w.SetFlightDescriptor(&flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{name}})
	for _, b := range batches {
		if err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

func main() {
	if len(os.Args) != 2 || !strings.HasPrefix(os.Args[1], "grpc://") {
		fmt.Fprintln(os.Stderr, "usage: flightmemory grpc://HOST:PORT")
		os.Exit(2)
	}
	location := os.Args[1]
	lis, err := net.Listen("tcp", strings.TrimPrefix(location, "grpc://"))
	if err != nil {
		slog.Error("listen", "location", location, "err", err)
		os.Exit(1)
	}
	gs := grpc.NewServer(flightsql.GRPCOptions(maxMessageBytes)...)
	flight.RegisterFlightServiceServer(gs, &memoryServer{datasets: map[string]*dataset{}})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		gs.Stop()
	}()
	fmt.Println("listening on", location)
	if err := gs.Serve(lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		slog.Error("serve", "err", err)
		os.Exit(1)
	}
}
