// Package runtime defines how Eddy runs a revision's instances: the small interface between the
// serving control plane (which decides how many instances a revision should have) and the
// thing that runs them. One package per implementation: runtime/process runs each instance as a
// local process; a Kubernetes runtime (a Deployment per revision) can follow. Every
// implementation passes the conformance suite in runtime/runtimetest.
//
// The model is Kubernetes' own: the control plane states a desired scale per revision
// (Apply), the runtime converges on it in the background, and reports each instance's state —
// starting, ready (its readiness probe passed: it may get traffic), terminating, failed — through
// Instances and a change notification, as Endpoints do. The router sends requests only to ready
// instances; the activator holds requests for a revision with none until one is ready.
package runtime

import (
	"context"
	"errors"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// RevisionKey names a revision: its namespace and name.
type RevisionKey struct {
	Namespace, Name string
}

// String returns "namespace/name".
func (k RevisionKey) String() string { return k.Namespace + "/" + k.Name }

// Revision is what a runtime needs to run a revision's instances. It does not change over the
// revision's life (revisions are immutable), except for Scale.
type Revision struct {
	Key RevisionKey
	// Service and Configuration name the revision's owners, for K_SERVICE and K_CONFIGURATION
	// (Service is empty for a Configuration without a Service).
	Service, Configuration string
	// Container is the revision's one container: image, command, args, env, ports (the first
	// containerPort is the port the instance serves on, 8080 by default; the runtime may give
	// each instance another port and tell it through PORT), readiness probe, resources.
	Container corev1.Container
	// Scale is the desired number of instances.
	Scale int
	// Labels are copied onto the instances where the runtime has such a notion.
	Labels map[string]string
}

// Phase is an instance's state.
type Phase string

// The phases of an instance.
const (
	// Starting: the instance is being created or its readiness probe has not passed yet.
	Starting Phase = "Starting"
	// Ready: the readiness probe passed; the instance takes traffic at Address.
	Ready Phase = "Ready"
	// Terminating: the instance is being stopped; it takes no new traffic.
	Terminating Phase = "Terminating"
	// Failed: the instance exited or could not start; the runtime restarts it with backoff
	// (Restarts counts), or, for a cause that a restart cannot fix (an image the runtime
	// cannot run), leaves it failed and says why in Reason and Message.
	Failed Phase = "Failed"
)

// Instance is the state of one instance of a revision.
type Instance struct {
	// ID names the instance uniquely within its revision, for logs and metrics.
	ID string
	// Phase is its state; Address is set once it is Ready.
	Phase Phase
	// Address is host:port where the instance serves HTTP.
	Address string
	// Restarts counts how often the instance was restarted after it exited.
	Restarts int
	// Reason is a CamelCase word saying why the instance is not ready or failed (such as
	// "ImageNotRunnable", "ExitCode", "ProbeFailed"); Message says it in a sentence.
	Reason, Message string
	// Started is when the current incarnation started.
	Started time.Time
}

// Runtime runs revisions' instances. Its methods are safe for concurrent use.
type Runtime interface {
	// Apply sets the desired state of rev: its spec (on first Apply; later calls may change
	// only Scale and Labels) and its scale. It returns once the runtime accepted the change;
	// instances start and stop in the background. An error that a retry cannot fix (a spec
	// the runtime cannot run) wraps ErrUnrunnable.
	Apply(ctx context.Context, rev Revision) error

	// Remove stops every instance of the revision (draining them as Stop would) and forgets
	// it. Removing an unknown revision is not an error.
	Remove(ctx context.Context, key RevisionKey) error

	// Instances returns the current instances of the revision, in a stable order (oldest
	// first), or nil if it is unknown.
	Instances(key RevisionKey) []Instance

	// Changed returns a channel that is closed at the next change of any instance of any
	// revision (a new instance, a phase change, a restart), so watchers wait for it and then
	// call Instances again. Each call returns the channel for the next change.
	Changed() <-chan struct{}

	// Logs returns up to the last n lines the instance wrote to stdout and stderr,
	// interleaved in order; n <= 0 returns every line the runtime keeps. An instance or
	// revision the runtime does not know gives an error wrapping ErrUnknownInstance.
	Logs(key RevisionKey, instanceID string, n int) ([]string, error)

	// Close stops every instance of every revision and releases the runtime.
	Close(ctx context.Context) error
}

// ErrUnrunnable is wrapped by Apply errors, and reported as an instance's Reason, for a
// revision the runtime cannot run whatever it retries, such as an image it cannot fetch or
// build.
var ErrUnrunnable = errors.New("runtime: cannot run this revision")

// ErrUnknownInstance is returned by Logs for an instance the runtime does not know.
var ErrUnknownInstance = errors.New("runtime: unknown instance")
