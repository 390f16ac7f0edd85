package flightsql

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	pb "github.com/apache/arrow-go/v18/arrow/flight/gen/flight"
	"google.golang.org/grpc"
	"google.golang.org/grpc/peer"

	"github.com/quiverdata/quiver/flightsql/auth"
)

// Limits bound what clients hold at once, each client and all together, so that one
// client cannot take the memory, connections or DuckDB time that the others need.
// A request over a client's limit is refused at once with ResourceExhausted, naming
// the limit and the serve flag that sets it; one that finds the server at its total
// limit waits up to QueueWait for a slot first (see slots).
//
// A zero field takes its default (DefaultLimits); a negative one means no limit.
type Limits struct {
	// Streams and StreamsPerClient bound the DoGet, DoPut and DoExchange calls open at
	// once. A stream that the client does not read still holds its server-side
	// buffers (a batch in each stage of the pipeline and gRPC's unsent data), so
	// their number is what bounds that memory.
	Streams, StreamsPerClient int
	// Queries and QueriesPerClient bound the SQL requests running in DuckDB at once:
	// a statement being planned (GetFlightInfo, prepare, bind) or streaming its
	// result. A prepared statement's DoGet holds one slot for all its parameter rows.
	Queries, QueriesPerClient int
	// PreparedPerClient bounds the prepared statements one client holds open.
	PreparedPerClient int
	// BoundBytes and BoundBytesPerClient bound the bytes of parameter rows bound to
	// prepared statements and held until the statement is closed, rebound or expires.
	BoundBytes, BoundBytesPerClient int64
	// QueueWait is how long a stream or query that finds the server at its total
	// limit waits for a slot before it is refused; negative: it is refused at once.
	QueueWait time.Duration
}

// DefaultLimits are the limits a zero Limits field takes.
var DefaultLimits = Limits{
	Streams:             128,
	StreamsPerClient:    16,
	Queries:             32,
	QueriesPerClient:    8,
	PreparedPerClient:   256,
	BoundBytes:          1 << 30,
	BoundBytesPerClient: 256 << 20,
	QueueWait:           30 * time.Second,
}

// The serve flags that set each limit, named in the message a client gets when it
// hits one (cmd/quiver/serve.go defines them).
const (
	FlagMaxStreams             = "--max-streams"
	FlagMaxStreamsPerClient    = "--max-streams-per-client"
	FlagMaxQueries             = "--max-queries"
	FlagMaxQueriesPerClient    = "--max-queries-per-client"
	FlagMaxPreparedPerClient   = "--max-prepared-per-client"
	FlagMaxBoundBytes          = "--max-bound-bytes"
	FlagMaxBoundBytesPerClient = "--max-bound-bytes-per-client"
	FlagMaxQueueWait           = "--max-queue-wait"
)

// errLimit is a request refused because a client, or the server, is at a limit.
var errLimit = errors.New("limit reached")

// withDefaults fills zero fields from DefaultLimits.
func (l Limits) withDefaults() Limits {
	pick := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	pick64 := func(v *int64, d int64) {
		if *v == 0 {
			*v = d
		}
	}
	pick(&l.Streams, DefaultLimits.Streams)
	pick(&l.StreamsPerClient, DefaultLimits.StreamsPerClient)
	pick(&l.Queries, DefaultLimits.Queries)
	pick(&l.QueriesPerClient, DefaultLimits.QueriesPerClient)
	pick(&l.PreparedPerClient, DefaultLimits.PreparedPerClient)
	pick64(&l.BoundBytes, DefaultLimits.BoundBytes)
	pick64(&l.BoundBytesPerClient, DefaultLimits.BoundBytesPerClient)
	if l.QueueWait == 0 {
		l.QueueWait = DefaultLimits.QueueWait
	}
	return l
}

// clientKey names the client a limit counts against: the authenticated principal
// ("user alice", "token grafana"), or without authentication the peer's IP address
// ("peer 10.0.0.7"). The address, not the connection: a client cannot escape its
// limit by opening more connections, and anonymous clients on different hosts do not
// share one budget, so one of them cannot starve the others. Clients behind one NAT
// or proxy do share it; give them credentials to tell them apart.
func clientKey(ctx context.Context) string {
	if p, ok := auth.FromContext(ctx); ok {
		return p.Name
	}
	pr, ok := peer.FromContext(ctx)
	if !ok || pr.Addr == nil {
		return "peer unknown"
	}
	addr := pr.Addr.String()
	if host, _, err := net.SplitHostPort(addr); err == nil {
		addr = host
	}
	return "peer " + addr
}

// slots counts one kind of thing held at once, per client and in all, against limits.
//
// The two limits answer differently. A client at its own limit is refused at once:
// it is the one holding the slots, and waiting would only let it queue more. A
// request that finds the server at its total limit waits, first come first served,
// for up to wait (or until its context ends) for a slot to free: under a burst from
// many clients the server slows down instead of failing requests, and only a request
// that waited the whole time is refused. Waiting requests count against their
// client's limit, so one client cannot fill the queue either.
type slots struct {
	what                  string // "concurrent streams", in messages
	perClient, total      int    // negative: no limit
	flagClient, flagTotal string
	wait                  time.Duration // longest a request waits for a slot at the total limit

	mu      sync.Mutex
	held    map[string]int // slots held and requests waiting, per client
	all     int            // slots held
	waiting []*slotWaiter  // requests waiting at the total limit, oldest first
}

// slotWaiter is a request waiting for a slot. granted is closed when release hands
// it one (all has been counted for it then).
type slotWaiter struct {
	granted chan struct{}
}

func newSlots(what string, perClient, total int, flagClient, flagTotal string, wait time.Duration) *slots {
	return &slots{what: what, perClient: perClient, total: total, flagClient: flagClient, flagTotal: flagTotal,
		wait: wait, held: make(map[string]int)}
}

// acquire takes a slot for client, waiting at the total limit as the type says, or
// fails with errLimit naming the limit it hit (or with ctx's error). Call release
// exactly once when the slot is free again.
func (s *slots) acquire(ctx context.Context, client string) (release func(), err error) {
	s.mu.Lock()
	if s.perClient >= 0 && s.held[client] >= s.perClient {
		n := s.held[client]
		s.mu.Unlock()
		return nil, fmt.Errorf("%w: %s already has %d %s open or waiting, the limit per client (%s=%d); end one first",
			errLimit, client, n, s.what, s.flagClient, s.perClient)
	}
	s.held[client]++
	var once sync.Once
	release = func() { once.Do(func() { s.release(client) }) }
	if s.total < 0 || (s.all < s.total && len(s.waiting) == 0) {
		s.all++
		s.mu.Unlock()
		return release, nil
	}
	if s.wait <= 0 {
		s.dropClientLocked(client)
		s.mu.Unlock()
		return nil, fmt.Errorf("%w: the server has %d %s open, its limit (%s=%d); retry later",
			errLimit, s.total, s.what, s.flagTotal, s.total)
	}
	w := &slotWaiter{granted: make(chan struct{})}
	s.waiting = append(s.waiting, w)
	s.mu.Unlock()

	timer := time.NewTimer(s.wait)
	defer timer.Stop()
	var cause error
	select {
	case <-w.granted:
		return release, nil
	case <-ctx.Done():
		cause = ctx.Err()
	case <-timer.C:
		cause = fmt.Errorf("%w: waited %s for one of the server's %d %s, its limit (%s=%d); retry later",
			errLimit, s.wait, s.total, s.what, s.flagTotal, s.total)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-w.granted:
		// Handed a slot as the wait ended: give it to the next in line.
		s.releaseLocked(client)
	default:
		s.waiting = slices.DeleteFunc(s.waiting, func(x *slotWaiter) bool { return x == w })
		s.dropClientLocked(client)
	}
	return nil, cause
}

func (s *slots) release(client string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.releaseLocked(client)
}

// releaseLocked frees client's slot: to the oldest waiting request if there is one.
func (s *slots) releaseLocked(client string) {
	s.dropClientLocked(client)
	if len(s.waiting) > 0 {
		w := s.waiting[0]
		s.waiting = s.waiting[1:]
		close(w.granted) // the slot passes on: all stays as it is
		return
	}
	s.all--
}

func (s *slots) dropClientLocked(client string) {
	if s.held[client]--; s.held[client] <= 0 {
		delete(s.held, client)
	}
}

// inUse reports the slots client holds and the slots held in all.
func (s *slots) inUse(client string) (int, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.held[client], s.all
}

// admission enforces Limits on streams and queries; handles.go enforces the limits on
// prepared statements.
type admission struct {
	streams *slots
	queries *slots
	idle    *idleRelease
}

func newAdmission(l Limits) *admission {
	return &admission{
		streams: newSlots("concurrent streams (DoGet, DoPut, DoExchange)", l.StreamsPerClient, l.Streams, FlagMaxStreamsPerClient, FlagMaxStreams, l.QueueWait),
		queries: newSlots("concurrent SQL queries", l.QueriesPerClient, l.Queries, FlagMaxQueriesPerClient, FlagMaxQueries, l.QueueWait),
		idle:    newIdleRelease(idleReleaseDelay, returnMemory),
	}
}

// freed schedules returning memory to the operating system after something large was
// let go outside a stream (bound parameters of a closed or expired statement); with
// streams open, the release comes when the last one ends.
func (a *admission) freed() {
	if _, open := a.streams.inUse(""); open == 0 {
		a.idle.idle()
	}
}

// close stops the pending memory release, if any.
func (a *admission) close() { a.idle.stop() }

// idleReleaseDelay is how long no stream must be open before the Go heap that streams
// left behind is returned to the operating system.
const idleReleaseDelay = 2 * time.Second

// returnMemory collects the garbage and returns free pages to the operating system.
// It collects twice: sync.Pool keeps what it held (gRPC's buffer pools) through one
// collection, as its victim cache, and drops it at the next.
func returnMemory() {
	runtime.GC()
	debug.FreeOSMemory()
}

// idleRelease calls free once the server has had no stream open for delay.
//
// Why: a stream's batches pass through Go memory several times (the batch, its IPC
// body, gRPC's encoded message), and the garbage collector lets the heap grow to
// twice what is live. After the streams end nothing allocates, so no collection runs
// for up to two minutes and the runtime keeps the pages: measured, 50 unread DoGets
// of 14 MB batches left RSS at 6.0 GB 30 s after they closed. debug.FreeOSMemory
// collects and returns the pages at once; on an idle server that costs one
// collection, and a busy one never waits for it.
type idleRelease struct {
	delay time.Duration
	free  func()

	mu      sync.Mutex
	timer   *time.Timer
	stopped bool
}

func newIdleRelease(delay time.Duration, free func()) *idleRelease {
	return &idleRelease{delay: delay, free: free}
}

// busy cancels a pending release: a stream started.
func (r *idleRelease) busy() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.timer != nil {
		r.timer.Stop()
		r.timer = nil
	}
}

// idle schedules a release after delay: the last open stream ended.
func (r *idleRelease) idle() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return
	}
	if r.timer != nil {
		r.timer.Stop()
	}
	r.timer = time.AfterFunc(r.delay, r.free)
}

func (r *idleRelease) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopped = true
	if r.timer != nil {
		r.timer.Stop()
		r.timer = nil
	}
}

// streamMethods are the calls that hold a stream slot for as long as they run.
var streamMethods = map[string]bool{
	"/" + pb.FlightService_ServiceDesc.ServiceName + "/DoGet":      true,
	"/" + pb.FlightService_ServiceDesc.ServiceName + "/DoPut":      true,
	"/" + pb.FlightService_ServiceDesc.ServiceName + "/DoExchange": true,
}

// streamInterceptor holds a stream slot of the calling client for as long as a
// DoGet, DoPut or DoExchange runs. It must come after authentication in the chain, so
// that it counts the principal rather than the address.
func (a *admission) streamInterceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if !streamMethods[info.FullMethod] {
		return handler(srv, ss)
	}
	release, err := a.streams.acquire(ss.Context(), clientKey(ss.Context()))
	if err != nil {
		return toStatus(err)
	}
	a.idle.busy()
	defer func() {
		release()
		if _, open := a.streams.inUse(""); open == 0 {
			a.idle.idle()
		}
	}()
	return handler(srv, ss)
}

// serverOptions installs the stream limit.
func (a *admission) serverOptions() []grpc.ServerOption {
	return []grpc.ServerOption{grpc.ChainStreamInterceptor(a.streamInterceptor)}
}
