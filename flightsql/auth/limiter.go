package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// Login limits. A bcrypt check costs a quarter of a second of one core (cost 12), so
// without limits 16 clients sending wrong passwords saturate a two-core server. The
// limiter bounds what logins may cost: at most a few checks run at once, and a user
// name or a client address that keeps failing is refused, without a bcrypt check,
// for a window that doubles with each further failure.
const (
	// DefaultLoginFailures is how many failed logins a user name, or a client
	// address, may have before further logins are refused for a while.
	DefaultLoginFailures = 5
	// DefaultLoginLockoutMax caps the refusal window, which starts at
	// loginLockoutBase and doubles with each failure past the budget.
	DefaultLoginLockoutMax = 5 * time.Minute
	// loginLockoutBase is the first refusal window.
	loginLockoutBase = time.Second
	// minFailureMemory is the shortest time failures are remembered: a user name or
	// address with no failure for max(minFailureMemory, 2×lockout cap) starts afresh.
	minFailureMemory = 15 * time.Minute
	// maxTrackedKeys bounds each table of failures (user names, addresses), so that
	// logins with made-up user names cannot grow the server's memory. When it is
	// full the record with the oldest failure makes room.
	maxTrackedKeys = 10000
)

// DefaultLoginConcurrency is how many bcrypt checks run at once by default: half
// the cores, at least one, so that logins can never take the whole machine.
func DefaultLoginConcurrency() int {
	return max(1, runtime.GOMAXPROCS(0)/2)
}

// ErrLoginThrottled means a login was refused without checking its password,
// because its user name or its address has failed too often lately. Errors that
// wrap it are ThrottledErrors, which say how long to wait.
var ErrLoginThrottled = errors.New("too many failed logins")

// ThrottledError is a login refused by the failure budget.
type ThrottledError struct {
	// Of is what failed too often: "for this user name" or "from this address".
	Of string
	// RetryAfter is when the refusal ends, from now, rounded up to a second.
	RetryAfter time.Duration
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("%v %s: try again in %s", ErrLoginThrottled, e.Of, e.RetryAfter)
}

// Is makes errors.Is(err, ErrLoginThrottled) true.
func (e *ThrottledError) Is(target error) bool { return target == ErrLoginThrottled }

// loginStatus is the gRPC status of a failed Login: ResourceExhausted with a retry
// hint for a throttled one, Canceled or DeadlineExceeded for one that gave up
// waiting for a bcrypt slot, Unauthenticated otherwise.
func loginStatus(err error) error {
	switch {
	case errors.Is(err, ErrLoginThrottled):
		return status.Error(codes.ResourceExhausted, err.Error())
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return status.FromContextError(err).Err()
	}
	return status.Error(codes.Unauthenticated, err.Error())
}

// loginRefusalLevel is the log level of a refused login. A throttled one is logged
// at Debug: its lockout was logged once at Warn, and a flood of guesses would
// otherwise write a line per guess.
func loginRefusalLevel(err error) slog.Level {
	if errors.Is(err, ErrLoginThrottled) {
		return slog.LevelDebug
	}
	return slog.LevelWarn
}

// LoginLimits bound what password logins may cost the server.
type LoginLimits struct {
	// Concurrency is how many bcrypt checks may run at once; 0 means
	// DefaultLoginConcurrency. Logins beyond it wait, until their context ends.
	Concurrency int
	// Failures is the failure budget of a user name and of a client address; 0
	// means DefaultLoginFailures, a negative value turns the budget off.
	Failures int
	// LockoutMax caps the refusal window; 0 means DefaultLoginLockoutMax.
	LockoutMax time.Duration
}

// loginLimiter enforces LoginLimits. Its budget is kept per user name (guessing one
// user's password from many addresses) and per client address (guessing many users'
// passwords from one). Both count failures only; a success clears its user name's
// count but not its address's, so a valid account does not buy more guesses at
// others. User names that do not exist are counted like real ones, so the lockout
// tells nobody which names exist.
//
// The price of the per-user budget is that someone who knows a user name can keep
// that user from logging in with a password for up to LockoutMax at a time (tokens
// already issued and static tokens keep working).
type loginLimiter struct {
	slots    *slotQueue
	failures int // <= 0: no budget
	maxLock  time.Duration
	memory   time.Duration
	now      func() time.Time
	log      *slog.Logger

	mu    sync.Mutex
	users map[string]*failureRecord
	peers map[string]*failureRecord
}

// failureRecord is the recent failures of one user name or address.
type failureRecord struct {
	count int       // failures since the record was last forgotten or cleared
	last  time.Time // the latest failure
	until time.Time // logins are refused before this
}

func newLoginLimiter(l LoginLimits, now func() time.Time, log *slog.Logger) *loginLimiter {
	if l.Concurrency <= 0 {
		l.Concurrency = DefaultLoginConcurrency()
	}
	if l.Failures == 0 {
		l.Failures = DefaultLoginFailures
	}
	if l.LockoutMax <= 0 {
		l.LockoutMax = DefaultLoginLockoutMax
	}
	return &loginLimiter{
		slots:    newSlotQueue(l.Concurrency),
		failures: l.Failures,
		maxLock:  l.LockoutMax,
		memory:   max(minFailureMemory, 2*l.LockoutMax),
		now:      now,
		log:      log,
		users:    map[string]*failureRecord{},
		peers:    map[string]*failureRecord{},
	}
}

// acquire admits a login of user from peer: it refuses a throttled one at once,
// waits for a bcrypt slot (or for ctx to end; logins without recent failures go
// first), and checks the budget again, since failures of logins ahead in the queue
// may have used it up. The caller calls release when its bcrypt check is done.
func (l *loginLimiter) acquire(ctx context.Context, user, peer string) (release func(), err error) {
	suspect, err := l.check(user, peer)
	if err != nil {
		return nil, err
	}
	if err := l.slots.acquire(ctx, suspect); err != nil {
		return nil, fmt.Errorf("login: waiting for a password check: %w", err)
	}
	if _, err := l.check(user, peer); err != nil {
		l.slots.release()
		return nil, err
	}
	return l.slots.release, nil
}

// check refuses a login whose user name or address is in a refusal window, and
// says whether either has failed lately (suspect).
func (l *loginLimiter) check(user, peer string) (suspect bool, err error) {
	if l.failures <= 0 {
		return false, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	for _, r := range []*failureRecord{l.users[user], l.peers[peer]} {
		if r != nil && now.Sub(r.last) <= l.memory {
			suspect = true
		}
	}
	wait := time.Duration(0)
	of := ""
	if r := l.users[user]; r != nil && now.Before(r.until) {
		wait, of = r.until.Sub(now), "for this user name"
	}
	if r := l.peers[peer]; peer != "" && r != nil && now.Before(r.until) && r.until.Sub(now) > wait {
		wait, of = r.until.Sub(now), "from this address"
	}
	if of == "" {
		return suspect, nil
	}
	return true, &ThrottledError{Of: of, RetryAfter: (wait + time.Second - 1).Truncate(time.Second)}
}

// failed counts a failed login against user and peer.
func (l *loginLimiter) failed(ctx context.Context, user, peer string) {
	if l.failures <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if lock := l.count(l.users, user, now); lock > 0 {
		l.log.LogAttrs(ctx, slog.LevelWarn, "login lockout: too many failed logins for a user name",
			slog.String("user", clip(user)), slog.Duration("lockout", lock), slog.String("peer", peer))
	}
	if peer == "" {
		return
	}
	if lock := l.count(l.peers, peer, now); lock > 0 {
		l.log.LogAttrs(ctx, slog.LevelWarn, "login lockout: too many failed logins from an address",
			slog.String("peer", peer), slog.Duration("lockout", lock))
	}
}

// count adds a failure to key's record in m and returns the refusal window it
// starts, 0 if still within the budget. l.mu is held.
func (l *loginLimiter) count(m map[string]*failureRecord, key string, now time.Time) time.Duration {
	r := m[key]
	if r != nil && now.Sub(r.last) > l.memory {
		r = nil
	}
	if r == nil {
		l.makeRoom(m, now)
		r = &failureRecord{}
		m[key] = r
	}
	r.count++
	r.last = now
	if r.count < l.failures {
		return 0
	}
	lock := l.maxLock
	if shift := r.count - l.failures; shift < 30 && loginLockoutBase<<shift < l.maxLock {
		lock = loginLockoutBase << shift
	}
	r.until = now.Add(lock)
	return lock
}

// makeRoom keeps m under maxTrackedKeys before a new record goes in: it drops
// forgotten records, and if none is, the one with the oldest failure. l.mu is held.
func (l *loginLimiter) makeRoom(m map[string]*failureRecord, now time.Time) {
	if len(m) < maxTrackedKeys {
		return
	}
	oldest := ""
	for k, r := range m {
		if now.Sub(r.last) > l.memory && now.After(r.until) {
			delete(m, k)
			continue
		}
		if oldest == "" || r.last.Before(m[oldest].last) {
			oldest = k
		}
	}
	if len(m) >= maxTrackedKeys {
		delete(m, oldest)
	}
}

// succeeded clears user's failures. The address's stay: see loginLimiter.
func (l *loginLimiter) succeeded(user string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.users, user)
}

// peerKey is the client address a request came from, as the failure budget counts
// it: the IP address without the port, and for IPv6 its /64 network, which is what
// one host is usually given. "" when the request has no peer (in-process calls).
func peerKey(ctx context.Context) string {
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil {
		return ""
	}
	host := p.Addr.String()
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		pfx, _ := ip.Prefix(64)
		return pfx.String()
	}
	return ip.String()
}
