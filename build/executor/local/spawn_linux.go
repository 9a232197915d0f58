package local

import (
	"os/exec"
	goruntime "runtime"
	"syscall"
)

// spawner starts processes from one OS thread that lives as long as the executor, so that
// the steps' parent-death signal (SIGKILL, set below), which Linux ties to the thread that
// forked, fires only when Eddy's process dies: steps do not outlive a crashed Eddy.
type spawner struct {
	reqs chan func()
}

func newSpawner() *spawner {
	s := &spawner{reqs: make(chan func())}
	go func() {
		goruntime.LockOSThread()
		defer goruntime.UnlockOSThread()
		for f := range s.reqs {
			f()
		}
	}()
	return s
}

// start starts cmd in a process group of its own with SIGKILL as its parent-death signal.
func (s *spawner) start(cmd *exec.Cmd) error {
	setGroup(cmd)
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	errc := make(chan error, 1)
	s.reqs <- func() { errc <- cmd.Start() }
	return <-errc
}

// close ends the spawner; no start may follow.
func (s *spawner) close() { close(s.reqs) }
