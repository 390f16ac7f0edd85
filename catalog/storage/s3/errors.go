package s3

import (
	"errors"
	"fmt"
	"net/http"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

	"github.com/quiverdata/quiver/catalog/storage"
)

// ErrNoBucket reports that the configured bucket does not exist on the server.
var ErrNoBucket = errors.New("s3: bucket does not exist")

// errorKind is what an S3 error means to the seam.
type errorKind int

const (
	kindOther errorKind = iota
	kindNotExist
	kindConflict
	kindNoBucket
)

// classify reads an SDK error: the S3 error code where the server sent one (HEAD
// answers have no body, so only the HTTP status is left there).
func classify(err error) errorKind {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "NoSuchKey", "NotFound":
			return kindNotExist
		case "NoSuchBucket":
			return kindNoBucket
		case "PreconditionFailed", "ConditionalRequestConflict":
			return kindConflict
		}
	}
	var respErr *awshttp.ResponseError
	if errors.As(err, &respErr) {
		switch respErr.HTTPStatusCode() {
		case http.StatusNotFound:
			return kindNotExist
		case http.StatusPreconditionFailed:
			return kindConflict
		case http.StatusConflict:
			// 409 is what S3 (and moto) send when a conditional write races another
			// conditional write or upload to the same key: the precondition lost.
			return kindConflict
		}
	}
	return kindOther
}

// wrap gives an SDK error the context of the operation and location, and the seam's
// sentinel where one applies, so callers test it with errors.Is.
func (b *Bucket) wrap(op, key string, err error) error {
	loc := b.location(key)
	switch classify(err) {
	case kindNotExist:
		return fmt.Errorf("%s %s: %w", op, loc, storage.ErrNotExist)
	case kindConflict:
		return fmt.Errorf("%s %s: %w", op, loc, storage.ErrConflict)
	case kindNoBucket:
		return fmt.Errorf("%s %s: %w", op, loc, ErrNoBucket)
	}
	return fmt.Errorf("%s %s: %w", op, loc, err)
}
