// Package s3test starts a real S3-compatible server for tests: versitygw with its posix
// backend, on a free loopback port, in a t.TempDir(), stopped by t.Cleanup.
//
// The binary is built once by integration/s3/versitygw.sh into <repo>/bin/versitygw
// (QUIVER_VERSITYGW overrides the path). Where it is missing, tests that need it skip
// with a message saying how to install it; under CI=true they fail instead, so a CI run
// can never pass by skipping the object-storage tests.
//
// It is for tests only: it starts processes and calls t.Fatal.
package s3test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Credentials and region of every server this package starts. They are test-only values
// for a server that listens on loopback.
const (
	AccessKey = "quiver-test-access"
	SecretKey = "quiver-test-secret-key"
	Region    = "us-east-1"
)

// startTimeout bounds how long a start waits for the server to answer HTTP.
const startTimeout = 20 * time.Second

// Server is a running versitygw.
type Server struct {
	// Endpoint is the server's base URL, "http://127.0.0.1:PORT".
	Endpoint string
	// Dir is the posix backend's root: each bucket is a directory in it.
	Dir string

	cmd  *exec.Cmd
	logs *lockedBuffer
	done chan struct{} // closed when the process has exited
}

// Binary returns the path of the versitygw binary, or "" when it is not installed.
func Binary() string {
	if p := os.Getenv("QUIVER_VERSITYGW"); p != "" {
		return p
	}
	if root, err := repoRoot(); err == nil {
		p := filepath.Join(root, "bin", "versitygw")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	return ""
}

// Require skips the test when versitygw is not installed, or fails it under CI=true.
// It returns the binary's path.
func Require(t testing.TB) string {
	t.Helper()
	bin := Binary()
	if bin != "" {
		return bin
	}
	msg := "versitygw is not installed: run `bash integration/s3/versitygw.sh` " +
		"(or `make tools`) to build it into bin/, or set QUIVER_VERSITYGW"
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true: the S3 tests may not be skipped)", msg)
	}
	t.Skipf("SKIPPING S3 TEST: %s", msg)
	return ""
}

// Start runs a versitygw on a free loopback port with an empty posix root and waits until
// it answers. The server is stopped, and its root removed, when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := Require(t)
	dir := t.TempDir()
	var lastErr error
	// The free port is found by binding :0 and closing it, so another process can take it
	// before versitygw binds it; a few attempts make that race harmless.
	for attempt := 0; attempt < 3; attempt++ {
		s, err := start(bin, dir)
		if err == nil {
			t.Cleanup(s.stop)
			return s
		}
		lastErr = err
	}
	t.Fatalf("start versitygw: %v", lastErr)
	return nil
}

func start(bin, dir string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(bin, "--port", addr, "--quiet", "posix", dir)
	// A minimal environment: versitygw reads many VGW_* and logging variables, and the
	// tests must not depend on what the caller's shell has set.
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + dir,
		"ROOT_ACCESS_KEY=" + AccessKey,
		"ROOT_SECRET_KEY=" + SecretKey,
		"VGW_REGION=" + Region,
	}
	logs := &lockedBuffer{}
	cmd.Stdout = logs
	cmd.Stderr = logs
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("run %s: %w", bin, err)
	}
	s := &Server{Endpoint: "http://" + addr, Dir: dir, cmd: cmd, logs: logs, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(s.done)
	}()
	if err := s.waitReady(); err != nil {
		s.stop()
		return nil, fmt.Errorf("%w; server output:\n%s", err, logs.String())
	}
	return s, nil
}

// waitReady polls until the server answers any HTTP response (an unsigned request gets
// 403, which is an answer), the process exits, or startTimeout passes.
func (s *Server) waitReady() error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return errors.New("versitygw exited during start")
		default:
		}
		resp, err := client.Get(s.Endpoint + "/")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("versitygw did not answer at %s within %s", s.Endpoint, startTimeout)
}

func (s *Server) stop() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// Logs returns what the server printed so far (for failure messages).
func (s *Server) Logs() string { return s.logs.String() }

// Client returns an S3 client for the server: path-style, the test credentials, no
// retries beyond the SDK's defaults.
func (s *Server) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:       Region,
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKey, SecretKey, ""),
	})
}

// NewBucket creates a bucket with a fresh name and returns the name.
func (s *Server) NewBucket(t testing.TB) string {
	t.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("random bucket name: %v", err)
	}
	name := "quiver-" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := s.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("create bucket %q on %s: %v\nserver output:\n%s", name, s.Endpoint, err, s.Logs())
	}
	return name
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// repoRoot walks up from the working directory to the directory holding go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if st, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil && !st.IsDir() {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// lockedBuffer collects a process's output; os/exec writes to it from its own goroutine.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	// Keep the first 64 KiB: enough to explain a failed start, bounded for a long test.
	if room := 64<<10 - b.buf.Len(); room > 0 {
		if len(p) > room {
			b.buf.Write(p[:room])
		} else {
			b.buf.Write(p)
		}
	}
	return len(p), nil
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.TrimSpace(b.buf.String())
}
