package local

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDirWatchCounts checks that a change is counted by the next Changes, with no
// wait, that ignored names and unwatched subdirectories count nothing, and that a
// closed watch is not trusted.
func TestDirWatchCounts(t *testing.T) {
	dir := t.TempDir()
	w, err := NewDirWatch(dir, func(name string) bool { return strings.HasPrefix(name, ".") })
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	last := uint64(0)
	expect := func(what string, changed bool) {
		t.Helper()
		n, ok := w.Changes()
		if !ok {
			t.Fatalf("%s: the watch is not trusted", what)
		}
		if (n != last) != changed {
			t.Fatalf("%s: changes %d -> %d, want changed=%v", what, last, n, changed)
		}
		last = n
	}
	write := func(name string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	expect("nothing done", false)
	write("a.parquet")
	expect("a file created", true)
	write(".quiver-tmp-1")
	expect("an ignored name", false)
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	expect("a directory made", true)
	write("sub/p.parquet")
	expect("a file in a directory not watched", false)
	if started, err := w.Watch("sub"); err != nil || !started {
		t.Fatalf("Watch(sub) = %v, %v; want true, nil", started, err)
	}
	if started, err := w.Watch("sub"); err != nil || started {
		t.Fatalf("Watch(sub) again = %v, %v; want false, nil", started, err)
	}
	if started, err := w.Watch("a.parquet"); err != nil || started {
		t.Fatalf("Watch of a file = %v, %v; want false, nil", started, err)
	}
	if started, err := w.Watch("gone"); err != nil || started {
		t.Fatalf("Watch of nothing = %v, %v; want false, nil", started, err)
	}
	write("sub/q.parquet")
	expect("a file in a watched directory", true)
	if err := os.Rename(filepath.Join(dir, "sub"), filepath.Join(dir, "moved")); err != nil {
		t.Fatal(err)
	}
	expect("the directory renamed", true)
	if started, err := w.Watch("moved"); err != nil || started {
		t.Fatalf("Watch(moved), the renamed watched directory = %v, %v; want false, nil (already watched)", started, err)
	}
	write("moved/r.parquet")
	expect("a file in the renamed directory", true)

	w.Close()
	if _, ok := w.Changes(); ok {
		t.Error("a closed watch is still trusted")
	}
}

// TestDirWatchRefusesProc: /proc's changes make no events; it is not watched.
func TestDirWatchRefusesProc(t *testing.T) {
	w, err := NewDirWatch("/proc", nil)
	if err == nil {
		w.Close()
		t.Fatal("NewDirWatch(/proc) succeeded")
	}
	if !errors.Is(err, ErrWatchUnsupported) {
		t.Fatalf("NewDirWatch(/proc): %v, want ErrWatchUnsupported", err)
	}
}
