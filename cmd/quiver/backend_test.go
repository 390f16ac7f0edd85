package main

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/quiverdata/quiver/catalog/storage/s3/s3test"
)

// backendEnv chooses where the servers these tests start keep their datasets, as in
// the integration package: unset or "local" for a fresh directory, "s3" for a fresh
// bucket on a versitygw (`make test-s3` runs this package that way too).
const backendEnv = "QUIVER_TEST_BACKEND"

// testBackend is where a server started by a test keeps its datasets.
type testBackend struct {
	root    string         // --root: a directory, or s3://BUCKET/warehouse
	storage storageOptions // on S3: endpoint, path style, part cache
	s3      *s3test.Server // on S3: the versitygw holding the bucket
	bucket  string
}

// newTestBackend makes a fresh root for a server: a directory, or with
// QUIVER_TEST_BACKEND=s3 a bucket on a versitygw started for the test, with a part
// cache in a fresh directory. On S3 it sets the AWS variables the server's credential
// chain reads, as a user would, and keeps the AWS config files and the instance
// metadata service out of the test.
func newTestBackend(t *testing.T) testBackend {
	t.Helper()
	switch b := os.Getenv(backendEnv); b {
	case "", "local":
		return testBackend{root: t.TempDir()}
	case "s3":
	default:
		t.Fatalf("%s=%q: want local or s3", backendEnv, b)
	}
	srv := s3test.Start(t)
	bucket := srv.NewBucket(t)
	t.Setenv("AWS_ACCESS_KEY_ID", s3test.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3test.SecretKey)
	t.Setenv("AWS_REGION", s3test.Region)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return testBackend{
		root:    "s3://" + bucket + "/warehouse",
		storage: storageOptions{s3Endpoint: srv.Endpoint, s3PathStyle: true, cacheDir: t.TempDir(), cacheSize: "256MiB"},
		s3:      srv,
		bucket:  bucket,
	}
}

// stored lists what the root holds, sorted: the files under the directory, or the
// keys under the bucket's prefix, relative to the root.
func (b testBackend) stored(t *testing.T) []string {
	t.Helper()
	var out []string
	if b.s3 == nil {
		err := filepath.WalkDir(b.root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, err := filepath.Rel(b.root, path)
			out = append(out, filepath.ToSlash(rel))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		res, err := b.s3.Client().ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String(b.bucket), Prefix: aws.String("warehouse/")})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range res.Contents {
			out = append(out, strings.TrimPrefix(aws.ToString(o.Key), "warehouse/"))
		}
	}
	slices.Sort(out)
	return out
}

// TestServeKeepsDatasetsOnTheTestBackend: the servers of this package's tests keep
// their datasets where QUIVER_TEST_BACKEND says, so an S3 run is one indeed.
func TestServeKeepsDatasetsOnTheTestBackend(t *testing.T) {
	r := startServe(t, opsOptions{})
	csv := filepath.Join(t.TempDir(), "where.csv")
	if err := os.WriteFile(csv, []byte("n\n1\n2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, stderr, err := runQuiver(t, "", "put", "where", csv, "-s", "grpc://"+r.grpcAddr, "--progress", "never"); err != nil {
		t.Fatalf("put: %v %s", err, stderr)
	}
	got := r.backend.stored(t)
	if r.backend.s3 == nil {
		// A local root acknowledges a put once it landed; Parquet follows at once.
		for deadline := time.Now().Add(10 * time.Second); !slices.Equal(got, []string{"where"}) && time.Now().Before(deadline); got = r.backend.stored(t) {
			time.Sleep(10 * time.Millisecond)
		}
		if !slices.Equal(got, []string{"where"}) {
			t.Fatalf("the local root holds %q, want [where]", got)
		}
		return
	}
	if !strings.HasPrefix(r.backend.root, "s3://") || !slices.Contains(got, "where/_quiver_manifest.json") {
		t.Fatalf("root %s holds %q, want a manifest under where/", r.backend.root, got)
	}
}
