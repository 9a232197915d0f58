// Package reconciler is the framework every Eddy controller is built on, in the manner of
// Knative's controllers and client-go's sample controller.
//
// # Model
//
// Reconcilers are level-triggered. A Controller watches one primary kind through a Cache (one
// client-go SharedIndexInformer per kind, fed by the store's List and Watch) and puts the
// "namespace/name" key of every changed object on a rate-limited work queue. Workers take keys
// off the queue and call Reconcile(ctx, key). Reconcile is told only which object to look at,
// never what changed: it reads the desired state (the object's spec, from the Cache through a
// Lister), drives the world towards it (creating, updating and deleting the objects it owns
// through a Client), and writes the object's status. Because the same key may be reconciled
// again at any time (after a restart, a resync, a change to an owned object, or a retry),
// Reconcile must be idempotent: reconciling an object that is already in its desired state
// writes nothing.
//
// Nothing but an object's reconciler writes its status. Users and other components write
// spec; the reconciler writes status, with observedGeneration saying which generation of the
// spec the status describes (see Client.UpdateStatusIfChanged). Ready and the other conditions are
// computed with api.ConditionSet.
//
// # Errors and retries
//
// What Reconcile returns decides what happens to the key:
//
//   - nil: done; the key's failure history is forgotten.
//   - RequeueAfter(d): done for now; look again after d (for polling an outside system).
//   - Permanent(err): logged and counted, not retried; a later change to the object (or to
//     something it watches) enqueues it again.
//   - any other error: logged, counted, and retried with per-key exponential backoff.
//
// Reconcilers tell users what happened and why with a Recorder, which writes core/v1 Events
// that `eddy describe` shows.
//
// # Concurrency
//
// Client, Cache, Lister and Recorder are safe for concurrent use. A Controller runs its
// Reconciler on several workers at once, but never on the same key concurrently. Objects
// returned by Client and Lister are the caller's own copies and may be modified.
//
// The sub-package reconcilertest runs reconcilers against table-driven test cases.
package reconciler
