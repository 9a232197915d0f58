//go:build unix

package local

import (
	"os"
	"os/exec"
	"syscall"
)

// setGroup makes cmd start in a process group of its own, so that stopping it reaches every
// process it started.
func setGroup(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
}

// killGroup sends SIGTERM, or SIGKILL if kill, to p's process group. It works after p
// itself has exited, as long as any process of the group lives.
func killGroup(p *os.Process, kill bool) {
	sig := syscall.SIGTERM
	if kill {
		sig = syscall.SIGKILL
	}
	syscall.Kill(-p.Pid, sig)
}

// exitCode is a process's exit code, 128+n when signal n killed it.
func exitCode(st *os.ProcessState) int {
	if st == nil {
		return -1
	}
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return st.ExitCode()
}
