package reconciler

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/eddyplatform/eddy/api"
	"k8s.io/apimachinery/pkg/api/equality"
)

// ObserveGeneration records in obj's status that its reconciler has acted on the current
// generation of its spec: status.observedGeneration = metadata.generation.
func ObserveGeneration(obj api.StatusObject) {
	obj.GetStatus().ObservedGeneration = obj.GetGeneration()
}

// StatusEqual reports whether a and b have the same status, compared in the form the store
// keeps (so it works for any kind, whatever its status type).
func StatusEqual(a, b api.Object) (bool, error) {
	sa, err := statusOf(a)
	if err != nil {
		return false, err
	}
	sb, err := statusOf(b)
	if err != nil {
		return false, err
	}
	return equality.Semantic.DeepEqual(sa, sb), nil
}

// statusOf returns obj's status as JSON values.
func statusOf(obj api.Object) (any, error) {
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("encoding %T: %w", obj, err)
	}
	var m struct {
		Status any `json:"status"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("decoding %T: %w", obj, err)
	}
	return m.Status, nil
}

// UpdateStatusIfChanged is how a reconciler ends: it marks desired's status as describing
// desired's generation (ObserveGeneration, when desired is an api.StatusObject), then writes
// desired's status through c only when it differs from original's, and reports whether it
// wrote. original is the object as the reconcile found it (keep a DeepCopy before changing
// it); desired is the same object with the status the reconcile computed. Skipping unchanged
// writes keeps a reconcile of an object that is in sync from writing anything, and so from
// triggering another reconcile of its own.
//
// desired's resourceVersion is kept, so a status computed from a stale read fails with
// Conflict (and the reconcile is retried). On success desired holds the stored state.
func (c *Client) UpdateStatusIfChanged(ctx context.Context, original, desired api.Object) (bool, error) {
	if so, ok := desired.(api.StatusObject); ok {
		ObserveGeneration(so)
	}
	same, err := StatusEqual(original, desired)
	if err != nil {
		return false, err
	}
	if same {
		return false, nil
	}
	if err := c.UpdateStatus(ctx, desired); err != nil {
		return false, fmt.Errorf("updating status of %s: %w", api.Key(desired), err)
	}
	return true, nil
}
