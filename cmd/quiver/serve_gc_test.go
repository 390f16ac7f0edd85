package main

import (
	"io"
	"log/slog"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"testing"
	"time"
)

func TestGCPercentFor(t *testing.T) {
	const mib = 1 << 20
	cases := []struct {
		live, headroom uint64
		want           int
	}{
		{live: 8 * mib, headroom: 64 * mib, want: 800},                      // goal 72 MiB: live + headroom
		{live: 6 * mib, headroom: 64 * mib, want: 1066},                     // rounded down: the goal stays within live + headroom
		{live: 0, headroom: 64 * mib, want: 1600},                           // Go's goal is at least 4 MiB x GOGC/100: 64 MiB
		{live: 1 * mib, headroom: 64 * mib, want: 1600},                     // the same: not 6400, a 256 MiB goal
		{live: 64 * mib, headroom: 64 * mib, want: 100},                     // Go's default is as much
		{live: 1 << 30, headroom: 64 * mib, want: 100},                      // a memory tier of a GiB: Go's default
		{live: 8 * mib, headroom: 1 << 62, want: 1 << 50 * 100 / (8 * mib)}, // no overflow
	}
	for _, c := range cases {
		if got := gcPercentFor(c.live, c.headroom); got != c.want {
			t.Errorf("gcPercentFor(live %d, headroom %d) = %d, want %d", c.live, c.headroom, got, c.want)
		}
	}
}

// gogc is GOGC as the runtime has it now.
func gogc(t *testing.T) uint64 {
	t.Helper()
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		t.Fatalf("runtime/metrics has no %s", s[0].Name)
	}
	return s[0].Value.Uint64()
}

// TestGCTunerFollowsTheLiveHeap checks that the tuner sets GOGC from what each
// collection found live, follows the live heap as it grows, and restores GOGC when
// stopped.
func TestGCTunerFollowsTheLiveHeap(t *testing.T) {
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)
	const headroom = 256 << 20
	tuner := startGCTuner(headroom)
	defer tuner.stop()

	// waitFor collects until GOGC is what the last collection's live heap asks for.
	waitFor := func(what string, ok func(gogc, live uint64) bool) uint64 {
		t.Helper()
		live := []metrics.Sample{{Name: liveHeapMetric}}
		deadline := time.Now().Add(10 * time.Second)
		for {
			runtime.GC()
			time.Sleep(5 * time.Millisecond) // the finalizer goroutine tunes after the collection
			metrics.Read(live)
			got := gogc(t)
			if ok(got, live[0].Value.Uint64()) {
				return got
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: GOGC %d with %d bytes live", what, got, live[0].Value.Uint64())
			}
		}
	}
	small := waitFor("a small live heap", func(got, live uint64) bool {
		return got > 100 && got == uint64(gcPercentFor(live, headroom))
	})

	// 512 MiB more live: twice it is more than live + headroom, so Go's default.
	held := make([]byte, 512<<20)
	waitFor("a live heap past the headroom", func(got, _ uint64) bool { return got == 100 })
	runtime.KeepAlive(held)
	held = nil
	waitFor("the heap small again", func(got, _ uint64) bool { return got > 100 })

	tuner.stop()
	if got := gogc(t); got != 100 {
		t.Errorf("GOGC %d after stop, want the 100 found at the start (was %d while tuning)", got, small)
	}
	// A collection after stop changes nothing.
	runtime.GC()
	time.Sleep(20 * time.Millisecond)
	if got := gogc(t); got != 100 {
		t.Errorf("GOGC %d after a collection following stop, want 100", got)
	}
}

func TestGCHeadroomFlag(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)

	if _, err := (gcOptions{headroom: "lots"}).start(log); err == nil || !strings.Contains(err.Error(), "--gc-headroom") {
		t.Errorf("--gc-headroom lots: err %v, want one naming the flag", err)
	}
	stop, err := (gcOptions{headroom: "0"}).start(log)
	if err != nil {
		t.Fatal(err)
	}
	stop()
	if got := gogc(t); got != 100 {
		t.Errorf("--gc-headroom 0: GOGC %d, want Go's default 100", got)
	}

	t.Setenv("GOGC", "") // empty: unset, as for every variable here
	stop, err = (gcOptions{headroom: "64MiB"}).start(log)
	if err != nil {
		t.Fatal(err)
	}
	if got := gogc(t); got != uint64(gcPercentFor(0, 64<<20)) {
		t.Errorf("--gc-headroom 64MiB before any collection: GOGC %d, want %d", got, gcPercentFor(0, 64<<20))
	}
	stop()
	if got := gogc(t); got != 100 {
		t.Errorf("GOGC %d after stop, want the 100 found at the start", got)
	}

	t.Setenv("GOGC", "200")
	stop, err = (gcOptions{headroom: "64MiB"}).start(log)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if got := gogc(t); got != 100 {
		t.Errorf("GOGC set by the operator: the tuner set GOGC %d, want it untouched (100 here)", got)
	}
}
