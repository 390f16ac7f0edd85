package partcache

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quiverdata/quiver/catalog/storage"
)

func data(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*13)
	}
	return b
}

// get calls Get and checks the file holds want.
func get(t *testing.T, c *Cache, b storage.Bucket, key, ver string, want []byte) (string, func()) {
	t.Helper()
	path, release, err := c.Get(context.Background(), b, key, ver)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Get(%q): file holds %d bytes that differ from the %d of the object", key, len(got), len(want))
	}
	return path, release
}

// cachedFiles lists the directory's files other than LOCK.
func cachedFiles(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		if de.Name() != lockName {
			names = append(names, de.Name())
		}
	}
	sort.Strings(names)
	return names
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// TestConcurrentGetsDownloadOnce: 16 Gets of one part while its download is held share
// that one download and get the same file.
func TestConcurrentGetsDownloadOnce(t *testing.T) {
	f := newFake()
	want := data(3*checksumChunk+5, 1)
	v := f.put("ds/part-1.parquet", want)
	f.gate = make(chan struct{})
	c := openCache(t, t.TempDir(), 1<<30)

	const n = 16
	var wg sync.WaitGroup
	paths := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			p, release, err := c.Get(context.Background(), f, "ds/part-1.parquet", v)
			paths[i], errs[i] = p, err
			if err == nil {
				release()
			}
		})
	}
	// Let every Get join before the bytes flow.
	deadline := time.Now().Add(10 * time.Second)
	for c.Stats().Shared+c.Stats().Misses < n && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	close(f.gate)
	wg.Wait()
	for i := range n {
		if errs[i] != nil || paths[i] != paths[0] {
			t.Fatalf("Get %d = %q, %v; want %q", i, paths[i], errs[i], paths[0])
		}
	}
	if got := f.opens.Load(); got != 1 {
		t.Fatalf("%d downloads for %d concurrent Gets, want 1", got, n)
	}
	st := c.Stats()
	if st.Misses != 1 || st.Shared != n-1 || st.Entries != 1 || st.Bytes != int64(len(want)) {
		t.Fatalf("stats %+v; want 1 miss, %d shared, 1 entry of %d bytes", st, n-1, len(want))
	}
	get(t, c, f, "ds/part-1.parquet", v, want)
	if f.opens.Load() != 1 || c.Stats().Hits != 1 {
		t.Fatalf("a later Get downloaded again (opens %d, stats %+v)", f.opens.Load(), c.Stats())
	}
}

// TestEvictionOrder: over budget, the least recently used entry goes first.
func TestEvictionOrder(t *testing.T) {
	f := newFake()
	objs := map[string][]byte{"a": data(100, 1), "b": data(100, 2), "c": data(100, 3), "d": data(100, 4)}
	vers := map[string]string{}
	for k, d := range objs {
		vers[k] = f.put(k, d)
	}
	dir := t.TempDir()
	c := openCache(t, dir, 300)
	paths := map[string]string{}
	for _, k := range []string{"a", "b", "c"} {
		p, release := get(t, c, f, k, vers[k], objs[k])
		release()
		paths[k] = p
	}
	// Use a again: b is now the least recently used.
	_, release := get(t, c, f, "a", vers["a"], objs["a"])
	release()
	p, release := get(t, c, f, "d", vers["d"], objs["d"])
	release()
	paths["d"] = p
	for k, want := range map[string]bool{"a": true, "b": false, "c": true, "d": true} {
		if exists(paths[k]) != want {
			t.Errorf("after adding d: %s's file exists = %v, want %v", k, !want, want)
		}
	}
	st := c.Stats()
	if st.Evictions != 1 || st.Bytes != 300 || st.Entries != 3 {
		t.Fatalf("stats %+v; want 1 eviction, 3 entries of 300 bytes", st)
	}
	// b comes back by downloading again; now c is the oldest.
	opens := f.opens.Load()
	get(t, c, f, "b", vers["b"], objs["b"])
	if f.opens.Load() != opens+1 {
		t.Fatal("an evicted entry was served without a download")
	}
	if exists(paths["c"]) {
		t.Error("c, the least recently used, survived b's return")
	}
}

// TestHeldEntriesSurviveEviction: a held entry's file stays however far over budget the
// cache goes; released, it is evicted to bring the cache back within budget.
func TestHeldEntriesSurviveEviction(t *testing.T) {
	f := newFake()
	big, small := data(500, 1), data(100, 2)
	vb, vs := f.put("big", big), f.put("small", small)
	c := openCache(t, t.TempDir(), 300)

	pb, releaseBig := get(t, c, f, "big", vb, big) // over budget on its own
	ps, releaseSmall := get(t, c, f, "small", vs, small)
	if !exists(pb) || !exists(ps) {
		t.Fatal("a held entry was evicted")
	}
	if st := c.Stats(); st.Bytes != 600 || st.Evictions != 0 {
		t.Fatalf("stats %+v; want 600 bytes held, no eviction", st)
	}
	// Hold big through a second Get as well: one release must not free it.
	_, releaseBig2 := get(t, c, f, "big", vb, big)
	releaseBig()
	releaseBig() // a second call of the same release is a no-op
	if !exists(pb) {
		t.Fatal("big was evicted while a second Get still held it")
	}
	releaseBig2()
	if exists(pb) {
		t.Fatal("big, released and over budget, was not evicted")
	}
	if !exists(ps) {
		t.Fatal("small, still held, was evicted")
	}
	releaseSmall()
	if st := c.Stats(); st.Bytes != 100 || st.Entries != 1 || st.Evictions != 1 {
		t.Fatalf("stats %+v; want small alone, one eviction", st)
	}
}

// TestVersionIsPartOfKey: a new version is a new entry; a version the bucket no longer
// has is a conflict, not the new bytes.
func TestVersionIsPartOfKey(t *testing.T) {
	f := newFake()
	one, two := []byte("version one"), []byte("version two!")
	v1 := f.put("k", one)
	c := openCache(t, t.TempDir(), 1<<20)
	p1, r1 := get(t, c, f, "k", v1, one)
	r1()

	v2 := f.put("k", two)
	p2, r2 := get(t, c, f, "k", v2, two)
	r2()
	if p1 == p2 {
		t.Fatalf("two versions share the file %s", p1)
	}
	// The cached copy of v1 is still exactly v1: asking for v1 gets v1.
	get(t, c, f, "k", v1, one)
	// A version that is not cached and not in the bucket fails, naming the key.
	_, _, err := c.Get(context.Background(), f, "k", `"stale"`)
	if !errors.Is(err, storage.ErrConflict) || !strings.Contains(err.Error(), "fake://bucket/k") {
		t.Fatalf("Get of a version the bucket no longer has: %v, want ErrConflict naming the key", err)
	}
	// No version: the one there now, learnt with Stat.
	p, r := get(t, c, f, "k", "", two)
	r()
	if p != p2 {
		t.Fatalf("Get without a version = %s, want the current version's %s", p, p2)
	}
	if _, _, err := c.Get(context.Background(), f, "missing", ""); !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("Get of a missing key: %v, want ErrNotExist", err)
	}
}

// TestRestartKeepsGoodFilesDropsBadOnes: after a restart, intact files are served
// without a download; a temp file of an interrupted download, a truncated file and a
// file whose bytes changed are never served.
func TestRestartKeepsGoodFilesDropsBadOnes(t *testing.T) {
	f := newFake()
	objs := map[string][]byte{"good": data(1000, 1), "short": data(1000, 2), "flipped": data(1000, 3)}
	vers := map[string]string{}
	for k, d := range objs {
		vers[k] = f.put(k, d)
	}
	dir := t.TempDir()
	c, err := Open(dir, Options{MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	paths := map[string]string{}
	for k := range objs {
		p, release := get(t, c, f, k, vers[k], objs[k])
		release()
		paths[k] = p
	}
	c.Close()

	// What a crash or a bad disk leaves: a partial download, a truncated file, a
	// flipped byte, and a file that is not the cache's.
	if err := os.WriteFile(filepath.Join(dir, "dl-123.tmp"), []byte("partial"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(paths["short"], 500); err != nil {
		t.Fatal(err)
	}
	flipped, _ := os.ReadFile(paths["flipped"])
	flipped[700] ^= 0xff
	if err := os.WriteFile(paths["flipped"], flipped, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not ours"), 0o600); err != nil {
		t.Fatal(err)
	}

	opens := f.opens.Load()
	c2 := openCache(t, dir, 1<<20)
	if exists(filepath.Join(dir, "dl-123.tmp")) || exists(paths["short"]) {
		t.Fatalf("Open kept a partial or truncated file: %v", cachedFiles(t, dir))
	}
	if !exists(filepath.Join(dir, "notes.txt")) {
		t.Fatal("Open deleted a file that is not the cache's")
	}
	if st := c2.Stats(); st.Entries != 2 || st.Bytes != 2000 || st.Dropped != 2 {
		t.Fatalf("stats after restart %+v; want 2 entries of 2000 bytes, 2 dropped", st)
	}
	p, release := get(t, c2, f, "good", vers["good"], objs["good"])
	release()
	if p != paths["good"] || f.opens.Load() != opens {
		t.Fatal("an intact file was downloaded again after a restart")
	}
	// The flipped file is caught by its checksum and replaced by a fresh download.
	get(t, c2, f, "flipped", vers["flipped"], objs["flipped"])
	get(t, c2, f, "short", vers["short"], objs["short"])
	if got := f.opens.Load() - opens; got != 2 {
		t.Fatalf("%d downloads after the restart, want 2 (flipped and short)", got)
	}
	if st := c2.Stats(); st.Dropped != 3 {
		t.Fatalf("stats %+v; want 3 dropped files", st)
	}
}

// TestCancelledGetStopsItsDownload: when the only Get waiting for a download gives up,
// the download stops and leaves no temp file; the next Get starts a fresh one.
func TestCancelledGetStopsItsDownload(t *testing.T) {
	f := newFake()
	want := data(2*checksumChunk, 7)
	v := f.put("slow", want)
	f.gate = make(chan struct{})
	f.started = make(chan struct{}, 1)
	dir := t.TempDir()
	c := openCache(t, dir, 1<<30)

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, _, err := c.Get(ctx, f, "slow", v)
		errc <- err
	}()
	<-f.started // the download is reading
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Get: %v, want context.Canceled", err)
	}
	// The download goroutine ends on its own; wait for its temp file to go.
	deadline := time.Now().Add(10 * time.Second)
	for len(cachedFiles(t, dir)) > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if files := cachedFiles(t, dir); len(files) != 0 {
		t.Fatalf("files left after a cancelled download: %v", files)
	}
	if st := c.Stats(); st.Entries != 0 || st.Bytes != 0 {
		t.Fatalf("stats %+v after a cancelled download; want nothing counted", st)
	}
	close(f.gate)
	get(t, c, f, "slow", v, want)
	if f.opens.Load() != 2 {
		t.Fatalf("%d opens, want 2 (the cancelled download and a fresh one)", f.opens.Load())
	}
}

// TestFailedDownloadIsNotCached: a read error fails the Get with the cause and leaves
// nothing; the next Get downloads again.
func TestFailedDownloadIsNotCached(t *testing.T) {
	f := newFake()
	want := data(3*checksumChunk, 9)
	v := f.put("flaky", want)
	f.failAt.Store(2*checksumChunk + 1)
	dir := t.TempDir()
	c := openCache(t, dir, 1<<30)
	_, _, err := c.Get(context.Background(), f, "flaky", v)
	if err == nil || !strings.Contains(err.Error(), "injected read failure") || !strings.Contains(err.Error(), "flaky") {
		t.Fatalf("Get over a failing read: %v; want the cause, naming the key", err)
	}
	if files := cachedFiles(t, dir); len(files) != 0 {
		t.Fatalf("files left after a failed download: %v", files)
	}
	get(t, c, f, "flaky", v, want)
}

// TestDirectoryIsLocked: a second cache on the same directory is refused while the
// first is open, and allowed after it closes.
func TestDirectoryIsLocked(t *testing.T) {
	dir := t.TempDir()
	c, err := Open(dir, Options{MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, Options{MaxBytes: 1 << 20}); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("second Open: %v, want ErrLocked naming the directory", err)
	}
	c.Close()
	c2, err := Open(dir, Options{MaxBytes: 1 << 20})
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	c2.Close()
	if _, err := Open(dir, Options{}); err == nil || !strings.Contains(err.Error(), "budget") {
		t.Fatalf("Open without a budget: %v, want an error about the budget", err)
	}
}

// TestCloseStopsDownloads: Close cancels a download in progress, its Get fails, and
// Gets after Close fail with ErrClosed.
func TestCloseStopsDownloads(t *testing.T) {
	f := newFake()
	v := f.put("slow", data(checksumChunk, 3))
	f.gate = make(chan struct{})
	f.started = make(chan struct{}, 1)
	dir := t.TempDir()
	c := openCache(t, dir, 1<<30)
	errc := make(chan error, 1)
	go func() {
		_, _, err := c.Get(context.Background(), f, "slow", v)
		errc <- err
	}()
	<-f.started
	c.Close()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Get during Close: %v, want context.Canceled", err)
	}
	if _, _, err := c.Get(context.Background(), f, "slow", v); !errors.Is(err, ErrClosed) {
		t.Fatalf("Get after Close: %v, want ErrClosed", err)
	}
	if files := cachedFiles(t, dir); len(files) != 0 {
		t.Fatalf("files left after Close cancelled a download: %v", files)
	}
}

func TestFileNames(t *testing.T) {
	id := entryID("s3://b/p", "ds/part-1.parquet", `"etag"`)
	name := fileName(id, 12345, 0xdeadbeef)
	gid, size, crc, ok := parseFileName(name)
	if !ok || gid != id || size != 12345 || crc != 0xdeadbeef {
		t.Fatalf("parseFileName(%q) = %q, %d, %x, %v", name, gid, size, crc, ok)
	}
	for _, bad := range []string{"LOCK", "dl-1.tmp", id + "-12-deadbeef.parquet", id + "-012-deadbeef.part",
		id + "--1-deadbeef.part", id[:10] + "-12-deadbeef.part", id + "-12-xyz.part", "notes.txt"} {
		if _, _, _, ok := parseFileName(bad); ok {
			t.Errorf("parseFileName(%q) accepted it", bad)
		}
	}
	if entryID("a", "bc", "d") == entryID("ab", "c", "d") {
		t.Error("entry ids collide when key bytes move between fields")
	}
}
