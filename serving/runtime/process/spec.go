package process

import (
	"context"
	"fmt"
	"github.com/eddyplatform/eddy/internal/kubeexpand"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/eddyplatform/eddy/serving/runtime"
)

// The Reasons the process runtime reports in runtime.Instance.Reason.
const (
	// ReasonImageNotRunnable: the image is neither ko:// nor accompanied by a command, or a
	// ko:// image names no Go main package. Not retried.
	ReasonImageNotRunnable = "ImageNotRunnable"
	// ReasonCommandNotFound: the container's command is not in PATH. Not retried.
	ReasonCommandNotFound = "CommandNotFound"
	// ReasonUnsupported: the container uses a feature this runtime does not have (env
	// valueFrom, envFrom, a gRPC probe, a command with a ko:// image). Not retried.
	ReasonUnsupported = "Unsupported"
	// ReasonBuilding: the ko:// image is being built; the instance is Starting.
	ReasonBuilding = "Building"
	// ReasonBuildFailed: go build failed; Message has its output. Not retried, but the
	// revision's next Apply builds again if the sources changed.
	ReasonBuildFailed = "BuildFailed"
	// ReasonExitCode: the process exited with a status; it is restarted after a backoff.
	ReasonExitCode = "ExitCode"
	// ReasonSignal: the process was killed by a signal; it is restarted after a backoff.
	ReasonSignal = "Signal"
	// ReasonStartError: the process could not be started (say, a missing working
	// directory); retried after a backoff.
	ReasonStartError = "StartError"
	// ReasonProbeFailed: the readiness probe of a Ready instance failed failureThreshold
	// times in a row; the instance is Starting until it passes again.
	ReasonProbeFailed = "ProbeFailed"
)

// unrunnableError is an error a retry cannot fix. It wraps runtime.ErrUnrunnable.
type unrunnableError struct {
	reason, msg string
}

func (e *unrunnableError) Error() string { return "process runtime: " + e.msg }

func (e *unrunnableError) Unwrap() error { return runtime.ErrUnrunnable }

func unrunnable(reason, format string, args ...any) *unrunnableError {
	return &unrunnableError{reason: reason, msg: fmt.Sprintf(format, args...)}
}

// koPrefix starts the images the process runtime builds with go build.
const koPrefix = "ko://"

// plan is how to run a revision's instances, as far as it is known before any build.
type plan struct {
	// path is the executable: the command, or the built binary (empty until the build).
	path string
	// ko is the image's build target, for ko:// images; key its content hash.
	ko  *target
	key string
	// args follow path, not yet expanded ($(VAR) references are expanded per start).
	args []string
	// env is the container's env, in order.
	env []corev1.EnvVar
	// workDir is the container's workingDir made absolute, or "" for a per-instance
	// temporary directory.
	workDir string
	probe   probeSpec
	limits  limits
}

// limits are a container's resource limits; zero means none.
type limits struct {
	memory   int64 // bytes
	milliCPU int64
}

func (l limits) any() bool { return l.memory > 0 || l.milliCPU > 0 }

// makePlan checks rev's container and works out how to run it. Errors are
// *unrunnableError.
func (r *Runtime) makePlan(rev runtime.Revision) (*plan, error) {
	c := &rev.Container
	p := &plan{env: c.Env}
	for _, e := range c.Env {
		if e.ValueFrom != nil {
			return nil, unrunnable(ReasonUnsupported, "env %s: valueFrom is not supported (only value); set the value in the revision", e.Name)
		}
	}
	if len(c.EnvFrom) > 0 {
		return nil, unrunnable(ReasonUnsupported, "envFrom is not supported; list the variables in env with their values")
	}
	var err error
	if p.probe, err = makeProbe(c.ReadinessProbe); err != nil {
		return nil, err
	}
	if q, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
		p.limits.memory = q.Value()
	}
	if q, ok := c.Resources.Limits[corev1.ResourceCPU]; ok {
		p.limits.milliCPU = q.MilliValue()
	}
	if c.WorkingDir != "" {
		p.workDir = c.WorkingDir
		if !filepath.IsAbs(p.workDir) {
			p.workDir = filepath.Join(r.cfg.Dir, p.workDir)
		}
	}

	if len(c.Command) == 0 && !strings.HasPrefix(c.Image, koPrefix) && r.cfg.ResolveImage != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		cmd, ok, err := r.cfg.ResolveImage(ctx, c.Image)
		cancel()
		switch {
		case err != nil:
			return nil, unrunnable(ReasonImageNotRunnable, "image %q: %v", c.Image, err)
		case ok && len(cmd) > 0:
			p.path = cmd[0]
			p.args = append(append([]string(nil), cmd[1:]...), c.Args...)
			return p, nil
		}
	}

	switch {
	case strings.HasPrefix(c.Image, koPrefix):
		if len(c.Command) > 0 {
			return nil, unrunnable(ReasonUnsupported, "image %q: a command would replace the built binary; with a ko:// image use args only", c.Image)
		}
		t, err := r.builder.resolve(c.Image)
		if err != nil {
			return nil, err
		}
		if p.key, err = r.builder.key(t); err != nil {
			return nil, err
		}
		p.ko = t
		p.args = c.Args
	case len(c.Command) > 0:
		p.path = c.Command[0]
		if !strings.ContainsRune(p.path, '/') && !strings.Contains(p.path, "$(") {
			if p.path, err = exec.LookPath(p.path); err != nil {
				return nil, unrunnable(ReasonCommandNotFound, "command %q: %v", c.Command[0], err)
			}
		}
		p.args = append(append([]string(nil), c.Command[1:]...), c.Args...)
	case c.Image == "":
		return nil, unrunnable(ReasonImageNotRunnable, "the container has no image and no command; the process runtime runs ko:// images (ko://<import path> or ko://./<dir>) or command-only containers")
	default:
		return nil, unrunnable(ReasonImageNotRunnable, "image %q cannot run here: the process runtime runs ko:// images (ko://<import path> or ko://./<dir>), Build artifacts (build://NAMESPACE/NAME) or command-only containers (a command, with any image); it does not pull container images", c.Image)
	}
	return p, nil
}

// probeKind is the kind of a readiness probe.
type probeKind int

const (
	probeTCP probeKind = iota
	probeHTTP
	probeExec
)

// probeSpec is a readiness probe with its defaults applied.
type probeSpec struct {
	kind    probeKind
	scheme  string // http or https
	path    string
	headers http.Header
	command []string

	initialDelay, period, timeout time.Duration
	success, failure              int
}

// makeProbe turns a container's readiness probe into a probeSpec. The probe always targets
// the instance's PORT: the port in httpGet or tcpSocket is ignored, as Knative requires it to
// be the container port anyway.
func makeProbe(p *corev1.Probe) (probeSpec, error) {
	s := probeSpec{kind: probeTCP, period: 10 * time.Second, timeout: time.Second, success: 1, failure: 3}
	if p == nil {
		return s, nil
	}
	switch {
	case p.GRPC != nil:
		return s, unrunnable(ReasonUnsupported, "readinessProbe: grpc probes are not supported; use httpGet, tcpSocket or exec")
	case p.HTTPGet != nil:
		s.kind = probeHTTP
		s.scheme = "http"
		if p.HTTPGet.Scheme == corev1.URISchemeHTTPS {
			s.scheme = "https"
		}
		s.path = p.HTTPGet.Path
		if !strings.HasPrefix(s.path, "/") {
			s.path = "/" + s.path
		}
		s.headers = http.Header{}
		for _, h := range p.HTTPGet.HTTPHeaders {
			s.headers.Add(h.Name, h.Value)
		}
	case p.Exec != nil:
		if len(p.Exec.Command) == 0 {
			return s, unrunnable(ReasonUnsupported, "readinessProbe: exec without a command")
		}
		s.kind = probeExec
		s.command = p.Exec.Command
	}
	if p.InitialDelaySeconds > 0 {
		s.initialDelay = time.Duration(p.InitialDelaySeconds) * time.Second
	}
	if p.PeriodSeconds > 0 {
		s.period = time.Duration(p.PeriodSeconds) * time.Second
	}
	if p.TimeoutSeconds > 0 {
		s.timeout = time.Duration(p.TimeoutSeconds) * time.Second
	}
	if p.SuccessThreshold > 0 {
		s.success = int(p.SuccessThreshold)
	}
	if p.FailureThreshold > 0 {
		s.failure = int(p.FailureThreshold)
	}
	return s, nil
}

// expand replaces $(VAR) references as Kubernetes does (see package kubeexpand).
var expand = kubeexpand.Expand
