package observe

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// Options configure an Observer. The zero value logs to slog.Default and keeps no
// metrics.
type Options struct {
	// Logger receives one line per RPC; nil: slog.Default().
	Logger *slog.Logger
	// Metrics, if not nil, are updated by every RPC.
	Metrics *Metrics
}

// Observer logs and measures every RPC through its interceptors.
type Observer struct {
	log     *slog.Logger
	metrics *Metrics
}

// New returns an Observer.
func New(opts Options) *Observer {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Observer{log: opts.Logger, metrics: opts.Metrics}
}

// ServerOptions install the Observer's interceptors, chained. Put them before other
// interceptors, so that the log and the metrics also cover the calls those refuse.
func (o *Observer) ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(o.UnaryInterceptor),
		grpc.ChainStreamInterceptor(o.StreamInterceptor),
	}
}

// flightService is the full name of the Arrow Flight service; its methods are
// logged and labelled by their short names (DoGet), others by their full ones
// (grpc.health.v1.Health/Check).
const flightService = "arrow.flight.protocol.FlightService"

// methodName is the name a call is logged and labelled by.
func methodName(fullMethod string) string {
	m := strings.TrimPrefix(fullMethod, "/")
	if rest, ok := strings.CutPrefix(m, flightService+"/"); ok {
		return rest
	}
	return m
}

// UnaryInterceptor logs and measures a unary call.
func (o *Observer) UnaryInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	c := o.begin(info.FullMethod, false)
	c.describe(req)
	resp, err := handler(withCall(ctx, c), req)
	o.end(ctx, c, err)
	return resp, err
}

// StreamInterceptor logs and measures a streaming call, counting the FlightData
// messages that pass in either direction.
func (o *Observer) StreamInterceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	c := o.begin(info.FullMethod, true)
	err := handler(srv, &stream{ServerStream: ss, ctx: withCall(ss.Context(), c), call: c})
	o.end(ss.Context(), c, err)
	return err
}

// call is what the interceptors gather about one RPC. Its counters are updated by
// whatever goroutines send and receive on the stream.
type call struct {
	method    string
	streaming bool
	start     time.Time
	counters  *flowCounters // nil without metrics

	rowsIn, bytesIn, rowsOut, bytesOut atomic.Int64

	mu        sync.Mutex
	described bool
	desc      description
	extra     []slog.Attr // from AddAttrs
}

func (o *Observer) begin(fullMethod string, streaming bool) *call {
	c := &call{method: methodName(fullMethod), streaming: streaming, start: time.Now()}
	if o.metrics != nil {
		c.counters = o.metrics.begin(c.method, streaming)
	}
	return c
}

// describe records what the call is about from its first request message.
func (c *call) describe(m any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.described {
		return
	}
	c.described = true
	c.desc = describeRequest(m)
}

// flightData counts one FlightData message.
func (c *call) flightData(m any, in bool) {
	var (
		header []byte
		bytes  int64
	)
	switch fd := m.(type) {
	case *flight.FlightData:
		header, bytes = fd.GetDataHeader(), int64(len(fd.GetDataBody()))
	case SentFlightData:
		header, bytes = fd.FlightDataHeader(), fd.FlightDataBodyLen()
	default:
		return
	}
	rows, _ := recordBatchRows(header)
	if in {
		c.rowsIn.Add(rows)
		c.bytesIn.Add(bytes)
	} else {
		c.rowsOut.Add(rows)
		c.bytesOut.Add(bytes)
	}
	c.counters.add(in, rows, bytes)
}

// end logs the call and updates the metrics.
func (o *Observer) end(ctx context.Context, c *call, err error) {
	d := time.Since(c.start)
	code := status.Code(err)
	c.mu.Lock()
	desc, extra := c.desc, c.extra
	c.mu.Unlock()
	if o.metrics != nil {
		o.metrics.end(c, desc.query, code, d)
	}

	level := slog.LevelInfo
	switch {
	case code == codes.Internal, code == codes.Unknown, code == codes.DataLoss:
		level = slog.LevelError
	case strings.HasPrefix(c.method, "grpc."):
		// Health checks and reflection come every few seconds from probes.
		level = slog.LevelDebug
	}
	if !o.log.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 12+len(desc.attrs)+len(extra))
	attrs = append(attrs, slog.String("method", c.method))
	attrs = append(attrs, desc.attrs...)
	if c.streaming {
		attrs = append(attrs,
			slog.Int64("rows_in", c.rowsIn.Load()), slog.Int64("bytes_in", c.bytesIn.Load()),
			slog.Int64("rows_out", c.rowsOut.Load()), slog.Int64("bytes_out", c.bytesOut.Load()))
	}
	attrs = append(attrs,
		slog.Float64("duration_ms", float64(d.Microseconds())/1000),
		slog.String("peer", peerOf(ctx)),
		slog.String("code", code.String()))
	if err != nil {
		attrs = append(attrs, slog.String("error", shorten(status.Convert(err).Message(), 512)))
	}
	attrs = append(attrs, extra...)
	o.log.LogAttrs(ctx, level, "rpc", attrs...)
}

func peerOf(ctx context.Context) string {
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		return p.Addr.String()
	}
	return ""
}

// stream counts the FlightData messages of a streaming call and describes the call
// by its first request message.
type stream struct {
	grpc.ServerStream
	ctx  context.Context
	call *call
}

func (s *stream) Context() context.Context { return s.ctx }

func (s *stream) RecvMsg(m any) error {
	err := s.ServerStream.RecvMsg(m)
	if err == nil {
		// Handshake requests carry credentials: never described.
		if s.call.method != "Handshake" {
			s.call.describe(m)
		}
		s.call.flightData(m, true)
	}
	return err
}

func (s *stream) SendMsg(m any) error {
	err := s.ServerStream.SendMsg(m)
	if err == nil {
		s.call.flightData(m, false)
	}
	return err
}

// SentFlightData is a FlightData message a server sends already encoded (plain
// DoGet's, which bypass the proto codec's copy): it is counted like a FlightData.
type SentFlightData interface {
	// FlightDataHeader is the message's data_header, the Arrow IPC message header.
	FlightDataHeader() []byte
	// FlightDataBodyLen is the length of its data_body.
	FlightDataBodyLen() int64
}

type callKey struct{}

func withCall(ctx context.Context, c *call) context.Context {
	return context.WithValue(ctx, callKey{}, c)
}

// AddAttrs adds attributes to the log line of the RPC whose context (or a context
// derived from it) ctx is. Outside an observed RPC it does nothing. Never add
// secrets: the line is written as given.
func AddAttrs(ctx context.Context, attrs ...slog.Attr) {
	c, ok := ctx.Value(callKey{}).(*call)
	if !ok {
		return
	}
	c.mu.Lock()
	c.extra = append(c.extra, attrs...)
	c.mu.Unlock()
}

// AttrsInterceptors add the attributes attrs finds in a call's context to its log
// line. Install them after the interceptors that put what attrs reads into the
// context (after authentication, for the caller's name), inside the Observer's.
func AttrsInterceptors(attrs func(context.Context) []slog.Attr) []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
			AddAttrs(ctx, attrs(ctx)...)
			return handler(ctx, req)
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
			AddAttrs(ss.Context(), attrs(ss.Context())...)
			return handler(srv, ss)
		}),
	}
}
