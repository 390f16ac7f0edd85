package integration

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// FlightInfo's app_metadata carries what FlightInfo has no field for; `quiver ls`
// shows its modified time.
func TestFlightInfoAppMetadataModified(t *testing.T) {
	srv := startServer(t)
	c := srv.client(t)
	rec := characters(memory.DefaultAllocator)
	defer rec.Release()
	before := time.Now().Add(-2 * time.Second)
	putRecords(t, c, "meta.parquet", rec.Schema(), rec)

	info, err := c.GetFlightInfo(context.Background(), pathDescriptor("meta.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		Modified string `json:"modified"`
	}
	if err := json.Unmarshal(info.AppMetadata, &meta); err != nil {
		t.Fatalf("app_metadata %q: %v", info.AppMetadata, err)
	}
	mod, err := time.Parse(time.RFC3339, meta.Modified)
	if err != nil {
		t.Fatalf("modified %q: %v", meta.Modified, err)
	}
	if mod.Before(before) || mod.After(time.Now().Add(2*time.Second)) {
		t.Errorf("modified = %v, want about now", mod)
	}
	st, err := srv.Store.Stat(context.Background(), "meta.parquet")
	if err != nil {
		t.Fatal(err)
	}
	if want := st.Modified.UTC().Format(time.RFC3339); meta.Modified != want {
		t.Errorf("modified = %q, want the store's %q", meta.Modified, want)
	}
}
