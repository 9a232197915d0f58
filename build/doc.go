// Package build turns source into runnable artifacts: the reconcilers of Build, BuildTemplate
// and ClusterBuildTemplate, the step executor, git sources, and the event-triggered rollout
// that moves a Service to a freshly built revision.
package build
