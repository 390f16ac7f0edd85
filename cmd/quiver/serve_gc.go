package main

import (
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"

	"github.com/spf13/pflag"
)

// How often Go's garbage collector runs. A serving Quiver keeps little on the Go heap
// (5-12 MB live without a memory tier) and moves a lot through it (every batch of a
// put or a read), so with Go's default GOGC=100 the collector ran every 5-6 MB
// allocated: 29 collections per cookbook `ints` put (34 MB) and its conversion, and
// with 4 Ps per core (serve_cpu.go) a collection's mark workers take both cores. The
// tuner below puts the heap's goal at least --gc-headroom above what is live, so that
// collections come every headroom's worth of allocation, and leaves Go's default
// (twice what is live) once that is more, as with a memory tier of GiBs. Measured with
// the pyarrow client, a landed put of `ints` (idle machine, 12 puts, two runs each):
// server CPU 80-110 -> 50-70 ms, time to the answer at best 66-73 -> 53 ms. The cost:
// up to the headroom of garbage on the heap between collections.

// minGoalBase is the least live heap the tuner counts: Go's heap goal is never below
// 4 MiB x GOGC/100 however little is live, so a smaller live heap counted as it is
// would put the goal past live+headroom.
const minGoalBase = 4 << 20

// maxHeadroom keeps headroom x 100 within a uint64.
const maxHeadroom = 1 << 50

// liveHeapMetric is the heap the last collection found live.
const liveHeapMetric = "/gc/heap/live:bytes"

// gcOptions are the flags of garbage collection.
type gcOptions struct {
	// headroom is --gc-headroom: the least garbage the heap may gather between
	// collections; "0": Go's default.
	headroom string
}

func addGCFlags(f *pflag.FlagSet, o *gcOptions) {
	f.StringVar(&o.headroom, "gc-headroom", "64MiB", "let the Go heap grow by at least this much garbage between collections (Go's default: as much as is live, a few MB for a server without a memory tier), trading up to this much memory for less CPU spent collecting; ignored when GOGC is set; 0: Go's default")
}

// start starts the tuner unless the headroom is 0 or the operator set GOGC; the
// returned stop ends it and restores the GOGC it found.
func (o gcOptions) start(log *slog.Logger) (stop func(), err error) {
	none := func() {}
	if o.headroom == "" {
		return none, nil
	}
	headroom, err := parseSize(o.headroom)
	if err != nil {
		return nil, fmt.Errorf("--gc-headroom: %w", err)
	}
	if headroom == 0 {
		return none, nil
	}
	if gogc := os.Getenv("GOGC"); gogc != "" {
		log.Info("--gc-headroom ignored: GOGC is set", "gogc", gogc)
		return none, nil
	}
	t := startGCTuner(uint64(headroom))
	log.Info("garbage collection tuned", "gc_headroom_bytes", headroom)
	return t.stop, nil
}

// gcPercentFor is the GOGC that puts the heap's goal at live+headroom, or Go's
// default of 100 when that puts it higher.
func gcPercentFor(live, headroom uint64) int {
	live = max(live, minGoalBase)
	headroom = min(headroom, maxHeadroom)
	return int(max(headroom*100/live, 100))
}

// gcTuner sets GOGC after every collection from what it found live.
type gcTuner struct {
	headroom uint64
	initial  int // GOGC before the tuner, restored by stop

	mu      sync.Mutex // tune against stop
	stopped bool
	percent int
	sample  []metrics.Sample
}

// gcSentinel is garbage the tuner makes to hear of each collection: its finalizer runs
// after the collection that found it unreachable. It holds a pointer so that it is
// not a tiny allocation, whose finalizer may never run.
type gcSentinel struct{ t *gcTuner }

func startGCTuner(headroom uint64) *gcTuner {
	t := &gcTuner{headroom: headroom, sample: []metrics.Sample{{Name: liveHeapMetric}}}
	t.initial = debug.SetGCPercent(100) // reads GOGC: SetGCPercent returns the last one
	debug.SetGCPercent(t.initial)
	t.percent = t.initial
	t.mu.Lock()
	t.tuneLocked(0) // nothing measured yet: as if at most minGoalBase were live
	t.mu.Unlock()
	t.arm()
	return t
}

// arm makes a sentinel for the next collection.
func (t *gcTuner) arm() {
	s := &gcSentinel{t: t}
	runtime.SetFinalizer(s, func(s *gcSentinel) { s.t.collected() })
}

// collected runs on the finalizer goroutine after a collection.
func (t *gcTuner) collected() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return
	}
	metrics.Read(t.sample)
	if t.sample[0].Value.Kind() == metrics.KindUint64 {
		t.tuneLocked(t.sample[0].Value.Uint64())
	}
	t.arm()
}

func (t *gcTuner) tuneLocked(live uint64) {
	if p := gcPercentFor(live, t.headroom); p != t.percent {
		debug.SetGCPercent(p)
		t.percent = p
	}
}

// stop ends the tuning and restores the GOGC the tuner found.
func (t *gcTuner) stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.stopped {
		t.stopped = true
		debug.SetGCPercent(t.initial)
	}
}
