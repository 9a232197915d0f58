package channels

import (
	"context"

	"github.com/eddyplatform/eddy/api/duck"
	"github.com/eddyplatform/eddy/api/eventing"
	"github.com/eddyplatform/eddy/channels/filter"
	"github.com/eddyplatform/eddy/channels/ingress"
	"github.com/eddyplatform/eddy/control/reconciler"
	"github.com/eddyplatform/eddy/dispatcher"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/cache"
)

// brokerReconciler runs Brokers: a topic on the broker's bus and the ingress path that
// publishes to it. Triggers read from that topic, each in its own consumer group.
type brokerReconciler struct{ *Reconcilers }

func (r *brokerReconciler) Reconcile(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return reconciler.Permanent(err)
	}
	b, err := r.brokers.Get(ns, name)
	if apierrors.IsNotFound(err) || err == nil && b.DeletionTimestamp != nil {
		r.dropTopic(ctx, "brokers", ns, name)
		return nil
	}
	if err != nil {
		return err
	}
	orig := reconciler.DeepCopy(b)
	err = r.reconcile(ctx, b)
	if _, serr := r.Client.UpdateStatusIfChanged(ctx, orig, b); serr != nil {
		return serr
	}
	return err
}

func (r *brokerReconciler) reconcile(ctx context.Context, b *eventing.Broker) error {
	st := &b.Status
	st.InitializeConditions()
	bs, err := r.DataPlane.Buses().Bus(ctx, b.Namespace, b.Bus())
	if err != nil {
		st.MarkTriggerChannelFailed("BusUnavailable", "%v", err)
		st.MarkIngressFailed("BusUnavailable", "%v", err)
		r.DataPlane.RemoveTarget("brokers", b.Namespace, b.Name)
		st.SetAddress("")
		return reconciler.RequeueAfter(requeueUnavailable)
	}
	topic := Topic("broker", b.Namespace, b.Name, b.UID)
	if err := bs.EnsureTopic(ctx, topic); err != nil {
		st.MarkTriggerChannelFailed("TopicFailed", "creating topic %s on bus %s: %v", topic, b.Bus(), err)
		return err
	}
	st.MarkTriggerChannelReady()
	r.DataPlane.SetTarget("brokers", b.Namespace, b.Name, ingress.Target{Bus: bs, Topic: topic})
	st.MarkIngressReady()
	st.MarkFilterReady()
	st.SetAddress(r.DataPlane.Address("brokers", b.Namespace, b.Name))
	dls, err := r.resolveDLS(ctx, b.Namespace, b.Spec.Delivery)
	switch {
	case err != nil:
		st.MarkDeadLetterSinkResolvedFailed(reasonOf(err), "%v", err)
	case dls == nil:
		st.MarkDeadLetterSinkNotConfigured()
	default:
		st.MarkDeadLetterSinkResolvedSucceeded(dls.String())
	}
	return nil
}

// triggerReconciler runs one dispatcher consumer per Trigger on its Broker's topic, with the
// trigger's filter; replies go back to the broker.
type triggerReconciler struct{ *Reconcilers }

func triggerKey(ns, name string) string { return "trigger/" + ns + "/" + name }

func (r *triggerReconciler) Reconcile(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return reconciler.Permanent(err)
	}
	t, err := r.triggers.Get(ns, name)
	if apierrors.IsNotFound(err) || err == nil && t.DeletionTimestamp != nil {
		r.DataPlane.Stop(ctx, triggerKey(ns, name), true)
		return nil
	}
	if err != nil {
		return err
	}
	orig := reconciler.DeepCopy(t)
	err = r.reconcile(ctx, t)
	if _, serr := r.Client.UpdateStatusIfChanged(ctx, orig, t); serr != nil {
		return serr
	}
	return err
}

func (r *triggerReconciler) reconcile(ctx context.Context, t *eventing.Trigger) error {
	st := &t.Status
	st.InitializeConditions()
	key := triggerKey(t.Namespace, t.Name)
	b, err := r.brokers.Get(t.Namespace, t.Spec.Broker)
	if apierrors.IsNotFound(err) {
		st.MarkBrokerFailed("BrokerDoesNotExist", "broker %q does not exist", t.Spec.Broker)
		r.DataPlane.Stop(ctx, key, false)
		return nil // the broker's creation enqueues us
	}
	if err != nil {
		return err
	}
	st.PropagateBrokerCondition(b.Status.GetCondition("Ready"))
	target, ok := r.DataPlane.Resolve("brokers", b.Namespace, b.Name)
	if !b.Status.IsReady() || !ok {
		st.MarkSubscribedUnknown("BrokerNotReady", "broker %q is not ready", b.Name)
		return nil // the broker becoming ready enqueues us
	}

	f, err := filter.ForTrigger(&t.Spec)
	if err != nil {
		st.MarkNotSubscribed("FilterInvalid", "%v", err)
		return reconciler.Permanent(err)
	}
	subscriber, err := r.Destinations.URI(ctx, t.Namespace, &t.Spec.Subscriber)
	if err != nil {
		st.MarkSubscriberResolvedFailed(reasonOf(err), "spec.subscriber: %v", err)
		st.MarkNotSubscribed(reasonOf(err), "spec.subscriber: %v", err)
		r.DataPlane.Stop(ctx, key, false)
		return nil
	}
	st.MarkSubscriberResolvedSucceeded(subscriber.String())
	delivery := t.Spec.Delivery
	if delivery.IsEmpty() {
		delivery = b.Spec.Delivery
	}
	dls, err := r.resolveDLS(ctx, t.Namespace, delivery)
	switch {
	case err != nil:
		st.MarkDeadLetterSinkResolvedFailed(reasonOf(err), "%v", err)
		st.MarkNotSubscribed(reasonOf(err), "deadLetterSink: %v", err)
		return nil
	case dls == nil:
		st.MarkDeadLetterSinkNotConfigured()
	default:
		st.MarkDeadLetterSinkResolvedSucceeded(dls.String())
	}
	policy, err := Policy(delivery)
	if err != nil {
		st.MarkNotSubscribed("DeliveryInvalid", "%v", err)
		return reconciler.Permanent(err)
	}
	reply, err := parseURL(b.Status.AddressStatus.URL())
	if err != nil {
		return err
	}
	opts, _ := duck.ParseDispatchOptions(t.Annotations) // validated on admission
	s := dispatcher.Subscriber{
		Kind: dispatcher.KindTrigger, Namespace: t.Namespace, Name: t.Name,
		SubscriberURI: subscriber, ReplyURI: reply, DeadLetterURI: dls, Policy: policy, Filter: f,
		Ordered: opts.Ordered, MaxInFlight: opts.MaxInFlight,
	}
	if err := r.DataPlane.Ensure(key, target.Bus, target.Topic, Group("trigger", t.UID), s); err != nil {
		st.MarkNotSubscribed("ConsumerFailed", "%v", err)
		return err
	}
	st.MarkSubscribed()
	st.MarkDependencySucceeded()
	return nil
}
