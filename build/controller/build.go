package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	apibuild "github.com/eddyplatform/eddy/api/build"
	"github.com/eddyplatform/eddy/build/builtin"
	"github.com/eddyplatform/eddy/build/executor"
	"github.com/eddyplatform/eddy/control/reconciler"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Reasons of a Build's Succeeded condition that this controller adds to the API's.
const (
	// ReasonInterrupted: Eddy stopped while the build ran (False); builds are not re-run.
	ReasonInterrupted = "Interrupted"
	// ReasonNotRunnable: a step cannot run on the executor (False).
	ReasonNotRunnable = "NotRunnable"
	// ReasonInvalidTemplate: the template could not be applied (False).
	ReasonInvalidTemplate = "InvalidTemplate"
	// ReasonStartFailed: the executor refused the build (False).
	ReasonStartFailed = "StartFailed"
)

// buildRun is a build this controller started.
type buildRun struct {
	key, uid string
	run      executor.Run
	notify   chan struct{} // a step changed; capacity 1
	final    bool          // the final status was written; guarded by Builds.mu
}

// poke tells the status writer that a step changed, without blocking.
func (r *buildRun) poke(executor.StepState) {
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

// reconcileBuild starts a new Build, cancels one that asks for it, and cancels the run of a
// Build that is gone. A running build's status is written by its watcher, not here.
func (s *Builds) reconcileBuild(ctx context.Context, key string) error {
	ns, name := splitKey(key)
	var b apibuild.Build
	if err := s.cfg.Client.Get(ctx, ns, name, &b); err != nil {
		if apierrors.IsNotFound(err) {
			s.drop(key, "")
			return nil
		}
		return err
	}
	s.mu.Lock()
	r := s.runs[key]
	s.mu.Unlock()
	if r != nil && r.uid != string(b.UID) { // deleted and created again
		s.drop(key, r.uid)
		r = nil
	}
	if r != nil {
		if b.IsCancelled() {
			r.run.Cancel()
		}
		select {
		case <-r.run.Done():
			s.mu.Lock()
			final := r.final
			s.mu.Unlock()
			if !final {
				return s.writeStatus(ctx, r, true)
			}
		default:
		}
		return nil
	}
	if b.Status.IsDone() {
		return nil
	}

	orig := reconciler.DeepCopy(&b)
	now := metav1.NewTime(s.cfg.Now())
	st := &b.Status
	st.InitializeConditions()
	fail := func(reason, format string, args ...any) error {
		st.MarkFailed(reason, format, args...)
		st.CompletionTime = &now
		_, err := s.cfg.Client.UpdateStatusIfChanged(ctx, orig, &b)
		return err
	}
	if st.StartTime != nil {
		// Started by an earlier Eddy process, which stopped before the build ended.
		return fail(ReasonInterrupted, "Eddy stopped while the build was running; a build runs once: create a new Build to run it again")
	}
	if b.IsCancelled() {
		st.MarkCancelled()
		st.CompletionTime = &now
		_, err := s.cfg.Client.UpdateStatusIfChanged(ctx, orig, &b)
		return err
	}
	steps, reason, msg, err := s.resolveSteps(ctx, &b)
	if err != nil {
		return err
	}
	if reason != "" {
		return fail(reason, "%s", msg)
	}
	creds, err := s.credentials(ctx, &b)
	if err != nil {
		return err
	}
	req := executor.Request{
		ID:          executor.ID{Namespace: ns, Name: name, UID: string(b.UID)},
		Steps:       steps,
		Timeout:     b.Timeout(),
		Credentials: creds,
	}
	if src := b.Spec.Source; src != nil {
		switch {
		case src.Git != nil:
			req.Source.Git = &executor.GitSource{URL: src.Git.URL, Revision: src.Git.Revision}
		case src.Local != nil:
			req.Source.Local = &executor.LocalSource{Path: src.Local.Path}
		}
		if src.SubPath != "" { // steps without a workingDir run in the sub-path
			for i := range req.Steps {
				if req.Steps[i].WorkingDir == "" {
					req.Steps[i].WorkingDir = src.SubPath
				}
			}
		}
	}

	// Claim the build before anything runs: a Build with a startTime is never started again.
	st.Builder = apibuild.BuilderLocal
	st.StartTime = &now
	st.MarkBuilding("starting")
	for i := range steps {
		st.SetStepState(steps[i].Name, corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{}})
	}
	if _, err := s.cfg.Client.UpdateStatusIfChanged(ctx, orig, &b); err != nil {
		return err
	}
	r = &buildRun{key: key, uid: string(b.UID), notify: make(chan struct{}, 1)}
	req.OnStep = r.poke
	run, err := s.cfg.Executor.Start(ctx, req)
	if err != nil {
		orig = reconciler.DeepCopy(&b)
		return fail(ReasonStartFailed, "the executor did not start the build: %v", err)
	}
	r.run = run
	s.mu.Lock()
	s.runs[key] = r
	s.mu.Unlock()
	s.log.Info("build started", "build", key, "steps", len(steps))
	s.wg.Add(1)
	go s.watch(r)
	return nil
}

// resolveSteps returns the steps a Build runs, each named, or the reason and message it
// cannot run for. err is an error to retry.
func (s *Builds) resolveSteps(ctx context.Context, b *apibuild.Build) (steps []corev1.Container, reason, msg string, err error) {
	if t := b.Spec.Template; t != nil {
		var spec *apibuild.BuildTemplateSpec
		switch t.Kind {
		case apibuild.ClusterBuildTemplateKind:
			var cbt apibuild.ClusterBuildTemplate
			err := s.cfg.Client.Get(ctx, "", t.Name, &cbt)
			switch {
			case err == nil:
				spec = &cbt.Spec
			case !apierrors.IsNotFound(err):
				return nil, "", "", err
			default:
				if bt, ok := builtin.Lookup(t.Name); ok { // not created yet
					s := builtinSpec(bt)
					spec = &s
				}
			}
		default:
			var bt apibuild.BuildTemplate
			err := s.cfg.Client.Get(ctx, b.Namespace, t.Name, &bt)
			switch {
			case err == nil:
				spec = &bt.Spec
			case !apierrors.IsNotFound(err):
				return nil, "", "", err
			}
		}
		if spec == nil {
			return nil, apibuild.ReasonTemplateNotFound, fmt.Sprintf("%s %q not found", t.Kind, t.Name), nil
		}
		steps, err = apibuild.ApplyTemplate(spec, t.Arguments, t.Env)
		var missing *apibuild.MissingParametersError
		switch {
		case errors.As(err, &missing):
			return nil, apibuild.ReasonUnsatisfiedParameter, err.Error(), nil
		case err != nil:
			return nil, ReasonInvalidTemplate, err.Error(), nil
		}
	} else {
		for i := range b.Spec.Steps {
			steps = append(steps, *b.Spec.Steps[i].DeepCopy())
		}
	}
	for i := range steps {
		steps[i].Name = apibuild.StepName(i, &steps[i])
	}
	return steps, "", "", nil
}

// watch writes a run's status as its steps change, at most once per StatusInterval, and
// its final status when it ends.
func (s *Builds) watch(r *buildRun) {
	defer s.wg.Done()
	var last time.Time
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-r.run.Done():
			s.finish(r)
			return
		case <-r.notify:
		}
		if wait := s.cfg.StatusInterval - time.Since(last); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-s.ctx.Done():
				t.Stop()
				return
			case <-r.run.Done():
				t.Stop()
				s.finish(r)
				return
			case <-t.C:
			}
		}
		last = time.Now()
		if err := s.writeStatus(s.ctx, r, false); err != nil && s.ctx.Err() == nil {
			s.log.Warn("writing a build's status", "build", r.key, "err", err)
		}
	}
}

// finish writes the final status of an ended run, or has the reconciler try again.
func (s *Builds) finish(r *buildRun) {
	if err := s.writeStatus(s.ctx, r, true); err != nil && s.ctx.Err() == nil {
		s.log.Warn("writing a build's final status", "build", r.key, "err", err)
		s.buildCtl.EnqueueAfter(r.key, time.Second)
	}
}

// writeStatus writes the run's state into its Build's status, retrying conflicts. With final,
// the run has ended and its result is written; the run is then kept for its logs.
func (s *Builds) writeStatus(ctx context.Context, r *buildRun, final bool) error {
	ns, name := splitKey(r.key)
	var err error
	for range 5 {
		var b apibuild.Build
		if err = s.cfg.Client.Get(ctx, ns, name, &b); err != nil {
			if apierrors.IsNotFound(err) {
				return nil
			}
			return err
		}
		if string(b.UID) != r.uid {
			return nil
		}
		if !b.Status.IsDone() {
			orig := reconciler.DeepCopy(&b)
			s.applyRun(&b, r, final)
			_, err = s.cfg.Client.UpdateStatusIfChanged(ctx, orig, &b)
			if apierrors.IsConflict(errors.Unwrap(err)) || apierrors.IsConflict(err) {
				continue
			}
			if err != nil {
				return err
			}
		}
		if final {
			s.markFinal(r)
		}
		return nil
	}
	return err
}

// markFinal records that r's final status is written and releases the logs of the oldest
// finished runs beyond KeepFinished.
func (s *Builds) markFinal(r *buildRun) {
	s.mu.Lock()
	var release []*buildRun
	if !r.final && s.runs[r.key] == r {
		r.final = true
		s.finished = append(s.finished, r.key)
		for len(s.finished) > s.cfg.KeepFinished {
			k := s.finished[0]
			s.finished = s.finished[1:]
			if old := s.runs[k]; old != nil && old.final {
				delete(s.runs, k)
				release = append(release, old)
			}
		}
	}
	s.mu.Unlock()
	for _, old := range release {
		old.run.Close()
	}
	if r.final {
		res := r.run.Result()
		s.log.Info("build ended", "build", r.key, "reason", res.Reason, "step", res.FailedStep)
	}
}

// applyRun sets b's status from the run: its steps' states, and with final its result.
func (s *Builds) applyRun(b *apibuild.Build, r *buildRun, final bool) {
	st := &b.Status
	st.InitializeConditions()
	st.Builder = apibuild.BuilderLocal
	steps := r.run.Steps()
	running := ""
	for _, step := range steps {
		st.SetStepState(step.Name, step.ContainerState())
		if step.Phase == executor.StepRunning {
			running = step.Name
		}
	}
	if !final {
		if running != "" {
			st.MarkBuilding("step %q is running", running)
		} else {
			st.MarkBuilding("preparing the workspace")
		}
		return
	}
	res := r.run.Result()
	if !res.StartTime.IsZero() && st.StartTime == nil {
		st.StartTime = &metav1.Time{Time: res.StartTime}
	}
	end := res.CompletionTime
	if end.IsZero() {
		end = s.cfg.Now()
	}
	st.CompletionTime = &metav1.Time{Time: end}
	switch res.Reason {
	case executor.ReasonSucceeded:
		if res.Commit != "" {
			st.MarkSucceeded("every step succeeded on commit %s", res.Commit)
		} else {
			st.MarkSucceeded("every step succeeded")
		}
		if a := res.Artifact; a != nil {
			st.Artifact = &apibuild.Artifact{Digest: a.Digest, URI: apibuild.ArtifactURI(b.Namespace, b.Name), Size: a.Size}
		}
	case executor.ReasonTimeout:
		st.MarkTimeout(b.Timeout())
	case executor.ReasonCancelled:
		st.MarkCancelled()
	case executor.ReasonSourceFailed:
		st.MarkFailed(apibuild.ReasonSourceFailed, "%s", res.Message)
	case executor.ReasonNotRunnable:
		st.MarkFailed(ReasonNotRunnable, "%s", res.Message)
	default:
		if res.FailedStep != "" {
			st.MarkStepFailed(res.FailedStep, int32(res.ExitCode), "")
		} else {
			st.MarkFailed(apibuild.ReasonBuildFailed, "%s", res.Message)
		}
	}
}

// drop forgets the run of key (of that UID, or any when uid is empty), cancelling it and
// releasing its logs.
func (s *Builds) drop(key, uid string) {
	s.mu.Lock()
	r := s.runs[key]
	if r == nil || (uid != "" && r.uid != uid) {
		s.mu.Unlock()
		return
	}
	delete(s.runs, key)
	for i, k := range s.finished {
		if k == key {
			s.finished = append(s.finished[:i:i], s.finished[i+1:]...)
			break
		}
	}
	s.mu.Unlock()
	r.run.Cancel()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		r.run.Close()
	}()
	s.log.Info("build run dropped", "build", key)
}
