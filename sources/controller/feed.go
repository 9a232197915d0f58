package controller

import (
	"context"
	"encoding/json"
	"reflect"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/sources"
	"github.com/eddyplatform/eddy/api/sources/feedsv1alpha1"
	"github.com/eddyplatform/eddy/control/reconciler"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// feedReconciler runs a 2018 Feed as the source it maps onto (sources.FeedToV1): a
// GitHubSource, ApiServerSource or CloudPubSubSource of the Feed's name that the Feed owns,
// whose status it copies (sources.SetFeedStatus).
type feedReconciler struct{ *Sources }

func (r *feedReconciler) Reconcile(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return reconciler.Permanent(err)
	}
	f := &feedsv1alpha1.Feed{}
	if err := r.cfg.Client.Get(ctx, ns, name, f); apierrors.IsNotFound(err) {
		return r.deleteChild(ctx, ns, name)
	} else if err != nil {
		return err
	}
	orig := reconciler.DeepCopy(f)
	err = r.reconcile(ctx, f)
	if _, serr := r.cfg.Client.UpdateStatusIfChanged(ctx, orig, f); serr != nil {
		return serr
	}
	return err
}

func (r *feedReconciler) reconcile(ctx context.Context, f *feedsv1alpha1.Feed) error {
	want, err := sources.FeedToV1(f)
	if err != nil {
		f.Status.MarkNotReady("Unsupported", "%v", err)
		return reconciler.Permanent(err)
	}
	t := true
	want.SetNamespace(f.Namespace)
	want.SetName(f.Name)
	want.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: feedsv1alpha1.Group + "/" + feedsv1alpha1.Version, Kind: "Feed", Name: f.Name, UID: f.UID, Controller: &t}})
	want.SetLabels(map[string]string{feedLabel: f.Name})
	admitted, _, err := r.cfg.Client.Registry().Admit(want)
	if err != nil {
		f.Status.MarkNotReady("InvalidSource", "%v", err)
		return reconciler.Permanent(err)
	}
	have := reflect.New(reflect.TypeOf(admitted).Elem()).Interface().(api.Object)
	err = r.cfg.Client.Get(ctx, f.Namespace, f.Name, have)
	switch {
	case apierrors.IsNotFound(err):
		if err := r.cfg.Client.Create(ctx, admitted); err != nil {
			return err
		}
		have = admitted
	case err != nil:
		return err
	case !reflect.DeepEqual(spec(have), spec(admitted)):
		setSpec(have, spec(admitted))
		if err := r.cfg.Client.Update(ctx, have); err != nil {
			return err
		}
	}
	if err := sources.SetFeedStatus(f, have); err != nil {
		return err
	}
	if c := have.(api.StatusObject).GetStatus().GetCondition(api.ConditionReady); c != nil && c.IsTrue() {
		f.Status.MarkReady()
	} else if c != nil {
		f.Status.MarkNotReady(c.Reason, "%s %s: %s", have.GetObjectKind().GroupVersionKind().Kind, f.Name, c.Message)
	} else {
		f.Status.MarkNotReady("SourceNotReady", "the source is not reconciled yet")
	}
	return nil
}

// feedLabel names the Feed a source was made for.
const feedLabel = "feeds.knative.dev/feed"

// deleteChild deletes the source a deleted Feed made.
func (r *feedReconciler) deleteChild(ctx context.Context, ns, name string) error {
	for _, obj := range []api.Object{&sources.GitHubSource{}, &sources.ApiServerSource{}, &sources.CloudPubSubSource{}} {
		if err := r.cfg.Client.Get(ctx, ns, name, obj); err != nil {
			continue
		}
		if obj.GetLabels()[feedLabel] != name {
			continue
		}
		if err := r.cfg.Client.Delete(ctx, obj); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}

// spec returns an object's spec as generic JSON, for comparison.
func spec(obj api.Object) any {
	raw, _ := json.Marshal(obj)
	var m map[string]any
	json.Unmarshal(raw, &m)
	return m["spec"]
}

// setSpec replaces an object's spec with a generic JSON one.
func setSpec(obj api.Object, s any) {
	raw, _ := json.Marshal(obj)
	var m map[string]any
	json.Unmarshal(raw, &m)
	m["spec"] = s
	raw, _ = json.Marshal(m)
	json.Unmarshal(raw, obj)
}
