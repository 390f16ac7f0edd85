//go:build linux

package lowprio

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// threadNice is the calling thread's niceness.
func threadNice(t *testing.T) int {
	t.Helper()
	// getpriority returns 20 - nice for PRIO_PROCESS on Linux.
	p, err := syscall.Getpriority(syscall.PRIO_PROCESS, syscall.Gettid())
	if err != nil {
		t.Fatal(err)
	}
	return 20 - p
}

func configure(t *testing.T, nice, slots int) {
	t.Helper()
	if err := Configure(nice, slots); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { Configure(0, 0) })
}

// TestGoLowersOnlyItsOwnThread: work started with Go runs at the configured
// niceness, and no other goroutine ever runs on a lowered thread afterwards (an
// unprivileged process could not raise it again).
func TestGoLowersOnlyItsOwnThread(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("thread priorities are Linux's")
	}
	configure(t, 7, 0)
	for range 20 {
		got := make(chan int, 1)
		Go(func() {
			runtime.LockOSThread() // read the niceness of the thread f runs on
			got <- threadNice(t)
		})
		if n := <-got; n != 7 {
			t.Fatalf("bulk goroutine at niceness %d, want 7", n)
		}
	}
	var wg sync.WaitGroup
	var lowered atomic.Int32
	for range 200 {
		wg.Go(func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			if threadNice(t) != 0 {
				lowered.Add(1)
			}
		})
	}
	wg.Wait()
	if n := lowered.Load(); n != 0 {
		t.Fatalf("%d of 200 ordinary goroutines ran on a lowered thread", n)
	}
}

// TestRunWaits: Run returns after f, which ran at the lowered priority.
func TestRunWaits(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("thread priorities are Linux's")
	}
	configure(t, 5, 0)
	nice := -1
	Run(func() { nice = threadNice(t) })
	if nice != 5 {
		t.Fatalf("Run's f at niceness %d, want 5", nice)
	}
}

// TestOffRunsAsGoDoes: unconfigured, Go and Run lower nothing.
func TestOffRunsAsGoDoes(t *testing.T) {
	configure(t, 0, 0)
	nice := -1
	Run(func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		nice = threadNice(t)
	})
	if nice != 0 {
		t.Fatalf("niceness %d with lowering off", nice)
	}
}

// TestSlotBounds: at most slots holders at once; a waiter gives up with its context.
func TestSlotBounds(t *testing.T) {
	configure(t, 0, 2)
	ctx := context.Background()
	var inside, most atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			release, err := Slot(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			defer release()
			n := inside.Add(1)
			for {
				m := most.Load()
				if n <= m || most.CompareAndSwap(m, n) {
					break
				}
			}
			time.Sleep(time.Millisecond)
			inside.Add(-1)
		})
	}
	wg.Wait()
	if m := most.Load(); m != 2 {
		t.Fatalf("%d holders at most, want 2", m)
	}

	r1, _ := Slot(ctx)
	r2, _ := Slot(ctx)
	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if _, err := Slot(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Slot with every slot held: %v, want the context's deadline", err)
	}
	r1()
	r2()
}

// TestConfigureRefuses: out-of-range settings are refused and change nothing.
func TestConfigureRefuses(t *testing.T) {
	configure(t, 0, 0)
	for _, c := range [][2]int{{-1, 0}, {20, 0}, {0, -1}} {
		if err := Configure(c[0], c[1]); err == nil {
			t.Errorf("Configure(%d, %d) accepted", c[0], c[1])
		}
	}
	if got := current(); got.nice != 0 || got.slots != nil {
		t.Fatalf("a refused Configure changed the settings: %+v", got)
	}
}
