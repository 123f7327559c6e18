package testserver

import "syscall"

// sysProcAttr returns the process attributes for a server-side command: run as u when
// u is not nil, and get SIGKILL when the test process dies, so a killed test binary
// does not leave the process behind.
func sysProcAttr(u *osUser) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if u != nil {
		// #nosec G115 -- uid and gid come from os/user and are non-negative 32-bit ids on Linux.
		a.Credential = &syscall.Credential{Uid: uint32(u.uid), Gid: uint32(u.gid)}
	}
	return a
}
