package sources_test

import (
	"strings"
	"testing"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/sources"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

func TestKnativeDocsKafkaSources(t *testing.T) {
	objs := decodeFile(t, "knative-docs-kafka-sources.yaml")
	if len(objs) != 3 {
		t.Fatalf("%d objects", len(objs))
	}
	basic := mustAdmit(t, objs[0]).(*sources.KafkaSource)
	if v := basic.GetObjectKind().GroupVersionKind().Version; v != "v1beta1" {
		t.Errorf("the docs' v1 stored as %s", v)
	}
	if *basic.Spec.Consumers != 1 || basic.Spec.InitialOffset != sources.OffsetLatest || *basic.Spec.Ordering != sources.Ordered || basic.Spec.ConsumerGroup != "knative-group" {
		t.Errorf("not defaulted: %+v", basic.Spec)
	}
	if got := basic.CloudEventAttributes(); len(got) != 1 || got[0].Source != "/apis/v1/namespaces//kafkasources/kafka-source#knative-demo-topic" || got[0].Type != "dev.knative.kafka.event" {
		t.Errorf("ceAttributes %v", got)
	}
	if scaled := mustAdmit(t, objs[1]).(*sources.KafkaSource); *scaled.Spec.Consumers != 12 {
		t.Errorf("consumers %d", *scaled.Spec.Consumers)
	}
	tls := mustAdmit(t, objs[2]).(*sources.KafkaSource)
	if n := tls.Spec.Net.TLS; !n.Enable || n.Cert.SecretKeyRef.Key != "tls.crt" || n.CACert.SecretKeyRef.Name != "cacert" {
		t.Errorf("tls %+v", n)
	}
	k, _ := reg.ForGroupKind(schema.GroupKind{Group: sources.Group, Kind: "KafkaSource"})
	row := map[string]string{}
	for _, c := range k.Columns {
		row[c.Name] = c.Value(tls)
	}
	if row["TOPICS"] != `["knative-demo-topic"]` || row["BOOTSTRAPSERVERS"] != `["my-secure-kafka-bootstrap.kafka:443"]` {
		t.Errorf("columns %v", row)
	}
}

const kafkaBase = `
apiVersion: sources.knative.dev/v1beta1
kind: KafkaSource
metadata: {name: k, namespace: ns}
spec:
  bootstrapServers: [my-cluster-kafka-bootstrap.kafka:9092]
  topics: [knative-demo-topic]
  sink: {ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: event-display}}
`

func TestKafkaSourceDefaults(t *testing.T) {
	obj, err := admit(t, strings.Replace(kafkaBase, "spec:\n", `spec:
  delivery: {deadLetterSink: {ref: {apiVersion: v1, kind: Service, name: dls}}}
`, 1))
	if err != nil {
		t.Fatal(err)
	}
	k := obj.(*sources.KafkaSource)
	if k.Spec.ConsumerGroup != "" || k.ConsumerGroupName() != "knative-kafka-source-" {
		t.Errorf("without a UID the group is left to ConsumerGroupName: %q", k.Spec.ConsumerGroup)
	}
	if k.Spec.Delivery.DeadLetterSink.Ref.Namespace != "ns" || k.Spec.Sink.Ref.Namespace != "ns" {
		t.Errorf("ref namespaces not defaulted: %+v", k.Spec)
	}
	k.UID = types.UID("0b8f7c2e-1d2f-4c1e-9a9e-4f1f3c2d1e0a")
	again := mustAdmit(t, k).(*sources.KafkaSource)
	if again.Spec.ConsumerGroup != "knative-kafka-source-0b8f7c2e-1d2f-4c1e-9a9e-4f1f3c2d1e0a" {
		t.Errorf("consumer group %q", again.Spec.ConsumerGroup)
	}
	// Comma-separated servers and topics, as Knative's template writes them.
	obj, err = admit(t, strings.NewReplacer("[my-cluster-kafka-bootstrap.kafka:9092]", "['a:9092,b:9093']", "[knative-demo-topic]", "['t1, t2']").Replace(kafkaBase))
	if err != nil {
		t.Fatal(err)
	}
	k = obj.(*sources.KafkaSource)
	if s, tp := k.Spec.Servers(), k.Spec.TopicNames(); strings.Join(s, " ") != "a:9092 b:9093" || strings.Join(tp, " ") != "t1 t2" {
		t.Errorf("servers %v topics %v", s, tp)
	}
}

func TestKafkaSourceValidation(t *testing.T) {
	cases := map[string]struct {
		from, to string
		want     []string
	}{
		"no servers":        {"[my-cluster-kafka-bootstrap.kafka:9092]", "[]", []string{"spec.bootstrapServers: Required value"}},
		"server no port":    {"[my-cluster-kafka-bootstrap.kafka:9092]", "[kafka]", []string{`spec.bootstrapServers[0]: Invalid value: "kafka": must be host:port`}},
		"server bad port":   {"[my-cluster-kafka-bootstrap.kafka:9092]", "['a:9092,b:99999']", []string{`spec.bootstrapServers[0]: Invalid value: "a:9092,b:99999": port "99999"`}},
		"no topics":         {"[knative-demo-topic]", "[]", []string{"spec.topics: Required value"}},
		"bad topic":         {"[knative-demo-topic]", "[ok, 'no spaces']", []string{`spec.topics[1]: Invalid value: "no spaces"`}},
		"bad offset":        {"spec:\n", "spec:\n  initialOffset: newest\n", []string{`spec.initialOffset: Unsupported value: "newest": supported values: "earliest", "latest"`}},
		"bad ordering":      {"spec:\n", "spec:\n  ordering: random\n", []string{`spec.ordering: Unsupported value: "random"`}},
		"negative":          {"spec:\n", "spec:\n  consumers: -1\n", []string{"spec.consumers: Invalid value: -1"}},
		"sasl without user": {"spec:\n", "spec:\n  net: {sasl: {enable: true, password: {secretKeyRef: {name: s, key: password}}}}\n", []string{"spec.net.sasl.user.secretKeyRef: Required value"}},
		"sasl bad type ref": {"spec:\n", "spec:\n  net: {sasl: {type: {secretKeyRef: {name: s}}}}\n", []string{"spec.net.sasl.type.secretKeyRef.key: Required value"}},
		"cert without key":  {"spec:\n", "spec:\n  net: {tls: {enable: true, cert: {secretKeyRef: {name: s, key: tls.crt}}}}\n", []string{"spec.net.tls.key.secretKeyRef: Required value"}},
		"bad key type":      {"metadata: {name: k, namespace: ns}", "metadata: {name: k, namespace: ns, labels: {kafkasources.sources.knative.dev/key-type: bytes}}", []string{`metadata.labels[kafkasources.sources.knative.dev/key-type]: Unsupported value: "bytes"`}},
		"bad delivery":      {"spec:\n", "spec:\n  delivery: {backoffDelay: 5s}\n", []string{`spec.delivery.backoffDelay: Invalid value: "5s"`}},
		"no sink":           {"  sink: {ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: event-display}}\n", "", []string{"spec.sink: Required value"}},
	}
	for name, c := range cases {
		if !strings.Contains(kafkaBase, c.from) {
			t.Fatalf("%s: %q not in the base document", name, c.from)
		}
		_, err := admit(t, strings.Replace(kafkaBase, c.from, c.to, 1))
		expectInvalid(t, name, err, c.want...)
	}
	if _, err := admit(t, strings.Replace(kafkaBase, "metadata: {name: k, namespace: ns}", "metadata: {name: k, namespace: ns, labels: {kafkasources.sources.knative.dev/key-type: int}}", 1)); err != nil {
		t.Errorf("key type int: %v", err)
	}
}

func TestKafkaSourceConsumerGroupImmutable(t *testing.T) {
	k, _ := reg.ForGroupKind(schema.GroupKind{Group: sources.Group, Kind: "KafkaSource"})
	mk := func(group, uid string) api.Object {
		obj, err := admit(t, strings.Replace(kafkaBase, "spec:\n", "spec:\n  consumerGroup: '"+group+"'\n", 1))
		if err != nil {
			t.Fatal(err)
		}
		obj.(*sources.KafkaSource).UID = types.UID(uid)
		return obj
	}
	if err := k.CheckUpdate(mk("g", "u1"), mk("g", "u1")); err != nil {
		t.Error(err)
	}
	// Stored without a group (no UID at creation), applied again without a UID: same group.
	if err := k.CheckUpdate(mk("", "u1"), mk("", "")); err != nil {
		t.Error(err)
	}
	// Applied again with the UID: the default fills in the same group.
	if err := k.CheckUpdate(mk("", "u1"), mk("knative-kafka-source-u1", "u1")); err != nil {
		t.Error(err)
	}
	expectInvalid(t, "changed group", k.CheckUpdate(mk("g", "u1"), mk("h", "u1")), `spec.consumerGroup: Invalid value: "h": field is immutable (the consumer group is "g")`)
	expectInvalid(t, "dropped group", k.CheckUpdate(mk("g", "u1"), mk("", "u1")), "spec.consumerGroup: Invalid value", `the consumer group is "g"`)
}

func TestKafkaSourceConditions(t *testing.T) {
	var s sources.KafkaSourceStatus
	s.InitializeConditions()
	s.MarkSink("http://event-display.ns.svc.cluster.local")
	s.MarkDeployed(3)
	s.MarkConnectionEstablished()
	if s.IsReady() {
		t.Fatal("ready before the offsets are committed")
	}
	s.MarkInitialOffsetCommitted()
	if !s.IsReady() || s.Consumers != 3 {
		t.Fatalf("%+v", s)
	}
	s.MarkConnectionNotEstablished("Unreachable", "dial tcp %s: refused", "kafka:9092")
	if c := s.GetCondition("Ready"); !c.IsFalse() || c.Reason != "Unreachable" {
		t.Fatalf("Ready %+v", c)
	}
	s.MarkConnectionEstablished()
	s.MarkDeploying("Scaling", "")
	if c := s.GetCondition("Ready"); c.Status != "Unknown" {
		t.Fatalf("Ready %+v", c)
	}
	s.MarkNotDeployed("Failed", "")
	s.MarkInitialOffsetNotCommitted("Failed", "")
	s.MarkNoSink("NotFound", "")
	if s.Consumers != 0 || s.SinkURI != "" || s.IsReady() {
		t.Fatalf("%+v", s)
	}
}
