package catalog

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/quiverdata/quiver/catalog/storage/local"
)

// scanAgrees checks that s.Scan now equals a fresh listing of the root, and returns
// how many listings the Scan made.
func scanAgrees(t *testing.T, s *Store, what string) int64 {
	t.Helper()
	ctx := context.Background()
	before := s.scans.listings.Load()
	got, err := s.Scan(ctx)
	if err != nil {
		t.Fatalf("%s: Scan: %v", what, err)
	}
	made := s.scans.listings.Load() - before
	want, err := s.scanRoot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got, want) {
		t.Fatalf("%s: Scan = %v, but the root lists %v", what, got, want)
	}
	return made
}

// settleScan scans until Scan answers from its last listing (a dataset directory seen
// for the first time is watched, then listed once more).
func settleScan(t *testing.T, s *Store, what string) {
	t.Helper()
	for range 3 {
		if scanAgrees(t, s, what) == 0 {
			return
		}
	}
	t.Fatalf("%s: every Scan lists the root: the root is not watched", what)
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestScanWatchSeesEveryChange makes each kind of change a person or a tool makes to
// a root by hand and checks that the very next Scan shows it, and that a Scan with
// nothing changed reads no directory.
func TestScanWatchSeesEveryChange(t *testing.T) {
	s, _ := newTestStore(t)
	root := s.Root()
	file := func(name, content string) { mustDo(t, os.WriteFile(filepath.Join(root, name), []byte(content), 0o644)) }
	file("a.parquet", "one")
	settleScan(t, s, "start")
	if n := scanAgrees(t, s, "nothing changed"); n != 0 {
		t.Fatalf("a Scan with nothing changed made %d listings, want 0", n)
	}

	later := time.Now().Add(time.Hour)
	changes := []struct {
		what string
		do   func()
	}{
		{"a file copied in", func() { file("b.parquet", "two") }},
		{"rewritten in place, same size", func() { file("a.parquet", "ONE") }},
		{"rewritten in place, longer", func() { file("a.parquet", "one, longer") }},
		{"touched", func() { mustDo(t, os.Chtimes(filepath.Join(root, "a.parquet"), later, later)) }},
		{"renamed over another", func() { mustDo(t, os.Rename(filepath.Join(root, "b.parquet"), filepath.Join(root, "a.parquet"))) }},
		{"deleted", func() { mustDo(t, os.Remove(filepath.Join(root, "a.parquet"))) }},
		{"a dataset directory made", func() { mustDo(t, os.Mkdir(filepath.Join(root, "d"), 0o755)) }},
		{"a part copied into it", func() { file("d/p1.parquet", "part") }},
		{"a part renamed inside it", func() {
			mustDo(t, os.Rename(filepath.Join(root, "d", "p1.parquet"), filepath.Join(root, "d", "p2.parquet")))
		}},
		{"the directory touched", func() { mustDo(t, os.Chtimes(filepath.Join(root, "d"), later, later)) }},
		{"a part removed from it", func() { mustDo(t, os.Remove(filepath.Join(root, "d", "p2.parquet"))) }},
		{"the directory renamed", func() { mustDo(t, os.Rename(filepath.Join(root, "d"), filepath.Join(root, "e"))) }},
		{"a part copied into the renamed directory", func() { file("e/p3.parquet", "part") }},
		{"the directory removed", func() { mustDo(t, os.RemoveAll(filepath.Join(root, "e"))) }},
	}
	for _, c := range changes {
		c.do()
		if n := scanAgrees(t, s, c.what); n == 0 {
			t.Fatalf("%s: Scan answered from its last listing", c.what)
		}
		settleScan(t, s, c.what)
	}

	// Names Scan leaves out change nothing it shows, and cost no listing.
	file(".hidden", "x")
	file(tempPrefix+"upload", "x")
	if n := scanAgrees(t, s, "hidden and temporary files"); n != 0 {
		t.Errorf("a hidden or temporary file in the root made Scan list it (%d listings)", n)
	}
}

// TestScanWatchAgreesWithListing runs random changes on a root, some in dataset
// directories and some racing the Scans, and checks after each that Scan equals a
// fresh listing: the watch against what it stands for.
func TestScanWatchAgreesWithListing(t *testing.T) {
	for seed := range uint64(8) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { scanAgainstListing(t, seed) })
	}
}

func scanAgainstListing(t *testing.T, seed uint64) {
	s, _ := newTestStore(t)
	root := s.Root()
	rng := rand.New(rand.NewPCG(seed, 2))
	names := []string{"a.parquet", "b.parquet", "c", "d", ".x"}
	pick := func() string { return names[rng.IntN(len(names))] }
	path := func(name string) string { return filepath.Join(root, name) }
	ops := []func(){
		func() { _ = os.WriteFile(path(pick()), fmt.Appendf(nil, "%d", rng.IntN(1000)), 0o644) },
		func() { _ = os.Remove(path(pick())) },
		func() { _ = os.Rename(path(pick()), path(pick())) },
		func() { _ = os.Mkdir(path(pick()), 0o755) },
		func() { _ = os.WriteFile(filepath.Join(path(pick()), pick()), []byte("part"), 0o644) },
		func() { _ = os.Remove(filepath.Join(path(pick()), pick())) },
		func() { _ = os.RemoveAll(path(pick())) },
		func() {
			at := time.Unix(int64(rng.IntN(1<<30)), 0)
			_ = os.Chtimes(path(pick()), at, at)
		},
	}
	for i := range 400 {
		ops[rng.IntN(len(ops))]()
		scanAgrees(t, s, fmt.Sprintf("change %d", i))
		if rng.IntN(4) == 0 {
			scanAgrees(t, s, fmt.Sprintf("again after change %d", i))
		}
	}
	if s.scans.watch == nil {
		t.Fatal("the root was not watched: the test compared listings with listings")
	}
}

// TestScanWatchOverflowLists drops more events than the kernel queues: the watch
// cannot be trusted any more, and every Scan lists the root.
func TestScanWatchOverflowLists(t *testing.T) {
	if testing.Short() {
		t.Skip("makes 20,000 files")
	}
	s, _ := newTestStore(t)
	root := s.Root()
	settleScan(t, s, "start")
	for i := range 20000 {
		mustDo(t, os.WriteFile(filepath.Join(root, fmt.Sprintf("f%05d", i%500)), nil, 0o644))
	}
	for range 2 {
		if n := scanAgrees(t, s, "after an overflow"); n == 0 {
			t.Fatal("Scan answered from its last listing after the kernel dropped events")
		}
	}
}

// TestScanWithoutWatchLists: a root the store cannot watch (here an in-memory
// filesystem) is listed by every Scan.
func TestScanWithoutWatchLists(t *testing.T) {
	s := openMemStore(t, local.NewMemFS(), false)
	for i := range 3 {
		if n := scanAgrees(t, s, fmt.Sprintf("scan %d", i)); n != 1 {
			t.Fatalf("scan %d of an unwatched root made %d listings, want 1", i, n)
		}
	}
}

// TestScanAfterCloseLists: Close stops the watch; a Scan after it still answers,
// from a listing.
func TestScanAfterCloseLists(t *testing.T) {
	s, _ := newTestStore(t)
	settleScan(t, s, "start")
	mustDo(t, s.Close())
	mustDo(t, os.WriteFile(filepath.Join(s.Root(), "late.parquet"), nil, 0o644))
	if n := scanAgrees(t, s, "after Close"); n != 1 {
		t.Fatalf("a Scan after Close made %d listings, want 1", n)
	}
}
