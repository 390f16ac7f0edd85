package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/spf13/pflag"
	"golang.org/x/term"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
)

// How a client subcommand connects: clientSecurity.connect dials with the TLS flags
// and attaches the credentials to every call as per-RPC credentials, so commands use
// plain contexts.

// clientSecurity holds the TLS and credential flags of the client subcommands.
// Secrets may come from the environment instead of flags, which other users of the
// machine can read in the process list: QUIVER_TOKEN, QUIVER_PASSWORD (and QUIVER_USER).
type clientSecurity struct {
	tlsCA         string
	tlsCert       string
	tlsKey        string
	tlsServerName string
	token         string
	user          string
	password      string
}

// addFlags registers the flags on f (a persistent flag set works too).
func (c *clientSecurity) addFlags(f *pflag.FlagSet) {
	f.StringVar(&c.tlsCA, "tls-ca", "", "PEM CA bundle to verify the server's certificate (implies TLS; default: the system's roots)")
	f.StringVar(&c.tlsCert, "tls-cert", "", "PEM client certificate for mutual TLS (implies TLS; needs --tls-key)")
	f.StringVar(&c.tlsKey, "tls-key", "", "PEM private key of --tls-cert")
	f.StringVar(&c.tlsServerName, "tls-server-name", "", "name to verify the server's certificate against (default: the host of --server)")
	f.StringVar(&c.token, "token", "", "bearer token (default $QUIVER_TOKEN)")
	f.StringVar(&c.user, "user", "", "user name for a password login (default $QUIVER_USER)")
	f.StringVar(&c.password, "password", "", "password for --user (default $QUIVER_PASSWORD; prefer the variable: flags show in the process list)")
}

// resolved fills unset credentials from the environment.
func (c clientSecurity) resolved() clientSecurity {
	if c.token == "" {
		c.token = os.Getenv("QUIVER_TOKEN")
	}
	if c.user == "" {
		c.user = os.Getenv("QUIVER_USER")
	}
	if c.password == "" {
		c.password = os.Getenv("QUIVER_PASSWORD")
	}
	return c
}

// tlsFlagsGiven reports whether a flag asks for TLS.
func (c clientSecurity) tlsFlagsGiven() bool {
	return c.tlsCA != "" || c.tlsCert != "" || c.tlsKey != "" || c.tlsServerName != ""
}

// dialOptions are the gRPC dial options of the flags: TLS (with the CA, client
// certificate and server name given) when useTLS or a TLS flag asks for it,
// plaintext otherwise.
func (c clientSecurity) dialOptions(useTLS bool) ([]grpc.DialOption, error) {
	if !useTLS && !c.tlsFlagsGiven() {
		return []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, nil
	}
	cfg, err := c.tlsConfig()
	if err != nil {
		return nil, err
	}
	return []grpc.DialOption{grpc.WithTransportCredentials(credentials.NewTLS(cfg))}, nil
}

// tlsConfig is the client's TLS configuration of the flags.
func (c clientSecurity) tlsConfig() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.tlsServerName}
	if c.tlsCA != "" {
		pool, err := loadCertPool(c.tlsCA)
		if err != nil {
			return nil, fmt.Errorf("--tls-ca: %w", err)
		}
		cfg.RootCAs = pool
	}
	switch {
	case c.tlsCert != "" && c.tlsKey != "":
		cert, err := tls.LoadX509KeyPair(c.tlsCert, c.tlsKey)
		if err != nil {
			return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	case c.tlsCert != "" || c.tlsKey != "":
		return nil, errors.New("--tls-cert and --tls-key go together")
	}
	return cfg, nil
}

// connect dials server with the TLS flags and logs in if the flags ask for it; every
// call on the returned client carries the credentials.
func (c clientSecurity) connect(ctx context.Context, server string, extra ...grpc.DialOption) (flight.Client, error) {
	target, useTLS, err := parseServer(server)
	if err != nil {
		return nil, err
	}
	opts, err := c.dialOptions(useTLS)
	if err != nil {
		return nil, err
	}
	creds := &bearerCredentials{}
	opts = append(opts, grpc.WithPerRPCCredentials(creds))
	client, err := flight.NewClientWithMiddlewareCtx(ctx, target, nil, nil, append(opts, extra...)...)
	if err != nil {
		return nil, err
	}
	authed, err := c.authContext(ctx, client)
	if err != nil {
		client.Close()
		return nil, err
	}
	if md, ok := metadata.FromOutgoingContext(authed); ok {
		if v := md.Get("authorization"); len(v) > 0 {
			creds.set(v[len(v)-1])
		}
	}
	return client, nil
}

// askPassword asks for user's password on the terminal, without echo. Without a
// terminal on stdin it fails: a script sets QUIVER_PASSWORD. Tests replace it.
var askPassword = func(user string) (string, error) {
	if !isTerminal(os.Stdin) {
		return "", errors.New("stdin is not a terminal to ask on")
	}
	fmt.Fprintf(os.Stderr, "Password for %s: ", user)
	pw, err := term.ReadPassword(int(os.Stdin.Fd()))
	fmt.Fprintln(os.Stderr)
	if err != nil {
		return "", fmt.Errorf("read the password: %w", err)
	}
	return string(pw), nil
}

// bearerCredentials sends the authorization header it was given with every call.
type bearerCredentials struct {
	mu    sync.Mutex
	value string // e.g. "Bearer qvs_..."; empty: none
}

func (b *bearerCredentials) set(v string) {
	b.mu.Lock()
	b.value = v
	b.mu.Unlock()
}

// GetRequestMetadata implements credentials.PerRPCCredentials.
func (b *bearerCredentials) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.value == "" {
		return nil, nil
	}
	return map[string]string{"authorization": b.value}, nil
}

// RequireTransportSecurity is false: a token over plaintext on loopback is the
// operator's call, and the server warns about plaintext on other addresses.
func (b *bearerCredentials) RequireTransportSecurity() bool { return false }

// authContext returns ctx with the credentials every call must carry: the token as
// `authorization: Bearer ...`, or, for --user/--password, the token a Basic login
// (Flight Handshake) on client returns. Without credentials it returns ctx as is.
func (c clientSecurity) authContext(ctx context.Context, client flight.Client) (context.Context, error) {
	c = c.resolved()
	switch {
	case c.token != "" && c.user != "":
		return nil, errors.New("give a token or a user name, not both")
	case c.token != "":
		return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+c.token), nil
	case c.user != "":
		if c.password == "" {
			pw, err := askPassword(c.user)
			if err != nil {
				return nil, fmt.Errorf("--user needs a password: set QUIVER_PASSWORD (or --password): %w", err)
			}
			c.password = pw
		}
		authed, err := client.AuthenticateBasicToken(ctx, c.user, c.password)
		if err != nil {
			return nil, fmt.Errorf("log in as %q: %w", c.user, err)
		}
		return authed, nil
	case c.password != "":
		return nil, errors.New("a password without --user (or QUIVER_USER)")
	}
	return ctx, nil
}
