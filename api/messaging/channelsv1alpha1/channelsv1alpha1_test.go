package channelsv1alpha1_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/duck"
	"github.com/eddyplatform/eddy/api/messaging"
	"github.com/eddyplatform/eddy/api/messaging/channelsv1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestKnative2018Buses(t *testing.T) {
	objs := decodeFile(t, "knative-eventing-2018-buses.yaml")
	want := map[string]messaging.BusType{"stub": "stub", "kafka": "kafka", "gcppubsub": "pubsub", "natss": "nats"}
	if len(objs) != len(want) {
		t.Fatalf("%d buses", len(objs))
	}
	for _, o := range objs {
		b := mustAdmit(t, o).(*channelsv1alpha1.Bus)
		if b.Spec.Type != want[b.Name] {
			t.Errorf("bus %s: type %q, want %q", b.Name, b.Spec.Type, want[b.Name])
		}
	}
	kafka := objs[1].(*channelsv1alpha1.Bus)
	params := *kafka.Spec.Parameters.Subscription
	if len(params) != 1 || params[0].Name != "initialOffset" || *params[0].Default != "Newest" {
		t.Errorf("kafka parameters %+v", params)
	}
	args, err := channelsv1alpha1.ResolveArguments(kafka.Spec.Parameters.Subscription, nil)
	if err != nil || args["initialOffset"] != "Newest" {
		t.Errorf("ResolveArguments = %v, %v", args, err)
	}
}

// The 2018 flow example: a Channel on the stub ClusterBus and a Subscription to a service's
// DNS name, converted to the v1 model.
func TestKnative2018FlowExample(t *testing.T) {
	objs := decodeFile(t, "knative-docs-2018-k8s-events.yaml")
	ch := mustAdmit(t, objs[0]).(*channelsv1alpha1.Channel)
	cb := mustAdmit(t, objs[1]).(*channelsv1alpha1.ClusterBus)
	sub := mustAdmit(t, objs[2]).(*channelsv1alpha1.Subscription)

	if cb.Spec.Type != messaging.BusStub {
		t.Errorf("cluster bus type %q", cb.Spec.Type)
	}

	v1ch := ch.ToV1()
	if v1ch.APIVersion != "messaging.knative.dev/v1" || v1ch.Kind != "Channel" || v1ch.Name != "k8s-event-flow" || v1ch.Namespace != "default" {
		t.Errorf("v1 channel meta %+v %+v", v1ch.TypeMeta, v1ch.ObjectMeta)
	}
	if v1ch.Annotations[messaging.BusAnnotation] != "ClusterBus/stub" || v1ch.Bus() != (messaging.BusRef{Kind: "ClusterBus", Name: "stub"}) {
		t.Errorf("v1 channel bus %v (annotations %v)", v1ch.Bus(), v1ch.Annotations)
	}
	if v1ch.Spec.ChannelTemplate != nil {
		t.Errorf("the bus annotation decides; no template expected: %+v", v1ch.Spec.ChannelTemplate)
	}
	if errs := v1ch.Validate(); len(errs) > 0 {
		t.Errorf("the v1 channel does not validate: %v", errs)
	}

	v1sub, err := sub.ToV1()
	if err != nil {
		t.Fatal(err)
	}
	wantChannel := corev1.ObjectReference{APIVersion: "channels.knative.dev/v1alpha1", Kind: "Channel", Name: "k8s-event-flow"}
	if v1sub.Spec.Channel != wantChannel {
		t.Errorf("channel ref %+v", v1sub.Spec.Channel)
	}
	if v1sub.Spec.Subscriber.URI != "http://read-k8s-events.default.svc.cluster.local" || v1sub.Spec.Reply != nil {
		t.Errorf("subscriber %+v reply %+v", v1sub.Spec.Subscriber, v1sub.Spec.Reply)
	}
	if errs := v1sub.Validate(); len(errs) > 0 {
		t.Errorf("the v1 subscription does not validate: %v", errs)
	}
}

func TestParseDestination(t *testing.T) {
	ksvc := func(name string) *duck.Destination {
		return &duck.Destination{Ref: &duck.KReference{APIVersion: "serving.knative.dev/v1", Kind: "Service", Name: name}}
	}
	good := map[string]*duck.Destination{
		"message-dumper":                 ksvc("message-dumper"),
		"http://dumper.example/events":   {URI: "http://dumper.example/events"},
		"https://dumper.example":         {URI: "https://dumper.example"},
		"dumper.default.svc":             {URI: "http://dumper.default.svc"},
		"dumper.default.svc:8080/events": {URI: "http://dumper.default.svc:8080/events"},
	}
	for in, want := range good {
		got, err := channelsv1alpha1.ParseDestination(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("ParseDestination(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "ftp://dumper.example", "http://", "Dumper_Service", "user:pw@host.example", "a b"} {
		if d, err := channelsv1alpha1.ParseDestination(bad); err == nil {
			t.Errorf("ParseDestination(%q) = %+v, want an error", bad, d)
		}
	}
}

const channelHead = "apiVersion: channels.knative.dev/v1alpha1\nkind: Channel\nmetadata:\n  name: c\n  namespace: ns\n"

func TestChannelConversion(t *testing.T) {
	obj, err := admit(t, channelHead+`spec:
  bus: kafka-bus
  arguments:
  - {name: NumPartitions, value: "3"}
status:
  address: {url: http://old.example}
`)
	if err != nil {
		t.Fatal(err)
	}
	ch := obj.(*channelsv1alpha1.Channel)
	v1 := ch.ToV1()
	if v1.Bus() != (messaging.BusRef{Kind: "Bus", Name: "kafka-bus"}) {
		t.Errorf("bus %v", v1.Bus())
	}
	args, err := channelsv1alpha1.ArgumentsFromAnnotations(v1.Annotations)
	if err != nil || len(*args) != 1 || (*args)[0] != (channelsv1alpha1.Argument{Name: "NumPartitions", Value: "3"}) {
		t.Errorf("arguments %v %v (annotation %q)", args, err, v1.Annotations[messaging.ArgumentsAnnotation])
	}
	if v1.Status.URL() != "http://old.example" {
		t.Errorf("status not carried: %+v", v1.Status)
	}
	v1.Status.SetAddress("http://new.example")
	v1.Annotations["x"] = "y"
	if ch.Status.URL() != "http://old.example" || ch.Annotations["x"] != "" {
		t.Error("ToV1 must not share the status or metadata with the v1alpha1 object")
	}
	// The reconciler writes the v1 status back as it is: the types are the same.
	ch.Status = v1.Status
	if ch.Status.URL() != "http://new.example" {
		t.Error("status copy-back")
	}

	plain, err := admit(t, channelHead)
	if err != nil {
		t.Fatal(err)
	}
	if v1 := plain.(*channelsv1alpha1.Channel).ToV1(); v1.Bus() != messaging.DefaultBus || v1.Spec.ChannelTemplate.Kind != "InMemoryChannel" {
		t.Errorf("a channel naming no bus is on the default bus: %v %+v", v1.Bus(), v1.Spec.ChannelTemplate)
	}
}

func TestChannelValidation(t *testing.T) {
	cases := map[string]struct{ spec, want string }{
		"both buses":       {"spec: {bus: a, clusterBus: b}\n", `spec.clusterBus: Invalid value: "b": set bus or clusterBus, not both`},
		"bad bus name":     {"spec: {bus: Not_A_Name}\n", `spec.bus: Invalid value: "Not_A_Name"`},
		"duplicate args":   {"spec:\n  arguments: [{name: a, value: '1'}, {name: a, value: '2'}]\n", `spec.arguments[1].name: Duplicate value: "a"`},
		"unnamed argument": {"spec:\n  arguments: [{value: '1'}]\n", "spec.arguments[0].name: Required value"},
		"bus and annotation": {"  annotations: {messaging.knative.dev/bus: kafka}\nspec: {clusterBus: stub}\n",
			`metadata.annotations[messaging.knative.dev/bus]: Invalid value: "kafka": name the bus with spec.bus or spec.clusterBus, or with the annotation, not both`},
	}
	for name, c := range cases {
		_, err := admit(t, channelHead+c.spec)
		expectInvalid(t, name, err, c.want)
	}
	k, _ := reg.ForGroupKind(schema.GroupKind{Group: channelsv1alpha1.Group, Kind: "Channel"})
	old, _ := admit(t, channelHead+"spec: {clusterBus: stub}\n")
	moved, _ := admit(t, channelHead+"spec: {clusterBus: kafka}\n")
	withArgs, _ := admit(t, channelHead+"spec:\n  clusterBus: stub\n  arguments: [{name: a, value: b}]\n")
	expectInvalid(t, "move", k.CheckUpdate(old, moved), `spec.clusterBus: Invalid value: "kafka": field is immutable`)
	if err := k.CheckUpdate(old, withArgs); err != nil {
		t.Errorf("arguments are mutable: %v", err)
	}
}

const subscriptionHead = "apiVersion: channels.knative.dev/v1alpha1\nkind: Subscription\nmetadata:\n  name: s\n  namespace: ns\n"

func TestSubscriptionConversion(t *testing.T) {
	obj, err := admit(t, subscriptionHead+`spec:
  channel: orders
  subscriber: message-dumper
  replyTo: https://replies.example/in
  arguments: [{name: initialOffset, value: Oldest}]
`)
	if err != nil {
		t.Fatal(err)
	}
	v1, err := obj.(*channelsv1alpha1.Subscription).ToV1()
	if err != nil {
		t.Fatal(err)
	}
	if v1.APIVersion != "messaging.knative.dev/v1" || v1.Kind != "Subscription" {
		t.Errorf("type %+v", v1.TypeMeta)
	}
	want := &duck.KReference{APIVersion: "serving.knative.dev/v1", Kind: "Service", Name: "message-dumper", Namespace: "ns"}
	if !reflect.DeepEqual(v1.Spec.Subscriber.Ref, want) || v1.Spec.Subscriber.URI != "" {
		t.Errorf("subscriber %+v", v1.Spec.Subscriber)
	}
	if v1.Spec.Reply.URI != "https://replies.example/in" || v1.Spec.Channel.Name != "orders" {
		t.Errorf("reply %+v channel %+v", v1.Spec.Reply, v1.Spec.Channel)
	}
	var args []channelsv1alpha1.Argument
	if err := json.Unmarshal([]byte(v1.Annotations[messaging.ArgumentsAnnotation]), &args); err != nil || args[0].Value != "Oldest" {
		t.Errorf("arguments annotation %q", v1.Annotations[messaging.ArgumentsAnnotation])
	}
	if errs := v1.Validate(); len(errs) > 0 {
		t.Errorf("v1 validation: %v", errs)
	}
	// Written as a v1 Subscription, the converted object is admitted too.
	mustAdmit(t, v1)
}

func TestSubscriptionValidation(t *testing.T) {
	cases := map[string]struct{ spec, want string }{
		"no channel":    {"spec: {subscriber: dumper}\n", "spec.channel: Required value"},
		"no subscriber": {"spec: {channel: c}\n", "spec.subscriber: Required value"},
		"bad subscriber": {"spec: {channel: c, subscriber: 'ftp://x.example'}\n",
			`spec.subscriber: Invalid value: "ftp://x.example": a URL must be http or https with a host`},
		"bad replyTo": {"spec: {channel: c, subscriber: dumper, replyTo: 'Not A Name'}\n", `spec.replyTo: Invalid value: "Not A Name"`},
	}
	for name, c := range cases {
		_, err := admit(t, subscriptionHead+c.spec)
		expectInvalid(t, name, err, c.want)
	}
	k, _ := reg.ForGroupKind(schema.GroupKind{Group: channelsv1alpha1.Group, Kind: "Subscription"})
	old, _ := admit(t, subscriptionHead+"spec: {channel: c, subscriber: a, replyTo: r}\n")
	newSubscriber, _ := admit(t, subscriptionHead+"spec: {channel: c, subscriber: b, replyTo: r}\n")
	newChannel, _ := admit(t, subscriptionHead+"spec: {channel: d, subscriber: a, replyTo: r}\n")
	newReply, _ := admit(t, subscriptionHead+"spec: {channel: c, subscriber: a, replyTo: q}\n")
	if err := k.CheckUpdate(old, newSubscriber); err != nil {
		t.Errorf("the subscriber is mutable: %v", err)
	}
	expectInvalid(t, "channel", k.CheckUpdate(old, newChannel), `spec.channel: Invalid value: "d": field is immutable`)
	expectInvalid(t, "replyTo", k.CheckUpdate(old, newReply), `spec.replyTo: Invalid value: "q": field is immutable`)
}

func TestBusValidation(t *testing.T) {
	bus := "apiVersion: channels.knative.dev/v1alpha1\nkind: Bus\nmetadata:\n  name: b\n  namespace: ns\n"
	cluster := "apiVersion: channels.knative.dev/v1alpha1\nkind: ClusterBus\nmetadata:\n  name: cb\n"
	cases := map[string]struct{ doc, want string }{
		"no type":      {bus, "spec.type: Required value"},
		"unknown type": {bus + "spec: {type: redis}\n", `spec.type: Unsupported value: "redis"`},
		"password key": {bus + "spec: {type: kafka, config: {saslPassword: hunter2}}\n", "spec.config[saslPassword]: Forbidden: credentials must not be written in spec.config"},
		"token key":    {bus + "spec: {type: nats, config: {auth_token: abc}}\n", "spec.config[auth_token]: Forbidden"},
		"password URL": {bus + "spec: {type: rabbitmq, config: {url: 'amqp://guest:guest@localhost:5672/'}}\n", "spec.config[url]: Forbidden: the URL carries a password"},
		"bad key":      {bus + "spec: {type: kafka, config: {'bad key': x}}\n", "spec.config[bad key]: Invalid value"},
		"secret elsewhere": {bus + "spec: {type: kafka, secretRef: {name: s, namespace: other}}\n",
			`spec.secretRef.namespace: Invalid value: "other": a Bus's secret must be in its namespace "ns"`},
		"cluster secret without namespace": {cluster + "spec: {type: kafka, secretRef: {name: s}}\n", "spec.secretRef.namespace: Required value"},
		"secret without name":              {cluster + "spec: {type: kafka, secretRef: {namespace: ns}}\n", "spec.secretRef.name: Required value"},
		"bad parameter":                    {bus + "spec:\n  type: kafka\n  parameters: {channel: [{name: 'a b', description: x}]}\n", "spec.parameters.channel[0].name: Invalid value"},
		"dispatcher not an object":         {bus + "spec: {type: stub, dispatcher: [a]}\n", "spec.dispatcher: Invalid value"},
		"cluster bus in a namespace":       {cluster + "  namespace: ns\nspec: {type: stub}\n", "metadata.namespace: Forbidden"},
	}
	for name, c := range cases {
		_, err := admit(t, c.doc)
		expectInvalid(t, name, err, c.want)
	}
	obj, err := admit(t, cluster+`spec:
  type: kafka
  config: {bootstrapServers: "kafka-1:9092,kafka-2:9092", topicPrefix: eddy.}
  secretRef: {name: kafka-credentials, namespace: eddy-system}
`)
	if err != nil {
		t.Fatal(err)
	}
	cb := mustAdmit(t, obj).(*channelsv1alpha1.ClusterBus)
	if cb.Spec.Config["bootstrapServers"] != "kafka-1:9092,kafka-2:9092" || cb.Spec.SecretRef.Name != "kafka-credentials" {
		t.Errorf("cluster bus %+v", cb.Spec)
	}
	inferred, err := admit(t, cluster+"spec:\n  dispatcher: {name: d, image: example.com/buses/natss/dispatcher}\n")
	if err != nil || inferred.(*channelsv1alpha1.ClusterBus).Spec.Type != messaging.BusNATS {
		t.Errorf("type from the image: %v %v", inferred, err)
	}
}

func TestResolveArguments(t *testing.T) {
	def := "1"
	params := &[]channelsv1alpha1.Parameter{{Name: "partitions", Default: &def}, {Name: "topic"}}
	got, err := channelsv1alpha1.ResolveArguments(params, &[]channelsv1alpha1.Argument{{Name: "topic", Value: "t"}})
	if err != nil || !reflect.DeepEqual(got, map[string]string{"partitions": "1", "topic": "t"}) {
		t.Errorf("ResolveArguments = %v, %v", got, err)
	}
	if _, err := channelsv1alpha1.ResolveArguments(params, nil); err == nil || !strings.Contains(err.Error(), `"topic"`) {
		t.Errorf("a parameter without default or argument: %v", err)
	}
	if _, err := channelsv1alpha1.ResolveArguments(nil, &[]channelsv1alpha1.Argument{{Name: "x", Value: "y"}}); err == nil || !strings.Contains(err.Error(), `"x"`) {
		t.Errorf("an undeclared argument: %v", err)
	}
}

func TestStatusTypes(t *testing.T) {
	ch := &channelsv1alpha1.Channel{}
	ch.Status.InitializeConditions()
	if ch.GetStatus().GetCondition(messaging.ChannelConditionBackingChannelReady) == nil {
		t.Error("the v1alpha1 channel status must carry the v1 conditions")
	}
	var b channelsv1alpha1.BusStatus
	b.InitializeConditions()
	b.MarkBackendFailed("SecretNotFound", "secret %q not found", "s")
	if b.IsReady() || b.GetCondition(api.ConditionReady).Reason != "SecretNotFound" {
		t.Errorf("bus status %+v", b)
	}
	b.MarkBackendReady()
	if !b.IsReady() {
		t.Error("bus not ready")
	}
}
