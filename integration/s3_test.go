package integration

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/quiverdata/quiver/catalog/storage/s3/s3test"
)

// TestBinaryOnS3 runs the real `quiver serve --root s3://...` on versitygw and drives it
// with the CLI: put, SQL (through the part cache), append, get, ls and drop, checking
// what lands in the bucket and in the cache directory.
func TestBinaryOnS3(t *testing.T) {
	s3srv := s3test.Start(t)
	bucket := s3srv.NewBucket(t)
	// Credentials the way users give them: the standard AWS variables. The config
	// files and the instance metadata service are kept out of a test.
	t.Setenv("AWS_ACCESS_KEY_ID", s3test.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3test.SecretKey)
	t.Setenv("AWS_REGION", s3test.Region)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")

	cacheDir := t.TempDir()
	p := startQuiver(t, t.TempDir(), "--root", "s3://"+bucket+"/warehouse", "--addr", "127.0.0.1:0",
		"--s3-endpoint", s3srv.Endpoint, "--s3-path-style", "--cache-dir", cacheDir, "--cache-size", "256MiB")
	srv := &testServer{Addr: p.addr}
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "sales.csv"), []byte("id,region,amount\n1,north,10\n2,south,20\n3,north,30\n"), 0o600))
	must(t, os.WriteFile(filepath.Join(dir, "more.csv"), []byte("id,region,amount\n4,south,40\n5,east,50\n"), 0o600))

	srv.ok(t, dir, "put", "sales.parquet", "sales.csv")
	sql := "SELECT count(*) AS n, sum(amount) AS total FROM sales"
	if got := srv.ok(t, dir, "sql", sql, "--format", "csv").stdout; got != "n,total\n3,60\n" {
		t.Fatalf("SQL after put:\n%s\nlog:\n%s", got, p.logText())
	}
	srv.ok(t, dir, "put", "sales.parquet", "more.csv", "--append")
	if got := srv.ok(t, dir, "sql", sql, "--format", "csv").stdout; got != "n,total\n5,150\n" {
		t.Fatalf("SQL after append:\n%s\nlog:\n%s", got, p.logText())
	}
	got := srv.ok(t, dir, "sql", "SELECT region, sum(amount) AS s FROM sales GROUP BY region ORDER BY region", "--format", "csv").stdout
	if got != "region,s\neast,50\nnorth,40\nsouth,60\n" {
		t.Fatalf("GROUP BY after append:\n%s", got)
	}
	srv.ok(t, dir, "get", "sales.parquet", "-o", "out.csv")
	out, err := os.ReadFile(filepath.Join(dir, "out.csv"))
	must(t, err)
	if lines := strings.Count(string(out), "\n"); lines != 6 {
		t.Fatalf("get wrote %d lines, want a header and 5 rows:\n%s", lines, out)
	}
	if ls := srv.ok(t, dir, "ls", "--format", "csv").stdout; !strings.Contains(ls, "sales.parquet") {
		t.Fatalf("ls does not list the dataset:\n%s", ls)
	}

	// The bucket holds the dataset as plain Parquet parts and a manifest, under the
	// prefix; the cache holds local copies of the two parts SQL read.
	keys := bucketKeys(t, s3srv, bucket)
	var parts int
	for _, k := range keys {
		if !strings.HasPrefix(k, "warehouse/sales.parquet/") {
			t.Errorf("key %q outside the dataset's prefix", k)
		}
		if strings.HasSuffix(k, ".parquet") {
			parts++
		}
	}
	if parts != 2 || !containsString(keys, "warehouse/sales.parquet/_quiver_manifest.json") {
		t.Fatalf("bucket keys %v: want two Parquet parts and a manifest", keys)
	}
	cached, err := filepath.Glob(filepath.Join(cacheDir, "*.part"))
	must(t, err)
	if len(cached) != 2 {
		t.Fatalf("cache directory holds %d parts, want 2", len(cached))
	}

	srv.ok(t, dir, "drop", "sales.parquet", "--yes")
	r := srv.quiver(t, dir, nil, "sql", sql)
	if r.code == 0 || !strings.Contains(r.stderr, "sales") {
		t.Fatalf("SQL on a dropped dataset: exit %d, stderr %q", r.code, r.stderr)
	}
	if ls := srv.ok(t, dir, "ls", "--format", "csv").stdout; strings.Contains(ls, "sales.parquet") {
		t.Fatalf("ls still lists the dropped dataset:\n%s", ls)
	}
}

// bucketKeys lists every key in bucket.
func bucketKeys(t testing.TB, srv *s3test.Server, bucket string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := srv.Client().ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	return keys
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
