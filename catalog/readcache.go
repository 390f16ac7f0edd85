package catalog

import (
	"context"
	"errors"
	"io"
	"os"

	"github.com/apache/arrow-go/v18/parquet"

	"github.com/quiverdata/quiver/catalog/partcache"
	"github.com/quiverdata/quiver/catalog/storage"
)

// PartCache lends local copies of immutable parts on object storage (Options.PartCache);
// catalog/partcache.Cache is one. GetIfRoom returns the path of a complete local copy
// of the object at key in b, of exactly version, held (never evicted) until release is
// called, or partcache.ErrNoRoom, without downloading, when the copy would not fit in
// the cache's budget beside what others hold.
type PartCache interface {
	GetIfRoom(ctx context.Context, b storage.Bucket, key, version string, size int64) (path string, release func(), err error)
}

// Plain reads on object storage (Open, OpenVersionParts) read each part from a local
// copy in the part cache: the part is downloaded whole (in parallel chunks) into the
// cache, held there while the reader reads it, and read as a local file. On 10M rows
// in one 316 MB part against versitygw on loopback, ranged GETs of 16 KiB (Parquet's
// buffered page reads) took 6.9 s against 2.9 s for a local root (BenchmarkS3).
//
// While part i is read, part i+1 is downloaded: a reader holds at most two parts in the
// cache, and the next part is usually there when it is wanted. A part the cache has no
// room for (the parts other readers and SQL queries hold fill its budget) is read with
// ranged GETs instead, rangedBufferBytes at a time per column: slower, never refused.
// Parts are immutable and fetched by the version the reader opened (the ETag), so a
// copy is never of another version than the object the reader pinned.

// rangedReadBytes is what the column readers of one part read ahead together with each
// ranged GET when a part is read from object storage directly, shared between its
// columns: one GET per 16 KiB page buffer (Parquet's default) made S3 reads
// round-trip bound.
const rangedReadBytes = 8 << 20

// cachedPart is a part being fetched into (or held in) the part cache for a reader.
type cachedPart struct {
	i    int           // index of the part in Reader.files
	done chan struct{} // closed when f (or err) is set
	f    *os.File      // the local copy, open; nil on error
	// release ends the cache's hold; nil when there is none.
	release func()
	err     error
}

// close closes the local copy and ends the hold. Call it after done is closed.
func (c *cachedPart) close() {
	if c.f != nil {
		c.f.Close()
		c.f = nil
	}
	if c.release != nil {
		c.release()
		c.release = nil
	}
}

// fetchPart starts getting part i into the cache and opening it.
func (r *Reader) fetchPart(i int) *cachedPart {
	c := &cachedPart{i: i, done: make(chan struct{})}
	obj := r.files[i]
	key := r.info.Keys[i]
	go func() {
		defer close(c.done)
		path, release, err := r.cache.GetIfRoom(r.fetchCtx, r.bucket, key, obj.Version(), obj.Size())
		if err != nil {
			c.err = err
			return
		}
		f, err := os.Open(path)
		if err != nil {
			release()
			c.err = err
			return
		}
		c.f, c.release = f, release
	}()
	return c
}

// partSource returns what part i is read from: its local copy in the part cache, or the
// object itself (a local store, no cache, or no room in it). It starts downloading
// part i+1 once part i is there.
func (r *Reader) partSource(i int) (io.ReaderAt, error) {
	obj := r.files[i]
	if r.cache == nil {
		return obj, nil
	}
	c := r.ahead
	r.ahead = nil
	if c == nil || c.i != i {
		if c != nil {
			<-c.done
			c.close()
		}
		c = r.fetchPart(i)
	}
	select {
	case <-c.done:
	case <-r.ctx.Done():
		r.fetchCancel()
		<-c.done
		c.close()
		return nil, r.ctx.Err()
	}
	if i+1 < len(r.files) {
		r.ahead = r.fetchPart(i + 1)
	}
	if c.err != nil {
		if err := r.ctx.Err(); err != nil {
			return nil, err
		}
		// Not fatal: the object is read directly.
		if errors.Is(c.err, partcache.ErrNoRoom) {
			r.log.Debug("reading a part with ranged reads: no room in the part cache", "dataset", r.info.Name, "part", i, "err", c.err)
		} else {
			r.log.Warn("reading a part with ranged reads: the part cache failed", "dataset", r.info.Name, "part", i, "err", c.err)
		}
		return obj, nil
	}
	r.cur = c
	return c.f, nil
}

// closeCached ends the holds of the current and the prefetched part, waiting for a
// download in progress to give up.
func (r *Reader) closeCached() {
	if r.cur != nil {
		r.cur.close()
		r.cur = nil
	}
	if r.ahead != nil {
		r.fetchCancel()
		<-r.ahead.done
		r.ahead.close()
		r.ahead = nil
	}
}

// tuneRangedReads makes the column readers of a part read from object storage read
// rangedReadBytes at a time between them (at least the default 16 KiB, at most
// 1 MiB each): props are read when a column chunk is opened, after the footer.
func tuneRangedReads(props *parquet.ReaderProperties, columns int) {
	props.BufferSize = min(1<<20, max(parquet.DefaultBufSize, int64(rangedReadBytes/max(1, columns))))
}
