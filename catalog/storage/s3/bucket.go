package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/quiverdata/quiver/catalog/storage"
)

// maxSmallObject bounds ReadVersioned: it holds the whole object in memory, so a key that
// turns out to be a large part must be an error, not an allocation of its size.
const maxSmallObject = 256 << 20

// Bucket is a storage.Bucket over one S3 bucket and key prefix. It is safe for
// concurrent use.
type Bucket struct {
	client   *awss3.Client
	bucket   string
	prefix   string // no leading or trailing slash; "" for the whole bucket
	partSize int64
	name     string // "s3://bucket/prefix"
}

var _ storage.Bucket = (*Bucket)(nil)

// Open connects to the bucket cfg names and checks that it exists and the credentials
// reach it (one HeadBucket request).
func Open(ctx context.Context, cfg Config) (*Bucket, error) {
	bucket, prefix, err := ParseURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	if cfg.Endpoint != "" {
		u, err := url.Parse(cfg.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("%w: endpoint %q: want http://HOST[:PORT] or https://HOST[:PORT]", ErrInvalidConfig, cfg.Endpoint)
		}
	}
	partSize := cfg.PartSize
	if partSize == 0 {
		partSize = DefaultPartSize
	}
	if partSize < MinPartSize {
		return nil, fmt.Errorf("%w: part size %d is under S3's minimum of %d bytes", ErrInvalidConfig, partSize, MinPartSize)
	}
	client, err := newClient(ctx, cfg)
	if err != nil {
		return nil, err
	}
	b := &Bucket{client: client, bucket: bucket, prefix: prefix, partSize: partSize, name: "s3://" + bucket}
	if prefix != "" {
		b.name += "/" + prefix
	}
	if _, err := client.HeadBucket(ctx, &awss3.HeadBucketInput{Bucket: aws.String(bucket)}); err != nil {
		if classify(err) == kindNotExist || classify(err) == kindNoBucket {
			return nil, fmt.Errorf("open %s: %w", b.name, ErrNoBucket)
		}
		return nil, fmt.Errorf("open %s: %w", b.name, err)
	}
	return b, nil
}

// String names the bucket and prefix: "s3://bucket/prefix".
func (b *Bucket) String() string { return b.name }

// objectKey maps a seam key to the S3 key under the prefix.
func (b *Bucket) objectKey(key string) string {
	if b.prefix == "" {
		return key
	}
	return b.prefix + "/" + key
}

// seamKey maps an S3 key under the prefix back to a seam key.
func (b *Bucket) seamKey(objectKey string) string {
	if b.prefix == "" {
		return objectKey
	}
	return strings.TrimPrefix(objectKey, b.prefix+"/")
}

// location names a key for error messages: "s3://bucket/prefix/key".
func (b *Bucket) location(key string) string {
	if key == "" {
		return b.name
	}
	return b.name + "/" + key
}

func (b *Bucket) checkKey(op, key string) error {
	if err := checkKey(key); err != nil {
		return fmt.Errorf("%s %s: %w", op, b.name, err)
	}
	return nil
}

// Stat describes the object at key, or the directory when objects exist under key+"/".
func (b *Bucket) Stat(ctx context.Context, key string) (storage.Entry, error) {
	if err := b.checkKey("stat", key); err != nil {
		return storage.Entry{}, err
	}
	head, err := b.client.HeadObject(ctx, &awss3.HeadObjectInput{
		Bucket: aws.String(b.bucket),
		Key:    aws.String(b.objectKey(key)),
	})
	if err == nil {
		return storage.Entry{
			Key:     key,
			Size:    aws.ToInt64(head.ContentLength),
			ModTime: aws.ToTime(head.LastModified),
			Version: aws.ToString(head.ETag),
		}, nil
	}
	if classify(err) != kindNotExist {
		return storage.Entry{}, b.wrap("stat", key, err)
	}
	// No object: a directory exists on S3 exactly when some key lies under it.
	list, lerr := b.client.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{
		Bucket:  aws.String(b.bucket),
		Prefix:  aws.String(b.objectKey(key) + "/"),
		MaxKeys: aws.Int32(1),
	})
	if lerr != nil {
		return storage.Entry{}, b.wrap("stat", key, lerr)
	}
	if len(list.Contents) == 0 {
		return storage.Entry{}, b.wrap("stat", key, err)
	}
	return storage.Entry{Key: key, Dir: true}, nil
}

// Open opens the object at key for ranged reads of the version that is there now.
// Reads run under ctx: cancel it to abort them.
func (b *Bucket) Open(ctx context.Context, key string) (storage.Object, error) {
	if err := b.checkKey("open", key); err != nil {
		return nil, err
	}
	head, err := b.client.HeadObject(ctx, &awss3.HeadObjectInput{
		Bucket: aws.String(b.bucket),
		Key:    aws.String(b.objectKey(key)),
	})
	if err != nil {
		return nil, b.wrap("open", key, err)
	}
	etag := aws.ToString(head.ETag)
	if etag == "" {
		// Without an ETag a replaced object could not be told apart: refuse rather than
		// risk mixing versions.
		return nil, fmt.Errorf("open %s: the server sent no ETag", b.location(key))
	}
	return &object{
		ctx:     ctx,
		b:       b,
		key:     key,
		size:    aws.ToInt64(head.ContentLength),
		version: etag,
	}, nil
}

// Create starts a new object at key. Nothing is uploaded until a part fills or Commit.
func (b *Bucket) Create(ctx context.Context, key string) (storage.Writer, error) {
	if err := b.checkKey("create", key); err != nil {
		return nil, err
	}
	return &writer{ctx: ctx, b: b, key: key}, nil
}

// List returns the immediate children of dir, sorted by key. A dir with nothing under it
// lists empty: S3 has no directories of its own, only keys that share a prefix.
func (b *Bucket) List(ctx context.Context, dir string) ([]storage.Entry, error) {
	prefix := b.prefix
	if dir != "" {
		if err := b.checkKey("list", dir); err != nil {
			return nil, err
		}
		prefix = b.objectKey(dir)
	}
	if prefix != "" {
		prefix += "/"
	}
	var out []storage.Entry
	p := awss3.NewListObjectsV2Paginator(b.client, &awss3.ListObjectsV2Input{
		Bucket:    aws.String(b.bucket),
		Prefix:    aws.String(prefix),
		Delimiter: aws.String("/"),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, b.wrap("list", dir, err)
		}
		for _, cp := range page.CommonPrefixes {
			k := strings.TrimSuffix(aws.ToString(cp.Prefix), "/")
			out = append(out, storage.Entry{Key: b.seamKey(k), Dir: true})
		}
		for _, obj := range page.Contents {
			k := aws.ToString(obj.Key)
			if k == prefix {
				continue // a "directory marker" object some tools create
			}
			out = append(out, storage.Entry{
				Key:     b.seamKey(k),
				Size:    aws.ToInt64(obj.Size),
				ModTime: aws.ToTime(obj.LastModified),
				Version: aws.ToString(obj.ETag),
			})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// Delete removes the object at key; a missing key is not an error.
func (b *Bucket) Delete(ctx context.Context, key string) error {
	if err := b.checkKey("delete", key); err != nil {
		return err
	}
	_, err := b.client.DeleteObject(ctx, &awss3.DeleteObjectInput{
		Bucket: aws.String(b.bucket),
		Key:    aws.String(b.objectKey(key)),
	})
	if err != nil && classify(err) != kindNotExist {
		return b.wrap("delete", key, err)
	}
	return nil
}

// ReadVersioned reads the object at key whole, with its ETag.
func (b *Bucket) ReadVersioned(ctx context.Context, key string) ([]byte, string, error) {
	if err := b.checkKey("read", key); err != nil {
		return nil, "", err
	}
	out, err := b.client.GetObject(ctx, &awss3.GetObjectInput{
		Bucket: aws.String(b.bucket),
		Key:    aws.String(b.objectKey(key)),
	})
	if err != nil {
		return nil, "", b.wrap("read", key, err)
	}
	defer out.Body.Close()
	if n := aws.ToInt64(out.ContentLength); n > maxSmallObject {
		return nil, "", fmt.Errorf("read %s: object of %d bytes is over the %d-byte limit for whole reads", b.location(key), n, maxSmallObject)
	}
	data, err := io.ReadAll(io.LimitReader(out.Body, maxSmallObject+1))
	if err != nil {
		return nil, "", fmt.Errorf("read %s: %w", b.location(key), err)
	}
	if len(data) > maxSmallObject {
		return nil, "", fmt.Errorf("read %s: object is over the %d-byte limit for whole reads", b.location(key), maxSmallObject)
	}
	return data, aws.ToString(out.ETag), nil
}

// WriteIf writes data at key only if the key's ETag is ifVersion, or, with ifVersion "",
// only if the key does not exist. A lost race is storage.ErrConflict.
func (b *Bucket) WriteIf(ctx context.Context, key string, data []byte, ifVersion string) (string, error) {
	if err := b.checkKey("write", key); err != nil {
		return "", err
	}
	in := &awss3.PutObjectInput{
		Bucket:        aws.String(b.bucket),
		Key:           aws.String(b.objectKey(key)),
		Body:          bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))),
	}
	if ifVersion == "" {
		in.IfNoneMatch = aws.String("*")
	} else {
		in.IfMatch = aws.String(ifVersion)
	}
	out, err := b.client.PutObject(ctx, in)
	if err == nil {
		return aws.ToString(out.ETag), nil
	}
	kind := classify(err)
	if kind == kindNotExist && ifVersion != "" {
		// If-Match on a key that is gone: the version it names is not current.
		kind = kindConflict
	}
	if kind != kindConflict {
		return "", b.wrap("write", key, err)
	}
	// The SDK retries a request whose answer was lost; the retry of a write that did
	// land sees its own object and gets 412. The bytes there tell: a manifest names
	// fresh part keys, so another writer's is never byte-identical to ours.
	if got, version, rerr := b.ReadVersioned(ctx, key); rerr == nil && bytes.Equal(got, data) {
		return version, nil
	}
	return "", fmt.Errorf("write %s: %w", b.location(key), storage.ErrConflict)
}

// errClosed reports use of an Object or Writer after Close, Commit or Abort.
var errClosed = errors.New("s3: use after close")

// now is time.Now; Commit stamps entries with it when the server sends no time.
var now = time.Now
