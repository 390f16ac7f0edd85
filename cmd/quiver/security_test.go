package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/quiverdata/quiver/catalog"
	"github.com/quiverdata/quiver/flightsql"
	"github.com/quiverdata/quiver/flightsql/auth"
)

// runQuiver runs the quiver command line in-process.
func runQuiver(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRootCommand()
	root.SetArgs(args)
	root.SetIn(strings.NewReader(stdin))
	root.SetOut(&out)
	root.SetErr(&errOut)
	err = root.Execute()
	return out.String(), errOut.String(), err
}

// writeAuthFile makes an auth file with `quiver auth`: user "alice" (write) with the
// given password, and a read token it returns.
func writeAuthFile(t *testing.T, password string) (path, token string) {
	t.Helper()
	user, _, err := runQuiver(t, password+"\n", "auth", "hash-password", "--user", "alice", "--permission", "write", "--cost", "4")
	if err != nil {
		t.Fatal(err)
	}
	tok, tokErr, err := runQuiver(t, "", "auth", "new-token", "--name", "ci", "--permission", "read")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(tokErr), "\n")
	token = lines[len(lines)-1]
	path = filepath.Join(t.TempDir(), "auth.toml")
	if err := os.WriteFile(path, []byte(user+tok), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, token
}

func TestAuthCommandsMakeEntriesThatWork(t *testing.T) {
	path, token := writeAuthFile(t, "pass word:with colon")
	b, _ := os.ReadFile(path)
	if strings.Contains(string(b), "pass word") || strings.Contains(string(b), token) {
		t.Fatalf("auth file holds a secret:\n%s", b)
	}
	f, err := auth.LoadFile(path)
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	a, err := auth.New(f, auth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, p, err := a.Login(context.Background(), "alice", "pass word:with colon"); err != nil || p.Permission != auth.Write {
		t.Fatalf("login with the hashed password: %v, %v", p, err)
	}
	if p, err := a.Verify(token); err != nil || p.Permission != auth.Read {
		t.Fatalf("the printed token: %v, %v", p, err)
	}

	for _, args := range [][]string{
		{"auth", "hash-password"},
		{"auth", "hash-password", "--user", "bob", "--permission", "root"},
		{"auth", "new-token"},
		{"auth", "new-token", "--name", "x", "--datasets", "[oops"},
	} {
		if _, _, err := runQuiver(t, "pw\n", args...); err == nil {
			t.Errorf("%q succeeded", args)
		}
	}
	out, _, err := runQuiver(t, "", "auth", "new-token", "--name", "nightly", "--permission", "WRITE", "--datasets", "sales*,ref", "--expires-in", "24h")
	if err != nil {
		t.Fatal(err)
	}
	f, err = auth.ParseFile([]byte(out))
	if err != nil || len(f.Tokens) != 1 {
		t.Fatalf("%v\n%s", err, out)
	}
	if tk := f.Tokens[0]; tk.Permission != "write" || len(tk.Datasets) != 2 || time.Until(tk.Expires) < 23*time.Hour {
		t.Errorf("entry = %+v", tk)
	}
}

func TestSplitServerURI(t *testing.T) {
	cases := []struct {
		in     string
		target string
		tls    bool
		bad    bool
	}{
		{"localhost:8815", "localhost:8815", false, false},
		{"grpc://localhost:8815", "localhost:8815", false, false},
		{"grpc+tcp://10.0.0.1:8815", "10.0.0.1:8815", false, false},
		{"grpc+tls://quiver.example.com:443", "quiver.example.com:443", true, false},
		{"grpc+tls://[::1]:8815/", "[::1]:8815", true, false},
		{"http://localhost:8815", "", false, true},
		{"grpc://", "", false, true},
		{"grpc://host:1/path", "", false, true},
	}
	for _, c := range cases {
		target, tls, err := parseServer(c.in)
		if (err != nil) != c.bad || target != c.target || tls != c.tls {
			t.Errorf("parseServer(%q) = %q, %v, %v", c.in, target, tls, err)
		}
	}
}

func TestExposureCheck(t *testing.T) {
	loop4 := &net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 8815}
	loop6 := &net.TCPAddr{IP: net.ParseIP("::1"), Port: 8815}
	any4 := &net.TCPAddr{IP: net.IPv4zero, Port: 8815}
	any6 := &net.TCPAddr{IP: net.IPv6unspecified, Port: 8815}
	lan := &net.TCPAddr{IP: net.ParseIP("192.0.2.10"), Port: 8815}
	cases := []struct {
		name   string
		addr   net.Addr
		opts   securityOptions
		refuse bool
		warn   []string
	}{
		{"loopback v4, nothing", loop4, securityOptions{}, false, nil},
		{"loopback v6, nothing", loop6, securityOptions{}, false, nil},
		{"0.0.0.0, nothing", any4, securityOptions{}, true, nil},
		{":: , nothing", any6, securityOptions{}, true, nil},
		{"LAN, nothing", lan, securityOptions{}, true, nil},
		{"LAN, anonymous", lan, securityOptions{allowAnonymous: true}, false, []string{"without authentication", "without TLS"}},
		{"LAN, auth file", lan, securityOptions{authFile: "x"}, false, []string{"without TLS"}},
		{"LAN, auth file and TLS", lan, securityOptions{authFile: "x", tlsCert: "c", tlsKey: "k"}, false, nil},
		{"LAN, client certificates", lan, securityOptions{tlsClientCA: "ca", tlsCert: "c", tlsKey: "k"}, false, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var logs bytes.Buffer
			err := c.opts.checkExposure(slog.New(slog.NewTextHandler(&logs, nil)), c.addr)
			if c.refuse != errors.Is(err, errExposed) {
				t.Fatalf("err = %v, refuse = %v", err, c.refuse)
			}
			warns := strings.Count(logs.String(), "level=WARN")
			if warns != len(c.warn) {
				t.Errorf("%d warnings, want %d:\n%s", warns, len(c.warn), logs.String())
			}
			for _, w := range c.warn {
				if !strings.Contains(logs.String(), w) {
					t.Errorf("no warning saying %q:\n%s", w, logs.String())
				}
			}
		})
	}
}

func TestServeRefusesExposedAnonymousServer(t *testing.T) {
	opts := serveOptions{root: t.TempDir(), addr: "0.0.0.0:0", logFormat: "text", logLevel: "error", memoryTier: "0", maxMessageBytes: 1 << 20, shutdownGrace: time.Second}
	err := serve(context.Background(), opts)
	if !errors.Is(err, errExposed) || !strings.Contains(err.Error(), "--allow-anonymous") {
		t.Fatalf("serve on 0.0.0.0 without auth: %v, want a refusal naming --allow-anonymous", err)
	}

	// With --allow-anonymous it serves (until cancelled).
	opts.security.allowAnonymous = true
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, opts) }()
	select {
	case err := <-done:
		t.Fatalf("serve with --allow-anonymous stopped: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
}

// startSecured serves plain Flight on 127.0.0.1:0 with the options of opts.
func startSecured(t *testing.T, opts securityOptions) string {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	store, err := catalog.Open(t.TempDir(), catalog.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() }) // stops the converter of landed puts
	srv, err := flightsql.NewServer(flightsql.Config{Store: store, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	secOpts, stopAuth, err := opts.serverOptions(context.Background(), log, lis.Addr(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stopAuth)
	gs := grpc.NewServer(secOpts...)
	srv.Register(gs)
	done := make(chan struct{})
	go func() { defer close(done); gs.Serve(lis) }()
	t.Cleanup(func() { gs.Stop(); <-done })
	return lis.Addr().String()
}

// listAs connects with the client flags of sec to server and lists the datasets.
func listAs(t *testing.T, server string, sec clientSecurity) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := sec.connect(ctx, server)
	if err != nil {
		return err
	}
	defer c.Close()
	st, err := c.ListFlights(ctx, &flight.Criteria{})
	if err != nil {
		return err
	}
	for {
		if _, err := st.Recv(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

func TestTLSAndAuth(t *testing.T) {
	ca := newTestCA(t, "quiver-test")
	cert, key := ca.issue(t, "server", true)
	authFile, token := writeAuthFile(t, "s3cret-pw")
	addr := startSecured(t, securityOptions{tlsCert: cert, tlsKey: key, authFile: authFile, tokenTTL: time.Hour})

	cases := []struct {
		name   string
		server string
		sec    clientSecurity
		want   codes.Code
	}{
		{"TLS and token", "grpc+tls://" + addr, clientSecurity{tlsCA: ca.CertPEM, token: token}, codes.OK},
		{"TLS by --tls-ca on a bare address", addr, clientSecurity{tlsCA: ca.CertPEM, token: token}, codes.OK},
		{"TLS and password login", "grpc+tls://" + addr, clientSecurity{tlsCA: ca.CertPEM, user: "alice", password: "s3cret-pw"}, codes.OK},
		{"TLS, wrong password", "grpc+tls://" + addr, clientSecurity{tlsCA: ca.CertPEM, user: "alice", password: "nope"}, codes.Unauthenticated},
		{"TLS, no credentials", "grpc+tls://" + addr, clientSecurity{tlsCA: ca.CertPEM}, codes.Unauthenticated},
		{"TLS, unknown CA", "grpc+tls://" + addr, clientSecurity{token: token}, codes.Unavailable},
		{"TLS, wrong server name", "grpc+tls://" + addr, clientSecurity{tlsCA: ca.CertPEM, tlsServerName: "quiver.example.com", token: token}, codes.Unavailable},
		{"plaintext to a TLS server", "grpc://" + addr, clientSecurity{token: token}, codes.Unavailable},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("QUIVER_TOKEN", "")
			t.Setenv("QUIVER_USER", "")
			t.Setenv("QUIVER_PASSWORD", "")
			if err := listAs(t, c.server, c.sec); status.Code(err) != c.want {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}

	t.Run("token from QUIVER_TOKEN", func(t *testing.T) {
		t.Setenv("QUIVER_TOKEN", token)
		if err := listAs(t, "grpc+tls://"+addr, clientSecurity{tlsCA: ca.CertPEM}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("password from QUIVER_PASSWORD", func(t *testing.T) {
		t.Setenv("QUIVER_TOKEN", "")
		t.Setenv("QUIVER_USER", "alice")
		t.Setenv("QUIVER_PASSWORD", "s3cret-pw")
		if err := listAs(t, "grpc+tls://"+addr, clientSecurity{tlsCA: ca.CertPEM}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestMutualTLS(t *testing.T) {
	ca := newTestCA(t, "quiver-test")
	cert, key := ca.issue(t, "server", true)
	clientCert, clientKey := ca.issue(t, "client", false)
	rogue := newTestCA(t, "rogue")
	rogueCert, rogueKey := rogue.issue(t, "intruder", false)
	addr := "grpc+tls://" + startSecured(t, securityOptions{tlsCert: cert, tlsKey: key, tlsClientCA: ca.CertPEM})

	cases := []struct {
		name string
		sec  clientSecurity
		ok   bool
	}{
		{"client certificate from the CA", clientSecurity{tlsCA: ca.CertPEM, tlsCert: clientCert, tlsKey: clientKey}, true},
		{"no client certificate", clientSecurity{tlsCA: ca.CertPEM}, false},
		{"client certificate from another CA", clientSecurity{tlsCA: ca.CertPEM, tlsCert: rogueCert, tlsKey: rogueKey}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := listAs(t, addr, c.sec)
			if (err == nil) != c.ok {
				t.Fatalf("err = %v, want success %v", err, c.ok)
			}
			if err != nil && status.Code(err) != codes.Unavailable {
				t.Errorf("code %v, want Unavailable (the TLS handshake failed)", status.Code(err))
			}
		})
	}
	if _, err := (clientSecurity{tlsCert: clientCert}).dialOptions(true); err == nil {
		t.Error("--tls-cert without --tls-key accepted")
	}
}

func TestLoginLimitFlags(t *testing.T) {
	t.Setenv("QUIVER_TOKEN", "")
	t.Setenv("QUIVER_USER", "")
	t.Setenv("QUIVER_PASSWORD", "")
	authFile, _ := writeAuthFile(t, "s3cret-pw")
	wrong := clientSecurity{user: "alice", password: "nope"}
	right := clientSecurity{user: "alice", password: "s3cret-pw"}

	limited := startSecured(t, securityOptions{authFile: authFile, tokenTTL: time.Hour, loginMaxFailures: 2, loginLockoutMax: time.Minute, authReloadInterval: time.Hour})
	for i := range 2 {
		if err := listAs(t, limited, wrong); status.Code(err) != codes.Unauthenticated {
			t.Fatalf("wrong password #%d: %v, want Unauthenticated", i+1, err)
		}
	}
	err := listAs(t, limited, right)
	if status.Code(err) != codes.ResourceExhausted || !strings.Contains(err.Error(), "try again in") {
		t.Fatalf("after --login-max-failures 2 failures: %v, want ResourceExhausted with a retry hint", err)
	}

	// --login-max-failures 0: no lockout.
	unlimited := startSecured(t, securityOptions{authFile: authFile, tokenTTL: time.Hour})
	for i := range 8 {
		if err := listAs(t, unlimited, wrong); status.Code(err) != codes.Unauthenticated {
			t.Fatalf("wrong password #%d: %v, want Unauthenticated", i+1, err)
		}
	}
	if err := listAs(t, unlimited, right); err != nil {
		t.Fatalf("right password without a limit: %v", err)
	}

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	loop := &net.TCPAddr{IP: net.ParseIP("127.0.0.1")}
	for _, o := range []securityOptions{
		{authFile: authFile, loginConcurrency: -1},
		{authFile: authFile, loginMaxFailures: -1},
		{authFile: authFile, loginLockoutMax: -time.Second},
		{authFile: authFile, authReloadInterval: -time.Second},
	} {
		if _, _, err := o.serverOptions(context.Background(), log, loop, nil); err == nil || !strings.Contains(err.Error(), "must not be negative") {
			t.Errorf("%+v: %v, want a refusal of the negative value", o, err)
		}
	}
}
