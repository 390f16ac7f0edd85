package catalog

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

func TestListAndStat(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	put(t, s, "zeta.parquet", Create, 0, 300)
	put(t, s, "alpha", Create, 0, 100)
	put(t, s, "mid", Create, 0, 100)
	put(t, s, "mid", Append, 100, 200) // multi-part

	list, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, info := range list {
		names = append(names, info.Name)
	}
	if want := []string{"alpha", "mid", "zeta.parquet"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("List names %v, want %v", names, want)
	}
	wantRows := map[string]int64{"alpha": 100, "mid": 300, "zeta.parquet": 300}
	for _, info := range list {
		if info.Rows != wantRows[info.Name] {
			t.Errorf("%s: Rows %d, want %d", info.Name, info.Rows, wantRows[info.Name])
		}
		if !info.Schema.Equal(testSchema) || info.Schema.Metadata().Len() != 0 {
			t.Errorf("%s: schema %v, want %v", info.Name, info.Schema, testSchema)
		}
		var size int64
		for _, f := range info.Files {
			st, err := os.Stat(f)
			if err != nil {
				t.Fatal(err)
			}
			size += st.Size()
			if filepath.Dir(f) != s.Root() && filepath.Dir(f) != filepath.Join(s.Root(), info.Name) {
				t.Errorf("%s: file %s outside its dataset", info.Name, f)
			}
		}
		if info.Bytes != size || size == 0 {
			t.Errorf("%s: Bytes %d, want the files' size %d", info.Name, info.Bytes, size)
		}
		if info.Modified.IsZero() || time.Since(info.Modified) > time.Minute {
			t.Errorf("%s: Modified %v", info.Name, info.Modified)
		}
		if info.Table() != strings.TrimSuffix(info.Name, ".parquet") {
			t.Errorf("%s: Table %q", info.Name, info.Table())
		}
		st, err := s.Stat(ctx, info.Name)
		if err != nil {
			t.Fatal(err)
		}
		if st.Version != info.Version || st.Rows != info.Rows || st.Bytes != info.Bytes {
			t.Errorf("%s: Stat %+v differs from List %+v", info.Name, st, info)
		}
	}
	if len(list[1].Files) != 2 {
		t.Errorf("mid: %d files, want 2 parts", len(list[1].Files))
	}

	for _, name := range []string{"../alpha", "a/b", ""} {
		if _, err := s.Stat(ctx, name); !errors.Is(err, ErrInvalidName) {
			t.Errorf("Stat(%q) = %v, want ErrInvalidName", name, err)
		}
	}
	if _, err := s.Stat(ctx, "nothing"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `"nothing"`) {
		t.Errorf("Stat(nothing) = %v, want ErrNotFound naming it", err)
	}
}

func TestListEmptyRootAndCancel(t *testing.T) {
	s, _ := newTestStore(t)
	list, err := s.List(context.Background())
	if err != nil || len(list) != 0 {
		t.Fatalf("List of an empty root = %v, %v", list, err)
	}
	put(t, s, "a", Create, 0, 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.List(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("List with a cancelled context = %v", err)
	}
	if _, err := s.Stat(ctx, "a"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Stat with a cancelled context = %v", err)
	}
	if _, err := s.Open(ctx, "a"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Open with a cancelled context = %v", err)
	}
	if err := s.Drop(ctx, "a"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Drop with a cancelled context = %v", err)
	}
}

func TestHandDroppedDatasets(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	writeIDsFile(t, filepath.Join(root, "sales.parquet"), 0, 50)
	parts := filepath.Join(root, "events")
	if err := os.Mkdir(parts, 0o755); err != nil {
		t.Fatal(err)
	}
	// Lexical order is read order without a manifest.
	writeIDsFile(t, filepath.Join(parts, "b.parquet"), 10, 10)
	writeIDsFile(t, filepath.Join(parts, "a.parquet"), 0, 10)
	writeIDsFile(t, filepath.Join(parts, "c.parquet"), 20, 5)
	if err := os.WriteFile(filepath.Join(parts, "README.txt"), []byte("not a part"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "notes.txt"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "garbage.parquet"), []byte("PAR1 but not really"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(root, "emptydir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bad name.parquet"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, ".DS_Store"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}

	s, _ := openTestStore(t, root, Options{})
	for i := 0; i < 2; i++ { // the second time from the cache
		list, err := s.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int64{}
		for _, info := range list {
			got[info.Name] = info.Rows
		}
		if want := map[string]int64{"events": 25, "sales.parquet": 50}; !reflect.DeepEqual(got, want) {
			t.Fatalf("List = %v, want %v", got, want)
		}
	}
	assertIDs(t, s, "sales.parquet", seq(0, 50))
	assertIDs(t, s, "events", seq(0, 25))

	for _, name := range []string{"notes.txt", "garbage.parquet", "emptydir"} {
		if _, err := s.Stat(ctx, name); !errors.Is(err, ErrUnreadable) || !strings.Contains(err.Error(), name) {
			t.Errorf("Stat(%q) = %v, want ErrUnreadable naming it", name, err)
		}
		if _, err := s.Open(ctx, name); !errors.Is(err, ErrUnreadable) {
			t.Errorf("Open(%q) = %v, want ErrUnreadable", name, err)
		}
	}

	// A hand-dropped directory becomes store-managed on append.
	put(t, s, "events", Append, 25, 10)
	assertIDs(t, s, "events", seq(0, 35))
	// Replacing an unreadable file is allowed; creating over it is not.
	put(t, s, "garbage.parquet", Replace, 0, 5)
	assertIDs(t, s, "garbage.parquet", seq(0, 5))
	rdr := batches(s.opts.Allocator, 0, 1, 1)
	defer rdr.Release()
	if _, err := s.Put(ctx, "notes.txt", Create, rdr); !errors.Is(err, ErrAlreadyExists) {
		t.Errorf("Create over notes.txt = %v, want ErrAlreadyExists", err)
	}
}

// TestReplaceHandDroppedDirectory replaces a directory of parts that has no manifest.
// No moment may show the old parts and the new one together: at every step of the
// commit, a store opened on a copy of the root reads the old or the new version.
func TestReplaceHandDroppedDirectory(t *testing.T) {
	for _, mode := range []PutMode{Replace, Append} {
		t.Run(mode.String(), func(t *testing.T) {
			root := t.TempDir()
			dir := filepath.Join(root, "events")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			writeIDsFile(t, filepath.Join(dir, "a.parquet"), 0, 10)
			writeIDsFile(t, filepath.Join(dir, "z.parquet"), 10, 10)
			s, _ := openTestStore(t, root, Options{LandingBudget: -1}) // the direct path's commit steps
			old := seq(0, 20)
			want := seq(100, 10)
			if mode == Append {
				want = concat(old, want)
			}
			points := snapshotCommit(t, root, func() { put(t, s, "events", mode, 100, 10) })
			for point, snap := range points {
				got := readSnapshot(t, snap, "events")
				if !equalIDs(got, old) && !equalIDs(got, want) {
					t.Errorf("crash at %q: events holds %s, neither old %s nor new %s", point, abbrev(got), abbrev(old), abbrev(want))
				}
			}
			assertIDs(t, s, "events", want)
		})
	}
}

func TestFilesChangedBehindTheStore(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	p := filepath.Join(s.Root(), "d.parquet")
	writeIDsFile(t, p, 0, 10)
	info, err := s.Stat(ctx, "d.parquet")
	if err != nil || info.Rows != 10 {
		t.Fatalf("Stat = %+v, %v", info, err)
	}
	// Overwrite in place (same inode) with different rows.
	writeIDsFile(t, p, 0, 20)
	list, err := s.List(ctx)
	if err != nil || len(list) != 1 || list[0].Rows != 20 {
		t.Fatalf("List after overwrite = %+v, %v; want 20 rows", list, err)
	}
	if list[0].Version == info.Version {
		t.Errorf("Version unchanged after overwrite")
	}
	assertIDs(t, s, "d.parquet", seq(0, 20))

	// Replace by rename (new inode), keeping size and modification time.
	tmp := filepath.Join(t.TempDir(), "x")
	writeIDsFile(t, tmp, 1000, 20)
	st, _ := os.Stat(p)
	if err := os.Chtimes(tmp, st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, p); err != nil {
		t.Skipf("rename across file systems: %v", err)
	}
	assertIDs(t, s, "d.parquet", seq(1000, 20))

	// Becomes garbage: unreadable, and no longer listed.
	if err := os.WriteFile(p, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(ctx, "d.parquet"); !errors.Is(err, ErrUnreadable) {
		t.Fatalf("Stat of garbage = %v", err)
	}
	if list, _ := s.List(ctx); len(list) != 0 {
		t.Fatalf("List shows %v", list)
	}
	// Removed by hand.
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(ctx, "d.parquet"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Stat of removed = %v", err)
	}
	// A part added by hand to a manifest-less directory shows up.
	dir := filepath.Join(s.Root(), "parts")
	os.Mkdir(dir, 0o755)
	writeIDsFile(t, filepath.Join(dir, "1.parquet"), 0, 5)
	if info, err := s.Stat(ctx, "parts"); err != nil || info.Rows != 5 {
		t.Fatalf("Stat(parts) = %+v, %v", info, err)
	}
	writeIDsFile(t, filepath.Join(dir, "2.parquet"), 5, 5)
	if info, err := s.Stat(ctx, "parts"); err != nil || info.Rows != 10 {
		t.Fatalf("Stat(parts) after adding a part = %+v, %v", info, err)
	}
}

func TestDrop(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	put(t, s, "single", Create, 0, 10)
	put(t, s, "multi", Create, 0, 10)
	put(t, s, "multi", Append, 10, 10)
	for _, name := range []string{"single", "multi"} {
		if err := s.Drop(ctx, name); err != nil {
			t.Fatalf("Drop(%q): %v", name, err)
		}
		if _, err := s.Stat(ctx, name); !errors.Is(err, ErrNotFound) {
			t.Errorf("Stat after drop = %v, want ErrNotFound", err)
		}
		if _, err := s.Open(ctx, name); !errors.Is(err, ErrNotFound) {
			t.Errorf("Open after drop = %v, want ErrNotFound", err)
		}
		err := s.Drop(ctx, name)
		if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), name) {
			t.Errorf("second Drop = %v, want ErrNotFound naming it", err)
		}
	}
	if err := s.Drop(ctx, "../etc"); !errors.Is(err, ErrInvalidName) {
		t.Errorf("Drop(../etc) = %v", err)
	}
	if got := listDir(t, s.Root()); len(got) != 0 {
		t.Errorf("root holds %v after dropping everything", got)
	}
	if list, _ := s.List(ctx); len(list) != 0 {
		t.Errorf("List after drops = %v", list)
	}
	// The name is free again, also for another spelling of the table.
	put(t, s, "Single.parquet", Create, 0, 3)
	assertIDs(t, s, "Single.parquet", seq(0, 3))
}

func TestOpenSweepsCrashLeftovers(t *testing.T) {
	root := t.TempDir()
	s, _ := openTestStore(t, root, Options{})
	put(t, s, "single", Create, 0, 10)
	put(t, s, "multi", Create, 0, 10)
	put(t, s, "multi", Append, 10, 10)
	settle(t, s)
	handDir := filepath.Join(root, "hand")
	os.Mkdir(handDir, 0o755)
	writeIDsFile(t, filepath.Join(handDir, "part-1.parquet"), 0, 4)

	mustWrite := func(p string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("half a Parquet file"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mustWrite(filepath.Join(root, tempPrefix+"0123"))
	mustWrite(filepath.Join(root, tempPrefix+"dir", "part-x.parquet"))
	mustWrite(filepath.Join(root, trashPrefix+"dead", "part-y.parquet"))
	mustWrite(filepath.Join(root, "multi", tempPrefix+"manifest"))
	mustWrite(filepath.Join(root, "multi", "part-00000000000000000001-deadbeef.parquet"))
	// A manifest-less directory is the user's: nothing in it is swept but temp files.
	mustWrite(filepath.Join(handDir, tempPrefix+"x"))

	s2, _ := openTestStore(t, root, Options{})
	assertNoGarbage(t, root)
	if got, want := listDir(t, root), []string{"hand", "multi", "single"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("root after sweep %v, want %v", got, want)
	}
	if got := listDir(t, handDir); !reflect.DeepEqual(got, []string{"part-1.parquet"}) {
		t.Fatalf("hand dir after sweep %v", got)
	}
	if got := listDir(t, filepath.Join(root, "multi")); len(got) != 3 {
		t.Fatalf("multi after sweep %v, want manifest and two parts", got)
	}
	assertIDs(t, s2, "single", seq(0, 10))
	assertIDs(t, s2, "multi", seq(0, 20))
	assertIDs(t, s2, "hand", seq(0, 4))
}

func TestPinKeepsRetiredParts(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	put(t, s, "d", Create, 0, 10)
	put(t, s, "d", Append, 10, 10)
	before, err := s.Stat(ctx, "d")
	if err != nil {
		t.Fatal(err)
	}
	unpin := s.Pin()
	put(t, s, "d", Replace, 100, 5)
	if err := s.Drop(ctx, "d"); err != nil {
		t.Fatal(err)
	}
	for _, f := range before.Files {
		if _, err := os.Stat(f); err == nil {
			continue
		}
		// Drop moves the directory to the trash; the part is there until unpinned.
		t.Logf("%s moved by drop", f)
	}
	if n := s.reclaim.pendingCount(); n != 3 {
		t.Fatalf("pending %d, want 3 (two parts retired by the replace, the trash of the drop)", n)
	}
	// A pin taken after the retirements does not hold them.
	unpin2 := s.Pin()
	unpin()
	unpin() // a second call is harmless
	if n := s.reclaim.pendingCount(); n != 0 {
		t.Fatalf("pending %d after unpin, want 0", n)
	}
	unpin2()
	if got := listDir(t, s.Root()); len(got) != 0 {
		t.Fatalf("root holds %v after unpin", got)
	}
}

func TestPinKeepsFilesOfReplacedMultiPart(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	put(t, s, "d", Create, 0, 10)
	put(t, s, "d", Append, 10, 10)
	before, _ := s.Stat(ctx, "d")
	unpin := s.Pin()
	put(t, s, "d", Replace, 100, 5)
	settle(t, s) // the replace's commit retires the parts
	for _, f := range before.Files {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("pinned part %s gone: %v", f, err)
		}
	}
	unpin()
	for _, f := range before.Files {
		if _, err := os.Stat(f); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("retired part %s still there after unpin: %v", f, err)
		}
	}
	assertNoGarbage(t, s.Root())
}

func TestReclaimerEpochs(t *testing.T) {
	dir := t.TempDir()
	file := func(n string) string {
		p := filepath.Join(dir, n)
		os.WriteFile(p, nil, 0o644)
		return p
	}
	exists := func(p string) bool { _, err := os.Stat(p); return err == nil }
	r := newReclaimer(quietLogger(), os.RemoveAll)
	a := file("a")
	r.retire(a) // no pins: deleted at once
	if exists(a) {
		t.Fatal("retired file with no pins kept")
	}
	un1 := r.pin()
	b := file("b")
	r.retire(b)
	un2 := r.pin()
	c := file("c")
	r.retire(c)
	un2() // pin 1 still needs b and c
	if !exists(b) || !exists(c) {
		t.Fatal("file deleted under a pin that predates its retirement")
	}
	un3 := r.pin()
	un1() // pin 3 started after b and c were retired
	if exists(b) || exists(c) || r.pendingCount() != 0 {
		t.Fatal("files kept after the pins that needed them ended")
	}
	un3()
}

// TestConcurrentPutsSameName has N writers replace one dataset at once: all succeed,
// and the final version is exactly one writer's rows, never a mix.
func TestConcurrentPutsSameName(t *testing.T) {
	ctx := context.Background()
	s, mem := newTestStore(t)
	const writers = 8
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rdr := batches(mem, int64(w)*1_000_000, 500, 4)
			defer rdr.Release()
			if _, err := s.Put(ctx, "d", Replace, rdr); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent Put: %v", err)
	}
	got := readIDs(t, s, "d")
	if len(got) != 2000 {
		t.Fatalf("final version has %d rows, want 2000", len(got))
	}
	w := got[0] / 1_000_000
	if !equalIDs(got, seq(w*1_000_000, 2000)) {
		t.Fatalf("final version mixes writers: %s", abbrev(got))
	}
	assertNoGarbage(t, s.Root())
}

func TestConcurrentCreates(t *testing.T) {
	ctx := context.Background()
	s, mem := newTestStore(t)
	const writers = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	var ok, exists int
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rdr := batches(mem, 0, 10, 1)
			defer rdr.Release()
			name := []string{"t", "t.parquet", "T", "T.parquet"}[w%4]
			_, err := s.Put(ctx, name, Create, rdr)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, ErrAlreadyExists):
				exists++
			default:
				t.Errorf("Create(%q): %v", name, err)
			}
		}()
	}
	wg.Wait()
	if ok != 1 || exists != writers-1 {
		t.Fatalf("%d creates succeeded and %d found it existing; want 1 and %d", ok, exists, writers-1)
	}
	settle(t, s)
	if got := listDir(t, s.Root()); len(got) != 1 {
		t.Fatalf("root holds %v, want one dataset", got)
	}
}

func TestConcurrentAppends(t *testing.T) {
	ctx := context.Background()
	s, mem := newTestStore(t)
	const writers, rows = 8, 300
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rdr := batches(mem, int64(w)*rows, 100, 3)
			defer rdr.Release()
			if _, err := s.Put(ctx, "d", CreateOrAppend, rdr); err != nil {
				t.Errorf("append %d: %v", w, err)
			}
		}()
	}
	wg.Wait()
	got := readIDs(t, s, "d")
	sort.Slice(got, func(i, j int) bool { return got[i] < got[j] })
	if !equalIDs(got, seq(0, writers*rows)) {
		t.Fatalf("after %d appends of %d rows: %d rows %s", writers, rows, len(got), abbrev(got))
	}
	info, _ := s.Stat(ctx, "d")
	if info.Rows != writers*rows || len(info.Files) != writers {
		t.Fatalf("Stat: %d rows in %d files; want %d in %d", info.Rows, len(info.Files), writers*rows, writers)
	}
	assertNoGarbage(t, s.Root())
}

// TestConcurrentEverything runs List, Stat, Open, Put (all modes) and Drop against a
// few names at once. Nothing may fail except with ErrNotFound / ErrAlreadyExists where
// a concurrent drop or create explains it, and every read must be a whole version.
func TestConcurrentEverything(t *testing.T) {
	s, mem := newTestStore(t)
	names := []string{"a", "b.parquet", "c"}
	const workers = 8
	deadline := time.Now().Add(2 * time.Second)
	if testing.Short() {
		deadline = time.Now().Add(300 * time.Millisecond)
	}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			for i := 0; time.Now().Before(deadline); i++ {
				name := names[(w+i)%len(names)]
				var err error
				switch (w + i) % 6 {
				case 0:
					_, err = s.List(ctx)
				case 1:
					_, err = s.Stat(ctx, name)
				case 2:
					var r *Reader
					r, err = s.Open(ctx, name)
					if err == nil {
						ids := drain(t, r)
						// Every version is whole batches of 50 consecutive ids.
						if len(ids)%50 != 0 {
							t.Errorf("read %d rows of %q, not whole puts", len(ids), name)
						}
						r.Release()
					}
				case 3:
					rdr := batches(mem, int64(i)*50, 50, 1)
					mode := []PutMode{Replace, CreateOrAppend, Create}[i%3]
					_, err = s.Put(ctx, name, mode, rdr)
					rdr.Release()
					if mode == Create && errors.Is(err, ErrAlreadyExists) {
						err = nil
					}
				case 4:
					rdr := batches(mem, int64(i)*50, 50, 1)
					_, err = s.Put(ctx, name, Append, rdr)
					rdr.Release()
				case 5:
					if i%4 == 0 {
						err = s.Drop(ctx, name)
					}
				}
				if err != nil && !errors.Is(err, ErrNotFound) {
					t.Errorf("worker %d op %d on %q: %v", w, (w+i)%6, name, err)
				}
			}
		}()
	}
	wg.Wait()
	settle(t, s)
	assertNoGarbage(t, s.Root())
	list, err := s.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, info := range list {
		got := readIDs(t, s, info.Name)
		if int64(len(got)) != info.Rows {
			t.Errorf("%s: read %d rows, Stat says %d", info.Name, len(got), info.Rows)
		}
	}
}

// TestStatDuringReplaceOfMultiPart asks for a multi-part dataset's metadata while it is
// replaced over and over. The dataset always exists, so Stat and List must always
// find it readable.
func TestStatDuringReplaceOfMultiPart(t *testing.T) {
	ctx := context.Background()
	s, mem := newTestStore(t)
	put(t, s, "d", Create, 0, 10)
	put(t, s, "d", Append, 10, 10)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := int64(0); ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			rdr := batches(mem, i*10, 10, 1)
			_, err := s.Put(ctx, "d", Replace, rdr)
			rdr.Release()
			if err != nil {
				t.Errorf("replace: %v", err)
				return
			}
		}
	}()
	deadline := time.Now().Add(time.Second)
	for n := 0; time.Now().Before(deadline); n++ {
		if _, err := s.Stat(ctx, "d"); err != nil {
			t.Errorf("Stat during replace (try %d): %v", n, err)
			break
		}
		list, err := s.List(ctx)
		if err != nil || len(list) != 1 {
			t.Errorf("List during replace (try %d): %d datasets, %v", n, len(list), err)
			break
		}
	}
	close(stop)
	wg.Wait()
}

// BenchmarkList lists 2000 small datasets with a warm metadata cache.
func BenchmarkList(b *testing.B) {
	const n = 2000
	root := b.TempDir()
	s, err := Open(root, Options{Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	rec := makeBatch(memory.DefaultAllocator, 0, 10)
	defer rec.Release()
	for i := 0; i < n; i++ {
		rdr, _ := array.NewRecordReader(testSchema, []arrow.RecordBatch{rec})
		if _, err := s.Put(context.Background(), fmt.Sprintf("ds-%04d.parquet", i), Create, rdr); err != nil {
			b.Fatal(err)
		}
		rdr.Release()
	}
	ctx := context.Background()
	if list, err := s.List(ctx); err != nil || len(list) != n { // warm the cache
		b.Fatalf("List = %d datasets, %v", len(list), err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		list, err := s.List(ctx)
		if err != nil || len(list) != n {
			b.Fatalf("List = %d datasets, %v", len(list), err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/dataset")
}

// TestMissingPart removes by hand a part that a manifest lists: the dataset is broken,
// not gone. Stat says ErrUnreadable, List skips it, and Drop still removes it.
func TestMissingPart(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	put(t, s, "d", Create, 0, 10)
	put(t, s, "d", Append, 10, 10)
	put(t, s, "ok", Create, 0, 1)
	info, err := s.Stat(ctx, "d")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(info.Files[1]); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(ctx, "d"); !errors.Is(err, ErrUnreadable) || !strings.Contains(err.Error(), `"d"`) {
		t.Fatalf("Stat with a missing part = %v, want ErrUnreadable naming d", err)
	}
	if _, err := s.Open(ctx, "d"); !errors.Is(err, ErrUnreadable) {
		t.Fatalf("Open with a missing part = %v, want ErrUnreadable", err)
	}
	list, err := s.List(ctx)
	if err != nil || len(list) != 1 || list[0].Name != "ok" {
		t.Fatalf("List = %v, %v; want only ok", list, err)
	}
	mustDrop(t, s, "d")
	if _, err := s.Stat(ctx, "d"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Stat after drop = %v", err)
	}
}
