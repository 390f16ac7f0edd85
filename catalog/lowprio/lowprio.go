// Package lowprio runs bulk work (decoding and encoding Parquet, DuckDB executing a
// query) below the priority of short requests, so that a saturated CPU still
// answers metadata calls, plans and small queries at once.
//
// Two mechanisms, both off until Configure turns them on (quiver serve does):
//
//   - Go starts a goroutine on an OS thread of its own whose scheduling priority
//     is lowered (a nice value): the kernel then runs the server's other threads
//     first when they are ready. The thread ends with the goroutine and is never
//     handed back to the Go runtime, because an unprivileged process may lower a
//     thread's priority but not raise it again. DuckDB's worker threads inherit
//     the priority of the thread that opens the database (the engine opens it
//     through Run). The thread may be one Go ran other goroutines on before: a
//     child process started from it with a parent-death signal
//     (SysProcAttr.Pdeathsig) would be killed when it ends. Quiver starts none.
//   - Slot bounds the bulk goroutines running Go code at once (Configure's slots,
//     the cores). The Go scheduler knows no priorities: if bulk goroutines held
//     every P (GOMAXPROCS), a ready metadata call would wait behind them for a
//     time slice of 10 ms each, whatever the kernel prefers. With fewer bulk
//     goroutines running than Ps, and more Ps than cores (quiver serve sets
//     GOMAXPROCS above the core count), a short request always finds a P, and
//     the kernel gives its thread the CPU ahead of the bulk threads.
//
// It is a choice of who waits when the CPU is short. BenchmarkLoad (32 clients on 2
// cores, README "Performance"): metadata p99 fell from 142–252 ms to 15–54 ms and
// SQL p50 from 191 to 46 ms, while whole-dataset DoGets, the bulkiest calls, waited
// longer (p50 124 -> 408 ms) and the server did about 15 % fewer operations.
package lowprio

import (
	"context"
	"fmt"
	"sync"
)

// config is what Configure set; the zero value leaves everything as Go does it.
type config struct {
	nice  int           // the niceness of bulk threads; 0: not lowered
	slots chan struct{} // nil: bulk work is not bounded
}

var (
	mu  sync.RWMutex
	cfg config
)

// Configure lowers bulk threads to niceness nice (1 to 19; 0 turns lowering off)
// and lets at most slots bulk work units run Go code at once (0: no bound). It
// affects goroutines started and slots taken after it returns; call it once, at
// start, before any bulk work.
func Configure(nice, slots int) error {
	if nice < 0 || nice > 19 {
		return fmt.Errorf("lowprio: niceness %d is not between 0 and 19", nice)
	}
	if slots < 0 {
		return fmt.Errorf("lowprio: %d slots", slots)
	}
	if nice != 0 {
		if err := checkNice(nice); err != nil {
			return err
		}
	}
	c := config{nice: nice}
	if slots > 0 {
		c.slots = make(chan struct{}, slots)
	}
	mu.Lock()
	cfg = c
	mu.Unlock()
	return nil
}

func current() config {
	mu.RLock()
	defer mu.RUnlock()
	return cfg
}

// Go runs f on a new goroutine, on an OS thread of its own at the configured lower
// priority when lowering is on (else as the go statement does). f must recover its
// own panics, as with any goroutine.
func Go(f func()) {
	nice := current().nice
	if nice == 0 {
		go f()
		return
	}
	go func() {
		// Locked and never unlocked: the thread exits with this goroutine, so
		// its lowered priority goes with it.
		lockForever()
		lower(nice)
		f()
	}()
}

// Run runs f on a goroutine of Go's and waits for it: for a bulk call made from a
// goroutine that must keep its priority (the DuckDB open, whose worker threads
// inherit the priority of its thread).
func Run(f func()) {
	done := make(chan struct{})
	Go(func() {
		defer close(done)
		f()
	})
	<-done
}

// Slot waits for a bulk slot and returns the function that gives it back; without
// a bound it returns at once. It fails only when ctx ends first.
func Slot(ctx context.Context) (release func(), err error) {
	slots := current().slots
	if slots == nil {
		return func() {}, nil
	}
	select {
	case slots <- struct{}{}:
		return func() { <-slots }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
