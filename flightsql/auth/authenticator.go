package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
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

// Owner identifies the principal together with its grant, for what it holds from
// one call to the next (prepared statements, which were checked against the grant
// they were prepared under). An auth file reload that changes the grant changes the
// owner, so nothing authorized under the old grant is used under the new one.
func (p *Principal) Owner() string {
	return fmt.Sprintf("%s\x00%s\x00%q", p.Name, p.Permission, p.Datasets)
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
	// Login bounds what password logins may cost; its zero value is the defaults.
	Login LoginLimits
	// Logger receives login lockouts; nil means slog.Default().
	Logger *slog.Logger
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

// accounts are the users and static tokens of one version of the auth file. They
// are never changed once built: Reload builds new ones and swaps the pointer, so a
// request sees one whole version of the file, never half of an edit.
type accounts struct {
	users     map[string]user
	tokens    []staticToken
	sums      [][]byte // sums[i] is the SHA-256 of tokens[i]
	dummyHash []byte   // checked for unknown users, so they take as long as known ones
}

// Authenticator checks passwords and tokens against an auth file.
//
// Nothing it issues holds a permission: an issued token names its user, a static
// token is found by its hash, and the grant comes from the current accounts at each
// Verify. So Reload takes effect on the next call of every client: a removed user's
// tokens and a removed static token stop working, a reduced grant applies at once.
type Authenticator struct {
	state   atomic.Pointer[accounts]
	sign    signer
	ttl     time.Duration
	now     func() time.Time
	limits  *loginLimiter
	compare func(hash, password []byte) error // bcrypt.CompareHashAndPassword; tests count the calls
}

// New returns an Authenticator for f.
func New(f *File, opts Options) (*Authenticator, error) {
	a := &Authenticator{
		ttl:     opts.TokenTTL,
		now:     opts.Now,
		sign:    signer{key: opts.SigningKey},
		compare: bcrypt.CompareHashAndPassword,
	}
	if a.ttl <= 0 {
		a.ttl = DefaultTokenTTL
	}
	if a.now == nil {
		a.now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	a.limits = newLoginLimiter(opts.Login, a.now, log)
	if a.sign.key == nil {
		a.sign.key = make([]byte, 32)
		if _, err := rand.Read(a.sign.key); err != nil {
			return nil, err
		}
	}
	if err := a.Reload(f); err != nil {
		return nil, err
	}
	return a, nil
}

// Reload replaces the users and static tokens with those of f, at once for every
// request. What f no longer allows stops working on the next call: tokens issued to
// a user f removes or whose password_hash it changes, static tokens it removes, and
// permissions or dataset patterns beyond those it gives. The signing key, the login
// limits and their failure counts stay. An f that does not validate changes nothing.
func (a *Authenticator) Reload(f *File) error {
	if err := f.validate(); err != nil {
		return err
	}
	acc := &accounts{users: map[string]user{}}
	cost := bcrypt.DefaultCost
	for _, u := range f.Users {
		perm, _ := ParsePermission(u.Permission)
		acc.users[u.Name] = user{name: u.Name, passwordHash: u.PasswordHash, grant: Grant{Permission: perm, Datasets: u.Datasets}}
		cost, _ = bcrypt.Cost([]byte(u.PasswordHash))
	}
	for _, t := range f.Tokens {
		perm, _ := ParsePermission(t.Permission)
		sum, _ := parseTokenHash(t.TokenHash)
		acc.tokens = append(acc.tokens, staticToken{name: t.Name, grant: Grant{Permission: perm, Datasets: t.Datasets}, expires: t.Expires})
		acc.sums = append(acc.sums, sum)
	}
	// The dummy hash costs a bcrypt hash at the users' cost: reuse the last one
	// while the cost stays.
	if old := a.state.Load(); old != nil {
		if c, err := bcrypt.Cost(old.dummyHash); err == nil && c == cost {
			acc.dummyHash = old.dummyHash
		}
	}
	if acc.dummyHash == nil {
		dummy, err := bcrypt.GenerateFromPassword([]byte("quiver: no such user"), cost)
		if err != nil {
			return err
		}
		acc.dummyHash = dummy
	}
	a.state.Store(acc)
	return nil
}

// TokenTTL is the lifetime of the tokens Login issues.
func (a *Authenticator) TokenTTL() time.Duration { return a.ttl }

// Login checks a user's password and issues a bearer token that expires after the
// token TTL. Wrong user names and wrong passwords are one error, in about one time.
//
// Logins are limited (Options.Login): the bcrypt check waits for a free slot, or
// gives up with ctx's error; a user name or client address (from ctx's gRPC peer)
// that has failed too often lately gets a ThrottledError without a check.
func (a *Authenticator) Login(ctx context.Context, name, password string) (token string, expires time.Time, p *Principal, err error) {
	peer := peerKey(ctx)
	release, err := a.limits.acquire(ctx, name, peer)
	if err != nil {
		return "", time.Time{}, nil, err
	}
	// The slot is released after the failure is counted, so the login next in line
	// sees it when it checks the budget again.
	defer release()
	acc := a.state.Load()
	u, ok := acc.users[name]
	hash := []byte(u.passwordHash)
	if !ok {
		hash = acc.dummyHash
	}
	if a.compare(hash, []byte(password)) != nil || !ok {
		a.limits.failed(ctx, name, peer)
		return "", time.Time{}, nil, ErrBadCredentials
	}
	a.limits.succeeded(name)
	expires = a.now().Add(a.ttl).Truncate(time.Second)
	return a.sign.issue(u.name, expires, u.passwordHash), expires, u.principal(), nil
}

func (u user) principal() *Principal {
	return &Principal{Name: "user " + u.name, Grant: u.grant}
}

// Verify returns the principal of a bearer token: one Login issued, or a static
// token of the auth file. Its grant is the one the current auth file gives.
func (a *Authenticator) Verify(token string) (*Principal, error) {
	if token == "" {
		return nil, ErrNoCredentials
	}
	acc := a.state.Load()
	if name, exp, mac, ok := parseIssued(token); ok {
		u, known := acc.users[name]
		if !known || !a.sign.verify(name, exp, mac, u.passwordHash) {
			return nil, ErrBadCredentials
		}
		if !a.now().Before(time.Unix(exp, 0)) {
			return nil, ErrExpired
		}
		return u.principal(), nil
	}
	sum := sha256.Sum256([]byte(token))
	i := matchTokenHash(acc.sums, sum[:])
	if i < 0 {
		return nil, ErrBadCredentials
	}
	t := acc.tokens[i]
	if !t.expires.IsZero() && !a.now().Before(t.expires) {
		return nil, fmt.Errorf("%w (static token %q expired at %s)", errExpiredStatic, t.name, t.expires.Format(time.RFC3339))
	}
	return &Principal{Name: "token " + t.name, Grant: t.grant}, nil
}

// errExpiredStatic is an expired static token: logging in again does not help.
var errExpiredStatic = errors.New("token expired")
