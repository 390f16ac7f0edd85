package catalog

import (
	"context"
	"errors"
	"testing"
)

// TestPartsOpenCostOnObjectStorage: on object storage, serving one endpoint of a
// multi-part dataset (OpenVersionParts) checks the version with one read of the
// manifest and opens only the endpoint's parts, not a Stat of the dataset and an
// Open of every part; it still reads exactly those parts' rows, and a stale version
// is refused with ErrVersionChanged.
func TestPartsOpenCostOnObjectStorage(t *testing.T) {
	ctx := context.Background()
	const parts = 8
	s, cb := countedMultiPart(t, parts)
	info, err := s.Stat(ctx, "d") // what GetFlightInfo reads before handing out endpoints
	if err != nil {
		t.Fatal(err)
	}

	cb.reset()
	r, err := s.OpenVersionParts(ctx, "d", info.Version, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	got := drain(t, r)
	r.Release()
	t.Logf("one endpoint (2 of %d parts): %d requests (%d stat, %d list, %d manifest reads, %d opens)",
		parts, cb.requests(), cb.stats.Load(), cb.lists.Load(), cb.reads.Load(), cb.opens.Load())
	if want := seq(30, 20); !equalIDs(got, want) {
		t.Fatalf("parts 3-4 read %v, want %v", got, want)
	}
	if cb.reads.Load() != 1 || cb.opens.Load() != 2 || cb.requests() != 3 {
		t.Fatalf("one endpoint sent %d requests (%d stat, %d list, %d reads, %d opens); want 3: the manifest and its 2 parts",
			cb.requests(), cb.stats.Load(), cb.lists.Load(), cb.reads.Load(), cb.opens.Load())
	}

	put(t, s, "d", Append, 1000, 10)
	if _, err := s.OpenVersionParts(ctx, "d", info.Version, 3, 2); !errors.Is(err, ErrVersionChanged) {
		t.Fatalf("OpenVersionParts of a replaced version: %v; want ErrVersionChanged", err)
	}
}
