package partcache

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestGetIfRoomKeepsToTheBudget: GetIfRoom downloads only what fits beside the held
// entries (evicting idle ones for it), refuses the rest with ErrNoRoom naming the
// budget, and shares an entry already cached whatever the budget says. Get (SQL's
// leases) is never refused.
func TestGetIfRoomKeepsToTheBudget(t *testing.T) {
	ctx := context.Background()
	f := newFake()
	a, b2, big := data(200, 1), data(200, 2), data(500, 3)
	va, vb, vbig := f.put("a", a), f.put("b", b2), f.put("big", big)
	c := openCache(t, t.TempDir(), 300)

	// Larger than the whole budget: refused, nothing downloaded.
	_, _, err := c.GetIfRoom(ctx, f, "big", vbig, int64(len(big)))
	if !errors.Is(err, ErrNoRoom) || !strings.Contains(err.Error(), "300 bytes") {
		t.Fatalf("GetIfRoom(big) = %v; want ErrNoRoom naming the 300-byte budget", err)
	}
	if st := c.Stats(); st.Misses != 0 || st.NoRoom != 1 || f.opens.Load() != 0 {
		t.Fatalf("stats %+v, %d opens; want one refusal and no download", st, f.opens.Load())
	}

	// a fits; while it is held, b does not (200 + 200 > 300).
	pa, releaseA, err := c.GetIfRoom(ctx, f, "a", va, int64(len(a)))
	if err != nil {
		t.Fatalf("GetIfRoom(a): %v", err)
	}
	if _, _, err := c.GetIfRoom(ctx, f, "b", vb, int64(len(b2))); !errors.Is(err, ErrNoRoom) {
		t.Fatalf("GetIfRoom(b) beside a held a = %v; want ErrNoRoom", err)
	}
	// A second reader of a shares the held entry: no room needed.
	_, releaseA2, err := c.GetIfRoom(ctx, f, "a", va, int64(len(a)))
	if err != nil {
		t.Fatalf("GetIfRoom(a) again: %v", err)
	}
	releaseA2()
	// Get is not refused: it goes over the budget while both are held.
	_, releaseB := get(t, c, f, "b", vb, b2)
	if st := c.Stats(); st.Bytes != 400 {
		t.Fatalf("stats %+v; want a and b held, 400 bytes", st)
	}
	releaseB()
	releaseA()
	if !exists(pa) {
		t.Fatal("a, the most recently downloaded within the budget, was evicted")
	}

	// Nothing held now: b fits by evicting the idle a.
	_, releaseB, err = c.GetIfRoom(ctx, f, "b", vb, int64(len(b2)))
	if err != nil {
		t.Fatalf("GetIfRoom(b) with only idle entries: %v", err)
	}
	defer releaseB()
	if exists(pa) {
		t.Fatal("idle a was not evicted to make room for b")
	}
	if st := c.Stats(); st.Bytes != 200 || st.NoRoom != 2 {
		t.Fatalf("stats %+v; want b alone and two refusals", st)
	}
}
