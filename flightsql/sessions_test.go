package flightsql

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/flight"
	pb "github.com/apache/arrow-go/v18/arrow/flight/gen/flight"
	"google.golang.org/grpc/metadata"
)

func TestParseTimeout(t *testing.T) {
	str := func(s string) *flight.SessionOptionValue {
		return &flight.SessionOptionValue{OptionValue: &pb.SessionOptionValue_StringValue{StringValue: s}}
	}
	i64 := func(n int64) *flight.SessionOptionValue {
		return &flight.SessionOptionValue{OptionValue: &pb.SessionOptionValue_Int64Value{Int64Value: n}}
	}
	f64 := func(f float64) *flight.SessionOptionValue {
		return &flight.SessionOptionValue{OptionValue: &pb.SessionOptionValue_DoubleValue{DoubleValue: f}}
	}
	cases := []struct {
		name string
		v    *flight.SessionOptionValue
		want time.Duration
		ok   bool
	}{
		{"duration", str("1m30s"), 90 * time.Second, true},
		{"zero", str("0"), 0, true},
		{"seconds string", str(" 2.5 "), 2500 * time.Millisecond, true},
		{"int seconds", i64(30), 30 * time.Second, true},
		{"double seconds", f64(0.25), 250 * time.Millisecond, true},
		{"negative duration", str("-1s"), 0, false},
		{"negative int", i64(-1), 0, false},
		{"NaN", f64(math.NaN()), 0, false},
		{"+Inf", f64(math.Inf(1)), 0, false},
		{"huge int", i64(math.MaxInt64), 0, false},
		{"garbage", str("soon"), 0, false},
		{"empty string", str(""), 0, false},
		{"bool", &flight.SessionOptionValue{OptionValue: &pb.SessionOptionValue_BoolValue{BoolValue: true}}, 0, false},
		{"list", &flight.SessionOptionValue{OptionValue: &pb.SessionOptionValue_StringListValue_{}}, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseTimeout(tc.v)
			if ok != tc.ok || (ok && got != tc.want) {
				t.Errorf("parseTimeout = %v, %v; want %v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func FuzzParseTimeout(f *testing.F) {
	for _, s := range []string{"1s", "0", "2.5", "-1", "1e308", "NaN", "9223372036s", "+Inf", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v := &flight.SessionOptionValue{OptionValue: &pb.SessionOptionValue_StringValue{StringValue: s}}
		if d, ok := parseTimeout(v); ok && d < 0 {
			t.Errorf("parseTimeout(%q) = %v: a negative timeout accepted", s, d)
		}
	})
}

func TestSessionStoreExpiryAndBound(t *testing.T) {
	now := time.Unix(1000, 0)
	st := newSessionStore(time.Minute)
	st.now = func() time.Time { return now }

	s, _ := st.create("user a")
	if got := st.lookup(s.id); got != s {
		t.Fatalf("lookup of a new session = %v", got)
	}
	now = now.Add(59 * time.Second)
	if st.lookup(s.id) != s {
		t.Fatal("session expired before its idle timeout")
	}
	// The lookup above renewed it.
	now = now.Add(59 * time.Second)
	if st.lookup(s.id) != s {
		t.Fatal("a used session expired")
	}
	now = now.Add(61 * time.Second)
	if st.lookup(s.id) != nil {
		t.Fatal("an idle session outlived its timeout")
	}

	// Full: creation sweeps the expired, then refuses. (A fresh store: the expired
	// session above would make room.) Many clients fill it, each within its share.
	st = newSessionStore(time.Minute)
	st.now = func() time.Time { return now }
	for st.count() < maxSessions {
		client := fmt.Sprintf("user %d", st.count()/maxSessionsPerClient)
		if s, why := st.create(client); s == nil {
			t.Fatalf("create for %s failed at %d sessions (%d)", client, st.count(), why)
		}
	}
	if s, why := st.create("user new"); s != nil || why != sessionsFull {
		t.Fatalf("create beyond maxSessions gave %v, %d; want nil, sessionsFull", s, why)
	}
	now = now.Add(2 * time.Minute)
	if s, _ := st.create("user new"); s == nil {
		t.Fatal("create failed although every session had expired")
	}
	if n := st.count(); n != 1 {
		t.Errorf("after the sweep %d sessions, want 1", n)
	}

	c, _ := st.create("user new")
	st.close(c)
	if st.lookup(c.id) != nil {
		t.Error("lookup found a closed session")
	}
}

// One client cannot take every session: at its share it is refused while others
// still get theirs, and closing or expiring its sessions gives its share back.
func TestSessionStorePerClientBound(t *testing.T) {
	now := time.Unix(1000, 0)
	st := newSessionStore(time.Minute)
	st.now = func() time.Time { return now }
	var mine []*session
	for range maxSessionsPerClient {
		s, why := st.create("user greedy")
		if s == nil {
			t.Fatalf("create failed at %d of the client's sessions (%d)", len(mine), why)
		}
		mine = append(mine, s)
	}
	if s, why := st.create("user greedy"); s != nil || why != sessionsClientLimit {
		t.Fatalf("create beyond the client's share gave %v, %d; want nil, sessionsClientLimit", s, why)
	}
	if s, _ := st.create("user other"); s == nil {
		t.Fatal("another client was refused while one client held its share")
	}
	st.close(mine[0])
	if s, _ := st.create("user greedy"); s == nil {
		t.Fatal("closing a session did not give the client's share back")
	}
	now = now.Add(2 * time.Minute)
	if s, _ := st.create("user greedy"); s == nil {
		t.Fatal("expired sessions still counted against the client")
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if n := st.byClient["user greedy"]; n != 1 {
		t.Fatalf("after the sweep the client counts %d sessions, want 1", n)
	}
	if _, ok := st.byClient["user other"]; ok {
		t.Fatal("an expired client's count outlived its sessions")
	}
}

// FuzzSessionCookie: no Cookie header makes attach fail or panic.
func FuzzSessionCookie(f *testing.F) {
	for _, s := range []string{
		"arrow_flight_session_id=0123456789abcdef0123456789abcdef",
		"arrow_flight_session_id", "arrow_flight_session_id=", `arrow_flight_session_id="x`,
		"=;;;", "a=b; arrow_flight_session_id=c", "\x00\xff", "arrow_flight_session_id=%zz",
	} {
		f.Add(s)
	}
	st := newSessionStore(time.Minute)
	live, _ := st.create("user a")
	f.Fuzz(func(t *testing.T, cookie string) {
		ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("cookie", cookie))
		cs := sessionOf(st.attach(ctx))
		if cs == nil {
			t.Fatal("attach attached nothing")
		}
		if cs.session != nil && cs.session != live {
			t.Fatalf("cookie %q resolved to a session that does not exist", cookie)
		}
	})
}

// A session may shorten the server's query timeout, never extend it.
func TestQueryTimeoutCappedByServer(t *testing.T) {
	s := &SQLServer{queryTimeout: time.Minute}
	cases := []struct {
		value string
		want  pb.SetSessionOptionsResult_ErrorValue
	}{
		{"30s", flight.SetSessionOptionsResultErrorUnspecified},
		{"1m", flight.SetSessionOptionsResultErrorUnspecified},
		{"0", flight.SetSessionOptionsResultErrorUnspecified},
		{"61s", flight.SetSessionOptionsResultErrorInvalidValue},
	}
	for _, tc := range cases {
		v := &flight.SessionOptionValue{OptionValue: &pb.SessionOptionValue_StringValue{StringValue: tc.value}}
		if _, code := s.parseOption(optionQueryTimeout, v); code != tc.want {
			t.Errorf("query_timeout %s under a 1m server limit: %v, want %v", tc.value, code, tc.want)
		}
	}
	if got := s.effectiveTimeout(sessionOptions{}); got != time.Minute {
		t.Errorf("effective timeout without a session value = %v, want the server's 1m", got)
	}
}
