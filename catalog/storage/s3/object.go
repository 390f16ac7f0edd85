package s3

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/quiverdata/quiver/catalog/storage"
)

// object reads one version of an object through ranged GETs. Every GET carries
// If-Match with the ETag seen at Open, so once the key is replaced reads fail with
// storage.ErrConflict instead of returning bytes of the new version. ReadAt is safe for
// concurrent use, as io.ReaderAt requires.
type object struct {
	ctx     context.Context
	b       *Bucket
	key     string
	size    int64
	version string
	closed  atomic.Bool
}

func (o *object) Size() int64     { return o.size }
func (o *object) Version() string { return o.version }

// Close ends the object's use; S3 holds nothing open between reads.
func (o *object) Close() error {
	o.closed.Store(true)
	return nil
}

// ReadAt reads len(p) bytes at off with one ranged GET. As io.ReaderAt requires, a short
// read (the end of the object) returns io.EOF with the bytes read.
func (o *object) ReadAt(p []byte, off int64) (int, error) {
	if o.closed.Load() {
		return 0, fmt.Errorf("read %s: %w", o.b.location(o.key), errClosed)
	}
	if off < 0 {
		return 0, fmt.Errorf("read %s: negative offset %d", o.b.location(o.key), off)
	}
	if len(p) == 0 {
		return 0, nil
	}
	if off >= o.size {
		return 0, io.EOF
	}
	want := int64(len(p))
	if rest := o.size - off; want > rest {
		want = rest
	}
	out, err := o.b.client.GetObject(o.ctx, &awss3.GetObjectInput{
		Bucket:  aws.String(o.b.bucket),
		Key:     aws.String(o.b.objectKey(o.key)),
		Range:   aws.String(fmt.Sprintf("bytes=%d-%d", off, off+want-1)),
		IfMatch: aws.String(o.version),
	})
	if err != nil {
		return 0, o.b.wrap(fmt.Sprintf("read [%d, %d) of", off, off+want), o.key, err)
	}
	defer out.Body.Close()
	if etag := aws.ToString(out.ETag); etag != "" && etag != o.version {
		// A server that ignores If-Match still names the version it sent.
		return 0, fmt.Errorf("read %s: %w", o.b.location(o.key), storage.ErrConflict)
	}
	n, err := io.ReadFull(out.Body, p[:want])
	if err != nil {
		return n, fmt.Errorf("read [%d, %d) of %s: %w", off, off+want, o.b.location(o.key), err)
	}
	if want < int64(len(p)) {
		return n, io.EOF
	}
	return n, nil
}
