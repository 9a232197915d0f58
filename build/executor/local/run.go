package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/eddyplatform/eddy/build/executor"
)

// artifactName is the name of the file in the workspace that ARTIFACT names.
const artifactName = ".eddy-artifact"

// The causes of a run's context ending early.
var (
	errCancelled = errors.New("build cancelled")
	errTimeout   = errors.New("build timed out")
)

// run is one build. Its fields are set by newRun and not changed after, except those
// guarded by mu.
type run struct {
	e         *Executor
	req       executor.Request
	log       *slog.Logger
	dir       string // the run's directory
	workspace string // dir/workspace
	logDir    string // dir/logs
	names     []string
	logs      []*stepLog
	secrets   [][]byte // what must never appear in messages

	ctx    context.Context
	cancel context.CancelCauseFunc
	done   chan struct{}

	mu     sync.Mutex
	steps  []executor.StepState
	result executor.Result
	closed bool
}

func newRun(e *Executor, req executor.Request, dir string) *run {
	r := &run{
		e:         e,
		req:       req,
		log:       e.log.With("build", req.ID.String(), "uid", req.ID.UID),
		dir:       dir,
		workspace: filepath.Join(dir, "workspace"),
		logDir:    filepath.Join(dir, "logs"),
		done:      make(chan struct{}),
	}
	r.ctx, r.cancel = context.WithCancelCause(context.Background())
	for i, c := range req.Steps {
		name := executor.StepName(c, i)
		r.names = append(r.names, name)
		r.steps = append(r.steps, executor.StepState{Name: name, Index: i, Phase: executor.StepWaiting})
		r.logs = append(r.logs, newStepLog(filepath.Join(r.logDir, strconv.Itoa(i)+".log"), e.cfg.MaxLogBytes))
	}
	for _, s := range [][]byte{req.Credentials.GitPassword, req.Credentials.SSHKey} {
		if len(s) > 0 {
			r.secrets = append(r.secrets, s)
		}
	}
	return r
}

// Done implements executor.Run.
func (r *run) Done() <-chan struct{} { return r.done }

// Result implements executor.Run.
func (r *run) Result() executor.Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.result
}

// Wait implements executor.Run.
func (r *run) Wait(ctx context.Context) (executor.Result, error) {
	select {
	case <-r.done:
		return r.Result(), nil
	case <-ctx.Done():
		return executor.Result{}, ctx.Err()
	}
}

// Steps implements executor.Run.
func (r *run) Steps() []executor.StepState {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]executor.StepState, len(r.steps))
	copy(out, r.steps)
	return out
}

// Cancel implements executor.Run.
func (r *run) Cancel() { r.cancel(errCancelled) }

// Close implements executor.Run.
func (r *run) Close() error {
	r.Cancel()
	<-r.done
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.mu.Unlock()
	for _, l := range r.logs {
		l.release()
	}
	if r.e.cfg.KeepWorkspaces {
		return os.RemoveAll(r.logDir)
	}
	return os.RemoveAll(r.dir)
}

// stepIndex returns the index of the named step.
func (r *run) stepIndex(step string) (int, error) {
	for i, n := range r.names {
		if n == step {
			return i, nil
		}
	}
	return 0, fmt.Errorf("build %s: %w %q", r.req.ID, executor.ErrUnknownStep, step)
}

// Logs implements executor.Run.
func (r *run) Logs(step string, tail int) ([]string, error) {
	i, err := r.stepIndex(step)
	if err != nil {
		return nil, err
	}
	return r.logs[i].lines(tail)
}

// LogsFollow implements executor.Run.
func (r *run) LogsFollow(ctx context.Context, step string, tail int, w io.Writer) error {
	i, err := r.stepIndex(step)
	if err != nil {
		return err
	}
	return r.logs[i].follow(ctx, tail, w, r.done)
}

// setStep changes step i's state and reports it to Request.OnStep. Only the run's goroutine
// calls it, so OnStep calls never overlap.
func (r *run) setStep(i int, f func(*executor.StepState)) {
	r.mu.Lock()
	f(&r.steps[i])
	s := r.steps[i]
	r.mu.Unlock()
	if r.req.OnStep != nil {
		r.req.OnStep(s)
	}
}

// execute runs the build and records its result.
func (r *run) execute() {
	start := r.e.cfg.Now()
	if r.req.Timeout > 0 {
		var cancel context.CancelFunc
		r.ctx, cancel = context.WithTimeoutCause(r.ctx, r.req.Timeout, errTimeout)
		defer cancel()
	}
	defer r.cancel(nil)
	r.log.Info("build started", "steps", len(r.req.Steps), "dir", r.dir)
	res := r.runAll()
	res.Message = redact(res.Message, r.secrets)
	res.StartTime, res.CompletionTime = start, r.e.cfg.Now()
	res.Workspace = r.workspace
	if !r.e.cfg.KeepWorkspaces {
		if err := os.RemoveAll(r.workspace); err != nil {
			r.log.Warn("removing the workspace", "error", err)
		}
	}
	os.RemoveAll(filepath.Join(r.dir, "git"))
	attrs := []any{"reason", res.Reason, "duration", res.CompletionTime.Sub(start).Round(time.Millisecond)}
	if res.FailedStep != "" {
		attrs = append(attrs, "step", res.FailedStep, "exitCode", res.ExitCode)
	}
	if res.Commit != "" {
		attrs = append(attrs, "commit", res.Commit)
	}
	if res.Artifact != nil {
		attrs = append(attrs, "artifact", res.Artifact.Digest)
	}
	if !res.Succeeded {
		attrs = append(attrs, "message", res.Message)
	}
	r.log.Info("build ended", attrs...)
	r.mu.Lock()
	r.result = res
	r.mu.Unlock()
	close(r.done)
}

// stopped returns the result of a run whose context ended, with what was going on then.
func (r *run) stopped(what string) executor.Result {
	if context.Cause(r.ctx) == errTimeout {
		return executor.Result{Reason: executor.ReasonTimeout, Message: fmt.Sprintf("build timed out after %s %s", r.req.Timeout, what)}
	}
	return executor.Result{Reason: executor.ReasonCancelled, Message: "build cancelled " + what}
}

func (r *run) runAll() executor.Result {
	plans := make([]*stepPlan, len(r.req.Steps))
	for i, c := range r.req.Steps {
		p, why := r.plan(c)
		if why != "" {
			msg := fmt.Sprintf("step %q cannot run: %s", r.names[i], why)
			r.setStep(i, func(s *executor.StepState) { s.Reason, s.Message = executor.StepReasonNotRunnable, msg })
			return executor.Result{Reason: executor.ReasonNotRunnable, FailedStep: r.names[i], Message: msg}
		}
		plans[i] = p
	}
	for _, d := range []string{r.workspace, r.logDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return executor.Result{Reason: executor.ReasonFailed, Message: "preparing the workspace: " + err.Error()}
		}
	}
	var res executor.Result
	if err := r.fetchSource(&res); err != nil {
		if r.ctx.Err() != nil {
			out := r.stopped("while fetching the source")
			out.Commit = res.Commit
			return out
		}
		res.Reason, res.Message = executor.ReasonSourceFailed, err.Error()
		return res
	}
	artifact := filepath.Join(r.workspace, artifactName)
	for i, p := range plans {
		if r.ctx.Err() != nil {
			out := r.stopped("before step " + strconv.Quote(r.names[i]) + " started")
			out.Commit = res.Commit
			return out
		}
		st := r.runStep(i, p, artifact)
		if st.Reason == executor.StepReasonCompleted {
			continue
		}
		res.FailedStep, res.ExitCode = r.names[i], st.ExitCode
		switch st.Reason {
		case executor.StepReasonTimeout, executor.StepReasonCancelled:
			out := r.stopped(fmt.Sprintf("while step %q ran (killed, exit code %d)", r.names[i], st.ExitCode))
			res.Reason, res.Message = out.Reason, out.Message
		case executor.StepReasonStartError:
			res.Reason, res.Message = executor.ReasonFailed, st.Message
		default:
			res.Reason = executor.ReasonFailed
			res.Message = fmt.Sprintf("step %q exited with code %d", r.names[i], st.ExitCode)
		}
		return res
	}
	fi, err := os.Lstat(artifact)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		res.Reason, res.Message = executor.ReasonFailed, "reading the artifact: "+err.Error()
		return res
	case !fi.Mode().IsRegular():
		res.Reason, res.Message = executor.ReasonFailed, "$ARTIFACT is not a regular file"
		return res
	default:
		a, err := r.e.StoreArtifact(artifact)
		if err != nil {
			res.Reason, res.Message = executor.ReasonFailed, "storing the artifact: "+err.Error()
			return res
		}
		res.Artifact = &a
	}
	res.Succeeded, res.Reason = true, executor.ReasonSucceeded
	res.Message = fmt.Sprintf("%d steps succeeded", len(plans))
	if len(plans) == 1 {
		res.Message = "1 step succeeded"
	}
	return res
}

// fetchSource fills the workspace from the request's source, setting res.Commit.
func (r *run) fetchSource(res *executor.Result) error {
	switch src := r.req.Source; {
	case src.Git != nil:
		commit, err := r.fetchGit(src.Git)
		res.Commit = commit
		return err
	case src.Local != nil:
		return copyTree(src.Local.Path, r.workspace)
	}
	return nil
}

// envLine is the form of one of a step's environment variables.
func envLine(name, value string) string { return name + "=" + value }

// stepEnv returns a step's environment: the inherited variables, Request.Env, the step's
// env (each value with $(VAR) references expanded from the variables before it), then
// WORKSPACE and ARTIFACT.
func (r *run) stepEnv(c corev1.Container, artifact string) []string {
	var names []string
	values := map[string]string{}
	set := func(name, value string) {
		if _, ok := values[name]; !ok {
			names = append(names, name)
		}
		values[name] = value
	}
	for _, name := range r.e.cfg.InheritEnv {
		if v, ok := os.LookupEnv(name); ok {
			set(name, v)
		}
	}
	fixed := [][2]string{{"WORKSPACE", r.workspace}, {"ARTIFACT", artifact}}
	for _, kv := range fixed {
		set(kv[0], kv[1])
	}
	lookup := func(name string) (string, bool) { v, ok := values[name]; return v, ok }
	for _, env := range [][]corev1.EnvVar{r.req.Env, c.Env} {
		for _, ev := range env {
			set(ev.Name, expand(ev.Value, lookup))
		}
	}
	for _, kv := range fixed {
		set(kv[0], kv[1])
	}
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = envLine(n, values[n])
	}
	return out
}
