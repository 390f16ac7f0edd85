package s3

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
)

// Part sizes. S3 refuses parts under 5 MiB (except the last) and uploads of more than
// 10,000 parts, so with the default an object may be up to about 80 GB.
const (
	DefaultPartSize = 8 << 20
	MinPartSize     = 5 << 20
	maxParts        = 10000
	defaultRegion   = "us-east-1"
)

// ErrInvalidConfig reports a bad URL, bucket name, prefix or part size.
var ErrInvalidConfig = errors.New("s3: invalid configuration")

// Config says which bucket to use and how to reach it. Only URL is required.
type Config struct {
	// URL is "s3://bucket" or "s3://bucket/prefix"; keys live under the prefix.
	URL string
	// Endpoint is the server's base URL ("http://127.0.0.1:7070"); empty means AWS, or
	// AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL from the environment.
	Endpoint string
	// Region signs requests; empty means AWS_REGION / the shared config, else us-east-1.
	Region string
	// PathStyle addresses the bucket in the path (http://host/bucket/key) rather than in
	// the host name; most servers other than AWS want it.
	PathStyle bool
	// AccessKey and SecretKey (and SessionToken) are explicit credentials; when empty the
	// standard AWS chain is used (environment variables, shared files, instance roles).
	AccessKey    string
	SecretKey    string
	SessionToken string
	// PartSize is the multipart threshold and part size in bytes: objects up to it are one
	// PutObject, larger ones a multipart upload of parts this size. Zero means
	// DefaultPartSize; the minimum is MinPartSize. Each open Writer buffers one part.
	PartSize int64
}

// ParseURL splits "s3://bucket/prefix" into bucket and prefix (no leading or trailing
// slash). The bucket name follows S3's rules (3-63 characters of lower-case letters,
// digits, '-' and '.'); the prefix may not contain empty, "." or ".." elements.
func ParseURL(raw string) (bucket, prefix string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", fmt.Errorf("%w: root %q: %v", ErrInvalidConfig, raw, err)
	}
	if u.Scheme != "s3" {
		return "", "", fmt.Errorf("%w: root %q: want s3://bucket/prefix", ErrInvalidConfig, raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Port() != "" {
		return "", "", fmt.Errorf("%w: root %q: want s3://bucket/prefix with no user, port, query or fragment", ErrInvalidConfig, raw)
	}
	bucket = u.Host
	if err := checkBucketName(bucket); err != nil {
		return "", "", fmt.Errorf("%w: root %q: %v", ErrInvalidConfig, raw, err)
	}
	prefix = strings.Trim(u.Path, "/")
	if prefix != "" {
		if err := checkKey(prefix); err != nil {
			return "", "", fmt.Errorf("%w: root %q: prefix: %v", ErrInvalidConfig, raw, err)
		}
	}
	return bucket, prefix, nil
}

func checkBucketName(name string) error {
	if len(name) < 3 || len(name) > 63 {
		return fmt.Errorf("bucket name %q must be 3 to 63 characters", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.'
		if !ok {
			return fmt.Errorf("bucket name %q may hold only lower-case letters, digits, '-' and '.'", name)
		}
	}
	first, last := name[0], name[len(name)-1]
	if first == '-' || first == '.' || last == '-' || last == '.' {
		return fmt.Errorf("bucket name %q must start and end with a letter or digit", name)
	}
	return nil
}

// checkKey refuses keys that S3 would take but a local directory could not mirror: the
// seam's keys are the same on every backend.
func checkKey(key string) error {
	if key == "" {
		return errors.New("empty key")
	}
	if len(key) > 1024 {
		return fmt.Errorf("key of %d bytes is longer than S3's 1024", len(key))
	}
	for _, elem := range strings.Split(key, "/") {
		switch elem {
		case "":
			return fmt.Errorf("key %q has an empty path element", key)
		case ".", "..":
			return fmt.Errorf("key %q has a %q path element", key, elem)
		}
	}
	if strings.IndexByte(key, 0) >= 0 {
		return fmt.Errorf("key %q contains NUL", key)
	}
	return nil
}

// newClient builds the S3 client: the standard AWS configuration chain, overridden by
// the explicit fields of cfg.
func newClient(ctx context.Context, cfg Config) (*awss3.Client, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if cfg.Region != "" {
		opts = append(opts, awsconfig.WithRegion(cfg.Region))
	}
	if cfg.AccessKey != "" || cfg.SecretKey != "" {
		if cfg.AccessKey == "" || cfg.SecretKey == "" {
			return nil, fmt.Errorf("%w: access key and secret key go together", ErrInvalidConfig)
		}
		opts = append(opts, awsconfig.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, cfg.SessionToken)))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3: load AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		awsCfg.Region = defaultRegion
	}
	return awss3.NewFromConfig(awsCfg, func(o *awss3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
		// Checksums only where S3 requires them: the SDK's default of a CRC32 on
		// every upload and download is refused by several S3-compatible servers.
		// TLS guards the bytes in flight, and the part cache checksums what it keeps.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	}), nil
}
