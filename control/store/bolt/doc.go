// Package bolt is the embedded implementation of store.Store: one bbolt file,
// <dir>/store.db, that survives restarts.
//
// # Layout
//
// Every resource has its own bucket, named "group/plural" ("/plural" for the core group),
// holding "namespace/name" → the object as JSON ("/name" for cluster-scoped objects). The
// "meta" bucket holds the store-wide revision counter (8 bytes, big-endian), which is the
// source of every resourceVersion. Names and namespaces can't contain "/", so keys are
// unambiguous; names of resource buckets always contain "/", so they never collide with
// "meta".
//
// # Writes: one writer, group commit
//
// Create, Update, UpdateStatus and Delete prepare their input in the caller's goroutine
// (a private, JSON-normalised copy of the object) and hand an operation to a single writer
// goroutine. The writer takes the first waiting operation plus every other one already
// waiting (up to WithMaxBatch, default 256) and applies them all, in order, in ONE bbolt
// read-write transaction, so a single
// commit (and its fsyncs) covers many concurrent writes. Each operation that changes
// something takes the next revision; operations that fail (Conflict, NotFound, …) or change
// nothing use none and don't affect the others in the batch. After the commit the writer
// publishes the batch's watch events, in revision order, to the watch hub, and only then
// answers the callers: when a write returns, its event is already visible to watches.
// A write whose context is done before the writer reaches it is not applied.
//
// Reads (Get, List) run in their own bbolt read transactions, concurrently with the
// writer; a List reads the revision counter in the same transaction as the objects, so
// its resourceVersion is exactly the state it returns.
//
// # Watches
//
// The hub keeps the last N events (WithHistory, default 10000) in a ring. A Watch from a
// resourceVersion registers under the hub's lock, taking the ring's later events as its
// replay and every later publish live, so nothing is lost or repeated between the two; a
// version older than the ring is answered with Expired (410). A Watch from "" or "0" opens
// its snapshot read transaction under the same lock, so its synthetic Added events and the
// live events meet exactly at the snapshot's revision. Events committed but not yet
// published when a watch starts are filtered by revision, so they are not delivered twice.
//
// Each watcher has a goroutine and a bounded queue (WithWatchBuffer, default 1024 events).
// Publishing never blocks: when a watcher's queue is full the watcher is cut off; it still
// delivers what it had queued, then its channel closes and the client re-watches from the
// last resourceVersion it saw. Each watcher receives its own copy of every object.
//
// With a label selector, a Modified event is translated the way the Kubernetes API server
// does it: an object that starts matching arrives as Added, one that stops matching as
// Deleted, so a cache built from a filtered watch stays right.
package bolt
