//go:build !unix

package testserver

import "syscall"

// sysProcAttr returns nil: without Unix credentials the commands run as the test's own
// account, and only t.Cleanup stops the processes.
func sysProcAttr(*osUser) *syscall.SysProcAttr { return nil }
