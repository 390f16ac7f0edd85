package auth_test

import (
	"context"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// clientFrom connects to the server from the loopback address local (127.0.0.2 is
// another client address than 127.0.0.1 on Linux), so the server sees another peer.
func (s *guardedServer) clientFrom(t *testing.T, local string) flight.Client {
	t.Helper()
	dialer := func(ctx context.Context, addr string) (net.Conn, error) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
		return d.DialContext(ctx, "tcp", addr)
	}
	c, err := flight.NewClientWithMiddlewareCtx(context.Background(), s.addr, nil, nil,
		grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithContextDialer(dialer))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestLoginFloodIsThrottled hammers one user's password from one address with 16
// clients at once. The flood must get ResourceExhausted with a retry hint after a few
// checked failures, instead of a bcrypt check per attempt; a right password of
// another user from another address must still be served meanwhile; the attacked
// user's right password from the attacking address is refused until the lockout
// ends; and nothing secret is logged.
func TestLoginFloodIsThrottled(t *testing.T) {
	s := startGuarded(t)
	const wrong = "wrong-Pa55word-guess"
	s.secrets = append(s.secrets, wrong)

	var checked, throttled, other atomic.Int64
	var firstOther atomic.Value
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 16 {
		c := s.clientFrom(t, "127.0.0.1")
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				_, err := c.AuthenticateBasicToken(ctx, "writer", wrong)
				switch status.Code(err) {
				case codes.Unauthenticated:
					checked.Add(1)
				case codes.ResourceExhausted:
					throttled.Add(1)
				case codes.Canceled:
				default:
					other.Add(1)
					firstOther.CompareAndSwap(nil, err)
				}
			}
		}()
	}
	stopFlood := sync.OnceFunc(func() { cancel(); wg.Wait() })
	t.Cleanup(stopFlood)

	deadline := time.Now().Add(20 * time.Second)
	for throttled.Load() < 100 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if throttled.Load() < 100 {
		stopFlood()
		t.Fatalf("after 20s of 16 clients guessing: %d checked failures, %d throttled; want the flood throttled", checked.Load(), throttled.Load())
	}

	// While the flood goes on: another user from another address logs in.
	start := time.Now()
	admin := s.clientFrom(t, "127.0.0.2")
	actx, acancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer acancel()
	if _, err := admin.AuthenticateBasicToken(actx, "admin", adminPassword); err != nil {
		t.Fatalf("admin's login from another address during the flood: %v", err)
	}
	t.Logf("admin's login during the flood took %v", time.Since(start))

	// The attacked user's right password, from the attacking address: refused
	// without a check, with a hint of when to try again.
	_, err := s.clientFrom(t, "127.0.0.1").AuthenticateBasicToken(context.Background(), "writer", writerPassword)
	if status.Code(err) != codes.ResourceExhausted || !strings.Contains(status.Convert(err).Message(), "too many failed logins") ||
		!strings.Contains(status.Convert(err).Message(), "try again in") {
		t.Fatalf("writer's right password from the attacking address: %v, want ResourceExhausted with a retry hint", err)
	}
	stopFlood()

	// The budget is 5 failures; logins that were already checking their password
	// when the fifth failed may still fail, one per other bcrypt slot.
	if n, most := checked.Load(), int64(4+maxLoginSlots()); n < 5 || n > most {
		t.Errorf("%d logins had their password checked, want 5..%d", n, most)
	}
	if n := other.Load(); n != 0 {
		t.Errorf("%d logins failed with other codes, first: %v", n, firstOther.Load())
	}

	// The lockout ends as the clock moves on. (Guesses the flood had in flight
	// when it stopped may still fail and lengthen it: the server learns of their
	// cancellation after the client does.)
	for i := 0; ; i++ {
		s.clock.Add(time.Minute)
		_, err := s.clientFrom(t, "127.0.0.2").AuthenticateBasicToken(context.Background(), "writer", writerPassword)
		if err == nil {
			break
		}
		if status.Code(err) != codes.ResourceExhausted || i == 10 {
			t.Fatalf("writer's login after %d minutes: %v", i+1, err)
		}
	}
	if !strings.Contains(s.logs.String(), "too many failed logins") {
		t.Error("the refusals were not logged")
	}
	s.assertNoSecrets(t)
}

// maxLoginSlots is the default number of bcrypt checks at once, as the server
// computes it (half the cores, at least one).
func maxLoginSlots() int {
	return max(1, runtime.GOMAXPROCS(0)/2)
}
