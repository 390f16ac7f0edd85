package flightsql

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/quiverdata/quiver/flightsql/auth"
)

// A limit counts the principal when there is one, else the peer's address without
// its port: more connections from one host share one budget.
func TestClientKey(t *testing.T) {
	withPeer := func(addr string) context.Context {
		a, err := net.ResolveTCPAddr("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		return peer.NewContext(context.Background(), &peer.Peer{Addr: a})
	}
	for _, c := range []struct {
		ctx  context.Context
		want string
	}{
		{auth.NewContext(withPeer("10.0.0.7:5000"), &auth.Principal{Name: "user alice"}), "user alice"},
		{withPeer("10.0.0.7:5000"), "peer 10.0.0.7"},
		{withPeer("10.0.0.7:6000"), "peer 10.0.0.7"},
		{withPeer("[::1]:6000"), "peer ::1"},
		{context.Background(), "peer unknown"},
	} {
		if got := clientKey(c.ctx); got != c.want {
			t.Errorf("clientKey = %q, want %q", got, c.want)
		}
	}
}

func TestSlots(t *testing.T) {
	ctx := context.Background()
	s := newSlots("concurrent things", 2, 3, "--max-things-per-client", "--max-things", 20*time.Millisecond)
	wantLimit := func(err error, mention ...string) {
		t.Helper()
		if !errors.Is(err, errLimit) {
			t.Fatalf("got %v, want errLimit", err)
		}
		st, _ := status.FromError(toStatus(err))
		if st.Code() != codes.ResourceExhausted {
			t.Errorf("code %v, want ResourceExhausted", st.Code())
		}
		for _, m := range mention {
			if !strings.Contains(err.Error(), m) {
				t.Errorf("%q does not mention %q", err, m)
			}
		}
	}
	a1, err := s.acquire(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err = s.acquire(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	_, err = s.acquire(ctx, "a")
	wantLimit(err, "a already has 2 concurrent things open or waiting", "--max-things-per-client=2")
	if _, err = s.acquire(ctx, "b"); err != nil {
		t.Fatalf("another client: %v", err)
	}
	_, err = s.acquire(ctx, "c")
	wantLimit(err, "waited 20ms for one of the server's 3 concurrent things", "--max-things=3")
	if mine, all := s.inUse("c"); mine != 0 || all != 3 {
		t.Fatalf("after a wait that failed: c holds %d, %d held in all; want 0 and 3", mine, all)
	}
	a1()
	a1() // a second release is harmless
	if mine, all := s.inUse("a"); mine != 1 || all != 2 {
		t.Fatalf("in use after a release: %d of %d, want 1 of 2", mine, all)
	}
	c1, err := s.acquire(ctx, "c")
	if err != nil {
		t.Fatalf("after a release: %v", err)
	}

	// At the total limit a request waits, and gets the slot the next release frees.
	got := make(chan error, 1)
	s.wait = time.Minute
	go func() {
		_, err := s.acquire(ctx, "d") // held to the end: the server stays full
		got <- err
	}()
	waitFor(t, func() bool { mine, _ := s.inUse("d"); return mine == 1 })
	c1()
	if err := <-got; err != nil {
		t.Fatalf("a waiting request after a release: %v", err)
	}

	// A waiting request gives up with its context, and leaves nothing counted.
	cctx, cancel := context.WithCancel(ctx)
	go func() {
		_, err := s.acquire(cctx, "e")
		got <- err
	}()
	waitFor(t, func() bool { mine, _ := s.inUse("e"); return mine == 1 })
	cancel()
	if err := <-got; !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled wait: %v, want context.Canceled", err)
	}
	if mine, all := s.inUse("e"); mine != 0 || all != 3 {
		t.Fatalf("after a cancelled wait: e holds %d, %d held in all; want 0 and 3", mine, all)
	}

	unlimited := newSlots("things", -1, -1, "", "", 0)
	for range 1000 {
		if _, err := unlimited.acquire(ctx, "a"); err != nil {
			t.Fatal(err)
		}
	}
}

// waitFor polls cond for up to ten seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10s")
		}
	}
}

func TestLimitsDefaults(t *testing.T) {
	got := Limits{Streams: -1, QueriesPerClient: 3}.withDefaults()
	want := DefaultLimits
	want.Streams, want.QueriesPerClient = -1, 3
	if got != want {
		t.Errorf("withDefaults = %+v, want %+v", got, want)
	}
}

// The memory release runs once the last stream has been over for the delay, not while
// streams are open, and not after stop.
func TestIdleRelease(t *testing.T) {
	var n atomic.Int32
	r := newIdleRelease(100*time.Millisecond, func() { n.Add(1) })
	r.idle()
	r.busy() // a stream started before the delay passed
	time.Sleep(300 * time.Millisecond)
	if got := n.Load(); got != 0 {
		t.Fatalf("released %d times while a stream was open", got)
	}
	r.idle()
	r.idle() // a second end restarts the delay; it does not add a release
	deadline := time.Now().Add(10 * time.Second)
	for n.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	if got := n.Load(); got != 1 {
		t.Fatalf("released %d times after the last stream ended, want 1", got)
	}
	r.idle()
	r.stop()
	time.Sleep(300 * time.Millisecond)
	if got := n.Load(); got != 1 {
		t.Fatalf("released after stop: %d", got)
	}
}
