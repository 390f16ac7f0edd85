package flightsql

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"google.golang.org/grpc"
)

// A panic anywhere in a request becomes that request's Internal error, never a dead
// process: the interceptors of recoveryOptions catch panics in handlers (and in the
// arrow-go code they call, on the handler's goroutine), and every goroutine that
// works on client data defers recoverChunk or recoverInto. gRPC itself recovers
// nothing: a panic on any goroutine ends the whole server.

// errPanic is a recovered panic: a bug, reported as Internal. The panic's value and
// stack go to the log, not to the client.
var errPanic = errors.New("internal error: the server recovered from a bug and logged it")

// recoveryOptions are the interceptors that turn a handler's panic into Internal,
// logged at error level with its stack, and any other error that is not a gRPC
// status into one through toStatus: arrow-go's Flight SQL DoGet, for one, returns the
// bare context.Canceled of a client that went away, which gRPC would report (and the
// request log record) as Unknown. Service.ServerOptions puts them first among the
// service's interceptors.
func recoveryOptions(log *slog.Logger) []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
			defer recoverCall(log, info.FullMethod, &err)
			resp, err = handler(ctx, req)
			return resp, toStatus(err)
		}),
		grpc.ChainStreamInterceptor(recoverStream(log)),
	}
}

// recoverStream is the stream half of recoveryOptions.
func recoverStream(log *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
		defer recoverCall(log, info.FullMethod, &err)
		return toStatus(handler(srv, ss))
	}
}

// recoverCall, deferred, turns a panic into the call's Internal status.
func recoverCall(log *slog.Logger, method string, errp *error) {
	if p := recover(); p != nil {
		*errp = toStatus(panicError(log, method, p))
	}
}

// recoverInto, deferred by a goroutine working for a request, turns a panic into
// *errp, which the goroutine's owner reports.
func recoverInto(log *slog.Logger, what string, errp *error) {
	if p := recover(); p != nil {
		*errp = panicError(log, what, p)
	}
}

// recoverChunk, deferred by a goroutine that streams a result on ch, turns a panic
// into an error chunk: the call ends with Internal. ch must still be open.
func recoverChunk(ctx context.Context, log *slog.Logger, what string, ch chan<- flight.StreamChunk) {
	if p := recover(); p != nil {
		send(ctx, ch, flight.StreamChunk{Err: toStatus(panicError(log, what, p))})
	}
}

// panicError logs a recovered panic with its stack and returns errPanic naming what
// was running.
func panicError(log *slog.Logger, what string, p any) error {
	log.Error("recovered from a panic", "in", what, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
	return fmt.Errorf("%s: %w", what, errPanic)
}
