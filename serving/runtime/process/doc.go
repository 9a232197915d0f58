// Package process is the runtime that runs each instance of a revision as a local process:
// Eddy's runtime for one machine. It implements runtime.Runtime and passes the conformance
// suite in runtime/runtimetest.
//
// # What it runs
//
// A container runs in one of two ways:
//
//   - image "ko://<package>": the Go main package is built with go build, as ko would build
//     it into an image, and the binary runs with the container's args. The package is
//     ko://./dir or ko://../dir (relative to Config.Dir), ko:///abs/dir, or
//     ko://<import path>: a package of the main module (the module of Config.Dir) is found
//     in its directory; any other is built by import path from the main module, at the
//     version its go.mod requires. The binary is cached in Config.CacheDir under a content
//     hash of the package's Go files (not tests), those of the packages of the same module
//     it imports (transitively), the module's go.mod, go.sum and go.work, the go command
//     and GoBuildFlags, and the environment variables that change a build (GOOS, GOARCH,
//     GOFLAGS, CGO_ENABLED…). It is rebuilt only when that hash changes; concurrent Applies
//     of one image build once. Files go build would read that are not hashed (embedded
//     files, a replace directive's local directory) do not trigger a rebuild. A command
//     with a ko:// image is refused (use args).
//   - a command: with any other image, or none, a container that has a command runs the
//     command (command[0] looked up in PATH unless it has a slash), followed by command[1:]
//     and args. The image is not used at all, so a command-only container can name the image
//     it would run on Kubernetes.
//
// Anything else (a container image without a command, such as gcr.io/…) cannot run here:
// Apply returns an error wrapping runtime.ErrUnrunnable that says the process runtime runs
// ko:// images or command-only containers, and the revision's instances are Failed with
// Reason "ImageNotRunnable". The same goes for env entries with valueFrom, envFrom and gRPC
// probes (Reason "Unsupported"). A ko:// image is built in the background: its instances
// are Starting with Reason "Building" meanwhile, and Failed with Reason "BuildFailed" and go
// build's output if it fails; the next Apply of the revision builds again if the sources
// changed. Such failures are not retried by restarting.
//
// # The process
//
// Each instance gets a free port of the runtime's choosing, and its environment is: the
// variables of Config.InheritEnv (PATH, HOME… by default: nothing else of Eddy's own
// environment, which may hold secrets), the container's env, and PORT, K_SERVICE,
// K_REVISION and K_CONFIGURATION, which override the container's. $(VAR) references in env
// values, command and args are expanded as Kubernetes does. The working directory is the
// container's workingDir (relative to Config.Dir if relative), or else a temporary
// directory per instance, removed when the instance stops. stdout and stderr share one pipe;
// the last Config.LogLines lines are kept for Logs, across restarts, and each is logged at
// debug level. Environment values are never logged.
//
// Each process runs in a process group of its own, and stopping an instance signals the
// whole group, so no child survives it. On Linux every process also gets SIGKILL as its
// parent-death signal, so instances do not outlive a crashed Eddy.
//
// # Readiness
//
// The readiness probe (httpGet, tcpSocket or exec; a TCP connect to PORT when there is
// none) always targets the instance's PORT. At start it runs every millisecond for 100ms,
// then at doubling intervals up to the probe's periodSeconds (and at most 1s), so a Go
// binary is Ready a few milliseconds after it starts listening. Once Ready, it runs every
// periodSeconds (default 10); failureThreshold failures in a row make the instance Starting
// again with Reason "ProbeFailed" (its Address stays set) until successThreshold successes.
// initialDelaySeconds and timeoutSeconds are honoured; liveness and startup probes are not
// used.
//
// # Restarts
//
// A process that exits, whatever its status, is restarted after an exponential backoff
// (Config.RestartBackoff: 10ms doubling up to 30s by default, reset once an instance ran for
// Reset). Until it is back, the instance is Failed with Reason "ExitCode" or "Signal" and a
// Message with the status and the last line it printed; after the restart it is Starting with
// that Reason until it is Ready, and Restarts counts the restarts. Each incarnation gets a
// new port, so Address may change.
//
// # Scaling down and stopping
//
// A scale down stops the instances that are not Ready first, then the newest. A stopping
// instance is Terminating at once; then Config.Drain runs (the router waits there for the
// instance's requests in flight), then the process group gets SIGTERM, and SIGKILL at the
// end of Config.StopGracePeriod (default 10s), which Drain and SIGTERM share. The instance
// is listed until its process is gone. Remove and Close do the same for every instance and
// return when they are gone, or kill them at once when their context ends.
//
// # Resource limits
//
// Memory and CPU limits are enforced with cgroup v2 where the machine allows it: when the
// parent of Config.CgroupRoot (default /sys/fs/cgroup/eddy) is a writable cgroup2 directory
// with the memory and cpu controllers available and enableable for children. Each instance
// then runs in CgroupRoot/<namespace>_<revision>/<instance>, with memory.max from
// limits.memory (and memory.swap.max 0), and cpu.max from limits.cpu (quota = millicores ×
// 100µs per 100ms period); processes are started directly inside it (clone3 with
// CLONE_INTO_CGROUP, else moved in after the start), and the cgroup is killed and removed
// when the instance stops. Requests are not used. Elsewhere (cgroup v1 or hybrid
// hierarchies, no delegation, not Linux, CgroupRoot "-") limits are not enforced:
// LimitsEnforced reports false and the first revision with limits logs a warning that says
// why.
package process
