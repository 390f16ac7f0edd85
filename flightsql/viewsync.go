package flightsql

import (
	"context"
	"errors"
	"sync"
)

// viewSync shares one listing of the store, and the view sync that follows it,
// among the SQL requests that arrive while it runs. Every SQL request must see the
// datasets as they were when it arrived (a put, or a file copied in by hand, is
// visible to the next query at once), which took a listing of the root per request:
// under 32 concurrent clients, as many listings of the same root at once.
//
// Invariant: do returns the result of a run that started after the caller arrived,
// so it reflects every change made before. A caller that arrives while a run is
// under way waits for it to end and then for the next, which it starts or shares
// with every other caller that arrived meanwhile: under load one run serves many.
type viewSync struct {
	mu       sync.Mutex
	started  uint64        // runs started
	finished uint64        // the number of the last run that ended
	running  bool          // a run is under way
	done     chan struct{} // closed when the run under way ends
	err      error         // the result of run number finished
	waiting  int           // callers waiting for a run to end
}

// do returns the result of a run of run that started after this call did. The run
// is not cancelled with the ctx of whoever started it, since it serves others: ctx
// only stops the wait.
func (v *viewSync) do(ctx context.Context, run func(context.Context) error) error {
	v.mu.Lock()
	arrived := v.started
	for {
		if v.finished > arrived {
			err := v.err
			v.mu.Unlock()
			return err
		}
		if !v.running {
			v.running = true
			v.started++
			n := v.started
			v.done = make(chan struct{})
			v.mu.Unlock()
			return v.run(ctx, n, run)
		}
		done := v.done
		v.waiting++
		v.mu.Unlock()
		select {
		case <-done:
		case <-ctx.Done():
			v.mu.Lock()
			v.waiting--
			v.mu.Unlock()
			return ctx.Err()
		}
		v.mu.Lock()
		v.waiting--
	}
}

// run runs run as run number n and publishes its result, also if it panics (the
// panic goes on up: the caller's recovery turns it into Internal).
func (v *viewSync) run(ctx context.Context, n uint64, run func(context.Context) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			v.finish(n, errors.New("sync views: ended by a panic"))
			panic(p)
		}
		v.finish(n, err)
	}()
	return run(context.WithoutCancel(ctx))
}

// finish publishes the result of run n and wakes its waiters.
func (v *viewSync) finish(n uint64, err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.finished, v.err, v.running = n, err, false
	close(v.done)
}
