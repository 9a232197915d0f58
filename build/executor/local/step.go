package local

import (
	"context"
	"errors"
	"fmt"
	"github.com/eddyplatform/eddy/internal/kubeexpand"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/eddyplatform/eddy/build/builtin"
	"github.com/eddyplatform/eddy/build/executor"
)

// stepPlan is how a step runs: its command line before $(VAR) expansion.
type stepPlan struct {
	argv []string
}

// plan works out how step c runs, or returns why it cannot run here.
func (r *run) plan(c corev1.Container) (*stepPlan, string) {
	if len(c.EnvFrom) > 0 {
		return nil, "envFrom is not supported by the local executor"
	}
	for _, ev := range c.Env {
		if ev.ValueFrom != nil {
			return nil, fmt.Sprintf("env %s uses valueFrom, which the local executor does not support", ev.Name)
		}
	}
	for _, ev := range r.req.Env {
		if ev.ValueFrom != nil {
			return nil, fmt.Sprintf("build env %s uses valueFrom, which the local executor does not support", ev.Name)
		}
	}
	if len(c.Command) > 0 {
		return &stepPlan{argv: slices.Concat(c.Command, c.Args)}, ""
	}
	if b, ok := builtin.LookupBuilder(c.Image); ok {
		cmd := b.Command
		if b.Image == builtin.GoImage {
			cmd = []string{r.e.cfg.GoCommand}
		}
		return &stepPlan{argv: slices.Concat(cmd, c.Args)}, ""
	}
	var names []string
	for _, b := range builtin.Builders() {
		names = append(names, b.Image)
	}
	if c.Image == "" {
		return nil, "it has neither a command nor an image"
	}
	return nil, fmt.Sprintf("image %q is not runnable here: the local executor runs no container images, only steps "+
		"that have a command, or whose image is a built-in builder (%s)", c.Image, strings.Join(names, ", "))
}

// workingDir returns the directory step c runs in.
func (r *run) workingDir(c corev1.Container) string {
	wd := c.WorkingDir
	switch {
	case wd == "":
		return r.workspace
	case wd == "/workspace" || strings.HasPrefix(wd, "/workspace/"):
		return filepath.Join(r.workspace, strings.TrimPrefix(wd, "/workspace"))
	case filepath.IsAbs(wd):
		return filepath.Clean(wd)
	}
	return filepath.Join(r.workspace, wd)
}

// runStep runs step i and returns its final state.
func (r *run) runStep(i int, p *stepPlan, artifact string) executor.StepState {
	c := r.req.Steps[i]
	env := r.stepEnv(c, artifact)
	lookup := envLookup(env)
	argv := make([]string, len(p.argv))
	for j, a := range p.argv {
		argv[j] = expand(a, lookup)
	}
	dir := r.workingDir(c)
	log := r.logs[i]
	started := r.e.cfg.Now()
	r.setStep(i, func(s *executor.StepState) { s.Phase, s.StartedAt = executor.StepRunning, started })
	finish := func(reason, msg string, code int) executor.StepState {
		log.finish()
		now := r.e.cfg.Now()
		r.setStep(i, func(s *executor.StepState) {
			s.Phase, s.Reason, s.Message, s.ExitCode, s.FinishedAt = executor.StepTerminated, reason, msg, code, now
		})
		r.log.Info("build step ended", "step", r.names[i], "reason", reason, "exitCode", code,
			"duration", now.Sub(started).Round(time.Millisecond))
		return r.Steps()[i]
	}
	if err := log.open(); err != nil {
		return finish(executor.StepReasonStartError, fmt.Sprintf("step %q: opening its log: %v", r.names[i], err), 127)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return finish(executor.StepReasonStartError, fmt.Sprintf("step %q: working directory: %v", r.names[i], err), 127)
	}
	pathEnv, _ := lookup("PATH")
	path, err := lookPath(argv[0], pathEnv, dir)
	if err != nil {
		return finish(executor.StepReasonStartError, fmt.Sprintf("step %q: %v", r.names[i], err), 127)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return finish(executor.StepReasonStartError, fmt.Sprintf("step %q: %v", r.names[i], err), 127)
	}
	cmd := exec.Command(path, argv[1:]...)
	cmd.Args[0] = argv[0]
	cmd.Env, cmd.Dir = env, dir
	cmd.Stdout, cmd.Stderr = pw, pw
	err = r.e.spawner.start(cmd)
	pw.Close()
	if err != nil {
		pr.Close()
		return finish(executor.StepReasonStartError, fmt.Sprintf("step %q could not start: %v", r.names[i], err), 127)
	}
	r.log.Info("build step started", "step", r.names[i], "pid", cmd.Process.Pid, "command", filepath.Base(argv[0]))
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		io.Copy(log, pr)
	}()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var stoppedBy error
	select {
	case err = <-exited:
	case <-r.ctx.Done():
		stoppedBy = r.ctx.Err()
		killGroup(cmd.Process, false)
		grace := time.NewTimer(r.e.cfg.KillGrace)
		select {
		case err = <-exited:
		case <-grace.C:
			killGroup(cmd.Process, true)
			err = <-exited
		}
		grace.Stop()
	}
	// Whatever the step left running in its group goes with it.
	killGroup(cmd.Process, true)
	drain := time.NewTimer(2 * time.Second)
	select {
	case <-copied:
	case <-drain.C:
		// A process that left the group still holds the pipe: stop reading it.
		pr.Close()
		<-copied
	}
	drain.Stop()
	pr.Close()
	code := exitCode(cmd.ProcessState)
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		r.log.Warn("waiting for a build step", "step", r.names[i], "error", err)
	}
	switch {
	case stoppedBy != nil && context.Cause(r.ctx) == errTimeout:
		return finish(executor.StepReasonTimeout, "killed: the build timed out", code)
	case stoppedBy != nil:
		return finish(executor.StepReasonCancelled, "killed: the build was cancelled", code)
	case code == 0:
		return finish(executor.StepReasonCompleted, "", 0)
	}
	return finish(executor.StepReasonError, fmt.Sprintf("exited with code %d", code), code)
}

// envLookup returns a lookup function over "NAME=value" lines; the last one of a name wins.
func envLookup(env []string) func(string) (string, bool) {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return func(name string) (string, bool) { v, ok := m[name]; return v, ok }
}

// lookPath finds the executable file a step's command names: as is if it has a slash
// (relative to dir), else in the step's PATH.
func lookPath(file, path, dir string) (string, error) {
	if file == "" {
		return "", errors.New("empty command")
	}
	if strings.Contains(file, "/") {
		p := file
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		if err := isExecutable(p); err != nil {
			return "", fmt.Errorf("command %s: %w", file, err)
		}
		return p, nil
	}
	for _, d := range filepath.SplitList(path) {
		if d == "" {
			d = "."
		}
		if !filepath.IsAbs(d) {
			d = filepath.Join(dir, d)
		}
		p := filepath.Join(d, file)
		if isExecutable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("command %s not found in the step's PATH", file)
}

func isExecutable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return errors.Unwrap(err)
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return errors.New("not an executable file")
	}
	return nil
}

// expand replaces $(VAR) references as Kubernetes does (see package kubeexpand).
var expand = kubeexpand.Expand
