package local_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/eddyplatform/eddy/build/executor"
	"github.com/eddyplatform/eddy/build/executor/executortest"
	"github.com/eddyplatform/eddy/build/executor/local"
)

func newExecutor(t *testing.T, cfg local.Config) *local.Executor {
	t.Helper()
	if cfg.WorkDir == "" {
		cfg.WorkDir = t.TempDir()
	}
	if cfg.ArtifactDir == "" {
		cfg.ArtifactDir = t.TempDir()
	}
	if cfg.KillGrace == 0 {
		cfg.KillGrace = 2 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	e, err := local.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func TestConformance(t *testing.T) {
	executortest.Run(t, func(t *testing.T, logger *slog.Logger) executor.Executor {
		return newExecutor(t, local.Config{Logger: logger})
	})
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func slogTo(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func start(t *testing.T, e executor.Executor, req executor.Request) executor.Run {
	t.Helper()
	if req.ID.Name == "" {
		req.ID = executor.ID{Namespace: "ns", Name: "b", UID: "0123456789"}
	}
	run, err := e.Start(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { run.Close() })
	return run
}

func wait(t *testing.T, run executor.Run) executor.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	res, err := run.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func sh(name, script string) corev1.Container {
	return corev1.Container{Name: name, Command: []string{"/bin/sh", "-c", script}}
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

func TestWorkspaceLifecycle(t *testing.T) {
	for _, keep := range []bool{false, true} {
		t.Run("keep="+strconv.FormatBool(keep), func(t *testing.T) {
			t.Parallel()
			work := t.TempDir()
			e := newExecutor(t, local.Config{WorkDir: work, KeepWorkspaces: keep})
			run := start(t, e, executor.Request{
				ID:    executor.ID{Namespace: "default", Name: "my/build", UID: "abcdef0123456789"},
				Steps: []corev1.Container{sh("touch", "echo hi; touch made")},
			})
			res := wait(t, run)
			if !res.Succeeded || !strings.HasPrefix(res.Workspace, work+string(filepath.Separator)+"default_my_build_abcdef01-") {
				t.Fatalf("result %+v", res)
			}
			if got := exists(filepath.Join(res.Workspace, "made")); got != keep {
				t.Errorf("workspace kept: %v, want %v", got, keep)
			}
			if lines, err := run.Logs("touch", 0); err != nil || len(lines) != 1 {
				t.Errorf("logs after the run: %q, %v", lines, err)
			}
			if err := run.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := run.Logs("touch", 0); err == nil {
				t.Error("logs after Close")
			}
			entries, _ := os.ReadDir(work)
			if keep != (len(entries) == 1) {
				t.Errorf("work dir after Close: %v", entries)
			}
			if keep && (!exists(filepath.Join(res.Workspace, "made")) || exists(filepath.Join(filepath.Dir(res.Workspace), "logs"))) {
				t.Error("Close removed the kept workspace or kept the logs")
			}
		})
	}
}

// TestShallowFetch checks that a branch, and a commit on a server that serves single
// commits, are fetched with depth 1.
func TestShallowFetch(t *testing.T) {
	repo := executortest.NewRepo(t)
	c1 := repo.Commit(map[string]string{"a.txt": "one\n"}, "one")
	c2 := repo.Commit(map[string]string{"a.txt": "two\n"}, "two")
	c3 := repo.Commit(map[string]string{"a.txt": "three\n"}, "three")
	repo.SetConfig("uploadpack", "allowReachableSHA1InWant", "true")
	e := newExecutor(t, local.Config{KeepWorkspaces: true})
	for _, tc := range []struct{ rev, want string }{{"main", c3}, {c2, c2}} {
		res := wait(t, start(t, e, executor.Request{
			Source: executor.Source{Git: &executor.GitSource{URL: repo.Dir, Revision: tc.rev}},
			Steps:  []corev1.Container{sh("s", "true")},
		}))
		if !res.Succeeded || res.Commit != tc.want {
			t.Fatalf("%s: %+v", tc.rev, res)
		}
		shallow, err := os.ReadFile(filepath.Join(res.Workspace, ".git", "shallow"))
		if err != nil || strings.TrimSpace(string(shallow)) != tc.want {
			t.Errorf("%s: .git/shallow = %q, %v; want %s", tc.rev, shallow, err, tc.want)
		}
		if exists(filepath.Join(res.Workspace, ".git", "objects", c1[:2], c1[2:])) {
			t.Errorf("%s: the first commit was fetched", tc.rev)
		}
	}
}

func TestKillGraceEscalates(t *testing.T) {
	e := newExecutor(t, local.Config{KillGrace: 300 * time.Millisecond})
	pids := t.TempDir()
	step := sh("stubborn", `trap '' TERM; sleep 1000 & echo $! > "$PIDS/child"; echo $$$$ > "$PIDS/parent.tmp"; mv "$PIDS/parent.tmp" "$PIDS/parent"; wait; wait`)
	step.Env = []corev1.EnvVar{{Name: "PIDS", Value: pids}}
	res := wait(t, start(t, e, executor.Request{Timeout: time.Second, Steps: []corev1.Container{step}}))
	if res.Reason != executor.ReasonTimeout || res.ExitCode != 128+int(syscall.SIGKILL) {
		t.Fatalf("result %+v, want a timeout killed by SIGKILL", res)
	}
	for _, name := range []string{"parent", "child"} {
		b, err := os.ReadFile(filepath.Join(pids, name))
		if err != nil {
			t.Fatal(err)
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		deadline := time.Now().Add(10 * time.Second)
		for syscall.Kill(pid, 0) == nil && !zombie(pid) {
			if time.Now().After(deadline) {
				t.Fatalf("%s %d survived", name, pid)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func zombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	i := strings.LastIndexByte(string(b), ')')
	return i >= 0 && i+2 < len(b) && b[i+2] == 'Z'
}

// TestLeftoversKilled checks that what a step leaves running is killed when it exits.
func TestLeftoversKilled(t *testing.T) {
	e := newExecutor(t, local.Config{})
	pidFile := filepath.Join(t.TempDir(), "pid")
	step := sh("leave", `sleep 1000 > /dev/null 2>&1 & echo $! > "$PIDFILE"`)
	step.Env = []corev1.EnvVar{{Name: "PIDFILE", Value: pidFile}}
	res := wait(t, start(t, e, executor.Request{Steps: []corev1.Container{step}}))
	if !res.Succeeded {
		t.Fatalf("%+v", res)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(pid, 0) == nil && !zombie(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("background process %d survived its step", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestLogsBounded(t *testing.T) {
	e := newExecutor(t, local.Config{MaxLogBytes: 4096})
	run := start(t, e, executor.Request{Steps: []corev1.Container{
		sh("chatty", `i=0; while [ $i -lt 5000 ]; do echo "line $i"; i=$((i+1)); done`),
	}})
	var followed strings.Builder
	if err := run.LogsFollow(context.Background(), "chatty", 0, &followed); err != nil {
		t.Fatal(err)
	}
	if !wait(t, run).Succeeded {
		t.Fatal(run.Result())
	}
	lines, err := run.Logs("chatty", 0)
	if err != nil {
		t.Fatal(err)
	}
	size := 0
	for _, l := range lines {
		size += len(l) + 1
	}
	if size > 4096 || size < 2048-16 || lines[len(lines)-1] != "line 4999" {
		t.Fatalf("%d bytes kept, last %q", size, lines[len(lines)-1])
	}
	for i, l := range lines {
		if want := fmt.Sprintf("line %d", 5000-len(lines)+i); l != want {
			t.Fatalf("line %d = %q, want %q", i, l, want)
		}
	}
	// Every followed line is whole, in order, ending with the last.
	fl := strings.Split(strings.TrimSuffix(followed.String(), "\n"), "\n")
	if fl[len(fl)-1] != "line 4999" {
		t.Errorf("followed up to %q", fl[len(fl)-1])
	}
	prev := -1
	for _, l := range fl {
		n, err := strconv.Atoi(strings.TrimPrefix(l, "line "))
		if err != nil || n <= prev {
			t.Fatalf("followed line %q after %d", l, prev)
		}
		prev = n
	}
	files, _ := filepath.Glob(filepath.Join(filepath.Dir(run.Result().Workspace), "logs", "*"))
	var total int64
	for _, f := range files {
		fi, _ := os.Stat(f)
		total += fi.Size()
	}
	if total > 4096 {
		t.Errorf("log files hold %d bytes", total)
	}
}

func TestNotRunnableSteps(t *testing.T) {
	e := newExecutor(t, local.Config{})
	marker := filepath.Join(t.TempDir(), "ran")
	for _, tc := range []struct {
		step corev1.Container
		want string
	}{
		{corev1.Container{Name: "kaniko", Image: executortest.KanikoImage}, "eddy.dev/builder/go"},
		{corev1.Container{Name: "empty"}, "neither a command nor an image"},
		{corev1.Container{Name: "secret", Command: []string{"true"}, Env: []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{}}}}, "valueFrom"},
		{corev1.Container{Name: "envfrom", Command: []string{"true"}, EnvFrom: []corev1.EnvFromSource{{}}}, "envFrom"},
	} {
		run := start(t, e, executor.Request{Steps: []corev1.Container{sh("first", "touch "+marker), tc.step}})
		res := wait(t, run)
		if res.Reason != executor.ReasonNotRunnable || res.FailedStep != tc.step.Name || !strings.Contains(res.Message, tc.want) {
			t.Errorf("%s: %+v", tc.step.Name, res)
		}
		st := run.Steps()
		if st[0].Phase != executor.StepWaiting || st[1].Phase != executor.StepWaiting || st[1].Reason != executor.StepReasonNotRunnable {
			t.Errorf("%s: steps %+v", tc.step.Name, st)
		}
	}
	if exists(marker) {
		t.Error("a step ran in a build that cannot run")
	}
}

func TestBuilderImages(t *testing.T) {
	dir := t.TempDir()
	fakeGo := filepath.Join(dir, "fake-go")
	if err := os.WriteFile(fakeGo, []byte("#!/bin/sh\necho \"go $*\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	e := newExecutor(t, local.Config{GoCommand: fakeGo})
	run := start(t, e, executor.Request{Steps: []corev1.Container{
		{Name: "shell", Image: "eddy.dev/builder/shell:latest", Args: []string{`echo "shell $0 $1"`, "a", "b"}},
		{Name: "go", Image: "eddy.dev/builder/go", Args: []string{"version", "$(WORKSPACE)"}},
	}})
	res := wait(t, run)
	if !res.Succeeded {
		t.Fatalf("%+v", res)
	}
	if l, _ := run.Logs("shell", 0); !slices.Equal(l, []string{"shell a b"}) {
		t.Errorf("shell builder: %q", l)
	}
	if l, _ := run.Logs("go", 0); len(l) != 1 || l[0] != "go version "+res.Workspace {
		t.Errorf("go builder: %q", l)
	}
}

func TestInheritEnv(t *testing.T) {
	t.Setenv("EDDY_TEST_SECRET", "s3cret")
	t.Setenv("EDDY_TEST_SHARED", "shared")
	e := newExecutor(t, local.Config{InheritEnv: []string{"PATH", "EDDY_TEST_SHARED"}})
	run := start(t, e, executor.Request{Steps: []corev1.Container{sh("env", "env | sort")}})
	if !wait(t, run).Succeeded {
		t.Fatal(run.Result())
	}
	lines, _ := run.Logs("env", 0)
	var names []string
	for _, l := range lines {
		name, _, _ := strings.Cut(l, "=")
		names = append(names, name)
	}
	// The shell adds PWD (and maybe SHLVL, _); nothing else of the executor's env shows.
	names = slices.DeleteFunc(names, func(n string) bool { return n == "PWD" || n == "SHLVL" || n == "_" || n == "OLDPWD" })
	if want := []string{"ARTIFACT", "EDDY_TEST_SHARED", "PATH", "WORKSPACE"}; !slices.Equal(names, want) {
		t.Errorf("step env names %q, want %q", names, want)
	}
}

func TestArtifactStore(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	store := t.TempDir()
	e := newExecutor(t, local.Config{ArtifactDir: store, Now: clock})
	src := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(src, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	a1, err := e.StoreArtifact(write("a", "alpha"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("alpha"))
	if a1.Digest != "sha256:"+hex.EncodeToString(sum[:]) || a1.Path != filepath.Join(store, "sha256", hex.EncodeToString(sum[:])) || a1.Size != 5 {
		t.Fatalf("artifact %+v", a1)
	}
	fi, err := os.Stat(a1.Path)
	if err != nil || fi.Mode().Perm() != 0o555 {
		t.Fatalf("stored file: %v, %v", fi, err)
	}
	advance(time.Hour)
	again, err := e.StoreArtifact(write("a2", "alpha"))
	if err != nil || again != a1 {
		t.Fatalf("storing the same content again: %+v, %v", again, err)
	}
	if fi2, _ := os.Stat(a1.Path); !os.SameFile(fi, fi2) {
		t.Error("storing the same content again replaced the file")
	}
	if entries, _ := os.ReadDir(filepath.Join(store, "sha256")); len(entries) != 1 {
		t.Errorf("%d stored files", len(entries))
	}
	if entries, _ := os.ReadDir(filepath.Join(store, "tmp")); len(entries) != 0 {
		t.Errorf("temporary files left: %v", entries)
	}
	b, err := e.StoreArtifact(write("b", "beta"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := e.LookupArtifact(b.Digest); err != nil || got != b {
		t.Errorf("LookupArtifact = %+v, %v", got, err)
	}

	// Both are too young to collect.
	removed, err := e.CollectArtifacts(func(string) bool { return false })
	if err != nil || len(removed) != 0 {
		t.Fatalf("collected young artifacts: %v, %v", removed, err)
	}
	advance(11 * time.Minute)
	var asked []string
	removed, err = e.CollectArtifacts(func(d string) bool { asked = append(asked, d); return d == b.Digest })
	if err != nil || !slices.Equal(removed, []string{a1.Digest}) {
		t.Fatalf("removed %v, %v; want %s", removed, err, a1.Digest)
	}
	slices.Sort(asked)
	if want := []string{a1.Digest, b.Digest}; !slices.Equal(asked, slices.Sorted(slices.Values(want))) {
		t.Errorf("keep asked about %v", asked)
	}
	if exists(a1.Path) || !exists(b.Path) {
		t.Error("wrong files removed")
	}
	if _, err := e.LookupArtifact(a1.Digest); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LookupArtifact of a removed artifact: %v", err)
	}
	// Storing it again brings it back.
	if a, err := e.StoreArtifact(write("a3", "alpha")); err != nil || a != a1 || !exists(a1.Path) {
		t.Errorf("restored %+v, %v", a, err)
	}
	// Files that are not artifacts are left alone.
	stray := filepath.Join(store, "sha256", "README")
	if err := os.WriteFile(stray, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	advance(time.Hour)
	if _, err := e.CollectArtifacts(func(string) bool { return false }); err != nil || !exists(stray) {
		t.Errorf("collect: %v; stray file kept: %v", err, exists(stray))
	}
	if _, err := e.LookupArtifact("sha256:nothex"); err == nil {
		t.Error("LookupArtifact of a bad digest")
	}
}

func TestParseDigest(t *testing.T) {
	good := "sha256:" + strings.Repeat("ab", 32)
	if h, err := local.ParseDigest(good); err != nil || h != strings.Repeat("ab", 32) {
		t.Errorf("ParseDigest(%q) = %q, %v", good, h, err)
	}
	for _, bad := range []string{"", "sha256:", "sha512:" + strings.Repeat("ab", 32), "sha256:" + strings.Repeat("AB", 32),
		"sha256:" + strings.Repeat("zz", 32), "sha256:" + strings.Repeat("ab", 31), "sha256:../../etc/passwd"} {
		if _, err := local.ParseDigest(bad); err == nil {
			t.Errorf("ParseDigest(%q) succeeded", bad)
		}
	}
}

func FuzzParseDigest(f *testing.F) {
	f.Add("sha256:" + strings.Repeat("ab", 32))
	f.Add("sha256:../x")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := local.ParseDigest(s)
		if err != nil {
			return
		}
		if "sha256:"+h != s || len(h) != 64 || strings.ContainsAny(h, "/.\\") {
			t.Fatalf("ParseDigest(%q) = %q", s, h)
		}
	})
}

func TestClosedExecutor(t *testing.T) {
	e := newExecutor(t, local.Config{})
	run := start(t, e, executor.Request{Steps: []corev1.Container{sh("forever", "while :; do sleep 1; done")}})
	e.Close()
	if res := run.Result(); res.Reason != executor.ReasonCancelled {
		t.Errorf("run after Close: %+v", res)
	}
	if _, err := e.Start(context.Background(), executor.Request{}); !errors.Is(err, local.ErrClosed) {
		t.Errorf("Start after Close: %v", err)
	}
}

// TestTimeoutWhileFetching checks that the timeout covers the source fetch: a git server
// that never answers makes the build time out.
func TestTimeoutWhileFetching(t *testing.T) {
	stalled := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-stalled:
		}
	}))
	defer srv.Close()
	defer close(stalled)
	e := newExecutor(t, local.Config{})
	run := start(t, e, executor.Request{
		Timeout: 500 * time.Millisecond,
		Source:  executor.Source{Git: &executor.GitSource{URL: srv.URL + "/repo"}},
		Steps:   []corev1.Container{sh("s", "true")},
	})
	res := wait(t, run)
	if res.Reason != executor.ReasonTimeout || res.FailedStep != "" || !strings.Contains(res.Message, "fetching the source") {
		t.Fatalf("result %+v", res)
	}
	if st := run.Steps()[0]; st.Phase != executor.StepWaiting {
		t.Errorf("step %+v", st)
	}
}
