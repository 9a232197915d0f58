// Package executortest is the conformance suite of build executors: Run checks that an
// executor.Executor behaves as the executor package documents, by running real builds
// (shell steps, git repositories made with go-git, served by git itself over HTTP) through
// it.
//
// The executor under test must run steps that have a command (such as /bin/sh -c ...) on
// a machine with a POSIX shell, and must not be able to run the image
// gcr.io/kaniko-project/executor without a command. The git HTTP tests need git installed
// (they are skipped otherwise).
package executortest

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/eddyplatform/eddy/build/executor"
)

// Factory makes the executor under test. Its own logs must go to logger, which the suite
// checks for credentials. The factory releases the executor with t.Cleanup.
type Factory func(t *testing.T, logger *slog.Logger) executor.Executor

// KanikoImage is an image executors are expected not to run without a command.
const KanikoImage = "gcr.io/kaniko-project/executor:v1.23.2"

// Run runs the conformance suite against the executors newExecutor makes.
func Run(t *testing.T, newExecutor Factory) {
	s := &suite{newExecutor: newExecutor}
	for _, tc := range []struct {
		name string
		f    func(t *testing.T)
	}{
		{"StepsInOrder", s.testStepsInOrder},
		{"StopsAtFirstFailure", s.testStopsAtFirstFailure},
		{"EnvAndWorkingDir", s.testEnvAndWorkingDir},
		{"StartError", s.testStartError},
		{"GitSource", s.testGitSource},
		{"GitSourceNotFound", s.testGitSourceNotFound},
		{"LocalSource", s.testLocalSource},
		{"Timeout", s.testTimeout},
		{"Cancel", s.testCancel},
		{"Logs", s.testLogs},
		{"LogsFollow", s.testLogsFollow},
		{"NotRunnable", s.testNotRunnable},
		{"Credentials", s.testCredentials},
		{"Artifact", s.testArtifact},
		{"Concurrent", s.testConcurrent},
		{"InvalidRequest", s.testInvalidRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.f(t)
		})
	}
}

type suite struct {
	newExecutor Factory
}

// env is one test's executor and what it logged.
type env struct {
	t    *testing.T
	e    executor.Executor
	logs *syncBuffer
}

func (s *suite) env(t *testing.T) *env {
	buf := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return &env{t: t, e: s.newExecutor(t, logger), logs: buf}
}

// syncBuffer is a strings.Builder safe for concurrent writes.
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

// sh is a step running script with /bin/sh -c.
func sh(name, script string) corev1.Container {
	return corev1.Container{Name: name, Image: "busybox", Command: []string{"/bin/sh", "-c", script}}
}

func (en *env) start(req executor.Request) executor.Run {
	en.t.Helper()
	if req.ID.Name == "" {
		req.ID = executor.ID{Namespace: "ns", Name: strings.ToLower(strings.ReplaceAll(en.t.Name(), "/", "-")), UID: randHex(8)}
	}
	run, err := en.e.Start(context.Background(), req)
	if err != nil {
		en.t.Fatalf("Start: %v", err)
	}
	en.t.Cleanup(func() {
		if err := run.Close(); err != nil {
			en.t.Errorf("Close: %v", err)
		}
	})
	return run
}

func wait(t *testing.T, run executor.Run) executor.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	res, err := run.Wait(ctx)
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	return res
}

func (en *env) build(req executor.Request) (executor.Run, executor.Result) {
	en.t.Helper()
	run := en.start(req)
	return run, wait(en.t, run)
}

func logs(t *testing.T, run executor.Run, step string) []string {
	t.Helper()
	lines, err := run.Logs(step, 0)
	if err != nil {
		t.Fatalf("Logs(%s): %v", step, err)
	}
	return lines
}

func wantLogs(t *testing.T, run executor.Run, step string, want ...string) {
	t.Helper()
	got := logs(t, run, step)
	if strings.Join(got, "\n") != strings.Join(want, "\n") || len(got) != len(want) {
		t.Errorf("logs of %s = %q, want %q", step, got, want)
	}
}

func wantResult(t *testing.T, res executor.Result, reason executor.Reason, failedStep string) {
	t.Helper()
	t.Logf("result: %s (step %q, exit code %d): %s", res.Reason, res.FailedStep, res.ExitCode, res.Message)
	if res.Reason != reason || res.Succeeded != (reason == executor.ReasonSucceeded) || res.FailedStep != failedStep {
		t.Fatalf("result = %+v, want reason %s, failed step %q", res, reason, failedStep)
	}
	if res.Message == "" {
		t.Errorf("result has no message: %+v", res)
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// eventually polls cond until it holds, failing t after d.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (s *suite) testStepsInOrder(t *testing.T) {
	en := s.env(t)
	var mu sync.Mutex
	var events []string
	req := executor.Request{
		Steps: []corev1.Container{
			sh("first", `[ -z "$(ls -A)" ] || { echo "workspace not empty:"; ls -A; exit 1; }
[ "$(pwd -P)" = "$(cd "$WORKSPACE" && pwd -P)" ] || { echo "cwd $(pwd) is not WORKSPACE $WORKSPACE"; exit 1; }
echo one >> order`),
			sh("second", `echo two >> order`),
			sh("third", `cat order`),
		},
		OnStep: func(st executor.StepState) {
			mu.Lock()
			defer mu.Unlock()
			events = append(events, st.Name+":"+string(st.Phase)+":"+st.Reason)
		},
	}
	run, res := en.build(req)
	wantResult(t, res, executor.ReasonSucceeded, "")
	logFirst := logs(t, run, "first")
	if len(logFirst) != 0 {
		t.Errorf("first step: %q", logFirst)
	}
	wantLogs(t, run, "third", "one", "two")
	if res.Artifact != nil {
		t.Errorf("artifact %+v from a build that wrote none", res.Artifact)
	}
	if res.StartTime.IsZero() || res.CompletionTime.Before(res.StartTime) {
		t.Errorf("times %v, %v", res.StartTime, res.CompletionTime)
	}
	mu.Lock()
	want := "first:Running:,first:Terminated:Completed,second:Running:,second:Terminated:Completed,third:Running:,third:Terminated:Completed"
	if got := strings.Join(events, ","); got != want {
		t.Errorf("step events\n%s\nwant\n%s", got, want)
	}
	mu.Unlock()
	steps := run.Steps()
	if len(steps) != 3 {
		t.Fatalf("%d steps", len(steps))
	}
	for i, st := range steps {
		if st.Index != i || st.Phase != executor.StepTerminated || st.ExitCode != 0 || st.Reason != executor.StepReasonCompleted ||
			st.StartedAt.IsZero() || st.FinishedAt.Before(st.StartedAt) {
			t.Errorf("step %d: %+v", i, st)
		}
		if i > 0 && st.StartedAt.Before(steps[i-1].FinishedAt) {
			t.Errorf("step %d started before step %d finished", i, i-1)
		}
	}
}

func (s *suite) testStopsAtFirstFailure(t *testing.T) {
	en := s.env(t)
	run, res := en.build(executor.Request{Steps: []corev1.Container{
		sh("ok", "echo fine"),
		sh("fail", "echo failing; exit 3"),
		sh("never", "echo never"),
	}})
	wantResult(t, res, executor.ReasonFailed, "fail")
	if res.ExitCode != 3 {
		t.Errorf("exit code %d, want 3", res.ExitCode)
	}
	wantLogs(t, run, "ok", "fine")
	wantLogs(t, run, "fail", "failing")
	wantLogs(t, run, "never")
	steps := run.Steps()
	if steps[1].Phase != executor.StepTerminated || steps[1].ExitCode != 3 || steps[1].Reason != executor.StepReasonError {
		t.Errorf("failed step: %+v", steps[1])
	}
	if steps[2].Phase != executor.StepWaiting || !steps[2].StartedAt.IsZero() {
		t.Errorf("step after the failure: %+v", steps[2])
	}
	// Following a step that will never run ends as the run has ended.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := run.LogsFollow(ctx, "never", 0, io.Discard); err != nil {
		t.Errorf("LogsFollow of a step that never ran: %v", err)
	}
}

func (s *suite) testEnvAndWorkingDir(t *testing.T) {
	en := s.env(t)
	step := sh("env", `echo "A=$A B=$B C=$C arg=$1"; pwd -P; cd "$WORKSPACE" && pwd -P`)
	step.Command = append(step.Command, "sh", "$(C)")
	step.Env = []corev1.EnvVar{{Name: "B", Value: "step-b"}, {Name: "C", Value: "$(B)-c"}}
	step.WorkingDir = "sub/dir"
	run, res := en.build(executor.Request{
		Env: []corev1.EnvVar{{Name: "A", Value: "from-request"}, {Name: "B", Value: "request-b"}},
		Steps: []corev1.Container{step,
			sh("next", `pwd -P; cd "$WORKSPACE" && pwd -P; test -d sub/dir && echo has-sub-dir`)},
	})
	wantResult(t, res, executor.ReasonSucceeded, "")
	lines := logs(t, run, "env")
	if len(lines) != 3 {
		t.Fatalf("logs %q", lines)
	}
	if lines[0] != "A=from-request B=step-b C=step-b-c arg=step-b-c" {
		t.Errorf("env: %q", lines[0])
	}
	if lines[1] != lines[2]+"/sub/dir" {
		t.Errorf("working dir %q, want %q", lines[1], lines[2]+"/sub/dir")
	}
	lines = logs(t, run, "next")
	if len(lines) != 3 || lines[0] != lines[1] || lines[2] != "has-sub-dir" {
		t.Errorf("second step: %q", lines)
	}
}

func (s *suite) testStartError(t *testing.T) {
	en := s.env(t)
	run, res := en.build(executor.Request{Steps: []corev1.Container{
		{Name: "missing", Command: []string{"eddy-no-such-command-" + randHex(4)}},
		sh("never", "echo never"),
	}})
	wantResult(t, res, executor.ReasonFailed, "missing")
	if res.ExitCode == 0 {
		t.Errorf("exit code 0 for a command that does not exist")
	}
	if st := run.Steps()[1]; st.Phase != executor.StepWaiting {
		t.Errorf("step after: %+v", st)
	}
}

// gitFixture is a repository with two commits on main: the first ("one", tagged v1
// annotated, light lightweight, branch old) with a.txt "one", the second with a.txt "two"
// and b.txt.
type gitFixture struct {
	repo       *Repo
	c1, c2     string
	readScript string
}

func newGitFixture(t *testing.T) *gitFixture {
	repo := NewRepo(t)
	c1 := repo.Commit(map[string]string{"a.txt": "one\n"}, "one")
	repo.Tag("v1", c1, true)
	repo.Tag("light", c1, false)
	repo.Branch("old", c1)
	c2 := repo.Commit(map[string]string{"a.txt": "two\n", "b.txt": "b\n"}, "two")
	return &gitFixture{repo: repo, c1: c1, c2: c2, readScript: `cat a.txt; if [ -e b.txt ]; then echo has-b; fi`}
}

func (s *suite) testGitSource(t *testing.T) {
	fx := newGitFixture(t)
	for _, tc := range []struct {
		name, url, revision, commit string
	}{
		{"FirstCommit", fx.repo.Dir, fx.c1, fx.c1},
		{"FirstCommitFileURL", "file://" + fx.repo.Dir, fx.c1, fx.c1},
		{"Abbreviated", fx.repo.Dir, fx.c1[:8], fx.c1},
		{"AnnotatedTag", fx.repo.Dir, "v1", fx.c1},
		{"LightweightTag", "file://" + fx.repo.Dir, "light", fx.c1},
		{"Branch", fx.repo.Dir, "old", fx.c1},
		{"FullRef", fx.repo.Dir, "refs/heads/old", fx.c1},
		{"Default", "file://" + fx.repo.Dir, "", fx.c2},
		{"Main", fx.repo.Dir, "main", fx.c2},
		{"SecondCommit", fx.repo.Dir, fx.c2, fx.c2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			en := s.env(t)
			run, res := en.build(executor.Request{
				Source: executor.Source{Git: &executor.GitSource{URL: tc.url, Revision: tc.revision}},
				Steps:  []corev1.Container{sh("read", fx.readScript)},
			})
			wantResult(t, res, executor.ReasonSucceeded, "")
			if res.Commit != tc.commit {
				t.Errorf("commit %s, want %s", res.Commit, tc.commit)
			}
			if tc.commit == fx.c1 {
				wantLogs(t, run, "read", "one")
			} else {
				wantLogs(t, run, "read", "two", "has-b")
			}
		})
	}
}

func (s *suite) testGitSourceNotFound(t *testing.T) {
	fx := newGitFixture(t)
	for _, rev := range []string{"no-such-branch", strings.Repeat("ab", 20), "abcdef12"} {
		t.Run(rev, func(t *testing.T) {
			t.Parallel()
			en := s.env(t)
			run, res := en.build(executor.Request{
				Source: executor.Source{Git: &executor.GitSource{URL: fx.repo.Dir, Revision: rev}},
				Steps:  []corev1.Container{sh("read", fx.readScript)},
			})
			wantResult(t, res, executor.ReasonSourceFailed, "")
			if st := run.Steps()[0]; st.Phase != executor.StepWaiting {
				t.Errorf("step ran: %+v", st)
			}
		})
	}
	t.Run("NoRepository", func(t *testing.T) {
		t.Parallel()
		en := s.env(t)
		_, res := en.build(executor.Request{
			Source: executor.Source{Git: &executor.GitSource{URL: filepath.Join(t.TempDir(), "nothing")}},
			Steps:  []corev1.Container{sh("read", "true")},
		})
		wantResult(t, res, executor.ReasonSourceFailed, "")
	})
}

func (s *suite) testLocalSource(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{"f.txt": "f\n", "sub/g.txt": "g\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	en := s.env(t)
	run, res := en.build(executor.Request{
		Source: executor.Source{Local: &executor.LocalSource{Path: dir}},
		Steps:  []corev1.Container{sh("read", "cat f.txt sub/g.txt; rm f.txt")},
	})
	wantResult(t, res, executor.ReasonSucceeded, "")
	wantLogs(t, run, "read", "f", "g")
	if _, err := os.Stat(filepath.Join(dir, "f.txt")); err != nil {
		t.Errorf("the build changed its local source: %v", err)
	}
}

// spawnScript starts a child that sleeps forever, records both PIDs in $PIDS and waits. ($$$$
// is $$ once the executor expanded $(VAR) references as Kubernetes does.)
const spawnScript = `sleep 1000 & echo $! > "$PIDS/child.tmp" && mv "$PIDS/child.tmp" "$PIDS/child"
echo $$$$ > "$PIDS/parent.tmp" && mv "$PIDS/parent.tmp" "$PIDS/parent"
echo started
wait`

// readPIDs returns the PIDs spawnScript recorded in dir.
func readPIDs(t *testing.T, dir string) []int {
	t.Helper()
	var pids []int
	for _, name := range []string{"parent", "child"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("the step did not record its PIDs: %v", err)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, pid)
	}
	return pids
}

func pidsRecorded(dir string) bool {
	for _, name := range []string{"parent", "child"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return false
		}
	}
	return true
}

func waitGone(t *testing.T, pids []int) {
	t.Helper()
	eventually(t, 10*time.Second, fmt.Sprintf("processes %v to end", pids), func() bool {
		for _, pid := range pids {
			if !processGone(pid) {
				return false
			}
		}
		return true
	})
}

func (s *suite) testTimeout(t *testing.T) {
	en := s.env(t)
	pids := t.TempDir()
	step := sh("spawn", spawnScript)
	step.Env = []corev1.EnvVar{{Name: "PIDS", Value: pids}}
	begin := time.Now()
	run, res := en.build(executor.Request{
		Timeout: 2 * time.Second,
		Steps:   []corev1.Container{step, sh("after", "echo after")},
	})
	wantResult(t, res, executor.ReasonTimeout, "spawn")
	if took := time.Since(begin); took > 30*time.Second {
		t.Errorf("the build took %v with a timeout of 2s", took)
	}
	waitGone(t, readPIDs(t, pids))
	steps := run.Steps()
	if steps[0].Phase != executor.StepTerminated || steps[0].Reason != executor.StepReasonTimeout {
		t.Errorf("timed out step: %+v", steps[0])
	}
	if steps[1].Phase != executor.StepWaiting {
		t.Errorf("step after: %+v", steps[1])
	}
	wantLogs(t, run, "spawn", "started")
}

func (s *suite) testCancel(t *testing.T) {
	en := s.env(t)
	pids := t.TempDir()
	step := sh("spawn", spawnScript)
	step.Env = []corev1.EnvVar{{Name: "PIDS", Value: pids}}
	run := en.start(executor.Request{Steps: []corev1.Container{step, sh("after", "echo after")}})
	eventually(t, 30*time.Second, "the step to start its child", func() bool { return pidsRecorded(pids) })
	select {
	case <-run.Done():
		t.Fatalf("the run ended early: %+v", run.Result())
	default:
	}
	run.Cancel()
	res := wait(t, run)
	wantResult(t, res, executor.ReasonCancelled, "spawn")
	waitGone(t, readPIDs(t, pids))
	if st := run.Steps()[0]; st.Phase != executor.StepTerminated || st.Reason != executor.StepReasonCancelled {
		t.Errorf("cancelled step: %+v", st)
	}
	run.Cancel() // a no-op once ended
	if again := run.Result(); again.Reason != executor.ReasonCancelled {
		t.Errorf("result changed after a second Cancel: %+v", again)
	}
}

func (s *suite) testLogs(t *testing.T) {
	en := s.env(t)
	run, res := en.build(executor.Request{Steps: []corev1.Container{
		sh("out", `echo out1; echo err1 >&2; echo out2; printf partial`),
		sh("many", `i=0; while [ $i -lt 1000 ]; do echo "line $i"; i=$((i+1)); done`),
	}})
	wantResult(t, res, executor.ReasonSucceeded, "")
	wantLogs(t, run, "out", "out1", "err1", "out2", "partial")
	if got, err := run.Logs("out", 2); err != nil || strings.Join(got, ",") != "out2,partial" {
		t.Errorf("Logs(out, 2) = %q, %v", got, err)
	}
	lines := logs(t, run, "many")
	if len(lines) != 1000 || lines[0] != "line 0" || lines[999] != "line 999" {
		t.Errorf("%d lines: %q ... %q", len(lines), lines[0], lines[len(lines)-1])
	}
	if _, err := run.Logs("nope", 0); !errors.Is(err, executor.ErrUnknownStep) {
		t.Errorf("Logs of an unknown step: %v", err)
	}
	var b strings.Builder
	if err := run.LogsFollow(context.Background(), "out", 1, &b); err != nil || b.String() != "partial\n" {
		t.Errorf("LogsFollow(out, tail 1) of an ended step = %q, %v", b.String(), err)
	}
	if err := run.LogsFollow(context.Background(), "nope", 0, &b); !errors.Is(err, executor.ErrUnknownStep) {
		t.Errorf("LogsFollow of an unknown step: %v", err)
	}
}

func (s *suite) testLogsFollow(t *testing.T) {
	en := s.env(t)
	gate := filepath.Join(t.TempDir(), "gate")
	step := sh("gated", `echo first; while [ ! -e "$GATE" ]; do sleep 0.01; done; echo second; printf third`)
	step.Env = []corev1.EnvVar{{Name: "GATE", Value: gate}}
	run := en.start(executor.Request{Steps: []corev1.Container{sh("before", "echo before"), step}})
	pr, pw := io.Pipe()
	followed := make(chan error, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	go func() {
		err := run.LogsFollow(ctx, "gated", 0, pw)
		pw.Close()
		followed <- err
	}()
	lines := bufio.NewScanner(pr)
	next := func() string {
		if !lines.Scan() {
			t.Fatalf("follow ended early: %v", lines.Err())
		}
		return lines.Text()
	}
	if l := next(); l != "first" {
		t.Fatalf("first line %q", l)
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if l := next(); l != "second" {
		t.Fatalf("second line %q", l)
	}
	if l := next(); l != "third" {
		t.Fatalf("third line %q", l)
	}
	if lines.Scan() {
		t.Errorf("extra line %q", lines.Text())
	}
	if err := <-followed; err != nil {
		t.Errorf("LogsFollow: %v", err)
	}
	wantResult(t, wait(t, run), executor.ReasonSucceeded, "")

	// A follow that ctx ends.
	run2 := en.start(executor.Request{Steps: []corev1.Container{sh("blocked", `echo waiting; while [ ! -e "$GATE" ]; do sleep 0.01; done`)}})
	short, cancelShort := context.WithCancel(context.Background())
	var got syncBuffer
	done := make(chan error, 1)
	go func() { done <- run2.LogsFollow(short, "blocked", 0, &got) }()
	eventually(t, 30*time.Second, "the followed line", func() bool { return got.String() == "waiting\n" })
	cancelShort()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("LogsFollow after ctx ended: %v", err)
	}
	run2.Cancel()
	wait(t, run2)
}

func (s *suite) testNotRunnable(t *testing.T) {
	en := s.env(t)
	run, res := en.build(executor.Request{Steps: []corev1.Container{
		sh("first", "echo first"),
		{Name: "kaniko", Image: KanikoImage, Args: []string{"--dockerfile=Dockerfile", "--destination=example.com/x"}},
	}})
	wantResult(t, res, executor.ReasonNotRunnable, "kaniko")
	if !strings.Contains(res.Message, KanikoImage) {
		t.Errorf("message %q does not name the image", res.Message)
	}
	if st := run.Steps()[1]; st.Phase == executor.StepRunning {
		t.Errorf("not runnable step: %+v", st)
	}
}

// testCredentials fetches a source over HTTP with basic auth and checks that the
// credentials never show: not in a step's environment, workspace or logs, not in results,
// not in the executor's own logs.
func (s *suite) testCredentials(t *testing.T) {
	backendRoot := t.TempDir()
	repo := NewRepoAt(t, filepath.Join(backendRoot, "repo"))
	commit := repo.Commit(map[string]string{"f.txt": "private\n"}, "one")
	password := "pw-" + randHex(12)
	keyCanary := "-----BEGIN OPENSSH PRIVATE KEY-----\nkey-canary-" + randHex(12) + "\n-----END OPENSSH PRIVATE KEY-----\n"
	base := ServeGitHTTP(t, backendRoot, "builder", password)
	reveal := `env; cat .git/config; cat f.txt; ls -la`
	check := func(t *testing.T, en *env, run executor.Run, res executor.Result, secrets ...string) {
		t.Helper()
		var texts []string
		for _, st := range run.Steps() {
			texts = append(texts, st.Message)
			lines, _ := run.Logs(st.Name, 0)
			texts = append(texts, lines...)
		}
		texts = append(texts, res.Message, en.logs.String())
		for _, secret := range secrets {
			for _, text := range texts {
				if strings.Contains(text, secret) {
					t.Errorf("a secret shows in %q", text)
				}
			}
		}
	}
	t.Run("BasicAuth", func(t *testing.T) {
		t.Parallel()
		en := s.env(t)
		run, res := en.build(executor.Request{
			Source:      executor.Source{Git: &executor.GitSource{URL: base + "/repo", Revision: "main"}},
			Credentials: executor.Credentials{GitUsername: []byte("builder"), GitPassword: []byte(password), SSHKey: []byte(keyCanary)},
			Steps:       []corev1.Container{sh("reveal", reveal)},
		})
		wantResult(t, res, executor.ReasonSucceeded, "")
		if res.Commit != commit || !strings.Contains(strings.Join(logs(t, run, "reveal"), "\n"), "private") {
			t.Errorf("commit %s, logs %q", res.Commit, logs(t, run, "reveal"))
		}
		check(t, en, run, res, password, "key-canary")
	})
	t.Run("PasswordInURL", func(t *testing.T) {
		t.Parallel()
		en := s.env(t)
		u := strings.Replace(base, "://", "://builder:"+password+"@", 1) + "/repo"
		run, res := en.build(executor.Request{
			Source: executor.Source{Git: &executor.GitSource{URL: u, Revision: commit}},
			Steps:  []corev1.Container{sh("reveal", reveal)},
		})
		wantResult(t, res, executor.ReasonSucceeded, "")
		check(t, en, run, res, password)
	})
	t.Run("WrongPassword", func(t *testing.T) {
		t.Parallel()
		en := s.env(t)
		wrong := "wrong-" + randHex(12)
		run, res := en.build(executor.Request{
			Source:      executor.Source{Git: &executor.GitSource{URL: base + "/repo"}},
			Credentials: executor.Credentials{GitUsername: []byte("builder"), GitPassword: []byte(wrong)},
			Steps:       []corev1.Container{sh("reveal", reveal)},
		})
		wantResult(t, res, executor.ReasonSourceFailed, "")
		check(t, en, run, res, wrong)
	})
	t.Run("WrongPasswordInURL", func(t *testing.T) {
		t.Parallel()
		en := s.env(t)
		wrong := "wrong-" + randHex(12)
		u := strings.Replace(base, "://", "://builder:"+wrong+"@", 1) + "/repo"
		run, res := en.build(executor.Request{
			Source: executor.Source{Git: &executor.GitSource{URL: u}},
			Steps:  []corev1.Container{sh("reveal", reveal)},
		})
		wantResult(t, res, executor.ReasonSourceFailed, "")
		check(t, en, run, res, wrong)
	})
	t.Run("NoCredentials", func(t *testing.T) {
		t.Parallel()
		en := s.env(t)
		_, res := en.build(executor.Request{
			Source: executor.Source{Git: &executor.GitSource{URL: base + "/repo"}},
			Steps:  []corev1.Container{sh("reveal", reveal)},
		})
		wantResult(t, res, executor.ReasonSourceFailed, "")
	})
}

func (s *suite) testArtifact(t *testing.T) {
	en := s.env(t)
	content := "hello artifact " + randHex(8)
	sum := sha256.Sum256([]byte(content))
	digest := "sha256:" + hex.EncodeToString(sum[:])
	write := sh("write", `printf '%s' "$CONTENT" > "$ARTIFACT"`)
	write.Env = []corev1.EnvVar{{Name: "CONTENT", Value: content}}
	_, res := en.build(executor.Request{Steps: []corev1.Container{write}})
	wantResult(t, res, executor.ReasonSucceeded, "")
	a := res.Artifact
	if a == nil || a.Digest != digest || a.Size != int64(len(content)) || !filepath.IsAbs(a.Path) {
		t.Fatalf("artifact %+v, want digest %s, size %d", a, digest, len(content))
	}
	if b, err := os.ReadFile(a.Path); err != nil || string(b) != content {
		t.Errorf("stored artifact: %q, %v", b, err)
	}
	_, res2 := en.build(executor.Request{Steps: []corev1.Container{write}})
	if res2.Artifact == nil || *res2.Artifact != *a {
		t.Errorf("same content stored again: %+v, want %+v", res2.Artifact, a)
	}
	_, res3 := en.build(executor.Request{Steps: []corev1.Container{write, sh("fail", "exit 1")}})
	wantResult(t, res3, executor.ReasonFailed, "fail")
	if res3.Artifact != nil {
		t.Errorf("artifact of a failed build: %+v", res3.Artifact)
	}
}

func (s *suite) testConcurrent(t *testing.T) {
	en := s.env(t)
	var runs []executor.Run
	for i := range 3 {
		step := sh("mine", `[ -z "$(ls -A)" ] || exit 9; echo "$N" > mine; sleep 0.2; cat mine`)
		step.Env = []corev1.EnvVar{{Name: "N", Value: strconv.Itoa(i)}}
		runs = append(runs, en.start(executor.Request{Steps: []corev1.Container{step}}))
	}
	for i, run := range runs {
		wantResult(t, wait(t, run), executor.ReasonSucceeded, "")
		wantLogs(t, run, "mine", strconv.Itoa(i))
	}
}

func (s *suite) testInvalidRequest(t *testing.T) {
	en := s.env(t)
	for name, req := range map[string]executor.Request{
		"DuplicateSteps": {Steps: []corev1.Container{sh("a", "true"), sh("a", "true")}},
		"BadRevision":    {Source: executor.Source{Git: &executor.GitSource{URL: "/x", Revision: "a..b"}}},
		"TwoSources":     {Source: executor.Source{Git: &executor.GitSource{URL: "/x"}, Local: &executor.LocalSource{Path: "/y"}}},
	} {
		if run, err := en.e.Start(context.Background(), req); err == nil {
			run.Close()
			t.Errorf("%s: Start succeeded", name)
		}
	}
}
