// Package serving runs request-driven workloads: the reconcilers of Service, Configuration,
// Revision and Route, and, in sub-packages, the router (host-based routing and traffic
// splitting on the data plane's port), the activator (holds requests while a revision scales
// from zero), the autoscaler (Knative's KPA) and the runtimes that run revision instances
// (local processes; Kubernetes).
package serving
