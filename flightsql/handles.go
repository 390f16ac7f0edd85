package flightsql

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
)

// handleRegistry holds the server side of Flight SQL handles: prepared statements
// (their SQL, schemas and bound parameters) and the cancel functions of statement
// queries that a client may cancel with CancelFlightInfo. Entries unused for the idle
// timeout are freed by a sweep that runs on every registration and, so that an idle
// server frees them too, by a janitor goroutine that close stops.
type handleRegistry struct {
	idle time.Duration

	stop    chan struct{}
	janitor sync.WaitGroup

	mu       sync.Mutex
	prepared map[string]*preparedStatement
	queries  map[string]*queryHandle
}

// preparedStatement is a statement a client prepared; params are the rows it bound.
type preparedStatement struct {
	// owner is the principal that prepared it ("" without authentication): only it
	// may use or close the handle, so a leaked handle is no wider than its grant.
	owner  string
	sql    string
	schema *arrow.Schema
	params *arrow.Schema
	bound  arrow.RecordBatch // nil until DoPut binds parameters; owned by the entry
	// boundSchema is the result schema with bound's first row bound (nil until
	// then): where a column's type comes from a parameter it differs from schema,
	// and it is what GetFlightInfo reports and every DoGet stream carries.
	boundSchema *arrow.Schema
	lastUsed    time.Time
}

// queryHandle tracks one planned statement query between GetFlightInfo and the end
// of its DoGet.
type queryHandle struct {
	cancelled bool
	running   map[*context.CancelFunc]struct{}
	lastUsed  time.Time
}

func newHandleRegistry(idle time.Duration) *handleRegistry {
	r := &handleRegistry{
		idle:     idle,
		stop:     make(chan struct{}),
		prepared: make(map[string]*preparedStatement),
		queries:  make(map[string]*queryHandle),
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
	for id, p := range r.prepared {
		if now.Sub(p.lastUsed) > r.idle {
			p.free()
			delete(r.prepared, id)
		}
	}
	for id, q := range r.queries {
		if len(q.running) == 0 && now.Sub(q.lastUsed) > r.idle {
			delete(r.queries, id)
		}
	}
}

func (p *preparedStatement) free() {
	if p.bound != nil {
		p.bound.Release()
		p.bound = nil
	}
	p.boundSchema = nil
}

// resultSchema is the schema the statement's results have now: with its parameters
// bound when they are.
func (p *preparedStatement) resultSchema() *arrow.Schema {
	if p.boundSchema != nil {
		return p.boundSchema
	}
	return p.schema
}

// addPrepared registers a prepared statement and returns its handle.
func (r *handleRegistry) addPrepared(p *preparedStatement) string {
	id := newHandleID()
	now := time.Now()
	p.lastUsed = now
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sweepLocked(now)
	r.prepared[id] = p
	return id
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

// bind replaces the statement's bound parameter rows with rec (the entry takes the
// reference). It reports false when the handle is unknown.
func (r *handleRegistry) bind(id string, rec arrow.RecordBatch, schema *arrow.Schema) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.prepared[id]
	if !ok {
		return false
	}
	p.free()
	p.bound = rec
	p.boundSchema = schema
	p.lastUsed = time.Now()
	return true
}

// closePrepared frees owner's prepared statement; false when owner has no such handle.
func (r *handleRegistry) closePrepared(id, owner string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.prepared[id]
	ok = ok && p.owner == owner
	if ok {
		p.free()
		delete(r.prepared, id)
	}
	return ok
}

// addQuery registers a planned statement query and returns its id.
func (r *handleRegistry) addQuery() string {
	id := newHandleID()
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sweepLocked(now)
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
		p.free()
		delete(r.prepared, id)
	}
	r.queries = make(map[string]*queryHandle)
}
