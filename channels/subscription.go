package channels

import (
	"context"
	"fmt"
	"reflect"
	"slices"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/duck"
	"github.com/eddyplatform/eddy/api/messaging"
	"github.com/eddyplatform/eddy/control/reconciler"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/cache"
)

// SubscriptionFinalizer keeps a deleted Subscription until its subscriber is removed from its
// channel's spec.subscribers.
const SubscriptionFinalizer = "subscriptions.messaging.knative.dev"

// subscriptionReconciler resolves a Subscription's destinations and writes its subscriber into
// the channel's spec.subscribers, where the channel reconciler picks it up.
type subscriptionReconciler struct{ *Reconcilers }

// channelRef is a channel of either kind, as the subscription reconciler edits it.
type channelRef struct {
	obj    api.Object
	plural string
	spec   *duck.ChannelableSpec
	status *messaging.ChannelStatus
	// legacy marks a channels.knative.dev Channel: its subscribers come from the
	// subscriptions' status, so its spec is never written.
	legacy bool
}

// getChannel reads the channel a Subscription names, from the store (not the cache: it is
// about to be updated).
func (r *subscriptionReconciler) getChannel(ctx context.Context, ns string, ref corev1.ObjectReference) (*channelRef, error) {
	if isLegacyChannel(ref) {
		return r.getLegacyChannel(ctx, ns, ref.Name)
	}
	switch ref.Kind {
	case "Channel":
		ch := &messaging.Channel{}
		if err := r.Client.Get(ctx, ns, ref.Name, ch); err != nil {
			return nil, err
		}
		return &channelRef{ch, "channels", &ch.Spec.ChannelableSpec, &ch.Status, false}, nil
	case "InMemoryChannel":
		imc := &messaging.InMemoryChannel{}
		if err := r.Client.Get(ctx, ns, ref.Name, imc); err != nil {
			return nil, err
		}
		return &channelRef{imc, "inmemorychannels", &imc.Spec.ChannelableSpec, &imc.Status, false}, nil
	}
	return nil, fmt.Errorf("spec.channel: kind %s is not a channel kind Eddy runs (Channel, InMemoryChannel)", ref.Kind)
}

func (r *subscriptionReconciler) Reconcile(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return reconciler.Permanent(err)
	}
	sub, err := r.subscriptions.Get(ns, name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if sub.DeletionTimestamp != nil {
		return r.finalize(ctx, sub)
	}
	if !slices.Contains(sub.Finalizers, SubscriptionFinalizer) {
		sub.Finalizers = append(sub.Finalizers, SubscriptionFinalizer)
		return r.Client.Update(ctx, sub) // the update brings us back here
	}
	orig := reconciler.DeepCopy(sub)
	err = r.reconcile(ctx, sub)
	if _, serr := r.Client.UpdateStatusIfChanged(ctx, orig, sub); serr != nil {
		return serr
	}
	return err
}

func (r *subscriptionReconciler) reconcile(ctx context.Context, sub *messaging.Subscription) error {
	st := &sub.Status
	st.InitializeConditions()
	ch, err := r.getChannel(ctx, sub.Namespace, sub.Spec.Channel)
	if err != nil {
		if apierrors.IsNotFound(err) {
			st.MarkChannelFailed("ChannelNotFound", "channel %s %q does not exist", sub.Spec.Channel.Kind, sub.Spec.Channel.Name)
			st.MarkNotAddedToChannel("ChannelNotFound", "channel %q does not exist", sub.Spec.Channel.Name)
			return nil // the channel's creation enqueues us
		}
		st.MarkChannelFailed("ChannelInvalid", "%v", err)
		return reconciler.Permanent(err)
	}

	// Resolve subscriber, reply and dead-letter sink.
	phys := messaging.SubscriptionStatusPhysicalSubscription{}
	subscriber, err := r.Destinations.URI(ctx, sub.Namespace, sub.Spec.Subscriber)
	if err != nil {
		st.MarkReferencesNotResolved(reasonOf(err), "spec.subscriber: %v", err)
		st.PhysicalSubscription.SubscriberURI = "" // the spec: an unresolvable destination has no URI
		return nil
	}
	reply, err := r.Destinations.URI(ctx, sub.Namespace, sub.Spec.Reply)
	if err != nil {
		st.MarkReferencesNotResolved(reasonOf(err), "spec.reply: %v", err)
		st.PhysicalSubscription.ReplyURI = ""
		return nil
	}
	delivery := sub.Spec.Delivery
	if delivery.IsEmpty() {
		delivery = nil // the channel's delivery spec applies; the channel resolves its DLS
	}
	var resolved *duck.DeliverySpec
	if delivery != nil {
		resolved = clone(delivery)
		if !delivery.DeadLetterSink.IsEmpty() {
			dls, err := r.Destinations.URI(ctx, sub.Namespace, delivery.DeadLetterSink)
			if err != nil {
				st.MarkReferencesNotResolved(reasonOf(err), "spec.delivery.deadLetterSink: %v", err)
				return nil
			}
			resolved.DeadLetterSink = &duck.Destination{URI: dls.String()}
			phys.DeadLetterSinkURI = dls.String()
		}
	} else if ch.status.DeadLetterSinkURI != "" {
		phys.DeadLetterSinkURI = ch.status.DeadLetterSinkURI
	}
	phys.SubscriberURI, phys.ReplyURI = urlString(subscriber), urlString(reply)
	if subscriber == nil && reply == nil {
		st.MarkReferencesNotResolved("NoDestination", "neither spec.subscriber nor spec.reply is set: events have nowhere to go")
		return nil
	}
	st.PhysicalSubscription = phys
	st.MarkReferencesResolved()

	// Add (or refresh) our entry in the channel's spec.subscribers.
	entry := duck.SubscriberSpec{
		UID: sub.UID, Generation: sub.Generation,
		SubscriberURI: phys.SubscriberURI, ReplyURI: phys.ReplyURI, Delivery: resolved,
	}
	i := slices.IndexFunc(ch.spec.Subscribers, func(s duck.SubscriberSpec) bool { return s.UID == sub.UID })
	if !ch.legacy && (i < 0 || !reflect.DeepEqual(ch.spec.Subscribers[i], entry)) {
		if i < 0 {
			ch.spec.Subscribers = append(ch.spec.Subscribers, entry)
		} else {
			ch.spec.Subscribers[i] = entry
		}
		if err := r.Client.Update(ctx, ch.obj); err != nil {
			st.MarkNotAddedToChannel("ChannelUpdateFailed", "%v", err)
			return err
		}
	}
	st.MarkAddedToChannel()

	// Ready once the channel runs our subscriber at this generation.
	ss := ch.status.SubscriberStatusFor(sub.UID)
	switch {
	case ss == nil || ss.ObservedGeneration != sub.Generation:
		st.MarkChannelUnknown("SubscriberNotReady", "channel %q has not yet acted on this subscription", ch.obj.GetName())
	case ss.Ready != corev1.ConditionTrue:
		st.MarkChannelFailed("SubscriberNotReady", "channel %q: %s", ch.obj.GetName(), ss.Message)
	case !ch.status.IsReady():
		st.MarkChannelUnknown("ChannelNotReady", "channel %q is not ready", ch.obj.GetName())
	default:
		st.MarkChannelReady()
	}
	return nil
}

// finalize removes a deleted Subscription from its channel, then lets it go.
func (r *subscriptionReconciler) finalize(ctx context.Context, sub *messaging.Subscription) error {
	if !slices.Contains(sub.Finalizers, SubscriptionFinalizer) {
		return nil
	}
	ch, err := r.getChannel(ctx, sub.Namespace, sub.Spec.Channel)
	switch {
	case err == nil:
		if i := slices.IndexFunc(ch.spec.Subscribers, func(s duck.SubscriberSpec) bool { return s.UID == sub.UID }); i >= 0 {
			ch.spec.Subscribers = slices.Delete(ch.spec.Subscribers, i, i+1)
			if err := r.Client.Update(ctx, ch.obj); err != nil {
				return err
			}
		}
	case !apierrors.IsNotFound(err):
		return err
	}
	sub.Finalizers = slices.DeleteFunc(sub.Finalizers, func(f string) bool { return f == SubscriptionFinalizer })
	return r.Client.Update(ctx, sub)
}
