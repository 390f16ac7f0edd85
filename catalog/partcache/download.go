package partcache

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"github.com/quiverdata/quiver/catalog/storage"
)

// Downloads read the object in checksumChunk pieces (one ranged GET each on S3; 8 MiB is
// S3's own advice for ranged downloads), up to Options.FetchWorkers at a time per
// download: S3 serves one connection at far less than a node's bandwidth. Every chunk in
// flight holds a buffer, and the whole cache holds at most maxChunkBuffers of them
// (64 MiB), however many parts are downloading.
const (
	// DefaultFetchWorkers is the default of Options.FetchWorkers.
	DefaultFetchWorkers = 4
	maxChunkBuffers     = 8
)

var (
	// errAbandoned: every Get waiting for a download gave up, so it was cancelled. A Get
	// that arrived in between starts over.
	errAbandoned = errors.New("download abandoned by its waiters")
	// errCorrupt: a file found at Open does not match the size and checksum in its name.
	errCorrupt = errors.New("cached file is corrupt")
)

// download fetches the object into a temp file and publishes it as e's file. It owns
// the end of e's download: whatever happens, ready is closed once.
func (c *Cache) download(ctx context.Context, e *entry, b storage.Bucket, key, version string) {
	defer c.wg.Done()
	defer e.cancel()
	tmp, err := c.fetch(ctx, e, b, key, version)

	c.mu.Lock()
	if err == nil && e.removed {
		// Abandoned after the bytes arrived: an entry started since may already own
		// the final name, so this copy must not take it.
		err = errAbandoned
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(c.dir, e.file))
	}
	if err != nil {
		if tmp != "" {
			os.Remove(tmp)
		}
		if errors.Is(err, context.Canceled) && e.removed {
			err = errAbandoned
		}
		e.err = err
		c.removeLocked(e)
		close(e.ready)
		c.mu.Unlock()
		return
	}
	e.verified = true
	e.elem = c.lru.PushFront(e)
	close(e.ready)
	c.evictLocked()
	c.mu.Unlock()

	// The rename is durable once the directory is synced. Readers may use the file
	// before that; a crash before it loses only a cache entry.
	if err := syncDir(c.dir); err != nil {
		c.log.Warn("partcache: sync directory", "err", err)
	}
}

// fetch copies the object into a fsynced temp file, reserving its size in the budget
// first, and names the final file. It returns the temp file's path.
func (c *Cache) fetch(ctx context.Context, e *entry, b storage.Bucket, key, version string) (tmp string, err error) {
	obj, err := b.Open(ctx, key)
	if err != nil {
		return "", err
	}
	defer obj.Close()
	if obj.Version() != version {
		return "", fmt.Errorf("version %s, want %s: %w", obj.Version(), version, storage.ErrConflict)
	}
	size := obj.Size()

	c.mu.Lock()
	if !e.removed {
		e.size = size
		e.counted = true
		c.bytes += size
		c.evictLocked()
	}
	c.mu.Unlock()

	f, err := os.CreateTemp(c.dir, tempPattern)
	if err != nil {
		return "", err
	}
	tmp = f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
			tmp = ""
		}
	}()
	// From here readers may open the temp file and read the chunks done (stream.go).
	prog := newProgress(tmp, chunkCount(size))
	c.mu.Lock()
	e.prog = prog
	close(e.started)
	c.mu.Unlock()
	crc, err := c.copyObject(ctx, f, obj, size, prog)
	if err != nil {
		return tmp, err
	}
	if err := f.Sync(); err != nil {
		return tmp, err
	}
	if err := f.Close(); err != nil {
		return tmp, err
	}
	e.crc = crc
	e.file = fileName(e.id, size, crc)
	return tmp, nil
}

// copyObject copies size bytes of obj into f, in chunks fetched by up to Options.FetchWorkers
// goroutines, the last chunk first, then the others in order (downloadOrder), marking
// each in prog when it is written; it returns the file's checksum. It checks ctx before
// each chunk, since a local object's ReadAt does not watch it.
func (c *Cache) copyObject(ctx context.Context, f *os.File, obj io.ReaderAt, size int64, prog *progress) (uint32, error) {
	sums := make([]uint32, chunkCount(size))
	var next atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	for range min(c.workers, len(sums)) {
		g.Go(func() error {
			for {
				k := next.Add(1) - 1
				if k >= int64(len(sums)) {
					return nil
				}
				i := int64(downloadOrder(int(k), len(sums)))
				sum, err := c.copyChunk(gctx, f, obj, i*checksumChunk, min(checksumChunk, size-i*checksumChunk))
				if err != nil {
					return err
				}
				sums[i] = sum
				prog.markDone(int(i))
			}
		})
	}
	if err := g.Wait(); err != nil {
		return 0, err
	}
	return combineChunkSums(sums), nil
}

// copyChunk copies n bytes at off, holding one of the cache's chunk buffers meanwhile.
func (c *Cache) copyChunk(ctx context.Context, f *os.File, obj io.ReaderAt, off, n int64) (uint32, error) {
	select {
	case c.chunkSlots <- struct{}{}:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	defer func() { <-c.chunkSlots }()
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	bp := c.chunkBufs.Get().(*[]byte)
	defer c.chunkBufs.Put(bp)
	buf := (*bp)[:n]
	got, err := obj.ReadAt(buf, off)
	if int64(got) == n && errors.Is(err, io.EOF) {
		err = nil
	}
	if err != nil {
		return 0, fmt.Errorf("read at %d: %w", off, err)
	}
	if _, err := f.WriteAt(buf, off); err != nil {
		return 0, err
	}
	return crc32.Checksum(buf, castagnoli), nil
}

// check verifies, once, a file found at Open against the size and checksum in its name.
// A mismatch deletes the file and the entry, and is errCorrupt.
func (c *Cache) check(e *entry) error {
	if e.verified {
		return nil
	}
	e.verifyOnce.Do(func() {
		e.verifyErr = verifyFile(filepath.Join(c.dir, e.file), e.size, e.crc)
		if e.verifyErr == nil {
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		c.removeLocked(e)
		c.stats.Dropped++
		os.Remove(filepath.Join(c.dir, e.file))
		c.log.Warn("partcache: dropped a corrupt file", "file", e.file, "err", e.verifyErr)
	})
	return e.verifyErr
}

// syncDir makes renames in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
