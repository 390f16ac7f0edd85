package flightsql

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/apache/arrow-go/v18/arrow/flight"
	fsql "github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"

	"github.com/quiverdata/quiver/catalog"
	"github.com/quiverdata/quiver/catalog/partcache"
	"github.com/quiverdata/quiver/catalog/storage"
	"github.com/quiverdata/quiver/flightsql/engine"
)

// SQLConfig wires an SQLServer.
type SQLConfig struct {
	Store  *catalog.Store // required
	Engine *engine.Engine // required, opened with engine.Config.Catalog = Store
	// PartCache holds local copies of parts for the engine; required when the store's
	// bucket is not a local directory (object storage), unused otherwise.
	PartCache *partcache.Cache
	// Allocator for Arrow memory; nil: memory.DefaultAllocator.
	Allocator memory.Allocator
	// Logger; nil: slog.Default().
	Logger *slog.Logger
	// HandleIdleTimeout frees prepared statements and query handles unused this long;
	// 0: 15 minutes.
	HandleIdleTimeout time.Duration
	// Version is the server version reported in SqlInfo.
	Version string
	// QueryTimeout is the engine's limit on every query (engine.Config.QueryTimeout),
	// reported as the default of the query_timeout session option, which may only
	// shorten it; 0: none.
	QueryTimeout time.Duration
	// SessionIdleTimeout ends sessions unused this long; 0: 1 hour.
	SessionIdleTimeout time.Duration
	// MaxBindBytes bounds the bytes of parameter rows one DoPut may bind to a
	// prepared statement; 0: DefaultMaxBindBytes.
	MaxBindBytes int64
	// Limits bound the streams, queries, prepared statements and bound parameters
	// clients hold (limits.go); zero fields take DefaultLimits.
	Limits Limits
	// Results bound the batches of query results (outgoing.go); zero: the defaults.
	Results ResultLimits
}

// SQLServer is Quiver's Flight SQL service: every dataset in the store is a table
// that the engine queries. It only reads: datasets change through plain Flight DoPut
// and Flight SQL bulk ingest, never through SQL.
//
// Its methods are split by concern: sql_query.go (statements, prepared statements,
// cancellation), sql_metadata.go (SqlInfo, catalogs, schemas, tables, types, keys),
// sql_ingest.go (bulk ingest) and sql_session.go (session options).
type SQLServer struct {
	fsql.BaseServer
	store   *catalog.Store
	engine  *engine.Engine
	mem     memory.Allocator
	log     *slog.Logger
	version string

	handles *handleRegistry // statement and prepared-statement handles (sql_query.go)
	// tableSchemas remembers the schemas GetTables sends (sql_metadata.go).
	tableSchemas tableSchemas

	sessions     *sessionStore // session options (sql_session.go, sessions.go)
	queryTimeout time.Duration // the engine's limit; 0: none
	maxBindBytes int64         // bytes of parameters one bind may hold
	admit        *admission    // stream and query limits (limits.go)
	out          *outgoing     // message size and result memory (outgoing.go)
	// parts lends the engine local files of parts on object storage (partfiles.go);
	// nil for a local store, whose parts are files already.
	parts *partFiles
	// bare switches and counts bare scans served from the dataset stream
	// (sql_barescan.go).
	bare bareScanState
}

// NewSQLServer returns an SQLServer for cfg. Close it to free its handles.
func NewSQLServer(cfg SQLConfig) (*SQLServer, error) {
	if cfg.Store == nil || cfg.Engine == nil {
		return nil, fmt.Errorf("flightsql: SQLConfig.Store and SQLConfig.Engine are required")
	}
	if !cfg.Engine.HasCatalog() {
		return nil, fmt.Errorf("flightsql: SQLConfig.Engine must be opened with engine.Config.Catalog set to the store")
	}
	if cfg.Allocator == nil {
		cfg.Allocator = memory.DefaultAllocator
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.HandleIdleTimeout <= 0 {
		cfg.HandleIdleTimeout = 15 * time.Minute
	}
	if cfg.SessionIdleTimeout <= 0 {
		cfg.SessionIdleTimeout = time.Hour
	}
	if cfg.MaxBindBytes <= 0 {
		cfg.MaxBindBytes = DefaultMaxBindBytes
	}
	limits := cfg.Limits.withDefaults()
	admit := newAdmission(limits)
	var parts *partFiles
	if _, local := cfg.Store.Bucket().(storage.LocalFiler); !local {
		if cfg.PartCache == nil {
			return nil, fmt.Errorf("flightsql: a store on %s needs SQLConfig.PartCache", cfg.Store.Root())
		}
		var err error
		if parts, err = newPartFiles(cfg.PartCache, cfg.Store.Bucket()); err != nil {
			return nil, fmt.Errorf("flightsql: %w", err)
		}
		cfg.Engine.SetLocalFiles(parts)
		hiddenPaths.hide(cfg.PartCache.Dir(), "<cache>")
	}
	hiddenPaths.hide(cfg.Store.Root(), "<root>")
	hiddenPaths.hide(cfg.Engine.TempDir(), "<temp>")
	s := &SQLServer{
		store:   cfg.Store,
		engine:  cfg.Engine,
		mem:     cfg.Allocator,
		log:     cfg.Logger,
		version: cfg.Version,
		handles: newHandleRegistry(cfg.HandleIdleTimeout, limits, admit.freed),

		sessions:     newSessionStore(cfg.SessionIdleTimeout),
		queryTimeout: cfg.QueryTimeout,
		maxBindBytes: cfg.MaxBindBytes,
		admit:        admit,
		out:          newOutgoing(cfg.Results),
		parts:        parts,
	}
	s.Alloc = cfg.Allocator
	return s, nil
}

// FlightServer returns the flight.FlightServer that routes Flight SQL requests to s,
// for Config.SQL.
func (s *SQLServer) FlightServer() flight.FlightServer {
	return fsql.NewFlightServerWithAllocator(s, s.mem)
}

// ServerOptions are the gRPC server options s needs beyond GRPCOptions: the
// interceptors that attach each call's session (sessions.go). They chain with other
// interceptors given to the same server.
func (s *SQLServer) ServerOptions() []grpc.ServerOption { return s.sessions.serverOptions() }

// Close frees the prepared statements and handles s holds.
func (s *SQLServer) Close() {
	s.handles.close()
	s.admit.close()
	if s.parts != nil {
		s.parts.close()
	}
}

// pin keeps the files of every dataset version visible now, on disk or in the part
// cache, until unpin is called: queries hold it while they may read them.
func (s *SQLServer) pin() (unpin func()) {
	unpinStore := s.store.Pin()
	if s.parts == nil {
		return unpinStore
	}
	unpinParts := s.parts.pin()
	return func() {
		unpinParts()
		unpinStore()
	}
}

// The engine keeps its own snapshot of the store and brings its views in step with
// it before every statement (engine/catalog.go): handlers pass it requests, never
// table lists. Handlers that run SQL hold a pin (so the files the views name stay on
// disk or in the part cache) for as long as the query runs; the pin is taken before
// the engine looks at the catalog.

// maxLeaseAttempts bounds how often leaseReads leases again when a dataset a query
// reads changes between its lease and the view sync that follows.
const maxLeaseAttempts = 5

// leaseReads, on object storage, fetches into the part cache the parts of the
// datasets sql reads and holds them until release is called, with the views naming
// them (partfiles.go); on a local root it does nothing. Callers hold a pin. When the
// engine cannot tell which datasets sql reads, it leases every dataset: a query must
// never read a schema file in place of the data.
//
// The lease changes the files the views should name though the engine's snapshot
// did not change, so the views are rebuilt (Engine.RefreshViews) before the query;
// if a leased dataset changed meanwhile, the rebuilt views name its new version's
// schema file, and the lease is taken again.
//
// It returns the Info of each dataset leased, for leaseAndQuery.
func (s *SQLServer) leaseReads(ctx context.Context, sql string) (release func(), leased []catalog.Info, err error) {
	if s.parts == nil {
		return func() {}, nil, nil
	}
	datasets, err := s.engine.ReadTables(ctx, sql, func(string) bool { return true })
	switch {
	case errors.Is(err, engine.ErrInvalidSQL), errors.Is(err, engine.ErrReadOnly),
		errors.Is(err, engine.ErrForbidden), errors.Is(err, engine.ErrUnqueryable):
		// The query will be refused as it is here: nothing to fetch.
		return func() {}, nil, nil
	case err != nil:
		datasets = nil // cannot tell: all of them
	}
	for attempt := 0; ; attempt++ {
		infos := s.parts.listedInfos(datasets)
		release, err := s.parts.lease(ctx, infos)
		if err != nil {
			return nil, nil, leaseError(ctx, err)
		}
		if err := s.engine.RefreshViews(ctx); err != nil {
			release()
			return nil, nil, leaseError(ctx, err)
		}
		if s.parts.leased(infos) {
			return release, infos, nil
		}
		release()
		if attempt == maxLeaseAttempts {
			return nil, nil, fmt.Errorf("%w while their parts were fetched for the query", errKeptChanging)
		}
	}
}

// afterLease, when a test sets it, runs between a query's lease and its statement:
// where a replace or drop by another client races the query.
var afterLease func()

// leaseAndQuery leases what sql reads (leaseReads) and runs it, with params' row
// bound when params is not nil. Callers hold a pin; unlease ends the lease, after
// the rows are released.
//
// A dataset replaced or appended to between the lease and the statement leaves
// the statement's view naming the new version's schema file, which the engine
// refuses to read as data (engine.ErrViewsMoved): the new version is leased and the
// statement runs again, so a query reads the old data or the new, never no rows. A
// leased dataset dropped meanwhile fails it with catalog.ErrNotFound naming the
// table.
func (s *SQLServer) leaseAndQuery(ctx context.Context, sql string, params *boundRow) (rows *engine.Rows, unlease func(), err error) {
	for attempt := 0; ; attempt++ {
		release, leased, err := s.leaseReads(ctx, sql)
		if err != nil {
			return nil, nil, err
		}
		if afterLease != nil {
			afterLease()
		}
		if params != nil {
			rows, err = s.engine.Query(ctx, sql, params.rec, params.row)
		} else {
			rows, err = s.engine.Query(ctx, sql, nil, 0)
		}
		if err == nil {
			return rows, release, nil
		}
		release()
		if !errors.Is(err, engine.ErrViewsMoved) {
			if derr := s.droppedLease(ctx, leased, err); derr != nil {
				return nil, nil, derr
			}
			return nil, nil, err
		}
		if attempt == maxLeaseAttempts {
			return nil, nil, fmt.Errorf("%w while the query started: %w", errKeptChanging, err)
		}
	}
}

// droppedLease explains err, the failure of a statement that leased leased, when one
// of those datasets has been dropped since: an error wrapping catalog.ErrNotFound
// naming its table, rather than DuckDB's unknown table. nil when none was dropped.
func (s *SQLServer) droppedLease(ctx context.Context, leased []catalog.Info, err error) error {
	if len(leased) == 0 || !errors.Is(err, engine.ErrInvalidSQL) || ctx.Err() != nil {
		return nil
	}
	snap, serr := s.engine.Snapshot(ctx)
	if serr != nil {
		return nil
	}
	for _, info := range leased {
		if _, ok := snap.Dataset(info.Name); !ok {
			return fmt.Errorf("table %q: dataset %q was dropped as the query started: %w",
				info.Table(), info.Name, catalog.ErrNotFound)
		}
	}
	return nil
}

// leaseError is err from leaseReads; when ctx ended, it says why (the request's
// query timeout, engine.Request), as the engine's own errors do.
func leaseError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("fetch the query's datasets: %w", context.Cause(ctx))
	}
	return err
}

// ReadTables tells which datasets sql reads, without running it: the Guard's
// auth.TableReader. The engine sees the datasets put since the last query.
func (s *SQLServer) ReadTables(ctx context.Context, sql string, covered func(dataset string) bool) ([]string, error) {
	return s.engine.ReadTables(ctx, sql, covered)
}

// DatasetForTable names the dataset that holds a SQL table, and whether it exists:
// the Guard's auth.TableReader, so that grants are matched against dataset names.
func (s *SQLServer) DatasetForTable(ctx context.Context, table string) (string, bool, error) {
	return s.datasetForTable(ctx, table)
}
