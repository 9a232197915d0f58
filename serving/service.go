package serving

import (
	"context"
	"reflect"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/serving"
	"github.com/eddyplatform/eddy/control/reconciler"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
)

// serviceReconciler keeps a Service's Configuration and Route, and copies their status.
type serviceReconciler struct{ *Serving }

func (r *serviceReconciler) Reconcile(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return reconciler.Permanent(err)
	}
	svc, err := r.services.Get(ns, name)
	if apierrors.IsNotFound(err) || err == nil && svc.DeletionTimestamp != nil {
		return r.deleteOwned(ctx, ns, name)
	}
	if err != nil {
		return err
	}
	orig := reconciler.DeepCopy(svc)
	err = r.reconcile(ctx, svc)
	if _, serr := r.cfg.Client.UpdateStatusIfChanged(ctx, orig, svc); serr != nil {
		return serr
	}
	return err
}

func (r *serviceReconciler) reconcile(ctx context.Context, svc *serving.Service) error {
	st := &svc.Status
	st.InitializeConditions()
	labels := map[string]string{serving.ServiceLabelKey: svc.Name, serving.ServiceUIDLabelKey: string(svc.UID)}

	// The Configuration: the service's template.
	cfg := &serving.Configuration{}
	err := r.cfg.Client.Get(ctx, svc.Namespace, svc.Name, cfg)
	switch {
	case apierrors.IsNotFound(err):
		cfg = &serving.Configuration{
			ObjectMeta: metav1.ObjectMeta{Namespace: svc.Namespace, Name: svc.Name, Labels: labels,
				OwnerReferences: []metav1.OwnerReference{controllerRef(svc, "Service")}},
			Spec: *api.Clone(&svc.Spec.ConfigurationSpec),
		}
		if err := r.cfg.Client.Create(ctx, cfg); err != nil {
			st.MarkConfigurationNotReconciled()
			return err
		}
	case err != nil:
		return err
	case !ownedBy(cfg, svc):
		st.MarkConfigurationNotOwned(svc.Name)
		return nil
	case !reflect.DeepEqual(cfg.Spec, svc.Spec.ConfigurationSpec):
		cfg.Spec = *api.Clone(&svc.Spec.ConfigurationSpec)
		if err := r.cfg.Client.Update(ctx, cfg); err != nil {
			return err
		}
	}
	if cfg.Generation == cfg.Status.ObservedGeneration {
		st.PropagateConfigurationStatus(&cfg.Status)
	} else {
		st.MarkConfigurationNotReconciled()
	}

	// The Route: the service's traffic, with latestRevision targets on its configuration.
	want := serving.RouteSpec{Traffic: make([]serving.TrafficTarget, len(svc.Spec.Traffic))}
	for i, t := range svc.Spec.Traffic {
		t = *api.Clone(&t)
		if t.RevisionName == "" {
			t.ConfigurationName = svc.Name
		}
		want.Traffic[i] = t
	}
	rt := &serving.Route{}
	err = r.cfg.Client.Get(ctx, svc.Namespace, svc.Name, rt)
	switch {
	case apierrors.IsNotFound(err):
		rt = &serving.Route{
			ObjectMeta: metav1.ObjectMeta{Namespace: svc.Namespace, Name: svc.Name, Labels: labels,
				OwnerReferences: []metav1.OwnerReference{controllerRef(svc, "Service")}},
			Spec: want,
		}
		if err := r.cfg.Client.Create(ctx, rt); err != nil {
			st.MarkRouteNotReconciled()
			return err
		}
	case err != nil:
		return err
	case !ownedBy(rt, svc):
		st.MarkRouteNotOwned(svc.Name)
		return nil
	default:
		probe := &serving.Route{ObjectMeta: rt.ObjectMeta, Spec: *api.Clone(&want)}
		probe.SetDefaults()
		if !reflect.DeepEqual(probe.Spec, rt.Spec) {
			rt.Spec = want
			if err := r.cfg.Client.Update(ctx, rt); err != nil {
				return err
			}
		}
	}
	if rt.Generation == rt.Status.ObservedGeneration {
		st.PropagateRouteStatus(&rt.Status)
		// As Knative: the route is not yet ready while a latestRevision target still points
		// at an older revision than the configuration's latest ready one.
		for _, t := range rt.Status.Traffic {
			if t.LatestRevision != nil && *t.LatestRevision && t.RevisionName != cfg.Status.LatestReadyRevisionName {
				st.MarkRouteNotReconciled()
				break
			}
		}
	} else {
		st.MarkRouteNotReconciled()
	}
	return nil
}

// deleteOwned deletes the Configuration and Route a deleted Service owned.
func (r *serviceReconciler) deleteOwned(ctx context.Context, ns, name string) error {
	sel := labels.SelectorFromSet(labels.Set{serving.ServiceLabelKey: name})
	cfgs, _ := r.configurations.List(ns, sel)
	for _, c := range cfgs {
		if ref := metav1.GetControllerOfNoCopy(c); ref != nil && ref.Kind == "Service" && ref.Name == name {
			if err := ignoreNotFound(r.cfg.Client.Delete(ctx, c)); err != nil {
				return err
			}
		}
	}
	rts, _ := r.routes.List(ns, sel)
	for _, rt := range rts {
		if ref := metav1.GetControllerOfNoCopy(rt); ref != nil && ref.Kind == "Service" && ref.Name == name {
			if err := ignoreNotFound(r.cfg.Client.Delete(ctx, rt)); err != nil {
				return err
			}
		}
	}
	return nil
}
