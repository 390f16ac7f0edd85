package flightsql

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/quiverdata/quiver/catalog"
)

// panicService is a gRPC service whose unary and streaming methods panic.
var panicService = grpc.ServiceDesc{
	ServiceName: "quiver.test.Panic",
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Unary",
		Handler: func(srv any, ctx context.Context, dec func(any) error, icpt grpc.UnaryServerInterceptor) (any, error) {
			if err := dec(new(emptypb.Empty)); err != nil {
				return nil, err
			}
			info := &grpc.UnaryServerInfo{Server: srv, FullMethod: "/quiver.test.Panic/Unary"}
			return icpt(ctx, nil, info, func(context.Context, any) (any, error) { panic("boom in a unary handler") })
		},
	}},
	Streams: []grpc.StreamDesc{{
		StreamName:    "Stream",
		ServerStreams: true,
		Handler:       func(any, grpc.ServerStream) error { panic("boom in a stream handler") },
	}},
}

// A panic in a handler, unary or streaming, becomes that call's Internal error,
// logged with its stack; the server goes on serving. The chain is the one
// Service.ServerOptions gives the real server and the test harness. Without the
// interceptors, the first call ends the test binary.
func TestServiceRecoversPanics(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	store, err := catalog.Open(t.TempDir(), catalog.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() }) // stops the converter of landed puts
	srv, err := NewService(context.Background(), ServiceConfig{Store: store, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer(srv.ServerOptions(16 << 20)...)
	srv.Register(gs)
	gs.RegisterService(&panicService, struct{}{})
	done := make(chan struct{})
	go func() { defer close(done); gs.Serve(lis) }()
	t.Cleanup(func() { gs.Stop(); <-done; srv.Close() })
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ctx := context.Background()

	for i := 0; i < 2; i++ { // the second round proves the server survived the first
		err := conn.Invoke(ctx, "/quiver.test.Panic/Unary", &emptypb.Empty{}, &emptypb.Empty{})
		wantCode(t, "unary", err, codes.Internal, "recovered from a bug")

		stream, err := conn.NewStream(ctx, &panicService.Streams[0], "/quiver.test.Panic/Stream")
		if err != nil {
			t.Fatal(err)
		}
		if err := stream.SendMsg(&emptypb.Empty{}); err != nil && err != io.EOF {
			t.Fatal(err)
		}
		stream.CloseSend()
		wantCode(t, "stream", stream.RecvMsg(&emptypb.Empty{}), codes.Internal, "recovered from a bug")
	}
	// The Flight service still answers.
	client := flight.NewClientFromConn(conn, nil)
	if _, err := client.GetFlightInfo(ctx, &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{"none.parquet"}}); status.Code(err) != codes.NotFound {
		t.Errorf("GetFlightInfo after the panics = %v, want NotFound", err)
	}
	for _, want := range []string{"level=ERROR", "boom in a unary handler", "boom in a stream handler", "panics_test.go"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the log does not mention %q:\n%s", want, logs.String())
		}
	}
}

// A panic in a goroutine that streams a result ends that stream with an Internal
// error chunk instead of the process.
func TestRecoverChunk(t *testing.T) {
	ctx := context.Background()
	ch := make(chan flight.StreamChunk, 1)
	go func() {
		defer close(ch)
		defer recoverChunk(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), "stream a test result", ch)
		var m map[string]int
		m["x"] = 1 // a nil map write: a runtime panic
	}()
	c, ok := <-ch
	if !ok {
		t.Fatal("no chunk: the panic was not turned into an error")
	}
	wantCode(t, "chunk", c.Err, codes.Internal, "stream a test result")
	if _, ok := <-ch; ok {
		t.Error("more than one chunk")
	}
}

func wantCode(t *testing.T, what string, err error, code codes.Code, mention string) {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok || st.Code() != code || !strings.Contains(st.Message(), mention) {
		t.Errorf("%s: %v, want %v mentioning %q", what, err, code, mention)
	}
}

// A handler that returns a bare error rather than a status (arrow-go's Flight SQL
// DoGet returns the context's error when the client goes away) is answered with the
// code toStatus gives it, not gRPC's Unknown: the request log then records a
// cancelled DoGet as Canceled, not as a server error.
func TestRecoverStreamMapsBareErrors(t *testing.T) {
	icpt := recoverStream(slog.New(slog.DiscardHandler))
	info := &grpc.StreamServerInfo{FullMethod: "/arrow.flight.protocol.FlightService/DoGet"}
	for _, c := range []struct {
		err  error
		want codes.Code
	}{
		{context.Canceled, codes.Canceled},
		{context.DeadlineExceeded, codes.DeadlineExceeded},
		{status.Error(codes.NotFound, "kept as it is"), codes.NotFound},
		{nil, codes.OK},
	} {
		err := icpt(nil, nil, info, func(any, grpc.ServerStream) error { return c.err })
		if got := status.Code(err); got != c.want {
			t.Errorf("handler error %v: code %v, want %v", c.err, got, c.want)
		}
	}
}
