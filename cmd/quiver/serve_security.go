package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/pflag"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/quiverdata/quiver/flightsql/auth"
)

// securityOptions are the TLS and authentication flags of `quiver serve`.
type securityOptions struct {
	tlsCert, tlsKey string
	tlsClientCA     string
	authFile        string
	tokenTTL        time.Duration
	allowAnonymous  bool

	// Auth file reloads and login limits.
	authReloadInterval time.Duration
	loginConcurrency   int
	loginMaxFailures   int
	loginLockoutMax    time.Duration
}

func addSecurityFlags(f *pflag.FlagSet, o *securityOptions) {
	f.StringVar(&o.tlsCert, "tls-cert", "", "serve TLS with this PEM certificate (chain); needs --tls-key")
	f.StringVar(&o.tlsKey, "tls-key", "", "PEM private key of --tls-cert")
	f.StringVar(&o.tlsClientCA, "tls-client-ca", "", "require client certificates signed by this PEM CA bundle (mutual TLS); needs --tls-cert")
	f.StringVar(&o.authFile, "auth-file", "", "users, token hashes and permissions (TOML; see: quiver auth --help); every request must then authenticate")
	f.DurationVar(&o.tokenTTL, "token-ttl", auth.DefaultTokenTTL, "lifetime of the bearer tokens a username/password login (Flight Handshake) issues")
	f.BoolVar(&o.allowAnonymous, "allow-anonymous", false, "allow a non-loopback --addr without --auth-file or --tls-client-ca: anyone who can connect may read, write and drop every dataset")
	f.DurationVar(&o.authReloadInterval, "auth-reload-interval", 5*time.Second, "how often to check --auth-file for changes and reload it (0: only on SIGHUP, which always reloads it)")
	f.IntVar(&o.loginConcurrency, "login-concurrency", 0, "password checks (bcrypt) that may run at once; more logins wait (default 0: half the cores, at least 1)")
	f.IntVar(&o.loginMaxFailures, "login-max-failures", auth.DefaultLoginFailures, "failed logins a user name, or a client address, may have before further logins are refused for a while (0: no limit)")
	f.DurationVar(&o.loginLockoutMax, "login-lockout-max", auth.DefaultLoginLockoutMax, "longest refusal after failed logins: it starts at 1s and doubles with each further failure")
}

// errExposed refuses to serve every dataset to a network without authentication.
var errExposed = errors.New("refusing to listen on a non-loopback address without authentication")

// serverOptions checks the exposure of the address the server is bound to and
// returns the gRPC options for TLS and authentication. It logs a warning for a
// non-loopback address without TLS. tables tells the Guard which datasets a SQL
// statement reads, so that grants restricted to some datasets can run SQL; nil
// refuses them every statement.
//
// With an auth file it also starts reloading the file on SIGHUP and when it
// changes, until ctx ends or stop is called; stop waits for that to end.
func (o securityOptions) serverOptions(ctx context.Context, log *slog.Logger, bound net.Addr, tables auth.TableReader) (opts []grpc.ServerOption, stop func(), err error) {
	opts, _, stop, err = o.serverOptionsGuard(ctx, log, bound, tables)
	return opts, stop, err
}

// serverOptionsGuard is serverOptions that also returns the Guard (nil without an
// auth file), for the web console to check its requests with.
func (o securityOptions) serverOptionsGuard(ctx context.Context, log *slog.Logger, bound net.Addr, tables auth.TableReader) (opts []grpc.ServerOption, g *auth.Guard, stop func(), err error) {
	stop = func() {}
	if err := o.checkExposure(log, bound); err != nil {
		return nil, nil, stop, err
	}
	if cfg, err := o.serverTLS(); err != nil {
		return nil, nil, stop, err
	} else if cfg != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(cfg)))
	}
	if o.authFile != "" {
		if o.loginLockoutMax < 0 || o.loginConcurrency < 0 || o.loginMaxFailures < 0 || o.authReloadInterval < 0 {
			return nil, nil, stop, errors.New("--login-concurrency, --login-max-failures, --login-lockout-max and --auth-reload-interval must not be negative")
		}
		failures := o.loginMaxFailures
		if failures == 0 {
			failures = -1 // the flag's 0 is "no limit"; the package's 0 is its default
		}
		w, err := auth.NewFileWatcher(o.authFile, auth.Options{
			TokenTTL: o.tokenTTL,
			Logger:   log,
			Login:    auth.LoginLimits{Concurrency: o.loginConcurrency, Failures: failures, LockoutMax: o.loginLockoutMax},
		})
		if err != nil {
			return nil, nil, stop, err
		}
		if st, err := os.Stat(o.authFile); err == nil && st.Mode().Perm()&0o077 != 0 {
			log.Warn("the auth file is readable by other users: its password hashes can be attacked offline; chmod 600 it",
				"auth_file", o.authFile, "mode", st.Mode().Perm().String())
		}
		g = auth.NewGuard(w.Authenticator(), log)
		if tables != nil {
			g.SetTableReader(tables)
		}
		opts = append(opts, g.ServerOptions()...)
		f := w.File()
		log.Info("authentication on", "auth_file", o.authFile, "users", len(f.Users), "tokens", len(f.Tokens),
			"token_ttl", w.Authenticator().TokenTTL(), "auth_reload_interval", o.authReloadInterval)
		stop = watchAuthFile(ctx, w, o.authReloadInterval)
	}
	return opts, g, stop, nil
}

// watchAuthFile reloads the auth file on SIGHUP and, every interval (unless 0),
// when its contents changed, until ctx ends or the returned stop is called. SIGHUP is
// caught from now on: without this, it would end the process. The watcher logs
// every reload and every version it refuses.
func watchAuthFile(ctx context.Context, w *auth.FileWatcher, interval time.Duration) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var tick <-chan time.Time // nil: no polling
		if interval > 0 {
			t := time.NewTicker(interval)
			defer t.Stop()
			tick = t.C
		}
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				_ = w.Reload(ctx) // logged by the watcher; the previous version stays
			case <-tick:
				_, _ = w.ReloadIfChanged(ctx)
			}
		}
	}()
	return sync.OnceFunc(func() {
		cancel()
		<-done
		signal.Stop(hup)
	})
}

// checkExposure refuses a non-loopback address with no way to authenticate clients
// (an auth file, or client certificates) unless --allow-anonymous, and warns when
// such an address has no TLS.
func (o securityOptions) checkExposure(log *slog.Logger, bound net.Addr) error {
	if isLoopback(bound) {
		return nil
	}
	authenticated := o.authFile != "" || o.tlsClientCA != ""
	if !authenticated && !o.allowAnonymous {
		return fmt.Errorf("%w: %s is reachable from other machines; give --auth-file (or --tls-client-ca), or --allow-anonymous to serve everyone, or listen on localhost", errExposed, bound)
	}
	if !authenticated {
		log.Warn("serving without authentication on a non-loopback address (--allow-anonymous): anyone who can connect may read, write and drop every dataset", "addr", bound.String())
	}
	if o.tlsCert == "" {
		log.Warn("serving without TLS on a non-loopback address: data, passwords and tokens cross the network in plain text; give --tls-cert and --tls-key", "addr", bound.String())
	}
	return nil
}

// isLoopback reports whether a bound address is reachable from this machine only.
// An unspecified address (0.0.0.0, ::) listens on every interface.
func isLoopback(a net.Addr) bool {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		host, _, err := net.SplitHostPort(a.String())
		if err != nil {
			return false
		}
		ip := net.ParseIP(host)
		return ip != nil && ip.IsLoopback()
	}
	return tcp.IP.IsLoopback()
}

// serverTLS is the TLS configuration of the flags; nil without --tls-cert.
func (o securityOptions) serverTLS() (*tls.Config, error) {
	switch {
	case o.tlsCert == "" && o.tlsKey == "" && o.tlsClientCA == "":
		return nil, nil
	case o.tlsCert == "" || o.tlsKey == "":
		return nil, errors.New("--tls-cert and --tls-key go together (and --tls-client-ca needs them)")
	}
	cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"h2"},
	}
	if o.tlsClientCA != "" {
		pool, err := loadCertPool(o.tlsClientCA)
		if err != nil {
			return nil, fmt.Errorf("--tls-client-ca: %w", err)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// loadCertPool reads a PEM bundle of CA certificates.
func loadCertPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}

// scheme is the URI scheme clients use for this server.
func (o securityOptions) scheme() string {
	if o.tlsCert != "" {
		return "grpc+tls://"
	}
	return "grpc://"
}
