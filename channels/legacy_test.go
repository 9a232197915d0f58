package channels_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/messaging"
	"github.com/eddyplatform/eddy/api/messaging/channelsv1alpha1"
	corev1 "k8s.io/api/core/v1"
)

// The 2018 flow: a ClusterBus, a Channel on it, a Subscription with a subscriber and a
// replyTo. Events sent to the channel's address reach the subscriber, its replies reach the
// replyTo channel's subscriber, and the statuses are the v1 ones.
func TestLegacyChannelAndSubscription(t *testing.T) {
	e := start(t)
	replier, final := newSink(t, reply("dev.eddy.reply")), newSink(t, nil)
	e.Apply(t, fmt.Sprintf(`
apiVersion: channels.knative.dev/v1alpha1
kind: ClusterBus
metadata: {name: local}
spec:
  type: stub
  config: {retentionAge: 24h}
---
apiVersion: channels.knative.dev/v1alpha1
kind: Channel
metadata: {name: orders}
spec: {clusterBus: local}
---
apiVersion: channels.knative.dev/v1alpha1
kind: Channel
metadata: {name: replies}
---
apiVersion: channels.knative.dev/v1alpha1
kind: Subscription
metadata: {name: replier}
spec:
  channel: orders
  subscriber: %q
  replyTo: %q
---
apiVersion: channels.knative.dev/v1alpha1
kind: Subscription
metadata: {name: final}
spec:
  channel: replies
  subscriber: %q
`, replier.URL, "", final.URL))
	// replyTo cannot name a 2018 channel by name, so point it at the replies channel's URL.
	replies := &channelsv1alpha1.Channel{}
	e.ready(t, replies, "replies")
	sub := &channelsv1alpha1.Subscription{}
	if err := e.Client.Get(context.Background(), "default", "replier", sub); err != nil {
		t.Fatal(err)
	}
	sub.Spec.ReplyTo = replies.Status.URL()
	if err := e.Client.Update(context.Background(), sub); err == nil || !strings.Contains(err.Error(), "spec.replyTo") {
		t.Fatalf("replyTo is immutable in the 2018 API; update gave %v", err)
	}
	if err := e.Client.Delete(context.Background(), sub); err != nil {
		t.Fatal(err)
	}
	e.Apply(t, fmt.Sprintf(`
apiVersion: channels.knative.dev/v1alpha1
kind: Subscription
metadata: {name: replier2}
spec:
  channel: orders
  subscriber: %q
  replyTo: %q
`, replier.URL, replies.Status.URL()))

	ch := &channelsv1alpha1.Channel{}
	e.ready(t, ch, "orders")
	if !strings.Contains(ch.Status.URL(), "/channels.channels.knative.dev/default/orders") {
		t.Fatalf("address %q", ch.Status.URL())
	}
	for _, n := range []string{"replier2", "final"} {
		e.ready(t, &channelsv1alpha1.Subscription{}, n)
	}
	cb := &channelsv1alpha1.ClusterBus{}
	eventually(t, "ClusterBus ready", func() bool {
		return e.Client.Get(context.Background(), "", "local", cb) == nil && cb.Status.IsReady()
	})
	send(t, ch.Status.URL(), "order-1", "dev.eddy.order", nil)
	eventually(t, "reply delivered through the replies channel", func() bool { return final.count() == 1 })
	if got := final.ids()[0]; got != "order-1-dev.eddy.reply" {
		t.Fatalf("final got %s", got)
	}
	if err := e.Client.Get(context.Background(), "default", "orders", ch); err != nil || len(ch.Status.Subscribers) != 1 || ch.Status.Subscribers[0].Ready != corev1.ConditionTrue {
		t.Fatalf("channel subscriber statuses %+v (%v)", ch.Status.Subscribers, err)
	}

	// Deleting the subscription stops its deliveries.
	if err := e.Client.Delete(context.Background(), &channelsv1alpha1.Subscription{ObjectMeta: metaOf("replier2")}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "subscriber dropped", func() bool {
		return e.Client.Get(context.Background(), "default", "orders", ch) == nil && len(ch.Status.Subscribers) == 0
	})
}

// A Bus whose secret is missing is not ready and says why, and so does its channel. Fixing
// the Bus (a stub bus takes no secret: drop the secretRef) makes the channel ready.
func TestBusNotReadySaysWhy(t *testing.T) {
	e := start(t)
	e.Apply(t, `
apiVersion: channels.knative.dev/v1alpha1
kind: Bus
metadata: {name: mine}
spec:
  type: stub
  secretRef: {name: creds}
---
apiVersion: messaging.knative.dev/v1
kind: Channel
metadata:
  name: c
  annotations: {messaging.knative.dev/bus: Bus/mine}
`)
	b := &channelsv1alpha1.Bus{}
	eventually(t, "bus failure reported", func() bool {
		e.Client.Get(context.Background(), "default", "mine", b)
		c := b.Status.GetCondition(channelsv1alpha1.BusConditionBackendReady)
		return c != nil && c.Status == corev1.ConditionFalse && strings.Contains(c.Message, "secret default/creds does not exist")
	})
	ch := &messaging.Channel{}
	eventually(t, "channel says the bus is unavailable", func() bool {
		e.Client.Get(context.Background(), "default", "c", ch)
		c := ch.Status.GetCondition(api.ConditionReady)
		return c != nil && c.Status == corev1.ConditionFalse && strings.Contains(c.Message, "does not exist")
	})
	// Fix the bus: the channel follows.
	b.Spec.SecretRef = nil
	if err := e.Client.Update(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	e.ready(t, ch, "c")
	send(t, ch.Status.URL(), "x", "t", nil)
}
