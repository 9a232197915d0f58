// Package controller is the control plane of Eddy's builds: the reconcilers of Build,
// BuildTemplate and ClusterBuildTemplate on an executor.Executor, the log source of
// `eddy logs build/NAME`, the resolution of build:// images for the serving side, the
// collection of unreferenced artifacts, and the event-triggered rollout that builds every
// push of a branch and moves a Service to the result.
//
// # Builds
//
// A new Build's steps are spec.steps, or its template's (a BuildTemplate in its namespace,
// or a ClusterBuildTemplate) with the arguments substituted (api/build.ApplyTemplate). The
// built-in templates of package builtin (go-function, script) are served as
// ClusterBuildTemplates of those names: Run creates the missing ones (an edited one is
// kept), and a Build naming one that does not exist yet uses the built-in template. Unnamed
// steps are named unnamed-INDEX. A source.subPath becomes the working directory of the
// steps that set none.
//
// Git credentials come from the Secrets of the Build's namespace that belong to
// spec.serviceAccountName ("default" when empty). Eddy has no ServiceAccount kind: a Secret
// belongs to an account when its kubernetes.io/service-account.name annotation names it.
// As in Knative, a Secret's build.knative.dev/git-0, git-1… annotations name the git
// servers it is for: a URL (https://github.com: same scheme and host as the source) or a
// bare host (github.com, for ssh). The first Secret (by name) whose annotation matches and
// whose type fits the URL is used: kubernetes.io/basic-auth (username, password) for
// http(s) URLs, kubernetes.io/ssh-auth (ssh-privatekey, and known_hosts if present) for ssh
// and scp-like URLs. Credentials go to the executor's source fetch only.
//
// Builds run once. Before starting a build, the reconciler writes status.startTime,
// status.builder and Succeeded Unknown (Building); a Build found later with a startTime but
// no run of this process (Eddy stopped while it ran) is marked Succeeded False with reason
// Interrupted, never started again. Shutting down (Close) cancels the runs without writing
// their status, so that the next start marks them Interrupted. A finished Build (Succeeded
// True or False) is never touched again.
//
// While a build runs, each step change is written to status.stepStates (and
// stepsCompleted), at most once per Config.StatusInterval. When it ends: Succeeded True
// (BuildSucceeded, with status.artifact: the digest, build://NAMESPACE/NAME and the size) or
// False with BuildFailed (the failing step and its exit code), BuildTimeout, BuildCancelled,
// SourceFailed, NotRunnable, TemplateNotFound, UnsatisfiedParameter, InvalidTemplate or
// StartFailed; and status.completionTime. spec.status: BuildCancelled, or deleting the Build,
// cancels the run: the executor kills the running step's process group.
//
// Step logs are the executor run's: BuildLogs serves them (each line prefixed "[STEP] ")
// while the run is kept, that is until the Build is deleted or Config.KeepFinished newer
// builds finished, and never across an Eddy restart.
//
// # Artifacts
//
// A Revision runs a build's artifact with the image build://NAMESPACE/NAME (the artifact of
// that succeeded Build) or build://sha256:HEX (or sha256:HEX) by digest: ResolveImage turns
// such an image into the command that runs it, the artifact's path in the store.
// CollectArtifacts (every Config.CollectInterval from Run) removes the stored artifacts no
// Build's status and no Revision's image names, once older than the store's minimum age. A
// Revision that names a Build by name keeps its artifact only while the Build exists.
//
// # Rollouts
//
// A rollout NAME in namespace NS is the ConfigMap rollout-NAME in NS, whose data are:
//
//	repository          owner/repo (matched against the payload's repository.full_name) or the
//	                    repository's URL (matched against clone_url, html_url, ssh_url, git_url). Required.
//	branch              the branch to follow; default main.
//	url                 the URL to clone; default the payload's repository.clone_url.
//	template            the template to build with; default go-function.
//	templateKind        ClusterBuildTemplate (default) or BuildTemplate.
//	arguments           the template's arguments, one NAME=VALUE a line.
//	service             the Service to roll out; default NAME.
//	serviceAccountName  the builds' service account (git credentials).
//	timeout             the builds' timeout, a Go duration.
//
// Its subscriber, RolloutHandler, is served at /rollouts/NS/NAME: make it the subscriber of
// a Trigger (or Subscription) that delivers a GitHubSource's events. A
// dev.knative.source.github.push CloudEvent to the rollout's repository and branch creates
// the Build NAME-COMMIT12 of the pushed commit (the payload's after), labelled
// rollout.eddy.dev/name=NAME and annotated with the commit and a sequence number one higher
// than any earlier build of the rollout. Other events, other repositories or branches, ref
// deletions and redeliveries (a build of that commit exists) are accepted and ignored.
//
// Newest push wins: a new build cancels the rollout's older builds still running. The
// rollout reconciler (on the ConfigMap, and on every change of the rollout's builds) takes
// the succeeded build of the highest sequence; when that is higher than the sequence the
// Service last got, it sets the Service template's image to build://NS/BUILD (dropping the
// container's command and the template's name), which makes a new Revision. An older build
// that finishes later never replaces a newer image, and a failed build leaves the Service
// as it is. The ConfigMap's annotations say what happened: rollout.eddy.dev/status (a
// sentence: building, rolled out, or failed and why), latest-build, rolled-out-build and
// rolled-out-sequence.
package controller
