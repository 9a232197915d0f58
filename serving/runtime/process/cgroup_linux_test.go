package process

import (
	"bufio"
	"crypto/rand"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// cgroup2Mount returns a cgroup2 mount point of this machine, or "".
func cgroup2Mount() string {
	f, err := os.Open("/proc/self/mounts")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fs := strings.Fields(sc.Text()); len(fs) >= 3 && fs[2] == "cgroup2" {
			return fs[1]
		}
	}
	return ""
}

// TestStartInCgroup starts a process directly in a cgroup (SysProcAttr.UseCgroupFD) and
// removes the cgroup, killing what runs in it: the mechanics of limits, on any writable
// cgroup2 mount, whatever its controllers.
func TestStartInCgroup(t *testing.T) {
	mount := cgroup2Mount()
	if mount == "" {
		t.Skip("no cgroup2 mount")
	}
	dir := filepath.Join(mount, "eddy-test-"+strings.ToLower(rand.Text()[:6]))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Skipf("cannot make a cgroup in %s: %v", mount, err)
	}
	t.Cleanup(func() { os.Remove(dir) })
	f, err := openCgroup(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := newSpawner()
	defer s.close()
	cmd := exec.Command("sleep", "60")
	if err := s.start(cmd, int(f.Fd())); err != nil {
		t.Fatalf("start in cgroup: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	data, err := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	want := "0::/" + filepath.Base(dir)
	if !strings.Contains(string(data), want+"\n") {
		t.Errorf("/proc/<pid>/cgroup = %q, want a line %q", data, want)
	}
	c := &cgroups{root: mount}
	if err := c.remove(dir); err != nil {
		t.Errorf("remove: %v", err)
	}
	if err := <-exited; err == nil {
		t.Error("the process in the removed cgroup exited normally, want killed")
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cgroup %s still exists: %v", dir, err)
	}
}
