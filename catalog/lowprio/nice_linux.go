package lowprio

import (
	"fmt"
	"syscall"
)

// setNice sets the calling thread's niceness (Linux keeps one per thread).
func setNice(nice int) error {
	return syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), nice)
}

// lower sets the calling thread's niceness. It can fail only under a sandbox that
// forbids setpriority, which checkNice ruled out at Configure; the work then runs at
// the normal priority.
func lower(nice int) { _ = setNice(nice) }

// checkNice reports whether threads' priorities can be lowered here, by lowering
// one on a thread that then ends.
func checkNice(nice int) error {
	errc := make(chan error, 1)
	go func() {
		lockForever()
		errc <- setNice(nice)
	}()
	if err := <-errc; err != nil {
		return fmt.Errorf("lowprio: lower a thread's priority: %w", err)
	}
	return nil
}
