package catalog

import (
	"context"
	"errors"
	"io"

	"github.com/apache/arrow-go/v18/parquet"

	"github.com/quiverdata/quiver/catalog/partcache"
)

// Plain reads on object storage (Open, OpenVersionParts) read each part from the part
// cache (Options.PartCache): the part is downloaded whole, in parallel 8 MiB chunks,
// into the cache and held there while the reader reads it as a local file. The reader
// starts before the download ends (partcache.File waits for the chunks it reads;
// the footer's chunk comes first). Before, ranged GETs of 16 KiB each (Parquet's
// buffered page reads) made a DoGet on S3 4x slower than on a local root
// (BenchmarkS3).
//
// Once part i is downloaded, part i+1 is: a reader holds at most two parts in the
// cache. A part the cache has no room for (the parts other readers and SQL queries
// hold fill its budget) is read with ranged GETs instead, rangedReadBytes per part at
// a time: slower, never refused. Parts are immutable and fetched by the version the
// reader opened (the ETag), so a copy is never of another version than the object
// the reader pinned.

// rangedReadBytes is what the column readers of one part read ahead together with each
// ranged GET when a part is read from object storage directly, shared between its
// columns: one GET per 16 KiB page buffer (Parquet's default) made S3 reads
// round-trip bound.
const rangedReadBytes = 8 << 20

// cachedPart is a part being opened in the part cache for a reader.
type cachedPart struct {
	i    int             // index of the part in Reader.files
	done chan struct{}   // closed when f (or err) is set
	f    *partcache.File // held open; nil on error
	err  error
}

// close closes the part, ending the cache's hold. Call it after done is closed.
func (c *cachedPart) close() {
	if c.f != nil {
		c.f.Close()
		c.f = nil
	}
}

// fetchPart starts opening part i in the cache, once after (the part before) is
// downloaded, so that one reader downloads one part at a time.
func (r *Reader) fetchPart(i int, after *partcache.File) *cachedPart {
	c := &cachedPart{i: i, done: make(chan struct{})}
	obj := r.files[i]
	key := r.info.Keys[i]
	go func() {
		defer close(c.done)
		if after != nil {
			select {
			case <-after.Done():
			case <-r.fetchCtx.Done():
				c.err = r.fetchCtx.Err()
				return
			}
		}
		c.f, c.err = r.cache.OpenIfRoom(r.fetchCtx, r.bucket, key, obj.Version(), obj.Size())
	}()
	return c
}

// partSource returns what part i is read from: its copy in the part cache, or the
// object itself (a local store, no cache, or no room in it). It starts fetching part
// i+1, to begin once part i is downloaded.
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
		c = r.fetchPart(i, nil)
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
		r.ahead = r.fetchPart(i+1, c.f) // nil c.f: at once
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

// WholePart returns a reader of all the bytes of p, the part at key of a version
// opened with OpenParts, for handing the stored file out as it is: on object storage
// with a part cache, from the cache (read while it downloads there, in parallel
// chunks, where p would read one ranged GET per Read), else p itself, as when the
// cache has no room. Call done when finished; it does not close p, which must stay
// open meanwhile (it pins the version).
func (s *Store) WholePart(ctx context.Context, key string, p *Part) (r io.Reader, done func(), err error) {
	nothing := func() {}
	if s.opts.PartCache == nil || !s.readsByKey() {
		return p, nothing, nil
	}
	f, err := s.opts.PartCache.OpenIfRoom(ctx, s.bucket, key, p.obj.Version(), p.Size)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, nil, ctxErr
		}
		if !errors.Is(err, partcache.ErrNoRoom) {
			s.log.Warn("reading a part with ranged reads: the part cache failed", "key", key, "err", err)
		}
		return p, nothing, nil
	}
	return io.NewSectionReader(f, 0, p.Size), func() { f.Close() }, nil
}
