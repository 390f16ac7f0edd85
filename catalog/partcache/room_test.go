package partcache

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quiverdata/quiver/catalog/storage"
)

// openIfRoom is OpenIfRoom returning the file's release as Get does.
func openIfRoom(c *Cache, b storage.Bucket, key, version string, size int64) (string, func(), error) {
	f, err := c.OpenIfRoom(context.Background(), b, key, version, size)
	if err != nil {
		return "", nil, err
	}
	<-f.Done()
	return filepath.Join(c.dir, f.e.file), func() { f.Close() }, nil
}

// TestOpenIfRoomKeepsToTheBudget: OpenIfRoom downloads only what fits beside the held
// entries (evicting idle ones for it), refuses the rest with ErrNoRoom naming the
// budget, and shares an entry already cached whatever the budget says. Get (SQL's
// leases) is never refused.
func TestOpenIfRoomKeepsToTheBudget(t *testing.T) {
	f := newFake()
	a, b2, big := data(200, 1), data(200, 2), data(500, 3)
	va, vb, vbig := f.put("a", a), f.put("b", b2), f.put("big", big)
	c := openCache(t, t.TempDir(), 300)

	// Larger than the whole budget: refused, nothing downloaded.
	_, _, err := openIfRoom(c, f, "big", vbig, int64(len(big)))
	if !errors.Is(err, ErrNoRoom) || !strings.Contains(err.Error(), "300 bytes") {
		t.Fatalf("OpenIfRoom(big) = %v; want ErrNoRoom naming the 300-byte budget", err)
	}
	if st := c.Stats(); st.Misses != 0 || st.NoRoom != 1 || f.opens.Load() != 0 {
		t.Fatalf("stats %+v, %d opens; want one refusal and no download", st, f.opens.Load())
	}

	// a fits; while it is held, b does not (200 + 200 > 300).
	pa, releaseA, err := openIfRoom(c, f, "a", va, int64(len(a)))
	if err != nil {
		t.Fatalf("OpenIfRoom(a): %v", err)
	}
	if _, _, err := openIfRoom(c, f, "b", vb, int64(len(b2))); !errors.Is(err, ErrNoRoom) {
		t.Fatalf("OpenIfRoom(b) beside a held a = %v; want ErrNoRoom", err)
	}
	// A second reader of a shares the held entry: no room needed.
	_, releaseA2, err := openIfRoom(c, f, "a", va, int64(len(a)))
	if err != nil {
		t.Fatalf("OpenIfRoom(a) again: %v", err)
	}
	releaseA2()
	// Get is not refused: it goes over the budget while both are held.
	_, releaseB := get(t, c, f, "b", vb, b2)
	if st := c.Stats(); st.Bytes != 400 {
		t.Fatalf("stats %+v; want a and b held, 400 bytes", st)
	}
	releaseB()
	releaseA()
	if !exists(pa) {
		t.Fatal("a, the most recently downloaded within the budget, was evicted")
	}

	// Nothing held now: b fits by evicting the idle a.
	_, releaseB, err = openIfRoom(c, f, "b", vb, int64(len(b2)))
	if err != nil {
		t.Fatalf("OpenIfRoom(b) with only idle entries: %v", err)
	}
	defer releaseB()
	if exists(pa) {
		t.Fatal("idle a was not evicted to make room for b")
	}
	if st := c.Stats(); st.Bytes != 200 || st.NoRoom != 2 {
		t.Fatalf("stats %+v; want b alone and two refusals", st)
	}
}

// TestReadWhileDownloading: OpenIfRoom returns once the download has started; the
// footer's chunk comes first, and a read waits for exactly the chunks it covers.
func TestReadWhileDownloading(t *testing.T) {
	ctx := context.Background()
	fb := newFake()
	obj := data(2*checksumChunk+1000, 7) // three chunks
	ver := fb.put("p", obj)
	fb.gate = make(chan struct{}) // one token per chunk fetched
	c, err := Open(t.TempDir(), Options{MaxBytes: 1 << 30, FetchWorkers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	f, err := c.OpenIfRoom(ctx, fb, "p", ver, int64(len(obj)))
	if err != nil {
		t.Fatalf("OpenIfRoom: %v", err)
	}
	readAsync := func(off, n int64) chan error {
		done := make(chan error, 1)
		go func() {
			buf := make([]byte, n)
			_, err := f.ReadAt(buf, off)
			if err == nil && string(buf) != string(obj[off:off+n]) {
				err = errors.New("bytes differ from the object's")
			}
			done <- err
		}()
		return done
	}
	blocked := func(ch chan error, what string) {
		t.Helper()
		select {
		case err := <-ch:
			t.Fatalf("%s returned (%v) before its chunk was fetched", what, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	footer := readAsync(int64(len(obj))-100, 100)
	head := readAsync(0, 100)
	blocked(footer, "the footer read")
	fb.gate <- struct{}{} // the last chunk: fetched first
	if err := <-footer; err != nil {
		t.Fatalf("footer read: %v", err)
	}
	blocked(head, "the read at 0")
	fb.gate <- struct{}{} // chunk 0
	if err := <-head; err != nil {
		t.Fatalf("read at 0: %v", err)
	}
	middle := readAsync(checksumChunk-10, 20) // spans chunks 0 and 1
	blocked(middle, "the read across chunks 0 and 1")
	fb.gate <- struct{}{} // chunk 1
	if err := <-middle; err != nil {
		t.Fatalf("read across chunks: %v", err)
	}
	all := make([]byte, len(obj))
	if n, err := f.ReadAt(all, 0); n != len(obj) || (err != nil && !errors.Is(err, io.EOF)) || string(all) != string(obj) {
		t.Fatalf("whole read: %d bytes, %v", n, err)
	}
	if st := c.Stats(); st.Held != 1 || st.Misses != 1 {
		t.Fatalf("stats %+v; want the one entry held", st)
	}
	// Closed as soon as every byte is read, likely before the download has synced and
	// published the file: the download must still end in the cache, not be abandoned.
	f.Close()
	waitHeld(t, c, 0)

	// A second open is a hit on the complete file (a new download would wait for
	// the gate until the deadline).
	ctx2, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	f2, err := c.OpenIfRoom(ctx2, fb, "p", ver, int64(len(obj)))
	if err != nil {
		t.Fatal(err)
	}
	defer f2.Close()
	if n, _ := f2.ReadAt(all, 0); n != len(obj) || string(all) != string(obj) || c.Stats().Hits != 1 || c.Stats().Misses != 1 {
		t.Fatalf("second open: %d bytes, stats %+v; want a hit on the downloaded file", n, c.Stats())
	}
}

// waitHeld waits (up to 5 s) until the cache holds n entries: a reader that closes
// a part whose download is syncing ends its hold when the download ends.
func waitHeld(t *testing.T, c *Cache, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for c.Stats().Held != n {
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v; want %d entries held", c.Stats(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestReadWhileDownloadingFails: a download that fails fails the reads waiting for
// it, and a reader whose context ends stops waiting.
func TestReadWhileDownloadingFails(t *testing.T) {
	fb := newFake()
	obj := data(2*checksumChunk+1000, 9)
	ver := fb.put("p", obj)
	fb.failAt.Store(checksumChunk + 5) // chunk 1
	c, err := Open(t.TempDir(), Options{MaxBytes: 1 << 30, FetchWorkers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	f, err := c.OpenIfRoom(context.Background(), fb, "p", ver, int64(len(obj)))
	if err == nil {
		defer f.Close()
		_, err = f.ReadAt(make([]byte, 100), checksumChunk)
	}
	if err == nil || !strings.Contains(err.Error(), "injected read failure") {
		t.Fatalf("read of the chunk whose fetch failed: %v; want the injected failure", err)
	}

	fb.gate = make(chan struct{})
	ver = fb.put("q", obj)
	ctx, cancel := context.WithCancel(context.Background())
	g, err := c.OpenIfRoom(ctx, fb, "q", ver, int64(len(obj)))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	cancel()
	if _, err := g.ReadAt(make([]byte, 10), 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("read after the reader's context ended: %v; want context.Canceled", err)
	}
}
