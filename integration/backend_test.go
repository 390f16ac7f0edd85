package integration

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/quiverdata/quiver/catalog"
	"github.com/quiverdata/quiver/catalog/partcache"
	"github.com/quiverdata/quiver/catalog/storage/s3"
	"github.com/quiverdata/quiver/catalog/storage/s3/s3test"
)

// backendEnv chooses where the in-process test servers keep their datasets:
// unset or "local" for a local directory (the default), "s3" for a bucket on a
// versitygw the harness starts per server, read through a part cache, as
// `quiver serve --root s3://...` does. `make test-s3` runs the suite subset that
// holds on both backends this way.
const backendEnv = "QUIVER_TEST_BACKEND"

// testCacheSize is the part cache budget of an S3-backed test server.
const testCacheSize = 1 << 30

// onS3 reports whether this run's test servers keep their datasets on S3.
func onS3() bool { return os.Getenv(backendEnv) == "s3" }

// skipOnS3 skips a test that cannot hold on an S3 root, saying why, when the run is
// on S3; the reasons are the list of what the S3 backend does not do.
func skipOnS3(t testing.TB, why string) {
	t.Helper()
	if onS3() {
		t.Skipf("not on an S3 root (%s=s3): %s", backendEnv, why)
	}
}

// openBackendStore opens the store of a test server over root. On S3 it starts a
// versitygw with a fresh bucket, uploads whatever root already holds (datasets a test
// dropped there before starting the server) under the bucket's prefix, and returns
// the part cache the engine reads through; both stop when the test ends.
//
// cacheBytes > 0 puts this server on S3 whatever the environment says, with a part
// cache of that budget.
func openBackendStore(t testing.TB, root string, opts catalog.Options, cacheBytes int64) (*catalog.Store, *partcache.Cache) {
	t.Helper()
	if cacheBytes <= 0 {
		cacheBytes = testCacheSize
	} else if !onS3() {
		t.Setenv(backendEnv, "s3") // so that the helpers look at the bucket
	}
	if !onS3() {
		store, err := catalog.Open(root, opts)
		if err != nil {
			t.Fatal(err)
		}
		return store, nil
	}
	ctx := context.Background()
	srv := s3test.Start(t)
	name := srv.NewBucket(t)
	bkt, err := s3.Open(ctx, s3.Config{URL: "s3://" + name + "/warehouse", Endpoint: srv.Endpoint,
		Region: s3test.Region, PathStyle: true, AccessKey: s3test.AccessKey, SecretKey: s3test.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	uploadTree(t, bkt, root)
	env := &s3Env{srv: srv, bucket: name, bkt: bkt}
	s3Envs.Store(bkt.String(), env)
	t.Cleanup(func() { s3Envs.Delete(bkt.String()) })
	cache, err := partcache.Open(t.TempDir(), partcache.Options{MaxBytes: cacheBytes, Logger: opts.Logger})
	if err != nil {
		t.Fatal(err)
	}
	// Registered before the server's own cleanup, so it runs after the server stops.
	t.Cleanup(func() {
		if err := cache.Close(); err != nil {
			t.Errorf("close part cache: %v", err)
		}
	})
	opts.PartCache = cache // as openStore in cmd/quiver wires it
	store, err := catalog.OpenBucket(ctx, bkt, opts)
	if err != nil {
		t.Fatal(err)
	}
	return store, cache
}

// uploadTree copies every regular file under dir into bkt, keyed by its path
// relative to dir.
func uploadTree(t testing.TB, bkt *s3.Bucket, dir string) {
	t.Helper()
	ctx := context.Background()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && path == dir {
			return nil // a root the store would create: nothing to upload
		}
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		w, err := bkt.Create(ctx, filepath.ToSlash(rel))
		if err != nil {
			return err
		}
		defer w.Abort()
		if _, err := io.Copy(w, f); err != nil {
			return err
		}
		_, err = w.Commit(ctx)
		return err
	})
	if err != nil {
		t.Fatalf("upload %s to the test bucket: %v", dir, err)
	}
}

// s3Env is the bucket behind an S3-backed test server.
type s3Env struct {
	srv    *s3test.Server
	bucket string
	bkt    *s3.Bucket
}

// s3Envs maps a store's root ("s3://bucket/warehouse", testServer.Root) to its
// bucket, for the helpers that look at what a server stored.
var s3Envs sync.Map

// s3EnvOf returns the bucket behind root, or nil for a local root.
func s3EnvOf(root string) *s3Env {
	if v, ok := s3Envs.Load(root); ok {
		return v.(*s3Env)
	}
	return nil
}

// inProgressUploads lists the keys of the bucket's unfinished multipart uploads:
// on S3, what a put under way has written so far.
func (e *s3Env) inProgressUploads(t testing.TB) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := e.srv.Client().ListMultipartUploads(ctx, &awss3.ListMultipartUploadsInput{Bucket: aws.String(e.bucket)})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, u := range out.Uploads {
		keys = append(keys, aws.ToString(u.Key))
	}
	return keys
}

// keys lists the bucket's keys under the store's prefix, relative to it, sorted.
func (e *s3Env) keys(t testing.TB) []string {
	t.Helper()
	var out []string
	for _, k := range bucketKeys(t, e.srv, e.bucket) {
		out = append(out, strings.TrimPrefix(k, "warehouse/"))
	}
	sort.Strings(out)
	return out
}

// dropIn writes rec as a Parquet file named name into the root of srv, as a user
// copying a file in by hand would: into the directory, or on S3 into the bucket.
func (s *testServer) dropIn(t testing.TB, name string, rec arrow.RecordBatch) {
	t.Helper()
	env := s3EnvOf(s.Root)
	if env == nil {
		writeParquetFile(t, filepath.Join(s.Root, name), rec)
		return
	}
	dir := t.TempDir()
	writeParquetFile(t, filepath.Join(dir, name), rec)
	uploadTree(t, env.bkt, dir)
}

// readStored returns the bytes of the one Parquet file that holds dataset name: the
// file in the root, or on S3 the dataset's only part.
func (s *testServer) readStored(t testing.TB, name string) []byte {
	t.Helper()
	env := s3EnvOf(s.Root)
	if env == nil {
		b, err := os.ReadFile(filepath.Join(s.Root, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var parts []string
	for _, k := range env.keys(t) {
		if strings.HasPrefix(k, name+"/") && strings.HasSuffix(k, ".parquet") || k == name {
			parts = append(parts, k)
		}
	}
	if len(parts) != 1 {
		t.Fatalf("dataset %s is stored as %q, want one Parquet object", name, parts)
	}
	obj, err := env.bkt.Open(context.Background(), parts[0])
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	b, err := io.ReadAll(io.NewSectionReader(obj, 0, obj.Size()))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// isMultiPart reports whether dataset name is stored as a directory of parts: a
// directory in the root, or on S3 a manifest under the dataset's prefix.
func (s *testServer) isMultiPart(t testing.TB, name string) bool {
	t.Helper()
	if env := s3EnvOf(s.Root); env != nil {
		for _, k := range env.keys(t) {
			if k == name+"/_quiver_manifest.json" {
				return true
			}
		}
		return false
	}
	st, err := os.Stat(filepath.Join(s.Root, name))
	return err == nil && st.IsDir()
}

// rootEntries lists what the root of srv holds: its directory's entries, or on S3
// the keys under the store's prefix.
func (s *testServer) rootEntries(t testing.TB) []string {
	t.Helper()
	if env := s3EnvOf(s.Root); env != nil {
		return env.keys(t)
	}
	entries, err := os.ReadDir(s.Root)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}
