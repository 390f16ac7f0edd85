package partcache

import (
	"cmp"
	"container/list"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/quiverdata/quiver/catalog/storage"
)

var (
	// ErrClosed reports a Get on a closed cache.
	ErrClosed = errors.New("partcache: cache is closed")
	// ErrLocked reports that another process has the cache directory open.
	ErrLocked = errors.New("partcache: cache directory is in use by another process")
	// ErrNoRoom reports that OpenIfRoom did not download an object: beside the entries
	// readers hold, it does not fit in the budget.
	ErrNoRoom = errors.New("partcache: no room in the budget")
)

// Options configure a cache.
type Options struct {
	// MaxBytes is the budget for the files in the cache directory; it must be positive.
	MaxBytes int64
	// FetchWorkers is how many chunks of one download are fetched at once; 0 means
	// DefaultFetchWorkers.
	FetchWorkers int
	// Logger receives evictions and dropped files at debug level, and problems at warn;
	// nil means slog.Default().
	Logger *slog.Logger
}

// Stats are counters since Open.
type Stats struct {
	Hits      int64 // Gets served from a file already in the cache
	Misses    int64 // Gets that started a download
	Shared    int64 // Gets that joined a download another Get started
	Evictions int64 // entries deleted to stay within the budget
	Dropped   int64 // files found corrupt or truncated and deleted
	NoRoom    int64 // OpenIfRoom calls refused with ErrNoRoom
	Held      int   // entries held (or waited for) by readers now
	Entries   int   // entries now in the cache, downloading ones included
	Bytes     int64 // bytes now counted against the budget
}

// Cache is a read-through cache of immutable parts in one local directory. It is safe
// for concurrent use.
type Cache struct {
	dir      string
	maxBytes int64
	workers  int
	log      *slog.Logger
	unlock   func()

	ctx    context.Context // parent of every download; cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // the download goroutines

	chunkSlots chan struct{} // one token per chunk buffer in use, cache-wide
	chunkBufs  sync.Pool     // *[]byte of checksumChunk bytes

	mu      sync.Mutex
	closed  bool
	entries map[string]*entry
	lru     *list.List // ready entries, most recently used at the front
	bytes   int64
	stats   Stats
}

// entry is one cached object. Fields other than those set before ready is closed are
// guarded by Cache.mu.
type entry struct {
	id   string
	file string // base name of the final file, set before ready closes
	size int64  // counted against the budget while counted is set
	crc  uint32

	refs    int           // Gets holding or waiting for the entry
	elem    *list.Element // in Cache.lru once ready, nil before and after
	counted bool          // size is included in Cache.bytes
	removed bool          // no longer in Cache.entries
	cancel  context.CancelFunc

	ready chan struct{} // closed when the download ends, either way
	err   error         // the download's error; read only after ready is closed
	// started is closed once the download has its temp file and prog is set
	// (stream.go); never for a download that fails before, or a file found at Open.
	started chan struct{}
	prog    *progress

	verifyOnce sync.Once // files found at Open are checked once before they are served
	verified   bool      // set before ready closes for downloaded files
	verifyErr  error
}

// Open opens (creating it if needed) the cache in dir. Files of a previous run are kept
// if their names parse and their sizes match; temp files of interrupted downloads and
// short files are deleted; then the cache evicts down to the budget.
func Open(dir string, opts Options) (*Cache, error) {
	if opts.FetchWorkers < 0 {
		return nil, fmt.Errorf("partcache: open %s: fetch workers must not be negative, got %d", dir, opts.FetchWorkers)
	}
	if opts.MaxBytes <= 0 {
		return nil, fmt.Errorf("partcache: open %s: the size budget must be positive, got %d", dir, opts.MaxBytes)
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("partcache: open %s: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("partcache: open %s: %w", abs, err)
	}
	unlock, err := lockDir(abs)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Cache{
		dir:      abs,
		maxBytes: opts.MaxBytes,
		workers:  cmp.Or(opts.FetchWorkers, DefaultFetchWorkers),
		log:      log.With("cache_dir", abs),
		unlock:   unlock,
		ctx:      ctx,
		cancel:   cancel,
		entries:  make(map[string]*entry),
		lru:      list.New(),

		chunkSlots: make(chan struct{}, maxChunkBuffers),
	}
	c.chunkBufs.New = func() any {
		buf := make([]byte, checksumChunk)
		return &buf
	}
	if err := c.rescan(); err != nil {
		cancel()
		unlock()
		return nil, err
	}
	c.mu.Lock()
	c.evictLocked()
	c.mu.Unlock()
	return c, nil
}

// Dir is the cache directory's absolute path.
func (c *Cache) Dir() string { return c.dir }

// MaxBytes is the cache's budget (Options.MaxBytes).
func (c *Cache) MaxBytes() int64 { return c.maxBytes }

// Stats returns the counters.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.Entries = len(c.entries)
	for _, e := range c.entries {
		if e.refs > 0 {
			s.Held++
		}
	}
	s.Bytes = c.bytes
	return s
}

// Close cancels downloads in progress, waits for them and releases the directory.
// Files stay for the next Open. Paths handed out remain readable: Close deletes nothing.
func (c *Cache) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
	c.unlock()
	return nil
}

// Get returns the path of a local copy of the object at key in b, downloading it first if
// the cache does not hold it. version pins the bytes (S3: the ETag from the manifest or a
// Stat); "" means the version there now, learnt with one Stat. The file stays in place
// until release is called; call it exactly once (more calls are no-ops) when done
// reading. Concurrent Gets of one entry share one download.
func (c *Cache) Get(ctx context.Context, b storage.Bucket, key, version string) (path string, release func(), err error) {
	return c.get(ctx, b, key, version, -1)
}

// get is Get; a size of 0 or more admits a new download only if it fits, as
// OpenIfRoom does.
func (c *Cache) get(ctx context.Context, b storage.Bucket, key, version string, size int64) (path string, release func(), err error) {
	if key == "" {
		return "", nil, fmt.Errorf("partcache: get from %s: empty key", b)
	}
	if version == "" {
		st, err := b.Stat(ctx, key)
		if err != nil {
			return "", nil, fmt.Errorf("partcache: get %s/%s: %w", b, key, err)
		}
		if st.Dir {
			return "", nil, fmt.Errorf("partcache: get %s/%s: a directory, not an object", b, key)
		}
		version = st.Version
	}
	id := entryID(b.String(), key, version)
	// A download abandoned by its other waiters, or a file that failed its check, is
	// retried: a fresh entry starts a fresh download.
	const attempts = 3
	for attempt := 1; ; attempt++ {
		e, err := c.acquire(id, b, key, version, size)
		if errors.Is(err, ErrNoRoom) {
			return "", nil, fmt.Errorf("partcache: get %s/%s (%d bytes): %w of %d bytes", b, key, size, err, c.maxBytes)
		}
		if err != nil {
			return "", nil, err
		}
		select {
		case <-e.ready:
		case <-ctx.Done():
			c.release(e)
			return "", nil, fmt.Errorf("partcache: get %s/%s: %w", b, key, ctx.Err())
		}
		err = e.err
		if err == nil {
			err = c.check(e)
		}
		if err == nil {
			var once sync.Once
			return filepath.Join(c.dir, e.file), func() { once.Do(func() { c.release(e) }) }, nil
		}
		c.release(e)
		retry := errors.Is(err, errAbandoned) || errors.Is(err, errCorrupt)
		if !retry || attempt == attempts || ctx.Err() != nil {
			return "", nil, fmt.Errorf("partcache: get %s/%s: %w", b, key, err)
		}
	}
}

// acquire takes a reference to the entry for id, starting its download if it is new;
// with a size of 0 or more, only if that many bytes fit beside the held entries
// (ErrNoRoom otherwise).
func (c *Cache) acquire(id string, b storage.Bucket, key, version string, size int64) (*entry, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	if e := c.entries[id]; e != nil {
		e.refs++
		if e.elem != nil {
			c.lru.MoveToFront(e.elem)
			c.stats.Hits++
		} else {
			c.stats.Shared++
		}
		return e, nil
	}
	if size >= 0 && c.heldBytesLocked()+size > c.maxBytes {
		c.stats.NoRoom++
		return nil, ErrNoRoom
	}
	dctx, cancel := context.WithCancel(c.ctx)
	e := &entry{id: id, refs: 1, cancel: cancel, ready: make(chan struct{}), started: make(chan struct{})}
	c.entries[id] = e
	c.stats.Misses++
	c.wg.Add(1)
	go c.download(dctx, e, b, key, version)
	return e, nil
}

// release drops one reference. The last reference to a download in progress cancels it;
// the last reference to a ready entry makes it evictable, and the budget is enforced.
func (c *Cache) release(e *entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e.refs--
	if e.refs > 0 {
		return
	}
	if e.elem == nil && !e.removed {
		select {
		case <-e.ready:
		default:
			// Nobody waits for this download any more: stop it, and let the next Get
			// of the same entry start over rather than join a cancelled one.
			e.cancel()
			c.removeLocked(e)
			return
		}
	}
	c.evictLocked()
}

// heldBytesLocked is the bytes of the entries that eviction cannot take: those held
// or downloading.
func (c *Cache) heldBytesLocked() int64 {
	var n int64
	for _, e := range c.entries {
		if e.counted && (e.refs > 0 || e.elem == nil) {
			n += e.size
		}
	}
	return n
}

// removeLocked takes e out of the map (and the LRU list). It does not touch the file.
func (c *Cache) removeLocked(e *entry) {
	if e.removed {
		return
	}
	e.removed = true
	if c.entries[e.id] == e {
		delete(c.entries, e.id)
	}
	if e.elem != nil {
		c.lru.Remove(e.elem)
		e.elem = nil
	}
	if e.counted {
		c.bytes -= e.size
		e.counted = false
	}
}

// evictLocked deletes least-recently-used entries nobody holds until the cache is within
// its budget or only held entries are left.
func (c *Cache) evictLocked() {
	for el := c.lru.Back(); el != nil && c.bytes > c.maxBytes; {
		e := el.Value.(*entry)
		el = el.Prev()
		if e.refs > 0 {
			continue
		}
		c.removeLocked(e)
		c.stats.Evictions++
		if err := os.Remove(filepath.Join(c.dir, e.file)); err != nil && !errors.Is(err, os.ErrNotExist) {
			c.log.Warn("partcache: evict", "file", e.file, "err", err)
		}
		c.log.Debug("partcache: evicted", "file", e.file, "bytes", e.size)
	}
}
