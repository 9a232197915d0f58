package channels

import (
	"context"
	"fmt"
	"reflect"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/duck"
	"github.com/eddyplatform/eddy/api/flows"
	"github.com/eddyplatform/eddy/api/messaging"
	"github.com/eddyplatform/eddy/control/reconciler"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/cache"
)

// Sequences and Parallels are made of Channels and Subscriptions they own, named as Knative
// names them, so that the flows run on the same machinery as everything else.

// watchOwned re-enqueues an owner when one of its channels or subscriptions changes.
func watchOwned(owner api.Object) func(*reconciler.Controller) error {
	return func(c *reconciler.Controller) error {
		k := c.Kind()
		for _, child := range []api.Object{&messaging.Channel{}, &messaging.InMemoryChannel{}, &messaging.Subscription{}} {
			if err := c.Watch(child, reconciler.MapToOwner(k)); err != nil {
				return err
			}
		}
		return nil
	}
}

// childChannel is a channel a flow owns, whatever its kind.
type childChannel struct {
	ref    corev1.ObjectReference
	status *messaging.ChannelStatus
}

// ensureChannel gets or creates the channel name of the template's kind, owned by owner.
func (r *Reconcilers) ensureChannel(ctx context.Context, owner api.Object, gvk schema.GroupVersionKind, name string, tmpl *messaging.ChannelTemplateSpec) (*childChannel, error) {
	meta := metav1.ObjectMeta{
		Namespace: owner.GetNamespace(), Name: name,
		OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(owner, gvk)},
	}
	if bus, ok := owner.GetAnnotations()[messaging.BusAnnotation]; ok {
		meta.Annotations = map[string]string{messaging.BusAnnotation: bus}
	}
	if tmpl.Kind == "InMemoryChannel" && tmpl.APIVersion == messaging.Group+"/"+messaging.Version && meta.Annotations == nil {
		imc := &messaging.InMemoryChannel{}
		err := r.Client.Get(ctx, meta.Namespace, name, imc)
		if apierrors.IsNotFound(err) {
			imc = &messaging.InMemoryChannel{ObjectMeta: meta}
			err = r.Client.Create(ctx, imc)
		}
		if err != nil {
			return nil, err
		}
		return &childChannel{ref: objectRef(imc, "InMemoryChannel"), status: &imc.Status}, nil
	}
	ch := &messaging.Channel{}
	err := r.Client.Get(ctx, meta.Namespace, name, ch)
	if apierrors.IsNotFound(err) {
		ch = &messaging.Channel{ObjectMeta: meta, Spec: messaging.ChannelSpec{ChannelTemplate: copyTemplate(tmpl)}}
		err = r.Client.Create(ctx, ch)
	}
	if err != nil {
		return nil, err
	}
	return &childChannel{ref: objectRef(ch, "Channel"), status: &ch.Status}, nil
}

func objectRef(obj api.Object, kind string) corev1.ObjectReference {
	return corev1.ObjectReference{APIVersion: messaging.Group + "/" + messaging.Version, Kind: kind, Name: obj.GetName(), Namespace: obj.GetNamespace()}
}

// channelDestination is a destination that refers to a child channel.
func channelDestination(c *childChannel) *duck.Destination {
	return &duck.Destination{Ref: &duck.KReference{APIVersion: c.ref.APIVersion, Kind: c.ref.Kind, Name: c.ref.Name, Namespace: c.ref.Namespace}}
}

// ensureSubscription gets, creates or updates the subscription name to ch with spec.
func (r *Reconcilers) ensureSubscription(ctx context.Context, owner api.Object, gvk schema.GroupVersionKind, name string, ch *childChannel, subscriber, reply *duck.Destination, delivery *duck.DeliverySpec) (*messaging.Subscription, error) {
	want := messaging.SubscriptionSpec{
		Channel:    corev1.ObjectReference{APIVersion: ch.ref.APIVersion, Kind: ch.ref.Kind, Name: ch.ref.Name},
		Subscriber: clone(subscriber), Reply: clone(reply), Delivery: clone(delivery),
	}
	sub := &messaging.Subscription{}
	err := r.Client.Get(ctx, owner.GetNamespace(), name, sub)
	if apierrors.IsNotFound(err) {
		sub = &messaging.Subscription{
			ObjectMeta: metav1.ObjectMeta{Namespace: owner.GetNamespace(), Name: name,
				OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(owner, gvk)}},
			Spec: want,
		}
		return sub, r.Client.Create(ctx, sub)
	}
	if err != nil {
		return nil, err
	}
	// Compare with defaults applied, as the stored spec has them.
	probe := &messaging.Subscription{ObjectMeta: metav1.ObjectMeta{Namespace: sub.Namespace}, Spec: want}
	probe.SetDefaults()
	if reflect.DeepEqual(probe.Spec, sub.Spec) {
		return sub, nil
	}
	if !reflect.DeepEqual(probe.Spec.Channel, sub.Spec.Channel) { // immutable: replace it
		if err := r.Client.Delete(ctx, sub); err != nil && !apierrors.IsNotFound(err) {
			return nil, err
		}
		return nil, fmt.Errorf("subscription %s is being replaced", name)
	}
	sub.Spec = want
	return sub, r.Client.Update(ctx, sub)
}

// deleteOwned deletes the channels and subscriptions owner owns that keep is false for.
func (r *Reconcilers) deleteOwned(ctx context.Context, owner api.Object, keep func(name string) bool) error {
	owned := func(o metav1.Object) bool {
		ref := metav1.GetControllerOfNoCopy(o)
		return ref != nil && ref.UID == owner.GetUID() && !keep(o.GetName())
	}
	ns := owner.GetNamespace()
	var victims []api.Object
	chs, _ := r.channels.List(ns, nil)
	for _, c := range chs {
		if owned(c) {
			victims = append(victims, c)
		}
	}
	imcs, _ := r.imcs.List(ns, nil)
	for _, c := range imcs {
		if owned(c) {
			victims = append(victims, c)
		}
	}
	subs, _ := r.subscriptions.List(ns, nil)
	for _, s := range subs {
		if owned(s) {
			victims = append(victims, s)
		}
	}
	for _, v := range victims {
		if err := r.Client.Delete(ctx, v); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}

func readyOf(s api.Status) api.Condition {
	if c := s.GetCondition(api.ConditionReady); c != nil {
		return *c
	}
	return api.Condition{Type: api.ConditionReady, Status: corev1.ConditionUnknown}
}

// sequenceReconciler runs a Sequence: channel i feeds step i, whose replies go to channel
// i+1; the last step's replies go to spec.reply.
type sequenceReconciler struct{ *Reconcilers }

var sequenceGVK = schema.GroupVersionKind{Group: "flows.knative.dev", Version: "v1", Kind: "Sequence"}

func (r *sequenceReconciler) Reconcile(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return reconciler.Permanent(err)
	}
	s := &flows.Sequence{}
	if err := r.Client.Get(ctx, ns, name, s); apierrors.IsNotFound(err) {
		return nil // owned objects are deleted with their owner (see deleteOwned callers)
	} else if err != nil {
		return err
	}
	orig := reconciler.DeepCopy(s)
	s.Status.InitializeConditions()
	names := map[string]bool{}
	var chans []*childChannel
	for i := range s.Spec.Steps {
		n := fmt.Sprintf("%s-kn-sequence-%d", s.Name, i)
		names[n] = true
		c, err := r.ensureChannel(ctx, s, sequenceGVK, n, s.Spec.ChannelTemplate)
		if err != nil {
			return err
		}
		chans = append(chans, c)
	}
	var chStatuses []flows.SequenceChannelStatus
	var subStatuses []flows.SequenceSubscriptionStatus
	for i, step := range s.Spec.Steps {
		reply := s.Spec.Reply
		if i+1 < len(chans) {
			reply = channelDestination(chans[i+1])
		}
		n := fmt.Sprintf("%s-kn-sequence-%d", s.Name, i)
		sub, err := r.ensureSubscription(ctx, s, sequenceGVK, n, chans[i], &step.Destination, reply, step.Delivery)
		if err != nil {
			return err
		}
		chStatuses = append(chStatuses, flows.SequenceChannelStatus{Channel: chans[i].ref, ReadyCondition: readyOf(chans[i].status.Status)})
		subStatuses = append(subStatuses, flows.SequenceSubscriptionStatus{
			Subscription:   corev1.ObjectReference{APIVersion: messaging.Group + "/" + messaging.Version, Kind: "Subscription", Name: sub.Name, Namespace: sub.Namespace},
			ReadyCondition: readyOf(sub.Status.Status),
		})
	}
	if err := r.deleteOwned(ctx, s, func(n string) bool { return names[n] }); err != nil {
		return err
	}
	s.Status.PropagateChannelStatuses(chStatuses)
	s.Status.PropagateSubscriptionStatuses(subStatuses)
	if len(chans) > 0 {
		s.Status.SetAddress(chans[0].status.AddressStatus.URL())
	}
	_, err = r.Client.UpdateStatusIfChanged(ctx, orig, s)
	return err
}

// parallelReconciler runs a Parallel: events enter by an ingress channel; for each branch a
// subscription sends them to the branch's filter, whose replies go to the branch's channel,
// where a second subscription sends them to the branch's subscriber.
type parallelReconciler struct{ *Reconcilers }

var parallelGVK = schema.GroupVersionKind{Group: "flows.knative.dev", Version: "v1", Kind: "Parallel"}

func (r *parallelReconciler) Reconcile(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return reconciler.Permanent(err)
	}
	p := &flows.Parallel{}
	if err := r.Client.Get(ctx, ns, name, p); apierrors.IsNotFound(err) {
		return nil
	} else if err != nil {
		return err
	}
	orig := reconciler.DeepCopy(p)
	p.Status.InitializeConditions()
	names := map[string]bool{}
	in := fmt.Sprintf("%s-kn-parallel", p.Name)
	names[in] = true
	ingressCh, err := r.ensureChannel(ctx, p, parallelGVK, in, p.Spec.ChannelTemplate)
	if err != nil {
		return err
	}
	var branchChans []flows.ParallelChannelStatus
	var filterSubs, subscriberSubs []flows.ParallelSubscriptionStatus
	for i, br := range p.Spec.Branches {
		bn := fmt.Sprintf("%s-kn-parallel-%d", p.Name, i)
		fn := fmt.Sprintf("%s-kn-parallel-filter-%d", p.Name, i)
		names[bn], names[fn] = true, true
		bc, err := r.ensureChannel(ctx, p, parallelGVK, bn, p.Spec.ChannelTemplate)
		if err != nil {
			return err
		}
		fsub, err := r.ensureSubscription(ctx, p, parallelGVK, fn, ingressCh, br.Filter, channelDestination(bc), nil)
		if err != nil {
			return err
		}
		reply := br.Reply
		if reply.IsEmpty() {
			reply = p.Spec.Reply
		}
		ssub, err := r.ensureSubscription(ctx, p, parallelGVK, bn, bc, &br.Subscriber, reply, br.Delivery)
		if err != nil {
			return err
		}
		branchChans = append(branchChans, flows.ParallelChannelStatus{Channel: bc.ref, ReadyCondition: readyOf(bc.status.Status)})
		filterSubs = append(filterSubs, subStatus(fsub))
		subscriberSubs = append(subscriberSubs, subStatus(ssub))
	}
	if err := r.deleteOwned(ctx, p, func(n string) bool { return names[n] }); err != nil {
		return err
	}
	p.Status.PropagateChannelStatuses(flows.ParallelChannelStatus{Channel: ingressCh.ref, ReadyCondition: readyOf(ingressCh.status.Status)}, branchChans)
	p.Status.PropagateSubscriptionStatuses(filterSubs, subscriberSubs)
	p.Status.SetAddress(ingressCh.status.AddressStatus.URL())
	_, err = r.Client.UpdateStatusIfChanged(ctx, orig, p)
	return err
}

func subStatus(s *messaging.Subscription) flows.ParallelSubscriptionStatus {
	return flows.ParallelSubscriptionStatus{
		Subscription:   corev1.ObjectReference{APIVersion: messaging.Group + "/" + messaging.Version, Kind: "Subscription", Name: s.Name, Namespace: s.Namespace},
		ReadyCondition: readyOf(s.Status.Status),
	}
}

func copyTemplate(t *messaging.ChannelTemplateSpec) *messaging.ChannelTemplateSpec {
	c := *t
	return &c
}

// clone deep-copies a JSON-shaped value; nil stays nil.
func clone[T any](v *T) *T { return api.Clone(v) }
