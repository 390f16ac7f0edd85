package s3

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/quiverdata/quiver/catalog/storage"
)

// abortTimeout bounds the AbortMultipartUpload that Abort sends; it runs even when the
// writer's context is already cancelled, which is often why it is aborting.
const abortTimeout = 30 * time.Second

// writer buffers at most one part. Up to partSize bytes it is a single PutObject at
// Commit; past that, a multipart upload whose parts are sent as they fill (so memory
// stays at one part however large the object), completed at Commit. A Writer is not
// safe for concurrent use.
type writer struct {
	ctx      context.Context // for the parts uploaded from Write, which has no context
	b        *Bucket
	key      string
	buf      []byte // the part being filled; grows by append up to partSize
	size     int64
	uploadID string
	parts    []types.CompletedPart
	err      error // sticky: a failed part upload fails every later call
	done     bool
}

// Write appends p, uploading a part each time the buffer holds partSize bytes and more
// follow.
func (w *writer) Write(p []byte) (int, error) {
	if w.done {
		return 0, fmt.Errorf("write %s: %w", w.b.location(w.key), errClosed)
	}
	if w.err != nil {
		return 0, w.err
	}
	written := 0
	for len(p) > 0 {
		if int64(len(w.buf)) == w.b.partSize {
			if err := w.uploadPart(w.ctx); err != nil {
				w.err = err
				return written, err
			}
		}
		k := min(int64(len(p)), w.b.partSize-int64(len(w.buf)))
		w.buf = append(w.buf, p[:k]...)
		p = p[k:]
		written += int(k)
		w.size += k
	}
	return written, nil
}

// uploadPart sends the buffer as the next part, starting the multipart upload first if
// this is the first part, and empties the buffer.
func (w *writer) uploadPart(ctx context.Context) error {
	if len(w.parts) == maxParts {
		return fmt.Errorf("write %s: object is over %d parts of %d bytes; raise the part size",
			w.b.location(w.key), maxParts, w.b.partSize)
	}
	if w.uploadID == "" {
		out, err := w.b.client.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{
			Bucket: aws.String(w.b.bucket),
			Key:    aws.String(w.b.objectKey(w.key)),
		})
		if err != nil {
			return w.b.wrap("start multipart upload of", w.key, err)
		}
		w.uploadID = aws.ToString(out.UploadId)
	}
	num := int32(len(w.parts) + 1)
	out, err := w.b.client.UploadPart(ctx, &awss3.UploadPartInput{
		Bucket:        aws.String(w.b.bucket),
		Key:           aws.String(w.b.objectKey(w.key)),
		UploadId:      aws.String(w.uploadID),
		PartNumber:    aws.Int32(num),
		Body:          bytes.NewReader(w.buf),
		ContentLength: aws.Int64(int64(len(w.buf))),
	})
	if err != nil {
		return w.b.wrap(fmt.Sprintf("upload part %d of", num), w.key, err)
	}
	w.parts = append(w.parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(num)})
	w.buf = w.buf[:0]
	return nil
}

// Commit publishes the object: one PutObject, or the last part and
// CompleteMultipartUpload. On an error nothing is published and the upload is aborted.
func (w *writer) Commit(ctx context.Context) (storage.Entry, error) {
	if w.done {
		return storage.Entry{}, fmt.Errorf("commit %s: %w", w.b.location(w.key), errClosed)
	}
	if w.err != nil {
		w.Abort()
		return storage.Entry{}, w.err
	}
	etag, err := w.publish(ctx)
	if err != nil {
		w.Abort()
		return storage.Entry{}, err
	}
	w.done = true
	w.buf = nil
	return storage.Entry{Key: w.key, Size: w.size, ModTime: now(), Version: etag}, nil
}

func (w *writer) publish(ctx context.Context) (string, error) {
	if w.uploadID == "" {
		out, err := w.b.client.PutObject(ctx, &awss3.PutObjectInput{
			Bucket:        aws.String(w.b.bucket),
			Key:           aws.String(w.b.objectKey(w.key)),
			Body:          bytes.NewReader(w.buf),
			ContentLength: aws.Int64(int64(len(w.buf))),
		})
		if err != nil {
			return "", w.b.wrap("put", w.key, err)
		}
		return aws.ToString(out.ETag), nil
	}
	if len(w.buf) > 0 {
		if err := w.uploadPart(ctx); err != nil {
			return "", err
		}
	}
	out, err := w.b.client.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{
		Bucket:          aws.String(w.b.bucket),
		Key:             aws.String(w.b.objectKey(w.key)),
		UploadId:        aws.String(w.uploadID),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: w.parts},
	})
	if err != nil {
		return "", w.b.wrap("complete multipart upload of", w.key, err)
	}
	w.uploadID = "" // completed: nothing left to abort
	return aws.ToString(out.ETag), nil
}

// Abort discards the object and aborts its multipart upload, if one was started. It is
// a no-op after Commit or a previous Abort.
func (w *writer) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.buf = nil
	if w.uploadID == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(w.ctx), abortTimeout)
	defer cancel()
	// A failed abort leaves parts that no key shows; the bucket's lifecycle rule for
	// incomplete multipart uploads is the backstop, so there is nothing more to do here.
	_, _ = w.b.client.AbortMultipartUpload(ctx, &awss3.AbortMultipartUploadInput{
		Bucket:   aws.String(w.b.bucket),
		Key:      aws.String(w.b.objectKey(w.key)),
		UploadId: aws.String(w.uploadID),
	})
	w.uploadID = ""
}
