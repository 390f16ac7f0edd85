package lowprio

import (
	"fmt"
	"syscall"
)

// lower sets the calling thread's niceness (Linux keeps one per thread).
func lower(nice int) {
	// It can fail only under a sandbox that forbids setpriority, which checkNice
	// ruled out at Configure; the work then runs at the normal priority.
	_ = syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), nice)
}

// checkNice reports whether threads' priorities can be lowered here, by lowering
// one on a thread that then ends.
func checkNice(nice int) error {
	errc := make(chan error, 1)
	go func() {
		lockForever()
		errc <- syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), nice)
	}()
	if err := <-errc; err != nil {
		return fmt.Errorf("lowprio: lower a thread's priority: %w", err)
	}
	return nil
}
