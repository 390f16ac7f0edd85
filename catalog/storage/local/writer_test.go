package local

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// writebackFS is a MemFS whose files record the writeback ranges a writer starts.
type writebackFS struct {
	*MemFS
	mu     sync.Mutex
	ranges [][2]int64
}

func (w *writebackFS) Create(name string) (File, error) {
	f, err := w.MemFS.Create(name)
	if err != nil {
		return nil, err
	}
	return &writebackFile{File: f, fs: w}, nil
}

type writebackFile struct {
	File
	fs *writebackFS
}

func (f *writebackFile) StartWriteback(off, n int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	f.fs.ranges = append(f.fs.ranges, [2]int64{off, n})
	return nil
}

// TestWriterStartsWriteback: a writer asks for the writeback of every writebackEvery
// bytes as they are written, in order and without gaps, and Commit still makes every
// byte durable (a crash right after Commit keeps them all, on a filesystem that drops
// what was not synced).
func TestWriterStartsWriteback(t *testing.T) {
	ctx := context.Background()
	fsys := &writebackFS{MemFS: NewMemFS()}
	b, err := New(fsys, "/srv/root")
	if err != nil {
		t.Fatal(err)
	}
	w, err := b.Create(ctx, "ds/part-1")
	if err != nil {
		t.Fatal(err)
	}
	const chunk = 3 << 20
	var want []byte
	for i := 0; i < 9; i++ { // 27 MiB: three full writeback ranges, 3 MiB left
		p := bytes.Repeat([]byte{byte(i + 1)}, chunk)
		if _, err := w.Write(p); err != nil {
			t.Fatal(err)
		}
		want = append(want, p...)
	}
	fsys.mu.Lock()
	ranges := fsys.ranges
	fsys.mu.Unlock()
	// The writer hints once at least writebackEvery bytes are waiting: after the 3rd
	// chunk (9 MiB), the 6th (18 MiB) and the 9th (27 MiB).
	wantRanges := [][2]int64{{0, 3 * chunk}, {3 * chunk, 3 * chunk}, {6 * chunk, 3 * chunk}}
	if len(ranges) != len(wantRanges) {
		t.Fatalf("writeback ranges = %v, want %v", ranges, wantRanges)
	}
	for i := range ranges {
		if ranges[i] != wantRanges[i] {
			t.Errorf("writeback range %d = %v, want %v", i, ranges[i], wantRanges[i])
		}
	}
	if _, err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	crashed, err := New(fsys.MemFS.CrashClone(), "/srv/root")
	if err != nil {
		t.Fatal(err)
	}
	obj, err := crashed.Open(ctx, "ds/part-1")
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	got, err := io.ReadAll(io.NewSectionReader(obj, 0, obj.Size()))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("after a crash following Commit: %d bytes, want the %d written", len(got), len(want))
	}
}

// TestOSFileStartWriteback: the OS file's hint is a working sync_file_range on the
// root's filesystem (a wrong argument would be EINVAL), and fails on a closed file.
func TestOSFileStartWriteback(t *testing.T) {
	name := filepath.Join(t.TempDir(), "f")
	f, err := OSFS.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	wb, ok := f.(writebackStarter)
	if !ok {
		t.Fatalf("OSFS.Create returned %T, which cannot start its writeback", f)
	}
	if _, err := f.Write(bytes.Repeat([]byte("x"), 1<<20)); err != nil {
		t.Fatal(err)
	}
	if err := wb.StartWriteback(0, 1<<20); err != nil {
		t.Errorf("StartWriteback on an open file: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	var perr *os.PathError
	if err := wb.StartWriteback(0, 1<<20); !errors.As(err, &perr) || perr.Path != name || perr.Op != "sync_file_range" {
		t.Errorf("StartWriteback on a closed file = %v, want a sync_file_range error naming %s", err, name)
	}
}
