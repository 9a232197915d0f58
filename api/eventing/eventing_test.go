package eventing_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/duck"
	"github.com/eddyplatform/eddy/api/eventing"
	"github.com/eddyplatform/eddy/api/messaging"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestKnativeSpecsTestplanTriggers(t *testing.T) {
	for file, broker := range map[string]string{
		"knative-specs-trigger.yaml":           "conformance-broker",
		"knative-specs-trigger-no-broker.yaml": "non-existent-broker",
	} {
		objs := decodeFile(t, file)
		tr := mustAdmit(t, objs[0]).(*eventing.Trigger)
		if tr.Spec.Broker != broker || tr.Labels[eventing.BrokerLabel] != broker {
			t.Errorf("%s: broker %q, label %q", file, tr.Spec.Broker, tr.Labels[eventing.BrokerLabel])
		}
		if tr.Spec.Filter == nil || len(tr.Spec.Filter.Attributes) != 0 {
			t.Errorf("%s: filter not defaulted to {}: %+v", file, tr.Spec.Filter)
		}
		if tr.Spec.Subscriber.URI != "http://events-counter-service.default.svc.cluster.local/events" {
			t.Errorf("%s: subscriber %+v", file, tr.Spec.Subscriber)
		}
	}
}

// The test plan's broker.yaml says "kind: broker". Kinds are case-sensitive, in Kubernetes as in
// Eddy, so the document is rejected with an error that says so; with the kind written as
// Knative names it, it is a valid Broker.
func TestKnativeSpecsTestplanBroker(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "knative-specs-broker.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.DecodeAll(data); err == nil || !strings.Contains(err.Error(), `no kind "broker" is registered in group "eventing.knative.dev"`) {
		t.Fatalf("DecodeAll(kind: broker) = %v", err)
	}
	objs, err := reg.DecodeAll([]byte(strings.Replace(string(data), "kind: broker", "kind: Broker", 1)))
	if err != nil {
		t.Fatal(err)
	}
	b := mustAdmit(t, objs[0]).(*eventing.Broker)
	if b.Name != "conformance-broker" || b.Class() != eventing.DefaultBrokerClass || b.Annotations[eventing.BrokerClassAnnotation] != "MTChannelBasedBroker" {
		t.Errorf("broker not defaulted: %+v", b.ObjectMeta)
	}
	d := b.Spec.Delivery
	if d == nil || *d.Retry != 10 || *d.BackoffPolicy != duck.BackoffPolicyExponential || *d.BackoffDelay != "PT0.2S" {
		t.Errorf("delivery not defaulted: %+v", d)
	}
	if b.Bus() != messaging.DefaultBus {
		t.Errorf("bus %v", b.Bus())
	}
}

func TestKnativeDocsTriggerFilters(t *testing.T) {
	objs := decodeFile(t, "knative-docs-trigger-filters.yaml")
	if len(objs) != 8 {
		t.Fatalf("%d triggers", len(objs))
	}
	dialects := map[string]string{}
	for _, o := range objs {
		tr := mustAdmit(t, o).(*eventing.Trigger)
		dialects[tr.Name] = strings.Join(tr.Spec.Filters[0].Dialects(), ",")
	}
	want := map[string]string{
		"my-service-trigger": "cesql", "exact": "exact", "prefix": "prefix", "suffix": "suffix",
		"all": "all", "any": "any", "not": "not", "my-service-trigger-both": "cesql",
	}
	for name, d := range want {
		if dialects[name] != d {
			t.Errorf("%s: dialects %q, want %q", name, dialects[name], d)
		}
	}
	both := objs[7].(*eventing.Trigger)
	if both.Spec.Filter.Attributes["myextension"] != "my-extension-value" {
		t.Errorf("filter.attributes lost: %+v", both.Spec.Filter)
	}
}

func TestKnativeDocsTriggers(t *testing.T) {
	objs := decodeFile(t, "knative-docs-triggers.yaml")
	if len(objs) != 3 {
		t.Fatalf("%d triggers", len(objs))
	}
	for _, o := range objs {
		mustAdmit(t, o)
	}
	if s := objs[1].(*eventing.Trigger).Spec.Subscriber; s.Ref.Kind != "Service" || s.Ref.APIVersion != "v1" || s.URI != "/my-custom-path" {
		t.Errorf("ref with a relative uri: %+v", s)
	}
}

func TestKnativeDocsBroker(t *testing.T) {
	objs := decodeFile(t, "knative-docs-broker.yaml")
	_, _, err := reg.Admit(objs[0])
	expectInvalid(t, "docs broker", err,
		`spec.delivery.backoffDelay: Invalid value: "2007-03-01T13:00:00Z/P1Y2M10DT2H30M": must be an ISO-8601 duration`)
	if err != nil && strings.Count(err.Error(), "Invalid value") != 1 {
		t.Errorf("the dead-letter sink in another namespace and the config must be accepted: %v", err)
	}
	b := objs[0].(*eventing.Broker)
	delay := "PT2S"
	b.Spec.Delivery.BackoffDelay = &delay
	b = mustAdmit(t, b).(*eventing.Broker)
	if *b.Spec.Delivery.Retry != 5 || b.Spec.Config.Namespace != "knative-eventing" || b.Spec.Delivery.DeadLetterSink.Ref.Namespace != "example-namespace" {
		t.Errorf("an explicit delivery spec must be kept as written: %+v", b.Spec)
	}
}

func TestBrokerDefaults(t *testing.T) {
	obj, err := admit(t, `
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata:
  name: b
  namespace: ns
  annotations: {eventing.knative.dev/broker.class: Kafka}
spec:
  config: {apiVersion: v1, kind: ConfigMap, name: kafka-broker-config}
  delivery:
    deadLetterSink: {ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: dls}}
`)
	if err != nil {
		t.Fatal(err)
	}
	b := obj.(*eventing.Broker)
	if b.Class() != "Kafka" || b.Bus() != (messaging.BusRef{Name: "kafka"}) {
		t.Errorf("class %q bus %v", b.Class(), b.Bus())
	}
	if b.Spec.Config.Namespace != "ns" || b.Spec.Delivery.DeadLetterSink.Ref.Namespace != "ns" {
		t.Errorf("ref namespaces not defaulted: %+v", b.Spec)
	}
	if b.Spec.Delivery.Retry != nil || b.Spec.Delivery.BackoffPolicy != nil {
		t.Errorf("a broker's own delivery spec must not be merged with the defaults: %+v", b.Spec.Delivery)
	}
}

func TestBrokerValidation(t *testing.T) {
	cases := map[string]struct{ doc, want string }{
		"bad bus annotation": {`{"apiVersion":"eventing.knative.dev/v1","kind":"Broker","metadata":{"name":"b","annotations":{"messaging.knative.dev/bus":"Queue/x"}}}`,
			`metadata.annotations[messaging.knative.dev/bus]: Invalid value: "Queue/x"`},
		"config without name": {`{"apiVersion":"eventing.knative.dev/v1","kind":"Broker","metadata":{"name":"b"},"spec":{"config":{"apiVersion":"v1","kind":"ConfigMap"}}}`,
			"spec.config.name: Required value"},
		"negative retry": {`{"apiVersion":"eventing.knative.dev/v1","kind":"Broker","metadata":{"name":"b"},"spec":{"delivery":{"retry":-1}}}`,
			"spec.delivery.retry: Invalid value: -1"},
		"go duration": {`{"apiVersion":"eventing.knative.dev/v1","kind":"Broker","metadata":{"name":"b"},"spec":{"delivery":{"backoffDelay":"5s"}}}`,
			`spec.delivery.backoffDelay: Invalid value: "5s": must be an ISO-8601 duration`},
		"bad policy": {`{"apiVersion":"eventing.knative.dev/v1","kind":"Broker","metadata":{"name":"b"},"spec":{"delivery":{"backoffPolicy":"fibonacci"}}}`,
			`spec.delivery.backoffPolicy: Unsupported value: "fibonacci"`},
	}
	for name, c := range cases {
		_, err := admit(t, c.doc)
		expectInvalid(t, name, err, c.want)
	}
}

func TestBrokerUpdate(t *testing.T) {
	k, _ := reg.ForGroupKind(schema.GroupKind{Group: eventing.Group, Kind: "Broker"})
	mk := func(class, bus string, config *duck.KReference, retry int32) api.Object {
		b := &eventing.Broker{}
		b.Name, b.Namespace = "b", "ns"
		b.Annotations = map[string]string{eventing.BrokerClassAnnotation: class}
		if bus != "" {
			b.Annotations[messaging.BusAnnotation] = bus
		}
		b.Spec.Config = config
		b.Spec.Delivery = &duck.DeliverySpec{Retry: &retry}
		return b
	}
	cfg := &duck.KReference{APIVersion: "v1", Kind: "ConfigMap", Name: "c", Namespace: "ns"}
	other := &duck.KReference{APIVersion: "v1", Kind: "ConfigMap", Name: "d", Namespace: "ns"}
	old := mk("MTChannelBasedBroker", "", cfg, 1)
	if err := k.CheckUpdate(old, mk("MTChannelBasedBroker", "", cfg, 7)); err != nil {
		t.Errorf("changing spec.delivery must be allowed: %v", err)
	}
	expectInvalid(t, "class", k.CheckUpdate(old, mk("Kafka", "", cfg, 1)),
		`metadata.annotations[eventing.knative.dev/broker.class]: Invalid value: "Kafka": field is immutable`)
	expectInvalid(t, "config", k.CheckUpdate(old, mk("MTChannelBasedBroker", "", other, 1)), "spec.config: Invalid value", "field is immutable")
	expectInvalid(t, "bus", k.CheckUpdate(old, mk("MTChannelBasedBroker", "kafka", cfg, 1)),
		`metadata.annotations[messaging.knative.dev/bus]: Invalid value: "kafka": field is immutable (was unset)`)
}

func TestBrokerBus(t *testing.T) {
	cases := []struct {
		annotations map[string]string
		want        messaging.BusRef
	}{
		{nil, messaging.DefaultBus},
		{map[string]string{eventing.BrokerClassAnnotation: "MTChannelBasedBroker"}, messaging.DefaultBus},
		{map[string]string{eventing.BrokerClassAnnotation: "RabbitMQBroker"}, messaging.BusRef{Name: "rabbitmq"}},
		{map[string]string{eventing.BrokerClassAnnotation: "Kafka", messaging.BusAnnotation: "ClusterBus/prod"}, messaging.BusRef{Kind: "ClusterBus", Name: "prod"}},
		{map[string]string{messaging.BusAnnotation: "Bus/local"}, messaging.BusRef{Kind: "Bus", Name: "local"}},
	}
	for _, c := range cases {
		b := &eventing.Broker{}
		b.Annotations = c.annotations
		if got := b.Bus(); got != c.want {
			t.Errorf("Bus(%v) = %v, want %v", c.annotations, got, c.want)
		}
	}
}

const triggerHead = `apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: t, namespace: ns}
`

func TestTriggerValidation(t *testing.T) {
	sub := "  subscriber: {uri: http://sink.example}\n"
	cases := map[string]struct {
		spec string
		want []string
	}{
		"no broker":     {"spec:\n" + sub, []string{"spec.broker: Required value"}},
		"no subscriber": {"spec:\n  broker: default\n", []string{"spec.subscriber: Required value"}},
		"bad broker name": {"spec:\n  broker: Default_Broker\n" + sub,
			[]string{`spec.broker: Invalid value: "Default_Broker"`}},
		"other broker namespace": {"spec:\n  broker: default\n  brokerNamespace: other\n" + sub,
			[]string{`spec.brokerNamespace: Invalid value: "other"`}},
		"attribute name": {"spec:\n  broker: default\n  filter: {attributes: {Type: x, my-ext: \"v\"}}\n" + sub,
			[]string{`spec.filter.attributes[Type]: Invalid value: "Type"`, `spec.filter.attributes[my-ext]: Invalid value: "my-ext"`}},
		"two dialects": {"spec:\n  broker: default\n  filters: [{exact: {type: a}, prefix: {source: b}}]\n" + sub,
			[]string{`spec.filters[0].prefix: Forbidden: a filter expression has exactly one dialect, and this one already has "exact"`}},
		"exact with two keys": {"spec:\n  broker: default\n  filters: [{exact: {type: a, source: b}}]\n" + sub,
			[]string{"spec.filters[0].exact: Too many: 2: must have at most 1 item"}},
		"exact with no key": {"spec:\n  broker: default\n  filters: [{exact: {}}]\n" + sub,
			[]string{"spec.filters[0].exact: Required value: must name exactly one attribute"}},
		"empty prefix": {"spec:\n  broker: default\n  filters: [{prefix: {type: ''}}]\n" + sub,
			[]string{"spec.filters[0].prefix[type]: Required value: the value cannot be empty"}},
		"bad suffix attribute": {"spec:\n  broker: default\n  filters: [{suffix: {Type: .created}}]\n" + sub,
			[]string{`spec.filters[0].suffix[Type]: Invalid value: "Type": must be a CloudEvents attribute name`}},
		"empty all": {"spec:\n  broker: default\n  filters: [{all: []}]\n" + sub,
			[]string{"spec.filters[0].all: Required value: must hold at least one filter expression"}},
		"nested cesql": {"spec:\n  broker: default\n  filters:\n  - exact: {type: a}\n  - any: [{exact: {type: b}}, {not: {cesql: \"type = \"}}]\n" + sub,
			[]string{`spec.filters[1].any[1].not.cesql: Invalid value: "type = ": must be a CloudEvents SQL expression: syntax error`}},
		"cesql syntax": {"spec:\n  broker: default\n  filters: [{cesql: \"source LIKE AND\"}]\n" + sub,
			[]string{`spec.filters[0].cesql: Invalid value: "source LIKE AND": must be a CloudEvents SQL expression`}},
		"delivery": {"spec:\n  broker: default\n  delivery: {backoffDelay: 5s}\n" + sub,
			[]string{`spec.delivery.backoffDelay: Invalid value: "5s": must be an ISO-8601 duration`}},
		"subscriber ref elsewhere": {"spec:\n  broker: default\n  subscriber: {ref: {apiVersion: v1, kind: Service, name: s, namespace: other}}\n",
			[]string{`spec.subscriber.ref.namespace: Invalid value: "other"`}},
	}
	for name, c := range cases {
		_, err := admit(t, triggerHead+c.spec)
		expectInvalid(t, name, err, c.want...)
	}
}

func TestTriggerAnnotations(t *testing.T) {
	spec := "spec:\n  broker: %s\n  subscriber: {uri: http://sink.example}\n"
	cases := map[string]struct{ annotations, broker, want string }{
		"dependency not JSON": {`knative.dev/dependency: "ping"`, "default", `metadata.annotations[knative.dev/dependency]: Invalid value: "ping": must be the JSON of an object reference`},
		"dependency missing kind": {`knative.dev/dependency: '{"apiVersion":"sources.knative.dev/v1","name":"p"}'`, "default",
			"missing: kind"},
		"injection value":           {`eventing.knative.dev/injection: "yes"`, "default", `metadata.annotations[eventing.knative.dev/injection]: Unsupported value: "yes"`},
		"injection on other broker": {`eventing.knative.dev/injection: enabled`, "mine", `applies only to triggers of the broker "default"`},
	}
	for name, c := range cases {
		doc := "apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata:\n  name: t\n  namespace: ns\n  annotations:\n    " +
			c.annotations + "\n" + strings.Replace(spec, "%s", c.broker, 1)
		_, err := admit(t, doc)
		expectInvalid(t, name, err, c.want)
	}
	ok := "apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata:\n  name: t\n  namespace: ns\n  annotations:\n" +
		`    knative.dev/dependency: '{"kind":"PingSource","name":"p","apiVersion":"sources.knative.dev/v1"}'` + "\n" +
		"    eventing.knative.dev/injection: enabled\n" + strings.Replace(spec, "%s", "default", 1)
	if _, err := admit(t, ok); err != nil {
		t.Errorf("valid annotations rejected: %v", err)
	}
}

func TestTriggerDefaultsAndUpdate(t *testing.T) {
	obj, err := admit(t, triggerHead+`spec:
  broker: default
  subscriber: {ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: s}}
  delivery: {deadLetterSink: {ref: {apiVersion: v1, kind: Service, name: dls}}}
`)
	if err != nil {
		t.Fatal(err)
	}
	tr := obj.(*eventing.Trigger)
	if tr.Spec.Subscriber.Ref.Namespace != "ns" || tr.Spec.Delivery.DeadLetterSink.Ref.Namespace != "ns" {
		t.Errorf("ref namespaces not defaulted: %+v", tr.Spec)
	}
	if tr.Labels[eventing.BrokerLabel] != "default" || tr.Spec.Filter == nil {
		t.Errorf("labels %v filter %v", tr.Labels, tr.Spec.Filter)
	}
	k, _ := reg.ForGroupKind(schema.GroupKind{Group: eventing.Group, Kind: "Trigger"})
	changed := *tr
	changed.Spec.Subscriber = duck.Destination{URI: "http://elsewhere.example"}
	changed.Spec.Filter = &eventing.TriggerFilter{Attributes: eventing.TriggerFilterAttributes{"type": "x"}}
	if err := k.CheckUpdate(tr, &changed); err != nil {
		t.Errorf("subscriber and filter must be mutable: %v", err)
	}
	changed.Spec.Broker = "other"
	expectInvalid(t, "broker", k.CheckUpdate(tr, &changed), `spec.broker: Invalid value: "other": field is immutable`)
}

func TestBrokerConditions(t *testing.T) {
	var s eventing.BrokerStatus
	s.InitializeConditions()
	if s.IsReady() || s.GetCondition(api.ConditionReady) == nil {
		t.Fatal("a new broker must not be ready")
	}
	s.MarkIngressReady()
	s.MarkTriggerChannelReady()
	s.MarkFilterReady()
	s.MarkDeadLetterSinkNotConfigured()
	if s.IsReady() {
		t.Fatal("ready without an address")
	}
	s.SetAddress("http://127.0.0.1:8080/ns/default")
	if !s.IsReady() || s.URL() != "http://127.0.0.1:8080/ns/default" {
		t.Fatalf("not ready: %+v", s.Conditions)
	}
	s.MarkIngressFailed("PortInUse", "port %d is taken", 8080)
	ready := s.GetCondition(api.ConditionReady)
	if !ready.IsFalse() || ready.Reason != "PortInUse" || ready.Message != "port 8080 is taken" {
		t.Errorf("Ready = %+v", ready)
	}
	b := &eventing.Broker{Status: s}
	k, _ := reg.ForGroupKind(schema.GroupKind{Group: eventing.Group, Kind: "Broker"})
	if got := k.Columns[0].Value(b); got != "http://127.0.0.1:8080/ns/default" {
		t.Errorf("URL column = %q", got)
	}
}

func TestTriggerConditions(t *testing.T) {
	var s eventing.TriggerStatus
	s.InitializeConditions()
	s.PropagateBrokerCondition(nil)
	if c := s.GetCondition(eventing.TriggerConditionBroker); c.Status != corev1.ConditionUnknown || c.Reason != "BrokerNotConfigured" {
		t.Errorf("BrokerReady = %+v", c)
	}
	s.PropagateBrokerCondition(&api.Condition{Type: api.ConditionReady, Status: corev1.ConditionFalse, Reason: "NotFound", Message: "no broker"})
	if c := s.GetCondition(api.ConditionReady); !c.IsFalse() || c.Reason != "NotFound" {
		t.Errorf("Ready = %+v", c)
	}
	s.PropagateBrokerCondition(&api.Condition{Type: api.ConditionReady, Status: corev1.ConditionTrue})
	s.MarkSubscribed()
	s.MarkDependencySucceeded()
	s.MarkDeadLetterSinkNotConfigured()
	s.MarkSubscriberResolvedSucceeded("http://sink.ns.svc")
	if !s.IsReady() || s.SubscriberURI != "http://sink.ns.svc" {
		t.Fatalf("not ready: %+v", s)
	}
	s.MarkSubscriberResolvedFailed("NotFound", "service %q not found", "sink")
	if s.IsReady() || s.SubscriberURI != "" {
		t.Errorf("a subscriber that does not resolve must clear subscriberUri: %+v", s)
	}
	tr := &eventing.Trigger{Spec: eventing.TriggerSpec{Broker: "default"}, Status: s}
	tr.Status.SubscriberURI = "http://x"
	k, _ := reg.ForGroupKind(schema.GroupKind{Group: eventing.Group, Kind: "Trigger"})
	if k.Columns[0].Name != "BROKER" || k.Columns[0].Value(tr) != "default" || k.Columns[1].Name != "SUBSCRIBER_URI" || k.Columns[1].Value(tr) != "http://x" {
		t.Error("trigger columns")
	}
}

func TestEventType(t *testing.T) {
	// After the v1beta2 EventType example in Knative's documentation.
	obj, err := admit(t, `
apiVersion: eventing.knative.dev/v1beta2
kind: EventType
metadata:
  name: dev.knative.source.github.push-sss34cnb
  namespace: default
spec:
  type: dev.knative.source.github.push
  source: https://github.com/knative/eventing
  reference:
    apiVersion: messaging.knative.dev/v1
    kind: InMemoryChannel
    name: testchannel
`)
	if err != nil {
		t.Fatal(err)
	}
	et := mustAdmit(t, obj).(*eventing.EventType)
	if et.Spec.Reference.Namespace != "default" {
		t.Errorf("reference namespace not defaulted: %+v", et.Spec.Reference)
	}
	_, err = admit(t, `{"apiVersion":"eventing.knative.dev/v1beta2","kind":"EventType","metadata":{"name":"e"},"spec":{"source":"http://[::1"}}`)
	expectInvalid(t, "eventtype", err, "spec.type: Required value", `spec.source: Invalid value: "http://[::1"`)
	if _, err := reg.DecodeAll([]byte(`{"apiVersion":"eventing.knative.dev/v1","kind":"EventType","metadata":{"name":"e"}}`)); err == nil {
		t.Error("EventType is served as v1beta2 only")
	}
	k, _ := reg.ForGroupKind(schema.GroupKind{Group: eventing.Group, Kind: "EventType"})
	changed := *et
	changed.Spec.Description = "changed"
	expectInvalid(t, "immutable", k.CheckUpdate(et, &changed), "spec: Invalid value", "field is immutable")

	var s eventing.EventTypeStatus
	s.InitializeConditions()
	s.MarkReferenceDoesNotExist()
	if s.IsReady() {
		t.Error("ready without its reference")
	}
	s.MarkReferenceExists()
	if !s.IsReady() {
		t.Error("not ready with its reference")
	}
}

func TestValidateCESQL(t *testing.T) {
	for _, ok := range []string{
		"source LIKE '%commerce%' AND type IN ('order.created', 'order.updated', 'order.canceled')",
		"type = 'dev.knative.foo.bar' AND myextension = 'my-extension-value'",
		"EXISTS subject", "true",
	} {
		if err := eventing.ValidateCESQL(ok); err != nil {
			t.Errorf("ValidateCESQL(%q) = %v", ok, err)
		}
	}
	// Some of these make the sdk-go parser panic; ValidateCESQL must turn that into an error.
	for _, bad := range []string{"", "(", "type = ", "1 +", "type = 'a' garbage", "a b c", "type='x' AND"} {
		if err := eventing.ValidateCESQL(bad); err == nil {
			t.Errorf("ValidateCESQL(%q) accepted it", bad)
		}
	}
}
