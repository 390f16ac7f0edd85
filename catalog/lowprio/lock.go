package lowprio

import "runtime"

// lockForever wires the calling goroutine to its thread for the rest of its life:
// the thread exits when the goroutine does.
func lockForever() { runtime.LockOSThread() }
