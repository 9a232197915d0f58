package channels

import (
	"context"

	"github.com/eddyplatform/eddy/api/eventing"
	"github.com/eddyplatform/eddy/control/reconciler"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/cache"
)

// eventTypeReconciler reports whether an EventType's spec.reference (the Broker or source
// that produces the type) exists: the EventType is Ready while it does.
type eventTypeReconciler struct{ *Reconcilers }

func (r *eventTypeReconciler) Reconcile(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return reconciler.Permanent(err)
	}
	et := &eventing.EventType{}
	if err := r.Client.Get(ctx, ns, name, et); apierrors.IsNotFound(err) {
		return nil
	} else if err != nil {
		return err
	}
	orig := reconciler.DeepCopy(et)
	st := &et.Status
	st.InitializeConditions()
	switch ref := et.Spec.Reference; {
	case ref == nil:
		st.MarkReferenceExists() // nothing to check, as Knative
	default:
		gv, err := schema.ParseGroupVersion(ref.APIVersion)
		k, _, kerr := r.Client.Registry().ForGVK(gv.WithKind(ref.Kind))
		refNS := ref.Namespace
		if refNS == "" {
			refNS = ns
		}
		switch {
		case err != nil || kerr != nil:
			st.MarkReferenceDoesNotExist()
		default:
			if !k.Namespaced {
				refNS = ""
			}
			if _, gerr := r.Client.Store().Get(ctx, k.Resource(), refNS, ref.Name); gerr != nil {
				st.MarkReferenceDoesNotExist()
			} else {
				st.MarkReferenceExists()
			}
		}
	}
	st.ObservedGeneration = et.Generation
	_, err = r.Client.UpdateStatusIfChanged(ctx, orig, et)
	return err
}
