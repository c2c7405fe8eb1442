//go:build unix && !linux

package testenv

import "syscall"

// sysProcAttr puts a service in its own process group, so it and its
// children can be killed together.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
