package s3_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/quiverdata/quiver/catalog/storage"
	s3 "github.com/quiverdata/quiver/catalog/storage/s3"
	"github.com/quiverdata/quiver/catalog/storage/s3/s3test"
	"github.com/quiverdata/quiver/catalog/storage/storagetest"
)

// openBucket opens a fresh bucket on srv with the given prefix and part size.
func openBucket(t testing.TB, srv *s3test.Server, prefix string, partSize int64) (*s3.Bucket, string) {
	t.Helper()
	name := srv.NewBucket(t)
	url := "s3://" + name
	if prefix != "" {
		url += "/" + prefix
	}
	b, err := s3.Open(context.Background(), s3.Config{
		URL:       url,
		Endpoint:  srv.Endpoint,
		Region:    s3test.Region,
		PathStyle: true,
		AccessKey: s3test.AccessKey,
		SecretKey: s3test.SecretKey,
		PartSize:  partSize,
	})
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	return b, name
}

// TestConformance runs the storage seam's suite on versitygw, under a prefix (so the
// key mapping is exercised) and at the bucket's root.
func TestConformance(t *testing.T) {
	srv := s3test.Start(t)
	t.Run("prefix", func(t *testing.T) {
		storagetest.Run(t, func(t *testing.T) storage.Bucket {
			b, _ := openBucket(t, srv, "tenant/root", 0)
			return b
		})
	})
	t.Run("root", func(t *testing.T) {
		storagetest.Run(t, func(t *testing.T) storage.Bucket {
			b, _ := openBucket(t, srv, "", 0)
			return b
		})
	})
}

func pattern(n int) []byte {
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(i*31 + i>>16)
	}
	return data
}

// putAll writes data through Create in writes of chunk bytes and commits.
func putAll(t *testing.T, b storage.Bucket, key string, data []byte, chunk int) storage.Entry {
	t.Helper()
	ctx := context.Background()
	w, err := b.Create(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	for off := 0; off < len(data); off += chunk {
		end := min(off+chunk, len(data))
		if n, err := w.Write(data[off:end]); err != nil || n != end-off {
			t.Fatalf("Write at %d: %d, %v", off, n, err)
		}
	}
	e, err := w.Commit(ctx)
	if err != nil {
		t.Fatalf("Commit %q: %v", key, err)
	}
	return e
}

func readAll(t *testing.T, b storage.Bucket, key string) []byte {
	t.Helper()
	o, err := b.Open(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	got, err := io.ReadAll(io.NewSectionReader(o, 0, o.Size()))
	if err != nil {
		t.Fatalf("read %q: %v", key, err)
	}
	return got
}

// uploadsInProgress lists the bucket's unfinished multipart uploads.
func uploadsInProgress(t *testing.T, srv *s3test.Server, bucket string) int {
	t.Helper()
	out, err := srv.Client().ListMultipartUploads(context.Background(), &awss3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatalf("list multipart uploads: %v", err)
	}
	return len(out.Uploads)
}

// TestMultipartThreshold: up to one part is a single PutObject (a plain MD5 ETag);
// more is a multipart upload (an ETag ending in -<parts>), read back byte for byte.
func TestMultipartThreshold(t *testing.T) {
	srv := s3test.Start(t)
	const part = s3.MinPartSize
	b, bucket := openBucket(t, srv, "p", part)
	cases := []struct {
		name      string
		size      int
		wantParts int // 0: a single PutObject
	}{
		{"empty", 0, 0},
		{"small", 1000, 0},
		{"exactly one part", part, 0},
		{"one part and a byte", part + 1, 2},
		{"two and a half parts", 2*part + part/2, 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := pattern(c.size)
			key := fmt.Sprintf("obj-%d", c.size)
			// Odd write sizes so part boundaries fall inside writes.
			e := putAll(t, b, key, data, 1<<20+7)
			if e.Size != int64(c.size) {
				t.Errorf("entry size %d, want %d", e.Size, c.size)
			}
			suffix := fmt.Sprintf("-%d\"", c.wantParts)
			if c.wantParts == 0 && strings.Contains(e.Version, "-") {
				t.Errorf("ETag %s: want a single PutObject", e.Version)
			}
			if c.wantParts > 0 && !strings.HasSuffix(e.Version, suffix) {
				t.Errorf("ETag %s: want a multipart upload of %d parts", e.Version, c.wantParts)
			}
			if got := readAll(t, b, key); !bytes.Equal(got, data) {
				t.Fatalf("read back %d bytes that differ from the %d written", len(got), len(data))
			}
			st, err := b.Stat(context.Background(), key)
			if err != nil || st.Version != e.Version || st.Size != int64(c.size) {
				t.Fatalf("Stat = %+v, %v; Commit said %+v", st, err, e)
			}
		})
	}
	if n := uploadsInProgress(t, srv, bucket); n != 0 {
		t.Fatalf("%d multipart uploads left in progress after commits", n)
	}
}

// TestAbortMultipart: Abort after parts went up aborts the upload; a cancelled context
// fails the write and leaves nothing behind either.
func TestAbortMultipart(t *testing.T) {
	srv := s3test.Start(t)
	b, bucket := openBucket(t, srv, "", s3.MinPartSize)
	ctx := context.Background()

	w, err := b.Create(ctx, "aborted")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(pattern(2*s3.MinPartSize + 10)); err != nil {
		t.Fatal(err)
	}
	if n := uploadsInProgress(t, srv, bucket); n != 1 {
		t.Fatalf("%d uploads in progress mid-write, want 1", n)
	}
	w.Abort()
	if n := uploadsInProgress(t, srv, bucket); n != 0 {
		t.Fatalf("%d uploads in progress after Abort, want 0", n)
	}
	if _, err := b.Stat(ctx, "aborted"); !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("Stat after Abort: %v, want ErrNotExist", err)
	}

	cctx, cancel := context.WithCancel(ctx)
	w, err = b.Create(cctx, "cancelled")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(pattern(s3.MinPartSize + 1)); err != nil {
		t.Fatal(err)
	}
	cancel()
	_, err = w.Write(pattern(s3.MinPartSize))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Write after cancel: %v, want context.Canceled", err)
	}
	if _, err := w.Commit(ctx); err == nil {
		t.Fatal("Commit after a failed Write succeeded")
	}
	if n := uploadsInProgress(t, srv, bucket); n != 0 {
		t.Fatalf("%d uploads in progress after a failed commit, want 0", n)
	}
	if _, err := b.Stat(ctx, "cancelled"); !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("Stat after a failed commit: %v, want ErrNotExist", err)
	}
}

// TestReadPinnedToVersion: ranged reads carry If-Match, so after a replace the open
// object fails with ErrConflict and after a delete with ErrNotExist, never returning the
// new bytes.
func TestReadPinnedToVersion(t *testing.T) {
	srv := s3test.Start(t)
	b, _ := openBucket(t, srv, "", 0)
	ctx := context.Background()
	first := bytes.Repeat([]byte("A"), 4096)
	putAll(t, b, "k", first, len(first))
	o, err := b.Open(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	buf := make([]byte, 100)
	if n, err := o.ReadAt(buf, 10); n != 100 || err != nil || !bytes.Equal(buf, first[10:110]) {
		t.Fatalf("ReadAt before replace = %d, %v", n, err)
	}

	putAll(t, b, "k", bytes.Repeat([]byte("B"), 4096), 4096)
	n, err := o.ReadAt(buf, 10)
	if !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("ReadAt after replace = %d, %v; want ErrConflict", n, err)
	}
	if !strings.Contains(err.Error(), "/k") {
		t.Errorf("error %q does not name the key", err)
	}

	o2, err := b.Open(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	defer o2.Close()
	if err := b.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if n, err := o2.ReadAt(buf, 0); !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("ReadAt after delete = %d, %v; want ErrNotExist", n, err)
	}
}

// TestReadAtEdges: reads at and past the end, and of an empty object, follow io.ReaderAt.
func TestReadAtEdges(t *testing.T) {
	srv := s3test.Start(t)
	b, _ := openBucket(t, srv, "", 0)
	ctx := context.Background()
	putAll(t, b, "ten", []byte("0123456789"), 10)
	putAll(t, b, "empty", nil, 1)
	o, err := b.Open(ctx, "ten")
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	buf := make([]byte, 4)
	if n, err := o.ReadAt(buf, 8); n != 2 || err != io.EOF || string(buf[:2]) != "89" {
		t.Errorf("ReadAt(4 at 8) = %d, %v, %q; want 2, EOF, \"89\"", n, err, buf[:n])
	}
	if n, err := o.ReadAt(buf, 10); n != 0 || err != io.EOF {
		t.Errorf("ReadAt at the end = %d, %v; want 0, EOF", n, err)
	}
	if _, err := o.ReadAt(buf, -1); err == nil {
		t.Error("ReadAt at a negative offset succeeded")
	}
	e, err := b.Open(ctx, "empty")
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if e.Size() != 0 {
		t.Fatalf("empty object has size %d", e.Size())
	}
	if n, err := e.ReadAt(buf, 0); n != 0 || err != io.EOF {
		t.Errorf("ReadAt of an empty object = %d, %v; want 0, EOF", n, err)
	}
	o.Close()
	if _, err := o.ReadAt(buf, 0); err == nil {
		t.Error("ReadAt after Close succeeded")
	}
}

// TestWriteIfCreateRace: N goroutines create the same key with If-None-Match: *;
// exactly one wins and the key holds its bytes.
func TestWriteIfCreateRace(t *testing.T) {
	srv := s3test.Start(t)
	b, _ := openBucket(t, srv, "ds", 0)
	ctx := context.Background()
	const writers = 16
	for round := range 3 {
		key := fmt.Sprintf("_manifest-%d.json", round)
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			winners []string
			version string
		)
		for i := range writers {
			wg.Go(func() {
				data := fmt.Sprintf(`{"writer": %d}`, i)
				v, err := b.WriteIf(ctx, key, []byte(data), "")
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					winners = append(winners, data)
					version = v
				case !errors.Is(err, storage.ErrConflict):
					t.Errorf("writer %d: %v, want nil or ErrConflict", i, err)
				}
			})
		}
		wg.Wait()
		if len(winners) != 1 {
			t.Fatalf("round %d: %d winners %v, want exactly one", round, len(winners), winners)
		}
		data, v, err := b.ReadVersioned(ctx, key)
		if err != nil || string(data) != winners[0] || v != version {
			t.Fatalf("round %d: key holds %q (%q, %v), the winner wrote %q (%q)", round, data, v, err, winners[0], version)
		}
	}
}

// TestInvalidKeys: keys a local directory could not mirror are refused before any
// request, with a message naming the key.
func TestInvalidKeys(t *testing.T) {
	srv := s3test.Start(t)
	b, _ := openBucket(t, srv, "", 0)
	ctx := context.Background()
	for _, key := range []string{"", "/abs", "a//b", "../x", "a/./b", "trailing/", "nul\x00"} {
		t.Run(fmt.Sprintf("%q", key), func(t *testing.T) {
			if _, err := b.Stat(ctx, key); err == nil || errors.Is(err, storage.ErrNotExist) {
				t.Errorf("Stat: %v, want an invalid-key error", err)
			}
			if _, err := b.Create(ctx, key); err == nil {
				t.Error("Create succeeded")
			}
			_, err := b.WriteIf(ctx, key, []byte("x"), "")
			if err == nil {
				t.Fatal("WriteIf succeeded")
			}
			if key != "" && !strings.Contains(err.Error(), fmt.Sprintf("%q", key)) {
				t.Errorf("error %q does not name the key", err)
			}
		})
	}
}

// TestStatDirectory: a prefix with objects under it stats as a directory.
func TestStatDirectory(t *testing.T) {
	srv := s3test.Start(t)
	b, _ := openBucket(t, srv, "root", 0)
	putAll(t, b, "ds/part-1.parquet", []byte("x"), 1)
	st, err := b.Stat(context.Background(), "ds")
	if err != nil || !st.Dir || st.Key != "ds" {
		t.Fatalf("Stat(ds) = %+v, %v; want a directory", st, err)
	}
	if _, err := b.Stat(context.Background(), "d"); !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("Stat(d) = %v; a key prefix that is not a path element is no directory", err)
	}
}

// TestOpenErrors: a missing bucket, a bad endpoint and a part size under S3's minimum
// are refused at Open with errors that say which.
func TestOpenErrors(t *testing.T) {
	srv := s3test.Start(t)
	ctx := context.Background()
	base := s3.Config{Endpoint: srv.Endpoint, PathStyle: true, AccessKey: s3test.AccessKey, SecretKey: s3test.SecretKey, Region: s3test.Region}
	cases := []struct {
		name string
		edit func(*s3.Config)
		want error
		text string
	}{
		{"missing bucket", func(c *s3.Config) { c.URL = "s3://no-such-bucket/x" }, s3.ErrNoBucket, "s3://no-such-bucket/x"},
		{"bad endpoint", func(c *s3.Config) { c.URL = "s3://abc"; c.Endpoint = "127.0.0.1:9" }, s3.ErrInvalidConfig, "endpoint"},
		{"small parts", func(c *s3.Config) { c.URL = "s3://abc"; c.PartSize = 1 << 20 }, s3.ErrInvalidConfig, "part size"},
		{"half credentials", func(c *s3.Config) { c.URL = "s3://abc"; c.SecretKey = "" }, s3.ErrInvalidConfig, "secret key"},
		{"not s3", func(c *s3.Config) { c.URL = "/srv/data" }, s3.ErrInvalidConfig, "s3://bucket/prefix"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := base
			c.edit(&cfg)
			_, err := s3.Open(ctx, cfg)
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.text) {
				t.Fatalf("Open = %v; want %v mentioning %q", err, c.want, c.text)
			}
		})
	}
}

func TestParseURL(t *testing.T) {
	cases := []struct {
		in, bucket, prefix string
		ok                 bool
	}{
		{"s3://abc", "abc", "", true},
		{"s3://abc/", "abc", "", true},
		{"s3://my.bucket-1/a/b/", "my.bucket-1", "a/b", true},
		{"s3://ab/x", "", "", false},
		{"s3://ABC/x", "", "", false},
		{"s3://-abc", "", "", false},
		{"s3://abc/a//b", "", "", false},
		{"s3://abc/a/../b", "", "", false},
		{"s3://abc:9000/x", "", "", false},
		{"s3://user@abc/x", "", "", false},
		{"s3://abc/x?versionId=1", "", "", false},
		{"http://abc/x", "", "", false},
		{"abc/x", "", "", false},
	}
	for _, c := range cases {
		bucket, prefix, err := s3.ParseURL(c.in)
		if c.ok != (err == nil) || bucket != c.bucket || prefix != c.prefix {
			t.Errorf("ParseURL(%q) = %q, %q, %v", c.in, bucket, prefix, err)
		}
		if err != nil && (!errors.Is(err, s3.ErrInvalidConfig) || !strings.Contains(err.Error(), c.in)) {
			t.Errorf("ParseURL(%q) error %q: want ErrInvalidConfig naming the URL", c.in, err)
		}
	}
}
