package catalog

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/quiverdata/quiver/catalog/storage"
	"github.com/quiverdata/quiver/catalog/storage/local"
)

// memRoot is where crash tests keep their dataset root on a MemFS.
const memRoot = "/srv/quiver"

// plainBucket hides the local backend's filesystem operations (and LocalPath), so a
// store on it takes the manifest-only commit path of object storage.
type plainBucket struct{ storage.Bucket }

// openMemStore opens a store on the MemFS m, as the local backend or, with plain, as a
// bucket without filesystem operations. Opening sweeps, as after a restart.
func openMemStore(t testing.TB, m *local.MemFS, plain bool) *Store {
	t.Helper()
	// The direct path's commit steps; landing_crash_test.go crashes landed puts.
	return openMemStoreOpts(t, m, plain, Options{LandingBudget: -1})
}

// openMemStoreOpts is openMemStore with opts (its Logger and Allocator are set here).
func openMemStoreOpts(t testing.TB, m *local.MemFS, plain bool, opts Options) *Store {
	t.Helper()
	b, err := local.New(m, memRoot)
	if err != nil {
		t.Fatal(err)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	var bucket storage.Bucket = b
	if plain {
		bucket = plainBucket{b}
	}
	opts.Logger, opts.Allocator = quietLogger(), mem
	s, err := OpenBucket(context.Background(), bucket, opts)
	if err != nil {
		t.Fatalf("OpenBucket: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// crashCommit runs fn, taking at every crash point a commit reaches the filesystem as a
// crash there leaves it (only what was synced), and once more after fn returned: that
// last one, named "zz acknowledged", must hold everything fn's writes acknowledged.
func crashCommit(t testing.TB, m *local.MemFS, fn func()) map[string]*local.MemFS {
	t.Helper()
	crashes := map[string]*local.MemFS{}
	crashPoint = func(step string) {
		crashes[fmt.Sprintf("%02d %s", len(crashes), step)] = m.CrashClone()
	}
	defer func() { crashPoint = nil }()
	fn()
	if len(crashes) == 0 {
		t.Fatal("no crash point reached")
	}
	crashes["zz acknowledged"] = m.CrashClone()
	return crashes
}

// readCrashed reopens a crashed filesystem and returns the ids of dataset name, nil if
// it does not exist.
func readCrashed(t testing.TB, s *Store, name string) []int64 {
	t.Helper()
	r, err := s.Open(context.Background(), name)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		t.Fatalf("Open(%q) after a crash: %v", name, err)
	}
	defer r.Release()
	ids := drain(t, r)
	if ids == nil {
		ids = []int64{} // exists, empty: not the same as missing
	}
	return ids
}

// assertMemNoGarbage fails if the swept root holds temporaries or trash, or (with the
// local layout) a store-written part no manifest lists.
func assertMemNoGarbage(t testing.TB, s *Store, point string) {
	t.Helper()
	ctx := context.Background()
	b := s.bucket
	if pb, ok := b.(plainBucket); ok {
		b = pb.Bucket
	}
	fsys := b.(*local.Bucket).FS()
	entries, err := fsys.ReadDir(memRoot)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") && e.Name() != ".quiver-lock" {
			t.Errorf("crash at %q: root holds leftover %q", point, e.Name())
		}
		if !e.IsDir() || s.files == nil {
			continue
		}
		names, _, err := partNames(ctx, s.bucket, e.Name())
		if err != nil {
			t.Errorf("crash at %q: dataset dir %s: %v", point, e.Name(), err)
			continue
		}
		listed := map[string]bool{manifestName: true}
		for _, n := range names {
			listed[n] = true
		}
		inside, _ := fsys.ReadDir(path.Join(memRoot, e.Name()))
		for _, f := range inside {
			if strings.HasPrefix(f.Name(), ".") || !listed[f.Name()] {
				t.Errorf("crash at %q: dataset dir %s holds leftover %q", point, e.Name(), f.Name())
			}
		}
	}
}

// TestCrashLosingUnsyncedWrites crashes every kind of commit at every step on a
// filesystem that forgets whatever was not fsynced, reopens the store on what is left,
// and checks that the dataset is exactly its old or its new version, that the new one
// is there once the commit returned, and that the sweep leaves no garbage. Unlike
// TestCrashAtEveryCommitStep, which copies the directory, it catches a missing fsync.
func TestCrashLosingUnsyncedWrites(t *testing.T) {
	single := seq(0, 100)
	multi := seq(0, 150)
	tests := []struct {
		name   string
		multi  bool
		change func(t *testing.T, s *Store)
		want   []int64 // nil: dropped
	}{
		{"create", false, func(t *testing.T, s *Store) { put(t, s, "new", Create, 1000, 10) }, nil},
		{"replace single file", false, func(t *testing.T, s *Store) { put(t, s, "d", Replace, 500, 10) }, seq(500, 10)},
		{"append splits single file", false, func(t *testing.T, s *Store) { put(t, s, "d", Append, 500, 10) }, concat(single, seq(500, 10))},
		{"drop single file", false, func(t *testing.T, s *Store) { mustDrop(t, s, "d") }, nil},
		{"append to parts", true, func(t *testing.T, s *Store) { put(t, s, "d", Append, 500, 10) }, concat(multi, seq(500, 10))},
		{"replace parts", true, func(t *testing.T, s *Store) { put(t, s, "d", Replace, 500, 10) }, seq(500, 10)},
		{"drop parts", true, func(t *testing.T, s *Store) { mustDrop(t, s, "d") }, nil},
	}
	for _, plain := range []bool{false, true} {
		for _, tt := range tests {
			mode := "local layout"
			if plain {
				mode = "manifest only"
			}
			t.Run(mode+"/"+tt.name, func(t *testing.T) {
				m := local.NewMemFS()
				s := openMemStore(t, m, plain)
				old := single
				put(t, s, "d", Create, 0, 100)
				if tt.multi {
					put(t, s, "d", Append, 100, 50)
					old = multi
				}
				crashes := crashCommit(t, m, func() { tt.change(t, s) })
				points := make([]string, 0, len(crashes))
				for p := range crashes {
					points = append(points, p)
				}
				sort.Strings(points)
				for _, point := range points {
					cs := openMemStore(t, crashes[point], plain)
					acked := point == "zz acknowledged"
					if tt.name == "create" {
						got := readCrashed(t, cs, "new")
						if (got != nil || acked) && !equalIDs(got, seq(1000, 10)) {
							t.Errorf("crash at %q: new holds %s", point, abbrev(got))
						}
						if ids := readCrashed(t, cs, "d"); !equalIDs(ids, old) {
							t.Errorf("crash at %q: untouched dataset d holds %s", point, abbrev(ids))
						}
					} else {
						got := readCrashed(t, cs, "d")
						switch {
						case acked && !equalIDs(got, tt.want):
							t.Errorf("crash after the commit returned: d holds %d rows %s; want the new %s", len(got), abbrev(got), abbrev(tt.want))
						case !equalIDs(got, old) && !equalIDs(got, tt.want):
							t.Errorf("crash at %q: d holds %d rows %s; want old %s or new %s",
								point, len(got), abbrev(got), abbrev(old), abbrev(tt.want))
						}
					}
					assertMemNoGarbage(t, cs, point)
				}
			})
		}
	}
}
