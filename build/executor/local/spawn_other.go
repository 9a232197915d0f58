//go:build !linux

package local

import "os/exec"

// spawner starts processes; without Linux's parent-death signal, a step may outlive a
// crashed Eddy.
type spawner struct{}

func newSpawner() *spawner { return &spawner{} }

// start starts cmd in a process group of its own.
func (s *spawner) start(cmd *exec.Cmd) error {
	setGroup(cmd)
	return cmd.Start()
}

func (s *spawner) close() {}
