package integration

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-adbc/go/adbc"
	"github.com/apache/arrow-go/v18/arrow/flight"
	fsql "github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	pb "github.com/apache/arrow-go/v18/arrow/flight/gen/flight"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Session options through arrow-go's Flight client (with its cookie middleware) and
// through ADBC, and what a malformed session cookie does to the server (nothing).

// longQuery runs for minutes unless something stops it (about 1 s per 10^9 rows here).
const longQuery = "SELECT sum(range) FROM range(100000000000)"

func stringValue(v string) *flight.SessionOptionValue {
	return &flight.SessionOptionValue{OptionValue: &pb.SessionOptionValue_StringValue{StringValue: v}}
}

// syncCookies is arrow-go's cookie middleware over jar, except that a stream's
// response headers reach the jar before the call returns.
//
// arrow-go's own stream middleware (flight.CreateClientMiddleware, v18.8.0) loses
// them now and then, and every session call is a stream (DoAction): when a stream
// ends, gRPC's RecvMsg cancels the stream's context before it returns io.EOF, and
// the middleware's goroutine watching that context can then finish the call first,
// with context.Canceled, which skips HeadersReceived. The Set-Cookie of
// SetSessionOptions or CloseSession is dropped, the jar keeps the old cookie (or
// none), and the next call names the wrong session. The server did send the
// cookie; these tests check the server, so they take the headers synchronously,
// from gRPC's Header and Trailer call options, which are filled in before RecvMsg
// returns the end of the stream.
func syncCookies(jar flight.CookieMiddleware) flight.ClientMiddleware {
	mw := flight.CreateClientMiddleware(jar) // unary calls are handled synchronously
	mw.Stream = func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		var hdr, trl metadata.MD
		cs, err := streamer(jar.StartCall(ctx), desc, cc, method, append(opts, grpc.Header(&hdr), grpc.Trailer(&trl))...)
		if err != nil {
			return nil, err
		}
		return &cookieStream{ClientStream: cs, desc: desc, done: func() {
			jar.(flight.ClientHeadersMiddleware).HeadersReceived(ctx, metadata.Join(hdr, trl))
		}}, nil
	}
	return mw
}

type cookieStream struct {
	grpc.ClientStream
	desc *grpc.StreamDesc
	once sync.Once
	done func()
}

func (s *cookieStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if err != nil || !s.desc.ServerStreams { // the stream is over
		s.once.Do(s.done)
	}
	return err
}

// sessionStrings returns the string-valued session options the server reports.
func sessionStrings(t testing.TB, ctx context.Context, cl *fsql.Client) map[string]string {
	t.Helper()
	res, err := cl.GetSessionOptions(ctx, &flight.GetSessionOptionsRequest{})
	if err != nil {
		t.Fatalf("GetSessionOptions: %v", err)
	}
	out := make(map[string]string)
	for k, v := range res.GetSessionOptions() {
		out[k] = v.GetStringValue()
	}
	return out
}

// runQuery plans sql and reads its whole result; the error is the first one met.
func runQuery(ctx context.Context, cl *fsql.Client, sql string) (int64, error) {
	info, err := cl.Execute(ctx, sql)
	if err != nil {
		return 0, err
	}
	rdr, err := cl.DoGet(ctx, info.GetEndpoint()[0].GetTicket())
	if err != nil {
		return 0, err
	}
	defer rdr.Release()
	var rows int64
	for rdr.Next() {
		rows += rdr.RecordBatch().NumRows()
	}
	return rows, rdr.Err()
}

func TestSessionOptionsArrowGo(t *testing.T) {
	srv := startServer(t)
	cl := srv.sqlClient(t, syncCookies(flight.NewCookieMiddleware()))
	ctx := context.Background()

	// No session yet: the server's defaults.
	got := sessionStrings(t, ctx, cl)
	if got["catalog"] != "memory" || got["schema"] != "main" {
		t.Errorf("defaults = %v, want catalog memory, schema main", got)
	}
	if _, ok := got["query_timeout"]; ok {
		t.Errorf("defaults = %v: query_timeout reported, but the server has none", got)
	}

	res, err := cl.SetSessionOptions(ctx, &flight.SetSessionOptionsRequest{SessionOptions: map[string]*flight.SessionOptionValue{
		"catalog":       stringValue("memory"),
		"schema":        stringValue("MAIN"),
		"query_timeout": stringValue("90s"),
		"no_such":       stringValue("x"),
	}})
	if err != nil {
		t.Fatalf("SetSessionOptions: %v", err)
	}
	wantErrs := map[string]pb.SetSessionOptionsResult_ErrorValue{"no_such": flight.SetSessionOptionsResultErrorInvalidName}
	if errs := res.GetErrors(); len(errs) != len(wantErrs) || errs["no_such"].GetValue() != wantErrs["no_such"] {
		t.Errorf("errors = %v, want only no_such INVALID_NAME", errs)
	}
	if got := sessionStrings(t, ctx, cl); got["query_timeout"] != "1m30s" {
		t.Errorf("after set: %v, want query_timeout 1m30s", got)
	}

	t.Run("values", func(t *testing.T) {
		cases := []struct {
			name  string
			value *flight.SessionOptionValue
			want  string // reported query_timeout; "" if the value is refused
		}{
			{"seconds as int", &flight.SessionOptionValue{OptionValue: &pb.SessionOptionValue_Int64Value{Int64Value: 3}}, "3s"},
			{"seconds as double", &flight.SessionOptionValue{OptionValue: &pb.SessionOptionValue_DoubleValue{DoubleValue: 1.5}}, "1.5s"},
			{"seconds as string", stringValue("4"), "4s"},
			{"duration string", stringValue("2m"), "2m0s"},
			{"negative", &flight.SessionOptionValue{OptionValue: &pb.SessionOptionValue_Int64Value{Int64Value: -1}}, ""},
			{"negative duration", stringValue("-5s"), ""},
			{"not a duration", stringValue("soon"), ""},
			{"bool", &flight.SessionOptionValue{OptionValue: &pb.SessionOptionValue_BoolValue{BoolValue: true}}, ""},
			{"overflow", &flight.SessionOptionValue{OptionValue: &pb.SessionOptionValue_DoubleValue{DoubleValue: 1e300}}, ""},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				before := sessionStrings(t, ctx, cl)["query_timeout"]
				res, err := cl.SetSessionOptions(ctx, &flight.SetSessionOptionsRequest{SessionOptions: map[string]*flight.SessionOptionValue{"query_timeout": tc.value}})
				if err != nil {
					t.Fatal(err)
				}
				after := sessionStrings(t, ctx, cl)["query_timeout"]
				if tc.want == "" {
					if res.GetErrors()["query_timeout"].GetValue() != flight.SetSessionOptionsResultErrorInvalidValue {
						t.Errorf("errors = %v, want query_timeout INVALID_VALUE", res.GetErrors())
					}
					if after != before {
						t.Errorf("refused value changed query_timeout from %q to %q", before, after)
					}
					return
				}
				if len(res.GetErrors()) != 0 || after != tc.want {
					t.Errorf("errors %v, query_timeout %q; want none, %q", res.GetErrors(), after, tc.want)
				}
			})
		}
		for _, opt := range []string{"catalog", "schema"} {
			res, err := cl.SetSessionOptions(ctx, &flight.SetSessionOptionsRequest{SessionOptions: map[string]*flight.SessionOptionValue{opt: stringValue("elsewhere")}})
			if err != nil {
				t.Fatal(err)
			}
			if res.GetErrors()[opt].GetValue() != flight.SetSessionOptionsResultErrorInvalidValue {
				t.Errorf("%s elsewhere: errors = %v, want INVALID_VALUE", opt, res.GetErrors())
			}
		}
	})

	t.Run("query timeout cancels a long query", func(t *testing.T) {
		res, err := cl.SetSessionOptions(ctx, &flight.SetSessionOptionsRequest{SessionOptions: map[string]*flight.SessionOptionValue{"query_timeout": stringValue("500ms")}})
		if err != nil || len(res.GetErrors()) != 0 {
			t.Fatalf("set query_timeout: %v %v", res.GetErrors(), err)
		}
		start := time.Now()
		_, err = runQuery(ctx, cl, longQuery)
		if status.Code(err) != codes.DeadlineExceeded {
			t.Fatalf("long query: %v, want DeadlineExceeded", err)
		}
		if !strings.Contains(err.Error(), "query_timeout") {
			t.Errorf("error %q does not say which timeout elapsed", err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("long query stopped after %s, want about 500ms", d)
		}
		// A short query in the same session is unaffected.
		if rows, err := runQuery(ctx, cl, "SELECT 42"); err != nil || rows != 1 {
			t.Errorf("short query: %d rows, %v", rows, err)
		}
		// Unsetting (a valueless option) restores the server's default.
		res, err = cl.SetSessionOptions(ctx, &flight.SetSessionOptionsRequest{SessionOptions: map[string]*flight.SessionOptionValue{"query_timeout": {}}})
		if err != nil || len(res.GetErrors()) != 0 {
			t.Fatalf("unset query_timeout: %v %v", res.GetErrors(), err)
		}
		if got := sessionStrings(t, ctx, cl); got["query_timeout"] != "" {
			t.Errorf("after unset: %v, want no query_timeout", got)
		}
	})

	t.Run("close", func(t *testing.T) {
		res, err := cl.CloseSession(ctx, &flight.CloseSessionRequest{})
		if err != nil || res.GetStatus() != flight.CloseSessionResultClosed {
			t.Fatalf("CloseSession: %v, %v; want CLOSED", res.GetStatus(), err)
		}
		// The server expired the cookie: the client has no session any more.
		if got := sessionStrings(t, ctx, cl); got["query_timeout"] != "" || got["schema"] != "main" {
			t.Errorf("after close: %v, want the defaults", got)
		}
	})
}

// A session belongs to the client holding its cookie: another client does not see its
// options, and a cookie of a closed session is NotFound for session calls.
func TestSessionIsolationAndStaleCookie(t *testing.T) {
	srv := startServer(t)
	ctx := context.Background()
	jar := flight.NewCookieMiddleware()
	a := srv.sqlClient(t, syncCookies(jar))
	b := srv.sqlClient(t, syncCookies(flight.NewCookieMiddleware()))

	if _, err := a.SetSessionOptions(ctx, &flight.SetSessionOptionsRequest{SessionOptions: map[string]*flight.SessionOptionValue{"query_timeout": stringValue("7s")}}); err != nil {
		t.Fatal(err)
	}
	if got := sessionStrings(t, ctx, a)["query_timeout"]; got != "7s" {
		t.Errorf("client a: query_timeout %q, want 7s", got)
	}
	if got := sessionStrings(t, ctx, b)["query_timeout"]; got != "" {
		t.Errorf("client b: query_timeout %q, want none (a's session is not b's)", got)
	}
	// Keep a copy of a's cookie, close the session, then replay the old cookie.
	stale := srv.sqlClient(t, syncCookies(jar.Clone()))
	if _, err := a.CloseSession(ctx, &flight.CloseSessionRequest{}); err != nil {
		t.Fatal(err)
	}
	_, err := stale.GetSessionOptions(ctx, &flight.GetSessionOptionsRequest{})
	if status.Code(err) != codes.NotFound {
		t.Errorf("GetSessionOptions with a closed session's cookie: %v, want NotFound", err)
	}
	// Queries with the stale cookie still run, with the server's defaults.
	if rows, err := runQuery(ctx, stale, "SELECT 1"); err != nil || rows != 1 {
		t.Errorf("query with a stale cookie: %d rows, %v", rows, err)
	}
	// Setting an option starts a new session and replaces the stale cookie.
	if _, err := stale.SetSessionOptions(ctx, &flight.SetSessionOptionsRequest{SessionOptions: map[string]*flight.SessionOptionValue{"query_timeout": stringValue("8s")}}); err != nil {
		t.Fatal(err)
	}
	if got := sessionStrings(t, ctx, stale)["query_timeout"]; got != "8s" {
		t.Errorf("after a new session: query_timeout %q, want 8s", got)
	}
}

// Malformed or hostile Cookie headers neither crash the server nor fail the call:
// they are read as "no session" (or an unknown one).
func TestMalformedSessionCookie(t *testing.T) {
	srv := startServer(t)
	c := srv.client(t)
	putRecords(t, c, "uploaded.parquet", characters(memory.DefaultAllocator).Schema(), characters(memory.DefaultAllocator))
	cl := srv.sqlClient(t)

	cookies := []string{
		"arrow_flight_session_id",
		"arrow_flight_session_id=",
		"arrow_flight_session_id=\"unterminated",
		"arrow_flight_session_id=a;arrow_flight_session_id=b",
		"=;;;=;",
		";",
		"arrow_flight_session_id=" + strings.Repeat("A", 8000),
		"arrow_flight_session_id=../../etc/passwd; Path=/; Max-Age=-1",
		"arrow_flight_session_id=%00%ff",
		"arrow_flight_session_id=00000000000000000000000000000000",
	}
	for _, cookie := range cookies {
		name := cookie
		if len(name) > 40 {
			name = name[:40]
		}
		t.Run(name, func(t *testing.T) {
			ctx := metadata.AppendToOutgoingContext(context.Background(), "cookie", cookie)
			if _, err := cl.GetSessionOptions(ctx, &flight.GetSessionOptionsRequest{}); err != nil && status.Code(err) != codes.NotFound {
				t.Errorf("GetSessionOptions: %v, want OK or NotFound", err)
			}
			if _, err := cl.CloseSession(ctx, &flight.CloseSessionRequest{}); err != nil && status.Code(err) != codes.NotFound {
				t.Errorf("CloseSession: %v, want OK or NotFound", err)
			}
			if res, err := cl.SetSessionOptions(ctx, &flight.SetSessionOptionsRequest{SessionOptions: map[string]*flight.SessionOptionValue{"schema": stringValue("main")}}); err != nil || len(res.GetErrors()) != 0 {
				t.Errorf("SetSessionOptions: %v, %v", res.GetErrors(), err)
			}
			if rows, err := runQuery(ctx, cl, "SELECT * FROM uploaded"); err != nil || rows != 3 {
				t.Errorf("query: %d rows, %v; want 3", rows, err)
			}
			if _, err := c.GetFlightInfo(ctx, pathDescriptor("uploaded.parquet")); err != nil {
				t.Errorf("plain Flight GetFlightInfo: %v", err)
			}
		})
	}
	// Still serving.
	if got := listNames(t, c); len(got) != 1 {
		t.Errorf("ListFlights after the cookies = %q", got)
	}
}

func TestSessionOptionsADBC(t *testing.T) {
	srv := startServer(t)
	conn := srv.adbcConn(t, map[string]string{"adbc.flight.sql.rpc.with_cookie_middleware": adbc.OptionValueEnabled})
	opts := conn.(adbc.GetSetOptions)

	if v, err := opts.GetOption(adbc.OptionKeyCurrentCatalog); err != nil || v != "memory" {
		t.Errorf("current catalog = %q, %v; want memory", v, err)
	}
	if v, err := opts.GetOption(adbc.OptionKeyCurrentDbSchema); err != nil || v != "main" {
		t.Errorf("current schema = %q, %v; want main", v, err)
	}
	if err := opts.SetOption(adbc.OptionKeyCurrentDbSchema, "main"); err != nil {
		t.Errorf("set schema main: %v", err)
	}
	if err := opts.SetOption(adbc.OptionKeyCurrentDbSchema, "public"); adbcCode(t, err) != adbc.StatusInvalidArgument {
		t.Errorf("set schema public: %v, want InvalidArgument", err)
	}
	if err := opts.SetOption(adbc.OptionKeyCurrentCatalog, "other"); adbcCode(t, err) != adbc.StatusInvalidArgument {
		t.Errorf("set catalog other: %v, want InvalidArgument", err)
	}

	const timeoutKey = "adbc.flight.sql.session.option.query_timeout"
	if err := opts.SetOption(timeoutKey, "0.5"); err != nil {
		t.Fatalf("set query_timeout: %v", err)
	}
	if v, err := opts.GetOption(timeoutKey); err != nil || v != "500ms" {
		t.Errorf("query_timeout = %q, %v; want 500ms", v, err)
	}
	start := time.Now()
	_, _, err := adbcQuery(t, conn, longQuery)
	if code := adbcCode(t, err); code != adbc.StatusTimeout {
		t.Errorf("long query: %v (%v), want Timeout", code, err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("long query stopped after %s, want about 500ms", d)
	}
}

// One client cannot take every session on the server: each SetSessionOptions without
// a cookie makes a session, and past its share (256) the client is refused with
// ResourceExhausted naming the limit, while another client still gets one.
func TestSessionsPerClientBound(t *testing.T) {
	srv, token := authServer(t)
	cl := srv.sqlClient(t)
	greedy := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+token)
	other, err := srv.client(t).AuthenticateBasicToken(context.Background(), "reader", "pw-reader")
	if err != nil {
		t.Fatal(err)
	}
	set := &flight.SetSessionOptionsRequest{SessionOptions: map[string]*flight.SessionOptionValue{"query_timeout": stringValue("7s")}}
	made := 0
	for made <= 300 {
		if _, err = cl.SetSessionOptions(greedy, set); err != nil {
			break
		}
		made++
	}
	if made != 256 || status.Code(err) != codes.ResourceExhausted ||
		!strings.Contains(err.Error(), "token dashboards already has 256 sessions, the limit per client") {
		t.Fatalf("after %d sessions: %v; want 256, then ResourceExhausted naming the limit per client", made, err)
	}
	if _, err := cl.SetSessionOptions(other, set); err != nil {
		t.Fatalf("another client was refused a session: %v", err)
	}
}
