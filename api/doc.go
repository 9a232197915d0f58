// Package api is Eddy's resource model: Kubernetes-style objects (apiVersion, kind, metadata,
// spec, status), the registry of kinds with their defaulting, validation and conversion, strict
// JSON/YAML decoding, and Knative-style conditions.
//
// Every kind lives in a sub-package named for its API group (core, serving, eventing, messaging,
// sources, build, flows) and registers itself into a Registry through that package's Register
// function. The registry is the one place that knows, for a kind, its plural and short names,
// which versions are served, which version is stored, and how an object is defaulted, validated
// and converted to the stored version. The store and the HTTP API work on unstructured objects
// (k8s.io/apimachinery's Unstructured); typed Go structs are used by reconcilers and the CLI.
package api
