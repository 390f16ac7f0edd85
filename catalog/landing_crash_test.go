package catalog

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"sort"
	"syscall"
	"testing"
	"time"

	"github.com/quiverdata/quiver/catalog/storage/local"
)

// TestCrashLandedPut crashes landed puts at every step, from the landing's first
// batch to the removal of the converted landing, on a filesystem that forgets what
// was not fsynced, and reopens the store on what is left (Open converts leftover
// landings). Before the acknowledgement the dataset is its old version or a state
// a put in between would leave; from the acknowledgement on it holds every
// acknowledged put exactly once, and the sweep and the conversion leave no garbage.
func TestCrashLandedPut(t *testing.T) {
	single := seq(0, 100)
	multi := seq(0, 150)
	tests := []struct {
		name   string
		multi  bool
		change []func(t *testing.T, s *Store)
		// states[i] is the dataset after the first i changes.
		states func(old []int64) [][]int64
	}{
		{"create", false,
			[]func(t *testing.T, s *Store){func(t *testing.T, s *Store) { put(t, s, "new", Create, 1000, 10) }},
			nil},
		{"replace single file", false,
			[]func(t *testing.T, s *Store){func(t *testing.T, s *Store) { put(t, s, "d", Replace, 500, 10) }},
			func(old []int64) [][]int64 { return [][]int64{old, seq(500, 10)} }},
		{"append splits single file", false,
			[]func(t *testing.T, s *Store){func(t *testing.T, s *Store) { put(t, s, "d", Append, 500, 10) }},
			func(old []int64) [][]int64 { return [][]int64{old, concat(old, seq(500, 10))} }},
		{"append to parts", true,
			[]func(t *testing.T, s *Store){func(t *testing.T, s *Store) { put(t, s, "d", Append, 500, 10) }},
			func(old []int64) [][]int64 { return [][]int64{old, concat(old, seq(500, 10))} }},
		{"replace parts", true,
			[]func(t *testing.T, s *Store){func(t *testing.T, s *Store) { put(t, s, "d", Replace, 500, 10) }},
			func(old []int64) [][]int64 { return [][]int64{old, seq(500, 10)} }},
		{"append then replace then append", true,
			[]func(t *testing.T, s *Store){
				func(t *testing.T, s *Store) { put(t, s, "d", Append, 500, 10) },
				func(t *testing.T, s *Store) { put(t, s, "d", Replace, 600, 10) },
				func(t *testing.T, s *Store) { put(t, s, "d", Append, 700, 10) },
			},
			func(old []int64) [][]int64 {
				return [][]int64{old, concat(old, seq(500, 10)), seq(600, 10), concat(seq(600, 10), seq(700, 10))}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := local.NewMemFS()
			s := openMemStoreOpts(t, m, false, Options{})
			old := single
			put(t, s, "d", Create, 0, 100)
			if tt.multi {
				put(t, s, "d", Append, 100, 50)
				old = multi
			}
			settle(t, s)

			// The converter waits until every change is acknowledged, so that the
			// crash points of the puts and of the conversions come one at a time.
			release := holdConverter(t)
			crashes := map[string]*local.MemFS{}
			point := func(step string) string { return fmt.Sprintf("%02d %s", len(crashes), step) }
			crashPoint = func(step string) { crashes[point(step)] = m.CrashClone() }
			acked := make([]int, len(tt.change)) // crash points reached before each ack
			for i, change := range tt.change {
				change(t, s)
				acked[i] = len(crashes)
			}
			release()
			settle(t, s)
			crashPoint = nil
			crashes[point("all converted")] = m.CrashClone()

			points := make([]string, 0, len(crashes))
			for p := range crashes {
				points = append(points, p)
			}
			sort.Strings(points)
			for idx, p := range points {
				cs := openMemStoreOpts(t, crashes[p], false, Options{})
				if tt.states == nil { // create
					got := readCrashed(t, cs, "new")
					if (got != nil || idx >= acked[0]) && !equalIDs(got, seq(1000, 10)) {
						t.Errorf("crash at %q: new holds %s", p, abbrev(got))
					}
					if ids := readCrashed(t, cs, "d"); !equalIDs(ids, old) {
						t.Errorf("crash at %q: untouched dataset d holds %s", p, abbrev(ids))
					}
				} else {
					// At least the acknowledged changes, in order, each whole.
					states := tt.states(old)
					least := 0
					for i, a := range acked {
						if idx >= a {
							least = i + 1
						}
					}
					got := readCrashed(t, cs, "d")
					ok := false
					for _, st := range states[least:] {
						ok = ok || equalIDs(got, st)
					}
					if !ok {
						t.Errorf("crash at %q (after %d acknowledged puts): d holds %d rows %s; want one of %d states from %s",
							p, least, len(got), abbrev(got), len(states)-least, abbrev(states[least]))
					}
				}
				if got := landingFiles(t, cs); len(got) != 0 {
					t.Errorf("crash at %q: reopened store left landings %v", p, got)
				}
				assertMemNoGarbage(t, cs, p)
				cs.Close()
			}
			if len(points) < 6 {
				t.Fatalf("only %d crash points reached: %v", len(points), points)
			}
		})
	}
}

const landKillEnv = "QUIVER_LANDING_KILL_ROOT"

// TestKilledLandingHelper is not a test: run by TestKilledMidConversion in a
// subprocess, it lands an append to dataset d and freezes its conversion at the step
// named by $QUIVER_LANDING_KILL_STEP, printing "frozen" so that it can be killed there.
func TestKilledLandingHelper(t *testing.T) {
	root := os.Getenv(landKillEnv)
	if root == "" {
		t.Skip("helper process for TestKilledMidConversion")
	}
	step := os.Getenv("QUIVER_LANDING_KILL_STEP")
	crashPoint = func(reachedStep string) {
		if reachedStep == step {
			fmt.Println("frozen")
			select {}
		}
	}
	s, err := Open(root, Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	put(t, s, "d", Append, 1000, 100_000)
	fmt.Println("acknowledged")
	select {}
}

// TestKilledMidConversion SIGKILLs a process whose landed append is being converted
// (or has just been acknowledged), at each step, and reopens the root: the append is
// there exactly once and nothing is left behind.
func TestKilledMidConversion(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a subprocess")
	}
	for _, step := range []string{"land: landing written", "convert: part written", "commit to dir: part moved in", "convert: committed", "convert: landing removed"} {
		t.Run(step, func(t *testing.T) {
			root := t.TempDir()
			s, _ := openTestStore(t, root, Options{})
			put(t, s, "d", Create, 0, 100)
			put(t, s, "d", Append, 100, 100)
			settle(t, s)
			s.Close()

			cmd := exec.Command(os.Args[0], "-test.run=^TestKilledLandingHelper$", "-test.v")
			cmd.Env = append(os.Environ(), landKillEnv+"="+root, "QUIVER_LANDING_KILL_STEP="+step)
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			frozen := make(chan string, 2)
			go func() {
				sc := bufio.NewScanner(out)
				for sc.Scan() {
					if l := sc.Text(); l == "frozen" || l == "acknowledged" {
						frozen <- l
					}
				}
				close(frozen)
			}()
			var seen []string
			timeout := time.After(60 * time.Second)
			for len(seen) == 0 || seen[len(seen)-1] != "frozen" {
				select {
				case l, ok := <-frozen:
					if !ok {
						t.Fatalf("helper exited before freezing at %q (saw %v)", step, seen)
					}
					seen = append(seen, l)
				case <-timeout:
					cmd.Process.Kill()
					t.Fatalf("helper did not reach %q", step)
				}
			}
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			cmd.Wait()

			s2, _ := openTestStore(t, root, Options{})
			// "land: landing written" comes before the acknowledgement: the landing is
			// complete and synced, so it is converted too.
			assertIDs(t, s2, "d", concat(seq(0, 200), seq(1000, 100_000)))
			if got := landingFiles(t, s2); len(got) != 0 {
				t.Fatalf("landings left after reopen: %v", got)
			}
			assertNoGarbage(t, root)
			if got := listDir(t, root); !reflect.DeepEqual(got, []string{"d"}) {
				t.Fatalf("root holds %v", got)
			}
		})
	}
}
