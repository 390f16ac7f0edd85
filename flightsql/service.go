package flightsql

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"

	"github.com/quiverdata/quiver/catalog"
	"github.com/quiverdata/quiver/flightsql/engine"
)

// ServiceConfig configures a whole Quiver service: plain Flight and Flight SQL over
// one store.
type ServiceConfig struct {
	Store *catalog.Store // required
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
}

// Service is a Server with its Flight SQL half and the engine behind it.
type Service struct {
	*Server
	SQL    *SQLServer
	engine *engine.Engine
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
	ecfg.Logger = cfg.Logger
	ecfg.Allocator = cfg.Allocator
	eng, err := engine.Open(ctx, ecfg)
	if err != nil {
		return nil, fmt.Errorf("start SQL engine: %w", err)
	}
	sql, err := NewSQLServer(SQLConfig{
		Store:             cfg.Store,
		Engine:            eng,
		Allocator:         cfg.Allocator,
		Logger:            cfg.Logger,
		HandleIdleTimeout: cfg.HandleIdleTimeout,
		Version:           cfg.Version,

		QueryTimeout:       cfg.Engine.QueryTimeout,
		SessionIdleTimeout: cfg.SessionIdleTimeout,
		MaxBindBytes:       cfg.MaxBindBytes,
	})
	if err != nil {
		eng.Close()
		return nil, err
	}
	srv, err := NewServer(Config{Store: cfg.Store, SQL: sql.FlightServer(), Allocator: cfg.Allocator, Logger: cfg.Logger})
	if err != nil {
		sql.Close()
		eng.Close()
		return nil, err
	}
	return &Service{Server: srv, SQL: sql, engine: eng}, nil
}

// ServerOptions are the gRPC server options to run s with: the interceptors that
// turn a handler's panic into Internal (panics.go), GRPCOptions and the Flight SQL
// server's interceptors. The real server and the tests both build their chain from
// it. Further options (e.g. authentication interceptors) can be added;
// interceptors chain in the order given, so a panic is caught only in the
// interceptors after these and in the handlers.
func (s *Service) ServerOptions(maxMessageBytes int) []grpc.ServerOption {
	return slices.Concat(recoveryOptions(s.log), GRPCOptions(maxMessageBytes), s.SQL.ServerOptions())
}

// Close frees the Flight SQL handles and closes the engine, interrupting any query
// still running.
func (s *Service) Close() error {
	s.SQL.Close()
	return errors.Join(s.engine.Close())
}
