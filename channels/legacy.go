package channels

import (
	"context"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/duck"
	"github.com/eddyplatform/eddy/api/messaging"
	"github.com/eddyplatform/eddy/api/messaging/channelsv1alpha1"
	"github.com/eddyplatform/eddy/control/reconciler"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
)

// LegacyChannelPlural is the ingress path segment of the 2018 channels.knative.dev/v1alpha1
// Channel: its address is /channels.channels.knative.dev/{namespace}/{name}.
const LegacyChannelPlural = "channels.channels.knative.dev"

// The 2018 kinds run as their v1 forms (see the channelsv1alpha1 package documentation): a
// v1alpha1 Channel is reconciled as the v1 Channel ToV1 returns, whose spec.subscribers are
// the v1alpha1 Subscriptions naming it that have resolved their destinations; a v1alpha1
// Subscription is reconciled as the v1 Subscription ToV1 returns, minus the edit of the
// channel's spec (a 2018 Channel has no spec.subscribers: the channel reconciler reads the
// subscriptions' status instead). Each writes the v1 status back onto the v1alpha1 object.

// legacyChannelReconciler runs channels.knative.dev/v1alpha1 Channels.
type legacyChannelReconciler struct{ *channelReconciler }

func (r *legacyChannelReconciler) Reconcile(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return reconciler.Permanent(err)
	}
	ch, err := r.legacyChannels.Get(ns, name)
	if apierrors.IsNotFound(err) || err == nil && ch.DeletionTimestamp != nil {
		r.teardownChannel(ctx, LegacyChannelPlural, ns, name)
		return nil
	}
	if err != nil {
		return err
	}
	orig := reconciler.DeepCopy(ch)
	v1 := ch.ToV1()
	v1.Spec.Subscribers = r.legacySubscribers(ns, name)
	err = r.reconcileChannel(ctx, channelView{&v1.ObjectMeta, v1.Bus(), &v1.Spec.ChannelableSpec, &v1.Status})
	ch.Status = v1.Status
	if _, serr := r.Client.UpdateStatusIfChanged(ctx, orig, ch); serr != nil {
		return serr
	}
	return err
}

// legacySubscribers lists, as spec.subscribers entries, the live v1alpha1 Subscriptions of
// channel ns/name whose destinations resolved.
func (r *Reconcilers) legacySubscribers(ns, channel string) []duck.SubscriberSpec {
	subs, _ := r.legacySubscriptions.List(ns, labels.Everything())
	var out []duck.SubscriberSpec
	for _, s := range subs {
		if s.Spec.Channel != channel || s.DeletionTimestamp != nil {
			continue
		}
		p := s.Status.PhysicalSubscription
		if p.SubscriberURI == "" && p.ReplyURI == "" {
			continue
		}
		out = append(out, duck.SubscriberSpec{UID: s.UID, Generation: s.Generation, SubscriberURI: p.SubscriberURI, ReplyURI: p.ReplyURI})
	}
	return out
}

// legacySubscriptionReconciler runs channels.knative.dev/v1alpha1 Subscriptions.
type legacySubscriptionReconciler struct{ *subscriptionReconciler }

func (r *legacySubscriptionReconciler) Reconcile(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return reconciler.Permanent(err)
	}
	sub, err := r.legacySubscriptions.Get(ns, name)
	if apierrors.IsNotFound(err) || err == nil && sub.DeletionTimestamp != nil {
		return nil // the channel's watch of subscriptions drops its subscriber
	}
	if err != nil {
		return err
	}
	orig := reconciler.DeepCopy(sub)
	v1, err := sub.ToV1()
	if err != nil {
		sub.Status.InitializeConditions()
		sub.Status.MarkReferencesNotResolved("InvalidDestination", "%v", err)
		err = reconciler.Permanent(err)
	} else {
		err = r.reconcile(ctx, v1)
		sub.Status = v1.Status
	}
	if _, serr := r.Client.UpdateStatusIfChanged(ctx, orig, sub); serr != nil {
		return serr
	}
	return err
}

// getLegacyChannel reads a v1alpha1 Channel as the v1 Channel it runs as. Its spec is not
// written back: Update of the returned ref is a no-op (see channelRef.legacy).
func (r *subscriptionReconciler) getLegacyChannel(ctx context.Context, ns, name string) (*channelRef, error) {
	ch := &channelsv1alpha1.Channel{}
	if err := r.Client.Get(ctx, ns, name, ch); err != nil {
		return nil, err
	}
	v1 := ch.ToV1()
	v1.Spec.Subscribers = r.legacySubscribers(ns, name)
	return &channelRef{obj: v1, plural: LegacyChannelPlural, spec: &v1.Spec.ChannelableSpec, status: &v1.Status, legacy: true}, nil
}

// isLegacyChannel reports whether ref names a channels.knative.dev Channel.
func isLegacyChannel(ref corev1.ObjectReference) bool {
	return ref.Kind == "Channel" && ref.GroupVersionKind().Group == channelsv1alpha1.Group
}

// mapToLegacyChannel maps a v1alpha1 Subscription to the channel it names.
func mapToLegacyChannel(u *unstructured.Unstructured) []string {
	ch, _, _ := unstructured.NestedString(u.Object, "spec", "channel")
	if ch == "" {
		return nil
	}
	return []string{u.GetNamespace() + "/" + ch}
}

// legacySubscriptionsOf maps a v1alpha1 Channel to the v1alpha1 Subscriptions naming it.
func (r *Reconcilers) legacySubscriptionsOf(u *unstructured.Unstructured) []string {
	subs, _ := r.legacySubscriptions.List(u.GetNamespace(), labels.Everything())
	var keys []string
	for _, s := range subs {
		if s.Spec.Channel == u.GetName() {
			keys = append(keys, s.Namespace+"/"+s.Name)
		}
	}
	return keys
}

// busReconciler checks that a Bus or ClusterBus can be opened, and reports it in the
// BackendReady condition. A deleted one's bus is closed.
type busReconciler struct {
	*Reconcilers
	cluster bool
}

func (r *busReconciler) Reconcile(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return reconciler.Permanent(err)
	}
	var (
		obj  api.Object
		orig api.Object
		st   *channelsv1alpha1.BusStatus
		ref  messaging.BusRef
	)
	if r.cluster {
		b, err := r.clusterBuses.Get("", name)
		if apierrors.IsNotFound(err) || err == nil && b.DeletionTimestamp != nil {
			r.forgetBus("", name)
			return nil
		}
		if err != nil {
			return err
		}
		orig, obj, st, ref = reconciler.DeepCopy(b), b, &b.Status, messaging.BusRef{Kind: messaging.KindClusterBus, Name: name}
	} else {
		b, err := r.nsBuses.Get(ns, name)
		if apierrors.IsNotFound(err) || err == nil && b.DeletionTimestamp != nil {
			r.forgetBus(ns, name)
			return nil
		}
		if err != nil {
			return err
		}
		orig, obj, st, ref = reconciler.DeepCopy(b), b, &b.Status, messaging.BusRef{Kind: messaging.KindBus, Name: name}
	}
	st.InitializeConditions()
	_, err = r.DataPlane.Buses().Bus(ctx, ns, ref)
	if err != nil {
		st.MarkBackendFailed("BackendUnavailable", "%v", err)
	} else {
		st.MarkBackendReady()
	}
	if _, serr := r.Client.UpdateStatusIfChanged(ctx, orig, obj); serr != nil {
		return serr
	}
	if err != nil {
		return reconciler.RequeueAfter(requeueUnavailable)
	}
	return nil
}

func (r *busReconciler) forgetBus(ns, name string) {
	if f, ok := r.DataPlane.Buses().(interface{ Forget(ns, name string) }); ok {
		f.Forget(ns, name)
	}
}

// busesOfSecret maps a Secret to the Buses (or ClusterBuses) whose secretRef names it.
func (r *Reconcilers) busesOfSecret(cluster bool) reconciler.MapFunc {
	return func(u *unstructured.Unstructured) []string {
		var keys []string
		names := func(ns, name string, ref *corev1.SecretReference, key string) {
			if ref == nil || ref.Name != u.GetName() {
				return
			}
			refNS := ref.Namespace
			if refNS == "" {
				refNS = ns
			}
			if refNS == u.GetNamespace() {
				keys = append(keys, key)
			}
		}
		if cluster {
			bs, _ := r.clusterBuses.List("", labels.Everything())
			for _, b := range bs {
				names("", b.Name, b.Spec.SecretRef, b.Name)
			}
			return keys
		}
		bs, _ := r.nsBuses.List(u.GetNamespace(), labels.Everything())
		for _, b := range bs {
			names(b.Namespace, b.Name, b.Spec.SecretRef, b.Namespace+"/"+b.Name)
		}
		return keys
	}
}

// watchBuses re-enqueues the objects listed by l that run on a Bus or ClusterBus when it
// changes, so that they move to the bus opened from its new settings.
func watchBuses[T api.Object](l *reconciler.Lister[T], busOf func(T) messaging.BusRef) func(*reconciler.Controller) error {
	return func(c *reconciler.Controller) error {
		m := func(cluster bool) reconciler.MapFunc {
			return func(u *unstructured.Unstructured) []string {
				ns := u.GetNamespace()
				if cluster {
					ns = ""
				}
				objs, _ := l.List(ns, labels.Everything())
				var keys []string
				for _, o := range objs {
					ref := busOf(o)
					if cluster && (ref.Kind == messaging.KindClusterBus || ref.Kind == "") && ref.Name == u.GetName() ||
						!cluster && ref.Kind == messaging.KindBus && ref.Name == u.GetName() {
						keys = append(keys, o.GetNamespace()+"/"+o.GetName())
					}
				}
				return keys
			}
		}
		if err := c.Watch(&channelsv1alpha1.Bus{}, m(false)); err != nil {
			return err
		}
		return c.Watch(&channelsv1alpha1.ClusterBus{}, m(true))
	}
}
