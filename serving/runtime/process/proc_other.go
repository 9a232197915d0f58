//go:build !unix

package process

import (
	"os"
	"os/exec"
)

// setGroup is a no-op where there are no process groups: only the process itself is
// stopped.
func setGroup(cmd *exec.Cmd) {}

// setGroupCancel leaves cmd as exec.CommandContext made it: its context kills the process.
func setGroupCancel(cmd *exec.Cmd) {}

// killGroup kills p; without process groups there is no graceful SIGTERM.
func killGroup(p *os.Process, kill bool) error { return p.Kill() }

// exitReason describes how a process ended.
func exitReason(st *os.ProcessState) (reason, detail string) {
	return ReasonExitCode, "exited with code " + itoa(st.ExitCode())
}
