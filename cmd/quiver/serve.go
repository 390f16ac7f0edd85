package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"

	"github.com/quiverdata/quiver/catalog"
	"github.com/quiverdata/quiver/flightsql"
	"github.com/quiverdata/quiver/flightsql/engine"
)

// serveOptions are the flags of `quiver serve`.
type serveOptions struct {
	root            string
	addr            string
	logFormat       string
	logLevel        string
	maxMessageBytes int
	shutdownGrace   time.Duration
	queryTimeout    time.Duration
	memoryLimit     string
	threads         int
	maxBindBytes    int64
	// maxOpenPartitions bounds the partition parts one partitioned put writes at once.
	maxOpenPartitions int

	// Limits on what clients hold at once: serve_limits.go.
	limits limitOptions
	// resultMemoryLimit bounds the result batches all streams hold; 0: no limit.
	resultMemoryLimit int64
	tempDir           string
	maxTempSize       string
	memoryTier        string

	// TLS and authentication: serve_security.go.
	security securityOptions

	// Operations: config file, logs, metrics, health, reflection (serve_ops.go).
	ops opsOptions

	// The web console: --http-addr (serve_console.go).
	console consoleOptions

	// A root on S3-compatible object storage and its part cache: serve_storage.go.
	storage storageOptions

	// Several nodes on one root: --advertise-addr, --peers (serve_nodes.go).
	nodes nodeOptions

	// Bulk work behind short requests: --bulk-nice (serve_cpu.go).
	cpu cpuOptions

	// Collections of the Go heap: --gc-headroom (serve_gc.go).
	gc gcOptions
}

func newServeCommand() *cobra.Command {
	opts := serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Quiver server",
		Long: `Run the Quiver server: plain Arrow Flight and Flight SQL on one port.

Datasets are the Parquet files (and directories of Parquet parts) in --root; files
copied in by hand are served too. SIGINT or SIGTERM stop it gracefully.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return serve(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.root, "root", "./datasets", "dataset directory (created if missing), or s3://BUCKET/PREFIX for S3-compatible object storage")
	f.StringVar(&opts.addr, "addr", "localhost:8815", "listen address HOST:PORT (port 0 picks a free port)")
	f.StringVar(&opts.logFormat, "log-format", "text", "log format: text or json")
	f.StringVar(&opts.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	f.IntVar(&opts.maxMessageBytes, "max-message-bytes", 256<<20, "largest gRPC message accepted or sent (one record batch); larger result batches are cut, a single larger row fails its stream")
	f.DurationVar(&opts.queryTimeout, "query-timeout", 5*time.Minute, "longest one SQL request may run, planning and every parameter row together (0: no limit)")
	f.StringVar(&opts.memoryLimit, "memory-limit", "", "DuckDB memory limit, e.g. 4GB (default: DuckDB's, 80% of RAM)")
	f.IntVar(&opts.threads, "threads", 0, "DuckDB worker threads (default: one per core)")
	f.Int64Var(&opts.maxBindBytes, "max-bind-bytes", flightsql.DefaultMaxBindBytes, "largest total of parameter rows one bind to a prepared statement may send, in bytes (0: no limit of its own; --max-bound-bytes-per-client still applies)")
	f.Int64Var(&opts.resultMemoryLimit, "result-memory-limit", flightsql.DefaultResultMemoryLimit,
		"bytes of result batches all DoGet and SQL streams together may hold before gRPC takes them; a stream waits for room (0: no limit)")
	f.StringVar(&opts.tempDir, "temp-dir", "", "directory in which DuckDB's spill directory (quiver-duckdb-*) is made; those of dead servers there are removed (default: $TMPDIR or /tmp)")
	f.StringVar(&opts.maxTempSize, "max-temp-size", "", "most DuckDB may spill to disk, e.g. 20GB (default: 10GiB or a quarter of the free space, whichever is smaller)")
	f.IntVar(&opts.maxOpenPartitions, "max-open-partitions", catalog.DefaultMaxOpenPartitions, "partitions one partitioned put (quiver put --partition-by) writes at once, each holding a row group in memory; a stream spread over more flushes the least recent and reopens it later as a new part")
	f.StringVar(&opts.memoryTier, "memory-tier", "0", "bytes of hot datasets kept in memory for SQL and plain DoGet, e.g. 2GiB (0: off; every read decodes Parquet)")
	f.DurationVar(&opts.shutdownGrace, "shutdown-grace", 10*time.Second, "on SIGINT/SIGTERM, how long in-flight requests may finish before they are cancelled; the process exits at most 2s later, non-zero if a query would not stop")

	// Limits on what clients hold at once: serve_limits.go.
	addLimitFlags(f, &opts.limits)

	// Bulk work behind short requests: serve_cpu.go.
	addCPUFlags(f, &opts.cpu)
	addGCFlags(f, &opts.gc)

	// TLS and authentication: serve_security.go.
	addSecurityFlags(f, &opts.security)

	// The web console (serve_console.go).
	addConsoleFlags(f, &opts.console)

	// Object storage and the part cache: serve_storage.go.
	addStorageFlags(f, &opts.storage)

	// Several nodes on one root (serve_nodes.go).
	addNodeFlags(f, &opts.nodes)

	// Operations: --config, QUIVER_* variables, --metrics-addr, --grpc-reflection
	// (serve_ops.go). Keep it last: it reads every flag added above.
	addOpsFlags(cmd, &opts.ops)
	return cmd
}

func newLogger(format, level string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: %w", level, err)
	}
	hopts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, hopts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, hopts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

// resultMemoryLimit turns the flag's value into flightsql.ResultLimits.MemoryLimit:
// the flag's 0 is no limit, the config's is the default.
func resultMemoryLimit(flag int64) int64 {
	if flag <= 0 {
		return -1
	}
	return flag
}

func serve(ctx context.Context, opts serveOptions) error {
	log, err := newLogger(opts.logFormat, opts.logLevel)
	if err != nil {
		return err
	}
	slog.SetDefault(log)
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	if err := opts.cpu.apply(log); err != nil {
		return err
	}
	stopGC, err := opts.gc.start(log)
	if err != nil {
		return err
	}
	defer stopGC()
	var memoryTier int64 // "" (options built without flags) is off, as "0" is
	if opts.memoryTier != "" {
		if memoryTier, err = parseSize(opts.memoryTier); err != nil {
			return fmt.Errorf("--memory-tier: %w", err)
		}
	}
	nodes, err := opts.nodes.nodes(opts.addr, opts.security.scheme())
	if err != nil {
		return err
	}
	if opts.maxOpenPartitions < 0 {
		return usageErrorf("--max-open-partitions %d: want at least 1 (0: the default, %d)", opts.maxOpenPartitions, catalog.DefaultMaxOpenPartitions)
	}
	store, cache, err := openStore(ctx, opts.root, opts.storage, catalog.Options{Logger: log, MaxOpenPartitions: opts.maxOpenPartitions})
	if err != nil {
		return err
	}
	defer closeCache(cache, log)
	// After the service (deferred later, so closed first): converts the landed
	// uploads and stops the converter, and stops scheduled deletions of retired parts
	// (a later start does what is left of either).
	defer store.Close()
	srv, err := flightsql.NewService(ctx, flightsql.ServiceConfig{
		Store:        store,
		PartCache:    cache,
		Logger:       log,
		Version:      version,
		MaxBindBytes: noLimitIfZero(opts.maxBindBytes),
		Engine: engine.Config{
			Threads:      opts.threads,
			MemoryLimit:  opts.memoryLimit,
			QueryTimeout: opts.queryTimeout,
			TempParent:   opts.tempDir,
			MaxTempSize:  opts.maxTempSize,
		},
		Limits:            opts.limits.limits(),
		HandleIdleTimeout: opts.limits.preparedIdle,
		Results:           flightsql.ResultLimits{MaxMessageBytes: opts.maxMessageBytes, MemoryLimit: resultMemoryLimit(opts.resultMemoryLimit)},
		Nodes:             nodes,
		MemoryTier:        memoryTier,
	})
	if err != nil {
		return err
	}
	defer srv.Close()
	lis, err := net.Listen("tcp", opts.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", opts.addr, err)
	}
	// TLS and authentication (serve_security.go): refuses a non-loopback address
	// without authentication, so it runs before anything is served. Its interceptors
	// come before the service's: every request is authenticated before a handler
	// sees it.
	secOpts, guard, stopAuth, err := opts.security.serverOptionsGuard(ctx, log, lis.Addr(), srv.SQL)
	if err != nil {
		lis.Close()
		return err
	}
	defer stopAuth()

	// Operations (serve_ops.go): its interceptors come before authentication's, so
	// that the log and the metrics also show the calls authentication refuses (they
	// only read requests); health checking says SERVING once the server serves and
	// NOT_SERVING as it stops.
	ops, err := startOps(opts.ops, log, store)
	if err != nil {
		lis.Close()
		return err
	}
	defer func() {
		if err := ops.close(); err != nil {
			log.Warn("stop the metrics server", "err", err)
		}
	}()
	// The web console (serve_console.go): bound now, so that a taken port or a
	// refused address stops the server before it serves.
	cons, err := startConsole(opts.console, opts.security, log, srv, store, guard)
	if err != nil {
		lis.Close()
		return err
	}
	gs := grpc.NewServer(slices.Concat(srv.RecoveryOptions(), ops.serverOptions(), secOpts, ops.innerOptions(), srv.ServerOptions(opts.maxMessageBytes))...)
	srv.Register(gs)
	ops.register(gs)

	served := make(chan error, 1)
	go func() { served <- gs.Serve(lis) }()
	log.Info("quiver serving", "addr", opts.security.scheme()+lis.Addr().String(), "root", store.Root())
	ops.serving(lis.Addr())
	cons.serve()

	select {
	case err := <-served:
		cons.stop(0)()
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	ops.shuttingDown()
	log.Info("shutting down: letting in-flight requests finish", "grace", opts.shutdownGrace)
	// The console's requests get the same grace, and the engine outlives them too.
	return shutdown(log, gs, srv, served, opts.shutdownGrace, cons.stop(opts.shutdownGrace))
}

// stopMargin is how long, after the grace period (or after the last request finished
// within it), cancelled requests and the SQL engine get to stop before the server
// gives up on them and exits anyway: at most grace + stopMargin after the signal.
const stopMargin = 2 * time.Second

// shutdown stops gs and srv within grace + stopMargin, whatever DuckDB is doing.
// In-flight requests get the grace period; then they are cancelled and the engine
// interrupts its queries. waitAlso waits for the other servers over srv (the web
// console), stopping alongside gs within the same grace. A query that ignores
// interrupts (DuckDB has such loops) is logged at error level and left to the
// process's exit, and shutdown returns an error so that the process exits non-zero;
// its memory goes with the process.
func shutdown(log *slog.Logger, gs *grpc.Server, srv *flightsql.Service, served <-chan error, grace time.Duration, waitAlso func()) error {
	stopped := make(chan struct{})
	go func() { gs.GracefulStop(); waitAlso(); close(stopped) }()
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-stopped:
	case <-timer.C:
		log.Warn("grace period over: cancelling the remaining requests")
		// Stop waits for nothing a stuck handler holds, but it can wait for
		// GracefulStop, which waits for every handler: neither may hold up the exit.
		go gs.Stop()
	}
	ctx, cancel := context.WithTimeout(context.Background(), stopMargin)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		log.Error("shutdown incomplete: exiting with SQL queries still running", "err", err)
		return fmt.Errorf("shutdown: %w", err)
	}
	select {
	case <-stopped:
	case <-ctx.Done():
		log.Error("shutdown incomplete: exiting with requests still running", "after_grace", stopMargin)
		return fmt.Errorf("shutdown: requests still running %v after they were cancelled", stopMargin)
	}
	if err := <-served; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return fmt.Errorf("serve: %w", err)
	}
	log.Info("stopped")
	return nil
}

// noLimitIfZero spells a flag's 0 ("no limit") as the largest value, for settings
// whose zero value means "the default".
func noLimitIfZero(v int64) int64 {
	if v <= 0 {
		return math.MaxInt64
	}
	return v
}
