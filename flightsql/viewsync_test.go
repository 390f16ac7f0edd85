package flightsql

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestViewSyncSharesRunsThatStartAfterArrival: callers that arrive while a run is
// under way do not take its result (it may predate a change they made), they share
// one new run between them.
func TestViewSyncSharesRunsThatStartAfterArrival(t *testing.T) {
	var v viewSync
	var runs atomic.Int64
	release := make(chan struct{})
	first := make(chan struct{})
	run := func(context.Context) error {
		if runs.Add(1) == 1 {
			close(first)
			<-release
		}
		return nil
	}
	go func() {
		if err := v.do(context.Background(), run); err != nil {
			t.Errorf("first caller: %v", err)
		}
	}()
	<-first

	const callers = 10
	var wg sync.WaitGroup
	seen := make([]int64, callers)
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := v.do(context.Background(), run); err != nil {
				t.Errorf("caller %d: %v", i, err)
			}
			seen[i] = runs.Load()
		}()
	}
	// Let them all queue behind the first run.
	for {
		v.mu.Lock()
		n, waiting := v.started, v.waiting
		v.mu.Unlock()
		if n != 1 {
			t.Fatalf("%d runs started before the first ended", n)
		}
		if waiting == callers {
			break
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	if n := runs.Load(); n != 2 {
		t.Fatalf("%d callers behind one run made %d runs in all, want 2", callers, n)
	}
	for i, s := range seen {
		if s < 2 {
			t.Errorf("caller %d returned after run %d, which started before it arrived", i, s)
		}
	}
}

// TestViewSyncWaitEndsWithContext: a waiter whose context ends returns its error at
// once; the run it waited for is not cancelled.
func TestViewSyncWaitEndsWithContext(t *testing.T) {
	var v viewSync
	release := make(chan struct{})
	started := make(chan struct{})
	var runCtxErr error
	go v.do(context.Background(), func(ctx context.Context) error {
		close(started)
		<-release
		runCtxErr = ctx.Err()
		return nil
	})
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := v.do(ctx, func(context.Context) error { return nil }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiter = %v, want DeadlineExceeded", err)
	}
	close(release)
	if err := v.do(context.Background(), func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if runCtxErr != nil {
		t.Fatalf("the run saw its context end: %v", runCtxErr)
	}

	// The starter's own context does not cancel a run others may share.
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	if err := v.do(ctx, func(ctx context.Context) error { return ctx.Err() }); err != nil {
		t.Fatalf("run under a cancelled starter: %v, want nil", err)
	}
}

// TestViewSyncSurvivesErrorsAndPanics: a run's error reaches whoever shares it, a
// panic goes up to its caller and is an error to the others, and later calls run
// again.
func TestViewSyncSurvivesErrorsAndPanics(t *testing.T) {
	var v viewSync
	boom := errors.New("list failed")
	if err := v.do(context.Background(), func(context.Context) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("error run = %v, want %v", err, boom)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the panic did not reach the caller that ran it")
			}
		}()
		v.do(context.Background(), func(context.Context) error { panic("bad") })
	}()
	if err := v.do(context.Background(), func(context.Context) error { return nil }); err != nil {
		t.Fatalf("after a panic: %v, want a fresh run", err)
	}
	if v.running {
		t.Fatal("still marked running")
	}
}
