// Package storage is the seam between the catalog and where its bytes live: a local
// directory or an S3-compatible bucket. Keys are slash-separated and relative to the
// store's root ("sales/part-0001.parquet", "_quiver_manifest.json").
package storage

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"time"
)

var (
	// ErrNotExist reports that the key does not exist. It is fs.ErrNotExist, so
	// errors.Is works with both.
	ErrNotExist = fs.ErrNotExist
	// ErrConflict reports that a WriteIf precondition failed: someone else committed first.
	ErrConflict = errors.New("storage: precondition failed: the object changed")
)

// Entry describes one object, or one "directory" (a common key prefix) when Dir is set.
type Entry struct {
	// Key is the full key; a directory's key ends without the slash.
	Key string
	// Size is the object's length in bytes (zero for a directory).
	Size int64
	// ModTime is the object's last modification time, when the backend knows it.
	ModTime time.Time
	// Version is opaque and changes whenever the bytes do (S3: ETag; local: see backend).
	Version string
	// Dir is set for a common key prefix rather than an object.
	Dir bool
}

// Object is an open object for random reads (Parquet footers, column chunks). An
// Object reads the version it opened, or fails with ErrConflict or ErrNotExist once
// that version is gone (S3); it never returns bytes of another version. The local
// backend holds the file open, so it reads the version it opened to the end.
type Object interface {
	io.ReaderAt
	io.Closer
	// Size is the object's length in bytes.
	Size() int64
	// Version is the version of the bytes this Object reads.
	Version() string
}

// Writer writes a new object. Nothing is visible at the key until Commit returns, and
// Commit is durable on return (local: temp file, fsync, durable rename; S3: PutObject or
// a completed multipart upload). Abort discards; it is safe after Commit (no-op).
type Writer interface {
	io.Writer
	// Commit publishes the object durably and returns its entry.
	Commit(ctx context.Context) (Entry, error)
	// Abort discards the object; it is a no-op after Commit.
	Abort()
}

// Bucket is where a catalog keeps its datasets.
type Bucket interface {
	// Stat describes the object or directory at key.
	Stat(ctx context.Context, key string) (Entry, error)
	// Open opens the object at key for random reads.
	Open(ctx context.Context, key string) (Object, error)
	// Create starts a new object at key; a commit replaces any object already there.
	// Parts always use fresh unique keys; manifests go through WriteIf.
	Create(ctx context.Context, key string) (Writer, error)
	// List returns the immediate children of dir ("" is the root), sorted by key:
	// objects and sub-directories (Dir entries). Store-internal temporaries are not listed.
	List(ctx context.Context, dir string) ([]Entry, error)
	// Delete removes one object; a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// ReadVersioned reads a small object whole, with its version.
	ReadVersioned(ctx context.Context, key string) (data []byte, version string, err error)
	// WriteIf writes a small object whole, durably, only if its current version is
	// ifVersion; ifVersion "" means "only if the key does not exist". Otherwise it
	// returns ErrConflict and changes nothing. It returns the new version. This is the
	// commit primitive: S3 If-Match / If-None-Match; local: an exclusive lock plus
	// compare plus durable rename.
	WriteIf(ctx context.Context, key string, data []byte, ifVersion string) (version string, err error)
	// String names the bucket for logs and errors ("/srv/data", "s3://bucket/prefix").
	String() string
}

// LocalFiler is implemented by backends whose objects are local files DuckDB can read
// directly (the local backend). Other backends are read through the part cache.
type LocalFiler interface {
	// LocalPath is the absolute file path of the object at key.
	LocalPath(key string) string
}
