package local

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"sync"
	"time"
)

// MemFS is a strict in-memory FS for crash tests, in the manner of Pebble's
// vfs.NewStrictMem: it remembers, besides what is there now, what a crash would leave
// there. A file's bytes survive a crash only up to its last Sync; a directory entry (a
// create, rename, link or remove) only once its parent directory was synced after the
// change. CrashClone returns the filesystem as a crash now would leave it.
//
// It is safe for concurrent use. Open files keep their data after an unlink, as on
// POSIX systems.
type MemFS struct {
	mu      sync.Mutex
	root    *memNode
	nextIno uint64
	locks   map[string]*memLock
}

// memNode is a file or a directory. A hard link is a second entry for the same node.
type memNode struct {
	ino     uint64
	dir     bool
	modTime time.Time
	// A file's bytes now, and as of its last Sync.
	data, synced []byte
	// A directory's entries now, and as of its last Sync.
	children, syncedChildren map[string]*memNode
}

type memLock struct {
	held chan struct{} // one slot: full while the lock is held
}

// NewMemFS returns an empty strict in-memory filesystem whose root "/" exists.
func NewMemFS() *MemFS {
	m := &MemFS{locks: make(map[string]*memLock)}
	m.root = m.newNode(true)
	return m
}

func (m *MemFS) newNode(dir bool) *memNode {
	m.nextIno++
	n := &memNode{ino: m.nextIno, dir: dir, modTime: time.Now().Round(0)}
	if dir {
		n.children = make(map[string]*memNode)
		n.syncedChildren = make(map[string]*memNode)
	}
	return n
}

// CrashClone returns a new MemFS holding only what has been synced: the filesystem as a
// crash at this moment would leave it. Hard links stay links.
func (m *MemFS) CrashClone() *MemFS {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := &MemFS{nextIno: m.nextIno, locks: make(map[string]*memLock)}
	seen := make(map[*memNode]*memNode)
	var clone func(n *memNode) *memNode
	clone = func(n *memNode) *memNode {
		if d, ok := seen[n]; ok {
			return d
		}
		d := &memNode{ino: n.ino, dir: n.dir, modTime: n.modTime}
		seen[n] = d
		if !n.dir {
			d.data = append([]byte(nil), n.synced...)
			d.synced = append([]byte(nil), n.synced...)
			return d
		}
		d.children = make(map[string]*memNode, len(n.syncedChildren))
		d.syncedChildren = make(map[string]*memNode, len(n.syncedChildren))
		for name, child := range n.syncedChildren {
			cc := clone(child)
			d.children[name] = cc
			d.syncedChildren[name] = cc
		}
		return d
	}
	c.root = clone(m.root)
	return c
}

// split cleans name into its parent directory's path and its base name.
func split(name string) (dir, base string) {
	name = path.Clean("/" + name)
	return path.Dir(name), path.Base(name)
}

func pathErr(op, name string, err error) error { return &fs.PathError{Op: op, Path: name, Err: err} }

// walkLocked returns the node at name, or an error wrapping fs.ErrNotExist.
func (m *MemFS) walkLocked(name string) (*memNode, error) {
	n := m.root
	for _, elem := range strings.Split(strings.Trim(path.Clean("/"+name), "/"), "/") {
		if elem == "" {
			continue
		}
		if !n.dir {
			return nil, fs.ErrNotExist
		}
		child, ok := n.children[elem]
		if !ok {
			return nil, fs.ErrNotExist
		}
		n = child
	}
	return n, nil
}

// parentLocked returns the directory holding name, and name's base.
func (m *MemFS) parentLocked(name string) (*memNode, string, error) {
	dir, base := split(name)
	p, err := m.walkLocked(dir)
	if err != nil {
		return nil, "", err
	}
	if !p.dir {
		return nil, "", errors.New("not a directory")
	}
	return p, base, nil
}

// Create implements FS.
func (m *MemFS) Create(name string) (File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, base, err := m.parentLocked(name)
	if err != nil {
		return nil, pathErr("create", name, err)
	}
	if _, ok := p.children[base]; ok {
		return nil, pathErr("create", name, fs.ErrExist)
	}
	n := m.newNode(false)
	p.children[base] = n
	p.modTime = n.modTime
	return &memFile{fs: m, node: n, name: name, write: true}, nil
}

// Open implements FS.
func (m *MemFS) Open(name string) (File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.walkLocked(name)
	if err != nil {
		return nil, pathErr("open", name, err)
	}
	return &memFile{fs: m, node: n, name: name}, nil
}

// OpenDir implements FS.
func (m *MemFS) OpenDir(name string) (File, error) {
	f, err := m.Open(name)
	if err != nil {
		return nil, err
	}
	if !f.(*memFile).node.dir {
		return nil, pathErr("opendir", name, errors.New("not a directory"))
	}
	return f, nil
}

// Rename implements FS.
func (m *MemFS) Rename(oldname, newname string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	op, ob, err := m.parentLocked(oldname)
	if err != nil {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: err}
	}
	n, ok := op.children[ob]
	if !ok {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: fs.ErrNotExist}
	}
	np, nb, err := m.parentLocked(newname)
	if err != nil {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: err}
	}
	if old, ok := np.children[nb]; ok && old != n {
		if old.dir != n.dir || (old.dir && len(old.children) > 0) {
			return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: fs.ErrExist}
		}
	}
	delete(op.children, ob)
	np.children[nb] = n
	return nil
}

// Exchange implements FS.
func (m *MemFS) Exchange(a, b string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	ap, ab, err := m.parentLocked(a)
	if err == nil {
		var bp *memNode
		var bb string
		if bp, bb, err = m.parentLocked(b); err == nil {
			an, aok := ap.children[ab]
			bn, bok := bp.children[bb]
			if !aok || !bok {
				err = fs.ErrNotExist
			} else {
				ap.children[ab], bp.children[bb] = bn, an
				return nil
			}
		}
	}
	return &os.LinkError{Op: "exchange", Old: a, New: b, Err: err}
}

// Link implements FS.
func (m *MemFS) Link(oldname, newname string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.walkLocked(oldname)
	if err == nil && n.dir {
		err = errors.New("is a directory")
	}
	var np *memNode
	var nb string
	if err == nil {
		np, nb, err = m.parentLocked(newname)
	}
	if err == nil {
		if _, ok := np.children[nb]; ok {
			err = fs.ErrExist
		}
	}
	if err != nil {
		return &os.LinkError{Op: "link", Old: oldname, New: newname, Err: err}
	}
	np.children[nb] = n
	return nil
}

// Remove implements FS.
func (m *MemFS) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, base, err := m.parentLocked(name)
	if err != nil {
		return pathErr("remove", name, err)
	}
	n, ok := p.children[base]
	if !ok {
		return pathErr("remove", name, fs.ErrNotExist)
	}
	if n.dir && len(n.children) > 0 {
		return pathErr("remove", name, errors.New("directory not empty"))
	}
	delete(p.children, base)
	return nil
}

// RemoveAll implements FS. Entries below name go with it: on a crash before its parent
// is synced, name comes back whole, as its synced entries describe it.
func (m *MemFS) RemoveAll(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, base, err := m.parentLocked(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return pathErr("removeall", name, err)
	}
	delete(p.children, base)
	return nil
}

// MkdirAll implements FS.
func (m *MemFS) MkdirAll(dir string, perm os.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.root
	for _, elem := range strings.Split(strings.Trim(path.Clean("/"+dir), "/"), "/") {
		if elem == "" {
			continue
		}
		child, ok := n.children[elem]
		if !ok {
			child = m.newNode(true)
			n.children[elem] = child
		} else if !child.dir {
			return pathErr("mkdir", dir, errors.New("not a directory"))
		}
		n = child
	}
	return nil
}

// Stat implements FS.
func (m *MemFS) Stat(name string) (os.FileInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.walkLocked(name)
	if err != nil {
		return nil, pathErr("stat", name, err)
	}
	_, base := split(name)
	return n.infoLocked(base), nil
}

// ReadDir implements FS.
func (m *MemFS) ReadDir(dir string) ([]os.FileInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.walkLocked(dir)
	if err == nil && !n.dir {
		err = errors.New("not a directory")
	}
	if err != nil {
		return nil, pathErr("readdir", dir, err)
	}
	infos := make([]os.FileInfo, 0, len(n.children))
	for name, child := range n.children {
		infos = append(infos, child.infoLocked(name))
	}
	sort.Slice(infos, func(i, j int) bool { return infos[i].Name() < infos[j].Name() })
	return infos, nil
}

// Lock implements FS. It excludes other holders within this MemFS.
func (m *MemFS) Lock(name string) (io.Closer, error) {
	m.mu.Lock()
	name = path.Clean("/" + name)
	l, ok := m.locks[name]
	if !ok {
		l = &memLock{held: make(chan struct{}, 1)}
		m.locks[name] = l
	}
	m.mu.Unlock()
	l.held <- struct{}{}
	return unlocker{l}, nil
}

type unlocker struct{ l *memLock }

func (u unlocker) Close() error { <-u.l.held; return nil }

func (n *memNode) infoLocked(name string) os.FileInfo {
	return memInfo{name: name, size: int64(len(n.data)), dir: n.dir, modTime: n.modTime, ino: n.ino}
}

type memInfo struct {
	name    string
	size    int64
	dir     bool
	modTime time.Time
	ino     uint64
}

func (i memInfo) Name() string       { return i.name }
func (i memInfo) Size() int64        { return i.size }
func (i memInfo) ModTime() time.Time { return i.modTime }
func (i memInfo) IsDir() bool        { return i.dir }
func (i memInfo) Sys() any           { return i }
func (i memInfo) Ino() uint64        { return i.ino }
func (i memInfo) Mode() fs.FileMode {
	if i.dir {
		return fs.ModeDir | 0o755
	}
	return 0o644
}

// memFile is an open file or directory of a MemFS.
type memFile struct {
	fs    *MemFS
	node  *memNode
	name  string
	write bool
	pos   int64 // for Read
}

func (f *memFile) Read(p []byte) (int, error) {
	n, err := f.ReadAt(p, f.pos)
	f.pos += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.node.dir {
		return 0, pathErr("read", f.name, errors.New("is a directory"))
	}
	if off < 0 {
		return 0, pathErr("read", f.name, errors.New("negative offset"))
	}
	if off >= int64(len(f.node.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.node.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *memFile) Write(p []byte) (int, error) {
	if !f.write {
		return 0, pathErr("write", f.name, errors.New("file not open for writing"))
	}
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	f.node.data = append(f.node.data, p...)
	f.node.modTime = time.Now().Round(0)
	return len(p), nil
}

func (f *memFile) Close() error { return nil }

func (f *memFile) Stat() (os.FileInfo, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	_, base := split(f.name)
	return f.node.infoLocked(base), nil
}

// Sync makes the file's bytes, or the directory's entries, survive a crash.
func (f *memFile) Sync() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if !f.node.dir {
		f.node.synced = append([]byte(nil), f.node.data...)
		return nil
	}
	f.node.syncedChildren = make(map[string]*memNode, len(f.node.children))
	for name, child := range f.node.children {
		f.node.syncedChildren[name] = child
	}
	return nil
}

// String names the filesystem in messages.
func (m *MemFS) String() string { return fmt.Sprintf("memfs(%p)", m) }
