package sources_test

import (
	"strings"
	"testing"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/sources"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestKnativeGCPCloudPubSubSource(t *testing.T) {
	objs := decodeFile(t, "knative-gcp-cloudpubsubsource.yaml")
	s := mustAdmit(t, objs[0]).(*sources.CloudPubSubSource)
	if s.Spec.Topic != "testing" || *s.Spec.AckDeadline != "30s" || *s.Spec.RetentionDuration != "168h0m0s" {
		t.Errorf("not defaulted: %+v", s.Spec)
	}
	if s.Spec.Secret == nil || s.Spec.Secret.Name != "google-cloud-key" || s.Spec.Secret.Key != "key.json" {
		t.Errorf("secret %+v", s.Spec.Secret)
	}
	if s.Spec.AckDeadlineDuration().Seconds() != 30 || s.Spec.RetentionDurationValue().Hours() != 168 {
		t.Errorf("durations %v %v", s.Spec.AckDeadlineDuration(), s.Spec.RetentionDurationValue())
	}
	attrs := s.CloudEventAttributes("my-project")
	if attrs[0].Type != "google.cloud.pubsub.topic.v1.messagePublished" || attrs[0].Source != "//pubsub.googleapis.com/projects/my-project/topics/testing" {
		t.Errorf("ceAttributes %v", attrs)
	}
}

const pubsubBase = `
apiVersion: events.cloud.google.com/v1
kind: CloudPubSubSource
metadata: {name: ps, namespace: ns}
spec:
  topic: knative-demo
  sink: {ref: {apiVersion: v1, kind: Service, name: event-display}}
`

func TestCloudPubSubSourceWorkloadIdentity(t *testing.T) {
	obj, err := admit(t, strings.Replace(pubsubBase, "spec:\n", "spec:\n  serviceAccountName: events-ksa\n  project: quantum-reducer-434\n", 1))
	if err != nil {
		t.Fatal(err)
	}
	if s := obj.(*sources.CloudPubSubSource); s.Spec.Secret != nil {
		t.Errorf("a service account needs no secret: %+v", s.Spec.Secret)
	}
}

func TestCloudPubSubSourceValidation(t *testing.T) {
	cases := map[string]struct {
		from, to string
		want     []string
	}{
		"no topic":          {"topic: knative-demo", "topic: ''", []string{"spec.topic: Required value"}},
		"full topic name":   {"topic: knative-demo", "topic: projects/p/topics/t", []string{`spec.topic: Invalid value: "projects/p/topics/t": must be the topic ID`}},
		"bad topic":         {"topic: knative-demo", "topic: '1x'", []string{`spec.topic: Invalid value: "1x"`}},
		"goog topic":        {"topic: knative-demo", "topic: google-topic", []string{`spec.topic: Invalid value: "google-topic"`}},
		"bad project":       {"spec:\n", "spec:\n  project: My_Project\n", []string{`spec.project: Invalid value: "My_Project"`}},
		"no sink":           {"  sink: {ref: {apiVersion: v1, kind: Service, name: event-display}}\n", "", []string{"spec.sink: Required value"}},
		"ack not duration":  {"spec:\n", "spec:\n  ackDeadline: thirty\n", []string{`spec.ackDeadline: Invalid value: "thirty": must be a Go duration`}},
		"ack too long":      {"spec:\n", "spec:\n  ackDeadline: 11m\n", []string{`spec.ackDeadline: Invalid value: "11m": must be from 0s to 10m0s`}},
		"retention short":   {"spec:\n", "spec:\n  retentionDuration: 5s\n", []string{`spec.retentionDuration: Invalid value: "5s": must be from 10s to 168h0m0s`}},
		"retention ISO":     {"spec:\n", "spec:\n  retentionDuration: P7D\n", []string{`spec.retentionDuration: Invalid value: "P7D"`}},
		"secret and ksa":    {"spec:\n", "spec:\n  serviceAccountName: ksa\n  secret: {name: s, key: k}\n", []string{"spec.secret: Forbidden: set spec.serviceAccountName or spec.secret, not both"}},
		"secret no key":     {"spec:\n", "spec:\n  secret: {name: s}\n", []string{"spec.secret.key: Required value"}},
		"bad ksa":           {"spec:\n", "spec:\n  serviceAccountName: ksa.with.dots\n", []string{`spec.serviceAccountName: Invalid value: "ksa.with.dots"`}},
		"override required": {"spec:\n", "spec:\n  ceOverrides: {extensions: {source: x}}\n", []string{"spec.ceOverrides.extensions[source]: Forbidden"}},
	}
	for name, c := range cases {
		if !strings.Contains(pubsubBase, c.from) {
			t.Fatalf("%s: %q not in the base document", name, c.from)
		}
		_, err := admit(t, strings.Replace(pubsubBase, c.from, c.to, 1))
		expectInvalid(t, name, err, c.want...)
	}
}

func TestCloudPubSubSourceUpdate(t *testing.T) {
	k, _ := reg.ForGroupKind(schema.GroupKind{Group: sources.EventsGroup, Kind: "CloudPubSubSource"})
	mk := func(from, to string) api.Object {
		obj, err := admit(t, strings.Replace(pubsubBase, from, to, 1))
		if err != nil {
			t.Fatal(err)
		}
		return obj
	}
	old := mk("", "")
	if err := k.CheckUpdate(old, mk("spec:\n", "spec:\n  ackDeadline: 1m\n  retainAckedMessages: true\n  retentionDuration: 1h\n  ceOverrides: {extensions: {team: a}}\n")); err != nil {
		t.Errorf("the subscription settings and overrides may change: %v", err)
	}
	if err := k.CheckUpdate(old, mk("name: event-display", "name: other-display")); err != nil {
		t.Errorf("the sink may change: %v", err)
	}
	expectInvalid(t, "topic", k.CheckUpdate(old, mk("topic: knative-demo", "topic: other-topic")), `spec.topic: Invalid value: "other-topic": field is immutable`)
	expectInvalid(t, "project", k.CheckUpdate(old, mk("spec:\n", "spec:\n  project: other-project\n")), `spec.project: Invalid value: "other-project": field is immutable`)
	expectInvalid(t, "identity", k.CheckUpdate(old, mk("spec:\n", "spec:\n  serviceAccountName: ksa\n")), "spec.secret: Invalid value", "spec.serviceAccountName: Invalid value: \"ksa\": field is immutable")
}

func TestCloudPubSubSourceConditions(t *testing.T) {
	var s sources.CloudPubSubSourceStatus
	s.InitializeConditions()
	s.MarkSink("http://event-display.ns.svc.cluster.local")
	s.MarkPullSubscriptionUnknown("Creating", "creating subscription %s", "sub-1")
	if c := s.GetCondition("Ready"); c.Status != "Unknown" || c.Message != "creating subscription sub-1" {
		t.Fatalf("Ready %+v", c)
	}
	s.MarkPullSubscriptionReady("p", "t", "sub-1")
	if !s.IsReady() || s.SubscriptionID != "sub-1" || s.ProjectID != "p" || s.TopicID != "t" {
		t.Fatalf("%+v", s)
	}
	s.MarkPullSubscriptionFailed("PermissionDenied", "cannot pull")
	if c := s.GetCondition("Ready"); !c.IsFalse() || c.Reason != "PermissionDenied" {
		t.Fatalf("Ready %+v", c)
	}
	s.MarkNoSink("NotFound", "")
	if s.SinkURI != "" {
		t.Fatal("sink kept")
	}
}
