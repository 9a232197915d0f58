package reconcilertest

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/eddyplatform/eddy/control/store"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// eventsResource is where core/v1 Events are kept.
var eventsResource = store.Resource{Resource: "events"}

// RecordingStore is a store.Store decorator that records every write (the object as the
// caller passed it) and then delegates to the wrapped store, except for writes an induced
// failure makes fail. Writes of core/v1 Events are recorded as event lines
// ("Type Reason message") instead of as creates and updates. Reads are not recorded. It is
// safe for concurrent use.
type RecordingStore struct {
	store.Store

	mu            sync.Mutex
	failures      map[string]bool
	creates       []*unstructured.Unstructured
	updates       []*unstructured.Unstructured
	statusUpdates []*unstructured.Unstructured
	deletes       []string
	events        []string
}

// NewRecordingStore wraps s. failures are "verb resource" pairs (verbs: create, update,
// update-status, delete; resources as store.Resource.String() prints them, such as "secrets"
// or "services.serving.knative.dev") whose writes fail with an InternalError after being
// recorded.
func NewRecordingStore(s store.Store, failures ...string) *RecordingStore {
	r := &RecordingStore{Store: s, failures: map[string]bool{}}
	for _, f := range failures {
		r.failures[strings.Join(strings.Fields(f), " ")] = true
	}
	return r
}

// Actions are the writes a RecordingStore saw, in order.
type Actions struct {
	Creates, Updates, StatusUpdates []*unstructured.Unstructured
	// Deletes are "resource namespace/name" (or "resource name" when cluster-scoped).
	Deletes []string
	// Events are "Type Reason message", one per Recorder.Event call that reached the store.
	Events []string
}

// Actions returns a copy of what was recorded so far.
func (r *RecordingStore) Actions() Actions {
	r.mu.Lock()
	defer r.mu.Unlock()
	return Actions{
		Creates:       append([]*unstructured.Unstructured(nil), r.creates...),
		Updates:       append([]*unstructured.Unstructured(nil), r.updates...),
		StatusUpdates: append([]*unstructured.Unstructured(nil), r.statusUpdates...),
		Deletes:       append([]string(nil), r.deletes...),
		Events:        append([]string(nil), r.events...),
	}
}

// record notes a write and reports the induced failure for it, if any.
func (r *RecordingStore) record(verb string, res store.Resource, obj *unstructured.Unstructured, into *[]*unstructured.Unstructured) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if res == eventsResource && verb != "delete" {
		typ, _, _ := unstructured.NestedString(obj.Object, "type")
		reason, _, _ := unstructured.NestedString(obj.Object, "reason")
		msg, _, _ := unstructured.NestedString(obj.Object, "message")
		r.events = append(r.events, typ+" "+reason+" "+msg)
	} else if into != nil {
		*into = append(*into, obj.DeepCopy())
	}
	if r.failures[verb+" "+res.String()] {
		return apierrors.NewInternalError(fmt.Errorf("induced failure: %s %s", verb, res))
	}
	return nil
}

// Create records and delegates.
func (r *RecordingStore) Create(ctx context.Context, res store.Resource, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	if err := r.record("create", res, obj, &r.creates); err != nil {
		return nil, err
	}
	return r.Store.Create(ctx, res, obj)
}

// Update records and delegates.
func (r *RecordingStore) Update(ctx context.Context, res store.Resource, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	if err := r.record("update", res, obj, &r.updates); err != nil {
		return nil, err
	}
	return r.Store.Update(ctx, res, obj)
}

// UpdateStatus records and delegates.
func (r *RecordingStore) UpdateStatus(ctx context.Context, res store.Resource, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	if err := r.record("update-status", res, obj, &r.statusUpdates); err != nil {
		return nil, err
	}
	return r.Store.UpdateStatus(ctx, res, obj)
}

// Delete records and delegates.
func (r *RecordingStore) Delete(ctx context.Context, res store.Resource, namespace, name string, opts store.DeleteOptions) (*unstructured.Unstructured, error) {
	key := name
	if namespace != "" {
		key = namespace + "/" + name
	}
	r.mu.Lock()
	r.deletes = append(r.deletes, res.String()+" "+key)
	fail := r.failures["delete "+res.String()]
	r.mu.Unlock()
	if fail {
		return nil, apierrors.NewInternalError(fmt.Errorf("induced failure: delete %s", res))
	}
	return r.Store.Delete(ctx, res, namespace, name, opts)
}

var _ store.Store = (*RecordingStore)(nil)
