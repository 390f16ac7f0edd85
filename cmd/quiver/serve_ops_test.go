package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
)

// runningServe is `quiver serve` running in-process on 127.0.0.1:0.
type runningServe struct {
	grpcAddr, metricsAddr string
	conn                  *grpc.ClientConn
	stop                  context.CancelFunc // as SIGTERM does
	done                  chan struct{}      // closed when serve returns
	err                   error              // serve's result, once done
	backend               testBackend        // where it keeps its datasets
}

func startServe(t *testing.T, ops opsOptions) *runningServe {
	t.Helper()
	ready := make(chan [2]net.Addr, 1)
	ops.ready = func(g, m net.Addr) { ready <- [2]net.Addr{g, m} }
	backend := newTestBackend(t)
	opts := serveOptions{
		root: backend.root, storage: backend.storage, addr: "127.0.0.1:0", logFormat: "text", logLevel: "error", memoryTier: "0",
		maxMessageBytes: 1 << 20, shutdownGrace: 20 * time.Second, queryTimeout: time.Minute,
		ops: ops,
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningServe{backend: backend, stop: cancel, done: make(chan struct{})}
	go func() { defer close(r.done); r.err = serve(ctx, opts) }()
	select {
	case addrs := <-ready:
		r.grpcAddr = addrs[0].String()
		if addrs[1] != nil {
			r.metricsAddr = addrs[1].String()
		}
	case <-r.done:
		t.Fatalf("serve: %v", r.err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start")
	}
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
	conn, err := grpc.NewClient(r.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	r.conn = conn
	return r
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestServeHealthMetricsAndShutdown runs serve with --metrics-addr: SERVING, metrics
// over HTTP, then on SIGTERM NOT_SERVING and a prompt stop although a health Watch
// is open.
func TestServeHealthMetricsAndShutdown(t *testing.T) {
	r := startServe(t, opsOptions{metricsAddr: "127.0.0.1:0"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	hc := healthpb.NewHealthClient(r.conn)
	resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("Check: %v %v, want SERVING", resp.GetStatus(), err)
	}
	watch, err := hc.Watch(ctx, &healthpb.HealthCheckRequest{Service: "arrow.flight.protocol.FlightService"})
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := watch.Recv(); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("Watch: %v %v, want SERVING", resp.GetStatus(), err)
	}

	if code, body := httpGet(t, "http://"+r.metricsAddr+"/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	code, body := httpGet(t, "http://"+r.metricsAddr+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range []string{
		`quiver_rpc_requests_total{code="OK",method="grpc.health.v1.Health/Check"} 1`,
		`quiver_rpc_active_streams{method="grpc.health.v1.Health/Watch"} 1`,
		"quiver_catalog_datasets 0",
		"go_goroutines ",
		"process_open_fds ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics has no %q", want)
		}
	}

	start := time.Now()
	r.stop()
	if resp, err := watch.Recv(); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("Watch at shutdown: %v %v, want NOT_SERVING", resp.GetStatus(), err)
	}
	if _, err := watch.Recv(); !errors.Is(err, io.EOF) {
		t.Errorf("Watch after NOT_SERVING: %v, want its end", err)
	}
	select {
	case <-r.done:
		if r.err != nil {
			t.Fatalf("serve: %v", r.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop: the open Watch held the graceful stop")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("stopping took %v with a 20s grace period", d)
	}
	if _, err := http.Get("http://" + r.metricsAddr + "/healthz"); err == nil {
		t.Error("the metrics listener is still up after serve returned")
	}
}

func listServices(ctx context.Context, conn *grpc.ClientConn) ([]string, error) {
	stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		return nil, err
	}
	defer stream.CloseSend()
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{
		MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{},
	}); err != nil && !errors.Is(err, io.EOF) {
		return nil, err // io.EOF: the server ended the stream; Recv says why
	}
	resp, err := stream.Recv()
	if err != nil {
		return nil, err
	}
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	return names, nil
}

func TestServeReflection(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	t.Run("off by default", func(t *testing.T) {
		r := startServe(t, opsOptions{})
		if _, err := listServices(ctx, r.conn); status.Code(err) != codes.Unimplemented {
			t.Fatalf("reflection without --grpc-reflection: %v, want Unimplemented", err)
		}
		if r.metricsAddr != "" {
			t.Errorf("metrics on %s without --metrics-addr", r.metricsAddr)
		}
	})
	t.Run("on with --grpc-reflection", func(t *testing.T) {
		r := startServe(t, opsOptions{grpcReflection: true})
		names, err := listServices(ctx, r.conn)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"arrow.flight.protocol.FlightService", "grpc.health.v1.Health"} {
			if !slices.Contains(names, want) {
				t.Errorf("services %v: no %s", names, want)
			}
		}
	})
}

func TestServeRefusesTakenMetricsAddr(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	opts := serveOptions{
		root: t.TempDir(), addr: "127.0.0.1:0", logFormat: "text", logLevel: "error", memoryTier: "0",
		maxMessageBytes: 1 << 20, shutdownGrace: time.Second,
		ops: opsOptions{metricsAddr: lis.Addr().String()},
	}
	err = serve(context.Background(), opts)
	if err == nil || !strings.Contains(err.Error(), "--metrics-addr") {
		t.Fatalf("serve with a taken metrics port: %v", err)
	}
}
