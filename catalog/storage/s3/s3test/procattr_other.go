//go:build !linux

package s3test

import "syscall"

// childAttr has no parent-death signal outside Linux; t.Cleanup stops the server.
func childAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }
