package kubetest

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"
)

var configMaps = corev1.SchemeGroupVersion.WithResource("configmaps")

func TestEnvConfigMaps(t *testing.T) {
	env := Start(t)
	ctx := t.Context()
	cms := env.Dynamic(t).Resource(configMaps).Namespace("default")

	cm := &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: "hello", Labels: map[string]string{"app": "kubetest"}},
		Data:       map[string]string{"greeting": "hi"},
	}
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(cm)
	if err != nil {
		t.Fatal(err)
	}
	created, err := cms.Create(ctx, &unstructured.Unstructured{Object: obj}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if created.GetUID() == "" || created.GetResourceVersion() == "" {
		t.Errorf("created ConfigMap lacks uid or resourceVersion: %v", created.Object["metadata"])
	}
	list, err := cms.List(ctx, metav1.ListOptions{LabelSelector: "app=kubetest"})
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	if len(list.Items) != 1 {
		t.Fatalf("listed %d ConfigMaps, want 1", len(list.Items))
	}
	var got corev1.ConfigMap
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(list.Items[0].Object, &got); err != nil {
		t.Fatal(err)
	}
	if got.Name != "hello" || got.Namespace != "default" || got.Data["greeting"] != "hi" || got.UID != created.GetUID() {
		t.Errorf("listed %s/%s %v uid %s; want default/hello greeting=hi uid %s", got.Namespace, got.Name, got.Data, got.UID, created.GetUID())
	}

	// The kubeconfig file reaches the same server as the same user.
	cfg, err := clientcmd.BuildConfigFromFlags("", env.Kubeconfig)
	if err != nil {
		t.Fatalf("kubeconfig: %v", err)
	}
	if cfg.Host != env.URL {
		t.Errorf("kubeconfig host = %q, want %q", cfg.Host, env.URL)
	}
	dc, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	again, err := dc.Resource(configMaps).Namespace("default").Get(ctx, "hello", metav1.GetOptions{})
	if err != nil || again.GetUID() != created.GetUID() {
		t.Fatalf("get through kubeconfig: %v; want uid %s", err, created.GetUID())
	}

	// RBAC is on: a user outside system:masters, impersonated by the admin, is refused.
	imp := *env.Config
	imp.Impersonate.UserName = "nobody"
	dc, err = dynamic.NewForConfig(&imp)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dc.Resource(configMaps).Namespace("default").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("list as nobody: err = %v, want Forbidden", err)
	}
}

func TestEnvStopsProcesses(t *testing.T) {
	var dir string
	var pids []int
	t.Run("env", func(t *testing.T) {
		env := Start(t)
		dir = env.Dir
		for _, name := range []string{"etcd", "kube-apiserver"} {
			pids = append(pids, pidOf(t, name, env.Dir))
		}
	})
	for _, pid := range pids {
		if st, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat")); err == nil {
			// cleanup waited for (reaped) both, so anything there now is a leftover.
			t.Errorf("process %d still exists after cleanup: %s", pid, st)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("temp dir %s left behind: %v", dir, err)
	}
}

// pidOf finds the process running binary name whose command line mentions dir.
func pidOf(t *testing.T, name, dir string) int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		cl, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(cl), "\x00")
		if filepath.Base(args[0]) == name && strings.Contains(string(cl), dir) {
			return pid
		}
	}
	t.Fatalf("no %s process for %s", name, dir)
	return 0
}

func TestModVersions(t *testing.T) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(root, "hack", "kube", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	k, e, err := modVersions(f)
	if err != nil {
		t.Fatal(err)
	}
	if k != "v1.37.2" || e != "v3.7.3" {
		t.Errorf("versions = %s, %s; want v1.37.2, v3.7.3", k, e)
	}

	for _, tc := range []struct{ in, k, e, err string }{
		{in: "require k8s.io/kubernetes v1.2.3\nrequire go.etcd.io/etcd/server/v3 v3.4.5\n", k: "v1.2.3", e: "v3.4.5"},
		{in: "require (\n\tk8s.io/kubernetes v1.2.3 // indirect\n)\nreplace k8s.io/api => k8s.io/api v0.2.3\nrequire go.etcd.io/etcd/server/v3 v3.4.5", k: "v1.2.3", e: "v3.4.5"},
		{in: "require k8s.io/kubernetes v1.2.3\n", err: "no requirement"},
		{in: "require k8s.io/kubernetes v1/../../x\nrequire go.etcd.io/etcd/server/v3 v3.4.5\n", err: "unexpected versions"},
	} {
		k, e, err := modVersions(strings.NewReader(tc.in))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("modVersions(%q) err = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || k != tc.k || e != tc.e {
			t.Errorf("modVersions(%q) = %q, %q, %v; want %q, %q", tc.in, k, e, err, tc.k, tc.e)
		}
	}
}

func FuzzModVersions(f *testing.F) {
	f.Add("require (\n\tk8s.io/kubernetes v1.37.2 // indirect\n\tgo.etcd.io/etcd/server/v3 v3.7.3\n)\n")
	f.Add("require k8s.io/kubernetes v1.2.3\nrequire go.etcd.io/etcd/server/v3 v3.4.5\n")
	f.Add("k8s.io/kubernetes v/..\ngo.etcd.io/etcd/server/v3 v1")
	f.Fuzz(func(t *testing.T, s string) {
		k, e, err := modVersions(strings.NewReader(s))
		if err != nil {
			return
		}
		for _, v := range []string{k, e} {
			if !validVersion(v) || strings.ContainsAny(v, "/\\\x00") || filepath.Base(v) != v || v == "." || v == ".." {
				t.Fatalf("modVersions(%q) gave unsafe version %q", s, v)
			}
		}
	})
}

func TestCacheDir(t *testing.T) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("EDDY_KUBE_CACHE", "/somewhere")
	got, err := cacheDir(root)
	if err != nil {
		t.Fatal(err)
	}
	if want := "/somewhere/v1.37.2-v3.7.3"; got != want {
		t.Errorf("cacheDir = %q, want %q", got, want)
	}
}

// hack/kube.sh and cacheDir agree on the directory, and the script builds nothing when the
// binaries are there (here: links to the real ones, in a cache of the test's own).
func TestKubeScriptAgrees(t *testing.T) {
	if _, err := exec.LookPath("flock"); err != nil {
		t.Skip("no flock")
	}
	bins, err := binaries(t)
	if err != nil {
		t.Fatal(err)
	}
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("EDDY_KUBE_CACHE", t.TempDir())
	dir, err := cacheDir(root)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"kube-apiserver", "etcd"} {
		if err := os.Symlink(filepath.Join(bins, name), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(filepath.Join(root, "hack", "kube.sh"))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("hack/kube.sh: %v\n%s", err, stderr.String())
	}
	if got := strings.TrimSpace(string(out)); got != dir {
		t.Errorf("hack/kube.sh printed %q, want %q", got, dir)
	}
	if strings.Contains(stderr.String(), "building") {
		t.Errorf("hack/kube.sh built although the binaries were there:\n%s", stderr.String())
	}
}

// hack/kube.sh fails, saying why, when hack/kube/go.mod lacks a version or a build fails.
func TestKubeScriptFails(t *testing.T) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile(filepath.Join(root, "hack", "kube.sh"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ gomod, want string }{
		{"module x\n\nrequire k8s.io/kubernetes v1.2.3\n", "no go.etcd.io/etcd/server/v3 requirement"},
		{"module x\n\nrequire (\n\tk8s.io/kubernetes v1.2.3\n\tgo.etcd.io/etcd/server/v3 v3.4.5\n)\n", "building kube-apiserver failed"},
	} {
		fake := t.TempDir()
		if err := os.MkdirAll(filepath.Join(fake, "hack", "kube"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(fake, "hack", "kube.sh"), script, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(fake, "hack", "kube", "go.mod"), []byte(tc.gomod), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(filepath.Join(fake, "hack", "kube.sh"))
		// No network, no module cache writes: go build fails at once.
		cmd.Env = append(os.Environ(), "EDDY_KUBE_CACHE="+t.TempDir(), "GOPROXY=off", "GOFLAGS=-mod=mod")
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 {
			t.Errorf("go.mod %q: err = %v, want exit status 1; output:\n%s", tc.gomod, err, out)
		}
		if !strings.Contains(string(out), "kube.sh: "+tc.want) {
			t.Errorf("go.mod %q: output lacks %q:\n%s", tc.gomod, tc.want, out)
		}
	}
}
