// Package store defines the resource store: the one place objects are kept, with optimistic
// concurrency, generations and watches, in the manner of the Kubernetes API server's storage.
//
// The store is kind-agnostic: it keeps unstructured objects (k8s.io/apimachinery's
// Unstructured) under a Resource (API group + plural). Decoding, defaulting and validation
// happen before the store (see package api); the store owns only metadata bookkeeping:
//
//   - Create sets metadata.uid, metadata.creationTimestamp, metadata.generation = 1 and a new
//     metadata.resourceVersion; it fails with AlreadyExists when the name is taken. An object
//     with an empty name and a metadata.generateName gets that prefix plus five random
//     lower-case letters or digits.
//   - Update replaces everything but status (the stored status is kept) when the given
//     metadata.resourceVersion equals the stored one, or is empty (unconditional update);
//     otherwise it fails with Conflict. metadata.generation is bumped by one only when
//     something other than metadata and status changed (the "spec"); uid and
//     creationTimestamp can't be changed. An update that changes nothing keeps the
//     resourceVersion and emits no event.
//   - UpdateStatus replaces only status, with the same resourceVersion rule; generation is kept.
//   - Delete removes the object and returns its last state. When the object has
//     metadata.finalizers, Delete only sets metadata.deletionTimestamp (a Modified event); the
//     object goes away when an Update leaves the finalizers empty.
//   - Every change gets a new resourceVersion from one store-wide, strictly increasing counter
//     (a decimal integer string) and emits one watch event (Added, Modified or Deleted; the
//     Deleted event carries the last state with the deletion's resourceVersion).
//   - List returns the matching objects and, as the list's resourceVersion, the counter's value
//     at the moment of the read: a Watch from that resourceVersion sees every later change and
//     no earlier one, so nothing is lost between a list and the watch that follows it.
//   - Watch with ResourceVersion "" or "0" first sends an Added event for every matching object
//     and then every later change; with a specific resourceVersion it sends the changes after
//     it, in resourceVersion order. When that version is older than the history the store keeps,
//     Watch fails with Expired (HTTP 410), and the client must list again.
//
// A namespace of "" in Get, Delete, List and Watch means: cluster-scoped object, or all
// namespaces for List and Watch. Errors are *k8s.io/apimachinery/pkg/api/errors.StatusError
// values (NotFound, AlreadyExists, Conflict, Expired, Invalid), so they map directly to HTTP
// status codes and Kubernetes Status objects.
//
// Implementations are safe for concurrent use. A Watch ends when its context is done, when
// Stop is called, or when the store closes; a watcher that falls too far behind is ended too
// (its channel closes) and must re-watch from the last resourceVersion it saw.
package store

import (
	"context"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
)

// Resource names a collection of objects: API group ("" for core) and plural resource name.
type Resource = schema.GroupResource

// ListOptions narrow a List or a Watch.
type ListOptions struct {
	// LabelSelector keeps only objects whose labels match; nil matches everything.
	LabelSelector labels.Selector
	// ResourceVersion is where a Watch starts (see the package doc). List ignores it.
	ResourceVersion string
}

// DeleteOptions are preconditions for a Delete.
type DeleteOptions struct {
	// ResourceVersion, when set, must equal the stored object's (else Conflict).
	ResourceVersion string
	// UID, when set, must equal the stored object's (else Conflict).
	UID string
}

// Store keeps resources. See the package documentation for the full contract.
type Store interface {
	// Get returns the object, or a NotFound error.
	Get(ctx context.Context, res Resource, namespace, name string) (*unstructured.Unstructured, error)
	// List returns the matching objects sorted by namespace and name, with the store's
	// resourceVersion at the time of the read as the list's resourceVersion.
	List(ctx context.Context, res Resource, namespace string, opts ListOptions) (*unstructured.UnstructuredList, error)
	// Create stores a new object and returns it as stored.
	Create(ctx context.Context, res Resource, obj *unstructured.Unstructured) (*unstructured.Unstructured, error)
	// Update replaces an object's metadata and spec and returns it as stored.
	Update(ctx context.Context, res Resource, obj *unstructured.Unstructured) (*unstructured.Unstructured, error)
	// UpdateStatus replaces an object's status and returns it as stored.
	UpdateStatus(ctx context.Context, res Resource, obj *unstructured.Unstructured) (*unstructured.Unstructured, error)
	// Delete removes an object (or marks it for deletion when it has finalizers) and returns
	// its last state.
	Delete(ctx context.Context, res Resource, namespace, name string, opts DeleteOptions) (*unstructured.Unstructured, error)
	// Watch streams changes to the matching objects. Event objects are *unstructured.Unstructured.
	Watch(ctx context.Context, res Resource, namespace string, opts ListOptions) (watch.Interface, error)
	// Close releases the store; watches end and later calls fail.
	Close() error
}
