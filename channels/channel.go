package channels

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/eddyplatform/eddy/api/duck"
	"github.com/eddyplatform/eddy/api/messaging"
	"github.com/eddyplatform/eddy/channels/ingress"
	"github.com/eddyplatform/eddy/control/reconciler"
	"github.com/eddyplatform/eddy/dispatcher"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
)

// channelReconciler runs Channels and InMemoryChannels: a topic on the channel's bus, the
// ingress path that publishes to it, and one dispatcher consumer per entry of spec.subscribers.
type channelReconciler struct {
	*Reconcilers
	plural string // "channels" or "inmemorychannels"
}

// channelView is what the reconciler reads and writes of either channel kind.
type channelView struct {
	meta   *metav1.ObjectMeta
	bus    messaging.BusRef
	spec   *duck.ChannelableSpec
	status *messaging.ChannelStatus
}

func (r *channelReconciler) Reconcile(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return reconciler.Permanent(err)
	}
	if r.plural == "inmemorychannels" {
		imc, err := r.imcs.Get(ns, name)
		if apierrors.IsNotFound(err) || err == nil && imc.DeletionTimestamp != nil {
			r.teardownChannel(ctx, r.plural, ns, name)
			return nil
		}
		if err != nil {
			return err
		}
		orig := reconciler.DeepCopy(imc)
		err = r.reconcileChannel(ctx, channelView{&imc.ObjectMeta, imc.Bus(), &imc.Spec.ChannelableSpec, &imc.Status})
		if _, serr := r.Client.UpdateStatusIfChanged(ctx, orig, imc); serr != nil {
			return serr
		}
		return err
	}
	ch, err := r.channels.Get(ns, name)
	if apierrors.IsNotFound(err) || err == nil && ch.DeletionTimestamp != nil {
		r.teardownChannel(ctx, r.plural, ns, name)
		return nil
	}
	if err != nil {
		return err
	}
	orig := reconciler.DeepCopy(ch)
	err = r.reconcileChannel(ctx, channelView{&ch.ObjectMeta, ch.Bus(), &ch.Spec.ChannelableSpec, &ch.Status})
	if _, serr := r.Client.UpdateStatusIfChanged(ctx, orig, ch); serr != nil {
		return serr
	}
	return err
}

func consumerPrefix(plural, ns, name string) string {
	return "channel/" + targetKey(plural, ns, name) + "/"
}

// teardownChannel stops a deleted channel's consumers (forgetting their groups), its ingress
// path and its topic.
func (r *channelReconciler) teardownChannel(ctx context.Context, plural, ns, name string) {
	for _, k := range r.DataPlane.Keys(consumerPrefix(plural, ns, name)) {
		r.DataPlane.Stop(ctx, k, true)
	}
	r.dropTopic(ctx, plural, ns, name)
}

func (r *channelReconciler) reconcileChannel(ctx context.Context, c channelView) error {
	st := c.status
	st.InitializeConditions()
	b, err := r.DataPlane.Buses().Bus(ctx, c.meta.Namespace, c.bus)
	if err != nil {
		st.MarkBackingChannelFailed("BusUnavailable", "%v", err)
		r.DataPlane.RemoveTarget(r.plural, c.meta.Namespace, c.meta.Name)
		st.SetAddress("")
		return reconciler.RequeueAfter(requeueUnavailable)
	}
	topic := Topic(strings.TrimSuffix(r.plural, "s"), c.meta.Namespace, c.meta.Name, c.meta.UID)
	if err := b.EnsureTopic(ctx, topic); err != nil {
		st.MarkBackingChannelFailed("TopicFailed", "creating topic %s on bus %s: %v", topic, c.bus, err)
		return err
	}
	st.MarkBackingChannelReady()
	r.DataPlane.SetTarget(r.plural, c.meta.Namespace, c.meta.Name, ingress.Target{Bus: b, Topic: topic})
	st.SetAddress(r.DataPlane.Address(r.plural, c.meta.Namespace, c.meta.Name))

	dls, err := r.resolveDLS(ctx, c.meta.Namespace, c.spec.Delivery)
	switch {
	case err != nil:
		st.MarkDeadLetterSinkResolvedFailed(reasonOf(err), "%v", err)
	case dls == nil:
		st.MarkDeadLetterSinkNotConfigured()
	default:
		st.MarkDeadLetterSinkResolvedSucceeded(dls.String())
	}

	// One consumer per subscriber; the ones no longer listed go, with their groups.
	names := r.subscriptionMeta(c.meta.Namespace)
	want := map[string]bool{}
	var statuses []duck.SubscriberStatus
	for _, s := range c.spec.Subscribers {
		key := consumerPrefix(r.plural, c.meta.Namespace, c.meta.Name) + string(s.UID)
		want[key] = true
		ss := duck.SubscriberStatus{UID: s.UID, ObservedGeneration: s.Generation, Ready: corev1.ConditionTrue}
		sub, err := r.subscriberFor(s, names, c.meta.Namespace, c.spec.Delivery, dls)
		if err == nil {
			err = r.DataPlane.Ensure(key, b, topic, Group("sub", s.UID), sub)
		}
		if err != nil {
			ss.Ready, ss.Message = corev1.ConditionFalse, err.Error()
		}
		statuses = append(statuses, ss)
	}
	for _, k := range r.DataPlane.Keys(consumerPrefix(r.plural, c.meta.Namespace, c.meta.Name)) {
		if !want[k] {
			r.DataPlane.Stop(ctx, k, true)
		}
	}
	st.Subscribers = statuses
	return nil
}

// subscriptionMeta maps the uids of the subscriptions in namespace (of either API) to their
// metadata: the name labels metrics, the annotations tune dispatch.
func (r *channelReconciler) subscriptionMeta(ns string) map[types.UID]*metav1.ObjectMeta {
	out := map[types.UID]*metav1.ObjectMeta{}
	subs, _ := r.subscriptions.List(ns, labels.Everything())
	for _, s := range subs {
		out[s.UID] = &s.ObjectMeta
	}
	legacy, _ := r.legacySubscriptions.List(ns, labels.Everything())
	for _, s := range legacy {
		out[s.UID] = &s.ObjectMeta
	}
	return out
}

// subscriberFor turns a channel's subscriber entry into the dispatcher's Subscriber. The
// entry's own delivery spec wins; otherwise the channel's applies, with its resolved DLS.
func (r *channelReconciler) subscriberFor(s duck.SubscriberSpec, subs map[types.UID]*metav1.ObjectMeta, ns string, chDelivery *duck.DeliverySpec, chDLS *url.URL) (dispatcher.Subscriber, error) {
	name := string(s.UID)
	var opts duck.DispatchOptions
	if m := subs[s.UID]; m != nil {
		name = m.Name
		opts, _ = duck.ParseDispatchOptions(m.Annotations) // validated on admission
	}
	out := dispatcher.Subscriber{Kind: dispatcher.KindSubscription, Namespace: ns, Name: name, Ordered: opts.Ordered, MaxInFlight: opts.MaxInFlight}
	var err error
	if out.SubscriberURI, err = parseURL(s.SubscriberURI); err != nil {
		return out, fmt.Errorf("subscriberUri: %w", err)
	}
	if out.ReplyURI, err = parseURL(s.ReplyURI); err != nil {
		return out, fmt.Errorf("replyUri: %w", err)
	}
	delivery := s.Delivery
	dlsURI := ""
	if delivery.IsEmpty() {
		delivery = chDelivery
		dlsURI = urlString(chDLS)
	} else if delivery.DeadLetterSink != nil {
		dlsURI = delivery.DeadLetterSink.URI // resolved by the Subscription reconciler
	}
	if out.DeadLetterURI, err = parseURL(dlsURI); err != nil {
		return out, fmt.Errorf("deadLetterSink: %w", err)
	}
	if out.Policy, err = Policy(delivery); err != nil {
		return out, fmt.Errorf("delivery: %w", err)
	}
	return out, out.Validate()
}
