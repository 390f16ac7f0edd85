package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestServeConsoleRefusesExposedAnonymous(t *testing.T) {
	opts := serveOptions{root: t.TempDir(), addr: "127.0.0.1:0", logFormat: "text", logLevel: "error", memoryTier: "0",
		maxMessageBytes: 1 << 20, shutdownGrace: time.Second, console: consoleOptions{addr: "0.0.0.0:0"}}
	err := serve(context.Background(), opts)
	if !errors.Is(err, errExposed) || !strings.Contains(err.Error(), "--http-addr") || !strings.Contains(err.Error(), "--allow-anonymous") {
		t.Fatalf("serve with --http-addr 0.0.0.0 without auth: %v, want a refusal naming --http-addr and --allow-anonymous", err)
	}

	// With --allow-anonymous it serves, over plain HTTP, every Host (no loopback-only
	// check: the operator chose to expose it).
	opts.security.allowAnonymous = true
	ready := make(chan net.Addr, 1)
	opts.console.ready = func(a net.Addr) { ready <- a }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, opts) }()
	var addr net.Addr
	select {
	case err := <-done:
		t.Fatalf("serve with --allow-anonymous stopped: %v", err)
	case addr = <-ready:
	}
	port := addr.(*net.TCPAddr).Port
	code, body := httpGet(t, "http://127.0.0.1:"+strconv.Itoa(port)+"/api/session")
	if code != 200 || !strings.Contains(body, `"auth_required":false`) {
		t.Fatalf("GET /api/session: %d %s", code, body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
}

// TestServeConsoleTLSAndAuth serves the console with the Flight port's certificate
// and auth file: HTTPS only, logins with the same users and tokens, a Secure cookie,
// and a prompt stop with the Flight server.
func TestServeConsoleTLSAndAuth(t *testing.T) {
	ca := newTestCA(t, "quiver-test")
	cert, key := ca.issue(t, "server", true)
	authFile, token := writeAuthFile(t, "s3cret-pw")
	ready := make(chan net.Addr, 1)
	backend := newTestBackend(t)
	opts := serveOptions{
		root: backend.root, storage: backend.storage, addr: "127.0.0.1:0", logFormat: "text", logLevel: "error", memoryTier: "0",
		maxMessageBytes: 1 << 20, shutdownGrace: 5 * time.Second, queryTimeout: time.Minute,
		security: securityOptions{tlsCert: cert, tlsKey: key, authFile: authFile, tokenTTL: time.Hour},
		console:  consoleOptions{addr: "127.0.0.1:0", ready: func(a net.Addr) { ready <- a }},
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, opts) }()
	var addr net.Addr
	select {
	case err := <-done:
		t.Fatalf("serve: %v", err)
	case addr = <-ready:
	case <-time.After(30 * time.Second):
		t.Fatal("the console did not start")
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			cancel()
			<-done
		}
	})
	base := "https://" + addr.String()
	pem, err := os.ReadFile(ca.CertPEM)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	do := func(method, path, body string, hdr ...string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	if resp, body := do("GET", "/api/datasets", ""); resp.StatusCode != 401 {
		t.Fatalf("without credentials: %d %s", resp.StatusCode, body)
	}
	if resp, body := do("GET", "/api/datasets", "", "Authorization", "Bearer "+token); resp.StatusCode != 200 {
		t.Fatalf("with the auth file's token: %d %s", resp.StatusCode, body)
	}
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:s3cret-pw"))
	if resp, body := do("POST", "/api/query", `{"sql":"SELECT 1 AS one"}`, "Authorization", basic); resp.StatusCode != 200 || !strings.Contains(body, `[[1]]`) {
		t.Fatalf("query with Basic credentials: %d %s", resp.StatusCode, body)
	}
	resp, body := do("POST", "/api/login", `{"user":"alice","password":"s3cret-pw"}`)
	if resp.StatusCode != 200 {
		t.Fatalf("login: %d %s", resp.StatusCode, body)
	}
	setCookie := strings.Join(resp.Header.Values("Set-Cookie"), "; ")
	for _, attr := range []string{"quiver_session=", "HttpOnly", "Secure", "SameSite=Strict", "Path=/"} {
		if !strings.Contains(setCookie, attr) {
			t.Errorf("Set-Cookie %q lacks %s", setCookie, attr)
		}
	}
	if resp, body := do("GET", "/api/status", ""); resp.StatusCode != 200 || !strings.Contains(body, `"version"`) {
		t.Fatalf("status with the cookie: %d %s", resp.StatusCode, body)
	}
	// Plain HTTP to the HTTPS port gets nothing useful.
	if resp, err := http.Get("http://" + addr.String() + "/api/session"); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatalf("plain HTTP answered 200: %s", b)
		}
	}
	start := time.Now()
	cancel()
	stopped = true
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Fatalf("stopping took %v", d)
	}
	if _, err := net.DialTimeout("tcp", addr.String(), time.Second); err == nil {
		t.Fatal("the console still accepts connections after serve returned")
	}
}

// TestServeConsoleStopsWithLongQuery stops the server while a console query runs:
// the query gets the grace period, is then interrupted, and serve returns within
// grace + stopMargin.
func TestServeConsoleStopsWithLongQuery(t *testing.T) {
	ready := make(chan net.Addr, 1)
	backend := newTestBackend(t)
	opts := serveOptions{
		root: backend.root, storage: backend.storage, addr: "127.0.0.1:0", logFormat: "text", logLevel: "error", memoryTier: "0",
		maxMessageBytes: 1 << 20, shutdownGrace: 500 * time.Millisecond, queryTimeout: time.Minute, threads: 1,
		console: consoleOptions{addr: "127.0.0.1:0", ready: func(a net.Addr) { ready <- a }},
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- serve(ctx, opts) }()
	var addr net.Addr
	select {
	case err := <-done:
		t.Fatalf("serve: %v", err)
	case addr = <-ready:
	}
	answered := make(chan string, 1)
	go func() {
		resp, err := http.Post("http://"+addr.String()+"/api/query", "application/json",
			strings.NewReader(`{"sql":"SELECT count(*) FROM range(1000000000000)"}`))
		if err != nil {
			answered <- "error: " + err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		answered <- strconv.Itoa(resp.StatusCode) + " " + string(b)
	}()
	time.Sleep(300 * time.Millisecond) // the query is running
	start := time.Now()
	cancel()
	select {
	case <-done:
	case <-time.After(opts.shutdownGrace + stopMargin + 2*time.Second):
		t.Fatal("serve did not return after the grace period and the stop margin")
	}
	if d := time.Since(start); d < opts.shutdownGrace-50*time.Millisecond {
		t.Fatalf("serve returned after %v, before the grace period was over", d)
	}
	select {
	case a := <-answered:
		if strings.HasPrefix(a, "200") {
			t.Fatalf("the interrupted query answered %s", a)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the console request was left hanging")
	}
}
