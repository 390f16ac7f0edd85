package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Principal is an authenticated caller: a user of the auth file (logged in with a
// password or holding a token issued to them) or a static token.
type Principal struct {
	// Name is "user alice" or "token grafana": what logs show.
	Name string
	Grant
}

type principalKey struct{}

// FromContext returns the principal of a request that passed the Guard.
func FromContext(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(*Principal)
	return p, ok
}

// NewContext returns ctx carrying p.
func NewContext(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// DefaultTokenTTL is how long a token issued by a Handshake lasts by default. Drivers
// such as ADBC do not log in again by themselves, so it is a working day, not minutes.
const DefaultTokenTTL = 12 * time.Hour

// Options tune an Authenticator.
type Options struct {
	// TokenTTL is the lifetime of tokens issued by Login; 0 means DefaultTokenTTL.
	TokenTTL time.Duration
	// SigningKey signs issued tokens; nil means a random key, so tokens are valid only
	// until the server restarts. Servers sharing a key accept each other's tokens.
	SigningKey []byte
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

type user struct {
	name         string
	passwordHash string
	grant        Grant
}

type staticToken struct {
	name    string
	grant   Grant
	expires time.Time
}

// Authenticator checks passwords and tokens against an auth file.
type Authenticator struct {
	users     map[string]user
	tokens    []staticToken
	sums      [][]byte // sums[i] is the SHA-256 of tokens[i]
	sign      signer
	ttl       time.Duration
	now       func() time.Time
	dummyHash []byte // checked for unknown users, so they take as long as known ones
}

// New returns an Authenticator for f.
func New(f *File, opts Options) (*Authenticator, error) {
	if err := f.validate(); err != nil {
		return nil, err
	}
	a := &Authenticator{
		users: map[string]user{},
		ttl:   opts.TokenTTL,
		now:   opts.Now,
		sign:  signer{key: opts.SigningKey},
	}
	if a.ttl <= 0 {
		a.ttl = DefaultTokenTTL
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.sign.key == nil {
		a.sign.key = make([]byte, 32)
		if _, err := rand.Read(a.sign.key); err != nil {
			return nil, err
		}
	}
	cost := bcrypt.DefaultCost
	for _, u := range f.Users {
		perm, _ := ParsePermission(u.Permission)
		a.users[u.Name] = user{name: u.Name, passwordHash: u.PasswordHash, grant: Grant{Permission: perm, Datasets: u.Datasets}}
		cost, _ = bcrypt.Cost([]byte(u.PasswordHash))
	}
	for _, t := range f.Tokens {
		perm, _ := ParsePermission(t.Permission)
		sum, _ := parseTokenHash(t.TokenHash)
		a.tokens = append(a.tokens, staticToken{name: t.Name, grant: Grant{Permission: perm, Datasets: t.Datasets}, expires: t.Expires})
		a.sums = append(a.sums, sum)
	}
	dummy, err := bcrypt.GenerateFromPassword([]byte("quiver: no such user"), cost)
	if err != nil {
		return nil, err
	}
	a.dummyHash = dummy
	return a, nil
}

// TokenTTL is the lifetime of the tokens Login issues.
func (a *Authenticator) TokenTTL() time.Duration { return a.ttl }

// Login checks a user's password and issues a bearer token that expires after the
// token TTL. Wrong user names and wrong passwords are one error, in about one time.
func (a *Authenticator) Login(name, password string) (token string, expires time.Time, p *Principal, err error) {
	u, ok := a.users[name]
	hash := []byte(u.passwordHash)
	if !ok {
		hash = a.dummyHash
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil || !ok {
		return "", time.Time{}, nil, ErrBadCredentials
	}
	expires = a.now().Add(a.ttl).Truncate(time.Second)
	return a.sign.issue(u.name, expires, u.passwordHash), expires, u.principal(), nil
}

func (u user) principal() *Principal {
	return &Principal{Name: "user " + u.name, Grant: u.grant}
}

// Verify returns the principal of a bearer token: one Login issued, or a static
// token of the auth file.
func (a *Authenticator) Verify(token string) (*Principal, error) {
	if token == "" {
		return nil, ErrNoCredentials
	}
	if name, exp, mac, ok := parseIssued(token); ok {
		u, known := a.users[name]
		if !known || !a.sign.verify(name, exp, mac, u.passwordHash) {
			return nil, ErrBadCredentials
		}
		if !a.now().Before(time.Unix(exp, 0)) {
			return nil, ErrExpired
		}
		return u.principal(), nil
	}
	sum := sha256.Sum256([]byte(token))
	i := matchTokenHash(a.sums, sum[:])
	if i < 0 {
		return nil, ErrBadCredentials
	}
	t := a.tokens[i]
	if !t.expires.IsZero() && !a.now().Before(t.expires) {
		return nil, fmt.Errorf("%w (static token %q expired at %s)", errExpiredStatic, t.name, t.expires.Format(time.RFC3339))
	}
	return &Principal{Name: "token " + t.name, Grant: t.grant}, nil
}

// errExpiredStatic is an expired static token: logging in again does not help.
var errExpiredStatic = errors.New("token expired")
