package local

import (
	"fmt"
	"path/filepath"
)

// syncDir fsyncs the directory dir, so that the entries created, renamed or removed in
// it survive a crash.
func syncDir(fsys FS, dir string) error {
	d, err := fsys.OpenDir(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// DurableRename renames from to to and fsyncs the destination directory, and the
// source directory when it differs, so that on return the rename has survived any
// crash: the name is at to and no longer at from. It is the one way the local backend
// moves an entry; the bytes of a file moved must have been synced before.
func DurableRename(fsys FS, from, to string) error {
	if err := fsys.Rename(from, to); err != nil {
		return err
	}
	return syncParents(fsys, from, to)
}

// DurableExchange atomically swaps the entries at a and b and fsyncs both parent
// directories: on return the swap has survived any crash.
func DurableExchange(fsys FS, a, b string) error {
	if err := fsys.Exchange(a, b); err != nil {
		return err
	}
	return syncParents(fsys, a, b)
}

// syncParents fsyncs the directory of b, and that of a when it differs.
func syncParents(fsys FS, a, b string) error {
	da, db := filepath.Dir(a), filepath.Dir(b)
	if err := syncDir(fsys, db); err != nil {
		return err
	}
	if da != db {
		return syncDir(fsys, da)
	}
	return nil
}

// DurableWrite writes data to path whole: to a temporary file in the same directory,
// fsynced, then durably renamed over path. A crash at any point leaves the old content
// or the new, never a mix; the temporary's name starts with TempPrefix, so a sweep
// removes one a crash left behind. It is the one way the local backend writes a small
// file.
func DurableWrite(fsys FS, path string, data []byte) error {
	tmp := filepath.Join(filepath.Dir(path), TempPrefix+randomSuffix())
	f, err := fsys.Create(tmp)
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
		werr = DurableRename(fsys, tmp, path)
	}
	if werr != nil {
		fsys.Remove(tmp)
		return fmt.Errorf("write %s: %w", filepath.Base(path), werr)
	}
	return nil
}

// durableMkdirAll creates dir and its missing parents, syncing the parent of each
// directory it creates, so that they survive a crash.
func durableMkdirAll(fsys FS, dir string) error {
	var missing []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := fsys.Stat(d); err == nil {
			break
		}
		missing = append(missing, d)
		if parent := filepath.Dir(d); parent == d {
			break
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if err := fsys.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if err := syncDir(fsys, filepath.Dir(missing[i])); err != nil {
			return err
		}
	}
	return nil
}
