// Package build holds the kinds of Knative's 2018 build.knative.dev/v1alpha1 group: Build
// (namespaced, run to completion), BuildTemplate (namespaced) and ClusterBuildTemplate
// (cluster-scoped), with their defaulting, validation, condition helpers, table columns and the
// template expansion ApplyTemplate. Their JSON shapes are Knative's, so 2018 Build YAML decodes
// strictly into them; the reconcilers and the step executor live in the top-level package build.
//
// # Build
//
// A Build has either spec.steps (containers run in order) or spec.template (a BuildTemplate or
// ClusterBuildTemplate by name, with arguments for its parameters and env that overrides the
// template steps' env), never both. Steps are Knative's corev1.Container: every field decodes,
// Eddy validates name, image and env, and the executor reads name, image, command, args, env and
// workingDir; other container fields (volumeMounts, resources, securityContext, …) are carried
// for the executor, which may ignore them. An unnamed step is called "unnamed-INDEX" in the
// status (StepName), so step names of that form are reserved.
//
// spec.source is optional and holds exactly one of:
//   - git: {url, revision}. url has the scheme http, https, ssh, git or file, or git's scp-like
//     form user@host:path (ssh). It may carry no password, no user for http(s) and no query:
//     credentials belong in a secret of spec.serviceAccountName, and errors never repeat them.
//     Host and user may not start with "-". An empty revision is the remote's default branch;
//     a revision may not start with "-" nor contain white space, control characters or "..".
//   - local: {path}, Eddy's own form: an absolute directory on the machine Eddy runs on, used as
//     the build's source instead of a clone. Only API clients can name it, and they hold the
//     platform's token.
//   - gcs and custom decode, since 2018 manifests carry them, but are rejected: Eddy does not
//     fetch from Google Cloud Storage nor run custom source containers.
//
// source.subPath, when set, is a relative path inside the source without "..".
//
// spec.timeout is a Go duration ("10m", "1h30m"); it defaults to 10m (also when 0) and may not
// exceed 24h, as in Knative. spec.volumes are Kubernetes volumes; their names must be unique DNS
// labels, and whether steps' volumeMounts see them is up to the executor. spec.status may be
// set to BuildCancelled to cancel a running build, as in later Knative releases. Apart from
// spec.status, a Build's spec is immutable: create a new Build instead.
//
// spec.template.kind defaults to BuildTemplate. The template's existence and whether the
// arguments satisfy its parameters are not known at admission; they are checked when the build
// runs (ApplyTemplate fails with a *MissingParametersError naming every missing parameter).
//
// # Templates
//
// spec.parameters have unique names made of letters, digits, "_", "." and "-" (starting with a
// letter or "_"), an optional description and an optional default. A template has at least one
// step. ${NAME} in a step's image, command, args, env values, workingDir and volumeMounts (name,
// mountPath, subPath) is replaced by the argument NAME, else the parameter's default, in one
// pass (a value containing ${OTHER} is not expanded again). ${X} where X is neither an argument
// nor a parameter is left as written, so shell variables in scripts survive.
//
// # Status and conditions
//
// A Build reports the batch condition Succeeded: Unknown while it runs (reason Building), True
// when every step exited 0 (BuildSucceeded), False when a step failed (BuildFailed, naming the
// step and its exit code), when it timed out (BuildTimeout), when it was cancelled
// (BuildCancelled), or for another reason the reconciler names. status.builder is "Local" for
// Eddy's executor; status.startTime and status.completionTime bound the run; status.stepStates
// hold one corev1.ContainerState per step, with the step's name; status.stepsCompleted names the
// steps that exited 0; status.artifact, when the build produced one, gives its sha256 digest,
// its URI (build://NAMESPACE/NAME or a content address) and its size.
//
// `eddy get builds` shows Succeeded in its READY and REASON columns, then STARTTIME and
// COMPLETIONTIME (RFC 3339), and with -o wide the template and the artifact digest.
//
// BuildTemplate and ClusterBuildTemplate report Ready, set by their reconciler.
package build
