package console

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"

	"github.com/quiverdata/quiver/catalog"
	"github.com/quiverdata/quiver/flightsql"
	"github.com/quiverdata/quiver/flightsql/auth"
)

// Defaults of Config's zero fields.
const (
	// DefaultSessionIdle ends a console session unused this long.
	DefaultSessionIdle = time.Hour
	// DefaultMaxSessions bounds the sessions held at once; the least recently used
	// makes room for a new one.
	DefaultMaxSessions = 10000
	// DefaultMaxDownloadBytes bounds the Arrow bytes of one CSV, Arrow or Parquet
	// download: 1 GiB.
	DefaultMaxDownloadBytes = 1 << 30
	// DefaultMaxJSONBytes bounds the JSON of one result shown in the page: 16 MiB.
	DefaultMaxJSONBytes = 16 << 20
	// maxBodyBytes bounds a request body (a login, a SQL statement).
	maxBodyBytes = 1 << 20
)

// Config wires a console Server.
type Config struct {
	// Service runs SQL; Store lists datasets. Both required.
	Service *flightsql.Service
	Store   *catalog.Store
	// Guard authenticates and authorizes requests, as on the Flight port; nil: no
	// authentication (every request is allowed what an anonymous Flight client is).
	Guard *auth.Guard
	// Logger; nil: slog.Default().
	Logger *slog.Logger
	// Version and Commit are reported by /api/session and /api/status.
	Version, Commit string
	// Secure marks the session cookie Secure: the console is served over TLS.
	Secure bool
	// SessionIdle ends sessions unused this long; 0: DefaultSessionIdle.
	SessionIdle time.Duration
	// MaxSessions bounds the sessions held; 0: DefaultMaxSessions.
	MaxSessions int
	// MaxDownloadBytes bounds the Arrow bytes of a CSV, Arrow or Parquet result; a
	// result that reaches it fails (the download is cut, not silently short);
	// 0: DefaultMaxDownloadBytes; negative: no limit of its own (the server's result
	// memory budget still paces it).
	MaxDownloadBytes int64
	// MaxJSONBytes bounds the JSON rows of one result; rows past it are left out and
	// the result marked truncated. 0: DefaultMaxJSONBytes.
	MaxJSONBytes int64
	// LoopbackOnly refuses requests whose Host header is not localhost or a loopback
	// address: without authentication on a loopback address, it stops a web page
	// that rebinds its DNS name to 127.0.0.1 from reading the API.
	LoopbackOnly bool
}

// Server is the console's HTTP handler.
type Server struct {
	svc      *flightsql.Service
	store    *catalog.Store
	guard    *auth.Guard
	log      *slog.Logger
	cfg      Config
	sessions *sessionStore
	mux      *http.ServeMux
	started  time.Time
	requests atomic.Int64
}

// New returns the console for cfg.
func New(cfg Config) (*Server, error) {
	if cfg.Service == nil || cfg.Store == nil {
		return nil, errors.New("console: Config.Service and Config.Store are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.SessionIdle <= 0 {
		cfg.SessionIdle = DefaultSessionIdle
	}
	if cfg.MaxSessions <= 0 {
		cfg.MaxSessions = DefaultMaxSessions
	}
	if cfg.MaxDownloadBytes == 0 {
		cfg.MaxDownloadBytes = DefaultMaxDownloadBytes
	}
	if cfg.MaxJSONBytes <= 0 {
		cfg.MaxJSONBytes = DefaultMaxJSONBytes
	}
	s := &Server{
		svc: cfg.Service, store: cfg.Store, guard: cfg.Guard, log: cfg.Logger, cfg: cfg,
		sessions: newSessionStore(cfg.SessionIdle, cfg.MaxSessions, time.Now),
		started:  time.Now(),
	}
	m := http.NewServeMux()
	m.Handle("GET /api/session", s.public(s.getSession))
	m.Handle("POST /api/login", s.public(s.login))
	m.Handle("POST /api/logout", s.public(s.logout))
	m.Handle("GET /api/datasets", s.api(s.listDatasets))
	m.Handle("GET /api/datasets/{name}", s.api(s.describeDataset))
	m.Handle("GET /api/datasets/{name}/rows", s.api(s.datasetRows))
	m.Handle("POST /api/query", s.api(s.query))
	m.Handle("GET /api/status", s.api(s.status))
	m.Handle("/api/", s.public(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, errorf(codes.NotFound, "no API endpoint %s %s (see README: the console's HTTP API)", r.Method, r.URL.Path))
	}))
	m.Handle("/", Assets())
	s.mux = m
	return s, nil
}

// contentSecurityPolicy lets the page load only its own files: no inline script, no
// CDN, no framing, forms and fetches to this server only.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// ServeHTTP sets the security headers of every answer, counts the request, refuses a
// foreign Host where the console is loopback-only, and turns a handler's panic into a
// 500 answer.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	h := w.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	if strings.HasPrefix(r.URL.Path, "/api/") {
		h.Set("Cache-Control", "no-store")
	}
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.log.Error("console: recovered from a panic", "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
			s.writeError(w, r, errorf(codes.Internal, "internal error"))
		}
	}()
	if s.cfg.LoopbackOnly && !loopbackHost(r.Host) {
		s.writeError(w, r, errorf(codes.PermissionDenied,
			"Host %q is not this server's loopback address: open the console at http://localhost or http://127.0.0.1", clipText(r.Host, 100)))
		return
	}
	// The client's address goes in the context as a gRPC peer: the limits and the
	// login limiter count clients by it, as on the Flight port.
	if addr, err := net.ResolveTCPAddr("tcp", r.RemoteAddr); err == nil {
		r = r.WithContext(peer.NewContext(r.Context(), &peer.Peer{Addr: addr}))
	}
	s.mux.ServeHTTP(w, r)
}

// loopbackHost reports whether a Host header names this machine only.
func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// public handles a request that needs no authentication (session, login, logout),
// still checking that a POST comes from this server's own page.
func (s *Server) public(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			if err := s.checkOrigin(r); err != nil {
				s.writeError(w, r, err)
				return
			}
		}
		h(w, r)
	})
}

// api handles a request that needs a caller: with a Guard, a session cookie (and for a
// POST the CSRF header) or an Authorization header. The principal goes in the context,
// where the handlers and the limits read it.
func (s *Server) api(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, err := s.authenticate(w, r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		h(w, r.WithContext(ctx))
	})
}

// principal is the caller of an authenticated request; nil without authentication.
func principal(ctx context.Context) *auth.Principal {
	p, _ := auth.FromContext(ctx)
	return p
}

// NewHTTPServer returns an http.Server for h with the console's timeouts and limits:
// headers must arrive within 10 s and a body within a minute, idle connections close
// after two, and request headers are capped at 64 KiB. There is no write timeout:
// downloads stream for as long as the query runs, which --query-timeout bounds. With
// tlsCfg (the Flight port's certificate) it serves HTTPS; call ServeTLS(lis, "", "").
func NewHTTPServer(h http.Handler, tlsCfg *tls.Config, log *slog.Logger) *http.Server {
	if log == nil {
		log = slog.Default()
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	if tlsCfg != nil {
		cfg := tlsCfg.Clone()
		cfg.NextProtos = []string{"h2", "http/1.1"}
		srv.TLSConfig = cfg
	}
	return srv
}

// clipText cuts client-supplied text for a message.
func clipText(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
