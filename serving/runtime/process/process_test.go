package process_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/eddyplatform/eddy/serving/runtime"
	"github.com/eddyplatform/eddy/serving/runtime/process"
	"github.com/eddyplatform/eddy/serving/runtime/runtimetest"
)

// cacheDir is the build cache the tests share, so the test server is built once.
var cacheDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "eddy-process-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cacheDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// testLogger logs errors to stderr (and info with -v).
func testLogger() *slog.Logger {
	level := slog.LevelError
	if testing.Verbose() {
		level = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// testConfig is the base configuration of the tests: fast restarts and stops.
func testConfig() process.Config {
	return process.Config{
		CacheDir:        cacheDir,
		StopGracePeriod: 5 * time.Second,
		RestartBackoff:  process.Backoff{Min: 10 * time.Millisecond, Max: 200 * time.Millisecond},
		Logger:          testLogger(),
	}
}

// newRuntime makes a runtime with cfg and closes it at the end of t.
func newRuntime(t testing.TB, cfg process.Config) *process.Runtime {
	t.Helper()
	rt, err := process.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		rt.Close(ctx)
	})
	return rt
}

// serverImage is the test server as a ko:// image.
func serverImage() string { return "ko://" + runtimetest.ServerDir() }

func TestConformance(t *testing.T) {
	runtimetest.Run(t, runtimetest.Factory{
		New:         func(t *testing.T) runtime.Runtime { return newRuntime(t, testConfig()) },
		ServerImage: func(dir, importPath string) string { return "ko://" + dir },
	})
}

// waitFor waits until cond holds for the revision's instances and returns them.
func waitFor(t testing.TB, rt *process.Runtime, key runtime.RevisionKey, what string, cond func([]runtime.Instance) bool) []runtime.Instance {
	t.Helper()
	timeout := time.NewTimer(60 * time.Second)
	defer timeout.Stop()
	for {
		ch := rt.Changed()
		is := rt.Instances(key)
		if cond(is) {
			return is
		}
		select {
		case <-ch:
		case <-timeout.C:
			t.Fatalf("%s: %s not reached; instances: %+v", key, what, is)
		}
	}
}

// ready is a waitFor condition: n instances, all Ready.
func ready(n int) func([]runtime.Instance) bool {
	return func(is []runtime.Instance) bool {
		if len(is) != n {
			return false
		}
		for _, in := range is {
			if in.Phase != runtime.Ready {
				return false
			}
		}
		return true
	}
}

// failed is a waitFor condition: one instance, Failed with reason.
func failed(reason string) func([]runtime.Instance) bool {
	return func(is []runtime.Instance) bool {
		return len(is) == 1 && is[0].Phase == runtime.Failed && is[0].Reason == reason
	}
}

// eventually polls f every 5ms until it returns nil, for up to 30s.
func eventually(t testing.TB, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		<-tick.C
	}
}

var httpClient = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// get GETs path from addr and returns the body of a 200 response.
func get(addr, path string) (string, error) {
	resp, err := httpClient.Get("http://" + addr + path)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s: %s", path, resp.Status, body)
	}
	return string(body), nil
}

func mustGet(t testing.TB, addr, path string) string {
	t.Helper()
	body, err := get(addr, path)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

func getEnv(t testing.TB, addr string) map[string]string {
	t.Helper()
	var env map[string]string
	if err := json.Unmarshal([]byte(mustGet(t, addr, "/env")), &env); err != nil {
		t.Fatal(err)
	}
	return env
}

// rev is a revision of the test server.
func rev(name string, scale int, image string) runtime.Revision {
	return runtime.Revision{
		Key:           runtime.RevisionKey{Namespace: "test", Name: name},
		Service:       "svc",
		Configuration: "cfg",
		Container:     corev1.Container{Name: "user-container", Image: image},
		Scale:         scale,
	}
}

func apply(t testing.TB, rt *process.Runtime, r runtime.Revision) {
	t.Helper()
	if err := rt.Apply(context.Background(), r); err != nil {
		t.Fatalf("Apply %s: %v", r.Key, err)
	}
}

// buildCounter counts the "building image" records logged.
type buildCounter struct {
	slog.Handler
	n *atomic.Int32
}

func (h buildCounter) Enabled(context.Context, slog.Level) bool { return true }

func (h buildCounter) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "building image" {
		h.n.Add(1)
	}
	if !h.Handler.Enabled(ctx, r.Level) {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h buildCounter) WithAttrs(as []slog.Attr) slog.Handler {
	return buildCounter{h.Handler.WithAttrs(as), h.n}
}

func (h buildCounter) WithGroup(g string) slog.Handler {
	return buildCounter{h.Handler.WithGroup(g), h.n}
}

// writeModule writes files (path → content) into dir.
func writeFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		p = filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

const helloMain = `package main

import (
	"fmt"
	"net/http"
	"os"

	"example.com/hello/greet"
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, greet.Greeting) })
	http.ListenAndServe(":"+os.Getenv("PORT"), nil)
}
`

func greetGo(s string) string { return "package greet\n\nconst Greeting = \"" + s + "\"\n" }

func TestBuildCache(t *testing.T) {
	mod := t.TempDir()
	writeFiles(t, mod, map[string]string{
		"go.mod":         "module example.com/hello\n\ngo 1.26\n",
		"hello/main.go":  helloMain,
		"greet/greet.go": greetGo("v1"),
	})
	var builds atomic.Int32
	cfg := testConfig()
	cfg.Dir = mod
	cfg.CacheDir = t.TempDir()
	cfg.Logger = slog.New(buildCounter{testLogger().Handler(), &builds})
	rt := newRuntime(t, cfg)
	image := "ko://./hello"

	serve := func(name string) string {
		t.Helper()
		apply(t, rt, rev(name, 1, image))
		in := waitFor(t, rt, runtime.RevisionKey{Namespace: "test", Name: name}, "Ready", ready(1))[0]
		return mustGet(t, in.Address, "/")
	}
	entries := func() int {
		es, _ := os.ReadDir(cfg.CacheDir)
		return len(es)
	}
	if got := serve("a"); got != "v1" {
		t.Fatalf("a serves %q", got)
	}
	if builds.Load() != 1 || entries() != 1 {
		t.Fatalf("after the first Apply: %d builds, %d cache entries; want 1, 1", builds.Load(), entries())
	}
	serve("b")
	if builds.Load() != 1 {
		t.Fatalf("the second Apply of the same image built again")
	}

	// A new runtime finds the binary in the cache on disk.
	cfg2 := cfg
	rt2 := newRuntime(t, cfg2)
	apply(t, rt2, rev("c", 1, "ko://example.com/hello/hello")) // the same package by import path
	waitFor(t, rt2, runtime.RevisionKey{Namespace: "test", Name: "c"}, "Ready", ready(1))
	if builds.Load() != 1 {
		t.Fatalf("a new runtime rebuilt an unchanged image")
	}

	// A change in an imported package of the module rebuilds.
	writeFiles(t, mod, map[string]string{"greet/greet.go": greetGo("v2")})
	if got := serve("d"); got != "v2" {
		t.Fatalf("after the change, d serves %q", got)
	}
	if builds.Load() != 2 || entries() != 2 {
		t.Fatalf("after a source change: %d builds, %d cache entries; want 2, 2", builds.Load(), entries())
	}
	// The older revision keeps its binary.
	if got := mustGet(t, rt.Instances(runtime.RevisionKey{Namespace: "test", Name: "a"})[0].Address, "/"); got != "v1" {
		t.Errorf("revision a now serves %q", got)
	}

	// Concurrent Applies of a changed image build once.
	writeFiles(t, mod, map[string]string{"greet/greet.go": greetGo("v3")})
	var wg sync.WaitGroup
	for _, name := range []string{"e", "f", "g", "h"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := rt.Apply(context.Background(), rev(name, 1, image)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for _, name := range []string{"e", "f", "g", "h"} {
		in := waitFor(t, rt, runtime.RevisionKey{Namespace: "test", Name: name}, "Ready", ready(1))[0]
		if got := mustGet(t, in.Address, "/"); got != "v3" {
			t.Errorf("%s serves %q", name, got)
		}
	}
	if builds.Load() != 3 {
		t.Errorf("4 concurrent Applies of a changed image: %d builds in all, want 3", builds.Load())
	}
}

func TestImageReferences(t *testing.T) {
	serverDir := runtimetest.ServerDir()
	cfg := testConfig()
	cfg.Dir = filepath.Dir(serverDir)
	rt := newRuntime(t, cfg)
	for i, image := range []string{
		"ko://" + runtimetest.ServerImportPath, // import path in the main module
		"ko://./server",                        // relative to Dir
		"ko://../testdata/server",
		"ko://" + serverDir, // absolute
	} {
		r := rev("ref-"+strconv.Itoa(i), 1, image)
		apply(t, rt, r)
		in := waitFor(t, rt, r.Key, image+" Ready", ready(1))[0]
		mustGet(t, in.Address, "/")
	}
}

func TestUnrunnable(t *testing.T) {
	rt := newRuntime(t, testConfig())
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		c      corev1.Container
		reason string
		msg    []string
	}{
		{"registry", corev1.Container{Image: "gcr.io/knative-samples/helloworld-go"}, process.ReasonImageNotRunnable, []string{"ko://", "command"}},
		{"no-image", corev1.Container{}, process.ReasonImageNotRunnable, []string{"ko://", "command"}},
		{"missing-dir", corev1.Container{Image: "ko://./no/such/dir"}, process.ReasonImageNotRunnable, []string{"no/such/dir"}},
		{"not-main", corev1.Container{Image: "ko://github.com/eddyplatform/eddy/serving/runtime"}, process.ReasonImageNotRunnable, []string{"not a main package"}},
		{"value-from", corev1.Container{Image: serverImage(), Env: []corev1.EnvVar{{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{Key: "k"}}}}}, process.ReasonUnsupported, []string{"TOKEN", "valueFrom"}},
		{"ko-command", corev1.Container{Image: serverImage(), Command: []string{"/bin/true"}}, process.ReasonUnsupported, []string{"args"}},
		{"no-command", corev1.Container{Command: []string{"no-such-command-eddy"}}, process.ReasonCommandNotFound, []string{"no-such-command-eddy"}},
		{"grpc-probe", corev1.Container{Image: serverImage(), ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 8080}}}}, process.ReasonUnsupported, []string{"grpc"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rev(tc.name, 1, "")
			r.Container = tc.c
			err := rt.Apply(ctx, r)
			if !errors.Is(err, runtime.ErrUnrunnable) {
				t.Fatalf("Apply: %v, want ErrUnrunnable", err)
			}
			for _, m := range tc.msg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
			is := rt.Instances(r.Key)
			if !failed(tc.reason)(is) {
				t.Errorf("instances %+v, want one Failed with Reason %s", is, tc.reason)
			}
			if err := rt.Apply(ctx, r); !errors.Is(err, runtime.ErrUnrunnable) {
				t.Errorf("second Apply: %v", err)
			}
		})
	}
}

func TestBuildFailure(t *testing.T) {
	mod := t.TempDir()
	writeFiles(t, mod, map[string]string{
		"go.mod":         "module example.com/hello\n\ngo 1.26\n",
		"hello/main.go":  helloMain,
		"greet/greet.go": "package greet\n\nconst Greeting = undefinedName\n",
	})
	cfg := testConfig()
	cfg.Dir = mod
	cfg.CacheDir = t.TempDir()
	rt := newRuntime(t, cfg)
	r := rev("broken", 1, "ko://./hello")
	apply(t, rt, r) // the build runs in the background
	in := waitFor(t, rt, r.Key, "BuildFailed", failed(process.ReasonBuildFailed))[0]
	if !strings.Contains(in.Message, "undefinedName") || in.Restarts != 0 {
		t.Errorf("instance %+v: want the compiler's message and no restarts", in)
	}
	if err := rt.Apply(context.Background(), r); !errors.Is(err, runtime.ErrUnrunnable) {
		t.Errorf("Apply of an unchanged broken revision: %v, want ErrUnrunnable", err)
	}
	// Fixed sources: the next Apply builds again.
	writeFiles(t, mod, map[string]string{"greet/greet.go": greetGo("fixed")})
	apply(t, rt, r)
	in = waitFor(t, rt, r.Key, "Ready after the fix", ready(1))[0]
	if got := mustGet(t, in.Address, "/"); got != "fixed" {
		t.Errorf("serves %q", got)
	}
}

// serverBinary builds the test server into a temporary directory.
func serverBinary(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "server")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = runtimetest.ServerDir()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func TestCommandOnly(t *testing.T) {
	bin := serverBinary(t)
	rt := newRuntime(t, testConfig())
	t.Setenv("EDDY_TEST_SECRET", "do-not-inherit")
	for i, image := range []string{"", "docker.io/library/whatever:1"} {
		r := rev("cmd-"+strconv.Itoa(i), 1, image)
		r.Service = ""
		r.Container.Command = []string{bin}
		r.Container.Env = []corev1.EnvVar{
			{Name: "GREETING", Value: "hi"},
			{Name: "DERIVED", Value: "$(GREETING) on $(PORT), $$(GREETING) $(UNDEFINED)"},
			{Name: "PORT", Value: "1"}, // overridden
		}
		apply(t, rt, r)
		in := waitFor(t, rt, r.Key, "Ready", ready(1))[0]
		env := getEnv(t, in.Address)
		_, port, _ := net.SplitHostPort(in.Address)
		want := map[string]string{
			"GREETING": "hi", "PORT": port, "K_SERVICE": "", "K_REVISION": r.Key.Name, "K_CONFIGURATION": "cfg",
			"DERIVED": "hi on " + port + ", $(GREETING) $(UNDEFINED)", "PATH": os.Getenv("PATH"),
		}
		for k, v := range want {
			if got, ok := env[k]; !ok || got != v {
				t.Errorf("image %q: %s = %q (set %v), want %q", image, k, got, ok, v)
			}
		}
		if _, ok := env["EDDY_TEST_SECRET"]; ok {
			t.Errorf("the instance inherited a variable not in InheritEnv")
		}
		// The working directory is a temporary directory of the instance's own.
		if wd := env["PWD"]; wd != "" && !strings.Contains(wd, "eddy-") {
			t.Logf("PWD %q", wd)
		}
	}

	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3 for the python -m http.server case")
	}
	r := rev("python", 1, "")
	r.Container.Command = []string{python, "-m", "http.server"}
	r.Container.Args = []string{"$(PORT)", "--bind", "127.0.0.1"}
	r.Container.WorkingDir = runtimetest.ServerDir()
	apply(t, rt, r)
	in := waitFor(t, rt, r.Key, "python Ready", ready(1))[0]
	if body := mustGet(t, in.Address, "/"); !strings.Contains(body, "main.go") {
		t.Errorf("python http.server in the workingDir lists %q", body)
	}
}

func TestCrashReasonsAndBackoff(t *testing.T) {
	cfg := testConfig()
	cfg.RestartBackoff = process.Backoff{Min: 300 * time.Millisecond, Max: 5 * time.Second}
	rt := newRuntime(t, cfg)
	r := rev("crashy", 1, serverImage())
	apply(t, rt, r)
	in := waitFor(t, rt, r.Key, "Ready", ready(1))[0]

	var gaps []time.Duration
	for n, tc := range []struct{ path, reason, msg string }{
		{"/crash", process.ReasonExitCode, "exited with code 3; last log line: crashing on request"},
		{"/crash?signal=KILL", process.ReasonSignal, "killed by signal killed; last log line: crashing on request"},
	} {
		get(in.Address, tc.path)
		f := waitFor(t, rt, r.Key, tc.reason, failed(tc.reason))[0]
		failedAt := time.Now()
		if f.Message != tc.msg || f.Address != "" {
			t.Errorf("crash %d: %+v; want Message %q and no Address", n+1, f, tc.msg)
		}
		s := waitFor(t, rt, r.Key, "restarted", func(is []runtime.Instance) bool { return len(is) == 1 && is[0].Restarts == n+1 })[0]
		gaps = append(gaps, time.Since(failedAt))
		if s.Phase == runtime.Starting && s.Reason != tc.reason {
			t.Errorf("restarted but not ready: %+v; want the crash's Reason", s)
		}
		in = waitFor(t, rt, r.Key, "Ready", ready(1))[0]
		if in.Reason != "" || in.Message != "" {
			t.Errorf("Ready with Reason %q Message %q", in.Reason, in.Message)
		}
	}
	// 300ms, then 600ms (minus the time to notice the failure).
	if gaps[0] < 200*time.Millisecond || gaps[1] < 500*time.Millisecond {
		t.Errorf("restart delays %v, want about 300ms then 600ms", gaps)
	}
}

func TestScaleDownDrains(t *testing.T) {
	type call struct {
		key runtime.RevisionKey
		id  string
	}
	calls := make(chan call, 10)
	release := make(chan struct{})
	cfg := testConfig()
	cfg.Drain = func(ctx context.Context, key runtime.RevisionKey, id string) {
		calls <- call{key, id}
		select {
		case <-release:
		case <-ctx.Done():
		}
	}
	rt := newRuntime(t, cfg)
	r := rev("drain", 2, serverImage())
	apply(t, rt, r)
	is := waitFor(t, rt, r.Key, "Ready", ready(2))
	r.Scale = 1
	apply(t, rt, r)
	c := <-calls
	newest := is[1]
	if c.key != r.Key || c.id != newest.ID {
		t.Fatalf("Drain(%v, %s), want the newest instance %s", c.key, c.id, newest.ID)
	}
	now := rt.Instances(r.Key)
	if len(now) != 2 || now[1].Phase != runtime.Terminating || now[0].Phase != runtime.Ready {
		t.Fatalf("while draining: %+v", now)
	}
	mustGet(t, newest.Address, "/") // still running while it drains
	close(release)
	waitFor(t, rt, r.Key, "one left", ready(1))
}

func TestStopGracePeriod(t *testing.T) {
	cfg := testConfig()
	cfg.StopGracePeriod = 300 * time.Millisecond
	rt := newRuntime(t, cfg)
	r := rev("stubborn", 1, serverImage())
	r.Container.Env = []corev1.EnvVar{{Name: "IGNORE_SIGTERM", Value: "1"}}
	apply(t, rt, r)
	in := waitFor(t, rt, r.Key, "Ready", ready(1))[0]
	start := time.Now()
	if err := rt.Remove(context.Background(), r.Key); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 300*time.Millisecond || d > 5*time.Second {
		t.Errorf("Remove of an instance ignoring SIGTERM took %v, want the 300ms grace period", d)
	}
	if _, err := get(in.Address, "/"); err == nil {
		t.Error("still answering after Remove")
	}
	lines, _ := rt.Logs(r.Key, in.ID, 0)
	if slices.Contains(lines, "server shutting down") {
		t.Error("it shut down gracefully though it ignores SIGTERM")
	}

	// Remove's context ending kills at once.
	cfg.StopGracePeriod = time.Minute
	rt2 := newRuntime(t, cfg)
	apply(t, rt2, r)
	waitFor(t, rt2, r.Key, "Ready", ready(1))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start = time.Now()
	if err := rt2.Remove(ctx, r.Key); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Remove: %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Remove with an ending context took %v", d)
	}
}

// alive reports whether pid runs (and is not a zombie).
func alive(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	if i := strings.LastIndexByte(string(data), ')'); i > 0 && i+2 < len(data) {
		return data[i+2] != 'Z'
	}
	return true
}

func TestNoOrphans(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	rt, err := process.New(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	r := rev("parent", 1, serverImage())
	apply(t, rt, r)
	in := waitFor(t, rt, r.Key, "Ready", ready(1))[0]
	child, _ := strconv.Atoi(mustGet(t, in.Address, "/spawn"))
	server, _ := strconv.Atoi(mustGet(t, in.Address, "/pid"))
	if !alive(child) || !alive(server) {
		t.Fatalf("child %d or server %d not running", child, server)
	}
	if err := rt.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the instance's child to be gone", func() error {
		if alive(child) || alive(server) {
			return fmt.Errorf("child %d alive %v, server %d alive %v", child, alive(child), server, alive(server))
		}
		return nil
	})
}

func TestReadinessProbe(t *testing.T) {
	rt := newRuntime(t, testConfig())
	r := rev("probed", 1, serverImage())
	r.Container.ReadinessProbe = &corev1.Probe{
		ProbeHandler:     corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready"}},
		PeriodSeconds:    1,
		FailureThreshold: 1,
	}
	apply(t, rt, r)
	in := waitFor(t, rt, r.Key, "Ready", ready(1))[0]
	mustGet(t, in.Address, "/ready/fail")
	nr := waitFor(t, rt, r.Key, "not ready", func(is []runtime.Instance) bool {
		return len(is) == 1 && is[0].Phase == runtime.Starting
	})[0]
	if nr.Reason != process.ReasonProbeFailed || !strings.Contains(nr.Message, "503") || nr.Address != in.Address || nr.Restarts != 0 {
		t.Errorf("after failing its probe: %+v", nr)
	}
	mustGet(t, in.Address, "/ready/ok")
	waitFor(t, rt, r.Key, "Ready again", ready(1))

	// exec and tcpSocket probes.
	for name, h := range map[string]corev1.ProbeHandler{
		"exec": {Exec: &corev1.ExecAction{Command: []string{"sh", "-c", "test -n \"$PORT\""}}},
		"tcp":  {TCPSocket: &corev1.TCPSocketAction{}},
	} {
		r := rev("probe-"+name, 1, serverImage())
		r.Container.ReadinessProbe = &corev1.Probe{ProbeHandler: h}
		apply(t, rt, r)
		waitFor(t, rt, r.Key, name+" probe Ready", ready(1))
	}
}

func TestLogsBounded(t *testing.T) {
	cfg := testConfig()
	cfg.LogLines = 50
	rt := newRuntime(t, cfg)
	r := rev("chatty", 1, serverImage())
	apply(t, rt, r)
	in := waitFor(t, rt, r.Key, "Ready", ready(1))[0]
	mustGet(t, in.Address, "/log?msg=line&n=200")
	eventually(t, "the last 50 lines", func() error {
		lines, err := rt.Logs(r.Key, in.ID, 0)
		if err != nil {
			return err
		}
		if len(lines) != 50 || lines[0] != "line 151" || lines[49] != "line 200" {
			return fmt.Errorf("%d lines: %q … %q", len(lines), lines[0], lines[len(lines)-1])
		}
		return nil
	})
	if lines, _ := rt.Logs(r.Key, in.ID, 3); !slices.Equal(lines, []string{"line 198", "line 199", "line 200"}) {
		t.Errorf("Logs(3) = %q", lines)
	}
}

func TestSpecImmutable(t *testing.T) {
	rt := newRuntime(t, testConfig())
	r := rev("fixed", 0, serverImage())
	apply(t, rt, r)
	r.Container.Image = "ko://./other"
	if err := rt.Apply(context.Background(), r); err == nil || errors.Is(err, runtime.ErrUnrunnable) {
		t.Errorf("Apply with another image: %v, want an error about the spec", err)
	}
	r = rev("fixed", 0, serverImage())
	r.Labels = map[string]string{"a": "b"}
	apply(t, rt, r) // labels and scale may change
	if is := rt.Instances(r.Key); is == nil || len(is) != 0 {
		t.Errorf("scale 0: %+v", is)
	}
}

func TestLimits(t *testing.T) {
	rt := newRuntime(t, testConfig())
	if !rt.LimitsEnforced() {
		t.Skipf("resource limits cannot be enforced on this machine: %s", process.LimitsReason(rt))
	}
	r := rev("limited", 1, serverImage())
	r.Container.Resources.Limits = corev1.ResourceList{
		corev1.ResourceMemory: resource.MustParse("64Mi"),
		corev1.ResourceCPU:    resource.MustParse("250m"),
	}
	apply(t, rt, r)
	in := waitFor(t, rt, r.Key, "Ready", ready(1))[0]
	dir := filepath.Join(process.CgroupRoot(rt), "test_limited", in.ID)
	for f, want := range map[string]string{"memory.max": "67108864", "cpu.max": "25000 100000"} {
		got, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil || strings.TrimSpace(string(got)) != want {
			t.Errorf("%s = %q (%v), want %q", f, got, err, want)
		}
	}
	pid := mustGet(t, in.Address, "/pid")
	procs, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if !slices.Contains(strings.Fields(string(procs)), pid) {
		t.Errorf("the server (pid %s) is not in its cgroup (procs %q)", pid, procs)
	}
	// Going over the memory limit gets the process killed, and restarted.
	get(in.Address, "/alloc?mb=128")
	waitFor(t, rt, r.Key, "restarted after the OOM kill", func(is []runtime.Instance) bool {
		return len(is) == 1 && is[0].Restarts == 1
	})
	if err := rt.Remove(context.Background(), r.Key); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the cgroup %s outlived its instance: %v", dir, err)
	}
}
