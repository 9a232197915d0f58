package process

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/eddyplatform/eddy/serving/runtime"
)

func TestBackoffDelay(t *testing.T) {
	b := Backoff{Min: 10 * time.Millisecond, Max: 100 * time.Millisecond}
	var got []time.Duration
	for n := 1; n <= 6; n++ {
		got = append(got, b.delay(n))
	}
	want := []time.Duration{10, 20, 40, 80, 100, 100}
	for i := range want {
		want[i] *= time.Millisecond
	}
	if !slices.Equal(got, want) {
		t.Errorf("delays %v, want %v", got, want)
	}
}

func TestExpand(t *testing.T) {
	vars := map[string]string{"PORT": "8080", "NAME": "eddy"}
	lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	for in, want := range map[string]string{
		"plain":               "plain",
		"$(PORT)":             "8080",
		"--port=$(PORT)":      "--port=8080",
		"$(NAME)-$(PORT)":     "eddy-8080",
		"$$(PORT)":            "$(PORT)",
		"$(UNSET)":            "$(UNSET)",
		"$(PORT":              "$(PORT",
		"cost $5":             "cost $5",
		"$":                   "$",
		"$$":                  "$",
		"a$(NAME)b$$c$(NAME)": "aeddyb$ceddy",
	} {
		if got := expand(in, lookup); got != want {
			t.Errorf("expand(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRing(t *testing.T) {
	r := newRing(3)
	if got := r.last(0); len(got) != 0 {
		t.Errorf("empty ring: %q", got)
	}
	for _, l := range []string{"a", "b", "c", "d", "e"} {
		r.add(l)
	}
	if got := r.last(0); !slices.Equal(got, []string{"c", "d", "e"}) {
		t.Errorf("last(0) = %q", got)
	}
	if got := r.last(2); !slices.Equal(got, []string{"d", "e"}) {
		t.Errorf("last(2) = %q", got)
	}
	if got := r.last(10); len(got) != 3 {
		t.Errorf("last(10) = %q", got)
	}
}

func TestCgroupValues(t *testing.T) {
	q := func(s string) resource.Quantity { return resource.MustParse(s) }
	for _, tc := range []struct {
		mem, cpu         string
		wantMem, wantCPU string
	}{
		{"64Mi", "500m", "67108864", "50000 100000"},
		{"1G", "2", "1000000000", "200000 100000"},
		{"", "1m", "max", "1000 100000"},
		{"", "", "max", "max 100000"},
	} {
		var l limits
		if tc.mem != "" {
			m := q(tc.mem)
			l.memory = m.Value()
		}
		if tc.cpu != "" {
			c := q(tc.cpu)
			l.milliCPU = c.MilliValue()
		}
		if got := memoryMax(l); got != tc.wantMem {
			t.Errorf("memoryMax(%s) = %q, want %q", tc.mem, got, tc.wantMem)
		}
		if got := cpuMax(l); got != tc.wantCPU {
			t.Errorf("cpuMax(%s) = %q, want %q", tc.cpu, got, tc.wantCPU)
		}
	}
}

// TestCgroupFiles checks the files an instance's cgroup gets, in a plain directory standing
// in for the cgroup file system.
func TestCgroupFiles(t *testing.T) {
	c := &cgroups{root: t.TempDir()}
	dir, err := c.create(runtime.RevisionKey{Namespace: "ns", Name: "rev-1"}, "rev-1-abcde", limits{memory: 64 << 20, milliCPU: 250})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(c.root, "ns_rev-1", "rev-1-abcde"); dir != want {
		t.Errorf("dir %s, want %s", dir, want)
	}
	for f, want := range map[string]string{
		"ns_rev-1/cgroup.subtree_control":      "+memory +cpu",
		"ns_rev-1/rev-1-abcde/memory.max":      "67108864",
		"ns_rev-1/rev-1-abcde/memory.swap.max": "0",
		"ns_rev-1/rev-1-abcde/cpu.max":         "25000 100000",
	} {
		got, err := os.ReadFile(filepath.Join(c.root, f))
		if err != nil || string(got) != want {
			t.Errorf("%s = %q (%v), want %q", f, got, err, want)
		}
	}
}
