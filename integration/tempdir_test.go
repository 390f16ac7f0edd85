package integration

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// quiverTempDirs lists the quiver-duckdb-* directories under parent.
func quiverTempDirs(t testing.TB, parent string) []string {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(parent, "quiver-duckdb-*"))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(dirs)
	return dirs
}

// TestBinaryTempDirSweep: each server spills into its own quiver-duckdb-* directory
// under --temp-dir. A SIGKILLed server's directory, with whatever it spilled, is
// removed by the next server to start there; a live server's survives another
// server's start, and goes when that server stops.
func TestBinaryTempDirSweep(t *testing.T) {
	parent := t.TempDir()
	start := func() (*quiverProcess, string) {
		t.Helper()
		before := quiverTempDirs(t, parent)
		p := newBinaryRoot(t).serve(t, "--temp-dir", parent, "--max-temp-size", "1GiB")
		var own []string
		for _, d := range quiverTempDirs(t, parent) {
			if !slices.Contains(before, d) {
				own = append(own, d)
			}
		}
		if len(own) != 1 {
			t.Fatalf("new quiver-duckdb-* dirs after a start: %q, want 1", own)
		}
		return p, own[0]
	}

	killed, killedDir := start()
	spill := filepath.Join(killedDir, "duckdb_temp_storage_S32K-0.tmp")
	if err := os.WriteFile(spill, make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := killed.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-killed.done
	if _, err := os.Stat(spill); err != nil {
		t.Fatalf("the killed server's spill is already gone: %v", err)
	}

	live, liveDir := start()
	if got := quiverTempDirs(t, parent); !slices.Equal(got, []string{liveDir}) {
		t.Fatalf("after a start following a SIGKILL: %q, want only %q", got, liveDir)
	}

	other, otherDir := start()
	want := []string{liveDir, otherDir}
	slices.Sort(want)
	if got := quiverTempDirs(t, parent); !slices.Equal(got, want) {
		t.Fatalf("a live server's dir was swept: %q, want %q", got, want)
	}
	for _, p := range []*quiverProcess{live, other} {
		if err, _ := p.terminate(t, 30*time.Second); err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	}
	if got := quiverTempDirs(t, parent); len(got) != 0 {
		t.Fatalf("dirs left after both servers stopped: %q", got)
	}
	if log := live.logText(); !strings.Contains(log, "max_temp_size=1GiB") {
		t.Errorf("the engine's log line does not show the cap:\n%s", log)
	}
}
