package flightsql

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	pqfile "github.com/apache/arrow-go/v18/parquet/file"

	"github.com/quiverdata/quiver/catalog"
	"github.com/quiverdata/quiver/catalog/partcache"
	"github.com/quiverdata/quiver/catalog/storage"
)

// partFiles lends the engine local files for datasets whose parts live on object
// storage (DuckDB here has no httpfs).
//
// Every dataset's view names a schema file: a local Parquet file with the schema of
// the dataset's first part and no rows, written from that part's footer (a ranged
// read, no download). Metadata calls (GetTables, GetSchema, DESCRIBE, planning) bind
// views on those. A query leases the datasets it reads (lease): their parts are
// downloaded into the part cache and held, and while a lease is held the dataset's
// view names the real parts. So only the parts of the tables queries read are ever
// fetched, and only those of running queries are held, plus the most recently
// used idle leases while their parts fit in half the cache's budget (so a table
// queried again finds its view unchanged, with nothing to rebind): the budget bounds
// the rest.
//
// partFiles is the engine's engine.LocalFiles: the engine asks it for each dataset's
// view files (Files) whenever it rebuilds its views, and tells it the datasets of the
// snapshot it synced (Synced).
//
// Invariant: a file a view names stays on disk while a request that may have bound
// the view runs. Requests pin (pin) before the engine syncs the views; a lease's
// parts, and a replaced schema file, are released only once every pin taken before
// the lease ended (or the file was replaced) is gone. A request that pins later
// syncs views that no longer name them: every change to what Files returns for an
// unchanged dataset version (a lease taken or dropped) moves Generation, and the
// engine rebuilds its views before its next statement when Generation moved.
type partFiles struct {
	cache  *partcache.Cache
	bucket storage.Bucket
	dir    string // schema files, under the cache directory the engine may read

	mu      sync.Mutex
	leases  map[string]*lease      // by dataset name: the version queries read now
	schemas map[string]schemaFile  // by dataset name
	epoch   uint64                 // advanced by every retire
	pins    map[uint64]int         // epoch -> pins taken in it
	retired []retiredRelease       // releases waiting for older pins to end
	loading map[string]*sync.Mutex // by dataset name: one download of a version at a time
	// idle are leases no query holds, kept while their bytes fit in idleBudget;
	// most recently used last.
	idle       []*lease
	idleBytes  int64
	idleBudget int64
	listed     map[string]catalog.Info // the last listing synced, by dataset name
	// gen counts changes to p.leases, so to what viewFiles returns (Generation).
	gen atomic.Uint64
}

// lease is one dataset version's parts, held in the cache for the queries that read
// them.
type lease struct {
	name    string
	version string
	files   []string
	release func() // releases the cache holds
	refs    int    // queries holding it; guarded by partFiles.mu
	bytes   int64  // the parts' size
}

// schemaFile is a dataset version's local schema file.
type schemaFile struct {
	version string
	path    string
}

type retiredRelease struct {
	epoch   uint64
	release func()
}

// schemaDirName is the subdirectory of the cache directory that holds schema files.
// The cache leaves directories alone.
const schemaDirName = "schemas"

func newPartFiles(cache *partcache.Cache, bucket storage.Bucket) (*partFiles, error) {
	dir := filepath.Join(cache.Dir(), schemaDirName)
	// One server per cache directory (the cache locks it): what is here is a
	// previous run's, named by views that are gone.
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("clear schema files: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("schema files: %w", err)
	}
	return &partFiles{cache: cache, bucket: bucket, dir: dir,
		leases: map[string]*lease{}, schemas: map[string]schemaFile{}, pins: map[uint64]int{},
		loading: map[string]*sync.Mutex{}, listed: map[string]catalog.Info{},
		idleBudget: cache.MaxBytes() / 2}, nil
}

// Files implements engine.LocalFiles: the files info's view names now (viewFiles).
func (p *partFiles) Files(ctx context.Context, info catalog.Info) ([]string, error) {
	return p.viewFiles(ctx, info)
}

// Synced implements engine.LocalFiles: datasets are the snapshot the views were
// just built from (synced).
func (p *partFiles) Synced(datasets []catalog.Info) { p.synced(datasets) }

// Generation implements engine.LocalFiles: it moves whenever a lease is taken or
// dropped, so that the engine rebuilds the views that name its files.
func (p *partFiles) Generation() uint64 { return p.gen.Load() }

// StandIn implements engine.LocalFiles: schema files stand in for a dataset's
// parts. They all live under p.dir, and nothing else does.
func (p *partFiles) StandIn(file string) bool {
	rel, err := filepath.Rel(p.dir, file)
	return err == nil && rel != "." && !strings.HasPrefix(rel, "..")
}

// viewFiles returns the local files info's view names now: the cached parts while a
// query leases this version, else its schema file (written on first use).
func (p *partFiles) viewFiles(ctx context.Context, info catalog.Info) ([]string, error) {
	p.mu.Lock()
	if l := p.leases[info.Name]; l != nil && l.version == info.Version {
		files := l.files
		p.mu.Unlock()
		return files, nil
	}
	if s, ok := p.schemas[info.Name]; ok && s.version == info.Version {
		p.mu.Unlock()
		return []string{s.path}, nil
	}
	p.mu.Unlock()
	path, err := p.writeSchemaFile(ctx, info)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if old, ok := p.schemas[info.Name]; ok {
		if old.path == path {
			return []string{path}, nil
		}
		if old.version == info.Version {
			return []string{old.path}, nil // a concurrent call recorded it first
		}
		oldDir := filepath.Dir(old.path)
		p.retireLocked(func() { os.RemoveAll(oldDir) })
	}
	p.schemas[info.Name] = schemaFile{version: info.Version, path: path}
	return []string{path}, nil
}

// writeSchemaFile writes info's schema file: the Parquet schema and key-value
// metadata of its first part, read from the part's footer, and no row groups, so
// DuckDB types the view exactly as it types the parts.
func (p *partFiles) writeSchemaFile(ctx context.Context, info catalog.Info) (string, error) {
	if len(info.Keys) == 0 {
		return "", fmt.Errorf("dataset %q has no parts", info.Name)
	}
	obj, err := p.bucket.Open(ctx, info.Keys[0])
	if err != nil {
		return "", fmt.Errorf("dataset %q: open first part: %w", info.Name, err)
	}
	defer obj.Close()
	rdr, err := pqfile.NewParquetReader(io.NewSectionReader(obj, 0, obj.Size()))
	if err != nil {
		return "", fmt.Errorf("dataset %q: read first part's footer: %w", info.Name, err)
	}
	defer rdr.Close()
	// The file is named as the dataset is, in a directory of the version's own, so
	// that the engine's messages about it name the dataset.
	sum := sha256.Sum256([]byte(info.Name + "\x00" + info.Version))
	dir := filepath.Join(p.dir, hex.EncodeToString(sum[:16]))
	base := path.Base(info.Name)
	if strings.ContainsAny(base, "*?[]{}\\'\x00") || base == "." || base == ".." {
		base = "dataset.parquet"
	}
	file := filepath.Join(dir, base)
	if _, err := os.Stat(file); err == nil {
		return file, nil // written by a sync that raced this one
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("dataset %q: schema file: %w", info.Name, err)
	}
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return "", fmt.Errorf("dataset %q: schema file: %w", info.Name, err)
	}
	defer os.Remove(tmp.Name())
	// The writer closes a sink that is an io.Closer; this one is closed below.
	w, err := pqfile.NewParquetWriterWithError(struct{ io.Writer }{tmp}, rdr.MetaData().Schema.Root(),
		pqfile.WithWriteMetadata(rdr.MetaData().KeyValueMetadata()))
	if err == nil {
		err = w.Close()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), file)
	}
	if err != nil {
		return "", fmt.Errorf("dataset %q: write schema file: %w", info.Name, err)
	}
	return file, nil
}

// lease downloads (or finds in the cache) the parts of every dataset in infos and
// holds them until the returned release is called; meanwhile the views of those
// versions name the parts. Call it with a pin held, and sync the views after it.
func (p *partFiles) lease(ctx context.Context, infos []catalog.Info) (release func(), err error) {
	var got []*lease
	releaseAll := func() {
		for _, l := range got {
			p.unlease(l)
		}
	}
	for _, info := range infos {
		l, err := p.leaseOne(ctx, info)
		if err != nil {
			releaseAll()
			return nil, err
		}
		got = append(got, l)
	}
	var once sync.Once
	return func() { once.Do(releaseAll) }, nil
}

func (p *partFiles) leaseOne(ctx context.Context, info catalog.Info) (*lease, error) {
	// One download of a dataset at a time: concurrent first queries of one dataset
	// share it rather than each fetching the parts.
	p.mu.Lock()
	load := p.loading[info.Name]
	if load == nil {
		load = &sync.Mutex{}
		p.loading[info.Name] = load
	}
	p.mu.Unlock()
	load.Lock()
	defer load.Unlock()

	p.mu.Lock()
	if l := p.leases[info.Name]; l != nil && l.version == info.Version {
		if l.refs == 0 {
			p.unidleLocked(l)
		}
		l.refs++
		p.mu.Unlock()
		return l, nil
	}
	p.mu.Unlock()

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
			return nil, fmt.Errorf("dataset %q: %w", info.Name, err)
		}
		files = append(files, path)
		releases = append(releases, release)
	}
	var once sync.Once // close may release a lease a query still holds
	l := &lease{name: info.Name, version: info.Version, files: files, release: func() { once.Do(releaseAll) }, refs: 1, bytes: info.Bytes}
	p.mu.Lock()
	defer p.mu.Unlock()
	if old := p.leases[info.Name]; old != nil && old.refs == 0 {
		p.unidleLocked(old) // an idle older version: nobody reads it any more
		p.retireLocked(old.release)
	}
	// An older version's lease stays with the queries that hold it; it is released
	// when they end (unlease), no longer found by name.
	p.leases[info.Name] = l
	p.gen.Add(1)
	return l, nil
}

// unlease ends one query's hold on l.
func (p *partFiles) unlease(l *lease) {
	p.mu.Lock()
	defer p.mu.Unlock()
	l.refs--
	if l.refs > 0 {
		return
	}
	if p.leases[l.name] != l {
		p.retireLocked(l.release) // an older version
		return
	}
	p.idle = append(p.idle, l)
	p.idleBytes += l.bytes
	for p.idleBytes > p.idleBudget && len(p.idle) > 0 {
		p.dropIdleLocked(p.idle[0])
	}
}

// unidleLocked takes l out of the idle leases.
func (p *partFiles) unidleLocked(l *lease) {
	for i, x := range p.idle {
		if x == l {
			p.idle = append(p.idle[:i], p.idle[i+1:]...)
			p.idleBytes -= l.bytes
			return
		}
	}
}

// dropIdleLocked ends the idle lease l: its view names the schema file again from
// the next sync on, and its parts are released once older pins end.
func (p *partFiles) dropIdleLocked(l *lease) {
	p.unidleLocked(l)
	if p.leases[l.name] == l {
		delete(p.leases, l.name)
		p.gen.Add(1)
	}
	p.retireLocked(l.release)
}

// synced records the listing the views were last synced with, and forgets the schema
// files of datasets no longer in it: dropped ones.
func (p *partFiles) synced(infos []catalog.Info) {
	p.mu.Lock()
	defer p.mu.Unlock()
	names := make(map[string]bool, len(infos))
	clear(p.listed)
	for _, info := range infos {
		names[info.Name] = true
		p.listed[info.Name] = info
	}
	for name, s := range p.schemas {
		if !names[name] {
			delete(p.schemas, name)
			dir := filepath.Dir(s.path)
			p.retireLocked(func() { os.RemoveAll(dir) })
		}
	}
	// Idle leases of dropped or replaced versions are of no further use.
	for _, l := range slices.Clone(p.idle) {
		if p.listed[l.name].Version != l.version {
			p.dropIdleLocked(l)
		}
	}
	for name := range p.loading {
		if !names[name] && p.leases[name] == nil {
			delete(p.loading, name)
		}
	}
}

// listedInfos returns the last synced listing's Info of each dataset in names that
// it holds; all of them for nil names.
func (p *partFiles) listedInfos(names []string) []catalog.Info {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []catalog.Info
	if names == nil {
		for _, info := range p.listed {
			out = append(out, info)
		}
		return out
	}
	for _, n := range names {
		if info, ok := p.listed[n]; ok {
			out = append(out, info)
		}
	}
	return out
}

// leased reports whether the views synced last name the leased versions of infos:
// no dataset changed between the lease and the sync after it.
func (p *partFiles) leased(infos []catalog.Info) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, info := range infos {
		if p.listed[info.Name].Version != info.Version {
			return false
		}
	}
	return true
}

// pin defers the releases retired from now on until unpin is called.
func (p *partFiles) pin() (unpin func()) {
	p.mu.Lock()
	e := p.epoch
	p.pins[e]++
	p.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			p.mu.Lock()
			if p.pins[e]--; p.pins[e] == 0 {
				delete(p.pins, e)
			}
			run := p.collectLocked()
			p.mu.Unlock()
			for _, r := range run {
				r()
			}
		})
	}
}

// retireLocked runs release once every pin taken before now has ended.
func (p *partFiles) retireLocked(release func()) {
	p.retired = append(p.retired, retiredRelease{epoch: p.epoch, release: release})
	p.epoch++
	for _, r := range p.collectLocked() {
		r() // partcache's release and os.Remove take no lock of ours
	}
}

// collectLocked takes out the releases no active pin may need: those retired in an
// epoch before the oldest pin's.
func (p *partFiles) collectLocked() []func() {
	oldest := p.epoch + 1
	for e := range p.pins {
		oldest = min(oldest, e)
	}
	var run []func()
	keep := p.retired[:0]
	for _, r := range p.retired {
		if r.epoch < oldest {
			run = append(run, r.release)
		} else {
			keep = append(keep, r)
		}
	}
	clear(p.retired[len(keep):])
	p.retired = keep
	return run
}

// close releases every hold and removes the schema files.
func (p *partFiles) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for name, l := range p.leases {
		delete(p.leases, name)
		l.release()
	}
	for _, r := range p.retired {
		r.release()
	}
	p.retired, p.idle, p.idleBytes = nil, nil, 0
	os.RemoveAll(p.dir)
}
