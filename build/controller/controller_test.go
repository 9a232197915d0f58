package controller_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	apibuild "github.com/eddyplatform/eddy/api/build"
	"github.com/eddyplatform/eddy/api/serving"
	"github.com/eddyplatform/eddy/build/controller"
	"github.com/eddyplatform/eddy/build/executor/executortest"
	"github.com/eddyplatform/eddy/build/executor/local"
	"github.com/eddyplatform/eddy/control/apiserver"
	"github.com/eddyplatform/eddy/control/reconciler"
	"github.com/eddyplatform/eddy/platform"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

type env struct {
	p      *platform.Platform
	client *reconciler.Client
	builds *controller.Builds
	exec   *local.Executor
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// start runs the platform in process, and the build controllers on its store with the local
// executor. before, if set, runs before the controllers start.
func start(t *testing.T, before func(*env)) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p, err := platform.Start(ctx, platform.Config{DataDir: t.TempDir(), APIAddr: "127.0.0.1:0", IngressAddr: "127.0.0.1:0",
		ResyncPeriod: time.Second, Logger: quiet, NoBuilds: true}) // these tests run their own, tuned
	if err != nil {
		t.Fatal(err)
	}
	ex, err := local.New(local.Config{WorkDir: t.TempDir(), ArtifactDir: t.TempDir(), KillGrace: time.Second, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{p: p, client: reconciler.NewClient(p.Store, p.Registry), exec: ex}
	if before != nil {
		before(e)
	}
	cache := reconciler.NewCache(p.Store, p.Registry, reconciler.CacheOptions{ResyncPeriod: time.Second})
	e.builds, err = controller.New(controller.Config{Client: e.client, Cache: cache, Executor: ex, StatusInterval: 50 * time.Millisecond, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for _, c := range e.builds.Controllers() {
		wg.Go(func() { c.Run(ctx) })
	}
	wg.Go(func() { e.builds.Run(ctx) })
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		e.builds.Close()
		ex.Close()
		p.Shutdown(context.Background())
	})
	return e
}

func (e *env) apply(t *testing.T, yaml string) {
	t.Helper()
	objs, err := e.p.Registry.DecodeAll([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.GetNamespace() == "" {
			o.SetNamespace("default")
		}
		a, _, err := e.p.Registry.Admit(o)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.client.Create(context.Background(), a); err != nil {
			t.Fatal(err)
		}
	}
}

func (e *env) build(t *testing.T, name string) *apibuild.Build {
	t.Helper()
	var b apibuild.Build
	if err := e.client.Get(context.Background(), "default", name, &b); err != nil {
		t.Fatal(err)
	}
	return &b
}

// waitBuild waits until the build finished and returns it.
func (e *env) waitBuild(t *testing.T, name string) *apibuild.Build {
	t.Helper()
	var b *apibuild.Build
	eventually(t, "build "+name+" to finish", func() bool {
		b = e.build(t, name)
		return b.Status.IsDone()
	})
	return b
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// goFunction is a tiny Go HTTP function.
var goFunction = map[string]string{
	"go.mod": "module example.com/fn\n\ngo 1.22\n",
	"main.go": `package main

import (
	"fmt"
	"net/http"
	"os"
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "hello from a build") })
	if err := http.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), nil); err != nil {
		panic(err)
	}
}
`,
}

func condition(b *apibuild.Build) string {
	c := b.Status.Succeeded()
	if c == nil {
		return "<none>"
	}
	return fmt.Sprintf("%s/%s: %s", c.Status, c.Reason, c.Message)
}

// A go-function Build of a git repository succeeds, its status has the artifact, and the
// artifact ResolveImage names is the function's binary, which serves HTTP.
func TestGoFunctionBuild(t *testing.T) {
	e := start(t, nil)
	repo := executortest.NewRepo(t)
	commit := repo.Commit(goFunction, "a function")
	e.apply(t, fmt.Sprintf(`
apiVersion: build.knative.dev/v1alpha1
kind: Build
metadata: {name: fn}
spec:
  source:
    git: {url: "file://%s", revision: %s}
  template: {name: go-function, kind: ClusterBuildTemplate}
`, repo.Dir, commit))
	b := e.waitBuild(t, "fn")
	if !b.Status.IsSucceeded() {
		var logs bytes.Buffer
		e.builds.BuildLogs(context.Background(), &logs, "default", "fn", apiserver.LogOptions{})
		t.Fatalf("build: %s\n%s", condition(b), logs.String())
	}
	a := b.Status.Artifact
	if a == nil || !apibuild.ValidDigest(a.Digest) || a.URI != "build://default/fn" || a.Size == 0 {
		t.Fatalf("artifact %+v", a)
	}
	if b.Status.StartTime == nil || b.Status.CompletionTime == nil || b.Status.Builder != apibuild.BuilderLocal {
		t.Errorf("status %+v", b.Status)
	}
	if len(b.Status.StepStates) != 1 || b.Status.StepStates[0].Terminated == nil || b.Status.StepStates[0].Terminated.ExitCode != 0 {
		t.Errorf("stepStates %+v", b.Status.StepStates)
	}
	if !strings.Contains(b.Status.Succeeded().Message, commit) {
		t.Errorf("message %q does not name the commit", b.Status.Succeeded().Message)
	}

	// The built-in templates are served as ClusterBuildTemplates, Ready.
	for _, name := range []string{"go-function", "script"} {
		eventually(t, "ClusterBuildTemplate "+name, func() bool {
			var cbt apibuild.ClusterBuildTemplate
			return e.client.Get(context.Background(), "", name, &cbt) == nil && cbt.Status.IsReady()
		})
	}

	for _, image := range []string{"build://default/fn", "build://" + a.Digest, a.Digest} {
		cmd, ok, err := e.builds.ResolveImage(context.Background(), image)
		if err != nil || !ok || len(cmd) != 1 {
			t.Fatalf("ResolveImage(%s) = %v, %v, %v", image, cmd, ok, err)
		}
	}
	for image, wantOK := range map[string]bool{"ko://./x": false, "example.com/img": false, "build://default/nope": true, "build://Bad": true} {
		if _, ok, err := e.builds.ResolveImage(context.Background(), image); ok != wantOK || (ok && err == nil) {
			t.Errorf("ResolveImage(%s) = %v, %v", image, ok, err)
		}
	}
	cmd, _, _ := e.builds.ResolveImage(context.Background(), "build://default/fn")
	port := freePort(t)
	proc := exec.Command(cmd[0])
	proc.Env = []string{"PORT=" + port}
	if err := proc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proc.Process.Kill(); proc.Wait() })
	eventually(t, "the function to answer", func() bool {
		resp, err := http.Get("http://127.0.0.1:" + port)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return string(body) == "hello from a build\n"
	})

	// The artifact is kept while the Build names it; it is collected once the Build is gone
	// (the store's minimum age aside).
	if removed, err := e.builds.CollectArtifacts(context.Background()); err != nil || len(removed) != 0 {
		t.Errorf("CollectArtifacts = %v, %v", removed, err)
	}
}

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// A failing step fails the build with its name and exit code; later steps never run; the
// logs of the steps are served.
func TestFailingStep(t *testing.T) {
	e := start(t, nil)
	e.apply(t, `
apiVersion: build.knative.dev/v1alpha1
kind: Build
metadata: {name: bad}
spec:
  steps:
  - {name: first, image: eddy.dev/builder/shell, args: ["echo one; echo two"]}
  - {name: fails, image: eddy.dev/builder/shell, args: ["echo failing >&2; exit 3"]}
  - {image: eddy.dev/builder/shell, args: ["echo never"]}
`)
	b := e.waitBuild(t, "bad")
	c := b.Status.Succeeded()
	if c.Reason != apibuild.ReasonBuildFailed || !strings.Contains(c.Message, `"fails"`) || !strings.Contains(c.Message, "code 3") {
		t.Fatalf("condition %s", condition(b))
	}
	if len(b.Status.StepStates) != 3 || b.Status.StepStates[1].Terminated == nil || b.Status.StepStates[1].Terminated.ExitCode != 3 ||
		b.Status.StepStates[2].Name != "unnamed-2" || b.Status.StepStates[2].Waiting == nil {
		t.Errorf("stepStates %+v", b.Status.StepStates)
	}
	if got := b.Status.StepsCompleted; len(got) != 1 || got[0] != "first" {
		t.Errorf("stepsCompleted %v", got)
	}
	var logs bytes.Buffer
	if err := e.builds.BuildLogs(context.Background(), &logs, "default", "bad", apiserver.LogOptions{}); err != nil {
		t.Fatal(err)
	}
	if want := "[first] one\n[first] two\n[fails] failing\n"; logs.String() != want {
		t.Errorf("logs %q, want %q", logs.String(), want)
	}
	logs.Reset()
	if err := e.builds.BuildLogs(context.Background(), &logs, "default", "bad", apiserver.LogOptions{Instance: "first", TailLines: 1, Follow: true}); err != nil {
		t.Fatal(err)
	}
	if logs.String() != "[first] two\n" {
		t.Errorf("followed logs %q", logs.String())
	}

	// A missing template and a missing parameter fail at once.
	e.apply(t, `
apiVersion: build.knative.dev/v1alpha1
kind: Build
metadata: {name: notemplate}
spec:
  template: {name: nope}
---
apiVersion: build.knative.dev/v1alpha1
kind: Build
metadata: {name: noscript}
spec:
  template: {name: script, kind: ClusterBuildTemplate}
`)
	if b := e.waitBuild(t, "notemplate"); b.Status.Succeeded().Reason != apibuild.ReasonTemplateNotFound {
		t.Errorf("notemplate: %s", condition(b))
	}
	if b := e.waitBuild(t, "noscript"); b.Status.Succeeded().Reason != apibuild.ReasonUnsatisfiedParameter {
		t.Errorf("noscript: %s", condition(b))
	}
}

func pidOf(t *testing.T, file string) int {
	var pid int
	eventually(t, "the step to write its pid", func() bool {
		b, err := os.ReadFile(file)
		if err != nil || !bytes.HasSuffix(b, []byte("\n")) {
			return false
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil
	})
	return pid
}

func processGone(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return true
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && b[i+2] == 'Z'
}

// spec.status: BuildCancelled and deleting the Build both kill the running step.
func TestCancel(t *testing.T) {
	e := start(t, nil)
	dir := t.TempDir()
	for _, name := range []string{"cancelled", "deleted"} {
		e.apply(t, fmt.Sprintf(`
apiVersion: build.knative.dev/v1alpha1
kind: Build
metadata: {name: %s}
spec:
  steps:
  - name: sleep
    image: eddy.dev/builder/shell
    args: ['sleep 1000 & echo $! > "$PIDFILE"; wait']
    env: [{name: PIDFILE, value: %s/%s}]
`, name, dir, name))
	}
	pids := map[string]int{}
	for _, name := range []string{"cancelled", "deleted"} {
		pids[name] = pidOf(t, dir+"/"+name)
		eventually(t, name+" running", func() bool {
			b := e.build(t, name)
			return len(b.Status.StepStates) == 1 && b.Status.StepStates[0].Running != nil &&
				b.Status.Succeeded().Reason == apibuild.ReasonBuilding
		})
	}

	b := e.build(t, "cancelled")
	b.Spec.Status = apibuild.BuildSpecStatusCancelled
	if err := e.client.Update(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	b = e.waitBuild(t, "cancelled")
	if b.Status.Succeeded().Reason != apibuild.ReasonBuildCancelled || b.Status.CompletionTime == nil {
		t.Errorf("cancelled: %s", condition(b))
	}
	eventually(t, "the cancelled step's process to die", func() bool { return processGone(pids["cancelled"]) })

	if err := e.client.Delete(context.Background(), e.build(t, "deleted")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the deleted build's process to die", func() bool { return processGone(pids["deleted"]) })
}

// A Build that was running when Eddy stopped is marked Interrupted, not run again.
func TestInterruptedAfterRestart(t *testing.T) {
	e := start(t, func(e *env) {
		e.apply(t, `
apiVersion: build.knative.dev/v1alpha1
kind: Build
metadata: {name: was-running}
spec:
  steps: [{image: eddy.dev/builder/shell, args: ["exit 0"]}]
`)
		b := e.build(t, "was-running")
		now := metav1.Now()
		b.Status.StartTime = &now
		b.Status.MarkBuilding("step running")
		if err := e.client.UpdateStatus(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	})
	b := e.waitBuild(t, "was-running")
	if b.Status.Succeeded().Reason != controller.ReasonInterrupted || len(b.Status.StepsCompleted) != 0 {
		t.Errorf("%s, completed %v", condition(b), b.Status.StepsCompleted)
	}
}

// pushEvent returns the recorded push payload with its ref, commit and clone URL replaced.
func pushEvent(t *testing.T, ref, after, cloneURL string) []byte {
	t.Helper()
	raw, err := os.ReadFile("testdata/github-push-payload.json")
	if err != nil {
		t.Fatal(err)
	}
	var p map[string]any
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	p["ref"], p["after"], p["deleted"] = ref, after, false
	p["repository"].(map[string]any)["clone_url"] = cloneURL
	out, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// send posts a CloudEvent in binary mode and returns the status code.
func send(t *testing.T, url, ceType string, data []byte) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Ce-Specversion", "1.0")
	req.Header.Set("Ce-Id", strconv.FormatInt(time.Now().UnixNano(), 10))
	req.Header.Set("Ce-Source", "https://github.com/Codertocat/Hello-World")
	req.Header.Set("Ce-Type", ceType)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func (e *env) service(t *testing.T, name string) *serving.Service {
	t.Helper()
	var s serving.Service
	if err := e.client.Get(context.Background(), "default", name, &s); err != nil {
		t.Fatal(err)
	}
	return &s
}

func (e *env) rolloutStatus(t *testing.T, name string) map[string]string {
	t.Helper()
	var cm corev1.ConfigMap
	if err := e.client.Get(context.Background(), "default", "rollout-"+name, &cm); err != nil {
		t.Fatal(err)
	}
	return cm.Annotations
}

// A push to the followed branch builds the commit with go-function and moves the Service to
// the build's artifact; a push whose build fails leaves the Service as it is.
func TestRolloutOnPush(t *testing.T) {
	e := start(t, nil)
	srv := httptest.NewServer(e.builds.RolloutHandler())
	t.Cleanup(srv.Close)
	repo := executortest.NewRepo(t)
	good := repo.Commit(goFunction, "a function")
	e.apply(t, `
apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: hello}
spec:
  template:
    spec:
      containers: [{image: example.com/placeholder}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: rollout-hello}
data:
  repository: Codertocat/Hello-World
  branch: main
`)
	url := srv.URL + "/rollouts/default/hello"

	// The recorded payload deletes a tag: ignored. So are other event types and branches.
	raw, _ := os.ReadFile("testdata/github-push-payload.json")
	for _, c := range []struct {
		ceType string
		data   []byte
	}{
		{controller.GitHubPushType, raw},
		{"dev.knative.source.github.issues", raw},
		{controller.GitHubPushType, pushEvent(t, "refs/heads/other", good, "file://"+repo.Dir)},
	} {
		if code := send(t, url, c.ceType, c.data); code != http.StatusAccepted {
			t.Errorf("%s: %d, want 202", c.ceType, code)
		}
	}
	if code := send(t, srv.URL+"/rollouts/default/nope", controller.GitHubPushType, pushEvent(t, "refs/heads/main", good, "file://"+repo.Dir)); code != http.StatusNotFound {
		t.Errorf("unknown rollout: %d", code)
	}

	if code := send(t, url, controller.GitHubPushType, pushEvent(t, "refs/heads/main", good, "file://"+repo.Dir)); code != http.StatusCreated {
		t.Fatalf("push: %d", code)
	}
	if code := send(t, url, controller.GitHubPushType, pushEvent(t, "refs/heads/main", good, "file://"+repo.Dir)); code != http.StatusAccepted {
		t.Errorf("redelivery: %d", code)
	}
	goodBuild := "hello-" + good[:12]
	want := "build://default/" + goodBuild
	eventually(t, "the Service to run the build", func() bool {
		return e.service(t, "hello").Spec.Template.Spec.Containers[0].Image == want
	})
	if b := e.build(t, goodBuild); !b.Status.IsSucceeded() {
		t.Fatalf("build %s", condition(b))
	}
	eventually(t, "the rollout status", func() bool {
		return strings.Contains(e.rolloutStatus(t, "hello")[controller.AnnotationStatus], "runs commit "+good)
	})

	// A commit that does not compile: the build fails, the Service keeps its image.
	bad := repo.Commit(map[string]string{"main.go": "package main\n\nfunc main() { undefined() }\n"}, "broken")
	if code := send(t, url, controller.GitHubPushType, pushEvent(t, "refs/heads/main", bad, "file://"+repo.Dir)); code != http.StatusCreated {
		t.Fatalf("push: %d", code)
	}
	b := e.waitBuild(t, "hello-"+bad[:12])
	if b.Status.IsSucceeded() {
		t.Fatal("the broken commit built")
	}
	eventually(t, "the rollout to report the failure", func() bool {
		st := e.rolloutStatus(t, "hello")[controller.AnnotationStatus]
		return strings.Contains(st, "failed") && strings.Contains(st, goodBuild)
	})
	if img := e.service(t, "hello").Spec.Template.Spec.Containers[0].Image; img != want {
		t.Errorf("image %s after a failed build, want %s", img, want)
	}
}

// A newer push cancels the older build still running, and the Service gets the newer one.
func TestRolloutNewestWins(t *testing.T) {
	e := start(t, nil)
	srv := httptest.NewServer(e.builds.RolloutHandler())
	t.Cleanup(srv.Close)
	repo := executortest.NewRepo(t)
	slow := repo.Commit(map[string]string{"build.sh": "sleep 1000\n"}, "slow")
	fast := repo.Commit(map[string]string{"build.sh": "printf '#!/bin/sh\\necho fast\\n' > \"$ARTIFACT\"\n"}, "fast")
	e.apply(t, fmt.Sprintf(`
apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: web}
spec:
  template:
    spec:
      containers: [{image: example.com/placeholder, command: [/bin/true]}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: rollout-web}
data:
  repository: file://%s
  template: script
  arguments: |
    SCRIPT=sh ./build.sh
`, repo.Dir))
	url := srv.URL + "/rollouts/default/web"
	if code := send(t, url, controller.GitHubPushType, pushEvent(t, "refs/heads/main", slow, "file://"+repo.Dir)); code != http.StatusCreated {
		t.Fatalf("push: %d", code)
	}
	eventually(t, "the slow build to run", func() bool {
		b := e.build(t, "web-"+slow[:12])
		return len(b.Status.StepStates) == 1 && b.Status.StepStates[0].Running != nil
	})
	if code := send(t, url, controller.GitHubPushType, pushEvent(t, "refs/heads/main", fast, "file://"+repo.Dir)); code != http.StatusCreated {
		t.Fatalf("push: %d", code)
	}
	if b := e.waitBuild(t, "web-"+slow[:12]); b.Status.Succeeded().Reason != apibuild.ReasonBuildCancelled {
		t.Errorf("slow build: %s", condition(b))
	}
	want := "build://default/web-" + fast[:12]
	eventually(t, "the Service to run the fast build", func() bool {
		c := e.service(t, "web").Spec.Template.Spec.Containers[0]
		return c.Image == want && len(c.Command) == 0
	})
	cmd, ok, err := e.builds.ResolveImage(context.Background(), want)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	out, err := exec.Command(cmd[0]).Output()
	if err != nil || string(out) != "fast\n" {
		t.Errorf("artifact ran: %q, %v", out, err)
	}
}
