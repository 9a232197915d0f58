// Package runtimetest is the conformance suite of runtime.Runtime implementations: every
// runtime's tests call Run with a Factory for it.
//
// The suite runs a small HTTP server, whose Go source is in testdata/server (ServerDir): it
// serves on $PORT, answers /env with its environment as JSON, exits with code 3 on /crash,
// answers /sleep?d=500ms after that long, prints "server listening on :$PORT" when it starts
// and /log?msg=… prints a line, and on SIGTERM finishes the requests in flight and exits. The
// Factory says how the runtime refers to that program as an image (for the process runtime,
// "ko://" and its directory).
//
// What the suite checks:
//
//   - Scale 0→3 gives three Ready instances with distinct IDs and addresses that answer
//     HTTP; each sees the container's env plus PORT (the port of its Address), K_SERVICE,
//     K_REVISION and K_CONFIGURATION.
//   - Scale 3→1 marks two Terminating, then they are gone; requests in flight on them
//     complete, and the survivor answers every request meanwhile. Scale 1→0 leaves none.
//   - An instance that exits (/crash) is restarted: the same ID, Restarts counts, Ready
//     again.
//   - An image the runtime cannot run gives an Apply error wrapping runtime.ErrUnrunnable, or
//     instances Failed with a Reason; never a panic; Remove forgets it.
//   - Logs returns what the instance printed; an unknown instance is ErrUnknownInstance.
//   - Changed fires on every change that Instances shows.
//   - Remove stops every instance and forgets the revision, which can be applied again.
//   - Close stops everything; Apply fails after it.
//
// The Factory's runtime should stop an instance within the suite's timeout, and restart a
// crashed one after short backoffs (tens of milliseconds, so the suite stays fast).
package runtimetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/eddyplatform/eddy/serving/runtime"
)

// ServerImportPath is the import path of the test server's main package.
const ServerImportPath = "github.com/eddyplatform/eddy/serving/runtime/runtimetest/testdata/server"

// ServerDir returns the directory of the test server's source.
func ServerDir() string {
	_, file, _, ok := goruntime.Caller(0)
	if ok && filepath.IsAbs(file) {
		dir := filepath.Join(filepath.Dir(file), "testdata", "server")
		if _, err := os.Stat(dir); err == nil {
			return dir
		}
	}
	// Built with -trimpath: ask the go command.
	out, err := exec.Command("go", "list", "-f", "{{.Dir}}", ServerImportPath).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// Factory makes the runtime under test and tells the suite how to name images for it.
type Factory struct {
	// New returns a new, empty runtime for one test. The suite closes it when the test ends
	// (if the test did not).
	New func(t *testing.T) runtime.Runtime

	// ServerImage returns the image that runs the test server, given the directory of its
	// source (ServerDir) and its import path (ServerImportPath).
	ServerImage func(dir, importPath string) string

	// UnrunnableImage is an image the runtime cannot run. Default
	// "registry.invalid/eddy/unrunnable:v0".
	UnrunnableImage string

	// Timeout bounds each wait of the suite. Default 60s (the first Apply may build or
	// fetch the server).
	Timeout time.Duration
}

// Run runs the conformance suite against the runtimes f makes, each check in a subtest
// with a runtime of its own.
func Run(t *testing.T, f Factory) {
	if f.New == nil || f.ServerImage == nil {
		t.Fatal("runtimetest: Factory.New and Factory.ServerImage are required")
	}
	if f.UnrunnableImage == "" {
		f.UnrunnableImage = "registry.invalid/eddy/unrunnable:v0"
	}
	if f.Timeout <= 0 {
		f.Timeout = 60 * time.Second
	}
	dir := ServerDir()
	if dir == "" {
		t.Fatal("runtimetest: cannot find the test server's source")
	}
	s := &suite{f: f, image: f.ServerImage(dir, ServerImportPath)}
	t.Run("ScaleUpAndDown", s.scaleUpAndDown)
	t.Run("CrashRestart", s.crashRestart)
	t.Run("Unrunnable", s.unrunnable)
	t.Run("Logs", s.logs)
	t.Run("Changed", s.changed)
	t.Run("Remove", s.remove)
	t.Run("Close", s.close)
}

type suite struct {
	f     Factory
	image string
}

// client is the suite's HTTP client: no connection reuse, so a stopped instance is noticed.
var client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// newRuntime makes a runtime for t and closes it when t ends.
func (s *suite) newRuntime(t *testing.T) runtime.Runtime {
	t.Helper()
	rt := s.f.New(t)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), s.f.Timeout)
		defer cancel()
		if err := rt.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return rt
}

// testEnv is the container env every revision of the suite has.
var testEnv = []corev1.EnvVar{
	{Name: "GREETING", Value: "hello conformance"},
	{Name: "EMPTY", Value: ""},
	{Name: "WITH_EQUALS", Value: "a=b=c"},
}

// revision is a revision of the test server named name with scale instances.
func (s *suite) revision(name string, scale int) runtime.Revision {
	return runtime.Revision{
		Key:           runtime.RevisionKey{Namespace: "conformance", Name: name},
		Service:       "svc",
		Configuration: "cfg",
		Container: corev1.Container{
			Name:  "user-container",
			Image: s.image,
			Env:   testEnv,
			Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
		},
		Scale:  scale,
		Labels: map[string]string{"app": "conformance"},
	}
}

func (s *suite) ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), s.f.Timeout)
	t.Cleanup(cancel)
	return ctx
}

// waitFor waits until cond holds for the revision's instances, waking on Changed, and
// returns them.
func (s *suite) waitFor(t *testing.T, rt runtime.Runtime, key runtime.RevisionKey, what string, cond func([]runtime.Instance) bool) []runtime.Instance {
	t.Helper()
	timeout := time.NewTimer(s.f.Timeout)
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
			t.Fatalf("%s: %s not reached within %v; instances: %s", key, what, s.f.Timeout, describe(is))
		}
	}
}

// poll waits until f returns nil, checking every 5ms, and fails t with f's last error at the
// timeout.
func (s *suite) poll(t *testing.T, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(s.f.Timeout)
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

func describe(is []runtime.Instance) string {
	if is == nil {
		return "none (unknown revision)"
	}
	var b strings.Builder
	for _, in := range is {
		fmt.Fprintf(&b, "\n  %s %s addr=%q restarts=%d reason=%q message=%q", in.ID, in.Phase, in.Address, in.Restarts, in.Reason, in.Message)
	}
	return b.String()
}

func allReady(n int) func([]runtime.Instance) bool {
	return func(is []runtime.Instance) bool {
		if len(is) != n {
			return false
		}
		for _, in := range is {
			if in.Phase != runtime.Ready || in.Address == "" {
				return false
			}
		}
		return true
	}
}

// get GETs path from addr and returns the body of a 200 response.
func get(addr, path string) (string, error) {
	resp, err := client.Get("http://" + addr + path)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s%s: %s: %s", addr, path, resp.Status, body)
	}
	return string(body), nil
}

// refuses reports nil once nothing answers at addr.
func refuses(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return nil
	}
	c.Close()
	return fmt.Errorf("%s still accepts connections", addr)
}

// recorder records the phases each instance went through, as Instances showed them at each
// Changed.
type recorder struct {
	mu     sync.Mutex
	phases map[string][]runtime.Phase
	seen   map[string]bool // in the latest snapshot
	stop   chan struct{}
	done   chan struct{}
}

func record(rt runtime.Runtime, key runtime.RevisionKey) *recorder {
	r := &recorder{phases: map[string][]runtime.Phase{}, seen: map[string]bool{}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for {
			ch := rt.Changed()
			is := rt.Instances(key)
			r.mu.Lock()
			clear(r.seen)
			for _, in := range is {
				r.seen[in.ID] = true
				ph := r.phases[in.ID]
				if len(ph) == 0 || ph[len(ph)-1] != in.Phase {
					r.phases[in.ID] = append(ph, in.Phase)
				}
			}
			r.mu.Unlock()
			select {
			case <-ch:
			case <-r.stop:
				return
			}
		}
	}()
	return r
}

func (r *recorder) finish() {
	close(r.stop)
	<-r.done
}

// scaleUpAndDown: 0→3 Ready with env; 3→1 with Terminating, drained requests and a survivor
// that keeps serving; 1→0.
func (s *suite) scaleUpAndDown(t *testing.T) {
	rt := s.newRuntime(t)
	ctx := s.ctx(t)
	rev := s.revision("scale-00001", 3)
	if err := rt.Apply(ctx, rev); err != nil {
		t.Fatalf("Apply scale 3: %v", err)
	}
	is := s.waitFor(t, rt, rev.Key, "3 Ready instances", allReady(3))
	ids, addrs := map[string]bool{}, map[string]bool{}
	for _, in := range is {
		if ids[in.ID] || addrs[in.Address] {
			t.Fatalf("instances share an ID or address:%s", describe(is))
		}
		ids[in.ID], addrs[in.Address] = true, true
		body, err := get(in.Address, "/env")
		if err != nil {
			t.Fatalf("instance %s: %v", in.ID, err)
		}
		var env map[string]string
		if err := json.Unmarshal([]byte(body), &env); err != nil {
			t.Fatalf("instance %s: /env: %v", in.ID, err)
		}
		_, port, _ := net.SplitHostPort(in.Address)
		want := map[string]string{"PORT": port, "K_SERVICE": "svc", "K_REVISION": rev.Key.Name, "K_CONFIGURATION": "cfg"}
		for _, e := range testEnv {
			want[e.Name] = e.Value
		}
		for k, v := range want {
			if got, ok := env[k]; !ok || got != v {
				t.Errorf("instance %s: env %s = %q (set: %v), want %q", in.ID, k, got, ok, v)
			}
		}
	}

	// Requests in flight on every instance when the scale goes down: each prints "sleep"
	// when it arrives.
	type result struct {
		addr string
		err  error
	}
	inflight := make(chan result, len(is))
	for _, in := range is {
		go func() {
			_, err := get(in.Address, "/sleep?d=500ms")
			inflight <- result{in.Address, err}
		}()
	}
	for _, in := range is {
		s.poll(t, "the in-flight request to reach "+in.ID, func() error {
			lines, err := rt.Logs(rev.Key, in.ID, 0)
			if err != nil {
				return err
			}
			if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, "sleep ") }) {
				return errors.New("no \"sleep\" line in its logs")
			}
			return nil
		})
	}

	// Meanwhile, GET every instance until the scale down is over.
	failures := map[string]int{}
	answers := map[string]int{}
	var mu sync.Mutex
	stopLoad := make(chan struct{})
	var load sync.WaitGroup
	for _, in := range is {
		load.Add(1)
		go func() {
			defer load.Done()
			for {
				select {
				case <-stopLoad:
					return
				default:
				}
				_, err := get(in.Address, "/")
				mu.Lock()
				if err != nil {
					failures[in.ID]++
				} else {
					answers[in.ID]++
				}
				mu.Unlock()
				if err != nil {
					select { // a stopped instance: no need to hammer it
					case <-stopLoad:
						return
					case <-time.After(5 * time.Millisecond):
					}
				}
			}
		}()
	}

	rec := record(rt, rev.Key)
	rev.Scale = 1
	if err := rt.Apply(ctx, rev); err != nil {
		t.Fatalf("Apply scale 1: %v", err)
	}
	after := s.waitFor(t, rt, rev.Key, "1 Ready instance", allReady(1))
	rec.finish()
	close(stopLoad)
	load.Wait()
	survivor := after[0]
	if !ids[survivor.ID] {
		t.Fatalf("the survivor %s is a new instance, not one of the three", survivor.ID)
	}
	if failures[survivor.ID] > 0 || answers[survivor.ID] == 0 {
		t.Errorf("the survivor %s failed %d of %d requests during the scale down", survivor.ID, failures[survivor.ID], failures[survivor.ID]+answers[survivor.ID])
	}
	for _, in := range is {
		if in.ID == survivor.ID {
			continue
		}
		ph := rec.phases[in.ID]
		if !slices.Contains(ph, runtime.Terminating) {
			t.Errorf("stopped instance %s was never seen Terminating (phases %v)", in.ID, ph)
		}
		if rec.seen[in.ID] {
			t.Errorf("stopped instance %s is still listed", in.ID)
		}
		s.poll(t, "stopped instance "+in.ID+" to stop listening", func() error { return refuses(in.Address) })
	}
	for range is {
		if r := <-inflight; r.err != nil {
			t.Errorf("a request in flight on %s during the scale down failed: %v", r.addr, r.err)
		}
	}
	if _, err := get(survivor.Address, "/"); err != nil {
		t.Errorf("survivor: %v", err)
	}

	rev.Scale = 0
	if err := rt.Apply(ctx, rev); err != nil {
		t.Fatalf("Apply scale 0: %v", err)
	}
	s.waitFor(t, rt, rev.Key, "no instances", func(is []runtime.Instance) bool { return is != nil && len(is) == 0 })
	s.poll(t, "the last instance to stop listening", func() error { return refuses(survivor.Address) })
}

// crashRestart: an instance that exits is restarted, counted, and Ready again.
func (s *suite) crashRestart(t *testing.T) {
	rt := s.newRuntime(t)
	ctx := s.ctx(t)
	rev := s.revision("crash-00001", 1)
	if err := rt.Apply(ctx, rev); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	first := s.waitFor(t, rt, rev.Key, "Ready", allReady(1))[0]
	if first.Restarts != 0 {
		t.Errorf("a new instance has Restarts %d", first.Restarts)
	}
	prev := first
	for n := 1; n <= 2; n++ {
		get(prev.Address, "/crash") // it exits while answering
		now := s.waitFor(t, rt, rev.Key, fmt.Sprintf("restart %d and Ready", n), func(is []runtime.Instance) bool {
			return len(is) == 1 && is[0].Restarts >= n && is[0].Phase == runtime.Ready
		})[0]
		if now.ID != first.ID {
			t.Fatalf("the crashed instance %s was replaced by %s instead of restarted", first.ID, now.ID)
		}
		if now.Restarts != n {
			t.Errorf("after crash %d Restarts is %d", n, now.Restarts)
		}
		if !now.Started.After(prev.Started) {
			t.Errorf("Started did not advance at restart %d: %v then %v", n, prev.Started, now.Started)
		}
		if _, err := get(now.Address, "/"); err != nil {
			t.Fatalf("after restart %d: %v", n, err)
		}
		prev = now
	}
}

// unrunnable: an image the runtime cannot run is reported, not panicked on.
func (s *suite) unrunnable(t *testing.T) {
	rt := s.newRuntime(t)
	ctx := s.ctx(t)
	rev := s.revision("unrunnable-00001", 1)
	rev.Container.Image = s.f.UnrunnableImage
	err := rt.Apply(ctx, rev)
	if err != nil {
		if !errors.Is(err, runtime.ErrUnrunnable) {
			t.Fatalf("Apply of %q: %v, which does not wrap ErrUnrunnable", rev.Container.Image, err)
		}
	} else {
		is := s.waitFor(t, rt, rev.Key, "a Failed instance with a Reason", func(is []runtime.Instance) bool {
			return len(is) == 1 && is[0].Phase == runtime.Failed && is[0].Reason != ""
		})
		t.Logf("instance: %s", describe(is))
	}
	for _, in := range rt.Instances(rev.Key) {
		if in.Phase == runtime.Ready {
			t.Errorf("an instance of an unrunnable image is Ready:%s", describe(rt.Instances(rev.Key)))
		}
		if in.Phase == runtime.Failed && in.Reason == "" {
			t.Errorf("a Failed instance has no Reason:%s", describe(rt.Instances(rev.Key)))
		}
	}
	rev.Scale = 2 // applying again is no more of a problem
	if err := rt.Apply(ctx, rev); err != nil && !errors.Is(err, runtime.ErrUnrunnable) {
		t.Errorf("second Apply: %v", err)
	}
	if err := rt.Remove(ctx, rev.Key); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if is := rt.Instances(rev.Key); is != nil {
		t.Errorf("after Remove, instances:%s", describe(is))
	}
}

// logs: Logs returns what the instance printed.
func (s *suite) logs(t *testing.T) {
	rt := s.newRuntime(t)
	ctx := s.ctx(t)
	rev := s.revision("logs-00001", 1)
	if err := rt.Apply(ctx, rev); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	in := s.waitFor(t, rt, rev.Key, "Ready", allReady(1))[0]
	if _, err := get(in.Address, "/log?msg=hello-from-the-suite"); err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(in.Address)
	s.poll(t, "the instance's lines in Logs", func() error {
		lines, err := rt.Logs(rev.Key, in.ID, 100)
		if err != nil {
			return err
		}
		start := slices.Index(lines, "server listening on :"+port)
		hello := slices.Index(lines, "hello-from-the-suite")
		if start < 0 || hello < start {
			return fmt.Errorf("want the start line, then hello-from-the-suite; got %q", lines)
		}
		return nil
	})
	if _, err := get(in.Address, "/log?msg=last-line"); err != nil {
		t.Fatal(err)
	}
	s.poll(t, "the last line", func() error {
		lines, err := rt.Logs(rev.Key, in.ID, 1)
		if err != nil {
			return err
		}
		if len(lines) != 1 || lines[0] != "last-line" {
			return fmt.Errorf("Logs(1) = %q, want [last-line]", lines)
		}
		return nil
	})
	if _, err := rt.Logs(rev.Key, "no-such-instance", 10); !errors.Is(err, runtime.ErrUnknownInstance) {
		t.Errorf("Logs of an unknown instance: %v, want ErrUnknownInstance", err)
	}
	if _, err := rt.Logs(runtime.RevisionKey{Namespace: "conformance", Name: "nope"}, in.ID, 10); !errors.Is(err, runtime.ErrUnknownInstance) {
		t.Errorf("Logs of an unknown revision: %v, want ErrUnknownInstance", err)
	}
}

// changed: every change Instances shows is preceded by the closing of the channel Changed
// returned before it.
func (s *suite) changed(t *testing.T) {
	rt := s.newRuntime(t)
	ctx := s.ctx(t)
	rev := s.revision("changed-00001", 2)

	var violations []string
	changes := 0
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			ch := rt.Changed()
			before := rt.Instances(rev.Key)
			select {
			case <-tick.C:
			case <-stop:
				return
			}
			after := rt.Instances(rev.Key)
			if !equalInstances(before, after) {
				changes++
				select {
				case <-ch:
				default:
					violations = append(violations, fmt.Sprintf("from%s\nto%s", describe(before), describe(after)))
				}
			}
		}
	}()

	ch := rt.Changed()
	if err := rt.Apply(ctx, rev); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	select {
	case <-ch:
	case <-time.After(s.f.Timeout):
		t.Fatal("Changed did not fire after Apply made instances")
	}
	is := s.waitFor(t, rt, rev.Key, "2 Ready", allReady(2))
	get(is[0].Address, "/crash")
	s.waitFor(t, rt, rev.Key, "a restart", func(is []runtime.Instance) bool {
		return allReady(2)(is) && (is[0].Restarts+is[1].Restarts) >= 1
	})
	rev.Scale = 0
	if err := rt.Apply(ctx, rev); err != nil {
		t.Fatalf("Apply scale 0: %v", err)
	}
	s.waitFor(t, rt, rev.Key, "none", func(is []runtime.Instance) bool { return is != nil && len(is) == 0 })
	ch = rt.Changed()
	if err := rt.Remove(ctx, rev.Key); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	select {
	case <-ch:
	default:
		t.Error("Changed did not fire at Remove")
	}
	close(stop)
	<-done
	for _, v := range violations {
		t.Errorf("Instances changed without Changed firing:\n%s", v)
	}
	if changes < 3 {
		t.Errorf("the checker saw only %d changes", changes)
	}
}

func equalInstances(a, b []runtime.Instance) bool {
	return (a == nil) == (b == nil) && slices.EqualFunc(a, b, func(x, y runtime.Instance) bool {
		return x.ID == y.ID && x.Phase == y.Phase && x.Address == y.Address && x.Restarts == y.Restarts &&
			x.Reason == y.Reason && x.Message == y.Message && x.Started.Equal(y.Started)
	})
}

// remove: Remove stops every instance and forgets the revision.
func (s *suite) remove(t *testing.T) {
	rt := s.newRuntime(t)
	ctx := s.ctx(t)
	if err := rt.Remove(ctx, runtime.RevisionKey{Namespace: "conformance", Name: "never-applied"}); err != nil {
		t.Errorf("Remove of an unknown revision: %v", err)
	}
	rev := s.revision("remove-00001", 2)
	if err := rt.Apply(ctx, rev); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	is := s.waitFor(t, rt, rev.Key, "2 Ready", allReady(2))
	if err := rt.Remove(ctx, rev.Key); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if got := rt.Instances(rev.Key); got != nil {
		t.Errorf("Instances after Remove:%s", describe(got))
	}
	for _, in := range is {
		if err := refuses(in.Address); err != nil {
			t.Errorf("after Remove returned: %v", err)
		}
	}
	rev.Scale = 1 // it can come back
	if err := rt.Apply(ctx, rev); err != nil {
		t.Fatalf("Apply after Remove: %v", err)
	}
	s.waitFor(t, rt, rev.Key, "Ready again", allReady(1))
}

// close: Close stops everything.
func (s *suite) close(t *testing.T) {
	rt := s.newRuntime(t)
	ctx := s.ctx(t)
	var addrs []string
	for i := range 2 {
		rev := s.revision("close-0000"+strconv.Itoa(i+1), 1)
		if err := rt.Apply(ctx, rev); err != nil {
			t.Fatalf("Apply: %v", err)
		}
		addrs = append(addrs, s.waitFor(t, rt, rev.Key, "Ready", allReady(1))[0].Address)
	}
	if err := rt.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for _, a := range addrs {
		if err := refuses(a); err != nil {
			t.Errorf("after Close returned: %v", err)
		}
	}
	if err := rt.Apply(ctx, s.revision("close-00003", 1)); err == nil {
		t.Error("Apply after Close succeeded")
	}
}
