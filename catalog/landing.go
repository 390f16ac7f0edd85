package catalog

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/quiverdata/quiver/catalog/lowprio"
)

// Landing: a put on a local root acknowledges once the upload is durable in a cheap
// form, and is turned into Parquet in the background.
//
// Encoding Parquet (dictionaries, statistics, Snappy) costs about 1.3 CPU-seconds per
// 10M rows x 4 columns, more than receiving and validating the upload. A landed put
// writes the client's Arrow IPC stream, already validated batch by batch by the
// intake, to a landing file in the root (on a goroutine of its own, landing_write.go,
// while the next batches arrive), fsyncs it and renames it into place (the local
// backend's Create/Commit), and returns. One converter goroutine, owned by the
// store, encodes each landing to a Parquet part and commits it through the normal
// atomic commit (commit in commitfile.go), then deletes the landing.
//
// Invariants:
//   - Everything a put decides is decided before it returns: the name, AlreadyExists,
//     schema match for appends (against the dataset as its pending landings will leave
//     it), the SQL table name. Puts and drops of one dataset take its lane (one at a
//     time), so no other put or drop of that dataset changes what was checked between
//     the check and the commit of the conversion.
//   - Readers never see a landed put half done, and see their writes: Stat, List,
//     Open, OpenParts, OpenVersionParts and Drop of a dataset with pending landings
//     wait (bounded by their context) until its landings are committed. The engine
//     hears of a landed put at once (notify) and Stats the dataset, so SQL waits too.
//   - Landings of one dataset are committed in the order they were acknowledged (one
//     converter, a queue in landing order).
//   - A landing file exists under its name only when complete and synced (the local
//     backend writes it under a temporary name first). On Open, before serving, the
//     store converts the landings a crash left, in order; one whose conversion was
//     committed before the crash (its id is in the newest part's metadata) is deleted.
//   - Bounded: when the bytes of pending landings reach Options.LandingBudget, a put
//     encodes Parquet on the request path as before.
//
// Object storage keeps the direct path: there is no local disk to land on that every
// node sees.

// landingPrefix starts the key of every landing file in the root. It starts with '.',
// so it is never a dataset name, and it is not internal (isInternal): the sweep keeps it.
const landingPrefix = ".quiver-landing-"

// landingIDKey is the Parquet key-value metadata that names the landing a part was
// converted from, so that recovery can tell a committed conversion from a pending one.
const landingIDKey = "quiver.landing"

// DefaultLandingBudget is the default Options.LandingBudget: 1 GiB of Arrow IPC
// waiting for conversion. The converter turns about 340 MB of such data into Parquet
// per CPU-second here (10M rows x 4 columns, 440 MB, in ~1.3 CPU-s), so a reader that
// waits for the dataset it just wrote waits at most about 3 s behind a full budget,
// and the disk holds at most 1 GiB more than the datasets do.
const DefaultLandingBudget = 1 << 30

// landing is one acknowledged put waiting for conversion.
type landing struct {
	key    string // its file in the root
	id     string // unique for ever: time-ordered sequence and a random suffix
	name   string
	mode   PutMode
	bytes  int64
	schema *arrow.Schema
	ticket uint64 // its place in the queue's order (landings.tickets)
}

// landingKey is the file name of a landing: the id first, so that names sort in
// landing order, then the mode and the dataset name.
func landingKey(id string, mode PutMode, name string) string {
	return landingPrefix + id + "-" + strconv.Itoa(int(mode)) + "-" + name
}

// parseLandingKey reads a key made by landingKey.
func parseLandingKey(key string) (id string, mode PutMode, name string, ok bool) {
	rest, ok := strings.CutPrefix(key, landingPrefix)
	if !ok {
		return "", 0, "", false
	}
	// id is "<16 hex>-<16 hex>", then "-<mode>-<name>".
	if len(rest) < 33+3 || rest[16] != '-' || rest[33] != '-' || rest[35] != '-' {
		return "", 0, "", false
	}
	id, name = rest[:33], rest[36:]
	m, err := strconv.Atoi(rest[34:35])
	if err != nil || PutMode(m) < Create || PutMode(m) > CreateOrAppend || ValidateName(name) != nil {
		return "", 0, "", false
	}
	return id, PutMode(m), name, true
}

// landings is the state of a store's landed puts. Its zero value has none.
type landings struct {
	mu      sync.Mutex
	queue   []*landing               // in landing order, the first being converted
	pending map[string]int           // dataset -> landings queued
	schema  map[string]*arrow.Schema // dataset -> schema of its last queued landing
	failed  map[string]error         // dataset -> why its conversion failed (kept until restart)
	bytes   int64                    // bytes of the landings queued or failed
	changed chan struct{}            // closed and replaced when a landing leaves the queue
	running bool                     // the converter goroutine runs
	// draining (Close began) stops new landings; closed (Close ended) fails waiters.
	draining bool
	closed   bool
	ctx      context.Context    // the converter's; canceled by Close
	cancel   context.CancelFunc // stops the converter's work (Close)
	wg       sync.WaitGroup     // the converter goroutine
	lastSeq  int64
	tickets  uint64 // landings ever queued

	lanesMu sync.Mutex
	lanes   map[string]*lane
}

// lane serialises the puts and drops of one dataset (and of those with its SQL table
// name) on a local root.
type lane struct {
	sem   chan struct{} // holds a token while taken
	users int           // goroutines holding or waiting: the lane is deleted at 0
}

// lockLane takes the lane of dataset name, waiting at most until ctx ends. Datasets
// with the same SQL table name ("t", "T.parquet") share a lane, so that a check of
// the table name and the put it allows are not split by a put of the other.
func (s *Store) lockLane(ctx context.Context, dataset string) (unlock func(), err error) {
	name := FoldIdent(TableName(dataset))
	l := &s.land
	l.lanesMu.Lock()
	if l.lanes == nil {
		l.lanes = make(map[string]*lane)
	}
	ln := l.lanes[name]
	if ln == nil {
		ln = &lane{sem: make(chan struct{}, 1)}
		l.lanes[name] = ln
	}
	ln.users++
	l.lanesMu.Unlock()
	leave := func() {
		l.lanesMu.Lock()
		ln.users--
		if ln.users == 0 {
			delete(l.lanes, name)
		}
		l.lanesMu.Unlock()
	}
	select {
	case ln.sem <- struct{}{}:
		return func() { <-ln.sem; leave() }, nil
	case <-ctx.Done():
		leave()
		return nil, fmt.Errorf("waiting for another put or drop of the dataset: %w", ctx.Err())
	}
}

// landingEnabled reports whether puts on this store may land.
func (s *Store) landingEnabled() bool {
	return s.files != nil && s.opts.LandingBudget > 0
}

// nextLandingID returns a new landing id: a time-ordered sequence (hex nanoseconds,
// strictly increasing within the process) and a random suffix.
func (s *Store) nextLandingID() string {
	l := &s.land
	l.mu.Lock()
	seq := time.Now().UnixNano()
	if seq <= l.lastSeq {
		seq = l.lastSeq + 1
	}
	l.lastSeq = seq
	l.mu.Unlock()
	return fmt.Sprintf("%016x-%s", seq, randomSuffix())
}

// putLanded is Put on a local root: the put lands when the budget allows, and is
// encoded on the request path otherwise. It holds the dataset's lane throughout.
func (s *Store) putLanded(ctx context.Context, name string, mode PutMode, rdr array.RecordReader) (int64, error) {
	unlock, err := s.lockLane(ctx, name)
	if err != nil {
		return 0, err
	}
	defer unlock()
	l := &s.land
	l.mu.Lock()
	failed := l.failed[name]
	pending := l.pending[name]
	schema := l.schema[name]
	land := !l.draining && l.bytes < s.opts.LandingBudget
	l.mu.Unlock()
	if failed != nil {
		return 0, failed
	}
	if !land {
		// Over budget: encode here, after the landings before us (order).
		if err := s.waitLanded(ctx, name); err != nil {
			return 0, err
		}
		if err := s.checkPut(ctx, name, mode, rdr.Schema()); err != nil {
			return 0, err
		}
		return s.putFile(ctx, name, mode, rdr)
	}
	if pending > 0 {
		err = checkPending(mode, schema, rdr.Schema())
	} else {
		err = s.checkPut(ctx, name, mode, rdr.Schema())
	}
	if err == nil {
		err = s.checkWritable(rdr.Schema())
	}
	if err != nil {
		return 0, err
	}
	ld, rows, err := s.writeLanding(ctx, name, mode, rdr)
	if err != nil {
		return 0, err
	}
	reached("land: landing written")
	s.enqueue(ld)
	// The engine looks at the dataset again at its next request; its Stat waits for
	// the conversion, so SQL reads this write.
	s.notify(name)
	return rows, nil
}

// checkPending is checkPut for a dataset that its pending landings leave existing,
// not partitioned, with the columns of schema.
func checkPending(mode PutMode, schema, got *arrow.Schema) error {
	switch mode {
	case Create:
		return ErrAlreadyExists
	case Append, CreateOrAppend:
		return sameColumns(schema, got)
	}
	return nil
}

// writeLanding writes rdr as an Arrow IPC stream to a new landing file and makes it
// durable. Nothing is visible under the landing's key unless it is complete.
func (s *Store) writeLanding(ctx context.Context, name string, mode PutMode, rdr array.RecordReader) (ld *landing, rows int64, err error) {
	id := s.nextLandingID()
	key := landingKey(id, mode, name)
	out, err := s.bucket.Create(ctx, key)
	if err != nil {
		return nil, 0, err
	}
	defer func() {
		if err != nil {
			out.Abort()
		}
	}()
	schema := rdr.Schema()
	lw := s.startLandingWriter(out, schema)
	defer lw.stop() // after finish, it only waits; on an error, it discards the rest
	for rdr.Next() {
		if err := ctx.Err(); err != nil {
			return nil, rows, err
		}
		rec := rdr.RecordBatch()
		if !rec.Schema().Equal(schema) {
			return nil, rows, fmt.Errorf("%w: batch %s differs from the stream's schema %s", ErrInvalidData, schemaString(rec.Schema()), schemaString(schema))
		}
		if err := lw.write(ctx, rec); err != nil {
			return nil, rows, err
		}
		rows += rec.NumRows()
	}
	if err := uploadEnd(ctx, rdr); err != nil {
		return nil, rows, err
	}
	if err := lw.finish(); err != nil {
		return nil, rows, err
	}
	// Complete: a cancel now does not undo it.
	e, err := out.Commit(context.WithoutCancel(ctx))
	if err != nil {
		return nil, rows, fmt.Errorf("write landing: %w", err)
	}
	return &landing{key: key, id: id, name: name, mode: mode, bytes: e.Size, schema: schema}, rows, nil
}

// enqueue queues ld for conversion and starts the converter if it is idle.
func (s *Store) enqueue(ld *landing) {
	l := &s.land
	l.mu.Lock()
	defer l.mu.Unlock()
	l.tickets++
	ld.ticket = l.tickets
	l.queue = append(l.queue, ld)
	if l.pending == nil {
		l.pending = make(map[string]int)
		l.schema = make(map[string]*arrow.Schema)
	}
	l.pending[ld.name]++
	l.schema[ld.name] = ld.schema
	l.bytes += ld.bytes
	if !l.running && l.ctx.Err() == nil {
		l.running = true
		l.wg.Add(1)
		lowprio.Go(s.convertLoop) // background work: behind every request
	}
}

// changedLocked returns the channel closed at the next change of the queue.
func (l *landings) changedLocked() chan struct{} {
	if l.changed == nil {
		l.changed = make(chan struct{})
	}
	return l.changed
}

// signalLocked wakes every waiter.
func (l *landings) signalLocked() {
	if l.changed != nil {
		close(l.changed)
		l.changed = nil
	}
}

// hasLandings reports whether puts to the named dataset wait for conversion now.
func (s *Store) hasLandings(name string) bool {
	s.land.mu.Lock()
	defer s.land.mu.Unlock()
	return s.land.pending[name] > 0
}

// waitLanded waits until the landings of the named dataset acknowledged before the
// call are converted, or ctx ends; later ones are not waited for, so a stream of puts
// does not starve a reader. It returns the error of a conversion of the dataset that
// failed.
func (s *Store) waitLanded(ctx context.Context, name string) error {
	return s.waitUntil(ctx, name)
}

// waitAllLanded waits until every landing acknowledged before the call is converted,
// or ctx ends (List). Datasets whose conversion failed are not waited for.
func (s *Store) waitAllLanded(ctx context.Context) error {
	return s.waitUntil(ctx, "")
}

// waitUntil waits for the landings queued now of the named dataset (of all, with "").
func (s *Store) waitUntil(ctx context.Context, name string) error {
	l := &s.land
	l.mu.Lock()
	target := l.tickets
	l.mu.Unlock()
	done := func(l *landings) (bool, error) {
		if name != "" {
			if err := l.failed[name]; err != nil {
				return true, err
			}
			if l.pending[name] == 0 {
				return true, nil
			}
		}
		for _, ld := range l.queue { // in ticket order
			if ld.ticket > target {
				break
			}
			if name == "" || ld.name == name {
				return false, nil
			}
		}
		return true, nil
	}
	for {
		l.mu.Lock()
		ok, err := done(l)
		if !ok && l.closed {
			ok, err = true, ErrClosed
		}
		ch := l.changedLocked()
		l.mu.Unlock()
		if ok {
			return err
		}
		select {
		case <-ch:
		case <-ctx.Done():
			what := "the datasets' uploads"
			if name != "" {
				what = fmt.Sprintf("the uploads of dataset %q", name)
			}
			return fmt.Errorf("waiting for %s to be converted to Parquet: %w", what, ctx.Err())
		}
	}
}

// landingNames are the datasets with landings queued or failed.
func (s *Store) landingNames() []string {
	l := &s.land
	l.mu.Lock()
	defer l.mu.Unlock()
	names := make([]string, 0, len(l.pending)+len(l.failed))
	for n := range l.pending {
		names = append(names, n)
	}
	for n := range l.failed {
		names = append(names, n)
	}
	return names
}
