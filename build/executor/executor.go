// Package executor defines how Eddy runs a build: an Executor takes a Request (a source to
// fetch into a fresh workspace and the steps to run there, in order) and returns a Run that
// reports each step's state, keeps each step's logs and ends with a Result.
//
// The types are independent of the Build API kinds: the build reconciler maps a Build (its
// source, its template-substituted steps, its timeout and its service account's secrets)
// onto a Request, and a Result and the step states back onto the Build's status.
//
// # The contract
//
// Every executor, whatever it runs steps on, behaves as the conformance suite in
// executortest checks:
//
//   - Each run gets a fresh, empty workspace (the /workspace of Knative builds). The source,
//     if any, is fetched into it: a git repository checked out at the exact revision asked
//     for (Result.Commit is the commit it resolved to), or a copy of a local directory.
//   - Steps run one after the other, each with the workspace (or the workspace's
//     WorkingDir, when relative) as its working directory, and with WORKSPACE set to the
//     workspace's path and ARTIFACT to a path in it. Their env is Request.Env, then the
//     step's own env, with $(VAR) references expanded as Kubernetes does.
//   - The first step that fails ends the run (Reason Failed); the steps after it never run
//     and stay Waiting.
//   - Request.Timeout bounds the whole run, source fetch included: when it passes, the
//     running step and every process it started are killed (Reason Timeout). Run.Cancel
//     does the same (Reason Cancelled).
//   - A step the executor cannot run (an image it does not know how to run, for example)
//     ends the run with Reason NotRunnable and a message that says why.
//   - When every step succeeded and the file at $ARTIFACT exists, it is stored and reported
//     as Result.Artifact.
//   - Credentials are used to fetch the source and for nothing else: they are never put in a
//     step's environment, in the workspace, in logs, or in messages and errors.
package executor

import (
	"context"
	"errors"
	"io"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Executor runs builds.
type Executor interface {
	// Start validates req and starts running it. ctx bounds Start only: the run goes on
	// until it ends, times out or is cancelled through Run.Cancel. An error means nothing
	// was started (an invalid request, or an executor that was closed).
	Start(ctx context.Context, req Request) (Run, error)
}

// Run is one build being run, or that ran. Its methods are safe for concurrent use.
type Run interface {
	// Done is closed when the run has ended and its Result is final.
	Done() <-chan struct{}
	// Result returns the run's result; it is the zero Result until Done is closed.
	Result() Result
	// Wait waits for the run to end and returns its Result, or ctx's error if ctx ends
	// first (the run goes on).
	Wait(ctx context.Context) (Result, error)
	// Steps returns the current state of every step, in order.
	Steps() []StepState
	// Logs returns up to the last tail lines the step wrote to stdout and stderr (all kept
	// lines if tail <= 0), interleaved as written. A step that has not run has none. The
	// error wraps ErrUnknownStep for a step the build does not have.
	Logs(step string, tail int) ([]string, error)
	// LogsFollow writes the step's last tail lines (all kept lines if tail <= 0) to w, one
	// per line, then each new line as the step writes it, until the step has ended and
	// every line was written, or the run ended without running the step. It returns nil
	// then, ctx's error if ctx ends first, w's error if a write fails, or an error wrapping
	// ErrUnknownStep.
	LogsFollow(ctx context.Context, step string, tail int, w io.Writer) error
	// Cancel stops the run: the running step and every process it started are killed and
	// the run ends with Reason Cancelled (unless it had already ended). It does not wait.
	Cancel()
	// Close cancels the run if it is still running, waits for it to end and releases what
	// it kept once ended, such as its logs; Logs fail afterwards. A workspace kept by
	// configuration stays.
	Close() error
}

// ErrUnknownStep is wrapped by the errors of Run.Logs and Run.LogsFollow for a step name the
// build does not have.
var ErrUnknownStep = errors.New("unknown build step")

// ID identifies the build a request runs, for logs and names of workspaces.
type ID struct {
	// Namespace is the Build's namespace.
	Namespace string
	// Name is the Build's name.
	Name string
	// UID is the Build's UID: two builds of one name are told apart by it.
	UID string
}

// String returns "namespace/name".
func (id ID) String() string { return id.Namespace + "/" + id.Name }

// Request is a build to run.
type Request struct {
	// ID identifies the build.
	ID ID
	// Source is fetched into the workspace before the first step runs. The zero Source
	// leaves the workspace empty.
	Source Source
	// Steps run in order, in the workspace. Template parameters must already be
	// substituted. A step's Name names its logs and state; an empty name is "step-<i>"
	// (i counting from 0). Names must be unique.
	Steps []corev1.Container
	// Timeout bounds the whole run, source fetch included; zero means no limit.
	Timeout time.Duration
	// Credentials authenticate the source fetch. They are used for nothing else.
	Credentials Credentials
	// Env is given to every step, before the step's own env (which overrides it).
	Env []corev1.EnvVar
	// OnStep, if set, is called with a step's new state each time it changes (it starts
	// Running, it is Terminated, it is found not runnable), in order and never
	// concurrently. It must not block for long and must not call the Run's methods that
	// wait (Wait, Close).
	OnStep func(StepState)
}

// Source is where a build's source comes from: at most one of its fields is set.
type Source struct {
	// Git is a git repository to check out.
	Git *GitSource
	// Local is a directory on the executor's machine, copied into the workspace.
	Local *LocalSource
}

// GitSource is a git repository to check out.
type GitSource struct {
	// URL is the repository: https://, http://, ssh://, git://, file:// or scp-like
	// (git@host:path) URLs, or a local path.
	URL string
	// Revision is a branch, a tag, a full ref name (refs/...), a commit SHA (full or
	// abbreviated), or empty for the remote's default branch. See ParseRevision.
	Revision string
}

// LocalSource is a directory on the executor's machine.
type LocalSource struct {
	// Path is the directory whose content the workspace starts with.
	Path string
}

// Credentials authenticate a git source fetch.
type Credentials struct {
	// GitUsername and GitPassword (or token) are used as HTTP basic auth for http(s) URLs.
	GitUsername []byte
	GitPassword []byte
	// SSHKey is a PEM private key used for ssh URLs (unencrypted).
	SSHKey []byte
	// KnownHosts, in known_hosts format, lists the host keys an ssh server may present.
	// Without it the executor uses its own configuration (its machine's known_hosts).
	KnownHosts []byte
}

// Reason says how a run ended.
type Reason string

// The reasons a run ends with.
const (
	// ReasonSucceeded: every step exited with code 0.
	ReasonSucceeded Reason = "Succeeded"
	// ReasonFailed: a step failed (exited with a non-zero code, or could not be started),
	// or the executor failed to prepare the run or store its artifact.
	ReasonFailed Reason = "Failed"
	// ReasonTimeout: Request.Timeout passed.
	ReasonTimeout Reason = "Timeout"
	// ReasonCancelled: Run.Cancel was called.
	ReasonCancelled Reason = "Cancelled"
	// ReasonSourceFailed: the source could not be fetched.
	ReasonSourceFailed Reason = "SourceFailed"
	// ReasonNotRunnable: a step cannot run on this executor.
	ReasonNotRunnable Reason = "NotRunnable"
)

// Result is how a run ended.
type Result struct {
	// Succeeded is true when every step succeeded.
	Succeeded bool
	// Reason says how the run ended.
	Reason Reason
	// Message says why in a sentence; it holds no credentials.
	Message string
	// FailedStep names the step that failed, timed out, was cancelled or is not runnable;
	// empty when none did.
	FailedStep string
	// ExitCode is FailedStep's exit code (128+n when killed by signal n); 0 when no step
	// failed.
	ExitCode int
	// Commit is the full SHA of the commit a git source was checked out at.
	Commit string
	// Artifact is the build's output, stored: nil when the build failed or wrote nothing
	// at $ARTIFACT.
	Artifact *Artifact
	// Workspace is the workspace's path on the executor's machine. It is removed when the
	// run ends unless the executor is configured to keep workspaces.
	Workspace string
	// StartTime and CompletionTime bound the run.
	StartTime, CompletionTime time.Time
}

// Artifact is a build's output, stored content-addressed.
type Artifact struct {
	// Digest is "sha256:<hex>" of the content.
	Digest string
	// Path is the absolute path of the stored file, which a process runtime can run.
	Path string
	// Size is the file's size in bytes.
	Size int64
}

// StepPhase is where a step is in its life.
type StepPhase string

// The phases of a step.
const (
	// StepWaiting: the step has not started (and may never, if an earlier one failed).
	StepWaiting StepPhase = "Waiting"
	// StepRunning: the step's process runs.
	StepRunning StepPhase = "Running"
	// StepTerminated: the step ended; ExitCode and Reason say how.
	StepTerminated StepPhase = "Terminated"
)

// Reasons of a step's state.
const (
	// StepReasonCompleted: the step exited with code 0.
	StepReasonCompleted = "Completed"
	// StepReasonError: the step exited with a non-zero code.
	StepReasonError = "Error"
	// StepReasonStartError: the step's command could not be started.
	StepReasonStartError = "StartError"
	// StepReasonTimeout: the step was killed because the build timed out.
	StepReasonTimeout = "Timeout"
	// StepReasonCancelled: the step was killed because the build was cancelled.
	StepReasonCancelled = "Cancelled"
	// StepReasonNotRunnable: the step cannot run on this executor (a Waiting state).
	StepReasonNotRunnable = "NotRunnable"
)

// StepState is the state of one step.
type StepState struct {
	// Name is the step's name.
	Name string
	// Index is the step's position in Request.Steps.
	Index int
	// Phase is Waiting, Running or Terminated.
	Phase StepPhase
	// Reason says why the step is Terminated (Completed, Error, StartError, Timeout,
	// Cancelled) or, for a Waiting step, NotRunnable when it cannot run.
	Reason string
	// Message says more, for a step that did not complete.
	Message string
	// ExitCode is a Terminated step's exit code (128+n when killed by signal n).
	ExitCode int
	// StartedAt is when the step started running; zero while Waiting.
	StartedAt time.Time
	// FinishedAt is when the step terminated; zero unless Terminated.
	FinishedAt time.Time
}

// ContainerState returns s as Kubernetes reports a container's state, the form of a
// Build's status.stepStates.
func (s StepState) ContainerState() corev1.ContainerState {
	switch s.Phase {
	case StepRunning:
		return corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(s.StartedAt)}}
	case StepTerminated:
		return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode:   int32(s.ExitCode),
			Reason:     s.Reason,
			Message:    s.Message,
			StartedAt:  metav1.NewTime(s.StartedAt),
			FinishedAt: metav1.NewTime(s.FinishedAt),
		}}
	default:
		return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: s.Reason, Message: s.Message}}
	}
}

// StepName returns the name of the step at index i: its container's name, or "step-<i>"
// when that is empty.
func StepName(c corev1.Container, i int) string {
	if c.Name != "" {
		return c.Name
	}
	return "step-" + strconv.Itoa(i)
}
