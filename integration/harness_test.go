package integration

import (
	"context"
	"net"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/quiverdata/quiver/catalog"
	"github.com/quiverdata/quiver/flightsql"
)

// testServer is a Quiver server running in-process on 127.0.0.1:0.
type testServer struct {
	Addr  string
	Root  string
	Store *catalog.Store
	Mem   *memory.CheckedAllocator
}

// startServer starts a server over a fresh root and stops it when the test ends.
// The server's allocator is checked: the test fails if it leaks Arrow memory.
func startServer(t testing.TB) *testServer {
	t.Helper()
	return startServerAt(t, t.TempDir())
}

func startServerAt(t testing.TB, root string) *testServer {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	store, err := catalog.Open(root, catalog.Options{Allocator: mem})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := flightsql.NewService(context.Background(), flightsql.ServiceConfig{Store: store, Allocator: mem, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer(srv.ServerOptions(256 << 20)...)
	srv.Register(gs)
	done := make(chan struct{})
	go func() { defer close(done); gs.Serve(lis) }()
	t.Cleanup(func() {
		gs.Stop()
		<-done
		if err := srv.Close(); err != nil {
			t.Errorf("close service: %v", err)
		}
		mem.AssertSize(t, 0)
	})
	return &testServer{Addr: lis.Addr().String(), Root: store.Root(), Store: store, Mem: mem}
}

// client connects an arrow-go Flight client, closed when the test ends.
func (s *testServer) client(t testing.TB) flight.Client {
	t.Helper()
	c, err := flight.NewClientWithMiddlewareCtx(context.Background(), s.Addr, nil, nil,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(256<<20), grpc.MaxCallSendMsgSize(256<<20)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
