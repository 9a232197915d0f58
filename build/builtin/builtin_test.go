package builtin_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/eddyplatform/eddy/build/builtin"
	"github.com/eddyplatform/eddy/build/executor"
	"github.com/eddyplatform/eddy/build/executor/executortest"
	"github.com/eddyplatform/eddy/build/executor/local"
)

func TestTemplates(t *testing.T) {
	ts := builtin.Templates()
	var names []string
	for _, tmpl := range ts {
		names = append(names, tmpl.Name)
		if tmpl.Description == "" || len(tmpl.Steps) == 0 {
			t.Errorf("%s: no description or steps", tmpl.Name)
		}
		for _, p := range tmpl.Parameters {
			if p.Description == "" {
				t.Errorf("%s: parameter %s has no description", tmpl.Name, p.Name)
			}
		}
		for _, s := range tmpl.Steps {
			if _, ok := builtin.LookupBuilder(s.Image); !ok || len(s.Command) > 0 {
				t.Errorf("%s: step %s runs %q, not a builder", tmpl.Name, s.Name, s.Image)
			}
		}
	}
	if !slices.Equal(names, []string{builtin.GoFunction, builtin.Script}) {
		t.Errorf("templates %q", names)
	}
	// Templates returns copies.
	ts[0].Steps[0].Args[0] = "changed"
	if tmpl, _ := builtin.Lookup(builtin.GoFunction); tmpl.Steps[0].Args[0] != "build" {
		t.Error("Templates shares its steps")
	}
	if _, ok := builtin.Lookup("nope"); ok {
		t.Error("Lookup(nope)")
	}
}

func TestLookupBuilder(t *testing.T) {
	for image, want := range map[string]bool{
		"eddy.dev/builder/go": true, "eddy.dev/builder/go:latest": true, "eddy.dev/builder/shell:v1": true,
		"eddy.dev/builder/go2": false, "gcr.io/kaniko-project/executor": false, "": false, "localhost:5000/eddy.dev/builder/go": false,
	} {
		if _, ok := builtin.LookupBuilder(image); ok != want {
			t.Errorf("LookupBuilder(%q) = %v", image, ok)
		}
	}
}

func TestInstantiate(t *testing.T) {
	gf, _ := builtin.Lookup(builtin.GoFunction)
	steps, err := gf.Instantiate(nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(steps[0].Args, " "); got != "build -trimpath -o $(ARTIFACT) ./." {
		t.Errorf("default args %q", got)
	}
	if steps[0].Env[0].Value != "" {
		t.Errorf("GOFLAGS %q", steps[0].Env[0].Value)
	}
	steps, err = gf.Instantiate(map[string]string{"PACKAGE": "cmd/fn", "GOFLAGS": "-mod=vendor"})
	if err != nil || steps[0].Args[4] != "./cmd/fn" || steps[0].Env[0].Value != "-mod=vendor" {
		t.Errorf("%+v, %v", steps, err)
	}
	if gf.Steps[0].Args[4] != "./${PACKAGE}" {
		t.Error("Instantiate changed the template")
	}
	if _, err := gf.Instantiate(map[string]string{"PACKGE": "x"}); err == nil || !strings.Contains(err.Error(), "PACKGE") {
		t.Errorf("unknown parameter: %v", err)
	}
	sc, _ := builtin.Lookup(builtin.Script)
	if _, err := sc.Instantiate(nil); err == nil || !strings.Contains(err.Error(), "SCRIPT") {
		t.Errorf("missing required parameter: %v", err)
	}
}

func TestSubstitute(t *testing.T) {
	steps := []corev1.Container{{
		Name: "s-${N}", Image: "img:${TAG}", WorkingDir: "${DIR}", Command: []string{"${CMD}"},
		Args: []string{"${A}${A}", "${UNKNOWN}", "$(ENV)", "${", "${A"},
		Env:  []corev1.EnvVar{{Name: "${A}", Value: "v=${A}"}},
	}}
	params := map[string]string{"N": "1", "TAG": "t", "DIR": "d", "CMD": "c", "A": "${N}"}
	got := builtin.Substitute(steps, params)[0]
	if got.Name != "s-1" || got.Image != "img:t" || got.WorkingDir != "d" || got.Command[0] != "c" {
		t.Errorf("%+v", got)
	}
	if want := []string{"${N}${N}", "${UNKNOWN}", "$(ENV)", "${", "${A"}; !slices.Equal(got.Args, want) {
		t.Errorf("args %q, want %q", got.Args, want)
	}
	if got.Env[0].Name != "${A}" || got.Env[0].Value != "v=${N}" {
		t.Errorf("env %+v", got.Env)
	}
	if steps[0].Args[0] != "${A}${A}" {
		t.Error("Substitute changed its input")
	}
}

func FuzzSubstituteString(f *testing.F) {
	for _, s := range []string{"${A}", "x${A}y${B}z", "${", "${A", "${}", "$${A}", "${${A}}"} {
		f.Add(s, "val")
	}
	f.Fuzz(func(t *testing.T, s, v string) {
		if got := builtin.SubstituteString(s, nil); got != s {
			t.Fatalf("no params: %q -> %q", s, got)
		}
		// With one parameter, every ${A} is replaced, once: what replaced it is not searched
		// again.
		if got, want := builtin.SubstituteString(s, map[string]string{"A": v}), strings.ReplaceAll(s, "${A}", v); got != want {
			t.Fatalf("SubstituteString(%q, A=%q) = %q, want %q", s, v, got, want)
		}
	})
}

func newExecutor(t *testing.T) *local.Executor {
	t.Helper()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command: %v", err)
	}
	e, err := local.New(local.Config{
		WorkDir: t.TempDir(), ArtifactDir: t.TempDir(), GoCommand: goCmd,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func build(t *testing.T, e executor.Executor, req executor.Request) (executor.Run, executor.Result) {
	t.Helper()
	req.ID = executor.ID{Namespace: "ns", Name: "b", UID: "u"}
	run, err := e.Start(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { run.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := run.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return run, res
}

const fnMain = `package main

import (
	"fmt"
	"net/http"
	"os"
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s\n", os.Getenv("GREETING"))
	})
	if err := http.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
`

// TestGoFunction builds a Go program from a git repository with the go-function template
// and runs the artifact as the process runtime would: with PORT set, answering HTTP.
func TestGoFunction(t *testing.T) {
	repo := executortest.NewRepo(t)
	commit := repo.Commit(map[string]string{
		"go.mod":         "module example.com/fn\n\ngo 1.22\n",
		"cmd/fn/main.go": fnMain,
		"README":         "a function\n",
	}, "function")
	repo.Commit(map[string]string{"cmd/fn/main.go": "package main\n\nfunc main() { panic(\"the second commit was built\") }\n"}, "broken")

	gf, _ := builtin.Lookup(builtin.GoFunction)
	steps, err := gf.Instantiate(map[string]string{"PACKAGE": "cmd/fn", "GOFLAGS": "-buildvcs=false"})
	if err != nil {
		t.Fatal(err)
	}
	e := newExecutor(t)
	run, res := build(t, e, executor.Request{
		Source: executor.Source{Git: &executor.GitSource{URL: repo.Dir, Revision: commit}},
		Steps:  steps,
	})
	if !res.Succeeded || res.Commit != commit || res.Artifact == nil {
		lines, _ := run.Logs("build", 0)
		t.Fatalf("result %+v\nlogs:\n%s", res, strings.Join(lines, "\n"))
	}
	if !strings.HasPrefix(res.Artifact.Digest, "sha256:") || res.Artifact.Size < 1<<20 {
		t.Errorf("artifact %+v", res.Artifact)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(res.Artifact.Path)
	cmd.Env = []string{"PORT=" + strconv.Itoa(port), "GREETING=eddy"}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/"
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(body) != "hello from eddy\n" {
				t.Errorf("answer %q", body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the artifact does not answer: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// A build of a package that does not compile fails in the build step.
	bad := executortest.NewRepo(t)
	bad.Commit(map[string]string{"go.mod": "module example.com/bad\n\ngo 1.22\n", "main.go": "package main\n\nfunc main() { undefined() }\n"}, "bad")
	steps, _ = gf.Instantiate(map[string]string{"GOFLAGS": "-buildvcs=false"})
	run, res = build(t, e, executor.Request{Source: executor.Source{Git: &executor.GitSource{URL: bad.Dir}}, Steps: steps})
	if res.Reason != executor.ReasonFailed || res.FailedStep != "build" || res.Artifact != nil {
		t.Fatalf("result %+v", res)
	}
	if lines, _ := run.Logs("build", 0); !strings.Contains(strings.Join(lines, "\n"), "undefined") {
		t.Errorf("build logs %q", lines)
	}
}

func TestScript(t *testing.T) {
	sc, _ := builtin.Lookup(builtin.Script)
	steps, err := sc.Instantiate(map[string]string{"SCRIPT": `printf 'hello %s' "$NAME" > "$ARTIFACT"; cat "$ARTIFACT"; echo; echo "${NAME}s"`})
	if err != nil {
		t.Fatal(err)
	}
	e := newExecutor(t)
	run, res := build(t, e, executor.Request{Env: []corev1.EnvVar{{Name: "NAME", Value: "world"}}, Steps: steps})
	if !res.Succeeded || res.Artifact == nil || res.Artifact.Size != int64(len("hello world")) {
		t.Fatalf("%+v", res)
	}
	if lines, _ := run.Logs("script", 0); !slices.Equal(lines, []string{"hello world", "worlds"}) {
		t.Errorf("logs %q", lines)
	}
}
