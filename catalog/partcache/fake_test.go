package partcache

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/quiverdata/quiver/catalog/storage"
)

// fakeBucket is an in-memory storage.Bucket that counts opens and can hold reads at a
// gate, so tests can see downloads being shared, cancelled and failing.
type fakeBucket struct {
	mu      sync.Mutex
	objects map[string][]byte
	opens   atomic.Int64
	gate    chan struct{} // when non-nil, every ReadAt waits for it (or its context)
	failAt  atomic.Int64  // when positive, the ReadAt covering this offset fails once
	started chan struct{} // when non-nil, receives once per ReadAt that begins
}

func newFake() *fakeBucket { return &fakeBucket{objects: map[string][]byte{}} }

func version(data []byte) string {
	sum := md5.Sum(data)
	return `"` + hex.EncodeToString(sum[:]) + `"`
}

func (f *fakeBucket) put(key string, data []byte) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.objects[key] = bytes.Clone(data)
	return version(data)
}

func (f *fakeBucket) String() string { return "fake://bucket" }

func (f *fakeBucket) Stat(_ context.Context, key string) (storage.Entry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	data, ok := f.objects[key]
	if !ok {
		return storage.Entry{}, fmt.Errorf("stat %s: %w", key, storage.ErrNotExist)
	}
	return storage.Entry{Key: key, Size: int64(len(data)), Version: version(data)}, nil
}

func (f *fakeBucket) Open(ctx context.Context, key string) (storage.Object, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	data, ok := f.objects[key]
	if !ok {
		return nil, fmt.Errorf("open %s: %w", key, storage.ErrNotExist)
	}
	f.opens.Add(1)
	return &fakeObject{ctx: ctx, f: f, data: data, version: version(data)}, nil
}

func (f *fakeBucket) Create(context.Context, string) (storage.Writer, error) {
	panic("not used by the cache")
}

func (f *fakeBucket) List(context.Context, string) ([]storage.Entry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []storage.Entry
	for k, v := range f.objects {
		out = append(out, storage.Entry{Key: k, Size: int64(len(v)), Version: version(v)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

func (f *fakeBucket) Delete(_ context.Context, key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.objects, key)
	return nil
}

func (f *fakeBucket) ReadVersioned(context.Context, string) ([]byte, string, error) {
	panic("not used by the cache")
}

func (f *fakeBucket) WriteIf(context.Context, string, []byte, string) (string, error) {
	panic("not used by the cache")
}

type fakeObject struct {
	ctx     context.Context
	f       *fakeBucket
	data    []byte
	version string
}

func (o *fakeObject) Size() int64     { return int64(len(o.data)) }
func (o *fakeObject) Version() string { return o.version }
func (o *fakeObject) Close() error    { return nil }

func (o *fakeObject) ReadAt(p []byte, off int64) (int, error) {
	if o.f.started != nil {
		select {
		case o.f.started <- struct{}{}:
		default:
		}
	}
	if o.f.gate != nil {
		select {
		case <-o.f.gate:
		case <-o.ctx.Done():
			return 0, o.ctx.Err()
		}
	}
	if at := o.f.failAt.Load(); at > 0 && off <= at && at < off+int64(len(p)) {
		o.f.failAt.Store(0)
		return 0, fmt.Errorf("injected read failure at %d", at)
	}
	if off >= int64(len(o.data)) {
		return 0, io.EOF
	}
	n := copy(p, o.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// openCache opens a cache in a fresh directory with the given budget.
func openCache(t *testing.T, dir string, maxBytes int64) *Cache {
	t.Helper()
	c, err := Open(dir, Options{MaxBytes: maxBytes})
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
