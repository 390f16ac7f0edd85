package s3test

import "syscall"

// childAttr makes the kernel kill the server if the test binary dies without running its
// cleanups (a panic, a SIGKILL), so no versitygw outlives its test.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
