// Package apiserver serves the store over HTTP with Kubernetes' REST conventions, so that the
// eddy CLI, kubectl-style tools and client-go's dynamic client can all talk to it:
//
//	/api/v1/namespaces/{ns}/{plural}[/{name}[/status]]               core group
//	/apis/{group}/{version}/namespaces/{ns}/{plural}[/{name}[/status]]  named groups
//	/api/v1/{plural}, /apis/{group}/{version}/{plural}               cluster-scoped kinds, or
//	                                                                 every namespace's objects
//
// Verbs: GET (get, list, and watch with ?watch=true&resourceVersion=N, streaming
// newline-delimited {"type":…,"object":…} events), POST (create), PUT (update), PATCH
// (merge-patch, RFC 7386; JSON patch, RFC 6902), DELETE. ?labelSelector= and ?fieldSelector=
// narrow lists and watches; ?dryRun=All defaults and validates without storing. A request body
// may use any served version of a kind; objects are returned in the kind's storage version.
//
// Errors are metav1.Status objects with code, reason, message and field causes.
// /healthz, /readyz, /version and /metrics are open; every other path needs
// "Authorization: Bearer <token>". Discovery (/api, /apis, /apis/{group}/{version}) lists the
// registered kinds.
package apiserver
