package integration

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/quiverdata/quiver/catalog/storage/s3"
	"github.com/quiverdata/quiver/catalog/storage/s3/s3test"
)

// binaryRoot is the dataset root of a `quiver serve` binary a test starts itself: a
// fresh directory, or with QUIVER_TEST_BACKEND=s3 a fresh bucket on a versitygw. The
// helpers that look at what a server stored (tempFiles, rootEntries, ...) take its
// Root as they take an in-process server's.
type binaryRoot struct {
	Root string // the directory, or "s3://BUCKET/warehouse"
	s3   *s3test.Server
}

// newBinaryRoot makes the root of a binary the test starts. On S3 it sets the AWS
// variables the binary's credential chain reads, as a user gives them, and keeps the
// AWS config files and the instance metadata service out of the test.
func newBinaryRoot(t testing.TB) *binaryRoot {
	t.Helper()
	if !onS3() {
		return &binaryRoot{Root: t.TempDir()}
	}
	srv := s3test.Start(t)
	name := srv.NewBucket(t)
	bkt, err := s3.Open(context.Background(), s3.Config{URL: "s3://" + name + "/warehouse", Endpoint: srv.Endpoint,
		Region: s3test.Region, PathStyle: true, AccessKey: s3test.AccessKey, SecretKey: s3test.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	s3Envs.Store(bkt.String(), &s3Env{srv: srv, bucket: name, bkt: bkt})
	t.Cleanup(func() { s3Envs.Delete(bkt.String()) })
	t.Setenv("AWS_ACCESS_KEY_ID", s3test.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3test.SecretKey)
	t.Setenv("AWS_REGION", s3test.Region)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return &binaryRoot{Root: bkt.String(), s3: srv}
}

// args are the `quiver serve` flags that serve this root; on S3 each call names a
// fresh part cache directory (one server per cache directory).
func (r *binaryRoot) args(t testing.TB) []string {
	t.Helper()
	if r.s3 == nil {
		return []string{"--root", r.Root}
	}
	return []string{"--root", r.Root, "--s3-endpoint", r.s3.Endpoint, "--s3-path-style",
		"--cache-dir", t.TempDir(), "--cache-size", "256MiB"}
}

// serve starts the binary on this root with more flags, in a fresh working directory.
func (r *binaryRoot) serve(t testing.TB, args ...string) *quiverProcess {
	t.Helper()
	return startQuiver(t, t.TempDir(), append(append(r.args(t), "--addr", "127.0.0.1:0"), args...)...)
}
