package serving

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/serving"
	"github.com/eddyplatform/eddy/control/reconciler"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
)

// Revision garbage collection, with Knative's defaults: a configuration keeps at least
// minRevisions revisions that no route uses; older ones go once they are past retainFor, and
// never more than maxRevisions are kept.
const (
	minRevisions = 20
	maxRevisions = 1000
	retainFor    = 48 * time.Hour
)

// configurationReconciler creates a Configuration's revisions and reports the latest.
type configurationReconciler struct{ *Serving }

func (r *configurationReconciler) Reconcile(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return reconciler.Permanent(err)
	}
	cfg, err := r.configurations.Get(ns, name)
	if apierrors.IsNotFound(err) || err == nil && cfg.DeletionTimestamp != nil {
		return r.deleteRevisions(ctx, ns, name)
	}
	if err != nil {
		return err
	}
	orig := reconciler.DeepCopy(cfg)
	err = r.reconcile(ctx, cfg)
	cfg.Status.ObservedGeneration = cfg.Generation
	if _, serr := r.cfg.Client.UpdateStatusIfChanged(ctx, orig, cfg); serr != nil {
		return serr
	}
	return err
}

// revisionNameFor names the revision of the configuration's current template.
func revisionNameFor(cfg *serving.Configuration) string {
	if n := cfg.Spec.Template.Name; n != "" {
		return n
	}
	return serving.RevisionName(cfg.Name, cfg.Generation)
}

func (r *configurationReconciler) reconcile(ctx context.Context, cfg *serving.Configuration) error {
	st := &cfg.Status
	st.InitializeConditions()
	name := revisionNameFor(cfg)
	rev, err := r.revisions.Get(cfg.Namespace, name)
	if apierrors.IsNotFound(err) {
		// The cache may lag our own create: ask the store before creating.
		rev = &serving.Revision{}
		err = r.cfg.Client.Get(ctx, cfg.Namespace, name, rev)
		if apierrors.IsNotFound(err) {
			rev, err = r.createRevision(ctx, cfg, name)
			if err != nil {
				st.MarkRevisionCreationFailed(err.Error())
				return err
			}
		}
	}
	if err != nil {
		return err
	}
	if rev.Labels[serving.ConfigurationLabelKey] != cfg.Name {
		st.MarkRevisionCreationFailed(fmt.Sprintf("revision %q already exists and belongs to another configuration", name))
		return nil
	}
	st.SetLatestCreatedRevisionName(name)

	// The latest ready revision: the newest (by generation) ready revision of ours.
	revs, _ := r.revisions.List(cfg.Namespace, labels.SelectorFromSet(labels.Set{serving.ConfigurationLabelKey: cfg.Name}))
	sort.Slice(revs, func(i, j int) bool { return revGeneration(revs[i]) > revGeneration(revs[j]) })
	latestReady := ""
	for _, rv := range revs {
		if rv.Status.IsReady() {
			latestReady = rv.Name
			break
		}
	}
	switch {
	case latestReady != "":
		st.SetLatestReadyRevisionName(latestReady)
	case st.LatestReadyRevisionName != "":
		st.MarkLatestReadyDeleted()
	}
	if c := rev.Status.GetCondition(api.ConditionReady); c != nil && c.IsFalse() {
		st.MarkLatestCreatedFailed(name, c.Message)
	}
	return r.collectGarbage(ctx, cfg, revs)
}

// revGeneration is the configuration generation a revision was made from.
func revGeneration(rev *serving.Revision) int64 {
	n, _ := strconv.ParseInt(rev.Labels[serving.ConfigurationGenerationLabelKey], 10, 64)
	return n
}

// createRevision stamps out the revision of the current template.
func (r *configurationReconciler) createRevision(ctx context.Context, cfg *serving.Configuration, name string) (*serving.Revision, error) {
	tmpl := api.Clone(&cfg.Spec.Template)
	lbls := map[string]string{}
	for k, v := range tmpl.Labels {
		lbls[k] = v
	}
	lbls[serving.ConfigurationLabelKey] = cfg.Name
	lbls[serving.ConfigurationGenerationLabelKey] = strconv.FormatInt(cfg.Generation, 10)
	lbls[serving.ConfigurationUIDLabelKey] = string(cfg.UID)
	if svc := cfg.Labels[serving.ServiceLabelKey]; svc != "" {
		lbls[serving.ServiceLabelKey] = svc
		lbls[serving.ServiceUIDLabelKey] = cfg.Labels[serving.ServiceUIDLabelKey]
	}
	rev := &serving.Revision{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: cfg.Namespace, Name: name, Labels: lbls, Annotations: tmpl.Annotations,
			OwnerReferences: []metav1.OwnerReference{controllerRef(cfg, "Configuration")},
		},
		Spec: tmpl.Spec,
	}
	if err := r.cfg.Client.Create(ctx, rev); err != nil {
		return nil, err
	}
	return rev, nil
}

// collectGarbage deletes old revisions no route uses, beyond Knative's retention.
func (r *configurationReconciler) collectGarbage(ctx context.Context, cfg *serving.Configuration, revs []*serving.Revision) error {
	if len(revs) <= minRevisions {
		return nil
	}
	routed := r.routedRevisions(cfg.Namespace)
	kept := 0
	for _, rv := range revs { // newest first
		if routed[rv.Name] || rv.Name == cfg.Status.LatestCreatedRevisionName || rv.Name == cfg.Status.LatestReadyRevisionName {
			continue
		}
		kept++
		if kept <= minRevisions || kept <= maxRevisions && time.Since(rv.CreationTimestamp.Time) < retainFor {
			continue
		}
		if err := ignoreNotFound(r.cfg.Client.Delete(ctx, rv)); err != nil {
			return err
		}
	}
	return nil
}

// routedRevisions lists the revisions of namespace that some route's traffic names.
func (s *Serving) routedRevisions(ns string) map[string]bool {
	out := map[string]bool{}
	rts, _ := s.routes.List(ns, labels.Everything())
	for _, rt := range rts {
		for _, t := range rt.Status.Traffic {
			out[t.RevisionName] = true
		}
	}
	return out
}

// deleteRevisions deletes the revisions a deleted Configuration made.
func (r *configurationReconciler) deleteRevisions(ctx context.Context, ns, name string) error {
	revs, _ := r.revisions.List(ns, labels.SelectorFromSet(labels.Set{serving.ConfigurationLabelKey: name}))
	for _, rv := range revs {
		if err := ignoreNotFound(r.cfg.Client.Delete(ctx, rv)); err != nil {
			return err
		}
	}
	return nil
}
