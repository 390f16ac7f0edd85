package catalog

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/quiverdata/quiver/catalog/storage/local"
)

// TestRetiredPartsOnObjectStorage: on object storage a replace through one store
// deletes no part another store (node) is reading: the manifest lists them as
// retired. They go once the grace has passed, by the next commit to the dataset,
// or, for a store that stopped before its timer, by the next store's start; parts
// still in their grace survive both.
func TestRetiredPartsOnObjectStorage(t *testing.T) {
	ctx := context.Background()
	b, err := local.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	const grace = time.Hour // no timer fires in this test: commits and starts do the work
	open := func() *Store {
		s, err := OpenBucket(ctx, plainBucket{b}, Options{Logger: quietLogger(), RetiredGrace: grace})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	nodeA, nodeB := open(), open()
	put(t, nodeA, "d", Create, 0, 10)
	put(t, nodeA, "d", Append, 10, 10)
	r, err := nodeA.Open(ctx, "d") // a reader on node A
	if err != nil {
		t.Fatal(err)
	}
	put(t, nodeB, "d", Replace, 100, 5) // node B replaces the dataset under it
	if got := drain(t, r); !equalIDs(got, seq(0, 20)) {
		t.Fatalf("node A's reader got %v; want the old version's 20 ids", got)
	}
	r.Release()
	m, _, err := readManifest(ctx, b, "d")
	if err != nil || len(m.Parts) != 1 || len(m.Retired) != 2 {
		t.Fatalf("manifest after the replace: %+v, %v; want 1 part and the 2 old ones retired", m, err)
	}
	old := m.Retired
	partsLeft := func() int {
		entries, err := b.List(ctx, "d")
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range entries {
			if strings.HasPrefix(e.Key, "d/part-") {
				n++
			}
		}
		return n
	}
	if n := partsLeft(); n != 3 {
		t.Fatalf("%d parts in the bucket after the replace; want 3 (2 retired, 1 listed)", n)
	}

	// A new store starting now sweeps nothing in its grace.
	open()
	if n := partsLeft(); n != 3 {
		t.Fatalf("%d parts after a start within the grace; want 3", n)
	}

	// Back-date the retirement past the grace, as if an hour had gone by: the next
	// commit (an append through node A) takes them out and deletes them.
	backdate := func() {
		m, v, err := readManifest(ctx, b, "d")
		if err != nil {
			t.Fatal(err)
		}
		for i := range m.Retired {
			m.Retired[i].At = m.Retired[i].At.Add(-grace - time.Minute)
		}
		data, err := m.encode()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.WriteIf(ctx, manifestKey("d"), data, v); err != nil {
			t.Fatal(err)
		}
	}
	backdate()
	put(t, nodeA, "d", Append, 200, 5)
	if m, _, _ := readManifest(ctx, b, "d"); len(m.Retired) != 0 || len(m.Parts) != 2 {
		t.Fatalf("manifest after an append past the grace: %+v; want 2 parts, none retired", m)
	}
	if n := partsLeft(); n != 2 {
		t.Fatalf("%d parts after the append past the grace; want the 2 listed (retired %v deleted)", n, old)
	}
	assertIDs(t, nodeB, "d", concat(seq(100, 5), seq(200, 5)))

	// A drop retires the rest; a start past the grace deletes them.
	if err := nodeB.Drop(ctx, "d"); err != nil {
		t.Fatal(err)
	}
	if n := partsLeft(); n != 2 {
		t.Fatalf("%d parts right after the drop; want the 2 retired", n)
	}
	backdate()
	open()
	if n := partsLeft(); n != 0 {
		t.Fatalf("%d parts after a start past the grace; want none", n)
	}
	if m, _, err := readManifest(ctx, b, "d"); err != nil || len(m.Parts) != 0 || len(m.Retired) != 0 {
		t.Fatalf("manifest after the sweep: %+v, %v; want a dropped dataset's, nothing retired", m, err)
	}
}

// TestReclaimKeepsStatCheap: taking retired parts out of a manifest rewrites it
// with the same parts; the store then Stats each part once to see that nothing
// else changed, and afterwards a Stat costs the dataset's Stat and a manifest read
// again, not a HEAD per part every time.
func TestReclaimKeepsStatCheap(t *testing.T) {
	ctx := context.Background()
	b, err := local.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cb := &countingBucket{Bucket: b}
	const grace = 300 * time.Millisecond
	s, err := OpenBucket(ctx, cb, Options{Logger: quietLogger(), RetiredGrace: grace})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	put(t, s, "d", Create, 0, 10)
	put(t, s, "d", Replace, 100, 10) // retires the first part
	for i := int64(1); i < 4; i++ {
		put(t, s, "d", Append, 100+i*10, 10)
	}
	if _, err := s.Stat(ctx, "d"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(grace)
	if err := s.reclaimRetired(ctx, "d"); err != nil { // the same 4 parts, a new manifest
		t.Fatal(err)
	}
	if m, _, err := readManifest(ctx, b, "d"); err != nil || len(m.Retired) != 0 || len(m.Parts) != 4 {
		t.Fatalf("manifest after the reclaim: %+v, %v; want 4 parts, none retired", m, err)
	}
	for i := range 3 {
		cb.reset()
		info, err := s.Stat(ctx, "d")
		if err != nil || info.Rows != 40 {
			t.Fatalf("Stat = %+v, %v", info, err)
		}
		t.Logf("Stat %d after the rewrite: %d requests", i+1, cb.requests())
		if i > 0 && cb.requests() != 2 {
			t.Fatalf("Stat %d after a reclaim's rewrite sent %d requests (%d stat, %d reads); want 2: the dataset and its manifest",
				i+1, cb.requests(), cb.stats.Load(), cb.reads.Load())
		}
	}
}
