package process

import (
	"os/exec"
	goruntime "runtime"
	"syscall"
)

// spawner starts processes from one OS thread that lives as long as the runtime, so that
// the instances' parent-death signal (SIGKILL, set below), which Linux ties to the thread
// that forked, fires only when the runtime's process dies: instances do not outlive a
// crashed or killed Eddy.
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

// start starts cmd in a process group of its own, in the cgroup whose directory is open as
// cgroupFD (if >= 0), with SIGKILL as its parent-death signal.
func (s *spawner) start(cmd *exec.Cmd, cgroupFD int) error {
	setGroup(cmd)
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	if cgroupFD >= 0 {
		cmd.SysProcAttr.UseCgroupFD = true
		cmd.SysProcAttr.CgroupFD = cgroupFD
	}
	errc := make(chan error, 1)
	s.reqs <- func() { errc <- cmd.Start() }
	return <-errc
}

// close ends the spawner; no start may follow.
func (s *spawner) close() { close(s.reqs) }
