package platformconf

import (
	"context"
	"embed"
	"fmt"
	"net/url"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// testPlanFiles are knative/specs' broker-lifecycle test resources (see testdata/).
//
//go:embed testdata/knative-specs-testplan/*.yaml
var testPlanFiles embed.FS

// isAbsHTTP reports whether s is an absolute http(s) URL.
func isAbsHTTP(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.IsAbs() && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// rejected checks that err is the API refusing a request (a 4xx), as admission does.
func rejected(t *caseT, what string, err error) {
	t.Helper()
	switch code := codeOf(err); {
	case err == nil:
		t.Errorf("%s was accepted; it must be rejected", what)
	case code/100 != 4:
		t.Errorf("%s failed with %v; want the API to reject it with a 4xx", what, err)
	}
}

// reconciled waits until the controller has acted on the object's current generation and
// returns it.
func (t *caseT) reconciled(k kind, name string) *unstructured.Unstructured {
	t.Helper()
	return t.waitFor(k, name, "reconciled", func(u *unstructured.Unstructured) bool {
		return num(u, "status", "observedGeneration") == u.GetGeneration() && cond(u, "Ready").present
	})
}

// stays checks that cond holds for the object over the quiet period.
func (t *caseT) stays(k kind, name, what string, cond func(u *unstructured.Unstructured) bool) {
	t.Helper()
	end := time.Now().Add(t.Quiet())
	for {
		u := t.mustGet(k, name)
		if !cond(u) {
			t.Errorf("%s %s is no longer %s: %s", k.Kind, name, what, describe(u))
			return
		}
		if time.Now().After(end) {
			return
		}
		time.Sleep(50 * time.Millisecond) // polling the API
	}
}

// notReady reports whether an object's Ready condition is not True.
func notReady(u *unstructured.Unstructured) bool { return cond(u, "Ready").Status != "True" }

// readyFalse reports whether an object's Ready condition is False.
func readyFalse(u *unstructured.Unstructured) bool { return cond(u, "Ready").Status == "False" }

// explains reports whether some condition that is not True gives a reason.
func explains(u *unstructured.Unstructured) bool {
	for _, c := range conditions(u) {
		if c.Status != "True" && c.Reason != "" {
			return true
		}
	}
	return false
}

// R9: a Broker is Addressable; when Ready its URL takes events and forwards them to its
// Ready Triggers.
func testBrokerAddressable(t *caseT) {
	s := t.newSink("subscriber", accept)
	addr := t.mkBroker("br")
	if !isAbsHTTP(addr) {
		t.Errorf("status.address.url %q is not an absolute http URL", addr)
	}
	t.mkTrigger("tr", "br", subscriber(s))
	t.send(addr, newCE("r9", "conf.r9"))
	s.awaitIDs(t, "r9")
}

// R17: a Channel is Addressable; when Ready its URL takes events and forwards them to its
// Ready Subscriptions.
func testChannelAddressable(t *caseT) {
	s := t.newSink("subscriber", accept)
	addr := t.mkChannel("ch")
	if !isAbsHTTP(addr) {
		t.Errorf("status.address.url %q is not an absolute http URL", addr)
	}
	t.mkSubscription("sub", "ch", subscriber(s))
	t.send(addr, newCE("r17", "conf.r17"))
	s.awaitIDs(t, "r17")
}

// R10: a Trigger gets the events of the Broker its spec.broker names, and no other's.
func testTriggersBelongToBroker(t *caseT) {
	s1, s2 := t.newSink("one", accept), t.newSink("two", accept)
	a1, a2 := t.mkBroker("one"), t.mkBroker("two")
	t.mkTrigger("one", "one", subscriber(s1))
	t.mkTrigger("two", "two", subscriber(s2))
	t.send(a1, newCE("to-one", "conf.r10"))
	t.send(a2, newCE("to-two", "conf.r10"))
	s1.awaitIDs(t, "to-one")
	s2.awaitIDs(t, "to-two")
	t.quiet(s1, s2)
	if got := s1.distinct(); !slices.Equal(got, []string{"to-one"}) {
		t.Errorf("broker one's trigger received %v", got)
	}
	if got := s2.distinct(); !slices.Equal(got, []string{"to-two"}) {
		t.Errorf("broker two's trigger received %v", got)
	}
}

// R11: a dead-letter sink is resolved into status.deadLetterSinkUri by the time Ready is
// True, for a uri and for a ref to an Addressable.
func testDLSResolved(t *caseT) {
	dls := t.newSink("dls", accept)
	target := t.mkChannel("dls-channel")
	for _, c := range []struct {
		name, dest, want string
	}{{"uri", uriDest(dls.URL), dls.URL}, {"ref", refDest(kindChannel, "dls-channel"), target}} {
		delivery := "delivery: {deadLetterSink: " + c.dest + "}"
		t.Run("Broker/"+c.name, func(t *caseT) {
			t.apply("apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: {name: b-%s}\n%s", c.name, specYAML(delivery))
			u := t.ready(kindBroker, "b-"+c.name)
			if got := str(u, "status", "deadLetterSinkUri"); got != c.want {
				t.Errorf("Ready, with status.deadLetterSinkUri %q; want %q", got, c.want)
			}
		})
		t.Run("Trigger/"+c.name, func(t *caseT) {
			t.mkBroker("tb-" + c.name)
			t.apply("apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata: {name: t-%s}\n%s", c.name,
				specYAML("broker: tb-"+c.name, subscriber(dls), delivery))
			u := t.ready(kindTrigger, "t-"+c.name)
			if got := str(u, "status", "deadLetterSinkUri"); got != c.want {
				t.Errorf("Ready, with status.deadLetterSinkUri %q; want %q", got, c.want)
			}
		})
		t.Run("Channel/"+c.name, func(t *caseT) {
			t.apply("apiVersion: messaging.knative.dev/v1\nkind: Channel\nmetadata: {name: c-%s}\n%s", c.name, specYAML(delivery))
			u := t.ready(kindChannel, "c-"+c.name)
			if got := str(u, "status", "deadLetterSinkUri"); got != c.want {
				t.Errorf("Ready, with status.deadLetterSinkUri %q; want %q", got, c.want)
			}
		})
	}
}

// R11: a dead-letter sink that does not resolve keeps Ready from being True.
func testDLSUnresolvable(t *caseT) {
	missing := "delivery: {deadLetterSink: " + refDest(kindChannel, "no-such-channel") + "}"
	t.Run("Broker", func(t *caseT) {
		t.apply("apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: {name: b}\n%s", specYAML(missing))
		t.waitFor(kindBroker, "b", "reconciled and not Ready", func(u *unstructured.Unstructured) bool {
			return cond(u, "Ready").present && notReady(u) && num(u, "status", "observedGeneration") == u.GetGeneration()
		})
		t.stays(kindBroker, "b", "not Ready", notReady)
	})
	t.Run("Trigger", func(t *caseT) {
		t.mkBroker("tb")
		t.apply("apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata: {name: t}\n%s",
			specYAML("broker: tb", "subscriber: "+uriDest("http://127.0.0.1:9/"), missing))
		t.waitFor(kindTrigger, "t", "reconciled and not Ready", func(u *unstructured.Unstructured) bool {
			return cond(u, "Ready").present && notReady(u) && num(u, "status", "observedGeneration") == u.GetGeneration()
		})
		t.stays(kindTrigger, "t", "not Ready", notReady)
	})
	t.Run("Channel", func(t *caseT) {
		t.apply("apiVersion: messaging.knative.dev/v1\nkind: Channel\nmetadata: {name: c}\n%s", specYAML(missing))
		t.waitFor(kindChannel, "c", "reconciled and not Ready", func(u *unstructured.Unstructured) bool {
			return cond(u, "Ready").present && notReady(u) && num(u, "status", "observedGeneration") == u.GetGeneration()
		})
		t.stays(kindChannel, "c", "not Ready", notReady)
	})
}

// touch is an update every kind must allow: a new annotation. It shows the API takes updates,
// so that a rejection elsewhere is the immutability rule's.
func touch(u *unstructured.Unstructured) {
	a := u.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a["conformance.eddy.dev/touched"] = time.Now().Format(time.RFC3339Nano)
	u.SetAnnotations(a)
}

// R12: the broker.class annotation cannot change.
func testBrokerClassImmutable(t *caseT) {
	t.apply(`apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: br, annotations: {eventing.knative.dev/broker.class: MTChannelBasedBroker}}
spec: {}
`)
	t.ready(kindBroker, "br")
	if _, err := t.tryUpdate(kindBroker, "br", touch); err != nil {
		t.Fatalf("a plain update of the Broker failed: %v", err)
	}
	_, err := t.tryUpdate(kindBroker, "br", func(u *unstructured.Unstructured) {
		a := u.GetAnnotations()
		a["eventing.knative.dev/broker.class"] = "SomeOtherClass"
		u.SetAnnotations(a)
	})
	rejected(t, "changing eventing.knative.dev/broker.class", err)
	if got := t.mustGet(kindBroker, "br").GetAnnotations()["eventing.knative.dev/broker.class"]; got != "MTChannelBasedBroker" {
		t.Errorf("the class is now %q", got)
	}
}

// R12: spec.config cannot change.
func testBrokerConfigImmutable(t *caseT) {
	t.apply(`apiVersion: v1
kind: ConfigMap
metadata: {name: config-a}
data: {note: a}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: config-b}
data: {note: b}
---
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: br}
spec:
  config: {apiVersion: v1, kind: ConfigMap, name: config-a}
`)
	t.reconciled(kindBroker, "br")
	if _, err := t.tryUpdate(kindBroker, "br", touch); err != nil {
		t.Fatalf("a plain update of the Broker failed: %v", err)
	}
	_, err := t.tryUpdate(kindBroker, "br", func(u *unstructured.Unstructured) {
		unstructured.SetNestedField(u.Object, "config-b", "spec", "config", "name")
	})
	rejected(t, "changing spec.config", err)
}

// R13: a Trigger may come before its Broker; until the Broker is Ready the Trigger's Ready is
// False, with a reason; then it becomes Ready and gets events.
func testTriggerBeforeBroker(t *caseT) {
	s := t.newSink("subscriber", accept)
	t.apply("apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata: {name: tr}\n%s", specYAML("broker: late", subscriber(s)))
	u := t.waitFor(kindTrigger, "tr", "Ready=False (no broker)", readyFalse)
	if !explains(u) {
		t.Errorf("no condition says why the Trigger is not Ready: %s", describe(u))
	}
	addr := t.mkBroker("late")
	t.ready(kindTrigger, "tr")
	t.send(addr, newCE("r13", "conf.r13"))
	s.awaitIDs(t, "r13")
}

// R13: while its Broker is not Ready, a Trigger's Ready is False. The Broker is kept from
// Ready by a dead-letter sink that does not resolve (R11).
func testTriggerOfUnreadyBroker(t *caseT) {
	t.apply("apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: {name: br}\n%s",
		specYAML("delivery: {deadLetterSink: "+refDest(kindChannel, "no-such-channel")+"}"))
	t.waitFor(kindBroker, "br", "reconciled and not Ready", func(u *unstructured.Unstructured) bool {
		return cond(u, "Ready").present && notReady(u) && num(u, "status", "observedGeneration") == u.GetGeneration()
	})
	t.apply("apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata: {name: tr}\n%s", specYAML("broker: br", "subscriber: "+uriDest("http://127.0.0.1:9/")))
	u := t.waitFor(kindTrigger, "tr", "Ready=False (broker not ready)", readyFalse)
	if !explains(u) {
		t.Errorf("no condition says why the Trigger is not Ready: %s", describe(u))
	}
	t.stays(kindTrigger, "tr", "Ready=False", readyFalse)
}

// R14: status.subscriberUri is the resolved spec.subscriber by the time Ready is True.
func testTriggerSubscriberURI(t *caseT) {
	s := t.newSink("subscriber", accept)
	t.mkBroker("br")
	target := t.mkChannel("target")
	for _, c := range []struct{ name, dest, want string }{
		{"uri", uriDest(s.URL), s.URL},
		{"ref", refDest(kindChannel, "target"), target},
	} {
		t.Run(c.name, func(t *caseT) {
			t.apply("apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata: {name: %s}\n%s", c.name, specYAML("broker: br", "subscriber: "+c.dest))
			if got := str(t.ready(kindTrigger, c.name), "status", "subscriberUri"); got != c.want {
				t.Errorf("Ready, with status.subscriberUri %q; want %q", got, c.want)
			}
		})
	}
}

// unresolvable checks a Trigger whose subscriber ref does not resolve: Ready False, a
// condition says why, status.subscriberUri is "".
func unresolvableTrigger(t *caseT, name string) {
	t.Helper()
	u := t.waitFor(kindTrigger, name, "Ready=False (subscriber does not resolve)", func(u *unstructured.Unstructured) bool {
		return readyFalse(u) && num(u, "status", "observedGeneration") == u.GetGeneration()
	})
	if !explains(u) {
		t.Errorf("no condition says why the Trigger is not Ready: %s", describe(u))
	}
	if got := str(u, "status", "subscriberUri"); got != "" {
		t.Errorf("status.subscriberUri is %q; it must be empty while spec.subscriber.ref does not resolve", got)
	}
}

// R14: a subscriber ref that does not resolve: Ready False, a reason, subscriberUri "".
func testTriggerUnresolvableSubscriber(t *caseT) {
	t.mkBroker("br")
	t.apply("apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata: {name: tr}\n%s", specYAML("broker: br", "subscriber: "+refDest(kindChannel, "no-such-channel")))
	unresolvableTrigger(t, "tr")
}

// R14: a subscriber that stops resolving (an update) empties status.subscriberUri.
func testTriggerSubscriberBecomesUnresolvable(t *caseT) {
	s := t.newSink("subscriber", accept)
	t.mkBroker("br")
	t.mkTrigger("tr", "br", subscriber(s))
	t.update(kindTrigger, "tr", func(u *unstructured.Unstructured) {
		unstructured.SetNestedMap(u.Object, map[string]any{"ref": map[string]any{
			"apiVersion": kindChannel.APIVersion, "kind": kindChannel.Kind, "name": "no-such-channel"}}, "spec", "subscriber")
	})
	unresolvableTrigger(t, "tr")
}

// R15: a Trigger's spec.broker cannot change.
func testTriggerBrokerImmutable(t *caseT) {
	s := t.newSink("subscriber", accept)
	t.mkBroker("br")
	t.mkBroker("other")
	t.mkTrigger("tr", "br", subscriber(s))
	if _, err := t.tryUpdate(kindTrigger, "tr", touch); err != nil {
		t.Fatalf("a plain update of the Trigger failed: %v", err)
	}
	_, err := t.tryUpdate(kindTrigger, "tr", func(u *unstructured.Unstructured) {
		unstructured.SetNestedField(u.Object, "other", "spec", "broker")
	})
	rejected(t, "changing spec.broker", err)
}

// R15: spec.subscriber and spec.filter may change (SHOULD), and the change takes effect.
func testTriggerMutable(t *caseT) {
	s1, s2 := t.newSink("first", accept), t.newSink("second", accept)
	addr := t.mkBroker("br")
	t.mkTrigger("tr", "br", subscriber(s1), "filter: {attributes: {type: conf.r15.a}}")
	u, err := t.tryUpdate(kindTrigger, "tr", func(u *unstructured.Unstructured) {
		unstructured.SetNestedField(u.Object, s2.URL, "spec", "subscriber", "uri")
		unstructured.SetNestedStringMap(u.Object, map[string]string{"type": "conf.r15.b"}, "spec", "filter", "attributes")
	})
	if err != nil {
		t.Fatalf("changing spec.subscriber and spec.filter was refused: %v", err)
	}
	gen := u.GetGeneration()
	t.waitFor(kindTrigger, "tr", "Ready at the new generation", func(u *unstructured.Unstructured) bool {
		return num(u, "status", "observedGeneration") >= gen && cond(u, "Ready").Status == "True"
	})
	t.send(addr, newCE("r15-a", "conf.r15.a"))
	t.send(addr, newCE("r15-b", "conf.r15.b"))
	s2.awaitIDs(t, "r15-b")
	t.quiet(s1, s2)
	if got := s2.distinct(); !slices.Equal(got, []string{"r15-b"}) {
		t.Errorf("the new subscriber with the new filter received %v; want r15-b", got)
	}
	if got := s1.ids(); len(got) > 0 {
		t.Errorf("the old subscriber still received %v", got)
	}
}

// R16: a Trigger is Ready only once the Broker sends it every matching event: an event sent
// the moment it is Ready reaches it.
func testTriggerReadyMeansSubscribed(t *caseT) {
	addr := t.mkBroker("br")
	busy := t.newSink("busy", accept)
	t.mkTrigger("busy", "br", subscriber(busy))
	for i := range 3 {
		name := fmt.Sprintf("t%d", i)
		s := t.newSink(name, accept)
		t.mkTrigger(name, "br", subscriber(s))
		t.send(addr, newCE("r16-"+name, "conf.r16"))
		s.awaitIDs(t, "r16-"+name)
	}
}

// R17: a Subscription is Ready only once the Channel sends it every event (the Channel
// Lifecycle's rule): an event sent the moment it is Ready reaches it.
func testSubscriptionReadyMeansSubscribed(t *caseT) {
	addr := t.mkChannel("ch")
	busy := t.newSink("busy", accept)
	t.mkSubscription("busy", "ch", subscriber(busy))
	for i := range 3 {
		name := fmt.Sprintf("s%d", i)
		s := t.newSink(name, accept)
		t.mkSubscription(name, "ch", subscriber(s))
		t.send(addr, newCE("r17-"+name, "conf.r17"))
		s.awaitIDs(t, "r17-"+name)
	}
}

// R18: a Channel's spec.channelTemplate cannot change.
func testChannelTemplateImmutable(t *caseT) {
	t.apply(`apiVersion: messaging.knative.dev/v1
kind: Channel
metadata: {name: ch}
spec:
  channelTemplate: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel}
`)
	t.ready(kindChannel, "ch")
	if _, err := t.tryUpdate(kindChannel, "ch", touch); err != nil {
		t.Fatalf("a plain update of the Channel failed: %v", err)
	}
	_, err := t.tryUpdate(kindChannel, "ch", func(u *unstructured.Unstructured) {
		unstructured.SetNestedMap(u.Object, map[string]any{"apiVersion": "messaging.knative.dev/v1", "kind": "InMemoryChannel",
			"spec": map[string]any{"delivery": map[string]any{"retry": int64(7)}}}, "spec", "channelTemplate")
	})
	rejected(t, "changing spec.channelTemplate", err)
}

// R19: a Subscription may come before its Channel; it is not Ready until the Channel is,
// then it is, and gets events.
func testSubscriptionBeforeChannel(t *caseT) {
	s := t.newSink("subscriber", accept)
	t.apply("apiVersion: messaging.knative.dev/v1\nkind: Subscription\nmetadata: {name: sub}\n%s", specYAML(channelRef("late"), subscriber(s)))
	t.waitFor(kindSubscription, "sub", "reconciled and not Ready", func(u *unstructured.Unstructured) bool {
		return cond(u, "Ready").present && notReady(u)
	})
	t.stays(kindSubscription, "sub", "not Ready", notReady)
	if u := t.mustGet(kindSubscription, "sub"); !explains(u) {
		t.Logf("SHOULD: no condition says the Channel is missing: %s", describe(u))
	}
	addr := t.mkChannel("late")
	t.ready(kindSubscription, "sub")
	t.send(addr, newCE("r19", "conf.r19"))
	s.awaitIDs(t, "r19")
}

// R19: spec.channel must be in the Subscription's namespace.
func testSubscriptionOtherNamespace(t *caseT) {
	_, err := t.tryApply(`apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata: {name: sub}
spec:
  channel: {apiVersion: messaging.knative.dev/v1, kind: Channel, name: ch, namespace: some-other-namespace}
  subscriber: {uri: "http://127.0.0.1:9/"}
`)
	rejected(t, "a Subscription whose spec.channel names another namespace", err)
}

// R20: status.physicalSubscription holds the resolved subscriber, reply and dead-letter sink
// by the time Ready is True.
func testPhysicalSubscription(t *caseT) {
	s, dls := t.newSink("subscriber", accept), t.newSink("dls", accept)
	replies := t.mkChannel("replies")
	t.mkChannel("ch")
	t.mkSubscription("sub", "ch", subscriber(s), "reply: "+refDest(kindChannel, "replies"),
		"delivery: {deadLetterSink: "+uriDest(dls.URL)+"}")
	u := t.mustGet(kindSubscription, "sub")
	for field, want := range map[string]string{"subscriberUri": s.URL, "replyUri": replies, "deadLetterSinkUri": dls.URL} {
		if got := str(u, "status", "physicalSubscription", field); got != want {
			t.Errorf("Ready, with status.physicalSubscription.%s %q; want %q", field, got, want)
		}
	}
}

// unresolvableReply checks a Subscription whose reply does not resolve: Ready False, a
// reason, physicalSubscription.replyUri "".
func unresolvableReply(t *caseT) {
	t.Helper()
	u := t.waitFor(kindSubscription, "sub", "Ready=False (reply does not resolve)", func(u *unstructured.Unstructured) bool {
		return readyFalse(u) && num(u, "status", "observedGeneration") == u.GetGeneration()
	})
	if !explains(u) {
		t.Errorf("no condition says why the Subscription is not Ready: %s", describe(u))
	}
	if got := str(u, "status", "physicalSubscription", "replyUri"); got != "" {
		t.Errorf("status.physicalSubscription.replyUri is %q; it must be empty while spec.reply does not resolve", got)
	}
}

// R20: a reply that does not resolve: Ready False, a reason, replyUri "".
func testSubscriptionUnresolvableReply(t *caseT) {
	s := t.newSink("subscriber", accept)
	t.mkChannel("ch")
	t.apply("apiVersion: messaging.knative.dev/v1\nkind: Subscription\nmetadata: {name: sub}\n%s",
		specYAML(channelRef("ch"), subscriber(s), "reply: "+refDest(kindChannel, "no-such-channel")))
	unresolvableReply(t)
}

// R20: a reply that stops resolving (an update) empties physicalSubscription.replyUri.
func testSubscriptionReplyBecomesUnresolvable(t *caseT) {
	s, out := t.newSink("subscriber", accept), t.newSink("reply", accept)
	t.mkChannel("ch")
	t.mkSubscription("sub", "ch", subscriber(s), reply(out))
	t.update(kindSubscription, "sub", func(u *unstructured.Unstructured) {
		unstructured.SetNestedMap(u.Object, map[string]any{"ref": map[string]any{
			"apiVersion": kindChannel.APIVersion, "kind": kindChannel.Kind, "name": "no-such-channel"}}, "spec", "reply")
	})
	unresolvableReply(t)
}

// R21: a Subscription needs spec.subscriber or spec.reply (the current spec: "at least one
// of spec.subscriber and spec.reply MUST be set"; knative-specs.md paraphrases an older
// wording that required spec.subscriber).
func testSubscriptionNeedsDestination(t *caseT) {
	_, err := t.tryApply("apiVersion: messaging.knative.dev/v1\nkind: Subscription\nmetadata: {name: sub}\n%s", specYAML(channelRef("ch")))
	rejected(t, "a Subscription with neither spec.subscriber nor spec.reply", err)
}

// R22: a Subscription's spec.channel cannot change.
func testSubscriptionChannelImmutable(t *caseT) {
	s := t.newSink("subscriber", accept)
	t.mkChannel("ch")
	t.mkChannel("other")
	t.mkSubscription("sub", "ch", subscriber(s))
	if _, err := t.tryUpdate(kindSubscription, "sub", touch); err != nil {
		t.Fatalf("a plain update of the Subscription failed: %v", err)
	}
	_, err := t.tryUpdate(kindSubscription, "sub", func(u *unstructured.Unstructured) {
		unstructured.SetNestedField(u.Object, "other", "spec", "channel", "name")
	})
	rejected(t, "changing spec.channel", err)
}

// R23: a ref to an Addressable resolves to its status.address.url, and events flow there.
func testRefToAddressable(t *caseT) {
	s := t.newSink("subscriber", accept)
	target := t.mkChannel("target")
	t.mkSubscription("sub", "target", subscriber(s))
	addr := t.mkBroker("br")
	t.mkTrigger("tr", "br", "subscriber: "+refDest(kindChannel, "target"))
	if got := str(t.mustGet(kindTrigger, "tr"), "status", "subscriberUri"); got != target {
		t.Errorf("status.subscriberUri %q; want the Channel's address %q", got, target)
	}
	t.send(addr, newCE("r23", "conf.r23"))
	s.awaitIDs(t, "r23")
}

// R23: with both ref and uri, the uri is resolved relative to the ref's URL.
func testRefRelativeURI(t *caseT) {
	target := t.mkChannel("target")
	t.mkBroker("br")
	t.apply("apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata: {name: tr}\n%s",
		specYAML("broker: br", fmt.Sprintf("subscriber: {ref: {apiVersion: %s, kind: %s, name: target}, uri: /update}", kindChannel.APIVersion, kindChannel.Kind)))
	base, _ := url.Parse(target)
	want := base.ResolveReference(&url.URL{Path: "/update"}).String()
	if got := str(t.ready(kindTrigger, "tr"), "status", "subscriberUri"); got != want {
		t.Errorf("status.subscriberUri %q; want %q (/update relative to %s)", got, want, target)
	}
}

// R23: a ref to a core v1 Service resolves to http://<name>.<namespace>.svc/ (with a uri,
// relative to it).
func testCoreServiceRef(t *caseT) {
	t.apply(`apiVersion: v1
kind: Service
metadata: {name: test}
spec:
  ports: [{port: 80}]
`)
	t.mkBroker("br")
	t.apply("apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata: {name: tr}\n%s",
		specYAML("broker: br", "subscriber: {ref: {apiVersion: v1, kind: Service, name: test}, uri: /update}"))
	want := fmt.Sprintf("http://test.%s.svc/update", t.ns())
	if got := str(t.ready(kindTrigger, "tr"), "status", "subscriberUri"); got != want {
		t.Errorf("status.subscriberUri %q; want %q", got, want)
	}
}

// R31: every resource has status.conditions in the Kubernetes shape plus severity: unique
// types, a Ready condition, statuses True/False/Unknown; observedGeneration is the
// generation acted on.
func testConditionsShape(t *caseT) {
	s := t.newSink("subscriber", accept)
	t.mkBroker("br")
	t.mkTrigger("tr", "br", subscriber(s))
	t.mkChannel("ch")
	t.mkSubscription("sub", "ch", subscriber(s))
	for _, o := range []struct {
		k    kind
		name string
	}{{kindBroker, "br"}, {kindTrigger, "tr"}, {kindChannel, "ch"}, {kindSubscription, "sub"}} {
		t.Run(o.k.Kind, func(t *caseT) {
			u := t.reconciled(o.k, o.name)
			seen := map[string]bool{}
			for _, c := range conditions(u) {
				if c.Type == "" {
					t.Errorf("a condition has no type: %+v", c)
				}
				if seen[c.Type] {
					t.Errorf("condition type %s appears twice", c.Type)
				}
				seen[c.Type] = true
				switch c.Status {
				case "True", "False", "Unknown", "":
				default:
					t.Errorf("condition %s has status %q", c.Type, c.Status)
				}
				switch c.Severity {
				case "", "Error", "Warning", "Info":
				default:
					t.Errorf("condition %s has severity %q", c.Type, c.Severity)
				}
				if c.LastTransitionTime != "" {
					if _, err := time.Parse(time.RFC3339, c.LastTransitionTime); err != nil {
						t.Errorf("condition %s: lastTransitionTime %q: %v", c.Type, c.LastTransitionTime, err)
					}
				}
			}
			if !seen["Ready"] {
				t.Errorf("no Ready condition: %s", describe(u))
			}
		})
	}
}

// R31: the write that moves observedGeneration to a new generation carries that generation's
// conditions. A Trigger at generation 1 is Ready; generation 2 gives it a subscriber that does
// not resolve; every version of the object with observedGeneration 2 must say Ready False.
func testObservedGeneration(t *caseT) {
	s := t.newSink("subscriber", accept)
	t.mkBroker("br")
	t.mkTrigger("tr", "br", subscriber(s))
	u := t.reconciled(kindTrigger, "tr")
	ctx, cancel := context.WithTimeout(context.Background(), t.Timeout())
	defer cancel()
	events, err := t.env.c.watch(ctx, kindTrigger, t.ns(), "tr", u.GetResourceVersion())
	if err != nil {
		t.Fatalf("watching the Trigger: %v", err)
	}
	updated := t.update(kindTrigger, "tr", func(u *unstructured.Unstructured) {
		unstructured.SetNestedMap(u.Object, map[string]any{"ref": map[string]any{
			"apiVersion": kindChannel.APIVersion, "kind": kindChannel.Kind, "name": "no-such-channel"}}, "spec", "subscriber")
	})
	gen := updated.GetGeneration()
	for ev := range events {
		obj := ev.Object
		if num(obj, "status", "observedGeneration") < gen {
			continue
		}
		if !readyFalse(obj) {
			t.Errorf("resourceVersion %s has observedGeneration %d but conditions of an older generation: %s",
				obj.GetResourceVersion(), gen, describe(obj))
		}
		return
	}
	t.Fatalf("the watch ended before observedGeneration reached %d", gen)
}

// R42: a Channel has spec.subscribers (filled by the platform) and status.address and
// status.subscribers; channels are namespaced.
func testChannelShape(t *caseT) {
	s := t.newSink("subscriber", accept)
	t.mkChannel("ch")
	t.mkSubscription("sub", "ch", subscriber(s))
	u := t.mustGet(kindChannel, "ch")
	specSubs, _, _ := unstructured.NestedSlice(u.Object, "spec", "subscribers")
	statusSubs, _, _ := unstructured.NestedSlice(u.Object, "status", "subscribers")
	if len(specSubs) != 1 || len(statusSubs) != 1 {
		t.Errorf("with one Subscription: spec.subscribers %v, status.subscribers %v; want one entry each", specSubs, statusSubs)
	} else if m, _ := specSubs[0].(map[string]any); m["subscriberUri"] != s.URL {
		t.Errorf("spec.subscribers[0] is %v; want subscriberUri %s", m, s.URL)
	}
	if str(u, "status", "address", "url") == "" {
		t.Errorf("no status.address.url")
	}
	ctx, cancel := t.ctx()
	defer cancel()
	ri, err := t.env.c.resource(ctx, kindChannel)
	if err != nil {
		t.Fatal(err)
	}
	if !ri.Namespaced {
		t.Errorf("discovery says channels are cluster-scoped")
	}
}

// R42: the Channel kind is in the category "channel".
func testChannelCategory(t *caseT) {
	ctx, cancel := t.ctx()
	defer cancel()
	ri, err := t.env.c.resource(ctx, kindChannel)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(ri.Categories, "channel") {
		t.Errorf("discovery lists categories %v for channels; want \"channel\"", ri.Categories)
	}
}

// readTestPlan reads one of the test plan's files.
func readTestPlan(t *caseT, name string) []*unstructured.Unstructured {
	t.Helper()
	data, err := testPlanFiles.ReadFile("testdata/knative-specs-testplan/" + name)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := decodeYAML(data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return objs
}

// R63: knative/specs' broker-lifecycle conformance plan, with its own resources.
func testPlan(t *caseT) {
	create := func(t *caseT, file string) *unstructured.Unstructured {
		objs, err := t.createObjects(readTestPlan(t, file))
		if err != nil || len(objs) != 1 {
			t.Fatalf("applying %s: %v", file, err)
		}
		return objs[0]
	}
	broker := create(t, "broker.yaml").GetName()
	t.Run("broker-readiness", func(t *caseT) { t.ready(kindBroker, broker) })
	t.Run("broker-addressable", func(t *caseT) {
		if a := str(t.ready(kindBroker, broker), "status", "address", "url"); a == "" {
			t.Errorf("status.address.url is empty")
		}
	})
	t.Run("immutability-1", func(t *caseT) {
		_, err := t.tryUpdate(kindBroker, broker, func(u *unstructured.Unstructured) {
			a := u.GetAnnotations()
			if a == nil {
				a = map[string]string{}
			}
			a["eventing.knative.dev/broker.class"] = "conformance-other-class"
			u.SetAnnotations(a)
		})
		rejected(t, "changing the broker.class annotation", err)
	})
	t.Run("immutability-2", func(t *caseT) {
		_, err := t.tryUpdate(kindBroker, broker, func(u *unstructured.Unstructured) {
			unstructured.SetNestedMap(u.Object, map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "name": "conformance-config"}, "spec", "config")
		})
		rejected(t, "changing spec.config", err)
	})
	t.Run("broker-reference-in-trigger", func(t *caseT) {
		tr := create(t, "trigger.yaml")
		u := t.ready(kindTrigger, tr.GetName())
		if got := str(u, "spec", "broker"); got != broker {
			t.Errorf("spec.broker is %q; want %q", got, broker)
		}
		t.remove(kindTrigger, tr.GetName())
	})
	t.Run("trigger-for-broker-readiness", func(t *caseT) {
		tr := create(t, "trigger-no-broker.yaml")
		u := t.waitFor(kindTrigger, tr.GetName(), "Ready=False (its broker does not exist)", readyFalse)
		if !explains(u) {
			t.Errorf("no condition says why: %s", describe(u))
		}
	})
}
