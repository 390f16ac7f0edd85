package integration

import (
	"context"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/quiverdata/quiver/catalog"
	"github.com/quiverdata/quiver/catalog/partcache"
	"github.com/quiverdata/quiver/flightsql"
	"github.com/quiverdata/quiver/flightsql/auth"
	"github.com/quiverdata/quiver/flightsql/engine"
)

// exitFuncs run when the test binary is done: cleanups of files shared by tests.
var exitFuncs []func()

// atExit registers f to run after all tests; call it from inside a sync.Once.
func atExit(f func()) { exitFuncs = append(exitFuncs, f) }

func TestMain(m *testing.M) {
	code := m.Run()
	for _, f := range exitFuncs {
		f()
	}
	os.Exit(code)
}

// testServer is a Quiver server running in-process on 127.0.0.1:0.
type testServer struct {
	Addr  string
	Root  string
	Store *catalog.Store
	Mem   *memory.CheckedAllocator
	// Service is the service behind the Flight port (the web console's tests serve
	// it over HTTP too).
	Service *flightsql.Service
	// Cache is the part cache of a server on S3; nil on a local root.
	Cache *partcache.Cache
}

// startServer starts a server over a fresh root and stops it when the test ends.
// With QUIVER_TEST_BACKEND=s3 the root is a bucket on a versitygw (backend_test.go).
// The server's allocator is checked: the test fails if it leaks Arrow memory.
func startServer(t testing.TB) *testServer {
	t.Helper()
	return startServerAt(t, t.TempDir())
}

func startServerAt(t testing.TB, root string) *testServer {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	// Registered first, so it runs last: after the server has stopped.
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	srv := startServerWith(t, root, mem)
	srv.Mem = mem
	return srv
}

// startServerWith starts a server over root with the allocator mem (benchmarks pass
// the unchecked default allocator: the checked one costs time per allocation).
//
// extra server options come first, so authentication interceptors run before the
// service's own.
func startServerWith(t testing.TB, root string, mem memory.Allocator, extra ...grpc.ServerOption) *testServer {
	t.Helper()
	return startServerOpts(t, root, mem, harnessOptions{grpcOptions: extra})
}

// harnessOptions extend a test server; the zero value is the plain server.
type harnessOptions struct {
	// logger for the store and the service; nil: slog.Default().
	logger *slog.Logger
	// grpcOptions come before the server's own options, so their interceptors are
	// the outermost.
	grpcOptions []grpc.ServerOption
	// guard, if set, authenticates and authorizes every call (after grpcOptions),
	// with the service telling it which tables a SQL statement reads.
	guard *auth.Guard
	// register registers further services (health, say) on the gRPC server.
	register func(*grpc.Server)
	// serving is called once the server accepts calls.
	serving func()
	// service, if set, adjusts the service's configuration (limits, timeouts) before
	// it starts.
	service func(*flightsql.ServiceConfig)
	// store, engine and results configure the store (its Allocator and Logger are
	// filled in), the engine and the result limits; zero values: the defaults. The
	// server's gRPC message limit is results.MaxMessageBytes (0: 256 MiB).
	store   catalog.Options
	engine  engine.Config
	results flightsql.ResultLimits
	// s3CacheBytes > 0 runs the server on an S3 root, whatever QUIVER_TEST_BACKEND
	// says, with a part cache of this budget (backend_test.go).
	s3CacheBytes int64
}

// startServerOpts is startServerWith with every option of harnessOptions.
func startServerOpts(t testing.TB, root string, mem memory.Allocator, o harnessOptions) *testServer {
	t.Helper()
	sopts := o.store
	sopts.Allocator, sopts.Logger = mem, o.logger
	store, cache := openBackendStore(t, root, sopts, o.s3CacheBytes)
	// After the server stops (cleanups run last first), before the allocator check:
	// converts the landed uploads and stops the converter.
	t.Cleanup(func() { store.Close() })
	maxMessage := o.results.MaxMessageBytes
	if maxMessage == 0 {
		maxMessage = 256 << 20
	}
	cfg := flightsql.ServiceConfig{Store: store, Allocator: mem, Version: "test", Logger: o.logger,
		Engine: o.engine, Results: o.results, PartCache: cache}
	if o.service != nil {
		o.service(&cfg)
	}
	srv, err := flightsql.NewService(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// WaitForHandlers: Stop returns only once every handler has returned, so the
	// allocator check cannot run while a cancelled upload is still unwinding.
	var guardOpts []grpc.ServerOption
	if o.guard != nil {
		o.guard.SetTableReader(srv.SQL)
		guardOpts = o.guard.ServerOptions()
	}
	opts := slices.Concat(o.grpcOptions, guardOpts, srv.ServerOptions(maxMessage), []grpc.ServerOption{grpc.WaitForHandlers(true)})
	gs := grpc.NewServer(opts...)
	srv.Register(gs)
	if o.register != nil {
		o.register(gs)
	}
	done := make(chan struct{})
	go func() { defer close(done); gs.Serve(lis) }()
	if o.serving != nil {
		o.serving()
	}
	t.Cleanup(func() {
		gs.Stop()
		<-done
		if err := srv.Close(); err != nil {
			t.Errorf("close service: %v", err)
		}
	})
	return &testServer{Addr: lis.Addr().String(), Root: store.Root(), Store: store, Service: srv, Cache: cache}
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

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }
