//go:build !unix

package local

import (
	"os"
	"os/exec"
)

// setGroup is a no-op where there are no process groups: only the process itself is
// stopped.
func setGroup(cmd *exec.Cmd) {}

// killGroup kills p; without process groups there is no graceful SIGTERM.
func killGroup(p *os.Process, kill bool) { p.Kill() }

// exitCode is a process's exit code.
func exitCode(st *os.ProcessState) int {
	if st == nil {
		return -1
	}
	return st.ExitCode()
}
