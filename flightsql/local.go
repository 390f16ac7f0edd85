package flightsql

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"google.golang.org/grpc/status"
)

// In-process callers (the web console, flightsql/console) run SQL through the same
// path as a Flight SQL statement's DoGet: the same stream and query slots of the
// caller (limits.go), the same query timeout, the same engine sandbox and the same
// result memory budget (outgoing.go). Authorization is theirs to do first, with the
// auth.Guard, as the interceptors do for gRPC calls.

// Query runs sql for the caller in ctx (an auth.Principal from auth.NewContext, or a
// gRPC peer from peer.NewContext naming the client's address: limits count it) and
// streams its result as a Flight SQL DoGet would send it. Batches are cut to fit one
// message and each holds a part of the result memory budget until it is released: the
// caller must Release every chunk's Data, and drain the channel or end ctx. Errors
// that stop the stream early arrive as a chunk's Err, as gRPC status errors.
func (s *Service) Query(ctx context.Context, sql string) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	sq := s.SQL
	releaseStream, err := sq.admit.streams.acquire(ctx, clientKey(ctx))
	if err != nil {
		return nil, nil, toStatus(err)
	}
	sq.admit.idle.busy()
	endStream := func() {
		releaseStream()
		if _, open := sq.admit.streams.inUse(""); open == 0 {
			sq.admit.idle.idle()
		}
	}
	rctx, end, err := sq.startRequest(ctx)
	if err != nil {
		endStream()
		return nil, nil, err
	}
	schema, ch, err := sq.stream(ctx, rctx, sql, nil, nil, func() { end(); endStream() })
	if err != nil {
		return nil, nil, err
	}
	return schema, ch, nil
}

// Activity is what the server is doing now, for a status page.
type Activity struct {
	// Streams are the DoGet, DoPut and DoExchange calls and in-process queries open.
	Streams int
	// Queries are the SQL requests running in DuckDB (planning or streaming).
	Queries int
}

// Activity counts the streams and queries open now, as the limits count them.
func (s *Service) Activity() Activity {
	_, streams := s.SQL.admit.streams.inUse("")
	_, queries := s.SQL.admit.queries.inUse("")
	return Activity{Streams: streams, Queries: queries}
}

// StatusOf is the gRPC status a Flight client would get for err, from the one table
// of domain errors to codes (errors.go), with the server's paths redacted from its
// message. Other transports (the console's HTTP API) map its code to theirs.
func StatusOf(err error) *status.Status {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(toStatus(err))
	if !ok {
		return status.New(codeOf(err), fmt.Sprint(err))
	}
	return st
}
