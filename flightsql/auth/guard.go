package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// Guard is the one place where requests are authenticated and authorized: a unary
// and a stream gRPC interceptor in front of every service on the server.
type Guard struct {
	auth   *Authenticator
	log    *slog.Logger
	tables TableReader // nil: restricted grants run no SQL
}

// TableReader tells which datasets a SQL statement reads, without running it, and
// which dataset a SQL table name stands for. The Flight SQL service implements it
// with its engine's parse and bind of the statement and its catalog.
//
// Grants are matched against dataset names, always: a table is first resolved to the
// dataset that holds it (a hand-copied file "payroll" is table payroll, and so is
// "payroll.parquet"), never matched by its table name.
type TableReader interface {
	// ReadTables returns the dataset names the statement reads. It asks covered about
	// each dataset before binding anything, and refuses a name covered rejects, or that
	// is no dataset, with an error carrying the table as written (an error with a
	// NotCoveredTable() string method); it errs too for a statement that could read
	// anything else (a file, a table function, a system view) or that it cannot
	// analyse: the Guard refuses a restricted grant then.
	ReadTables(ctx context.Context, sql string, covered func(dataset string) bool) ([]string, error)
	// DatasetForTable names the dataset that holds table, and whether it exists now;
	// for a table that does not exist, the dataset a create would make.
	DatasetForTable(ctx context.Context, table string) (dataset string, exists bool, err error)
}

// SetTableReader lets restricted grants run SQL statements, checking with r that
// their grant covers every table a statement reads. Call it before serving.
func (g *Guard) SetTableReader(r TableReader) { g.tables = r }

// NewGuard returns a Guard that checks requests with a; log receives one line per
// refused request and per login, never with a password or token in it.
func NewGuard(a *Authenticator, log *slog.Logger) *Guard {
	if log == nil {
		log = slog.Default()
	}
	return &Guard{auth: a, log: log}
}

// ServerOptions install the Guard's interceptors. They are chained, so other
// interceptors (logging, metrics) compose with them in either order; put the Guard's
// after a logging interceptor to have refused requests logged there too.
func (g *Guard) ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(g.UnaryInterceptor),
		grpc.ChainStreamInterceptor(g.StreamInterceptor),
	}
}

// authorizationHeader is the metadata key of HTTP-style credentials, as Flight SQL
// drivers (ADBC, JDBC, arrow-go, pyarrow) send them.
const authorizationHeader = "authorization"

// UnaryInterceptor authenticates and authorizes a unary call (GetFlightInfo,
// PollFlightInfo, GetSchema) by its request.
func (g *Guard) UnaryInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	n, ok := methodNeed(info.FullMethod)
	if !ok {
		return handler(ctx, req)
	}
	p, err := g.authenticate(ctx, info.FullMethod)
	if err != nil {
		return nil, err
	}
	if hasMessageNeed(info.FullMethod) {
		n = messageNeed(info.FullMethod, req)
	}
	if err := g.authorize(ctx, info.FullMethod, p, n); err != nil {
		return nil, err
	}
	return handler(NewContext(ctx, p), req)
}

// StreamInterceptor authenticates a stream, answers the Handshake's Basic login, and
// authorizes by the first request message: the ticket of DoGet, the descriptor of
// DoPut, the action of DoAction. It filters what ListFlights sends by the caller's
// dataset patterns.
func (g *Guard) StreamInterceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	method := info.FullMethod
	ctx := ss.Context()
	if method == methodHandshake {
		return g.handshake(srv, ss, handler)
	}
	n, ok := methodNeed(method)
	if !ok {
		return handler(srv, ss)
	}
	p, err := g.authenticate(ctx, method)
	if err != nil {
		return err
	}
	if err := g.authorize(ctx, method, p, n); err != nil {
		return err
	}
	gs := &guardedStream{ServerStream: ss, ctx: NewContext(ctx, p), g: g, p: p, method: method}
	gs.classify = hasMessageNeed(method)
	gs.filter = method == methodListFlights && p.Restricted()
	err = handler(srv, gs)
	// A refused first message reaches the handler as a Recv error, which it may wrap
	// in a code of its own (DoPut says InvalidArgument); the refusal is what happened.
	if denied := gs.refusal(); denied != nil {
		return denied
	}
	return err
}

// guardedStream checks the first message a handler receives and filters what
// ListFlights sends.
type guardedStream struct {
	grpc.ServerStream
	ctx    context.Context
	g      *Guard
	p      *Principal
	method string
	// classify: the first message decides the need. filter: drop FlightInfos of
	// datasets the principal's patterns do not cover.
	classify, filter bool

	mu      sync.Mutex
	checked bool
	denied  error
}

func (s *guardedStream) Context() context.Context { return s.ctx }

// RecvMsg checks the first message before the handler may act on it. The message
// has been read into m, but the error tells the handler not to use it.
func (s *guardedStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.classify || s.checked {
		return s.denied
	}
	s.checked = true
	if err := s.g.authorize(s.ctx, s.method, s.p, messageNeed(s.method, m)); err != nil {
		s.denied = err
	}
	return s.denied
}

func (s *guardedStream) refusal() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.denied
}

// SendMsg leaves out the FlightInfos of datasets the principal may not see.
func (s *guardedStream) SendMsg(m any) error {
	if s.filter {
		if info, ok := m.(*flight.FlightInfo); ok && !s.visible(info) {
			return nil
		}
	}
	return s.ServerStream.SendMsg(m)
}

func (s *guardedStream) visible(info *flight.FlightInfo) bool {
	desc := info.GetFlightDescriptor()
	if desc.GetType() != flight.DescriptorPATH || len(desc.GetPath()) != 1 {
		return false
	}
	return s.p.Covers(desc.GetPath()[0])
}

// authenticate finds the principal of a request from its bearer token.
func (g *Guard) authenticate(ctx context.Context, method string) (*Principal, error) {
	scheme, cred := credentials(ctx)
	basic := errors.New("Basic credentials are accepted by Handshake only: log in there and send the bearer token it returns")
	return g.bearer(ctx, shortMethod(method), scheme, cred, basic,
		errors.New("unsupported authorization scheme: send `authorization: Bearer <token>`"))
}

// bearer verifies a bearer token, the one credential every call may carry, for both
// doors (gRPC metadata, the console's Authorization header). onBasic is the refusal of
// a Basic scheme that reached it (nil: no Basic case), onOther of any other scheme.
// Every refusal is logged and returned as Unauthenticated.
func (g *Guard) bearer(ctx context.Context, method, scheme, cred string, onBasic, onOther error) (*Principal, error) {
	var err error
	switch {
	case scheme == "":
		err = ErrNoCredentials
	case strings.EqualFold(scheme, "Bearer"):
		var p *Principal
		if p, err = g.auth.Verify(cred); err == nil {
			return p, nil
		}
	case onBasic != nil && strings.EqualFold(scheme, "Basic"):
		err = onBasic
	default:
		err = onOther
	}
	g.log.LogAttrs(ctx, slog.LevelWarn, "unauthenticated request",
		slog.String("method", method), slog.String("reason", err.Error()), peerAttr(ctx))
	return nil, status.Error(codes.Unauthenticated, err.Error())
}

// authorize checks that p's grant covers n.
func (g *Guard) authorize(ctx context.Context, method string, p *Principal, n need) error {
	reason := ""
	switch {
	case p.Permission < n.perm:
		reason = "needs " + n.perm.String() + " permission, has " + p.Permission.String()
	case !p.Restricted() || n.scope == scopeServer || n.scope == scopePrepared || n.scope == scopeTableList:
	case n.scope == scopeStatement && g.tables != nil:
		reason = g.statementRefusal(ctx, p, n.sql)
	case n.scope == scopeAll, n.scope == scopeStatement:
		reason = "it could read any dataset, and the grant covers only datasets " + strings.Join(p.Datasets, ", ")
	case len(n.datasets)+len(n.tables) == 0:
		reason = "it names no dataset, and the grant covers only datasets " + strings.Join(p.Datasets, ", ")
	default:
		for _, d := range n.datasets {
			if !p.Covers(d) {
				reason = notCovered("dataset", d, p)
			}
		}
		for _, t := range n.tables {
			if r := g.tableRefusal(ctx, p, t, n.creates); r != "" {
				reason = r
			}
		}
	}
	if reason == "" {
		return nil
	}
	g.log.LogAttrs(ctx, slog.LevelWarn, "permission denied",
		slog.String("method", shortMethod(method)), slog.String("principal", p.Name),
		slog.String("request", n.what), slog.String("reason", reason), peerAttr(ctx))
	return status.Errorf(codes.PermissionDenied, "%s: %s: %s", p.Name, n.what, reason)
}

// notCovered is the one answer to a name the grant does not cover, whether or not a
// dataset of that name exists: the same code and words either way, so that a refusal
// never confirms a hidden name.
func notCovered(kind, name string, p *Principal) string {
	return kind + " " + quoteShort(name) + " is not a dataset the grant covers (datasets " + strings.Join(p.Datasets, ", ") + ")"
}

// tableRefusal says why p may not use the SQL table, or "". The table is resolved to
// its dataset first, and the grant matched against the dataset's name. A table that
// does not exist gets the same answer as one not covered, unless the request creates
// it (ingest), where the dataset it would create must be covered.
func (g *Guard) tableRefusal(ctx context.Context, p *Principal, table string, creates bool) string {
	if g.tables == nil {
		return "it names a table, and the grant covers only datasets " + strings.Join(p.Datasets, ", ")
	}
	dataset, exists, err := g.tables.DatasetForTable(ctx, table)
	if err != nil || (!exists && !creates) || !p.Covers(dataset) {
		return notCovered("table", table, p)
	}
	return ""
}

// statementRefusal says why p may not run sql, or "" if every dataset it reads is
// covered by p's grant.
func (g *Guard) statementRefusal(ctx context.Context, p *Principal, sql string) string {
	_, err := g.tables.ReadTables(ctx, sql, p.Covers)
	var nc interface{ NotCoveredTable() string }
	switch {
	case errors.As(err, &nc):
		return notCovered("table", nc.NotCoveredTable(), p)
	case err != nil:
		return "the grant covers only datasets " + strings.Join(p.Datasets, ", ") + ", and " + err.Error()
	}
	return ""
}

// handshake answers a Flight Handshake. With HTTP Basic credentials in its headers it
// is a login: the bearer token goes back in the `authorization` response header,
// which is where arrow-go's AuthenticateBasicToken (and so ADBC), pyarrow's
// authenticate_basic_token and the JDBC driver look for it; the handler is not
// called. With a bearer token the handshake is checked like any call and handed on.
func (g *Guard) handshake(srv any, ss grpc.ServerStream, handler grpc.StreamHandler) error {
	ctx := ss.Context()
	scheme, cred := credentials(ctx)
	if !strings.EqualFold(scheme, "Basic") {
		p, err := g.authenticate(ctx, methodHandshake)
		if err != nil {
			return err
		}
		return handler(srv, &guardedStream{ServerStream: ss, ctx: NewContext(ctx, p), g: g, p: p, method: methodHandshake})
	}
	name, password, err := decodeBasic(cred)
	if err != nil {
		g.log.LogAttrs(ctx, slog.LevelWarn, "login refused", slog.String("reason", err.Error()), peerAttr(ctx))
		return status.Error(codes.Unauthenticated, err.Error())
	}
	tok, expires, p, err := g.auth.Login(ctx, name, password)
	if err != nil {
		g.log.LogAttrs(ctx, loginRefusalLevel(err), "login refused", slog.String("user", clip(name)),
			slog.String("reason", err.Error()), peerAttr(ctx))
		return loginStatus(err)
	}
	if err := ss.SendHeader(metadata.Pairs(authorizationHeader, "Bearer "+tok)); err != nil {
		return err
	}
	g.log.LogAttrs(ctx, slog.LevelInfo, "login", slog.String("principal", p.Name),
		slog.Time("token_expires", expires), peerAttr(ctx))
	return nil
}

// decodeBasic decodes HTTP Basic credentials. arrow-go encodes them without base64
// padding (base64.RawStdEncoding), browsers and most other clients with it.
func decodeBasic(cred string) (name, password string, err error) {
	raw, err := base64.StdEncoding.DecodeString(cred)
	if err != nil {
		raw, err = base64.RawStdEncoding.DecodeString(cred)
	}
	if err != nil {
		return "", "", errors.New("Basic credentials are not base64")
	}
	name, password, ok := strings.Cut(string(raw), ":")
	if !ok {
		return "", "", errors.New("Basic credentials have no ':' between user name and password")
	}
	return name, password, nil
}

// credentials splits the request's authorization header into scheme and credential.
func credentials(ctx context.Context) (scheme, cred string) {
	md, _ := metadata.FromIncomingContext(ctx)
	vals := md.Get(authorizationHeader)
	if len(vals) == 0 {
		return "", ""
	}
	scheme, cred, _ = strings.Cut(strings.TrimSpace(vals[0]), " ")
	return scheme, strings.TrimLeft(cred, " ")
}

func peerAttr(ctx context.Context) slog.Attr {
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		return slog.String("peer", p.Addr.String())
	}
	return slog.String("peer", "")
}

// quoteShort quotes client-supplied text for a message, cut to a sane length.
func quoteShort(s string) string { return strconv.Quote(clip(s)) }

// clip cuts client-supplied text to a sane length for a log attribute (the slog
// handler escapes it).
func clip(s string) string {
	const max = 128
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}
