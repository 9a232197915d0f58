//go:build !linux

package process

import "os/exec"

// spawner starts processes. Only on Linux does it do more than exec.Cmd.Start.
type spawner struct{}

func newSpawner() *spawner { return &spawner{} }

// start starts cmd in a process group of its own. cgroupFD is unused off Linux.
func (s *spawner) start(cmd *exec.Cmd, cgroupFD int) error {
	setGroup(cmd)
	return cmd.Start()
}

func (s *spawner) close() {}
