// Package router is Eddy's serving data plane: it routes HTTP requests by Host to revisions'
// instances, and it does in one hop what Knative does with three (the ingress gateway, the
// activator and each pod's queue-proxy).
//
// # Routing
//
// A Route named R in namespace N answers on the host R.N.DOMAIN (DOMAIN is "localhost" by
// default, so `curl http://hello.default.localhost:8080` works: *.localhost resolves to the
// loopback address) and, for each tagged traffic target T, on T-R.N.DOMAIN. A request to the
// route's host picks one of its targets at random, weighted by percent; a tagged host goes to
// its target only. SetRoute and RemoveRoute keep the table current; lookups take no lock.
//
// # Instances, concurrency and queueing (the queue-proxy's job)
//
// Each revision's ready instances come from the serving runtime (runtime.Runtime.Instances,
// refreshed on runtime.Runtime.Changed). The router counts the requests in flight to each
// instance and, when the revision sets containerConcurrency, never sends an instance more
// than that at once: a request that finds every instance full waits in the revision's queue
// for the first free slot. A request that waits longer than its timeout, or finds the queue
// full, gets 503 with a reason. timeoutSeconds bounds the whole request (504 after it).
//
// # Scale from zero (the activator's job)
//
// A request for a revision with no ready instance waits in the same queue, and the router calls
// Config.OnDemand so the autoscaler scales the revision up at once rather than at its next
// tick. The request goes on as soon as an instance is ready. A request is never answered 502
// because an instance was starting or stopping: if the connection to an instance fails before
// the request was sent, the router tries another instance (or waits for one).
//
// # Draining
//
// Drain marks an instance as leaving: it gets no new requests, and Drain returns once its
// requests in flight are done. The runtime calls it before it stops an instance.
//
// # Metrics for the autoscaler
//
// Stats reports, per revision, the requests in flight (queued ones included: that is the demand
// the autoscaler must meet) and the requests completed so far.
package router
