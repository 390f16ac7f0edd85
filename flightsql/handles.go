package flightsql

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/util"
)

// handleRegistry holds the server side of Flight SQL handles: prepared statements
// (their SQL, schemas and bound parameters) and the cancel functions of statement
// queries that a client may cancel with CancelFlightInfo. Entries unused for the idle
// timeout are freed by a janitor goroutine that close stops, and prepared statements
// also by a sweep on every new one (so a client's count is current before its limit
// is checked). Statement queries are not swept on registration: every GetFlightInfo
// of a statement adds one, and a sweep of all of them per request made each request
// slower the more had been made in the last idle timeout. They are bounded instead
// (maxQueries): at the bound a new one takes the place of one that is not running.
// A query whose handle is gone still runs; it only cannot be cancelled any more.
//
// It enforces Limits.PreparedPerClient, BoundBytes and BoundBytesPerClient:
// invariant, under mu, clients[c] counts exactly the prepared statements in prepared
// whose client is c and the bytes of their bound rows, and bytes is the sum of all.
type handleRegistry struct {
	idle   time.Duration
	limits Limits
	// freed, if set, is told when bound rows of at least bigBind bytes are let go,
	// so that their memory can go back to the operating system (limits.go).
	freed func()

	stop    chan struct{}
	janitor sync.WaitGroup

	// maxQueries bounds the statement queries remembered (defaultMaxQueries).
	maxQueries int

	mu       sync.Mutex
	prepared map[string]*preparedStatement
	queries  map[string]*queryHandle
	clients  map[string]*clientHold
	bytes    int64 // bytes of bound parameter rows held in all
}

// clientHold is what one client holds in prepared statements.
type clientHold struct {
	handles int
	bytes   int64
}

// preparedStatement is a statement a client prepared; params are the rows it bound.
type preparedStatement struct {
	// owner is the principal that prepared it ("" without authentication): only it
	// may use or close the handle, so a leaked handle is no wider than its grant.
	owner string
	// client is who the statement counts against in Limits (clientKey).
	client string
	sql    string
	schema *arrow.Schema
	params *arrow.Schema
	bound  arrow.RecordBatch // nil until DoPut binds parameters; owned by the entry
	// boundSchema is the result schema with bound's first row bound (nil until
	// then): where a column's type comes from a parameter it differs from schema,
	// and it is what GetFlightInfo reports and every DoGet stream carries.
	boundSchema *arrow.Schema
	boundBytes  int64 // bytes of bound's buffers, counted against the limits
	lastUsed    time.Time
}

// queryHandle tracks one planned statement query between GetFlightInfo and the end
// of its DoGet.
type queryHandle struct {
	cancelled bool
	running   map[*context.CancelFunc]struct{}
	lastUsed  time.Time
}

// defaultMaxQueries is how many statement queries a registry remembers for
// CancelFlightInfo: about 16 MiB of handles, hours of a busy BI dashboard's
// statements at the default idle timeout.
const defaultMaxQueries = 1 << 16

// newHandleRegistry returns a registry that frees entries idle for idle and enforces
// limits (its fields set: see Limits.withDefaults); freed may be nil.
func newHandleRegistry(idle time.Duration, limits Limits, freed func()) *handleRegistry {
	r := &handleRegistry{
		idle:       idle,
		limits:     limits,
		freed:      freed,
		maxQueries: defaultMaxQueries,
		stop:       make(chan struct{}),
		prepared:   make(map[string]*preparedStatement),
		queries:    make(map[string]*queryHandle),
		clients:    make(map[string]*clientHold),
	}
	r.janitor.Add(1)
	go r.sweepEvery(max(idle/4, time.Second))
	return r
}

// sweepEvery sweeps idle entries every interval until close.
func (r *handleRegistry) sweepEvery(interval time.Duration) {
	defer r.janitor.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case now := <-t.C:
			r.mu.Lock()
			r.sweepLocked(now)
			r.mu.Unlock()
		}
	}
}

func newHandleID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b[:])
}

// sweepLocked frees entries idle for longer than the timeout.
func (r *handleRegistry) sweepLocked(now time.Time) {
	r.sweepPreparedLocked(now)
	for id, q := range r.queries {
		if len(q.running) == 0 && now.Sub(q.lastUsed) > r.idle {
			delete(r.queries, id)
		}
	}
}

// sweepPreparedLocked frees prepared statements idle for longer than the timeout.
func (r *handleRegistry) sweepPreparedLocked(now time.Time) {
	for id, p := range r.prepared {
		if now.Sub(p.lastUsed) > r.idle {
			r.dropLocked(id, p)
		}
	}
}

// makeRoomForQueryLocked forgets one remembered query that is not running, when the
// registry holds maxQueries: one not cancelled if one of the first few it looks at
// is not (a cancelled one must stay cancelled for a DoGet that comes later), else
// the first not running. Map order is random, so this is a random choice, in a
// bounded number of steps while few queries run (running ones are bounded by the
// server's stream and query limits).
func (r *handleRegistry) makeRoomForQueryLocked() {
	if len(r.queries) < r.maxQueries {
		return
	}
	const look = 8
	victim, seen := "", 0
	for id, q := range r.queries {
		if len(q.running) != 0 {
			continue
		}
		if !q.cancelled {
			victim = id
			break
		}
		if victim == "" {
			victim = id
		}
		if seen++; seen >= look {
			break
		}
	}
	if victim != "" {
		delete(r.queries, victim)
	}
}

// unbindLocked releases p's bound rows and takes their bytes off the counts.
func (r *handleRegistry) unbindLocked(p *preparedStatement) {
	if p.bound != nil {
		p.bound.Release()
		p.bound = nil
	}
	p.boundSchema = nil
	if h := r.clients[p.client]; h != nil {
		h.bytes -= p.boundBytes
	}
	r.bytes -= p.boundBytes
	if p.boundBytes >= bigBind && r.freed != nil {
		r.freed()
	}
	p.boundBytes = 0
}

// bigBind is the size of bound parameter rows whose release is worth returning
// memory to the operating system for.
const bigBind = 16 << 20

// dropLocked frees the prepared statement id and takes it off the counts.
func (r *handleRegistry) dropLocked(id string, p *preparedStatement) {
	r.unbindLocked(p)
	delete(r.prepared, id)
	if h := r.clients[p.client]; h != nil {
		if h.handles--; h.handles <= 0 {
			delete(r.clients, p.client)
		}
	}
}

// resultSchema is the schema the statement's results have now: with its parameters
// bound when they are.
func (p *preparedStatement) resultSchema() *arrow.Schema {
	if p.boundSchema != nil {
		return p.boundSchema
	}
	return p.schema
}

// addPrepared registers a prepared statement and returns its handle, or fails with
// errLimit when its client holds Limits.PreparedPerClient already.
func (r *handleRegistry) addPrepared(p *preparedStatement) (string, error) {
	id := newHandleID()
	now := time.Now()
	p.lastUsed = now
	p.bound, p.boundSchema, p.boundBytes = nil, nil, 0
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sweepPreparedLocked(now)
	h := r.clients[p.client]
	if h == nil {
		h = &clientHold{}
	}
	if max := r.limits.PreparedPerClient; max >= 0 && h.handles >= max {
		return "", fmt.Errorf("%w: %s already has %d prepared statements open, the limit per client (%s=%d); close some (idle ones are closed after %s)",
			errLimit, p.client, h.handles, FlagMaxPreparedPerClient, max, r.idle)
	}
	h.handles++
	r.clients[p.client] = h
	r.prepared[id] = p
	return id, nil
}

// lookupPrepared returns the statement's SQL, schemas and bound rows (retained: the caller
// releases them), or false when the handle is unknown or expired.
func (r *handleRegistry) lookupPrepared(id string) (preparedStatement, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.prepared[id]
	if !ok {
		return preparedStatement{}, false
	}
	p.lastUsed = time.Now()
	if p.bound != nil {
		p.bound.Retain()
	}
	return *p, true
}

// bind replaces the statement's bound parameter rows with rec: the entry takes the
// reference when it reports true and a nil error. It reports false when the handle is
// unknown, and fails with errLimit when holding rec instead of the rows bound now
// would take the client or the server over Limits.BoundBytesPerClient or BoundBytes;
// then the rows bound before stay bound.
func (r *handleRegistry) bind(id string, rec arrow.RecordBatch, schema *arrow.Schema) (bool, error) {
	var size int64
	if rec != nil {
		size = util.TotalRecordSize(rec)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.prepared[id]
	if !ok {
		return false, nil
	}
	h := r.clients[p.client] // not nil: p is registered
	if max := r.limits.BoundBytesPerClient; max >= 0 && h.bytes-p.boundBytes+size > max {
		return true, fmt.Errorf("%w: binding %s of parameters would make %s hold %s in bound parameters, over the limit per client (%s=%d); bind fewer rows or close prepared statements",
			errLimit, byteSize(size), p.client, byteSize(h.bytes-p.boundBytes+size), FlagMaxBoundBytesPerClient, max)
	}
	if max := r.limits.BoundBytes; max >= 0 && r.bytes-p.boundBytes+size > max {
		return true, fmt.Errorf("%w: binding %s of parameters would make the server hold %s in bound parameters, over its limit (%s=%d); retry later",
			errLimit, byteSize(size), byteSize(r.bytes-p.boundBytes+size), FlagMaxBoundBytes, max)
	}
	r.unbindLocked(p)
	p.bound = rec
	p.boundSchema = schema
	p.boundBytes = size
	h.bytes += size
	r.bytes += size
	p.lastUsed = time.Now()
	return true, nil
}

// closePrepared frees owner's prepared statement; false when owner has no such handle.
func (r *handleRegistry) closePrepared(id, owner string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.prepared[id]
	ok = ok && p.owner == owner
	if ok {
		r.dropLocked(id, p)
	}
	return ok
}

// addQuery registers a planned statement query and returns its id.
func (r *handleRegistry) addQuery() string {
	id := newHandleID()
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.makeRoomForQueryLocked()
	r.queries[id] = &queryHandle{running: make(map[*context.CancelFunc]struct{}), lastUsed: now}
	return id
}

// startQuery derives the context a query with this id runs under, so that
// cancelQuery can stop it. It fails with context.Canceled when the query was cancelled
// before it started. An id the registry does not know (expired, or issued by another
// server) runs without cancellation support. The returned done must be called when
// the query ends.
func (r *handleRegistry) startQuery(ctx context.Context, id string) (context.Context, func(), error) {
	qctx, cancel := context.WithCancel(ctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	q, ok := r.queries[id]
	if !ok {
		return qctx, cancel, nil
	}
	if q.cancelled {
		cancel()
		return nil, nil, context.Canceled
	}
	q.running[&cancel] = struct{}{}
	q.lastUsed = time.Now()
	return qctx, func() {
		cancel()
		r.mu.Lock()
		delete(q.running, &cancel)
		q.lastUsed = time.Now()
		r.mu.Unlock()
	}, nil
}

// cancelQuery cancels a planned query: running fetches stop and later ones fail.
// It reports false when the id is unknown.
func (r *handleRegistry) cancelQuery(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	q, ok := r.queries[id]
	if !ok {
		return false
	}
	q.cancelled = true
	q.lastUsed = time.Now()
	for c := range q.running {
		(*c)()
	}
	return true
}

// close stops the janitor and frees every prepared statement. Call it once.
func (r *handleRegistry) close() {
	close(r.stop)
	r.janitor.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, p := range r.prepared {
		r.dropLocked(id, p)
	}
	r.queries = make(map[string]*queryHandle)
}
