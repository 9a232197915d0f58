//go:build unix

package process

import (
	"os"
	"os/exec"
	"syscall"
)

// setGroup starts cmd in a process group of its own, so that stopping it reaches every
// process it started.
func setGroup(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
}

// setGroupCancel starts cmd, made by exec.CommandContext, in a process group of its own
// and makes the end of its context kill the whole group.
func setGroupCancel(cmd *exec.Cmd) {
	setGroup(cmd)
	cmd.Cancel = func() error { return killGroup(cmd.Process, true) }
}

// killGroup sends SIGTERM, or SIGKILL if kill, to p's process group. It works after p
// itself has exited, as long as any process of the group lives.
func killGroup(p *os.Process, kill bool) error {
	sig := syscall.SIGTERM
	if kill {
		sig = syscall.SIGKILL
	}
	return syscall.Kill(-p.Pid, sig)
}

// exitReason describes how a process ended: reason ReasonExitCode or ReasonSignal, and
// detail such as "exited with code 3" or "killed by signal killed".
func exitReason(st *os.ProcessState) (reason, detail string) {
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return ReasonSignal, "killed by signal " + ws.Signal().String()
	}
	return ReasonExitCode, "exited with code " + itoa(st.ExitCode())
}
