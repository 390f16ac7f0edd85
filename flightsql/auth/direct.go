package auth

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Requests that do not come through gRPC (the web console's HTTP API) are
// authenticated and authorized here, by the same Authenticator, login limiter and
// grant checks as the interceptors, with the same status codes and messages. Put the
// client's address in ctx with peer.NewContext: the login limiter counts it.

// Authenticator is the Authenticator the Guard checks credentials with.
func (g *Guard) Authenticator() *Authenticator { return g.auth }

// Login checks a user's password as a Flight Handshake does, through the same login
// limiter, and returns the principal and a bearer token that stands for it until it
// expires (or a reload of the auth file removes the user or changes the password).
// Errors are gRPC status errors: Unauthenticated, or ResourceExhausted for a
// throttled login.
func (g *Guard) Login(ctx context.Context, name, password string) (*Principal, string, error) {
	tok, _, p, err := g.auth.Login(ctx, name, password)
	if err != nil {
		g.log.LogAttrs(ctx, loginRefusalLevel(err), "login refused", slog.String("user", clip(name)),
			slog.String("reason", err.Error()), peerAttr(ctx))
		return nil, "", loginStatus(err)
	}
	g.log.LogAttrs(ctx, slog.LevelInfo, "login", slog.String("principal", p.Name), peerAttr(ctx))
	return p, tok, nil
}

// AuthenticateHeader authenticates an HTTP Authorization header value: "Bearer
// <token>" (an issued or static token, as on the Flight port) or "Basic <base64>"
// (a password login, limited as Login is). Errors are gRPC status errors.
func (g *Guard) AuthenticateHeader(ctx context.Context, header string) (*Principal, error) {
	scheme, cred, _ := strings.Cut(strings.TrimSpace(header), " ")
	cred = strings.TrimLeft(cred, " ")
	if strings.EqualFold(scheme, "Basic") {
		name, password, err := decodeBasic(cred)
		if err != nil {
			return nil, status.Error(codes.Unauthenticated, err.Error())
		}
		p, _, err := g.Login(ctx, name, password)
		return p, err
	}
	return g.bearer(ctx, "http", scheme, cred, nil,
		errors.New("unsupported authorization scheme: send `Authorization: Bearer <token>` or `Basic`"))
}

// AuthorizeStatement checks that p may run the SQL statement, as for a Flight SQL
// CommandStatementQuery: read permission, and for a restricted grant every dataset
// the statement reads covered. what names the request in logs and messages.
func (g *Guard) AuthorizeStatement(ctx context.Context, p *Principal, what, sql string) error {
	return g.authorize(ctx, what, p, need{perm: Read, scope: scopeStatement, sql: sql, what: what})
}

// AuthorizeDataset checks that p may read the dataset, as for a DoGet of it. The
// refusal is the same whether or not the dataset exists.
func (g *Guard) AuthorizeDataset(ctx context.Context, p *Principal, what, dataset string) error {
	return g.authorize(ctx, what, p, need{perm: Read, scope: scopeDatasets, datasets: []string{dataset}, what: what})
}

// AuthorizeList checks that p may list datasets; callers then show only those
// p.Covers.
func (g *Guard) AuthorizeList(ctx context.Context, p *Principal, what string) error {
	return g.authorize(ctx, what, p, need{perm: Read, scope: scopeTableList, what: what})
}
