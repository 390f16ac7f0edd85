package flightsql

import (
	"context"
	"sync"

	"github.com/quiverdata/quiver/catalog"
	"github.com/quiverdata/quiver/catalog/partcache"
	"github.com/quiverdata/quiver/catalog/storage"
)

// partFiles lends the engine local files for datasets whose parts live on object
// storage (DuckDB here has no httpfs): the parts of each dataset a view names are held
// in the part cache, so eviction never deletes them.
//
// Invariant: a version's files stay held while a view may name them or a query that
// started before the view changed may read them. A replaced or dropped version's hold
// is released only once no pin is taken (pins are taken with the store's, around
// every query), as the store keeps a local root's retired files.
type partFiles struct {
	cache  *partcache.Cache
	bucket storage.Bucket

	mu      sync.Mutex
	held    map[string]heldParts // by dataset name
	pins    int
	retired []func() // releases waiting for the pins to drop
}

// heldParts is one dataset version's local files and the release of their hold.
type heldParts struct {
	version string
	files   []string
	release func()
}

func newPartFiles(cache *partcache.Cache, bucket storage.Bucket) *partFiles {
	return &partFiles{cache: cache, bucket: bucket, held: make(map[string]heldParts)}
}

// Files returns local copies of info's parts, downloading the parts the cache lacks.
// The first call for a version takes the hold; later calls return the same files.
func (p *partFiles) Files(ctx context.Context, info catalog.Info) ([]string, error) {
	p.mu.Lock()
	h, ok := p.held[info.Name]
	p.mu.Unlock()
	if ok && h.version == info.Version {
		return h.files, nil
	}
	files := make([]string, 0, len(info.Keys))
	releases := make([]func(), 0, len(info.Keys))
	releaseAll := func() {
		for _, r := range releases {
			r()
		}
	}
	for _, key := range info.Keys {
		// The version is the part's ETag now: parts are immutable under fresh keys,
		// and the cache checks the bytes it downloads against the version it asked.
		path, release, err := p.cache.Get(ctx, p.bucket, key, "")
		if err != nil {
			releaseAll()
			return nil, err
		}
		files = append(files, path)
		releases = append(releases, release)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if old, ok := p.held[info.Name]; ok {
		p.retireLocked(old.release)
	}
	p.held[info.Name] = heldParts{version: info.Version, files: files, release: releaseAll}
	return files, nil
}

// KeepOnly releases (once unpinned) the holds of datasets not in names: dropped ones.
func (p *partFiles) KeepOnly(names map[string]bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for name, h := range p.held {
		if !names[name] {
			delete(p.held, name)
			p.retireLocked(h.release)
		}
	}
}

// pin defers releases until unpin is called.
func (p *partFiles) pin() (unpin func()) {
	p.mu.Lock()
	p.pins++
	p.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			p.mu.Lock()
			p.pins--
			var run []func()
			if p.pins == 0 {
				run, p.retired = p.retired, nil
			}
			p.mu.Unlock()
			for _, r := range run {
				r()
			}
		})
	}
}

func (p *partFiles) retireLocked(release func()) {
	if p.pins == 0 {
		release() // partcache's release takes only the cache's own lock
		return
	}
	p.retired = append(p.retired, release)
}

// close releases every hold.
func (p *partFiles) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for name, h := range p.held {
		delete(p.held, name)
		h.release()
	}
	for _, r := range p.retired {
		r()
	}
	p.retired = nil
}
