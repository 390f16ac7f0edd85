package flightsql

import (
	"bytes"
	"testing"

	"github.com/quiverdata/quiver/catalog"
	"github.com/quiverdata/quiver/flightsql/memtier"
)

// fillEntry fills key of dataset with msgs messages of size bytes each and finishes.
func fillEntry(t *testing.T, d *dogetTier, key, dataset string, msgs, size int, ok bool) {
	t.Helper()
	f := d.startFill(key, dataset)
	if f == nil {
		t.Fatalf("startFill(%q) = nil", key)
	}
	for range msgs {
		f.keep(bytes.Repeat([]byte{1}, size), []byte("hdr"), int64(size))
	}
	f.finish(ok)
}

func TestDogetTierKeysTheVersion(t *testing.T) {
	v1 := catalog.Info{Name: "a.parquet", Version: "v1"}
	v2 := catalog.Info{Name: "a.parquet", Version: "v2"}
	if dogetKey("all", v1) == dogetKey("all", v2) {
		t.Fatal("two versions share a key")
	}
	if dogetKey("all", v1) == dogetKey(partsKind(0, 1), v1) {
		t.Fatal("a parts ticket shares the whole dataset's key")
	}
	if dogetKey(partsKind(0, 2), v1) == dogetKey(partsKind(1, 1), v1) {
		t.Fatal("two part ranges share a key")
	}
}

func TestDogetTierFillsAndForgets(t *testing.T) {
	tier := memtier.New(1 << 20)
	d := newDogetTier(tier)
	key := dogetKey("all", catalog.Info{Name: "a.parquet", Version: "v1"})
	fillEntry(t, d, key, "a.parquet", 4, 1000, true)
	e := d.get(key)
	if e == nil || len(e.msgs) != 4 {
		t.Fatalf("after a fill: entry %+v", e)
	}
	if tier.Used() != e.bytes || e.bytes < 4000 {
		t.Fatalf("tier holds %d bytes, the entry %d", tier.Used(), e.bytes)
	}
	// A commit to another dataset leaves it; one to a.parquet takes it out.
	d.changed("b.parquet")
	if d.get(key) == nil {
		t.Fatal("a change to another dataset dropped the entry")
	}
	d.changed("a.parquet")
	if d.get(key) != nil || tier.Used() != 0 {
		t.Fatalf("after a change: entry still there, tier holds %d bytes", tier.Used())
	}
}

func TestDogetTierAdmitsOnlyWholeFreshStreams(t *testing.T) {
	tier := memtier.New(10_000)
	d := newDogetTier(tier)
	key := dogetKey("all", catalog.Info{Name: "a.parquet", Version: "v1"})

	// A stream that failed is not kept.
	fillEntry(t, d, key, "a.parquet", 2, 100, false)
	if d.get(key) != nil || tier.Used() != 0 {
		t.Fatal("a failed stream was kept")
	}
	// A stream larger than the whole budget is abandoned as it grows.
	f := d.startFill(key, "a.parquet")
	for range 20 {
		f.keep(make([]byte, 1000), nil, 1000)
	}
	if !f.abandoned || f.entry.msgs != nil {
		t.Fatalf("a fill past the budget holds %d messages, abandoned %v", len(f.entry.msgs), f.abandoned)
	}
	f.finish(true)
	if d.get(key) != nil || tier.Used() != 0 {
		t.Fatal("a stream larger than the budget was kept")
	}
	// A commit to the dataset while a fill runs: the fill is not admitted.
	f = d.startFill(key, "a.parquet")
	f.keep(make([]byte, 100), nil, 100)
	d.changed("a.parquet")
	f.finish(true)
	if d.get(key) != nil || tier.Used() != 0 {
		t.Fatal("a fill that overlapped a commit was kept")
	}
	// One fill per key at a time.
	f = d.startFill(key, "a.parquet")
	if d.startFill(key, "a.parquet") != nil {
		t.Fatal("two fills of one key at once")
	}
	f.finish(true)
	if d.get(key) == nil {
		t.Fatal("a whole stream was not kept")
	}
	if d.startFill(key, "a.parquet") != nil {
		t.Fatal("a fill of a key already kept")
	}
	if d.copying.Load() != 0 {
		t.Fatalf("%d bytes counted as being copied after every fill ended", d.copying.Load())
	}
}

func TestDogetTierFillsTogetherStayInTheBudget(t *testing.T) {
	tier := memtier.New(10_000)
	d := newDogetTier(tier)
	a := d.startFill(dogetKey("all", catalog.Info{Name: "a.parquet", Version: "1"}), "a.parquet")
	b := d.startFill(dogetKey("all", catalog.Info{Name: "b.parquet", Version: "1"}), "b.parquet")
	for range 3 {
		a.keep(make([]byte, 2000), nil, 2000)
		b.keep(make([]byte, 2000), nil, 2000)
	}
	// Each alone fits (6,000 bytes and more); both together do not.
	if a.abandoned == b.abandoned {
		t.Fatalf("two fills of 6 KB each in a 10 KB budget: abandoned %v and %v, want exactly one", a.abandoned, b.abandoned)
	}
	if got := d.copying.Load(); got > tier.Max() {
		t.Fatalf("fills hold %d bytes, over the budget of %d", got, tier.Max())
	}
	a.finish(true)
	b.finish(true)
	if d.copying.Load() != 0 {
		t.Fatalf("%d bytes counted as being copied after both fills ended", d.copying.Load())
	}
	if tier.Used() == 0 || tier.Used() > tier.Max() {
		t.Fatalf("tier holds %d bytes after one whole fill", tier.Used())
	}
}

func TestDogetTierEvictsLeastRecentlyUsed(t *testing.T) {
	tier := memtier.New(5000)
	d := newDogetTier(tier)
	keyOf := func(v string) string { return dogetKey("all", catalog.Info{Name: "a.parquet", Version: v}) }
	fillEntry(t, d, keyOf("1"), "a.parquet", 1, 2000, true)
	fillEntry(t, d, keyOf("2"), "a.parquet", 1, 2000, true)
	d.get(keyOf("1")) // 1 is now the most recently used
	fillEntry(t, d, keyOf("3"), "a.parquet", 1, 2000, true)
	if d.get(keyOf("2")) != nil {
		t.Fatal("the least recently used entry was not evicted")
	}
	if d.get(keyOf("1")) == nil || d.get(keyOf("3")) == nil {
		t.Fatal("a recently used entry was evicted")
	}
	if tier.Used() > tier.Max() {
		t.Fatalf("tier holds %d bytes, over its budget of %d", tier.Used(), tier.Max())
	}
}

func TestDogetTierOff(t *testing.T) {
	var d *dogetTier
	if d.enabled() || d.get("x") != nil || d.startFill("x", "a") != nil {
		t.Fatal("a nil tier keeps something")
	}
	d = newDogetTier(memtier.New(0))
	if d.startFill("x", "a") != nil {
		t.Fatal("a zero budget keeps something")
	}
}
