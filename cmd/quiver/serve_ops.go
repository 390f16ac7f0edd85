package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/reflection"

	"github.com/quiverdata/quiver/catalog"
	"github.com/quiverdata/quiver/flightsql/auth"
	"github.com/quiverdata/quiver/flightsql/observe"
)

// The operator's side of `quiver serve`: the config file and QUIVER_* variables
// (config.go), per-RPC logs and metrics, the metrics listener, health checking and
// reflection.

// opsOptions are the flags of `quiver serve` for operating it.
type opsOptions struct {
	configFile     string
	metricsAddr    string
	grpcReflection bool

	// ready, if not nil, is called with the bound addresses once the server serves
	// (metrics is nil without --metrics-addr). For tests.
	ready func(grpcAddr, metricsAddr net.Addr)
}

// addOpsFlags adds the operations flags to the serve command and makes it read the
// config file and the environment before it runs.
func addOpsFlags(cmd *cobra.Command, o *opsOptions) {
	f := cmd.Flags()
	f.StringVar(&o.configFile, configFlag, "", "read settings from this TOML file, whose keys are these flags' names (QUIVER_CONFIG too)")
	f.StringVar(&o.metricsAddr, "metrics-addr", "", "serve Prometheus /metrics and /healthz over HTTP on this HOST:PORT (default: off)")
	f.BoolVar(&o.grpcReflection, "grpc-reflection", false, "enable gRPC server reflection (for grpcurl and the like) on the Flight port")
	cmd.Long += `

Every flag can also be set by an environment variable, QUIVER_ and the flag's name
in capitals with _ for -, e.g. QUIVER_ROOT, QUIVER_QUERY_TIMEOUT, and by a key of
the TOML file --config (or QUIVER_CONFIG) names, the flag's name, e.g.
  root = "/srv/datasets"
  query-timeout = "30s"
A flag on the command line wins over its variable, which wins over the file.`
	prev := cmd.PreRunE
	cmd.PreRunE = func(cmd *cobra.Command, args []string) error {
		if prev != nil {
			if err := prev(cmd, args); err != nil {
				return err
			}
		}
		return applyConfig(cmd.Flags(), lookupEnv)
	}
}

// ops runs what opsOptions ask for around the gRPC server.
type ops struct {
	opts     opsOptions
	log      *slog.Logger
	observer *observe.Observer
	health   *observe.Health

	metricsLis  net.Listener // nil without --metrics-addr
	metricsSrv  *http.Server
	metricsDone chan error
}

// startOps sets up logging, metrics and health. With --metrics-addr it binds the
// metrics listener now, so that a taken port stops the server before it serves.
func startOps(o opsOptions, log *slog.Logger, store *catalog.Store) (*ops, error) {
	p := &ops{opts: o, log: log, health: observe.NewHealth()}
	var metrics *observe.Metrics
	if o.metricsAddr != "" {
		reg := prometheus.NewRegistry()
		reg.MustRegister(
			collectors.NewGoCollector(),
			collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
			observe.NewCatalogCollector(store, log),
		)
		var err error
		if metrics, err = observe.NewMetrics(reg); err != nil {
			return nil, err
		}
		lis, err := net.Listen("tcp", o.metricsAddr)
		if err != nil {
			return nil, fmt.Errorf("--metrics-addr: listen on %s: %w", o.metricsAddr, err)
		}
		p.metricsLis = lis
		p.metricsSrv = &http.Server{
			Handler:           observe.HTTPHandler(reg, p.health),
			ReadHeaderTimeout: 10 * time.Second,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		}
	}
	p.observer = observe.New(observe.Options{Logger: log, Metrics: metrics})
	return p, nil
}

// serverOptions are the interceptors that log and measure every RPC. They go
// before every other option, so that they also see the calls that inner
// interceptors (authentication) refuse.
func (p *ops) serverOptions() []grpc.ServerOption { return p.observer.ServerOptions() }

// innerOptions go after authentication's interceptors: they add the
// authenticated caller ("user alice", "token grafana") to the call's log line.
func (p *ops) innerOptions() []grpc.ServerOption {
	return observe.AttrsInterceptors(func(ctx context.Context) []slog.Attr {
		if pr, ok := auth.FromContext(ctx); ok {
			return []slog.Attr{slog.String("principal", pr.Name)}
		}
		return nil
	})
}

// register adds the health service, and reflection if asked, to gs.
func (p *ops) register(gs *grpc.Server) {
	p.health.Register(gs)
	if p.opts.grpcReflection {
		reflection.Register(gs)
	}
}

// serving reports SERVING and starts the metrics listener's server.
func (p *ops) serving(grpcAddr net.Addr) {
	p.health.SetServing()
	var metricsAddr net.Addr
	if p.metricsLis != nil {
		metricsAddr = p.metricsLis.Addr()
		p.metricsDone = make(chan error, 1)
		go func() { p.metricsDone <- p.metricsSrv.Serve(p.metricsLis) }()
		p.log.Info("metrics serving", "addr", "http://"+metricsAddr.String()+"/metrics")
	}
	if p.opts.ready != nil {
		p.opts.ready(grpcAddr, metricsAddr)
	}
}

// shuttingDown reports NOT_SERVING, over gRPC and on /healthz, and ends health Watch
// streams so that they do not hold up the graceful stop.
func (p *ops) shuttingDown() { p.health.Shutdown() }

// close stops the metrics server: last, so /healthz says "not serving" throughout
// the shutdown. It waits for the server's goroutine.
func (p *ops) close() error {
	if p.metricsLis == nil {
		return nil
	}
	if p.metricsDone == nil { // never served
		return p.metricsLis.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := p.metricsSrv.Shutdown(ctx)
	if serr := <-p.metricsDone; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}
