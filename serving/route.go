package serving

import (
	"context"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/serving"
	"github.com/eddyplatform/eddy/control/reconciler"
	"github.com/eddyplatform/eddy/serving/router"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/cache"
)

// routeReconciler resolves a Route's traffic to ready revisions and gives the router the split.
type routeReconciler struct{ *Serving }

func (r *routeReconciler) Reconcile(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return reconciler.Permanent(err)
	}
	rt, err := r.routes.Get(ns, name)
	if apierrors.IsNotFound(err) || err == nil && rt.DeletionTimestamp != nil {
		r.cfg.Router.RemoveRoute(ns, name)
		return nil
	}
	if err != nil {
		return err
	}
	orig := reconciler.DeepCopy(rt)
	r.reconcile(rt)
	rt.Status.ObservedGeneration = rt.Generation
	_, err = r.cfg.Client.UpdateStatusIfChanged(ctx, orig, rt)
	return err
}

// reconcile resolves every target; if one cannot be resolved the router keeps the split it
// had (traffic never moves to a revision that is not ready) and the status says why.
func (r *routeReconciler) reconcile(rt *serving.Route) {
	st := &rt.Status
	st.InitializeConditions()
	st.URL = r.routeURL(rt.Namespace, rt.Name, "")
	st.SetAddress(st.URL)
	var targets []router.Target
	var traffic []serving.TrafficTarget
	for _, t := range rt.Spec.Traffic {
		rev, ok := r.resolve(st, rt.Namespace, t)
		if !ok {
			if len(st.Traffic) == 0 {
				st.MarkIngressNotReady(serving.ReasonIngressNotConfigured, "Waiting for the traffic targets to be ready.")
			}
			return
		}
		out := serving.TrafficTarget{Tag: t.Tag, RevisionName: rev, Percent: t.Percent}
		if t.ConfigurationName != "" {
			latest := true
			out.LatestRevision = &latest
		} else {
			latest := false
			out.LatestRevision = &latest
		}
		if t.Tag != "" {
			out.URL = r.routeURL(rt.Namespace, rt.Name, t.Tag)
		}
		traffic = append(traffic, out)
		targets = append(targets, router.Target{Revision: rev, Percent: int(t.GetPercent()), Tag: t.Tag})
	}
	r.cfg.Router.SetRoute(router.Route{Namespace: rt.Namespace, Name: rt.Name, Targets: targets})
	st.Traffic = traffic
	st.MarkTrafficAssigned()
	st.MarkIngressReady()
}

// resolve finds the ready revision a target names, or marks why there is none.
func (r *routeReconciler) resolve(st *serving.RouteStatus, ns string, t serving.TrafficTarget) (string, bool) {
	if t.RevisionName == "" {
		cfg, err := r.configurations.Get(ns, t.ConfigurationName)
		if err != nil {
			st.MarkMissingTrafficTarget("Configuration", t.ConfigurationName)
			return "", false
		}
		if cfg.Status.LatestReadyRevisionName == "" {
			if c := cfg.Status.GetCondition(api.ConditionReady); c != nil && c.IsFalse() {
				st.MarkConfigurationFailed(t.ConfigurationName)
			} else {
				st.MarkConfigurationNotReady(t.ConfigurationName)
			}
			return "", false
		}
		return cfg.Status.LatestReadyRevisionName, true
	}
	rev, err := r.revisions.Get(ns, t.RevisionName)
	if err != nil {
		st.MarkMissingTrafficTarget("Revision", t.RevisionName)
		return "", false
	}
	if !rev.Status.IsReady() {
		if c := rev.Status.GetCondition(api.ConditionReady); c != nil && c.IsFalse() {
			st.MarkRevisionFailed(t.RevisionName)
		} else {
			st.MarkRevisionNotReady(t.RevisionName)
		}
		return "", false
	}
	return t.RevisionName, true
}
