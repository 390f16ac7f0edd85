//go:build duckdb_arrow

package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	bindings "github.com/duckdb/duckdb-go-bindings"

	"github.com/quiverdata/quiver/catalog"
	"github.com/quiverdata/quiver/catalog/lowprio"
	"github.com/quiverdata/quiver/flightsql/memtier"
)

// DefaultBatchRows is the number of rows Rows gathers into one record batch when
// Config.BatchRows is zero. DuckDB produces 2048-row chunks; batches of about 64Ki
// rows keep per-message overhead low on Flight without holding much memory.
const DefaultBatchRows = 64 * 1024

// Config configures an Engine.
type Config struct {
	Root         string        // absolute dataset root: the only directory DuckDB may read
	Threads      int           // 0 = DuckDB default
	MemoryLimit  string        // e.g. "4GB"; "" = DuckDB default
	QueryTimeout time.Duration // 0 = none; one deadline per Request (or per Query and Describe outside one)
	TempDir      string        // DuckDB spill dir, used as is; "" = a dir the engine makes under TempParent and removes on Close
	TempParent   string        // where the engine makes its spill dir when TempDir is ""; "" = os.TempDir() (tempdir.go)
	MaxTempSize  string        // DuckDB's max_temp_directory_size, e.g. "10GiB"; "" = DefaultMaxTempSize or a quarter of the free space
	Logger       *slog.Logger
	Allocator    memory.Allocator // nil = memory.DefaultAllocator

	// BatchRows is the number of rows per record batch that Rows aims for
	// (the last batch may be shorter); 0 = DefaultBatchRows.
	BatchRows int
	// BatchBytes bounds the Arrow bytes of a record batch of Rows (a single row larger
	// than it makes a batch of its own); 0 = catalog.DefaultBatchBytes, the bound
	// plain DoGet batches have too.
	BatchBytes int64

	// Catalog, when set, is the store whose datasets the engine shows as views: the
	// engine keeps its own snapshot of it (catalog.go) and brings the views in step
	// before each Query, Describe and ReadTables. nil: the caller calls SyncTables.
	Catalog Catalog

	// MemoryTier, when enabled, is the byte budget under which the engine may keep
	// hot datasets in memory (package memtier; quiver serve --memory-tier). nil or a
	// zero budget: every query reads Parquet.
	MemoryTier *memtier.Tier
}

// Engine is one embedded DuckDB database with a view per dataset.
// All methods are safe for concurrent use.
type Engine struct {
	root       string // cleaned Root
	cfg        Config
	log        *slog.Logger
	alloc      memory.Allocator
	batchRows  int
	batchBytes int64
	tempDir    string
	dbSeq      atomic.Uint64 // numbers the databases' spill directories inside tempDir
	ownTemp    *tempDir      // the dir Open made (and locked) for tempDir, removed by Close; nil if given
	maxTemp    string        // max_temp_directory_size

	// catalog is the engine's view of Config.Catalog; nil without one (catalog.go).
	catalog *catalogView
	// hot keeps datasets that queries read in memory (memtier.go); nil when
	// Config.MemoryTier admits nothing.
	hot *hotTables
	// viewsMu serialises bringing the views in step with the catalog's snapshot.
	viewsMu sync.Mutex
	// localFiles, when set, lends local copies of parts on object storage
	// (localfiles.go); guarded by viewsMu.
	localFiles LocalFiles
	// columns and keywords remember what metadata requests learned (columns.go).
	columns  columnCache
	keywords keywordList
	// warmer learns new datasets' columns in the background (columns_warm.go); nil
	// without a catalog.
	warmer *columnsWarmer

	// syncMu serialises SyncTables and the end of a recovery, and guards admin and views.
	// Lock order: syncMu, then dbMu, then mu.
	syncMu sync.Mutex
	admin  bindings.Connection // runs the view DDL; never sees user SQL
	views  map[string]viewState
	// viewsGen counts changes to the views, as a sequence lock: odd while SyncTables
	// is changing them. Gate verdicts hold for one even value (gatecache.go).
	viewsGen atomic.Uint64
	gates    *gateCache
	// gateRuns counts statements that went through the whole gate (parse, plan,
	// checks), not through a remembered verdict: for tests and benchmarks.
	gateRuns atomic.Uint64
	// bare remembers which statement texts have a bare scan's shape (barescan.go).
	bare bareShapes

	// refusedMu guards refused: the tables SyncTables made no view of because DuckDB
	// could not read them safely, by lower-cased name (nesting.go). Written with
	// syncMu held too; read by failing queries, which must not wait for a sync.
	refusedMu sync.Mutex
	refused   map[string]refusal

	// dbMu guards db, gen, broken and rebuildDone: sessions connect under the read
	// lock, recovery swaps the database under the write lock (recover.go).
	dbMu        sync.RWMutex
	db          bindings.Database
	gen         uint64        // counts databases opened; a session remembers the one it connected to
	broken      error         // why database gen must be replaced; nil while it is healthy
	rebuildDone chan struct{} // closed when the running rebuild ends; nil when none runs
	rebuildWG   sync.WaitGroup

	// invalidateOnInternal keeps DuckDB's own reaction to an INTERNAL error, which
	// invalidates the database, so that tests can exercise recovery from it.
	invalidateOnInternal bool
	// noFlat sends every result through DuckDB's Arrow conversion (no fetchFlat), so
	// that tests can compare the two.
	noFlat bool

	// systemOnce looks up system, the names of DuckDB's internal views (ReadTables).
	systemOnce sync.Once
	system     map[string]bool
	systemErr  error

	// mu guards closed and sessions.
	mu       sync.Mutex
	closed   bool
	sessions map[*session]struct{}
}

// Open starts an in-memory DuckDB database locked down to cfg.Root: it may read files
// only under Root, cannot load or install extensions, and no statement can change its
// configuration afterwards.
func Open(ctx context.Context, cfg Config) (*Engine, error) {
	return open(ctx, cfg, nil)
}

// open is Open with a hook for tests, which may adjust the engine before its database opens.
func open(ctx context.Context, cfg Config, adjust func(*Engine)) (*Engine, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if cfg.Root == "" || !filepath.IsAbs(cfg.Root) {
		return nil, fmt.Errorf("engine: root %q must be an absolute path", cfg.Root)
	}
	root := filepath.Clean(cfg.Root)
	if fi, err := os.Stat(root); err != nil {
		return nil, fmt.Errorf("engine: root: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("engine: root %q is not a directory", root)
	}
	if hasGlob(root) {
		return nil, fmt.Errorf("engine: root %q contains a glob character (*?[]{})", root)
	}
	if cfg.Threads < 0 {
		return nil, fmt.Errorf("engine: threads %d must not be negative", cfg.Threads)
	}
	e := &Engine{
		root:      root,
		cfg:       cfg,
		log:       cfg.Logger,
		alloc:     cfg.Allocator,
		batchRows: cfg.BatchRows,
		tempDir:   cfg.TempDir,
		views:     make(map[string]viewState),
		gates:     newGateCache(),
		sessions:  make(map[*session]struct{}),
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.alloc == nil {
		e.alloc = memory.DefaultAllocator
	}
	if e.batchRows <= 0 {
		e.batchRows = DefaultBatchRows
	}
	if e.batchBytes = cfg.BatchBytes; e.batchBytes <= 0 {
		e.batchBytes = catalog.DefaultBatchBytes
	}
	if e.tempDir == "" {
		own, err := makeTempDir(cfg.TempParent, e.log)
		if err != nil {
			return nil, err
		}
		e.tempDir, e.ownTemp = own.path, own
	}
	e.maxTemp = maxTempSize(cfg.MaxTempSize, e.tempDir)
	if adjust != nil {
		adjust(e)
	}
	db, admin, err := e.openDB()
	if err != nil {
		e.removeTemp()
		return nil, err
	}
	e.db, e.admin = db, admin
	if err := loadRevealingMacros(admin); err != nil {
		e.Close()
		return nil, err
	}
	if cfg.Catalog != nil {
		e.catalog = newCatalogView(cfg.Catalog)
		e.startColumnsWarmer()
	}
	e.hot = newHotTables(e, cfg.MemoryTier)
	e.log.Info("engine open", "root", root, "duckdb", bindings.LibraryVersion(),
		"threads", cfg.Threads, "memory_limit", cfg.MemoryLimit, "temp_dir", e.tempDir, "max_temp_size", e.maxTemp,
		"query_timeout", cfg.QueryTimeout)
	return e, nil
}

// openDB opens the database and applies the lock-down. The order is DuckDB's:
// allowed_directories can only be set while external access is still on, and
// lock_configuration must come last because it freezes every setting, including
// enable_external_access itself.
func (e *Engine) openDB() (db bindings.Database, admin bindings.Connection, err error) {
	var conf bindings.Config
	if bindings.CreateConfig(&conf) == bindings.StateError {
		return db, admin, errors.New("engine: cannot create DuckDB config")
	}
	defer bindings.DestroyConfig(&conf)
	settings := [][2]string{
		{"autoinstall_known_extensions", "false"},
		{"autoload_known_extensions", "false"},
		{"allow_community_extensions", "false"},
		{"allow_unsigned_extensions", "false"},
		{"allow_persistent_secrets", "false"},
		// A directory per database: one that closes deletes every duckdb_temp_* file
		// in its temp directory, and during a recovery (recover.go) two databases
		// spill at once. DuckDB makes the directory when it first spills and
		// removes it when it closes.
		{"temp_directory", filepath.Join(e.tempDir, "db-"+strconv.FormatUint(e.dbSeq.Add(1), 10))},
		{"max_temp_directory_size", e.maxTemp},
		// DuckDB's jemalloc kept what a large result had freed: after one
		// SELECT repeat('x', 10000000) FROM range(100) the server stayed at 1.1 GB RSS,
		// and the next such query peaked at 2.2 GB instead of 1.2 GB. Background
		// purging and a lower flush threshold (default 128 MB) return it: 1.2 GB peak
		// for every run, 0.25 GB RSS two seconds after; a 10M-row SELECT took as long
		// (2.2-2.5 s either way).
		{"allocator_background_threads", "true"},
		{"allocator_flush_threshold", "32MB"},
	}
	// DuckDB invalidates the whole database on an INTERNAL error (a bug of its own):
	// every query of every client would fail until it is reopened. The database holds
	// nothing but views over read-only files, so the engine lets the failing query
	// fail alone, and replaces the database in the background all the same
	// (recover.go); queries running meanwhile finish.
	if !e.invalidateOnInternal {
		settings = append(settings, [2]string{"disable_database_invalidation", "true"})
	}
	if e.cfg.Threads > 0 {
		settings = append(settings, [2]string{"threads", strconv.Itoa(e.cfg.Threads)})
	}
	if limit := memoryLimit(e.cfg.MemoryLimit, e.cfg.MemoryTier, e.log); limit != "" {
		settings = append(settings, [2]string{"memory_limit", limit})
	}
	for _, s := range settings {
		if bindings.SetConfig(conf, s[0], s[1]) == bindings.StateError {
			return db, admin, fmt.Errorf("engine: DuckDB setting %s=%q refused", s[0], s[1])
		}
	}
	var msg string
	var state bindings.State
	// DuckDB's worker threads, started here, inherit the opening thread's priority:
	// they run queries, bulk work (lowprio).
	lowprio.Run(func() { state = bindings.OpenExt("", &db, conf, &msg) })
	if state == bindings.StateError {
		return db, admin, fmt.Errorf("engine: open DuckDB: %s", msg)
	}
	if bindings.Connect(db, &admin) == bindings.StateError {
		bindings.Close(&db)
		return db, admin, errors.New("engine: connect to DuckDB")
	}
	lockdown := []string{
		// The trailing separator keeps a sibling such as <root>2 out.
		"SET allowed_directories = [" + quoteLiteral(e.root+string(filepath.Separator)) + "]",
		// Also in the config above, where DuckDB 1.5.6 stores it without applying
		// it: a spill past it succeeded until it was SET.
		"SET max_temp_directory_size = " + quoteLiteral(e.maxTemp),
		"SET enable_external_access = false",
		"SET lock_configuration = true",
	}
	for _, q := range lockdown {
		if err := exec(admin, q); err != nil {
			bindings.Disconnect(&admin)
			bindings.Close(&db)
			return db, admin, fmt.Errorf("engine: lock down DuckDB: %s: %w", q, err)
		}
	}
	return db, admin, nil
}

// exec runs one trusted statement on conn and discards its result.
func exec(conn bindings.Connection, q string) error {
	var res bindings.Result
	defer bindings.DestroyResult(&res)
	if bindings.Query(conn, q, &res) == bindings.StateError {
		return duckError(bindings.ResultErrorType(&res), bindings.ResultError(&res))
	}
	return nil
}

// Close interrupts running queries, waits for them to leave DuckDB, frees their
// resources (their Rows then report ErrClosed) and closes the database. It is
// Shutdown without a deadline: it waits as long as DuckDB takes to honour the
// interrupts, which it does not always do (catalog.MaxNestingDepth).
func (e *Engine) Close() error { return e.Shutdown(context.Background()) }

// Shutdown is Close bounded by ctx. When ctx ends before every query has left DuckDB,
// Shutdown returns an ErrStuck naming the queries still inside, and leaves them, the
// database and the temp dir to the process's exit: DuckDB cannot be closed under a
// running query, and only the end of the process ends a query that ignores
// interrupts. The closing goroutine then has no owner but the process. Calls after
// the first return nil at once.
func (e *Engine) Shutdown(ctx context.Context) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	if e.catalog != nil {
		e.catalog.cancel()
	}
	warmer := e.warmer
	live := make([]*session, 0, len(e.sessions))
	for s := range e.sessions {
		live = append(live, s)
	}
	e.mu.Unlock()

	// All at once first: shutdown waits for each session in turn, and one that
	// ignores its interrupt must not keep the others running.
	for _, s := range live {
		s.interrupt()
	}
	warmer.stop() // waited for below, with the sessions
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		for _, s := range live {
			s.shutdown(ErrClosed)
		}
		warmer.wait()
		e.hot.close()
		e.syncMu.Lock()
		bindings.Disconnect(&e.admin)
		e.dbMu.Lock()
		bindings.Close(&e.db)
		e.dbMu.Unlock()
		e.syncMu.Unlock()
		e.rebuildWG.Wait() // a rebuild sees closed and discards its database
		e.removeTemp()
		e.log.Info("engine closed", "root", e.root)
	}()
	select {
	case <-closed:
		return nil
	case <-ctx.Done():
	}
	stuck := e.stuckQueries()
	for _, q := range stuck {
		e.log.Error("engine: query still running in DuckDB at shutdown, despite interrupts",
			"sql", clip(q.sql, 1000), "running", time.Since(q.started).Round(time.Millisecond))
	}
	return fmt.Errorf("%w: %d queries still running in DuckDB after interrupts: %w", ErrStuck, len(stuck), ctx.Err())
}

// clip cuts s to at most n bytes, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// stuckQuery is a session that has not left DuckDB.
type stuckQuery struct {
	sql     string
	started time.Time
}

// stuckQueries lists the sessions still registered, oldest first.
func (e *Engine) stuckQueries() []stuckQuery {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]stuckQuery, 0, len(e.sessions))
	for s := range e.sessions {
		out = append(out, stuckQuery{sql: s.sql, started: s.started})
	}
	slices.SortFunc(out, func(a, b stuckQuery) int { return a.started.Compare(b.started) })
	return out
}

func (e *Engine) removeTemp() {
	if e.ownTemp != nil {
		if err := e.ownTemp.remove(); err != nil {
			e.log.Warn("engine: remove temp dir", "dir", e.tempDir, "err", err)
		}
	}
}

// newSession connects a fresh DuckDB connection for one Describe or Query and
// registers it so that Close can interrupt it. The session is returned locked.
// Connecting costs a few microseconds in DuckDB, so there is no pool: a fresh
// connection per query also means no state (an interrupt flag, a random seed)
// leaks from one client's query into the next.
func (e *Engine) newSession() (*session, error) { return e.newSessionFor("") }

// newSessionFor is newSession for a session that runs sql, which Shutdown names if
// the session outlives it.
func (e *Engine) newSessionFor(sql string) (*session, error) {
	s := &session{done: make(chan struct{}), sql: sql, started: time.Now()}
	s.mu.Lock()
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		s.mu.Unlock()
		return nil, ErrClosed
	}
	e.sessions[s] = struct{}{}
	s.eng = e
	e.mu.Unlock()

	if err := e.recover(); err != nil {
		s.destroyLocked(err)
		s.mu.Unlock()
		return nil, err
	}
	var conn bindings.Connection
	e.dbMu.RLock()
	ok := bindings.Connect(e.db, &conn) != bindings.StateError
	s.gen = e.gen
	e.dbMu.RUnlock()
	if !ok {
		s.destroyLocked(errors.New("engine: connect to DuckDB"))
		s.mu.Unlock()
		return nil, errors.New("engine: connect to DuckDB")
	}
	s.connMu.Lock()
	s.conn = conn
	s.connMu.Unlock()
	return s, nil
}

// session is one DuckDB connection serving one Describe or one Query, with the
// result it is streaming.
//
// Invariants: mu is held around every DuckDB call on conn or res, so destroying them
// waits for a call in flight; connMu guards only the conn handle, so that interrupt
// can reach a connection that is busy inside a call holding mu. Nothing is freed
// while watch's goroutine can still interrupt.
type session struct {
	eng     *Engine
	gen     uint64    // the database conn belongs to
	sql     string    // what it runs, for Shutdown's report; "" if internal
	started time.Time // when it was created

	mu       sync.Mutex
	stmt     bindings.PreparedStatement
	res      bindings.Result
	hasRes   bool
	opts     bindings.ArrowOptions
	err      error // set when the session was ended from outside (Close, Release)
	finished bool  // DuckDB resources are freed
	// schemaOnly: the statement runs only for its result's schema (runQuery), so it
	// may read LocalFiles' stand-ins.
	schemaOnly bool
	scans      scanned // what the prepared statement's plan scans, when the memory tier is on

	connMu sync.Mutex
	conn   bindings.Connection

	done     chan struct{} // closed when the session ends; stops watch
	wg       sync.WaitGroup
	cancel   context.CancelFunc
	doneOnce sync.Once
}

// interrupt asks DuckDB to stop whatever conn is running. Safe from any goroutine.
func (s *session) interrupt() {
	s.connMu.Lock()
	if s.conn.Ptr != nil {
		bindings.Interrupt(s.conn)
	}
	s.connMu.Unlock()
}

// watch interrupts the connection once ctx is done, and again every 50ms until the
// session ends: DuckDB clears a pending interrupt when a query begins, so a single
// interrupt that lands between two calls could be lost.
func (s *session) watch(ctx context.Context) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		select {
		case <-s.done:
			return
		case <-ctx.Done():
		}
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			s.interrupt()
			select {
			case <-s.done:
				return
			case <-t.C:
			}
		}
	}()
}

// destroyLocked frees the result, the connection and the watcher, and unregisters
// the session. s.mu must be held. Idempotent.
func (s *session) destroyLocked(reason error) {
	if s.finished {
		return
	}
	s.finished = true
	if s.err == nil {
		s.err = reason
	}
	s.doneOnce.Do(func() { close(s.done) })
	s.wg.Wait()
	if s.cancel != nil {
		s.cancel()
	}
	if s.hasRes {
		bindings.DestroyResult(&s.res)
		bindings.DestroyArrowOptions(&s.opts)
		s.hasRes = false
	}
	// The result may refer to its statement's plan; the statement goes after it.
	bindings.DestroyPrepare(&s.stmt)
	s.connMu.Lock()
	bindings.Disconnect(&s.conn)
	s.connMu.Unlock()
	if e := s.eng; e != nil {
		e.mu.Lock()
		delete(e.sessions, s)
		e.mu.Unlock()
	}
}

// shutdown ends the session from outside: it interrupts until the goroutine inside
// DuckDB lets go of mu, then frees everything. reason becomes the session's error.
func (s *session) shutdown(reason error) {
	for !s.mu.TryLock() {
		s.interrupt()
		time.Sleep(5 * time.Millisecond)
	}
	defer s.mu.Unlock()
	s.destroyLocked(reason)
}
