package flightsql

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow/flight"
	pb "github.com/apache/arrow-go/v18/arrow/flight/gen/flight"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/quiverdata/quiver/catalog"
)

// Session options (SetSessionOptions, GetSessionOptions, CloseSession). A session is
// made by the first SetSessionOptions that sets something and lives in memory
// (sessions.go); its id travels in a cookie, so clients need a cookie middleware
// (ADBC: adbc.flight.sql.rpc.with_cookie_middleware=true).
//
// The options:
//
//	catalog        the default catalog; only DuckDB's one catalog, "memory", exists
//	schema         the default schema; only "main" exists
//	query_timeout  how long each query of the session may run: a duration string
//	               ("30s", "1m30s") or a number of seconds (int, double or string);
//	               0 or unset: the server's --query-timeout. It can shorten the
//	               server's limit, never extend it.
//
// A value of the wrong type or out of range is reported per option as
// INVALID_VALUE, an unknown option as INVALID_NAME; the other options of the same
// request are still set.
const (
	optionCatalog      = "catalog"
	optionSchema       = "schema"
	optionQueryTimeout = "query_timeout"
)

// errNoSessions answers session actions on a gRPC server without the interceptors.
var errNoSessions = status.Error(codes.Unimplemented, "sessions are not enabled on this server: its gRPC server lacks Quiver's session interceptors (Service.ServerOptions)")

// SetSessionOptions sets options of the caller's session, creating the session (and
// sending its cookie) if the call has none.
func (s *SQLServer) SetSessionOptions(ctx context.Context, req *flight.SetSessionOptionsRequest) (*flight.SetSessionOptionsResult, error) {
	cs := sessionOf(ctx)
	if cs == nil {
		return nil, errNoSessions
	}
	errs := make(map[string]*flight.SetSessionOptionsResultError)
	var changes []func(*sessionOptions)
	for name, v := range req.GetSessionOptions() {
		change, code := s.parseOption(name, v)
		if code != flight.SetSessionOptionsResultErrorUnspecified {
			errs[name] = &flight.SetSessionOptionsResultError{Value: code}
			continue
		}
		changes = append(changes, change)
	}
	if len(changes) > 0 {
		sess := cs.session
		if sess == nil {
			var why sessionRefusal
			client := clientKey(ctx)
			if sess, why = cs.store.create(client); sess == nil {
				if why == sessionsClientLimit {
					return nil, status.Errorf(codes.ResourceExhausted, "%s already has %d sessions, the limit per client: close unused ones with CloseSession", client, maxSessionsPerClient)
				}
				return nil, status.Errorf(codes.ResourceExhausted, "too many sessions (%d): close unused ones with CloseSession", maxSessions)
			}
			if err := setSessionCookie(ctx, sess.id, 0); err != nil {
				cs.store.close(sess)
				return nil, toStatus(fmt.Errorf("send session cookie: %w", err))
			}
			cs.session = sess
		}
		sess.mu.Lock()
		for _, change := range changes {
			change(&sess.opts)
		}
		sess.mu.Unlock()
	}
	return &flight.SetSessionOptionsResult{Errors: errs}, nil
}

// parseOption validates one option; on success it returns the change to make.
func (s *SQLServer) parseOption(name string, v *flight.SessionOptionValue) (func(*sessionOptions), pb.SetSessionOptionsResult_ErrorValue) {
	unset := v.GetOptionValue() == nil // by convention, a valueless option resets it
	switch name {
	case optionCatalog, optionSchema:
		want := sqlCatalog
		if name == optionSchema {
			want = sqlSchema
		}
		sv, isString := v.GetOptionValue().(*pb.SessionOptionValue_StringValue)
		if !unset && (!isString || catalog.FoldIdent(sv.StringValue) != want) {
			return nil, flight.SetSessionOptionsResultErrorInvalidValue
		}
		return func(*sessionOptions) {}, flight.SetSessionOptionsResultErrorUnspecified
	case optionQueryTimeout:
		var d time.Duration
		if !unset {
			var ok bool
			if d, ok = parseTimeout(v); !ok || (s.queryTimeout > 0 && d > s.queryTimeout) {
				return nil, flight.SetSessionOptionsResultErrorInvalidValue
			}
		}
		return func(o *sessionOptions) { o.queryTimeout = d }, flight.SetSessionOptionsResultErrorUnspecified
	}
	return nil, flight.SetSessionOptionsResultErrorInvalidName
}

// parseTimeout reads a query_timeout value: a Go duration string, or seconds as an
// integer, a double or a numeric string. Negative, NaN and overlong values are not
// timeouts.
func parseTimeout(v *flight.SessionOptionValue) (time.Duration, bool) {
	var secs float64
	switch x := v.GetOptionValue().(type) {
	case *pb.SessionOptionValue_StringValue:
		str := strings.TrimSpace(x.StringValue)
		if d, err := time.ParseDuration(str); err == nil {
			return d, d >= 0
		}
		f, err := strconv.ParseFloat(str, 64)
		if err != nil {
			return 0, false
		}
		secs = f
	case *pb.SessionOptionValue_Int64Value:
		secs = float64(x.Int64Value)
	case *pb.SessionOptionValue_DoubleValue:
		secs = x.DoubleValue
	default:
		return 0, false
	}
	if math.IsNaN(secs) || secs < 0 || secs > float64(math.MaxInt64/int64(time.Second)) {
		return 0, false
	}
	return time.Duration(secs * float64(time.Second)), true
}

// GetSessionOptions reports the options in effect for the caller: the session's, or
// the server's defaults when the call has no session. A cookie naming a closed or
// expired session is NotFound, so a client learns its settings are gone.
func (s *SQLServer) GetSessionOptions(ctx context.Context, _ *flight.GetSessionOptionsRequest) (*flight.GetSessionOptionsResult, error) {
	cs := sessionOf(ctx)
	if cs == nil {
		return nil, errNoSessions
	}
	if cs.cookie && cs.session == nil {
		return nil, errSessionGone
	}
	var opts sessionOptions
	if cs.session != nil {
		opts = cs.session.options()
	}
	out := map[string]*flight.SessionOptionValue{
		optionCatalog: stringOption(sqlCatalog),
		optionSchema:  stringOption(sqlSchema),
	}
	if d := s.effectiveTimeout(opts); d > 0 {
		out[optionQueryTimeout] = stringOption(d.String())
	}
	return &flight.GetSessionOptionsResult{SessionOptions: out}, nil
}

// errSessionGone answers a cookie whose session was closed or expired.
var errSessionGone = status.Error(codes.NotFound, "session not found: it was closed or expired after being idle; SetSessionOptions starts a new one")

// CloseSession ends the caller's session and asks the client to drop its cookie.
// Closing without a session is a no-op that reports CLOSED.
func (s *SQLServer) CloseSession(ctx context.Context, _ *flight.CloseSessionRequest) (*flight.CloseSessionResult, error) {
	cs := sessionOf(ctx)
	if cs == nil {
		return nil, errNoSessions
	}
	if cs.cookie && cs.session == nil {
		return nil, errSessionGone
	}
	if cs.session != nil {
		cs.store.close(cs.session)
		if err := setSessionCookie(ctx, cs.session.id, -1); err != nil {
			s.log.Debug("cannot expire the session cookie", "err", err)
		}
		cs.session = nil
	}
	return &flight.CloseSessionResult{Status: flight.CloseSessionResultClosed}, nil
}

func stringOption(v string) *flight.SessionOptionValue {
	return &flight.SessionOptionValue{OptionValue: &pb.SessionOptionValue_StringValue{StringValue: v}}
}

// effectiveTimeout is the query timeout that applies under opts.
func (s *SQLServer) effectiveTimeout(opts sessionOptions) time.Duration {
	if opts.queryTimeout > 0 {
		return opts.queryTimeout
	}
	return s.queryTimeout
}

// sessionQueryContext bounds a query's context by its session's query_timeout. The
// engine applies the server's own limit on top, so the shorter wins. Call cancel
// when the query is over.
func sessionQueryContext(ctx context.Context) (context.Context, context.CancelFunc) {
	cs := sessionOf(ctx)
	if cs == nil || cs.session == nil {
		return ctx, func() {}
	}
	d := cs.session.options().queryTimeout
	if d <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeoutCause(ctx, d,
		fmt.Errorf("session query_timeout %s elapsed: %w", d, context.DeadlineExceeded))
}
