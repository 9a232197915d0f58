//go:build !linux

package process

import (
	"errors"
	"os"
)

// detectCgroups reports that limits are not enforced: cgroups are Linux's.
func detectCgroups(root string) (*cgroups, string) {
	return nil, "cgroups exist only on Linux"
}

// openCgroup is never called off Linux.
func openCgroup(dir string) (*os.File, error) { return nil, errors.New("no cgroups") }
