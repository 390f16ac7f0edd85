package auth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// from is a context whose gRPC peer is addr ("192.0.2.1:5000").
func from(addr string) context.Context {
	host, port, _ := net.SplitHostPort(addr)
	var p int
	fmt.Sscan(port, &p)
	return peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{IP: net.ParseIP(host), Port: p}})
}

// limitedAuthenticator has users alice and bob, both with password "pw", and the
// given limits; it counts its password checks.
func limitedAuthenticator(t *testing.T, clock *testClock, limits LoginLimits, log *slog.Logger) (*Authenticator, *atomic.Int64) {
	t.Helper()
	hash, err := HashPassword("pw", bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	f := &File{Users: []UserEntry{
		{Name: "alice", PasswordHash: hash, Permission: "read"},
		{Name: "bob", PasswordHash: hash, Permission: "read"},
	}}
	a, err := New(f, Options{Now: clock.now, Login: limits, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	checks := &atomic.Int64{}
	compare := a.compare
	a.compare = func(h, pw []byte) error { checks.Add(1); return compare(h, pw) }
	return a, checks
}

func throttledFor(t *testing.T, err error) time.Duration {
	t.Helper()
	var te *ThrottledError
	if !errors.Is(err, ErrLoginThrottled) || !errors.As(err, &te) {
		t.Fatalf("err = %v, want a ThrottledError", err)
	}
	return te.RetryAfter
}

func TestLoginLockoutEngagesGrowsAndExpires(t *testing.T) {
	clock := &testClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	var logs bytes.Buffer
	a, checks := limitedAuthenticator(t, clock, LoginLimits{LockoutMax: 8 * time.Second}, slog.New(slog.NewTextHandler(&logs, nil)))
	attacker := from("192.0.2.1:40000")

	// Five failures are checked; then alice is refused without a check, even with
	// her right password, for 1s.
	for i := range DefaultLoginFailures {
		if _, _, _, err := a.Login(attacker, "alice", fmt.Sprintf("guess-%d", i)); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("guess %d: %v, want ErrBadCredentials", i, err)
		}
	}
	if n := checks.Load(); n != DefaultLoginFailures {
		t.Fatalf("%d checks, want %d", n, DefaultLoginFailures)
	}
	_, _, _, err := a.Login(from("198.51.100.7:1"), "alice", "pw")
	if d := throttledFor(t, err); d != time.Second {
		t.Errorf("retry after %v, want 1s", d)
	}
	if n := checks.Load(); n != DefaultLoginFailures {
		t.Errorf("a throttled login was checked (%d checks)", n)
	}
	if st := status.Convert(loginStatus(err)); st.Code() != codes.ResourceExhausted || st.Message() != "too many failed logins for this user name: try again in 1s" {
		t.Errorf("status = %v %q", st.Code(), st.Message())
	}

	// The attacker's address is refused for other users too; bob from elsewhere
	// logs in.
	_, _, _, err = a.Login(attacker, "bob", "pw")
	if d := throttledFor(t, err); d != time.Second || !strings.Contains(err.Error(), "from this address") {
		t.Errorf("bob from the attacker's address: %v", err)
	}
	if _, _, _, err := a.Login(from("198.51.100.7:2"), "bob", "pw"); err != nil {
		t.Fatalf("bob from another address: %v", err)
	}

	// Each failure past the budget doubles the window, up to the cap (8s here).
	for _, want := range []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second} {
		clock.t = clock.t.Add(time.Second / 2)
		_, _, _, err := a.Login(attacker, "alice", "guess")
		throttledFor(t, err) // still in the window
		clock.t = clock.t.Add(time.Second / 2)
		if _, _, _, err := a.Login(attacker, "alice", "guess"); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("after the window: %v, want a checked failure", err)
		}
		_, _, _, err = a.Login(attacker, "alice", "pw")
		if d := throttledFor(t, err); d != want {
			t.Errorf("window %v, want %v", d, want)
		}
		clock.t = clock.t.Add(want - time.Second)
	}

	// When the window ends, the right password works and clears alice's count (a
	// single failure then is within the budget again) but not the address's.
	clock.t = clock.t.Add(time.Second)
	if _, _, _, err := a.Login(from("198.51.100.7:3"), "alice", "pw"); err != nil {
		t.Fatalf("alice after the lockout: %v", err)
	}
	if _, _, _, err := a.Login(from("198.51.100.7:4"), "alice", "guess"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("one failure after a success: %v", err)
	}
	if _, _, _, err := a.Login(from("198.51.100.7:5"), "alice", "pw"); err != nil {
		t.Fatalf("alice after one failure: %v", err)
	}
	if _, _, _, err := a.Login(attacker, "nobody", "guess"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("the attacker's address after its window: %v, want a checked failure", err)
	}
	_, _, _, err = a.Login(attacker, "bob", "pw")
	if d := throttledFor(t, err); d != 8*time.Second {
		t.Errorf("the attacker's address, one more failure: window %v, want the cap", d)
	}

	// Failures are forgotten after a quiet while (15 minutes at least).
	clock.t = clock.t.Add(16 * time.Minute)
	for i := range DefaultLoginFailures - 1 {
		if _, _, _, err := a.Login(attacker, "alice", "guess"); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("guess %d after a quiet while: %v", i, err)
		}
	}
	if _, _, _, err := a.Login(attacker, "alice", "pw"); err != nil {
		t.Fatalf("right password within a fresh budget: %v", err)
	}

	for _, want := range []string{"login lockout", "user=alice", "peer=192.0.2.1"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
	if strings.Contains(logs.String(), "guess") {
		t.Errorf("log holds a password:\n%s", logs.String())
	}
}

// Unknown user names spend the address's budget like known ones, and are locked
// like known ones, so the lockout does not tell which names exist.
func TestLoginLockoutSameForUnknownUsers(t *testing.T) {
	clock := &testClock{t: time.Now()}
	a, _ := limitedAuthenticator(t, clock, LoginLimits{}, slog.New(slog.DiscardHandler))
	for i := range DefaultLoginFailures {
		if _, _, _, err := a.Login(from(fmt.Sprintf("203.0.113.%d:1", i+1)), "ghost", "x"); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("guess %d: %v", i, err)
		}
	}
	_, _, _, err := a.Login(from("203.0.113.99:1"), "ghost", "x")
	if d := throttledFor(t, err); d != time.Second {
		t.Errorf("unknown user: window %v, want 1s", d)
	}

	for i := range DefaultLoginFailures {
		_, _, _, err := a.Login(from("[2001:db8:1:2::5]:1"), fmt.Sprintf("name-%d", i), "x")
		if !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("guess %d: %v", i, err)
		}
	}
	// Another host of the same IPv6 /64 is the same client.
	_, _, _, err = a.Login(from("[2001:db8:1:2::77]:9"), "alice", "pw")
	if d := throttledFor(t, err); d != time.Second || !strings.Contains(err.Error(), "from this address") {
		t.Errorf("same /64: %v", err)
	}
}

func TestLoginChecksRunAtMostConcurrencyAtOnce(t *testing.T) {
	for _, slots := range []int{1, 2} {
		t.Run(fmt.Sprintf("%d slots", slots), func(t *testing.T) {
			a, _ := limitedAuthenticator(t, &testClock{t: time.Now()}, LoginLimits{Concurrency: slots, Failures: -1}, nil)
			var running, most atomic.Int64
			a.compare = func(h, pw []byte) error {
				n := running.Add(1)
				defer running.Add(-1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
				time.Sleep(2 * time.Millisecond)
				return bcrypt.ErrMismatchedHashAndPassword
			}
			var wg sync.WaitGroup
			for i := range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range 5 {
						a.Login(from(fmt.Sprintf("192.0.2.%d:1", i+1)), "alice", "guess")
					}
				}()
			}
			wg.Wait()
			if got := most.Load(); got != int64(slots) {
				t.Errorf("at most %d checks ran at once, want %d", got, slots)
			}
		})
	}
}

func TestLoginWaitingForASlotGivesUpWithItsContext(t *testing.T) {
	a, _ := limitedAuthenticator(t, &testClock{t: time.Now()}, LoginLimits{Concurrency: 1}, nil)
	inCheck, release := make(chan struct{}), make(chan struct{})
	a.compare = func(h, pw []byte) error {
		close(inCheck)
		<-release
		return nil
	}
	done := make(chan error, 1)
	go func() { _, _, _, err := a.Login(context.Background(), "alice", "pw"); done <- err }()
	<-inCheck

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, _, _, err := a.Login(ctx, "bob", "pw")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
	if code := status.Code(loginStatus(err)); code != codes.DeadlineExceeded {
		t.Errorf("code = %v, want DeadlineExceeded", code)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("the login holding the slot: %v", err)
	}
}

func TestLoginFailureTablesAreBounded(t *testing.T) {
	clock := &testClock{t: time.Now()}
	l := newLoginLimiter(LoginLimits{}, clock.now, slog.New(slog.DiscardHandler))
	for i := range maxTrackedKeys + 100 {
		clock.t = clock.t.Add(time.Millisecond)
		l.failed(context.Background(), fmt.Sprintf("user-%d", i), fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255))
	}
	if len(l.users) > maxTrackedKeys || len(l.peers) > maxTrackedKeys {
		t.Fatalf("%d users, %d peers tracked, want at most %d", len(l.users), len(l.peers), maxTrackedKeys)
	}
	// The newest records are kept, the oldest made room.
	if _, ok := l.users[fmt.Sprintf("user-%d", maxTrackedKeys+99)]; !ok {
		t.Error("the newest record was dropped")
	}
	if _, ok := l.users["user-0"]; ok {
		t.Error("the oldest record was kept")
	}
}

func TestPeerKey(t *testing.T) {
	cases := []struct{ addr, want string }{
		{"192.0.2.1:5000", "192.0.2.1"},
		{"[::ffff:192.0.2.1]:5000", "192.0.2.1"},
		{"[2001:db8:1:2:3:4:5:6]:5000", "2001:db8:1:2::/64"},
		{"[::1]:1", "::/64"},
	}
	for _, c := range cases {
		if got := peerKey(from(c.addr)); got != c.want {
			t.Errorf("peerKey(%s) = %q, want %q", c.addr, got, c.want)
		}
	}
	if got := peerKey(context.Background()); got != "" {
		t.Errorf("no peer: %q", got)
	}
}

// waitQueued waits until the limiter's slot queue holds n waiters.
func waitQueued(t *testing.T, q *slotQueue, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		q.mu.Lock()
		got := len(q.clean) + len(q.suspect)
		q.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d logins waiting, want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// A flood from many addresses, each of which has failed before, does not make a
// login from a clean address wait behind all of it.
func TestLoginsWithoutRecentFailuresGoFirst(t *testing.T) {
	a, _ := limitedAuthenticator(t, &testClock{t: time.Now()}, LoginLimits{Concurrency: 1}, slog.New(slog.DiscardHandler))
	var mu sync.Mutex
	var order []string
	holding, release := make(chan struct{}), make(chan struct{})
	compare := a.compare
	a.compare = func(h, pw []byte) error {
		if string(pw) == "hold" {
			close(holding)
			<-release
		}
		mu.Lock()
		order = append(order, string(pw))
		mu.Unlock()
		return compare(h, pw)
	}
	for i := range 3 {
		a.limits.failed(context.Background(), "someone", fmt.Sprintf("192.0.2.%d", i+1))
	}

	var wg sync.WaitGroup
	login := func(addr, pw string) {
		wg.Add(1)
		go func() { defer wg.Done(); a.Login(from(addr), "alice", pw) }()
	}
	login("198.51.100.1:1", "hold")
	<-holding
	for i := range 3 {
		login(fmt.Sprintf("192.0.2.%d:1", i+1), fmt.Sprintf("suspect-%d", i))
		waitQueued(t, a.limits.slots, i+1)
	}
	login("198.51.100.2:1", "pw")
	waitQueued(t, a.limits.slots, 4)
	close(release)
	wg.Wait()
	// The clean login passed the three that waited longer. (alice's own failures
	// then make the rest suspect too; they keep their order.)
	if want := []string{"hold", "pw", "suspect-0", "suspect-1", "suspect-2"}; !slices.Equal(order, want) {
		t.Errorf("checked in order %q, want %q", order, want)
	}
}

// Slots granted as their waiter gives up are passed on, never lost.
func TestSlotQueueKeepsItsSlots(t *testing.T) {
	q := newSlotQueue(2)
	var running, most atomic.Int64
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 30 {
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration((i+j)%3)*100*time.Microsecond)
				if err := q.acquire(ctx, j%2 == 0); err == nil {
					n := running.Add(1)
					for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
					}
					time.Sleep(50 * time.Microsecond)
					running.Add(-1)
					q.release()
				}
				cancel()
			}
		}()
	}
	wg.Wait()
	if q.free != 2 || len(q.clean)+len(q.suspect) != 0 || most.Load() > 2 {
		t.Fatalf("after the storm: %d free, %d waiting, at most %d at once; want 2, 0, <= 2", q.free, len(q.clean)+len(q.suspect), most.Load())
	}
}
