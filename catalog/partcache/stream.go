package partcache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/quiverdata/quiver/catalog/storage"
)

// Reading a part while it downloads (OpenIfRoom): a reader of a whole part (plain
// DoGet) need not wait for the last byte before its first. The download fetches the
// last chunk first (a Parquet footer is at the end), then the others in order, and
// the reader's ReadAt waits only for the chunks its range covers. The reader opens
// the temp file itself, so the rename that publishes it changes nothing for the
// reader: it reads the same inode before and after.

// progress records which chunks of a download are in its temp file.
type progress struct {
	tmp  string // the temp file's path
	mu   sync.Mutex
	done []bool
	wake chan struct{} // closed, and replaced, whenever a chunk is done
}

func newProgress(tmp string, chunks int) *progress {
	return &progress{tmp: tmp, done: make([]bool, chunks), wake: make(chan struct{})}
}

func (p *progress) markDone(i int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done[i] = true
	close(p.wake)
	p.wake = make(chan struct{})
}

// missing reports whether a chunk of [first, last] is not done yet, and the channel
// that is closed when another chunk is.
func (p *progress) missing(first, last int) (bool, <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := first; i <= last && i < len(p.done); i++ {
		if !p.done[i] {
			return true, p.wake
		}
	}
	return false, nil
}

// complete reports whether every chunk is done.
func (p *progress) complete() bool {
	missing, _ := p.missing(0, len(p.done)-1)
	return !missing
}

// downloadOrder is the chunk the download's k-th fetch takes: the last first, then
// the others from the start.
func downloadOrder(k, chunks int) int {
	if k == 0 {
		return chunks - 1
	}
	return k - 1
}

// File is one part read from the cache, possibly while it downloads: ReadAt waits
// for the bytes it asks for. The entry is held until Close.
type File struct {
	ctx  context.Context
	f    *os.File
	e    *entry
	size int64
	// prog is the download's progress while it was in flight at OpenIfRoom; nil when
	// the file was complete.
	prog    *progress
	release func()
}

// Size is the part's size.
func (f *File) Size() int64 { return f.size }

// Done is closed when the part is complete in the cache (or its download failed).
func (f *File) Done() <-chan struct{} { return f.e.ready }

// ReadAt implements io.ReaderAt, waiting for the download to bring the bytes asked
// for. It fails when the download does, or when the context of OpenIfRoom ends.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("partcache: read at negative offset %d", off)
	}
	if off >= f.size {
		return 0, io.EOF
	}
	if err := f.wait(off, min(int64(len(p)), f.size-off)); err != nil {
		return 0, err
	}
	return f.f.ReadAt(p, off)
}

// wait returns once the n bytes at off are in the file.
func (f *File) wait(off, n int64) error {
	if f.prog == nil || n <= 0 {
		return nil
	}
	first, last := int(off/checksumChunk), int((off+n-1)/checksumChunk)
	for {
		select {
		case <-f.e.ready:
			if f.e.err != nil {
				return fmt.Errorf("partcache: read while downloading: %w", f.e.err)
			}
			return nil
		default:
		}
		missing, wake := f.prog.missing(first, last)
		if !missing {
			return nil
		}
		select {
		case <-wake:
		case <-f.e.ready:
		case <-f.ctx.Done():
			return fmt.Errorf("partcache: read while downloading: %w", f.ctx.Err())
		}
	}
}

// Close closes the file and ends the hold on its entry. Call it once.
//
// A reader that read every chunk may close before the download has synced and
// published the file; releasing then would abandon (cancel and forget) a complete
// download, so the hold ends when the download does, which needs nothing more from
// the bucket. A download closed on before its last chunk is abandoned if nobody else
// waits for it.
func (f *File) Close() error {
	err := f.f.Close()
	if f.prog != nil && f.prog.complete() {
		select {
		case <-f.e.ready:
		default:
			go func() {
				<-f.e.ready // the download goroutine closes it, whatever happens
				f.release()
			}()
			return err
		}
	}
	f.release()
	return err
}

// OpenIfRoom opens the object at key in b, of exactly version, for a reader that can
// do without the cache (plain DoGet falls back to ranged reads): an object not in the
// cache yet is downloaded only if size (the object's) fits in the budget beside the
// entries readers hold now, evicting idle ones as Get does; otherwise OpenIfRoom
// returns ErrNoRoom at once and downloads nothing. So it never takes the cache over
// its budget, and what Get holds (SQL's leases) always wins. An entry already cached
// or downloading is shared whatever the budget.
//
// It returns as soon as the download has started (at once for a cached part); the
// File's ReadAt waits for the bytes it reads. The entry is held until Close. ctx
// bounds the opening and the waits of ReadAt.
func (c *Cache) OpenIfRoom(ctx context.Context, b storage.Bucket, key, version string, size int64) (*File, error) {
	if size < 0 {
		return nil, fmt.Errorf("partcache: open %s/%s: negative size %d", b, key, size)
	}
	if key == "" || version == "" {
		return nil, fmt.Errorf("partcache: open %s/%q: a key and a version are needed", b, key)
	}
	id := entryID(b.String(), key, version)
	const attempts = 3
	for attempt := 1; ; attempt++ {
		e, err := c.acquire(id, b, key, version, size)
		if errors.Is(err, ErrNoRoom) {
			return nil, fmt.Errorf("partcache: open %s/%s (%d bytes): %w of %d bytes", b, key, size, err, c.maxBytes)
		}
		if err != nil {
			return nil, err
		}
		f, err := c.openEntry(ctx, e, size)
		if err == nil {
			var once sync.Once
			f.release = func() { once.Do(func() { c.release(e) }) }
			return f, nil
		}
		c.release(e)
		retry := errors.Is(err, errAbandoned) || errors.Is(err, errCorrupt)
		if !retry || attempt == attempts || ctx.Err() != nil {
			return nil, fmt.Errorf("partcache: open %s/%s: %w", b, key, err)
		}
	}
}

// openEntry opens e's file once its download has started or it is ready.
func (c *Cache) openEntry(ctx context.Context, e *entry, size int64) (*File, error) {
	select {
	case <-e.ready:
	case <-e.started:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	c.mu.Lock()
	select {
	case <-e.ready:
		c.mu.Unlock()
		if e.err != nil {
			return nil, e.err
		}
		if err := c.check(e); err != nil {
			return nil, err
		}
		f, err := os.Open(filepath.Join(c.dir, e.file))
		if err != nil {
			return nil, err
		}
		return &File{ctx: ctx, f: f, e: e, size: e.size}, nil
	default:
	}
	// Still downloading: the temp file is there until the rename, which takes c.mu.
	defer c.mu.Unlock()
	if e.size != size {
		return nil, fmt.Errorf("object of %d bytes, want %d: %w", e.size, size, storage.ErrConflict)
	}
	f, err := os.Open(e.prog.tmp)
	if err != nil {
		return nil, err
	}
	return &File{ctx: ctx, f: f, e: e, size: e.size, prog: e.prog}, nil
}
