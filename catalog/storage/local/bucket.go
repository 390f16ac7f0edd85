// Package local is the storage backend for a dataset root on a local filesystem: each
// key is a file under the root directory, each key prefix a directory.
//
// Every change is durable when its method returns: files are written to a temporary
// name, fsynced and renamed into place, and the directories involved are fsynced (see
// DurableRename and DurableWrite, the only two ways it commits bytes). The filesystem
// is an FS, so tests run the same code on MemFS and crash it.
//
// Besides storage.Bucket, a Bucket offers the operations only a filesystem has
// (Rename, Exchange, Link, ...), which the catalog uses to keep its historical layout.
package local

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/quiverdata/quiver/catalog/storage"
)

const (
	// TempPrefix starts the names of temporary files. A key whose last element starts
	// with it is a store-internal temporary: Create writes it in place.
	TempPrefix = ".quiver-tmp-"
	// internalPrefix starts every name the store keeps for itself; List hides them.
	internalPrefix = ".quiver-"
	// lockName is the root's lock file, held by WriteIf.
	lockName = ".quiver-lock"
	// hashVersionPrefix marks a version that is a hash of the content.
	hashVersionPrefix = "sha256:"
)

// Bucket is a dataset root directory as a storage.Bucket.
type Bucket struct {
	fs   FS
	root string
}

var (
	_ storage.Bucket     = (*Bucket)(nil)
	_ storage.LocalFiler = (*Bucket)(nil)
)

// Open opens the directory root on the operating system's filesystem as a bucket,
// creating it if missing.
func Open(root string) (*Bucket, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("dataset root %s: %w", root, err)
	}
	return New(OSFS, abs)
}

// New opens the directory root of fsys as a bucket, creating it durably if missing.
func New(fsys FS, root string) (*Bucket, error) {
	root = filepath.Clean(root)
	if err := durableMkdirAll(fsys, root); err != nil {
		return nil, fmt.Errorf("create dataset root %s: %w", root, err)
	}
	st, err := fsys.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("dataset root %s: %w", root, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("dataset root %s is not a directory", root)
	}
	return &Bucket{fs: fsys, root: root}, nil
}

// String is the root directory.
func (b *Bucket) String() string { return b.root }

// FS is the filesystem the bucket lives on.
func (b *Bucket) FS() FS { return b.fs }

// LocalPath is the file path of key.
func (b *Bucket) LocalPath(key string) string {
	return filepath.Join(b.root, filepath.FromSlash(key))
}

// path checks key and returns its file path. Keys are relative, slash-separated and
// clean; "" is the root.
func (b *Bucket) path(key string) (string, error) {
	if key == "" {
		return b.root, nil
	}
	if path.IsAbs(key) || path.Clean(key) != key || key == ".." || strings.HasPrefix(key, "../") || strings.Contains(key, "\x00") {
		return "", fmt.Errorf("storage key %q: %w", key, fs.ErrInvalid)
	}
	return b.LocalPath(key), nil
}

// version is a file's version: its size, modification time and inode. Hashing would
// read every byte of multi-gigabyte parts on each stat. Parts are never rewritten in
// place (every write is a fresh file renamed in, so a new inode), and a person
// replacing a file by hand changes its size or modification time or inode. WriteIf,
// where an inode reused within one modification-time tick could make an old version
// look current (ABA), compares content hashes instead: see ReadVersioned.
func version(fi os.FileInfo) string {
	if fi.IsDir() {
		return fmt.Sprintf("d%x", inode(fi))
	}
	return fmt.Sprintf("%x-%x-%x", fi.Size(), fi.ModTime().UnixNano(), inode(fi))
}

func (b *Bucket) entry(key string, fi os.FileInfo) storage.Entry {
	e := storage.Entry{Key: key, ModTime: fi.ModTime(), Version: version(fi), Dir: fi.IsDir()}
	if !fi.IsDir() {
		e.Size = fi.Size()
	}
	return e
}

// Stat implements storage.Bucket.
func (b *Bucket) Stat(ctx context.Context, key string) (storage.Entry, error) {
	if err := ctx.Err(); err != nil {
		return storage.Entry{}, err
	}
	p, err := b.path(key)
	if err != nil {
		return storage.Entry{}, err
	}
	fi, err := b.fs.Stat(p)
	if err != nil {
		return storage.Entry{}, notExist(err)
	}
	if !fi.IsDir() && !fi.Mode().IsRegular() {
		return storage.Entry{}, fmt.Errorf("%s is not a regular file: %w", key, fs.ErrInvalid)
	}
	return b.entry(key, fi), nil
}

// Open implements storage.Bucket. The object reads the file it opened to the end, even
// if it is replaced or deleted meanwhile.
func (b *Bucket) Open(ctx context.Context, key string) (storage.Object, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p, err := b.path(key)
	if err != nil {
		return nil, err
	}
	f, err := b.fs.Open(p)
	if err != nil {
		return nil, notExist(err)
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("open %s: not a regular file: %w", key, fs.ErrInvalid)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return &object{File: f, size: fi.Size(), version: version(fi)}, nil
}

type object struct {
	File
	size    int64
	version string
}

func (o *object) Size() int64     { return o.size }
func (o *object) Version() string { return o.version }

// List implements storage.Bucket. Entries whose names start with ".quiver-" (the
// store's temporaries, trash and lock) are not listed.
func (b *Bucket) List(ctx context.Context, dir string) ([]storage.Entry, error) {
	all, err := b.ListAll(ctx, dir)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, e := range all {
		if !strings.HasPrefix(path.Base(e.Key), internalPrefix) {
			out = append(out, e)
		}
	}
	return out, nil
}

// ListAll is List including the store's internal entries, for sweeping them.
func (b *Bucket) ListAll(ctx context.Context, dir string) ([]storage.Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p, err := b.path(dir)
	if err != nil {
		return nil, err
	}
	infos, err := b.fs.ReadDir(p)
	if err != nil {
		return nil, notExist(err)
	}
	entries := make([]storage.Entry, 0, len(infos))
	for _, fi := range infos {
		if !fi.IsDir() && !fi.Mode().IsRegular() {
			continue // a device or pipe is not an object
		}
		entries = append(entries, b.entry(path.Join(dir, fi.Name()), fi))
	}
	return entries, nil
}

// Delete implements storage.Bucket. It removes a file (or an empty directory) durably.
func (b *Bucket) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := b.path(key)
	if err != nil {
		return err
	}
	if key == "" {
		return fmt.Errorf("delete: the root is not an object: %w", fs.ErrInvalid)
	}
	if err := b.fs.Remove(p); errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	return syncDir(b.fs, filepath.Dir(p))
}

// ReadVersioned implements storage.Bucket. The version it returns is a hash of the
// content, which WriteIf compares under its lock: no inode reuse can fake it.
func (b *Bucket) ReadVersioned(ctx context.Context, key string) ([]byte, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	p, err := b.path(key)
	if err != nil {
		return nil, "", err
	}
	data, err := b.readFile(p)
	if err != nil {
		return nil, "", notExist(err)
	}
	return data, hashVersion(data), nil
}

func (b *Bucket) readFile(p string) ([]byte, error) {
	f, err := b.fs.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("read %s: is a directory", p)
	}
	return io.ReadAll(f)
}

func hashVersion(data []byte) string {
	sum := sha256.Sum256(data)
	return hashVersionPrefix + hex.EncodeToString(sum[:])
}

// WriteIf implements storage.Bucket. It holds the root's lock file (an flock, so two
// processes on one root exclude each other) while it compares the current version and
// durably writes the new content. ifVersion may be a content hash (from ReadVersioned
// or WriteIf) or a file version (from Stat, List or Open).
func (b *Bucket) WriteIf(ctx context.Context, key string, data []byte, ifVersion string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	p, err := b.path(key)
	if err != nil {
		return "", err
	}
	if key == "" {
		return "", fmt.Errorf("write: the root is not an object: %w", fs.ErrInvalid)
	}
	lock, err := b.fs.Lock(filepath.Join(b.root, lockName))
	if err != nil {
		return "", fmt.Errorf("write %s: %w", key, err)
	}
	defer lock.Close()
	cur, err := b.currentVersion(p, strings.HasPrefix(ifVersion, hashVersionPrefix))
	if err != nil {
		return "", fmt.Errorf("write %s: %w", key, err)
	}
	if cur != ifVersion {
		return "", fmt.Errorf("write %s: %w", key, storage.ErrConflict)
	}
	if err := durableMkdirAll(b.fs, filepath.Dir(p)); err != nil {
		return "", fmt.Errorf("write %s: %w", key, err)
	}
	if err := DurableWrite(b.fs, p, data); err != nil {
		return "", err
	}
	return hashVersion(data), nil
}

// currentVersion is the version of the file at p, "" when there is none.
func (b *Bucket) currentVersion(p string, byHash bool) (string, error) {
	if !byHash {
		fi, err := b.fs.Stat(p)
		if errors.Is(notExist(err), fs.ErrNotExist) {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		return version(fi), nil
	}
	data, err := b.readFile(p)
	if errors.Is(notExist(err), fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return hashVersion(data), nil
}

// randomSuffix returns a short random hex string for temporary names.
func randomSuffix() string {
	var r [8]byte
	if _, err := rand.Read(r[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err)) // never fails on Linux
	}
	return hex.EncodeToString(r[:])
}

// notExist makes "a parent of the key is a file" (ENOTDIR) what it means for a key:
// the key does not exist.
func notExist(err error) error {
	if errors.Is(err, syscall.ENOTDIR) && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %w", fs.ErrNotExist, err)
	}
	return err
}
