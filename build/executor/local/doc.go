// Package local is the executor that runs builds on Eddy's own machine, each step a local
// process: Eddy's executor for one machine. It implements executor.Executor and passes the
// conformance suite in executor/executortest.
//
// # Workspaces
//
// Each run gets a directory of its own under Config.WorkDir, holding the workspace (the
// /workspace of Knative builds) and the steps' logs. The workspace is removed when the run
// ends, unless Config.KeepWorkspaces; the logs stay until Run.Close.
//
// # Sources
//
// A git source is fetched with go-git into the workspace and checked out (detached) at the
// exact commit the revision resolves to: a branch or tag with a shallow fetch of that ref
// alone; a full commit SHA with a shallow fetch of that commit when the server allows it
// (uploadpack.allowReachableSHA1InWant), else with a fetch of every branch and tag; an
// abbreviated SHA with a fetch of every branch and tag. URLs may be https://, http://,
// ssh://, scp-like (git@host:path), git://, file:// or local paths. Credentials are given to
// go-git only: basic auth (Credentials.GitUsername/GitPassword, or a user:password in the
// URL, which is then removed from the URL the workspace's .git/config records) for http(s)
// URLs; Credentials.SSHKey for ssh URLs, checking the server's host key against
// Credentials.KnownHosts, or else the machine's known_hosts files (SSH_KNOWN_HOSTS,
// ~/.ssh/known_hosts), or not at all only when Config.InsecureIgnoreHostKey. An ssh URL
// without a key fails: the machine's ssh agent is never used. A local source is copied
// (regular files, directories and symlinks).
//
// # Steps
//
// Steps run in order, each as a process in a process group of its own (with SIGKILL as its
// parent-death signal on Linux, so no step outlives a crashed Eddy):
//
//   - a step with a command runs it (command[0] looked up in the step's PATH unless it has a
//     slash), followed by its args; its image is not used at all;
//   - a step without a command whose image is a builtin builder (eddy.dev/builder/go,
//     eddy.dev/builder/shell) runs the builder's command followed by its args, the go
//     command being Config.GoCommand;
//   - any other step (an image such as gcr.io/kaniko-project/executor and no command), or
//     one with env valueFrom or envFrom, cannot run here: the run ends NotRunnable before
//     anything runs, with a message saying so.
//
// A step's working directory is the workspace, or its workingDir: relative to the
// workspace, or absolute (with /workspace standing for the workspace), created if missing.
// Its environment is the variables of Config.InheritEnv, Request.Env, the step's env, and
// WORKSPACE and ARTIFACT (which override all others); $(VAR) references in env values,
// command and args are expanded as Kubernetes does. Nothing else is given implicitly: no
// credentials, none of Eddy's own environment. stdout and stderr go, interleaved, to the
// step's log file; each step keeps the last Config.MaxLogBytes or so of its output.
//
// When the build times out or is cancelled, the running step's process group gets SIGTERM,
// then SIGKILL after Config.KillGrace. When a step's process exits, whatever it left
// running in its group is killed.
//
// # Artifacts
//
// ARTIFACT is $WORKSPACE/.eddy-artifact, which does not exist until a step writes it. When
// every step succeeded and a regular file is there, it is stored in Config.ArtifactDir as
// sha256/<hex of its content> (read-only, executable) and reported as Result.Artifact;
// storing content already there only refreshes its time. CollectArtifacts removes the
// artifacts no longer referenced.
package local
