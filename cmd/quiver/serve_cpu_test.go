package main

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"testing"

	"github.com/quiverdata/quiver/catalog/lowprio"
)

// TestBulkNiceFlag: --bulk-nice sets bulk work apart with one slot per core and
// procsPerCore Ps per core, keeps the operator's GOMAXPROCS (with half its Ps for
// short requests), turns off with 0, and refuses values out of range.
func TestBulkNiceFlag(t *testing.T) {
	t.Cleanup(func() {
		runtime.GOMAXPROCS(startProcs)
		lowprio.Configure(0, 0)
	})
	apply := func(nice int) (string, error) {
		var logs bytes.Buffer
		err := cpuOptions{bulkNice: nice}.apply(slog.New(slog.NewTextHandler(&logs, nil)))
		return logs.String(), err
	}

	t.Setenv("GOMAXPROCS", "")
	logs, err := apply(10)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS == "linux" {
		want := fmt.Sprintf("bulk_nice=10 bulk_slots=%d gomaxprocs=%d", startProcs, procsPerCore*startProcs)
		if !strings.Contains(logs, want) {
			t.Errorf("log %q does not say %q", logs, want)
		}
	}
	if got := runtime.GOMAXPROCS(0); got != procsPerCore*startProcs {
		t.Errorf("GOMAXPROCS = %d, want %d", got, procsPerCore*startProcs)
	}
	if _, err := apply(10); err != nil || runtime.GOMAXPROCS(0) != procsPerCore*startProcs {
		t.Errorf("applied twice: %v, GOMAXPROCS %d; want it set once from the start value", err, runtime.GOMAXPROCS(0))
	}

	runtime.GOMAXPROCS(6)
	t.Setenv("GOMAXPROCS", "6")
	if logs, err = apply(10); err != nil {
		t.Fatal(err)
	}
	if got := runtime.GOMAXPROCS(0); got != 6 {
		t.Errorf("GOMAXPROCS set by the operator became %d", got)
	}
	if want := fmt.Sprintf("bulk_slots=%d gomaxprocs=6", max(1, min(runtime.NumCPU(), 3))); !strings.Contains(logs, want) {
		t.Errorf("log %q does not say %q", logs, want)
	}

	if logs, err = apply(0); err != nil || strings.Contains(logs, "bulk work set apart") {
		t.Errorf("--bulk-nice 0: %v, log %q; want off, silently", err, logs)
	}
	for _, bad := range []int{-1, 20} {
		_, err := apply(bad)
		var usage *usageError
		if !errors.As(err, &usage) || !strings.Contains(err.Error(), "--bulk-nice") {
			t.Errorf("--bulk-nice %d: %v, want a usage error naming the flag", bad, err)
		}
	}
}
