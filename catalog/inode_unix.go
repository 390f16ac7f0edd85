package catalog

import (
	"io/fs"
	"syscall"
)

// inode returns the file's inode number, so that a file replaced by another of the same
// size and modification time is still noticed.
func inode(st fs.FileInfo) uint64 {
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		return sys.Ino
	}
	return 0
}
