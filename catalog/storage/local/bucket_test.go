package local

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/quiverdata/quiver/catalog/storage"
	"github.com/quiverdata/quiver/catalog/storage/storagetest"
)

func TestConformanceOS(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Bucket {
		b, err := Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
}

func TestConformanceMem(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Bucket {
		b, err := New(NewMemFS(), "/data/root")
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
}

// TestCrashKeepsCommitted crashes a MemFS after each kind of change: what returned is
// there whole after the crash, what did not is not there at all.
func TestCrashKeepsCommitted(t *testing.T) {
	ctx := context.Background()
	m := NewMemFS()
	b, err := New(m, "/srv/root")
	if err != nil {
		t.Fatal(err)
	}
	put := func(key, data string) {
		t.Helper()
		w, err := b.Create(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(data))
		if _, err := w.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	put("ds/part-1", "one")
	v, err := b.WriteIf(ctx, "ds/_m", []byte("[part-1]"), "")
	if err != nil {
		t.Fatal(err)
	}
	pending, err := b.Create(ctx, "ds/part-2")
	if err != nil {
		t.Fatal(err)
	}
	pending.Write([]byte("not committed"))
	if err := b.Rename(ctx, "ds/part-1", "ds/part-1b"); err != nil {
		t.Fatal(err)
	}
	// Not durable by design: an unsynced file write straight through the FS.
	f, err := m.Create("/srv/root/ds/loose")
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("loose"))

	crashed, err := New(m.CrashClone(), "/srv/root")
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, crashed, "ds/part-1b"); got != "one" {
		t.Errorf("renamed part after a crash = %q", got)
	}
	if _, err := crashed.Stat(ctx, "ds/part-1"); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("renamed-away name after a crash: %v", err)
	}
	data, cv, err := crashed.ReadVersioned(ctx, "ds/_m")
	if err != nil || string(data) != "[part-1]" || cv != v {
		t.Errorf("manifest after a crash = %q, %q, %v", data, cv, err)
	}
	for _, key := range []string{"ds/part-2", "ds/loose"} {
		if _, err := crashed.Stat(ctx, key); !errors.Is(err, storage.ErrNotExist) {
			t.Errorf("%s survived a crash though never committed: %v", key, err)
		}
	}
	pending.Abort()
}

func readAll(t *testing.T, b storage.Bucket, key string) string {
	t.Helper()
	data, _, err := b.ReadVersioned(context.Background(), key)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return string(data)
}

// TestWriteIfAcrossBuckets races WriteIf through separate Buckets on one directory, as
// separate processes would: the flock lets exactly one win per version.
func TestWriteIfAcrossBuckets(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	const n = 6
	buckets := make([]*Bucket, n)
	for i := range buckets {
		b, err := Open(root)
		if err != nil {
			t.Fatal(err)
		}
		buckets[i] = b
	}
	v, err := buckets[0].WriteIf(ctx, "m", []byte("0"), "")
	if err != nil {
		t.Fatal(err)
	}
	for round := range 10 {
		var wins atomic.Int32
		var wg sync.WaitGroup
		for i, b := range buckets {
			wg.Go(func() {
				_, err := b.WriteIf(ctx, "m", fmt.Appendf(nil, "%d-%d", round, i), v)
				if err == nil {
					wins.Add(1)
				} else if !errors.Is(err, storage.ErrConflict) {
					t.Errorf("round %d: %v", round, err)
				}
			})
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("round %d: %d winners", round, wins.Load())
		}
		if _, v, err = buckets[0].ReadVersioned(ctx, "m"); err != nil {
			t.Fatal(err)
		}
	}
}
