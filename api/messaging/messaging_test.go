package messaging_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/messaging"
	"github.com/eddyplatform/eddy/api/messaging/channelsv1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestKnativeDocsSubscriptionsWithDelivery(t *testing.T) {
	objs := decodeFile(t, "knative-docs-subscriptions-delivery.yaml")
	if len(objs) != 2 {
		t.Fatalf("%d objects", len(objs))
	}
	for _, o := range objs {
		s := mustAdmit(t, o).(*messaging.Subscription)
		if s.Spec.Channel.Kind != "InMemoryChannel" || s.Spec.Subscriber.URI != "http://doesnotexist.default.svc.cluster.local" ||
			s.Spec.Delivery.DeadLetterSink.Ref.Name != "error-handler" {
			t.Errorf("decoded %+v", s.Spec)
		}
	}
	d := objs[1].(*messaging.Subscription).Spec.Delivery
	if delay, err := d.BackoffDelayDuration(); err != nil || delay.Milliseconds() != 500 || *d.Retry != 5 {
		t.Errorf("delivery %+v: %v %v", d, delay, err)
	}
}

func TestKnativeDocsSubscriptionWithoutChannel(t *testing.T) {
	objs := decodeFile(t, "knative-docs-subscription-retryafter.yaml")
	_, _, err := reg.Admit(objs[0])
	expectInvalid(t, "retryAfterMax example", err, "spec.channel: Required value")
	s := objs[0].(*messaging.Subscription)
	if v, ok, err := s.Spec.Delivery.RetryAfterMaxDuration(); err != nil || !ok || v.Seconds() != 120 {
		t.Errorf("retryAfterMax = %v %v %v", v, ok, err)
	}
	s.Spec.Channel = corev1.ObjectReference{APIVersion: "messaging.knative.dev/v1", Kind: "Channel", Name: "c"}
	mustAdmit(t, s)
}

func TestKnativeInMemoryChannels(t *testing.T) {
	objs := decodeFile(t, "knative-eventing-inmemorychannels.yaml")
	if len(objs) != 3 {
		t.Fatalf("%d objects", len(objs))
	}
	for _, o := range objs {
		imc := mustAdmit(t, o).(*messaging.InMemoryChannel)
		if imc.Bus() != messaging.DefaultBus {
			t.Errorf("%s: bus %v", imc.Name, imc.Bus())
		}
	}
	demo := objs[2].(*messaging.InMemoryChannel)
	if len(demo.Spec.Subscribers) != 1 || demo.Spec.Subscribers[0].UID != "abc-123" {
		t.Errorf("subscribers %+v", demo.Spec.Subscribers)
	}
	ch := demo.AsChannel()
	if ch.Bus() != messaging.DefaultBus || ch.Spec.ChannelTemplate.Kind != "InMemoryChannel" || ch.Name != "demo" || len(ch.Validate()) != 0 {
		t.Errorf("AsChannel = %+v", ch)
	}
}

// The README's `kubectl get -oyaml` output lost its "annotations:" line; the document is not
// valid YAML any more, and decoding says where.
func TestKnativeInMemoryChannelStatusTypo(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "knative-eventing-inmemorychannel-status.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = reg.DecodeAll(data)
	if err == nil || !strings.Contains(err.Error(), "document 1") || !strings.Contains(err.Error(), "line 11: did not find expected key") {
		t.Fatalf("DecodeAll = %v", err)
	}
	// With the annotations line restored, the status decodes strictly into the v1 types.
	fixed := strings.Replace(string(data), "metadata:\n", "metadata:\n  annotations:\n", 1)
	objs, err := reg.DecodeAll([]byte(fixed))
	if err != nil {
		t.Fatal(err)
	}
	imc := objs[0].(*messaging.InMemoryChannel)
	if imc.Status.URL() != "http://demo-kn-channel.default.svc.cluster.local" || !imc.Status.GetCondition(api.ConditionReady).IsTrue() ||
		imc.Status.Subscribers[0].Ready != corev1.ConditionTrue || imc.Annotations["messaging.knative.dev/subscribable"] != "v1" {
		t.Errorf("status %+v", imc.Status)
	}
}

func TestKnativeDocsChannel(t *testing.T) {
	objs := decodeFile(t, "knative-docs-channel.yaml")
	created := mustAdmit(t, objs[0]).(*messaging.Channel)
	defaulted := mustAdmit(t, objs[1]).(*messaging.Channel)
	if *created.Spec.ChannelTemplate != *defaulted.Spec.ChannelTemplate || created.Spec.ChannelTemplate.APIVersion != "messaging.knative.dev/v1" {
		t.Errorf("defaulting must produce what Knative's webhook writes: %+v", created.Spec.ChannelTemplate)
	}
	if created.Bus() != messaging.DefaultBus {
		t.Errorf("bus %v", created.Bus())
	}
}

const channelHead = "apiVersion: messaging.knative.dev/v1\nkind: Channel\nmetadata:\n  name: c\n  namespace: ns\n"

func TestChannelBusSelection(t *testing.T) {
	cases := []struct {
		doc          string
		want         messaging.BusRef
		wantTemplate bool
	}{
		{channelHead, messaging.DefaultBus, true},
		{channelHead + "  annotations: {messaging.knative.dev/bus: kafka}\n", messaging.BusRef{Name: "kafka"}, false},
		{channelHead + "  annotations: {messaging.knative.dev/bus: ClusterBus/prod}\n", messaging.BusRef{Kind: "ClusterBus", Name: "prod"}, false},
		{channelHead + "  annotations: {messaging.knative.dev/bus: Bus/team-bus}\n", messaging.BusRef{Kind: "Bus", Name: "team-bus"}, false},
		{channelHead + "spec:\n  channelTemplate: {apiVersion: messaging.knative.dev/v1beta1, kind: KafkaChannel, spec: {numPartitions: 3}}\n", messaging.BusRef{Name: "kafka"}, true},
		{channelHead + "spec:\n  channelTemplate: {apiVersion: messaging.knative.dev/v1alpha1, kind: NatssChannel}\n", messaging.BusRef{Name: "nats"}, true},
		{channelHead + "  annotations: {messaging.knative.dev/bus: rabbitmq}\nspec:\n  channelTemplate: {apiVersion: example.com/v1, kind: RabbitChannel}\n", messaging.BusRef{Name: "rabbitmq"}, true},
	}
	for _, c := range cases {
		obj, err := admit(t, c.doc)
		if err != nil {
			t.Errorf("%s: %v", c.doc, err)
			continue
		}
		ch := mustAdmit(t, obj).(*messaging.Channel)
		if ch.Bus() != c.want || (ch.Spec.ChannelTemplate != nil) != c.wantTemplate {
			t.Errorf("%s: bus %v template %+v", c.doc, ch.Bus(), ch.Spec.ChannelTemplate)
		}
	}
	kafka, _ := admit(t, cases[4].doc)
	if raw := string(kafka.(*messaging.Channel).Spec.ChannelTemplate.Spec.Raw); raw != `{"numPartitions":3}` {
		t.Errorf("the template spec must be carried verbatim: %s", raw)
	}
}

func TestChannelValidation(t *testing.T) {
	cases := map[string]struct{ doc, want string }{
		"bad bus kind": {channelHead + "  annotations: {messaging.knative.dev/bus: Queue/x}\n",
			`metadata.annotations[messaging.knative.dev/bus]: Invalid value: "Queue/x": must be NAME, Bus/NAME or ClusterBus/NAME`},
		"empty bus": {channelHead + "  annotations: {messaging.knative.dev/bus: ''}\n",
			`metadata.annotations[messaging.knative.dev/bus]: Invalid value: ""`},
		"bad bus name": {channelHead + "  annotations: {messaging.knative.dev/bus: Bus/Not_A_Name}\n",
			`metadata.annotations[messaging.knative.dev/bus]: Invalid value: "Bus/Not_A_Name"`},
		"unknown template": {channelHead + "spec:\n  channelTemplate: {apiVersion: example.com/v1, kind: RedisChannel}\n",
			`spec.channelTemplate.kind: Unsupported value: "RedisChannel.example.com"`},
		"template without kind": {channelHead + "spec:\n  channelTemplate: {apiVersion: messaging.knative.dev/v1}\n",
			"spec.channelTemplate.kind: Required value"},
		"subscriber without URLs": {channelHead + "spec:\n  subscribers: [{uid: a}]\n",
			"spec.subscribers[0]: Required value"},
		"relative subscriber URL": {channelHead + "spec:\n  subscribers: [{uid: a, subscriberUri: /x}]\n",
			`spec.subscribers[0].subscriberUri: Invalid value: "/x"`},
		"delivery": {channelHead + "spec:\n  delivery: {backoffDelay: 5s}\n",
			`spec.delivery.backoffDelay: Invalid value: "5s": must be an ISO-8601 duration`},
	}
	for name, c := range cases {
		_, err := admit(t, c.doc)
		expectInvalid(t, name, err, c.want)
	}
	if errs := (&messaging.Channel{}).Validate(); len(errs) == 0 || !strings.Contains(errs.ToAggregate().Error(), "spec.channelTemplate: Required value") {
		t.Errorf("an undefaulted channel without template or annotation: %v", errs)
	}
}

func TestChannelUpdate(t *testing.T) {
	k, _ := reg.ForGroupKind(schema.GroupKind{Group: messaging.Group, Kind: "Channel"})
	old, _ := admit(t, channelHead)
	withDelivery, _ := admit(t, channelHead+"spec:\n  delivery: {retry: 3}\n")
	if err := k.CheckUpdate(old, withDelivery); err != nil {
		t.Errorf("changing spec.delivery must be allowed: %v", err)
	}
	kafkaTemplate, _ := admit(t, channelHead+"spec:\n  channelTemplate: {apiVersion: messaging.knative.dev/v1beta1, kind: KafkaChannel}\n")
	expectInvalid(t, "template", k.CheckUpdate(old, kafkaTemplate), "spec.channelTemplate: Invalid value", "field is immutable")
	annotated := *old.(*messaging.Channel)
	annotated.Annotations = map[string]string{messaging.BusAnnotation: "kafka"}
	expectInvalid(t, "bus", k.CheckUpdate(old, &annotated), `metadata.annotations[messaging.knative.dev/bus]: Invalid value: "kafka": field is immutable (was unset)`)
}

func TestInMemoryChannelBus(t *testing.T) {
	_, err := admit(t, "apiVersion: messaging.knative.dev/v1\nkind: InMemoryChannel\nmetadata:\n  name: c\n  annotations: {messaging.knative.dev/bus: kafka}\n")
	expectInvalid(t, "imc on kafka", err, `metadata.annotations[messaging.knative.dev/bus]: Invalid value: "kafka": an InMemoryChannel runs on the default or the stub bus`)
	if _, err := admit(t, "apiVersion: messaging.knative.dev/v1\nkind: InMemoryChannel\nmetadata:\n  name: c\n  annotations: {messaging.knative.dev/bus: stub}\n"); err != nil {
		t.Errorf("an InMemoryChannel may name the stub bus: %v", err)
	}
}

const subscriptionHead = "apiVersion: messaging.knative.dev/v1\nkind: Subscription\nmetadata:\n  name: s\n  namespace: ns\n"

func TestSubscriptionValidation(t *testing.T) {
	channel := "  channel: {apiVersion: messaging.knative.dev/v1, kind: Channel, name: c}\n"
	subscriber := "  subscriber: {ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: s}}\n"
	cases := map[string]struct {
		spec string
		want []string
	}{
		"no channel":    {"spec:\n" + subscriber, []string{"spec.channel: Required value"}},
		"no subscriber": {"spec:\n" + channel, []string{"spec.subscriber: Required value"}},
		"channel without kind": {"spec:\n  channel: {apiVersion: messaging.knative.dev/v1, name: c}\n" + subscriber,
			[]string{"spec.channel.kind: Required value"}},
		"channel elsewhere": {"spec:\n  channel: {apiVersion: messaging.knative.dev/v1, kind: Channel, name: c, namespace: other}\n" + subscriber,
			[]string{`spec.channel.namespace: Invalid value: "other"`}},
		"channel uid": {"spec:\n  channel: {apiVersion: messaging.knative.dev/v1, kind: Channel, name: c, uid: abc}\n" + subscriber,
			[]string{"spec.channel.uid: Forbidden"}},
		"reply with absolute uri and ref": {"spec:\n" + channel + subscriber + "  reply: {ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: b}, uri: http://x.example}\n",
			[]string{`spec.reply.uri: Invalid value: "http://x.example": must be a relative URI`}},
		"subscriber relative uri": {"spec:\n" + channel + "  subscriber: {uri: /path}\n",
			[]string{`spec.subscriber.uri: Invalid value: "/path"`}},
		"delivery": {"spec:\n" + channel + subscriber + "  delivery: {backoffDelay: 5s, deadLetterSink: {}}\n",
			[]string{`spec.delivery.backoffDelay: Invalid value: "5s": must be an ISO-8601 duration`, "spec.delivery.deadLetterSink: Required value"}},
	}
	for name, c := range cases {
		_, err := admit(t, subscriptionHead+c.spec)
		expectInvalid(t, name, err, c.want...)
	}
	obj, err := admit(t, subscriptionHead+"spec:\n"+channel+subscriber+
		"  reply: {ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: b}, uri: /reply}\n"+
		"  delivery: {deadLetterSink: {ref: {apiVersion: v1, kind: Service, name: dls}}}\n")
	if err != nil {
		t.Fatal(err)
	}
	s := mustAdmit(t, obj).(*messaging.Subscription)
	if s.Spec.Subscriber.Ref.Namespace != "ns" || s.Spec.Reply.Ref.Namespace != "ns" || s.Spec.Delivery.DeadLetterSink.Ref.Namespace != "ns" {
		t.Errorf("ref namespaces not defaulted: %+v", s.Spec)
	}
	if s.Spec.Channel.Namespace != "" {
		t.Errorf("spec.channel must be kept as written: %+v", s.Spec.Channel)
	}
	if s.ChannelGVK() != (schema.GroupVersionKind{Group: "messaging.knative.dev", Version: "v1", Kind: "Channel"}) {
		t.Errorf("ChannelGVK = %v", s.ChannelGVK())
	}
}

func TestSubscriptionUpdate(t *testing.T) {
	k, _ := reg.ForGroupKind(schema.GroupKind{Group: messaging.Group, Kind: "Subscription"})
	spec := "spec:\n  channel: {apiVersion: messaging.knative.dev/v1, kind: Channel, name: %s}\n  subscriber: {uri: %s}\n"
	mk := func(channel, uri string) api.Object {
		obj, err := admit(t, subscriptionHead+strings.NewReplacer("%s", channel).Replace(strings.Replace(spec, "{uri: %s}", "{uri: "+uri+"}", 1)))
		if err != nil {
			t.Fatal(err)
		}
		return obj
	}
	old := mk("c", "http://a.example")
	if err := k.CheckUpdate(old, mk("c", "http://b.example")); err != nil {
		t.Errorf("the subscriber must be mutable: %v", err)
	}
	expectInvalid(t, "channel", k.CheckUpdate(old, mk("d", "http://a.example")), "spec.channel: Invalid value", "field is immutable")
}

func TestChannelConditions(t *testing.T) {
	var s messaging.ChannelStatus
	s.InitializeConditions()
	s.MarkBackingChannelReady()
	s.MarkDeadLetterSinkResolvedSucceeded("http://dls.ns.svc")
	if s.IsReady() {
		t.Fatal("ready without an address")
	}
	s.SetAddress("http://127.0.0.1:8080/ns/c")
	if !s.IsReady() || s.DeadLetterSinkURI != "http://dls.ns.svc" {
		t.Fatalf("not ready: %+v", s)
	}
	s.SetAddress("")
	if c := s.GetCondition(api.ConditionReady); !c.IsFalse() || c.Reason != "EmptyHostname" {
		t.Errorf("Ready = %+v", c)
	}
	s.MarkDeadLetterSinkResolvedFailed("NotFound", "no %s", "dls")
	if s.DeadLetterSinkURI != "" {
		t.Error("a failed dead-letter sink must clear its URI")
	}
}

func TestSubscriptionConditions(t *testing.T) {
	var s messaging.SubscriptionStatus
	s.InitializeConditions()
	s.MarkReferencesResolved()
	s.MarkAddedToChannel()
	s.MarkChannelUnknown("NotReported", "the channel has not reported the subscriber")
	if s.IsReady() {
		t.Fatal("ready before the channel reported the subscriber")
	}
	s.MarkChannelReady()
	if !s.IsReady() {
		t.Fatalf("not ready: %+v", s.Conditions)
	}
	s.MarkReferencesNotResolved("SubscriberNotFound", "service %q not found", "s")
	if c := s.GetCondition(api.ConditionReady); !c.IsFalse() || c.Message != `service "s" not found` {
		t.Errorf("Ready = %+v", c)
	}
}

func TestParseBusRef(t *testing.T) {
	good := map[string]messaging.BusRef{
		"stub":            {Name: "stub"},
		"kafka-prod":      {Name: "kafka-prod"},
		"Bus/local":       {Kind: "Bus", Name: "local"},
		"ClusterBus/prod": {Kind: "ClusterBus", Name: "prod"},
	}
	for in, want := range good {
		got, err := messaging.ParseBusRef(in)
		if err != nil || got != want || got.String() != in {
			t.Errorf("ParseBusRef(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "Bus/", "bus/x", "Queue/x", "Bus/x/y", "UPPER"} {
		if _, err := messaging.ParseBusRef(bad); err == nil {
			t.Errorf("ParseBusRef(%q) accepted it", bad)
		}
	}
}

// The 2018 channels.knative.dev kinds share the names channel and subscription; unqualified,
// they mean the messaging.knative.dev kinds.
func TestResolveNames(t *testing.T) {
	cases := map[string]string{
		"channel": "Channel.messaging.knative.dev", "channels": "Channel.messaging.knative.dev", "ch": "Channel.messaging.knative.dev",
		"imc": "InMemoryChannel.messaging.knative.dev", "inmemorychannels": "InMemoryChannel.messaging.knative.dev",
		"subscription": "Subscription.messaging.knative.dev", "sub": "Subscription.messaging.knative.dev",
		"channels.channels.knative.dev":      "Channel.channels.knative.dev",
		"subscriptions.channels.knative.dev": "Subscription.channels.knative.dev",
		"clusterbus":                         "ClusterBus.channels.knative.dev", "buses": "Bus.channels.knative.dev",
		"brokers": "Broker.eventing.knative.dev", "trigger": "Trigger.eventing.knative.dev", "eventtypes": "EventType.eventing.knative.dev",
		"sequence": "Sequence.flows.knative.dev", "parallels": "Parallel.flows.knative.dev",
	}
	for name, want := range cases {
		k, err := reg.Resolve(name)
		if err != nil || k.GroupKind().String() != want {
			t.Errorf("Resolve(%q) = %v, %v; want %s", name, k, err, want)
		}
	}
	if k, _ := reg.Resolve("channels.channels.knative.dev"); !k.Legacy || k.StorageVersion().Name != channelsv1alpha1.Version {
		t.Errorf("legacy channel kind: %+v", k)
	}
}

func TestColumns(t *testing.T) {
	k, _ := reg.ForGroupKind(schema.GroupKind{Group: messaging.Group, Kind: "Subscription"})
	s := &messaging.Subscription{Spec: messaging.SubscriptionSpec{Channel: corev1.ObjectReference{Kind: "InMemoryChannel", Name: "orders"}}}
	s.Status.PhysicalSubscription.SubscriberURI = "http://s.ns.svc"
	got := map[string]string{}
	for _, c := range k.Columns {
		got[c.Name] = c.Value(s)
	}
	if got["CHANNEL"] != "orders" || got["CHANNEL_KIND"] != "InMemoryChannel" || got["SUBSCRIBER_URI"] != "http://s.ns.svc" {
		t.Errorf("columns %v", got)
	}
	ck, _ := reg.ForGroupKind(schema.GroupKind{Group: messaging.Group, Kind: "Channel"})
	ch := &messaging.Channel{}
	ch.Status.SetAddress("http://x")
	if ck.Columns[0].Name != "URL" || ck.Columns[0].Value(ch) != "http://x" || ck.Columns[1].Value(ch) != "default" {
		t.Error("channel columns")
	}
}
