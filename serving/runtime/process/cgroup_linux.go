package process

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// cgroup2Magic is CGROUP2_SUPER_MAGIC, the f_type of a cgroup2 file system.
const cgroup2Magic = 0x63677270

// detectCgroups returns cgroups under root if limits can be enforced there, or why not.
// root's parent must be a directory of a cgroup2 mount that has the memory and cpu
// controllers and lets this process enable them for its children.
func detectCgroups(root string) (*cgroups, string) {
	if root == "-" {
		return nil, "turned off (Config.CgroupRoot is \"-\")"
	}
	parent := filepath.Dir(root)
	var st syscall.Statfs_t
	if err := syscall.Statfs(parent, &st); err != nil {
		return nil, fmt.Sprintf("%s: %v", parent, err)
	}
	if st.Type != cgroup2Magic {
		return nil, parent + " is not a cgroup v2 mount (cgroup v1 or hybrid hierarchy)"
	}
	data, err := os.ReadFile(filepath.Join(parent, "cgroup.controllers"))
	if err != nil {
		return nil, err.Error()
	}
	have := strings.Fields(string(data))
	if !contains(have, "memory") || !contains(have, "cpu") {
		return nil, fmt.Sprintf("the memory and cpu controllers are not available in %s (it has %q)", parent, have)
	}
	if err := enableControllers(parent); err != nil {
		return nil, err.Error()
	}
	if err := mkdirExist(root); err != nil {
		return nil, err.Error()
	}
	if err := enableControllers(root); err != nil {
		return nil, err.Error()
	}
	return &cgroups{root: root}, ""
}

// openCgroup opens a cgroup directory for SysProcAttr.CgroupFD.
func openCgroup(dir string) (*os.File, error) {
	return os.OpenFile(dir, os.O_RDONLY|syscall.O_DIRECTORY, 0)
}
