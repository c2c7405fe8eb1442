//go:build unix

package testenv

import (
	"os/exec"
	"syscall"
)

// killGroup kills the process group that cmd leads.
func killGroup(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil {
		_ = cmd.Process.Kill()
	}
}
