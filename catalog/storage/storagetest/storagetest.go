// Package storagetest is the conformance suite every storage.Bucket backend passes:
// the local directory (on the OS and on the strict in-memory filesystem) and S3.
package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sync"
	"testing"

	"github.com/quiverdata/quiver/catalog/storage"
)

// Run runs the suite; open returns a new, empty bucket for each case.
func Run(t *testing.T, open func(t *testing.T) storage.Bucket) {
	cases := []struct {
		name string
		fn   func(t *testing.T, b storage.Bucket)
	}{
		{"RoundTrip", testRoundTrip},
		{"InvisibleBeforeCommit", testInvisibleBeforeCommit},
		{"Abort", testAbort},
		{"CommitReplaces", testCommitReplaces},
		{"List", testList},
		{"Delete", testDelete},
		{"NotExist", testNotExist},
		{"ReadAt", testReadAt},
		{"WriteIfCreateOnly", testWriteIfCreateOnly},
		{"WriteIfMatch", testWriteIfMatch},
		{"WriteIfRace", testWriteIfRace},
		{"OpenKeepsVersion", testOpenKeepsVersion},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.fn(t, open(t)) })
	}
}

// put writes data at key through Create and Commit.
func put(t *testing.T, b storage.Bucket, key string, data []byte) storage.Entry {
	t.Helper()
	ctx := context.Background()
	w, err := b.Create(ctx, key)
	if err != nil {
		t.Fatalf("Create(%q): %v", key, err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatalf("Write(%q): %v", key, err)
	}
	e, err := w.Commit(ctx)
	if err != nil {
		t.Fatalf("Commit(%q): %v", key, err)
	}
	w.Abort() // a no-op after Commit
	return e
}

// get reads key whole through Open and ReadAt.
func get(t *testing.T, b storage.Bucket, key string) []byte {
	t.Helper()
	o, err := b.Open(context.Background(), key)
	if err != nil {
		t.Fatalf("Open(%q): %v", key, err)
	}
	defer o.Close()
	data := make([]byte, o.Size())
	if n, err := o.ReadAt(data, 0); n != len(data) || (err != nil && err != io.EOF) {
		t.Fatalf("ReadAt(%q) = %d, %v; want %d bytes", key, n, err, len(data))
	}
	return data
}

func testRoundTrip(t *testing.T, b storage.Bucket) {
	data := bytes.Repeat([]byte("quiver "), 1000)
	e := put(t, b, "ds/part-1.parquet", data)
	if e.Key != "ds/part-1.parquet" || e.Size != int64(len(data)) || e.Version == "" || e.Dir {
		t.Fatalf("Commit entry = %+v", e)
	}
	if got := get(t, b, "ds/part-1.parquet"); !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes, wrote %d", len(got), len(data))
	}
	st, err := b.Stat(context.Background(), "ds/part-1.parquet")
	if err != nil || st.Size != int64(len(data)) || st.Dir || st.Version == "" {
		t.Fatalf("Stat = %+v, %v", st, err)
	}
	got, v, err := b.ReadVersioned(context.Background(), "ds/part-1.parquet")
	if err != nil || !bytes.Equal(got, data) || v == "" {
		t.Fatalf("ReadVersioned = %d bytes, %q, %v", len(got), v, err)
	}
	if b.String() == "" {
		t.Error("String() is empty")
	}
}

func testInvisibleBeforeCommit(t *testing.T, b storage.Bucket) {
	ctx := context.Background()
	w, err := b.Create(ctx, "d/x")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	if _, err := w.Write([]byte("half")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Stat(ctx, "d/x"); !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("Stat before Commit: %v, want ErrNotExist", err)
	}
	entries, err := b.List(ctx, "d")
	if err != nil && !errors.Is(err, storage.ErrNotExist) {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Fatalf("List before Commit = %+v, want nothing", entries)
	}
	if _, err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got := get(t, b, "d/x"); string(got) != "half" {
		t.Fatalf("after Commit read %q", got)
	}
}

func testAbort(t *testing.T, b storage.Bucket) {
	ctx := context.Background()
	w, err := b.Create(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("gone"))
	w.Abort()
	w.Abort()
	if _, err := b.Stat(ctx, "a"); !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("Stat after Abort: %v, want ErrNotExist", err)
	}
	if _, err := w.Commit(ctx); err == nil {
		t.Fatal("Commit after Abort succeeded")
	}
	if entries, err := b.List(ctx, ""); err != nil || len(entries) != 0 {
		t.Fatalf("List after Abort = %+v, %v; want nothing", entries, err)
	}
}

func testCommitReplaces(t *testing.T, b storage.Bucket) {
	e1 := put(t, b, "k", []byte("one"))
	e2 := put(t, b, "k", []byte("second"))
	if got := get(t, b, "k"); string(got) != "second" {
		t.Fatalf("read %q after replace", got)
	}
	if e1.Version == e2.Version {
		t.Fatalf("version %q did not change with the bytes", e1.Version)
	}
}

func testList(t *testing.T, b storage.Bucket) {
	ctx := context.Background()
	for _, k := range []string{"b.parquet", "a.parquet", "ds/p2", "ds/p1", "ds/sub/p3", "c"} {
		put(t, b, k, []byte(k))
	}
	check := func(dir string, want []string, dirs map[string]bool) {
		t.Helper()
		entries, err := b.List(ctx, dir)
		if err != nil {
			t.Fatalf("List(%q): %v", dir, err)
		}
		var got []string
		for _, e := range entries {
			got = append(got, e.Key)
			if e.Dir != dirs[e.Key] {
				t.Errorf("List(%q): %q has Dir=%v", dir, e.Key, e.Dir)
			}
			if !e.Dir && e.Size != int64(len(e.Key)) {
				t.Errorf("List(%q): %q has size %d, want %d", dir, e.Key, e.Size, len(e.Key))
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("List(%q) = %v, want %v", dir, got, want)
		}
	}
	check("", []string{"a.parquet", "b.parquet", "c", "ds"}, map[string]bool{"ds": true})
	// The catalog tells a multi-part dataset from a single object by Stat.
	if st, err := b.Stat(ctx, "ds"); err != nil || !st.Dir || st.Key != "ds" {
		t.Errorf("Stat of a key prefix = %+v, %v; want a Dir entry", st, err)
	}
	if _, err := b.Stat(ctx, "a.parquet/x"); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("Stat below an object: %v, want ErrNotExist", err)
	}
	check("ds", []string{"ds/p1", "ds/p2", "ds/sub"}, map[string]bool{"ds/sub": true})
	check("ds/sub", []string{"ds/sub/p3"}, nil)
}

func testDelete(t *testing.T, b storage.Bucket) {
	ctx := context.Background()
	put(t, b, "x", []byte("x"))
	if err := b.Delete(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Stat(ctx, "x"); !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("Stat after Delete: %v", err)
	}
	if err := b.Delete(ctx, "x"); err != nil {
		t.Fatalf("second Delete: %v", err)
	}
	if err := b.Delete(ctx, "never/was"); err != nil {
		t.Fatalf("Delete of a missing key: %v", err)
	}
}

func testNotExist(t *testing.T, b storage.Bucket) {
	ctx := context.Background()
	if _, err := b.Stat(ctx, "nope"); !errors.Is(err, storage.ErrNotExist) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat: %v", err)
	}
	if _, err := b.Open(ctx, "nope"); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("Open: %v", err)
	}
	if _, _, err := b.ReadVersioned(ctx, "nope"); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("ReadVersioned: %v", err)
	}
	if _, err := b.WriteIf(ctx, "nope", []byte("x"), "some-version"); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("WriteIf with a version on a missing key: %v, want ErrConflict", err)
	}
}

func testReadAt(t *testing.T, b storage.Bucket) {
	data := make([]byte, 3<<20+17)
	for i := range data {
		data[i] = byte(i * 7)
	}
	put(t, b, "big", data)
	o, err := b.Open(context.Background(), "big")
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if o.Size() != int64(len(data)) || o.Version() == "" {
		t.Fatalf("Size %d Version %q", o.Size(), o.Version())
	}
	for _, r := range [][2]int64{{0, 8}, {1, 1}, {4096, 100000}, {int64(len(data)) - 8, 8}, {1 << 20, 2 << 20}} {
		buf := make([]byte, r[1])
		n, err := o.ReadAt(buf, r[0])
		if n != len(buf) || (err != nil && err != io.EOF) || !bytes.Equal(buf, data[r[0]:r[0]+r[1]]) {
			t.Errorf("ReadAt(%d, %d) = %d, %v or wrong bytes", r[0], r[1], n, err)
		}
	}
	buf := make([]byte, 16)
	if n, err := o.ReadAt(buf, int64(len(data))-8); n != 8 || err != io.EOF {
		t.Errorf("ReadAt past the end = %d, %v; want 8, io.EOF", n, err)
	}
}

func testWriteIfCreateOnly(t *testing.T, b storage.Bucket) {
	ctx := context.Background()
	v1, err := b.WriteIf(ctx, "ds/_m.json", []byte("one"), "")
	if err != nil || v1 == "" {
		t.Fatalf("first create-only WriteIf = %q, %v", v1, err)
	}
	if _, err := b.WriteIf(ctx, "ds/_m.json", []byte("two"), ""); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("second create-only WriteIf: %v, want ErrConflict", err)
	}
	data, v, err := b.ReadVersioned(ctx, "ds/_m.json")
	if err != nil || string(data) != "one" || v != v1 {
		t.Fatalf("ReadVersioned = %q, %q, %v; want \"one\", %q", data, v, err, v1)
	}
}

func testWriteIfMatch(t *testing.T, b storage.Bucket) {
	ctx := context.Background()
	v1, err := b.WriteIf(ctx, "m", []byte("one"), "")
	if err != nil {
		t.Fatal(err)
	}
	v2, err := b.WriteIf(ctx, "m", []byte("two"), v1)
	if err != nil || v2 == v1 {
		t.Fatalf("WriteIf(match) = %q, %v", v2, err)
	}
	if _, err := b.WriteIf(ctx, "m", []byte("three"), v1); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("WriteIf(stale) = %v, want ErrConflict", err)
	}
	data, v, err := b.ReadVersioned(ctx, "m")
	if err != nil || string(data) != "two" || v != v2 {
		t.Fatalf("after a refused WriteIf: %q, %q, %v", data, v, err)
	}
	// A version from Stat works as well as one from ReadVersioned.
	st, err := b.Stat(ctx, "m")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.WriteIf(ctx, "m", []byte("four"), st.Version); err != nil {
		t.Fatalf("WriteIf with Stat's version: %v", err)
	}
	if got := get(t, b, "m"); string(got) != "four" {
		t.Fatalf("read %q", got)
	}
}

// testWriteIfRace has N goroutines each try to advance the same version: per round
// exactly one wins, the others get ErrConflict.
func testWriteIfRace(t *testing.T, b storage.Bucket) {
	ctx := context.Background()
	const writers, rounds = 8, 5
	v, err := b.WriteIf(ctx, "race", []byte("start"), "")
	if err != nil {
		t.Fatal(err)
	}
	for round := range rounds {
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			wins     []string
			versions []string
		)
		for i := range writers {
			wg.Go(func() {
				data := fmt.Appendf(nil, "round %d writer %d", round, i)
				nv, err := b.WriteIf(ctx, "race", data, v)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					wins = append(wins, string(data))
					versions = append(versions, nv)
				case !errors.Is(err, storage.ErrConflict):
					t.Errorf("round %d writer %d: %v", round, i, err)
				}
			})
		}
		wg.Wait()
		if len(wins) != 1 {
			t.Fatalf("round %d: %d winners %v, want exactly one", round, len(wins), wins)
		}
		data, cur, err := b.ReadVersioned(ctx, "race")
		if err != nil || string(data) != wins[0] || cur != versions[0] {
			t.Fatalf("round %d: read %q (%q, %v), the winner wrote %q (%q)", round, data, cur, err, wins[0], versions[0])
		}
		v = cur
	}
}

// testOpenKeepsVersion: an open object reads the bytes it opened after the key is
// replaced or deleted, or fails with ErrConflict or ErrNotExist (S3 without bucket
// versioning loses the old bytes); it never returns bytes of another version.
func testOpenKeepsVersion(t *testing.T, b storage.Bucket) {
	ctx := context.Background()
	put(t, b, "p", []byte("first version"))
	o, err := b.Open(ctx, "p")
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	check := func(after string) {
		t.Helper()
		buf := make([]byte, o.Size())
		n, err := o.ReadAt(buf, 0)
		switch {
		case errors.Is(err, storage.ErrConflict), errors.Is(err, storage.ErrNotExist):
		case n == len(buf) && (err == nil || err == io.EOF) && string(buf) == "first version":
		default:
			t.Errorf("after %s, the object opened first read %q (%d, %v)", after, buf[:n], n, err)
		}
	}
	put(t, b, "p", []byte("second version, longer"))
	check("a replace")
	if err := b.Delete(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	check("a delete")
}
