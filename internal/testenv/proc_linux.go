//go:build linux

package testenv

import "syscall"

// sysProcAttr puts a service in its own process group, so it and its
// children can be killed together, and has the kernel kill it if the test
// binary dies first (a test timeout, a signal).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
