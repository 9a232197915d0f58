package feedsv1alpha1_test

import (
	"strings"
	"testing"

	"github.com/eddyplatform/eddy/api/apitest"
	"github.com/eddyplatform/eddy/api/kinds"
	"github.com/eddyplatform/eddy/api/sources/feedsv1alpha1"
)

var reg = kinds.NewRegistry()

const feedBase = `
apiVersion: feeds.knative.dev/v1alpha1
kind: Feed
metadata: {name: f, namespace: default}
spec:
  trigger:
    eventType: dev.knative.k8s.event
    service: k8sevents
  action: {routeName: r}
`

func TestFeedValidation(t *testing.T) {
	cases := map[string]struct {
		from, to string
		want     []string
	}{
		"no event type":      {"eventType: dev.knative.k8s.event", "resource: x", []string{"spec.trigger.eventType: Required value"}},
		"both event types":   {"eventType: dev.knative.k8s.event", "eventType: a\n    clusterEventType: b", []string{`spec.trigger.clusterEventType: Invalid value: "b": set eventType or clusterEventType, not both`}},
		"bad event type":     {"eventType: dev.knative.k8s.event", "eventType: 'not qualified!'", []string{`spec.trigger.eventType: Invalid value: "not qualified!"`}},
		"bad cluster type":   {"eventType: dev.knative.k8s.event", "clusterEventType: '-x'", []string{`spec.trigger.clusterEventType: Invalid value: "-x"`}},
		"parameters list":    {"service: k8sevents", "service: k8sevents\n    parameters: [a, b]", []string{`spec.trigger.parameters: Invalid value: "[\"a\",\"b\"]": must be a JSON object`}},
		"parametersFrom nil": {"service: k8sevents", "service: k8sevents\n    parametersFrom: [{}]", []string{"spec.trigger.parametersFrom[0].secretKeyRef: Required value"}},
		"parametersFrom key": {"service: k8sevents", "service: k8sevents\n    parametersFrom: [{secretKeyRef: {name: s, key: ''}}]", []string{"spec.trigger.parametersFrom[0].secretKeyRef.key: Required value"}},
		"no action":          {"action: {routeName: r}", "action: {}", []string{"spec.action: Required value"}},
		"two actions":        {"action: {routeName: r}", "action: {routeName: r, dnsName: d.example.com}", []string{`spec.action.dnsName: Invalid value: "d.example.com": set exactly one of routeName, channelName and dnsName`}},
		"bad dns name":       {"action: {routeName: r}", "action: {dnsName: 'http://d'}", []string{`spec.action.dnsName: Invalid value: "http://d"`}},
		"bad account":        {"spec:\n", "spec:\n  serviceAccountName: Feed_SA\n", []string{`spec.serviceAccountName: Invalid value: "Feed_SA"`}},
	}
	for name, c := range cases {
		if !strings.Contains(feedBase, c.from) {
			t.Fatalf("%s: %q not in the base document", name, c.from)
		}
		_, err := apitest.Admit(t, reg, strings.Replace(feedBase, c.from, c.to, 1))
		apitest.ExpectInvalid(t, name, err, c.want...)
	}
}

// Raw JSON fields are stored in one canonical form however they were written.
func TestFeedCanonicalJSON(t *testing.T) {
	doc := `{"apiVersion":"feeds.knative.dev/v1alpha1","kind":"Feed","metadata":{"name":"f","namespace":"ns"},
		"spec":{"trigger":{"eventType":"receive","service":"gcppubsub","parameters":{ "topic" : "t", "projectID": "p", "big": 12345678901234567890 }},
		"action":{"dnsName":"x.example.com"}},"status":{"feedContext":null}}`
	obj, err := apitest.Admit(t, reg, doc)
	if err != nil {
		t.Fatal(err)
	}
	f := apitest.MustAdmit(t, reg, obj).(*feedsv1alpha1.Feed)
	// The store keeps numbers as int64 or float64, so a larger integer is rounded.
	if got := string(f.Spec.Trigger.Parameters); got != `{"big":12345678901234567000,"projectID":"p","topic":"t"}` {
		t.Errorf("parameters %s", got)
	}
	if f.Status.FeedContext != nil {
		t.Errorf("feedContext %q", f.Status.FeedContext)
	}
	params, err := feedsv1alpha1.ParametersObject(f.Spec.Trigger.Parameters)
	if err != nil || string(params["topic"]) != `"t"` {
		t.Errorf("ParametersObject = %v, %v", params, err)
	}
	if _, err := feedsv1alpha1.ParametersObject([]byte(`[1]`)); err == nil {
		t.Error("a list decoded as parameters")
	}
}

func TestEventSourceAndTypeValidation(t *testing.T) {
	for name, c := range map[string]struct{ doc, want string }{
		"type without source": {`{"apiVersion":"feeds.knative.dev/v1alpha1","kind":"EventType","metadata":{"name":"t","namespace":"n"},"spec":{"description":"d"}}`,
			"spec.eventSource: Required value"},
		"cluster type bad source": {`{"apiVersion":"feeds.knative.dev/v1alpha1","kind":"ClusterEventType","metadata":{"name":"t"},"spec":{"eventSource":"Git Hub"}}`,
			`spec.eventSource: Invalid value: "Git Hub"`},
		"source parameters": {`{"apiVersion":"feeds.knative.dev/v1alpha1","kind":"EventSource","metadata":{"name":"s","namespace":"n"},"spec":{"parameters":"image"}}`,
			`spec.parameters: Invalid value: "\"image\"": must be a JSON object`},
		"huge number": {`{"apiVersion":"feeds.knative.dev/v1alpha1","kind":"EventType","metadata":{"name":"t","namespace":"n"},"spec":{"eventSource":"s","eventSchema":{"max":1e999}}}`,
			`spec.eventSchema: Invalid value: "1e999": numbers must fit a 64-bit float`},
		"cluster source namespaced": {`{"apiVersion":"feeds.knative.dev/v1alpha1","kind":"ClusterEventSource","metadata":{"name":"s","namespace":"n"},"spec":{}}`,
			"metadata.namespace: Forbidden: ClusterEventSource is cluster-scoped"},
	} {
		_, err := apitest.Admit(t, reg, c.doc)
		apitest.ExpectInvalid(t, name, err, c.want)
	}
	obj, err := apitest.Admit(t, reg, `{"apiVersion":"feeds.knative.dev/v1alpha1","kind":"ClusterEventType","metadata":{"name":"pullrequest"},
		"spec":{"eventSource":"github","eventSchema":{"type":"object"},"subscribeSchema":{}},"status":{"conditions":[{"state":"Complete","status":"True"}]}}`)
	if err != nil {
		t.Fatal(err)
	}
	ct := obj.(*feedsv1alpha1.ClusterEventType)
	if string(ct.Spec.EventSchema) != `{"type":"object"}` || ct.Status.Conditions[0].Type != "Complete" {
		t.Errorf("%+v", ct)
	}
}

func TestLegacyNames(t *testing.T) {
	for name, want := range map[string]string{
		"eventtype":                    "eventing.knative.dev",
		"eventtypes.feeds.knative.dev": "feeds.knative.dev",
		"feed":                         "feeds.knative.dev",
		"eventsources":                 "feeds.knative.dev",
		"clustereventtype":             "feeds.knative.dev",
	} {
		k, err := reg.Resolve(name)
		if err != nil || k.Group != want {
			t.Errorf("Resolve(%q) = %v, %v; want group %s", name, k, err, want)
		}
	}
	if (feedsv1alpha1.FeedAction{ChannelName: "c"}).String() != "channel/c" {
		t.Error("FeedAction.String")
	}
}
