package local

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"syscall"

	"golang.org/x/sys/unix"
)

// OSFS is the operating system's filesystem.
var OSFS FS = osFS{}

type osFS struct{}

func (osFS) Create(name string) (File, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

// osFile is a file created by OSFS: an *os.File that can start its writeback.
type osFile struct{ *os.File }

// StartWriteback asks the kernel to start writing the file's bytes in [off, off+n) to
// disk, and returns without waiting for them (sync_file_range with
// SYNC_FILE_RANGE_WRITE). It makes nothing durable, not even those bytes: only Sync
// does.
func (f osFile) StartWriteback(off, n int64) error {
	rc, err := f.SyscallConn()
	if err == nil {
		cerr := rc.Control(func(fd uintptr) {
			err = unix.SyncFileRange(int(fd), off, n, unix.SYNC_FILE_RANGE_WRITE)
		})
		if cerr != nil {
			err = cerr
		}
	}
	if err != nil {
		return &os.PathError{Op: "sync_file_range", Path: f.Name(), Err: err}
	}
	return nil
}

func (osFS) Open(name string) (File, error)    { return os.Open(name) }
func (osFS) OpenDir(name string) (File, error) { return os.Open(name) }
func (osFS) Rename(a, b string) error          { return os.Rename(a, b) }
func (osFS) Link(a, b string) error            { return os.Link(a, b) }
func (osFS) Remove(name string) error          { return os.Remove(name) }
func (osFS) RemoveAll(name string) error       { return os.RemoveAll(name) }
func (osFS) Stat(name string) (os.FileInfo, error) {
	return os.Stat(name)
}

func (osFS) MkdirAll(dir string, perm os.FileMode) error { return os.MkdirAll(dir, perm) }

func (osFS) Exchange(a, b string) error {
	if err := unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE); err != nil {
		return &os.LinkError{Op: "exchange", Old: a, New: b, Err: err}
	}
	return nil
}

func (osFS) ReadDir(dir string) ([]os.FileInfo, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	infos := make([]os.FileInfo, 0, len(entries))
	for _, e := range entries {
		// Follow symbolic links, as Stat does: a person may link a file into the root.
		fi, err := os.Stat(filepath.Join(dir, e.Name()))
		if err != nil {
			continue // vanished, or a dangling link: not an object
		}
		infos = append(infos, fi)
	}
	sort.Slice(infos, func(i, j int) bool { return infos[i].Name() < infos[j].Name() })
	return infos, nil
}

func (osFS) Lock(name string) (io.Closer, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	return f, nil // closing the file releases the flock
}

// inode returns the file's inode number, or 0 when the platform has none.
func inode(fi os.FileInfo) uint64 {
	switch sys := fi.Sys().(type) {
	case *syscall.Stat_t:
		return sys.Ino
	case inoer:
		return sys.Ino()
	}
	return 0
}
