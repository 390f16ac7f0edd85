package local

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// DirWatch tells, without reading the directory, whether a directory's entries may
// have changed: an entry created, deleted, renamed, written or touched in it, or in
// one of the directories directly under it that it was asked to watch (Watch). It
// asks the kernel (inotify), which queues an event for a change before the call that
// made it returns, so a change made before Changes is called is counted by it.
//
// It only watches filesystems where every change goes through this kernel (see
// NewDirWatch): on a network filesystem another machine's changes make no event.
type DirWatch struct {
	mu      sync.Mutex
	fd      int // the inotify instance; -1 once closed
	dir     string
	ignore  func(name string) bool // entries of dir whose changes do not count
	root    int32                  // dir's watch descriptor
	subdirs map[int32]bool         // the watch descriptors of directories under dir
	changes uint64                 // changes counted so far
	lost    bool                   // the watch can no longer be trusted
	buf     [64 << 10]byte
}

// ErrWatchUnsupported is returned by NewDirWatch for a directory whose changes the
// kernel may not see.
var ErrWatchUnsupported = errors.New("the directory's filesystem cannot be watched")

// watchMask is every change to an entry that a listing could see: its name, its
// size and modification time (written, truncated, touched), its inode (replaced).
const watchMask = unix.IN_CREATE | unix.IN_DELETE | unix.IN_MOVED_FROM | unix.IN_MOVED_TO |
	unix.IN_MODIFY | unix.IN_ATTRIB | unix.IN_CLOSE_WRITE | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF |
	unix.IN_ONLYDIR | unix.IN_DONT_FOLLOW

// localFilesystems are the filesystems a DirWatch trusts: only this kernel changes
// them. NFS, SMB, FUSE (sshfs, s3fs, ...) and the like are left out: changes made
// through another machine or process below them make no event.
var localFilesystems = map[int64]bool{
	unix.EXT4_SUPER_MAGIC:      true, // also ext2 and ext3
	unix.XFS_SUPER_MAGIC:       true,
	unix.BTRFS_SUPER_MAGIC:     true,
	unix.TMPFS_MAGIC:           true,
	unix.F2FS_SUPER_MAGIC:      true,
	0x2fc12fc1:                 true, // ZFS
	unix.OVERLAYFS_SUPER_MAGIC: true, // containers: changes through the mount make events
}

// NewDirWatch starts watching dir. ignore names the entries directly in dir whose
// changes are not counted (the store's own temporaries); it may be nil. It returns
// ErrWatchUnsupported for a directory on a filesystem it does not trust, and an
// error when the kernel refuses (its limit of inotify instances reached).
func NewDirWatch(dir string, ignore func(name string) bool) (*DirWatch, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return nil, fmt.Errorf("watch %s: %w", dir, err)
	}
	if !localFilesystems[int64(st.Type)] {
		return nil, fmt.Errorf("watch %s (filesystem type %#x): %w", dir, st.Type, ErrWatchUnsupported)
	}
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("watch %s: inotify: %w", dir, err)
	}
	wd, err := unix.InotifyAddWatch(fd, dir, watchMask)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("watch %s: %w", dir, err)
	}
	if ignore == nil {
		ignore = func(string) bool { return false }
	}
	return &DirWatch{fd: fd, dir: dir, ignore: ignore, root: int32(wd), subdirs: map[int32]bool{}}, nil
}

// Watch watches the directory name directly under dir too, if it is not watched
// yet; it reports whether it started watching it. A directory that is gone, or that
// is not a directory, is not watched and is no error.
//
// The kernel, not a name, says whether the directory is watched: it watches inodes,
// and a watched directory renamed (or one removed and another made under its name)
// keeps its watch under its new name. Watch asks it every time.
func (w *DirWatch) Watch(name string) (bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fd < 0 {
		return false, errors.New("watch: closed")
	}
	wd, err := unix.InotifyAddWatch(w.fd, filepath.Join(w.dir, name), watchMask)
	switch {
	case errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR):
		return false, nil
	case err != nil: // ENOSPC: the limit of watches reached
		w.lost = true
		return false, fmt.Errorf("watch %s: %w", filepath.Join(w.dir, name), err)
	}
	if w.subdirs[int32(wd)] {
		return false, nil
	}
	w.subdirs[int32(wd)] = true
	return true, nil
}

// Changes returns the number of changes counted since the watch started; a caller
// that saw the same number before has seen every change since. ok is false once
// the watch cannot be trusted (the kernel dropped events it could not queue, dir
// itself was deleted or moved, a directory could not be watched): from then on the
// caller must look at the directory itself.
func (w *DirWatch) Changes() (n uint64, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fd < 0 || w.lost {
		return w.changes, false
	}
	for {
		k, err := unix.Read(w.fd, w.buf[:])
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if errors.Is(err, unix.EAGAIN) {
			break
		}
		if err != nil || k <= 0 {
			w.lost = true
			return w.changes, false
		}
		w.count(w.buf[:k])
	}
	return w.changes, !w.lost
}

// count counts the changes in the events in b.
func (w *DirWatch) count(b []byte) {
	for len(b) >= unix.SizeofInotifyEvent {
		ev := (*unix.InotifyEvent)(unsafe.Pointer(&b[0]))
		end := unix.SizeofInotifyEvent + int(ev.Len)
		if end > len(b) {
			w.lost = true // never: the kernel returns whole events
			return
		}
		name := cString(b[unix.SizeofInotifyEvent:end])
		b = b[end:]
		switch {
		case ev.Mask&unix.IN_Q_OVERFLOW != 0:
			w.lost = true
		case ev.Mask&unix.IN_IGNORED != 0: // a watch removed: its directory is gone
			if ev.Wd == w.root {
				w.lost = true
			}
			delete(w.subdirs, ev.Wd)
			w.changes++
		case ev.Wd == w.root && ev.Mask&(unix.IN_DELETE_SELF|unix.IN_MOVE_SELF) != 0:
			w.lost = true
		case ev.Wd == w.root && w.ignore(name):
		default:
			w.changes++
		}
	}
}

// cString is b up to its first NUL (the kernel pads names with NULs).
func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// Close stops watching.
func (w *DirWatch) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fd < 0 {
		return nil
	}
	err := unix.Close(w.fd)
	w.fd = -1
	return err
}
