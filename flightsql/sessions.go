package flightsql

import (
	"context"
	"net/http"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// Server sessions, as Flight's session options use them: an id in the cookie
// SessionCookieName names state the server keeps in memory.
//
// arrow-go's arrow/flight/session middleware is not used: it panics on store or
// cookie errors, creates a session for every call without a cookie and never expires
// one, so any client could grow the server's memory. Here a session exists only once
// SetSessionOptions made it, expires after an idle timeout, and their number is
// bounded; a cookie that is malformed or names no live session is treated as no
// cookie. Nothing a client sends can make the interceptors fail a call.

// SessionCookieName is the cookie that carries the session id, the name the Flight
// protocol suggests and arrow-go's, ADBC's and the JDBC driver's clients expect.
const SessionCookieName = "arrow_flight_session_id"

// maxSessions bounds the live sessions; SetSessionOptions on a new session fails with
// ResourceExhausted beyond it.
const maxSessions = 10000

// maxSessionsPerClient bounds the live sessions of one client (clientKey), so that
// one client cannot take all maxSessions and lock every other client out of
// sessions until its own expire.
const maxSessionsPerClient = 256

// sessionRefusal says why create made no session.
type sessionRefusal int

const (
	sessionCreated      sessionRefusal = iota
	sessionsFull                       // the server holds maxSessions
	sessionsClientLimit                // the client holds maxSessionsPerClient
)

// sessionOptions are the option values of one session; zero values mean the server's
// defaults.
type sessionOptions struct {
	queryTimeout time.Duration // 0: the server's --query-timeout
}

// session is one client session.
type session struct {
	id     string
	client string // who it counts against (clientKey)

	mu       sync.Mutex // guards the fields below
	opts     sessionOptions
	lastUsed time.Time
	closed   bool
}

func (s *session) options() sessionOptions {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opts
}

// sessionStore holds the live sessions. Expired ones are swept when a session is
// created, and a lookup never returns one.
type sessionStore struct {
	idle time.Duration
	now  func() time.Time

	mu       sync.Mutex
	byID     map[string]*session
	byClient map[string]int // live sessions per client, counting those in byID
	swept    time.Time      // when create last swept
}

// sessionSweepEvery is how often, at most, create sweeps expired sessions to make room.
const sessionSweepEvery = time.Second

func newSessionStore(idle time.Duration) *sessionStore {
	return &sessionStore{idle: idle, now: time.Now, byID: make(map[string]*session), byClient: make(map[string]int)}
}

// lookup returns the live session id names and marks it used, or nil.
func (st *sessionStore) lookup(id string) *session {
	if id == "" {
		return nil
	}
	st.mu.Lock()
	s := st.byID[id]
	st.mu.Unlock()
	if s == nil {
		return nil
	}
	now := st.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || now.Sub(s.lastUsed) > st.idle {
		return nil
	}
	s.lastUsed = now
	return s
}

// create makes a new session for client; nil, and why, when the store or the
// client's share of it is full.
func (st *sessionStore) create(client string) (*session, sessionRefusal) {
	now := st.now()
	st.mu.Lock()
	defer st.mu.Unlock()
	if (len(st.byID) >= maxSessions || st.byClient[client] >= maxSessionsPerClient) && now.Sub(st.swept) >= sessionSweepEvery {
		// Sessions live for an hour idle: a sweep a second is enough, and a client
		// asking again and again at its limit does not walk every session each time.
		st.swept = now
		st.sweepLocked(now)
	}
	if len(st.byID) >= maxSessions {
		return nil, sessionsFull
	}
	if st.byClient[client] >= maxSessionsPerClient {
		return nil, sessionsClientLimit
	}
	s := &session{id: newHandleID(), client: client, lastUsed: now}
	st.byID[s.id] = s
	st.byClient[client]++
	return s, sessionCreated
}

// removeLocked forgets the session id names, if the store still holds it.
func (st *sessionStore) removeLocked(id string) {
	s, ok := st.byID[id]
	if !ok {
		return
	}
	delete(st.byID, id)
	if st.byClient[s.client]--; st.byClient[s.client] <= 0 {
		delete(st.byClient, s.client)
	}
}

// close ends s: later lookups of its id find nothing.
func (st *sessionStore) close(s *session) {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	st.mu.Lock()
	st.removeLocked(s.id)
	st.mu.Unlock()
}

func (st *sessionStore) sweepLocked(now time.Time) {
	for id, s := range st.byID {
		s.mu.Lock()
		expired := s.closed || now.Sub(s.lastUsed) > st.idle
		s.mu.Unlock()
		if expired {
			st.removeLocked(id)
		}
	}
}

func (st *sessionStore) count() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return len(st.byID)
}

// callSession is what the interceptors attach to a call's context.
type callSession struct {
	store *sessionStore
	// cookie reports that the call carried a session cookie, live or not.
	cookie bool
	// session is the live session the cookie names; nil if none.
	session *session
}

type callSessionKey struct{}

// sessionOf returns the call's session state, or nil when the interceptors are not
// installed on the gRPC server.
func sessionOf(ctx context.Context) *callSession {
	cs, _ := ctx.Value(callSessionKey{}).(*callSession)
	return cs
}

// attach resolves the session cookie of an incoming call.
func (st *sessionStore) attach(ctx context.Context) context.Context {
	cs := &callSession{store: st}
	if id, ok := sessionCookie(ctx); ok {
		cs.cookie = true
		cs.session = st.lookup(id)
	}
	return context.WithValue(ctx, callSessionKey{}, cs)
}

// sessionCookie finds the session id among the call's Cookie headers. Parsing is
// net/http's, which skips what it cannot parse rather than failing.
func sessionCookie(ctx context.Context) (string, bool) {
	md, _ := metadata.FromIncomingContext(ctx)
	lines := md.Get("cookie")
	if len(lines) == 0 {
		return "", false
	}
	req := http.Request{Header: http.Header{"Cookie": lines}}
	c, err := req.Cookie(SessionCookieName)
	if err != nil {
		return "", false
	}
	return c.Value, true
}

// setSessionCookie sends the cookie for s in the response headers; maxAge -1 asks
// the client to delete it. It must run before the handler sends its first response.
func setSessionCookie(ctx context.Context, id string, maxAge int) error {
	c := http.Cookie{Name: SessionCookieName, Value: id, MaxAge: maxAge}
	return grpc.SetHeader(ctx, metadata.Pairs("set-cookie", c.String()))
}

// UnaryInterceptor attaches the call's session to its context.
func (st *sessionStore) UnaryInterceptor(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	return handler(st.attach(ctx), req)
}

// StreamInterceptor attaches the call's session to its stream's context.
func (st *sessionStore) StreamInterceptor(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	return handler(srv, &sessionStream{ServerStream: ss, ctx: st.attach(ss.Context())})
}

type sessionStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *sessionStream) Context() context.Context { return s.ctx }

// serverOptions are the gRPC server options that install the session interceptors.
// They chain: other interceptors (authentication) may come before or after.
func (st *sessionStore) serverOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(st.UnaryInterceptor),
		grpc.ChainStreamInterceptor(st.StreamInterceptor),
	}
}
