package catalog

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Names the store gives its own files. Dataset names never start with '.', so these
// can never collide with a dataset, and a sweep at Open removes any left by a crash.
const (
	tempPrefix   = ".quiver-tmp-"
	trashPrefix  = ".quiver-trash-"
	manifestName = "_quiver_manifest.json"
)

// randomSuffix returns a short random hex string for temporary and part names.
func randomSuffix() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err)) // never fails on Linux
	}
	return hex.EncodeToString(b[:])
}

// isInternal reports whether a directory entry is one of the store's own temporary
// or trash entries.
func isInternal(name string) bool {
	return strings.HasPrefix(name, tempPrefix) || strings.HasPrefix(name, trashPrefix)
}

// syncDir fsyncs a directory so that renames and creations inside it survive a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// exchange atomically swaps the entries at a and b (files or directories). It is how a
// single-file dataset becomes a multi-part one without a moment where the name is
// missing.
func exchange(a, b string) error {
	if err := unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE); err != nil {
		return fmt.Errorf("exchange %s and %s: %w", filepath.Base(a), filepath.Base(b), err)
	}
	return nil
}

// writeFileAtomic writes data to path through a temporary file in the same directory:
// write, fsync, rename, fsync the directory.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp := filepath.Join(dir, tempPrefix+randomSuffix())
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		reached("atomic write: temp written")
		werr = os.Rename(tmp, path)
	}
	if werr != nil {
		os.Remove(tmp)
		return werr
	}
	return syncDir(dir)
}
