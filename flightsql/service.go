package flightsql

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"

	"github.com/quiverdata/quiver/catalog"
	"github.com/quiverdata/quiver/catalog/partcache"
	"github.com/quiverdata/quiver/catalog/storage"
	"github.com/quiverdata/quiver/flightsql/engine"
	"github.com/quiverdata/quiver/flightsql/memtier"
)

// ServiceConfig configures a whole Quiver service: plain Flight and Flight SQL over
// one store.
type ServiceConfig struct {
	Store *catalog.Store // required
	// PartCache holds local copies of parts for the engine when the store is on object
	// storage (required then; the engine's root becomes the cache directory).
	PartCache *partcache.Cache
	// Engine configures DuckDB; Root, Logger and Allocator are filled in from the
	// store and this config.
	Engine engine.Config
	// Allocator for Arrow memory; nil: memory.DefaultAllocator.
	Allocator memory.Allocator
	// Logger; nil: slog.Default().
	Logger *slog.Logger
	// Version is the server version reported to clients.
	Version string
	// HandleIdleTimeout frees idle prepared statements; 0: 15 minutes.
	HandleIdleTimeout time.Duration
	// SessionIdleTimeout ends idle client sessions; 0: 1 hour.
	SessionIdleTimeout time.Duration
	// MaxBindBytes bounds the bound parameters of one DoPut; 0: DefaultMaxBindBytes.
	MaxBindBytes int64
	// Limits bound what clients hold at once (limits.go); zero fields take
	// DefaultLimits.
	Limits Limits
	// Results bound the result batches of every stream, plain and SQL, with one
	// memory budget for all of them; zero: the defaults. Its MaxMessageBytes must be
	// the value given to ServerOptions.
	Results ResultLimits
	// Nodes are this server and its peers on the same dataset root (endpoints.go);
	// zero: a server on its own.
	Nodes Nodes
	// MemoryTier is the byte budget of the opt-in memory tier (package memtier):
	// hot datasets kept in memory for SQL and plain DoGet, shared by both. 0: off.
	MemoryTier int64
}

// Service is a Server with its Flight SQL half and the engine behind it.
type Service struct {
	*Server
	SQL    *SQLServer
	engine *engine.Engine
	// unsubscribe ends the DoGet tier's subscription to the store.
	unsubscribe func()

	closeOnce sync.Once
}

// NewService opens the engine and composes the plain Flight and Flight SQL servers.
// Close it after the gRPC server has stopped.
func NewService(ctx context.Context, cfg ServiceConfig) (*Service, error) {
	if cfg.Store == nil {
		return nil, fmt.Errorf("flightsql: ServiceConfig.Store is required")
	}
	if cfg.Allocator == nil {
		cfg.Allocator = memory.DefaultAllocator
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	ecfg := cfg.Engine
	ecfg.Root = cfg.Store.Root()
	if _, local := cfg.Store.Bucket().(storage.LocalFiler); !local {
		if cfg.PartCache == nil {
			return nil, fmt.Errorf("flightsql: a store on %s needs ServiceConfig.PartCache", cfg.Store.Root())
		}
		// DuckDB reads parts on object storage from the cache: that is its root.
		ecfg.Root = cfg.PartCache.Dir()
	}
	ecfg.Logger = cfg.Logger
	ecfg.Allocator = cfg.Allocator
	ecfg.Catalog = cfg.Store // the engine keeps its own snapshot of the store
	tier := memtier.New(cfg.MemoryTier)
	ecfg.MemoryTier = tier
	eng, err := engine.Open(ctx, ecfg)
	if err != nil {
		return nil, fmt.Errorf("start SQL engine: %w", err)
	}
	// Hive partition columns get the types DuckDB gives them (catalog/hive.go).
	cfg.Store.SetPartitionTyper(eng.PartitionTypes)
	sql, err := NewSQLServer(SQLConfig{
		Store:             cfg.Store,
		Engine:            eng,
		PartCache:         cfg.PartCache,
		Allocator:         cfg.Allocator,
		Logger:            cfg.Logger,
		HandleIdleTimeout: cfg.HandleIdleTimeout,
		Version:           cfg.Version,

		QueryTimeout:       cfg.Engine.QueryTimeout,
		SessionIdleTimeout: cfg.SessionIdleTimeout,
		MaxBindBytes:       cfg.MaxBindBytes,
		Limits:             cfg.Limits,
		Results:            cfg.Results,
	})
	if err != nil {
		eng.Close()
		return nil, err
	}
	srv, err := NewServer(Config{Store: cfg.Store, SQL: sql.FlightServer(), Allocator: cfg.Allocator, Logger: cfg.Logger, Nodes: cfg.Nodes})
	if err != nil {
		sql.Close()
		eng.Close()
		return nil, err
	}
	srv.out = sql.out // one result memory budget for plain and SQL streams
	srv.memTier = tier
	srv.scans = sql
	unsubscribe := func() {}
	if tier.Enabled() {
		srv.dogets = newDogetTier(tier)
		unsubscribe = cfg.Store.Subscribe(srv.dogets.changed)
	}
	srv.datasets = func(ctx context.Context) ([]catalog.Info, error) {
		snap, err := eng.Snapshot(ctx)
		if err != nil {
			return nil, err
		}
		return snap.Datasets(), nil
	}
	return &Service{Server: srv, SQL: sql, engine: eng, unsubscribe: unsubscribe}, nil
}

// RecoveryOptions are the interceptors that turn a panic into Internal, for the
// very front of a chain that adds interceptors of its own (authentication, request
// logs) before ServerOptions: a panic in those then ends one request too, not the
// process. ServerOptions has them as well, around the handlers.
func (s *Service) RecoveryOptions() []grpc.ServerOption { return recoveryOptions(s.log) }

// ServerOptions are the gRPC server options to run s with: the interceptors that
// turn a handler's panic into Internal (panics.go), GRPCOptions, the Flight SQL
// server's interceptors and the stream limit (limits.go). The real server and the
// tests both build their chain from it. Interceptors chain in the order given: put
// authentication's before these, so that limits count the principal.
//
// They include the codec that lets plain DoGet hand gRPC its messages ready-made
// (dogetwire.go); the server sends that way only once it has given out these options.
func (s *Service) ServerOptions(maxMessageBytes int) []grpc.ServerOption {
	s.encodedSends.Store(true)
	return slices.Concat(recoveryOptions(s.log), GRPCOptions(maxMessageBytes), []grpc.ServerOption{grpc.ForceServerCodecV2(newWireCodec())},
		s.SQL.ServerOptions(), s.SQL.admit.serverOptions())
}

// Close frees the Flight SQL handles and closes the engine, interrupting any query
// still running. It is Shutdown without a deadline.
func (s *Service) Close() error { return s.Shutdown(context.Background()) }

// Shutdown is Close bounded by ctx: when a query is still running in DuckDB as ctx
// ends, it returns an engine.ErrStuck (each stuck query is logged) and leaves the
// rest to the process's exit. Calls after the first return nil.
func (s *Service) Shutdown(ctx context.Context) error {
	first := false
	s.closeOnce.Do(func() { first = true })
	if !first {
		return nil
	}
	s.unsubscribe()
	s.SQL.Close()
	return s.engine.Shutdown(ctx)
}
