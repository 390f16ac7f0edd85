package local

import (
	"context"
	"path/filepath"
)

// The operations below exist only on a filesystem. The catalog uses them, when its
// bucket has them, to keep the layout it has always had (a dataset may be a single
// file, made a directory by an atomic exchange); on other buckets it commits through
// manifests alone.

// Rename durably renames the entry (file or directory) at from to to.
func (b *Bucket) Rename(ctx context.Context, from, to string) error {
	pf, pt, err := b.paths(ctx, from, to)
	if err != nil {
		return err
	}
	return DurableRename(b.fs, pf, pt)
}

// Exchange atomically and durably swaps the entries at a and b.
func (b *Bucket) Exchange(ctx context.Context, a, bk string) error {
	pa, pb, err := b.paths(ctx, a, bk)
	if err != nil {
		return err
	}
	return DurableExchange(b.fs, pa, pb)
}

// Link durably makes to a hard link to the file from.
func (b *Bucket) Link(ctx context.Context, from, to string) error {
	pf, pt, err := b.paths(ctx, from, to)
	if err != nil {
		return err
	}
	if err := b.fs.Link(pf, pt); err != nil {
		return err
	}
	return syncDir(b.fs, filepath.Dir(pt))
}

// Mkdir durably creates the directory key and any missing parents.
func (b *Bucket) Mkdir(ctx context.Context, key string) error {
	p, _, err := b.paths(ctx, key, "")
	if err != nil {
		return err
	}
	return durableMkdirAll(b.fs, p)
}

// RemoveAll removes key and everything under it, without syncing: what a crash brings
// back is a leftover the catalog's sweep removes.
func (b *Bucket) RemoveAll(ctx context.Context, key string) error {
	p, _, err := b.paths(ctx, key, "")
	if err != nil {
		return err
	}
	return b.fs.RemoveAll(p)
}

// WriteFile durably writes data whole to key (DurableWrite), without WriteIf's lock and
// comparison: for callers that serialise their commits themselves.
func (b *Bucket) WriteFile(ctx context.Context, key string, data []byte) error {
	p, _, err := b.paths(ctx, key, "")
	if err != nil {
		return err
	}
	return DurableWrite(b.fs, p, data)
}

func (b *Bucket) paths(ctx context.Context, a, c string) (string, string, error) {
	if err := ctx.Err(); err != nil {
		return "", "", err
	}
	pa, err := b.path(a)
	if err != nil {
		return "", "", err
	}
	pc, err := b.path(c)
	return pa, pc, err
}
