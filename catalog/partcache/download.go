package partcache

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"

	"github.com/quiverdata/quiver/catalog/storage"
)

// chunkSize is the size of each read from the bucket: one ranged GET on S3. Larger
// chunks mean fewer requests; 8 MiB is S3's own advice for ranged downloads.
const chunkSize = 8 << 20

var (
	// errAbandoned: every Get waiting for a download gave up, so it was cancelled. A Get
	// that arrived in between starts over.
	errAbandoned = errors.New("download abandoned by its waiters")
	// errCorrupt: a file found at Open does not match the size and checksum in its name.
	errCorrupt = errors.New("cached file is corrupt")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

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
	crc, err := copyObject(ctx, f, obj, size)
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

// copyObject copies size bytes of obj to w in chunks, checking ctx between them (a local
// object's ReadAt does not watch it), and returns their CRC-32C.
func copyObject(ctx context.Context, w io.Writer, obj io.ReaderAt, size int64) (uint32, error) {
	buf := make([]byte, min(int64(chunkSize), max(size, 1)))
	var crc uint32
	for off := int64(0); off < size; {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		n := min(int64(len(buf)), size-off)
		got, err := obj.ReadAt(buf[:n], off)
		if int64(got) == n && errors.Is(err, io.EOF) {
			err = nil
		}
		if err != nil {
			return 0, fmt.Errorf("read at %d: %w", off, err)
		}
		if _, err := w.Write(buf[:n]); err != nil {
			return 0, err
		}
		crc = crc32.Update(crc, castagnoli, buf[:n])
		off += n
	}
	return crc, nil
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

func verifyFile(path string, size int64, want uint32) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("%w: %v", errCorrupt, err)
	}
	defer f.Close()
	h := crc32.New(castagnoli)
	n, err := io.Copy(h, f)
	if err != nil {
		return fmt.Errorf("%w: %v", errCorrupt, err)
	}
	if n != size || h.Sum32() != want {
		return fmt.Errorf("%w: %s holds %d bytes with CRC-32C %08x, its name says %d and %08x",
			errCorrupt, filepath.Base(path), n, h.Sum32(), size, want)
	}
	return nil
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
