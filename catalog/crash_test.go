package catalog

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// TestCrashAtEveryCommitStep copies the root at every step of each kind of commit, as
// a crash there would leave it, and opens a store on each copy: the dataset must be
// exactly the old or the new version, and the sweep must leave no garbage.
func TestCrashAtEveryCommitStep(t *testing.T) {
	single := seq(0, 100)
	multi := seq(0, 150)
	tests := []struct {
		name   string
		multi  bool
		change func(t *testing.T, s *Store)
		want   []int64 // nil: dropped
	}{
		{"create", false, func(t *testing.T, s *Store) { put(t, s, "new", Create, 0, 10) }, nil},
		{"replace single file", false, func(t *testing.T, s *Store) { put(t, s, "d", Replace, 500, 10) }, seq(500, 10)},
		{"append splits single file", false, func(t *testing.T, s *Store) { put(t, s, "d", Append, 500, 10) }, concat(single, seq(500, 10))},
		{"drop single file", false, func(t *testing.T, s *Store) { mustDrop(t, s, "d") }, nil},
		{"append to parts", true, func(t *testing.T, s *Store) { put(t, s, "d", Append, 500, 10) }, concat(multi, seq(500, 10))},
		{"replace parts", true, func(t *testing.T, s *Store) { put(t, s, "d", Replace, 500, 10) }, seq(500, 10)},
		{"drop parts", true, func(t *testing.T, s *Store) { mustDrop(t, s, "d") }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			s, _ := openTestStore(t, root, Options{LandingBudget: -1}) // landing_crash_test.go crashes landed puts
			old := single
			put(t, s, "d", Create, 0, 100)
			if tt.multi {
				put(t, s, "d", Append, 100, 50)
				old = multi
			}
			snaps := snapshotCommit(t, root, func() { tt.change(t, s) })
			for point, snap := range snaps {
				if tt.name == "create" {
					got := readSnapshot(t, snap, "new")
					if got != nil && !equalIDs(got, seq(0, 10)) {
						t.Errorf("crash at %q: new holds %s", point, abbrev(got))
					}
					if ids := readSnapshot(t, snap, "d"); !equalIDs(ids, old) {
						t.Errorf("crash at %q: untouched dataset d holds %s", point, abbrev(ids))
					}
					continue
				}
				got := readSnapshot(t, snap, "d")
				if !equalIDs(got, old) && !equalIDs(got, tt.want) {
					t.Errorf("crash at %q: d holds %d rows %s; want old %s or new %s",
						point, len(got), abbrev(got), abbrev(old), abbrev(tt.want))
				}
			}
			// And the live store, after the change, has the new version.
			if tt.want != nil {
				assertIDs(t, s, "d", tt.want)
			}
			assertNoGarbage(t, root)
		})
	}
}

// crashRootEnv names the root for the helper process of TestKilledMidPut.
const crashRootEnv = "QUIVER_CATALOG_CRASH_ROOT"

// endless streams batches of testSchema until the process is killed, printing
// "streaming" once some are on their way to disk.
type endless struct {
	scriptedReader
	mem  memory.Allocator
	sent atomic.Int64
}

func (e *endless) Next() bool {
	if e.cur != nil {
		e.cur.Release()
	}
	n := e.sent.Add(1)
	e.cur = makeBatch(e.mem, n*1000, 1000)
	if n == 50 {
		os.Stdout.WriteString("streaming\n")
	}
	return true
}

// TestKilledMidPutHelper is not a test: run by TestKilledMidPut in a subprocess, it
// replaces dataset d with an endless stream until it is killed.
func TestKilledMidPutHelper(t *testing.T) {
	root := os.Getenv(crashRootEnv)
	if root == "" {
		t.Skip("helper process for TestKilledMidPut")
	}
	opts := Options{Logger: quietLogger(), RowGroupRows: 10_000}
	if os.Getenv("QUIVER_CRASH_DIRECT") != "" {
		opts.LandingBudget = -1 // encode on the request path, as over budget
	}
	s, err := Open(root, opts)
	if err != nil {
		t.Fatal(err)
	}
	rdr := &endless{mem: memory.NewGoAllocator()}
	rdr.schema = testSchema
	_, err = s.Put(context.Background(), "d", Replace, rdr)
	t.Fatalf("endless put returned: %v", err)
}

// TestKilledMidPut SIGKILLs a process in the middle of streaming a large replace and
// an append, landed (the temp file is the landing's) or encoded directly, then opens
// the root: the old version is intact and the temp file swept.
func TestKilledMidPut(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a subprocess")
	}
	for _, tc := range []struct {
		multi, direct bool
	}{{false, false}, {true, false}, {false, true}, {true, true}} {
		multi := tc.multi
		name := "single file"
		if multi {
			name = "multi-part"
		}
		if tc.direct {
			name += "/direct"
		} else {
			name += "/landed"
		}
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			s, _ := openTestStore(t, root, Options{})
			want := seq(0, 100)
			put(t, s, "d", Create, 0, 100)
			if multi {
				put(t, s, "d", Append, 100, 100)
				want = seq(0, 200)
			}
			settle(t, s)
			before := listDir(t, root)

			cmd := exec.Command(os.Args[0], "-test.run=^TestKilledMidPutHelper$", "-test.v")
			cmd.Env = append(os.Environ(), crashRootEnv+"="+root)
			if tc.direct {
				cmd.Env = append(cmd.Env, "QUIVER_CRASH_DIRECT=1")
			}
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			streaming := make(chan bool, 1)
			go func() {
				sc := bufio.NewScanner(out)
				for sc.Scan() {
					if strings.Contains(sc.Text(), "streaming") {
						streaming <- true
					}
				}
				close(streaming)
			}()
			select {
			case ok := <-streaming:
				if !ok {
					t.Fatal("helper exited before streaming")
				}
			case <-time.After(60 * time.Second):
				cmd.Process.Kill()
				t.Fatal("helper did not start streaming")
			}
			// The temp file must exist and grow: the kill lands mid-put.
			if tmps := tempEntries(t, root); len(tmps) != 1 {
				t.Fatalf("while streaming, root holds temp entries %v, want one", tmps)
			}
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			cmd.Wait()

			// The killed process's temp file is still there ...
			if tmps := tempEntries(t, root); len(tmps) != 1 {
				t.Fatalf("after kill, root holds temp entries %v, want one", tmps)
			}
			// ... until a store opens the root.
			s2, _ := openTestStore(t, root, Options{})
			if got := listDir(t, root); !reflect.DeepEqual(got, before) {
				t.Fatalf("after reopen root holds %v, before the put %v", got, before)
			}
			assertNoGarbage(t, root)
			assertIDs(t, s2, "d", want)
		})
	}
}

func tempEntries(t *testing.T, root string) []string {
	var tmps []string
	for _, n := range listDir(t, root) {
		if strings.HasPrefix(n, tempPrefix) {
			tmps = append(tmps, n)
		}
	}
	return tmps
}
