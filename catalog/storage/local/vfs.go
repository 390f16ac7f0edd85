package local

import (
	"io"
	"os"
)

// FS is the little filesystem the local backend runs on: the operating system's
// (OSFS), or a strict in-memory one (MemFS) that tests crash to prove every step syncs
// what it must. Its shape is Pebble's vfs.FS, cut down to what the backend uses.
//
// Names are slash-separated paths as the operating system takes them. A change to a
// directory (a create, rename, link or remove inside it) survives a crash only once
// that directory has been synced through OpenDir(dir).Sync(); a file's bytes survive
// only once the file has been synced.
type FS interface {
	// Create creates a new file for writing; it fails if name exists.
	Create(name string) (File, error)
	// Open opens a file for reading.
	Open(name string) (File, error)
	// OpenDir opens a directory, to Sync it.
	OpenDir(name string) (File, error)
	// Rename renames oldname to newname, replacing a file at newname.
	Rename(oldname, newname string) error
	// Exchange atomically swaps the entries at a and b (files or directories).
	Exchange(a, b string) error
	// Link makes newname a hard link to the file oldname.
	Link(oldname, newname string) error
	// Remove removes a file or an empty directory.
	Remove(name string) error
	// RemoveAll removes name and everything under it; a missing name is not an error.
	RemoveAll(name string) error
	// MkdirAll creates dir and any missing parents.
	MkdirAll(dir string, perm os.FileMode) error
	// Stat describes name, following symbolic links.
	Stat(name string) (os.FileInfo, error)
	// ReadDir describes the entries of dir, sorted by name.
	ReadDir(dir string) ([]os.FileInfo, error)
	// Lock takes an exclusive lock on the file name (created if missing), waiting for
	// it; closing the returned Closer releases it. On the OS it is an flock, so it
	// excludes other processes and other goroutines alike.
	Lock(name string) (io.Closer, error)
}

// File is an open file of an FS.
type File interface {
	io.Reader
	io.ReaderAt
	io.Writer
	io.Closer
	// Stat describes the open file.
	Stat() (os.FileInfo, error)
	// Sync makes the file's bytes (or, for a directory, its entries) durable.
	Sync() error
}

// writebackStarter is a File that can start writing a range of its bytes to disk
// without waiting (OSFS's files). A hint: it makes nothing durable.
type writebackStarter interface {
	StartWriteback(off, n int64) error
}

// inoer is implemented by the Sys() of MemFS file infos.
type inoer interface{ Ino() uint64 }
