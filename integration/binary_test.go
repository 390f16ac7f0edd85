package integration

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Tests of the real `quiver` binary: flags, the address log line, default root and
// graceful shutdown on SIGTERM.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// quiverBinary builds cmd/quiver once per test run. The duckdb_arrow tag is what
// release builds use (the engine needs it); passing it now is harmless.
func quiverBinary(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary; skipped under -short")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "quiver-bin-")
		if err != nil {
			buildErr = err
			return
		}
		atExit(func() { os.RemoveAll(dir) })
		binPath = filepath.Join(dir, "quiver")
		out, err := exec.Command("go", "build", "-tags", "duckdb_arrow", "-o", binPath, "github.com/quiverdata/quiver/cmd/quiver").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// quiverProcess is a running `quiver serve`.
type quiverProcess struct {
	cmd    *exec.Cmd
	addr   string // HOST:PORT from the grpc:// log line
	mu     sync.Mutex
	log    bytes.Buffer
	exited bool       // Wait returned; guarded by mu
	done   chan error // the result of Wait
}

var addrLine = regexp.MustCompile(`grpc://(\S+)`)

// startQuiver runs the binary with args in dir and waits for its address line.
func startQuiver(t testing.TB, dir string, args ...string) *quiverProcess {
	t.Helper()
	p := &quiverProcess{cmd: exec.Command(quiverBinary(t), append([]string{"serve"}, args...)...), done: make(chan error, 1)}
	p.cmd.Dir = dir
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.log.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			if m := addrLine.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
		io.Copy(io.Discard, stderr)
		err := p.cmd.Wait()
		p.mu.Lock()
		p.exited = true
		p.mu.Unlock()
		p.done <- err
	}()
	t.Cleanup(func() {
		p.mu.Lock()
		exited := p.exited // not cmd.ProcessState: Wait writes it on another goroutine
		p.mu.Unlock()
		if !exited {
			p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("quiver log:\n%s", p.logText())
		}
	})
	select {
	case p.addr = <-addr:
	case err := <-p.done:
		p.done <- err
		t.Fatalf("quiver exited before logging its address: %v\n%s", err, p.logText())
	case <-time.After(30 * time.Second):
		t.Fatalf("no grpc:// address logged within 30s:\n%s", p.logText())
	}
	return p
}

func (p *quiverProcess) logText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// terminate sends SIGTERM and returns the exit error and how long the exit took.
func (p *quiverProcess) terminate(t testing.TB, limit time.Duration) (error, time.Duration) {
	t.Helper()
	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	return p.wait(t, start, limit)
}

// wait waits for the exit after a signal sent at start.
func (p *quiverProcess) wait(t testing.TB, start time.Time, limit time.Duration) (error, time.Duration) {
	t.Helper()
	select {
	case err := <-p.done:
		return err, time.Since(start)
	case <-time.After(limit):
		t.Fatalf("quiver still running %v after SIGTERM:\n%s", limit, p.logText())
		return nil, 0
	}
}

func dial(t testing.TB, addr string) flight.Client {
	t.Helper()
	c, err := flight.NewClientWithMiddlewareCtx(context.Background(), addr, nil, nil,
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestBinaryServePutGet(t *testing.T) {
	root := newBinaryRoot(t)
	p := root.serve(t)
	c := dial(t, p.addr)

	rec := characters(memory.DefaultAllocator)
	defer rec.Release()
	putRecords(t, c, "uploaded.parquet", rec.Schema(), rec)
	if got, err := tryGet(context.Background(), c, []byte("uploaded.parquet")); err != nil || !slices.Equal(got, []string{"Mario", "Luigi", "Peach"}) {
		t.Fatalf("DoGet = %q, %v", got, err)
	}
	srv := &testServer{Root: root.Root}
	if entries := srv.rootEntries(t); len(entries) == 0 || !slices.Contains(entries, "uploaded.parquet") && !srv.isMultiPart(t, "uploaded.parquet") {
		t.Errorf("the dataset is not in --root %s, which holds %q", root.Root, entries)
	}
	if err, _ := p.terminate(t, 30*time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
}

func TestBinaryDefaultRoot(t *testing.T) {
	cwd := t.TempDir()
	p := startQuiver(t, cwd, "--addr", "127.0.0.1:0")
	if st, err := os.Stat(filepath.Join(cwd, "datasets")); err != nil || !st.IsDir() {
		t.Fatalf("default root ./datasets not created: %v", err)
	}
	c := dial(t, p.addr)
	rec := characters(memory.DefaultAllocator)
	defer rec.Release()
	putRecords(t, c, "uploaded.parquet", rec.Schema(), rec)
	// A put is acknowledged once landed; its Parquet file is written in the
	// background, and a read through the server waits for it (catalog/landing.go).
	if _, err := c.GetFlightInfo(context.Background(), pathDescriptor("uploaded.parquet")); err != nil {
		t.Fatalf("GetFlightInfo after the put: %v", err)
	}
	if _, err := os.Stat(filepath.Join(cwd, "datasets", "uploaded.parquet")); err != nil {
		t.Errorf("put did not land in ./datasets: %v", err)
	}
	if err, _ := p.terminate(t, 30*time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
}

// TestBinarySIGTERMDuringPut signals the server while a large upload is in flight.
// When the upload finishes within the grace period it commits; when it outlasts the
// grace period it is cancelled. Either way the process exits 0, soon, and leaves the
// old or the new version and no temporary file.
func TestBinarySIGTERMDuringPut(t *testing.T) {
	const rowsPerBatch = 64 << 10
	for _, tc := range []struct {
		name    string
		grace   time.Duration
		batches int           // the whole upload
		pause   time.Duration // between batches after the signal
		wantNew bool
	}{
		{name: "put-finishes-within-grace", grace: 20 * time.Second, batches: 60, wantNew: true},
		{name: "put-outlasts-grace", grace: time.Second, batches: 100000, pause: 5 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bin := newBinaryRoot(t)
			root := bin.Root
			p := bin.serve(t, "--shutdown-grace", tc.grace.String())
			c := dial(t, p.addr)
			old := int64Record(memory.DefaultAllocator, "v", -3, 3)
			defer old.Release()
			putRecords(t, c, "big.parquet", old.Schema(), old)

			batch := int64Record(memory.DefaultAllocator, "v", 0, rowsPerBatch)
			defer batch.Release()
			signalled := make(chan struct{})
			reached := make(chan struct{}) // the client has sent 20 batches
			putErr := make(chan error, 1)
			go func() {
				putErr <- func() error {
					stream, err := c.DoPut(context.Background())
					if err != nil {
						return err
					}
					w := flight.NewRecordWriter(stream, ipc.WithSchema(batch.Schema()))
					defer w.Close()
					w.SetFlightDescriptor(pathDescriptor("big.parquet"))
					for i := 0; i < tc.batches; i++ {
						if i == 20 {
							close(reached)
							<-signalled
						}
						if i > 20 && tc.pause > 0 {
							time.Sleep(tc.pause)
						}
						if err := w.Write(batch); err != nil {
							return err
						}
					}
					if err := w.Close(); err != nil {
						return err
					}
					if err := stream.CloseSend(); err != nil {
						return err
					}
					for {
						if _, err := stream.Recv(); err != nil {
							if err == io.EOF {
								return nil
							}
							return err
						}
					}
				}()
			}()
			// Signal once the server is writing the new version. On S3 nothing of it is
			// in the bucket before 8 MiB of Parquet fill the first multipart part, so
			// there it is once the client has sent 20 batches.
			select {
			case <-reached:
			case err := <-putErr:
				t.Fatalf("the put ended before its 20th batch: %v", err)
			case <-time.After(30 * time.Second):
				t.Fatal("the client did not send 20 batches within 30s")
			}
			deadline := time.Now().Add(30 * time.Second)
			for !onS3() && len(tempFiles(t, root)) == 0 {
				if time.Now().After(deadline) {
					t.Fatal("the upload never reached the server's disk")
				}
				time.Sleep(5 * time.Millisecond)
			}
			start := time.Now()
			if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			close(signalled) // the client sends the rest of the upload
			err, took := p.wait(t, start, tc.grace+30*time.Second)
			if err != nil {
				t.Fatalf("exit after SIGTERM: %v", err)
			}
			// A loose bound (the machine is shared): the grace period plus slack.
			if limit := tc.grace + 10*time.Second; took > limit {
				t.Errorf("took %v to exit, want under %v", took, limit)
			}
			perr := <-putErr
			t.Logf("exit after %v; the client's put returned %v", took, perr)
			if tc.wantNew && perr != nil {
				t.Errorf("the put that fits the grace period failed: %v", perr)
			}

			if left := tempFiles(t, root); len(left) != 0 {
				t.Errorf("temporary files left after exit: %q", left)
			}
			// Read what is stored with a fresh server over the same root. Its sweep
			// would hide leftovers, which is why they were checked first.
			again := bin.serve(t)
			got, err := tryGet(context.Background(), dial(t, again.addr), []byte("big.parquet"))
			if err != nil {
				t.Fatal(err)
			}
			isOld := slices.Equal(got, []string{"-3", "-2", "-1"})
			isNew := len(got) == tc.batches*rowsPerBatch && got[0] == "0" && got[len(got)-1] == fmt.Sprint(rowsPerBatch-1)
			switch {
			case !isOld && !isNew:
				t.Fatalf("big.parquet has %d rows, neither the old version nor the new", len(got))
			case tc.wantNew && !isNew:
				t.Errorf("big.parquet is the old version; the put that fits the grace period should have committed")
			case !tc.wantNew && isNew:
				t.Errorf("big.parquet is the new version of a put that cannot have finished")
			}
		})
	}
}
