package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/spf13/pflag"

	"github.com/quiverdata/quiver/catalog"
	"github.com/quiverdata/quiver/flightsql"
	"github.com/quiverdata/quiver/flightsql/auth"
	"github.com/quiverdata/quiver/flightsql/console"
)

// consoleOptions are the web console's flags of `quiver serve`.
type consoleOptions struct {
	addr             string
	maxDownloadBytes int64

	// ready, if set, is called with the console's address once it serves (tests).
	ready func(net.Addr)
}

func addConsoleFlags(f *pflag.FlagSet, o *consoleOptions) {
	f.StringVar(&o.addr, "http-addr", "", "serve the web console and its HTTP API on HOST:PORT (HTTPS with --tls-cert; the same --auth-file logins and the same non-loopback refusal as --addr); off when empty")
	f.Int64Var(&o.maxDownloadBytes, "http-max-download-bytes", console.DefaultMaxDownloadBytes, "largest query result the console's API sends as CSV, Arrow or Parquet, in Arrow bytes; a larger one is cut (0: no limit of its own)")
}

// consoleServer is the running web console; its zero value (no --http-addr) does
// nothing.
type consoleServer struct {
	lis  net.Listener
	srv  *http.Server
	tls  bool
	log  *slog.Logger
	done chan error

	ready func(net.Addr)
}

// startConsole binds --http-addr and builds the console, refusing a non-loopback
// address without authentication as the Flight port does. guard is nil without an
// auth file. It serves nothing until serve is called.
func startConsole(o consoleOptions, sec securityOptions, log *slog.Logger, svc *flightsql.Service, store *catalog.Store, guard *auth.Guard) (*consoleServer, error) {
	if o.addr == "" {
		return &consoleServer{}, nil
	}
	lis, err := net.Listen("tcp", o.addr)
	if err != nil {
		return nil, fmt.Errorf("--http-addr: listen on %s: %w", o.addr, err)
	}
	if err := sec.checkExposure(log, lis.Addr()); err != nil {
		lis.Close()
		return nil, fmt.Errorf("--http-addr: %w", err)
	}
	tlsCfg, err := sec.serverTLS()
	if err != nil {
		lis.Close()
		return nil, err
	}
	maxDownload := o.maxDownloadBytes
	if maxDownload <= 0 {
		maxDownload = -1 // the flag's 0 is "no limit"; the package's 0 is its default
	}
	h, err := console.New(console.Config{
		Service: svc, Store: store, Guard: guard, Logger: log,
		Version: version, Commit: buildCommit(),
		Secure:           tlsCfg != nil,
		MaxDownloadBytes: maxDownload,
		LoopbackOnly:     guard == nil && isLoopback(lis.Addr()),
	})
	if err != nil {
		lis.Close()
		return nil, err
	}
	return &consoleServer{lis: lis, srv: console.NewHTTPServer(h, tlsCfg, log), tls: tlsCfg != nil, log: log, ready: o.ready}, nil
}

// serve starts serving in the background.
func (c *consoleServer) serve() {
	if c.lis == nil {
		return
	}
	c.done = make(chan error, 1)
	scheme := "http://"
	go func() {
		if c.tls {
			c.done <- c.srv.ServeTLS(c.lis, "", "")
			return
		}
		c.done <- c.srv.Serve(c.lis)
	}()
	if c.tls {
		scheme = "https://"
	}
	c.log.Info("web console serving", "addr", scheme+c.lis.Addr().String())
	if c.ready != nil {
		c.ready(c.lis.Addr())
	}
}

// stop stops the console alongside the Flight server: requests in flight get grace
// to finish, then their connections are closed. It returns a function that waits for
// the stop to be over.
func (c *consoleServer) stop(grace time.Duration) (wait func()) {
	if c.lis == nil {
		return func() {}
	}
	if c.done == nil {
		c.lis.Close()
		return func() {}
	}
	over := make(chan struct{})
	go func() {
		defer close(over)
		ctx, cancel := context.WithTimeout(context.Background(), grace)
		defer cancel()
		if err := c.srv.Shutdown(ctx); err != nil {
			c.log.Warn("web console: closing the connections still open after the grace period")
			c.srv.Close()
		}
		if err := <-c.done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			c.log.Warn("web console stopped", "err", err)
		}
	}()
	return func() { <-over }
}

// buildCommit is the VCS revision the binary was built from, "" when unknown.
func buildCommit() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			return s.Value
		}
	}
	return ""
}
