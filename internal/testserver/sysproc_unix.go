//go:build unix && !linux

package testserver

import "syscall"

// sysProcAttr returns the process attributes for a server-side command: run as u when
// u is not nil. Outside Linux there is no parent-death signal, so only t.Cleanup stops
// the processes.
func sysProcAttr(u *osUser) *syscall.SysProcAttr {
	if u == nil {
		return nil
	}
	return &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(u.uid), Gid: uint32(u.gid)}}
}
