package catalog

import (
	"context"

	"github.com/quiverdata/quiver/catalog/storage"
)

// fileOps are the filesystem operations of the local backend (local.Bucket) that the
// store's historical layout needs: a dataset may be a single file, turned into a
// directory of parts by an atomic exchange. Each is durable on return. A bucket without
// them (object storage) gets the manifest-only layout: see commitmanifest.go.
type fileOps interface {
	storage.Bucket
	// ListAll is List including the store's temporaries and trash, to sweep them.
	ListAll(ctx context.Context, dir string) ([]storage.Entry, error)
	// Rename moves a file or a directory.
	Rename(ctx context.Context, from, to string) error
	// Exchange atomically swaps two entries (files or directories).
	Exchange(ctx context.Context, a, b string) error
	// Link makes to a hard link to the file from.
	Link(ctx context.Context, from, to string) error
	// Mkdir makes a directory.
	Mkdir(ctx context.Context, key string) error
	// RemoveAll removes a file or directory tree (not durably: a sweep finishes it).
	RemoveAll(ctx context.Context, key string) error
	// WriteFile writes a small file whole, durably.
	WriteFile(ctx context.Context, key string, data []byte) error
}
