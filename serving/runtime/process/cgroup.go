package process

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/eddyplatform/eddy/serving/runtime"
)

// cgroups makes a cgroup v2 group per instance under root, with the instance's limits.
type cgroups struct {
	root string
}

// cpuPeriod is the cpu.max period, in microseconds.
const cpuPeriod = 100000

// memoryMax is the memory.max value of l.
func memoryMax(l limits) string {
	if l.memory <= 0 {
		return "max"
	}
	return strconv.FormatInt(l.memory, 10)
}

// cpuMax is the cpu.max value of l: the quota per period that milliCPU allows, as a
// kubelet sets cpu.cfs_quota_us (at least 1ms).
func cpuMax(l limits) string {
	if l.milliCPU <= 0 {
		return "max " + strconv.Itoa(cpuPeriod)
	}
	quota := max(l.milliCPU*cpuPeriod/1000, 1000)
	return strconv.FormatInt(quota, 10) + " " + strconv.Itoa(cpuPeriod)
}

// revDir is the cgroup of a revision.
func (c *cgroups) revDir(key runtime.RevisionKey) string {
	return filepath.Join(c.root, key.Namespace+"_"+key.Name)
}

// create makes the cgroup of an instance with limits l and returns its directory.
func (c *cgroups) create(key runtime.RevisionKey, id string, l limits) (string, error) {
	rev := c.revDir(key)
	if err := mkdirExist(rev); err != nil {
		return "", err
	}
	if err := enableControllers(rev); err != nil {
		return "", err
	}
	dir := filepath.Join(rev, id)
	if err := mkdirExist(dir); err != nil {
		return "", err
	}
	if err := writeFile(filepath.Join(dir, "memory.max"), memoryMax(l)); err != nil {
		return "", err
	}
	if l.memory > 0 { // no swapping past the limit, as a kubelet does; absent without swap accounting
		if err := writeFile(filepath.Join(dir, "memory.swap.max"), "0"); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
	}
	if err := writeFile(filepath.Join(dir, "cpu.max"), cpuMax(l)); err != nil {
		return "", err
	}
	return dir, nil
}

// remove kills whatever still runs in the cgroup dir and removes it, and its revision's
// cgroup if that is now empty.
func (c *cgroups) remove(dir string) error {
	writeFile(filepath.Join(dir, "cgroup.kill"), "1") // Linux 5.14+; the process group is killed anyway
	deadline := time.Now().Add(2 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		err := os.Remove(dir)
		if err == nil || errors.Is(err, fs.ErrNotExist) {
			break
		}
		if time.Now().After(deadline) { // processes linger: leave it
			return err
		}
		<-tick.C
	}
	os.Remove(filepath.Dir(dir)) // fails while other instances are in it
	return nil
}

// enableControllers enables the memory and cpu controllers for dir's children.
func enableControllers(dir string) error {
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.subtree_control"))
	if err == nil {
		have := strings.Fields(string(data))
		if contains(have, "memory") && contains(have, "cpu") {
			return nil
		}
	}
	return writeFile(filepath.Join(dir, "cgroup.subtree_control"), "+memory +cpu")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func mkdirExist(dir string) error {
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return nil
}

// writeFile writes a cgroup interface file.
func writeFile(p, s string) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(s)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	return nil
}

func itoa(i int) string { return strconv.Itoa(i) }
