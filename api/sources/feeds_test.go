package sources_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/duck"
	"github.com/eddyplatform/eddy/api/messaging/channelsv1alpha1"
	"github.com/eddyplatform/eddy/api/sources"
	"github.com/eddyplatform/eddy/api/sources/feedsv1alpha1"
)

// The 2018 flow example's Feed, EventType and EventSource; the feed runs as an
// ApiServerSource whose sink is the channel behind the 2018 channel Service DNS name.
func TestKnativeDocs2018K8sEventsFlow(t *testing.T) {
	objs := decodeFile(t, "knative-docs-2018-k8s-events-flow.yaml")
	feed := mustAdmit(t, objs[0]).(*feedsv1alpha1.Feed)
	et := mustAdmit(t, objs[1]).(*feedsv1alpha1.EventType)
	es := mustAdmit(t, objs[2]).(*feedsv1alpha1.EventSource)
	if et.Spec.EventSource != "k8sevents" || es.Spec.Type != "k8sevents" || !strings.Contains(string(es.Spec.Parameters), "receive_adapter@...") {
		t.Errorf("event type %+v source %+v", et.Spec, es.Spec)
	}
	obj, err := sources.FeedToV1(feed)
	if err != nil {
		t.Fatal(err)
	}
	src := obj.(*sources.ApiServerSource)
	if src.APIVersion != "sources.knative.dev/v1" || src.Kind != "ApiServerSource" || src.Name != "k8s-event-flow" || src.Namespace != "default" {
		t.Errorf("meta %+v %+v", src.TypeMeta, src.ObjectMeta)
	}
	want := duck.KReference{APIVersion: "channels.knative.dev/v1alpha1", Kind: "Channel", Name: "k8s-event-flow", Namespace: "default"}
	if src.Spec.Sink.Ref == nil || *src.Spec.Sink.Ref != want || src.Spec.Sink.URI != "" {
		t.Errorf("sink %+v", src.Spec.Sink)
	}
	if src.Spec.EventMode != sources.ResourceMode || src.Spec.ServiceAccountName != "feed-sa" || src.Spec.NamespaceSelector != nil ||
		len(src.Spec.Resources) != 1 || src.Spec.Resources[0] != (sources.APIVersionKindSelector{APIVersion: "v1", Kind: "Event"}) {
		t.Errorf("spec %+v", src.Spec)
	}
	mustAdmit(t, src)
}

func TestKnative2018GitHubFeed(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "knative-eventing-2018-github-feed.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := reg.DecodeAll(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 3 {
		t.Fatalf("%d objects", len(objs))
	}
	mustAdmit(t, objs[1].(*channelsv1alpha1.Channel))
	mustAdmit(t, objs[2].(*channelsv1alpha1.Subscription))
	feed := mustAdmit(t, objs[0]).(*feedsv1alpha1.Feed)
	if _, err := sources.FeedToV1(feed); err == nil || !strings.Contains(err.Error(), `spec.trigger.resource: Invalid value: "<org>/<repo>"`) {
		t.Fatalf("the placeholder resource must be named: %v", err)
	}
	feed.Spec.Trigger.Resource = "knative/eventing"
	obj, err := sources.FeedToV1(feed)
	if err != nil {
		t.Fatal(err)
	}
	gh := obj.(*sources.GitHubSource)
	if gh.Spec.OwnerAndRepository != "knative/eventing" || len(gh.Spec.EventTypes) != 1 || gh.Spec.EventTypes[0] != "pull_request" {
		t.Errorf("spec %+v", gh.Spec)
	}
	if a, s := gh.Spec.AccessToken.SecretKeyRef, gh.Spec.SecretToken.SecretKeyRef; a.Name != "githubsecret" || a.Key != "accessToken" || s.Name != "githubsecret" || s.Key != "secretToken" {
		t.Errorf("secrets %+v %+v", a, s)
	}
	if gh.Spec.Sink.URI != "http://echo.default.svc.cluster.local" || gh.Spec.Sink.Ref != nil || gh.Spec.ServiceAccountName != "feed-sa" {
		t.Errorf("sink %+v", gh.Spec.Sink)
	}
	if gh.Spec.GitHubAPIURL != sources.DefaultGitHubAPIURL {
		t.Errorf("v1 defaults not applied: %+v", gh.Spec)
	}
	mustAdmit(t, gh)
}

func TestKnative2018PubSubFeed(t *testing.T) {
	feed := mustAdmit(t, decodeFile(t, "knative-eventing-2018-gcppubsub-feed.yaml")[0]).(*feedsv1alpha1.Feed)
	obj, err := sources.FeedToV1(feed)
	if err != nil {
		t.Fatal(err)
	}
	ps := obj.(*sources.CloudPubSubSource)
	if ps.APIVersion != "events.cloud.google.com/v1" || ps.Spec.Project != "quantum-reducer-434" || ps.Spec.Topic != "knative-demo" {
		t.Errorf("spec %+v", ps.Spec)
	}
	want := duck.KReference{APIVersion: "serving.knative.dev/v1", Kind: "Route", Name: "gcp-pubsub-function", Namespace: "default"}
	if *ps.Spec.Sink.Ref != want || ps.Spec.ServiceAccountName != "" || ps.Spec.Secret.Name != "google-cloud-key" {
		t.Errorf("sink %+v identity %q %+v", ps.Spec.Sink, ps.Spec.ServiceAccountName, ps.Spec.Secret)
	}
	mustAdmit(t, ps)

	// The parameters and the resource must agree.
	feed.Spec.Trigger.Resource = "quantum-reducer-434/other-topic"
	if _, err := sources.FeedToV1(feed); err == nil || !strings.Contains(err.Error(), `spec.trigger.resource: Invalid value: "quantum-reducer-434/other-topic": names another project or topic`) {
		t.Errorf("disagreeing resource: %v", err)
	}
	// The resource alone, in its full form, is enough.
	feed.Spec.Trigger.Parameters = nil
	feed.Spec.Trigger.Resource = "projects/p-123456/topics/topic-1"
	if obj, err := sources.FeedToV1(feed); err != nil || obj.(*sources.CloudPubSubSource).Spec.Project != "p-123456" || obj.(*sources.CloudPubSubSource).Spec.Topic != "topic-1" {
		t.Errorf("full resource name: %v %v", obj, err)
	}
}

func TestKnative2018K8sEventsFeeds(t *testing.T) {
	objs := decodeFile(t, "knative-eventing-2018-k8s-events-feeds.yaml")
	for i, o := range objs {
		feed := mustAdmit(t, o).(*feedsv1alpha1.Feed)
		obj, err := sources.FeedToV1(feed)
		if err != nil {
			t.Fatalf("feed %d: %v", i, err)
		}
		src := obj.(*sources.ApiServerSource)
		if src.Spec.NamespaceSelector != nil {
			t.Errorf("feed %d: the parameter names the feed's own namespace: %+v", i, src.Spec.NamespaceSelector)
		}
		mustAdmit(t, src)
	}
	route := objs[0].(*feedsv1alpha1.Feed)
	channel := objs[1].(*feedsv1alpha1.Feed)
	if d, _ := sources.FeedSink(route); d.Ref.Kind != "Route" || d.Ref.Name != "k8s-events" {
		t.Errorf("route sink %+v", d)
	}
	if d, _ := sources.FeedSink(channel); d.Ref.Kind != "Channel" || d.Ref.Name != "aloha" || d.Ref.APIVersion != "channels.knative.dev/v1alpha1" {
		t.Errorf("channel sink %+v", d.Ref)
	}
	// Another namespace becomes a namespace selector.
	channel.Spec.Trigger.Parameters = json.RawMessage(`{"namespace":"kube-system"}`)
	obj, err := sources.FeedToV1(channel)
	if err != nil {
		t.Fatal(err)
	}
	if sel := obj.(*sources.ApiServerSource).Spec.NamespaceSelector; sel == nil || sel.MatchLabels["kubernetes.io/metadata.name"] != "kube-system" {
		t.Errorf("namespace selector %+v", sel)
	}
}

func TestKnative2018EventSource(t *testing.T) {
	es := mustAdmit(t, decodeFile(t, "knative-eventing-2018-github-eventsource.yaml")[0]).(*feedsv1alpha1.EventSource)
	if es.Name != "github.com" || es.Spec.Type != "github" || es.Spec.Source != "github.com" {
		t.Errorf("%+v", es)
	}
}

const feedBase = `
apiVersion: feeds.knative.dev/v1alpha1
kind: Feed
metadata: {name: f, namespace: default}
spec:
  trigger:
    eventType: dev.knative.github.push
    resource: knative/eventing
    service: github
    parametersFrom: [{secretKeyRef: {name: githubsecret, key: githubCredentials}}]
  action: {routeName: git-webhook}
`

// Every field that can't be mapped is named in the conversion error.
func TestFeedConversionErrors(t *testing.T) {
	cases := map[string]struct {
		from, to string
		want     []string
	}{
		"unknown service":      {"service: github", "service: slack", []string{`spec.trigger.service: Unsupported value: "slack": supported values: "gcppubsub", "github", "github.com", "k8sevents"`}},
		"no service or prefix": {"eventType: dev.knative.github.push\n    resource: knative/eventing\n    service: github", "eventType: com.example.thing\n    resource: knative/eventing", []string{"spec.trigger.service: Required value"}},
		"service from prefix":  {"service: github", "service: ''", nil},
		"github event":         {"dev.knative.github.push", "dev.knative.github.merge", []string{`spec.trigger.eventType: Invalid value: "dev.knative.github.merge"`}},
		"github param":         {"service: github", "service: github\n    parameters: {secretName: githubsecret, webhookURL: x}", []string{"spec.trigger.parameters[webhookURL]: Forbidden: has no counterpart in GitHubSource"}},
		"github param type":    {"service: github", "service: github\n    parameters: {secretName: 3}", []string{"spec.trigger.parameters[secretName]: Invalid value: \"3\": must be a string"}},
		"github two secrets":   {"parametersFrom: [{secretKeyRef: {name: githubsecret, key: githubCredentials}}]", "parametersFrom: [{secretKeyRef: {name: a, key: k}}, {secretKeyRef: {name: b, key: k}}]", []string{"spec.trigger.parametersFrom[1]: Forbidden"}},
		"github other secret":  {"service: github", "service: github\n    parameters: {secretName: other}", []string{`spec.trigger.parameters[secretName]: Invalid value: "other": names another Secret than parametersFrom[0] ("githubsecret")`}},
		"github no secret":     {"    parametersFrom: [{secretKeyRef: {name: githubsecret, key: githubCredentials}}]\n", "", []string{"spec.trigger.parametersFrom: Required value"}},
		"github no resource":   {"    resource: knative/eventing\n", "", []string{"spec.trigger.resource: Required value"}},
		"not a github type":    {"eventType: dev.knative.github.push", "eventType: dev.knative.k8s.pod", []string{`spec.trigger.eventType: Invalid value: "dev.knative.k8s.pod": is not a GitHub event type`}},
		"k8s wrong type":       {"service: github", "service: k8sevents", []string{`spec.trigger.eventType: Invalid value: "dev.knative.github.push": is not a Kubernetes event type`, "spec.trigger.parametersFrom: Forbidden"}},
		"k8s bad namespace":    {"eventType: dev.knative.github.push\n    resource: knative/eventing\n    service: github\n    parametersFrom: [{secretKeyRef: {name: githubsecret, key: githubCredentials}}]", "eventType: dev.knative.k8s.event\n    service: k8sevents\n    parameters: {namespace: Kube_System, labels: x}", []string{`spec.trigger.parameters[namespace]: Invalid value: "Kube_System"`, "spec.trigger.parameters[labels]: Forbidden: has no counterpart in ApiServerSource"}},
		"pubsub bad resource":  {"eventType: dev.knative.github.push\n    resource: knative/eventing\n    service: github\n    parametersFrom: [{secretKeyRef: {name: githubsecret, key: githubCredentials}}]", "eventType: receive\n    resource: a/b/c\n    service: gcppubsub", []string{`spec.trigger.resource: Invalid value: "a/b/c"`}},
		"pubsub no topic":      {"eventType: dev.knative.github.push\n    resource: knative/eventing\n    service: github\n    parametersFrom: [{secretKeyRef: {name: githubsecret, key: githubCredentials}}]", "eventType: google.pubsub.topic.publish\n    service: gcppubsub", []string{"spec.trigger.resource: Required value"}},
		"pubsub event type":    {"eventType: dev.knative.github.push\n    resource: knative/eventing\n    service: github\n    parametersFrom: [{secretKeyRef: {name: githubsecret, key: githubCredentials}}]", "eventType: google.storage.object.finalize\n    resource: p-123456/t\n    service: gcppubsub", []string{`spec.trigger.eventType: Invalid value: "google.storage.object.finalize"`}},
		"pubsub bad topic":     {"eventType: dev.knative.github.push\n    resource: knative/eventing\n    service: github\n    parametersFrom: [{secretKeyRef: {name: githubsecret, key: githubCredentials}}]", "eventType: receive\n    resource: p-123456/goog-x\n    service: gcppubsub", []string{"the CloudPubSubSource converted from the feed is invalid", `spec.topic: Invalid value: "goog-x"`}},
		"dns outside ns":       {"action: {routeName: git-webhook}", "action: {channelName: c-channel.other.svc.cluster.local}", nil},
	}
	for name, c := range cases {
		if !strings.Contains(feedBase, c.from) {
			t.Fatalf("%s: %q not in the base document", name, c.from)
		}
		obj, err := admit(t, strings.Replace(feedBase, c.from, c.to, 1))
		if err != nil {
			t.Fatalf("%s: the feed itself must be admitted: %v", name, err)
		}
		_, err = sources.FeedToV1(obj.(*feedsv1alpha1.Feed))
		if c.want == nil {
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: converted, want %q", name, c.want)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %v\n  does not contain %q", name, err, w)
			}
		}
	}
}

func TestFeedSinks(t *testing.T) {
	cases := []struct {
		action feedsv1alpha1.FeedAction
		want   duck.Destination
	}{
		{feedsv1alpha1.FeedAction{RouteName: "r"}, duck.Destination{Ref: &duck.KReference{APIVersion: "serving.knative.dev/v1", Kind: "Route", Name: "r", Namespace: "ns"}}},
		{feedsv1alpha1.FeedAction{ChannelName: "c"}, duck.Destination{Ref: &duck.KReference{APIVersion: "channels.knative.dev/v1alpha1", Kind: "Channel", Name: "c", Namespace: "ns"}}},
		{feedsv1alpha1.FeedAction{ChannelName: "c-channel.ns.svc"}, duck.Destination{Ref: &duck.KReference{APIVersion: "channels.knative.dev/v1alpha1", Kind: "Channel", Name: "c", Namespace: "ns"}}},
		{feedsv1alpha1.FeedAction{ChannelName: "c-channel.other.svc.cluster.local"}, duck.Destination{URI: "http://c-channel.other.svc.cluster.local"}},
		{feedsv1alpha1.FeedAction{ChannelName: "queue.example.com"}, duck.Destination{URI: "http://queue.example.com"}},
		{feedsv1alpha1.FeedAction{DNSName: "echo.default.svc.cluster.local"}, duck.Destination{URI: "http://echo.default.svc.cluster.local"}},
	}
	for _, c := range cases {
		f := &feedsv1alpha1.Feed{Spec: feedsv1alpha1.FeedSpec{Action: c.action}}
		f.Namespace = "ns"
		got, err := sources.FeedSink(f)
		if err != nil {
			t.Errorf("%v: %v", c.action, err)
			continue
		}
		if got.URI != c.want.URI || (got.Ref == nil) != (c.want.Ref == nil) || got.Ref != nil && *got.Ref != *c.want.Ref {
			t.Errorf("%v: %+v, want %+v", c.action, got, c.want)
		}
	}
	if _, err := sources.FeedSink(&feedsv1alpha1.Feed{}); err == nil || !strings.Contains(err.Error(), "spec.action: Required value") {
		t.Errorf("no action: %v", err)
	}
}

// The status written back onto a feed keeps the kind's own fields in feedContext, and the next
// conversion restores them: a GitHubSource's webhook is not registered twice.
func TestFeedStatusRoundTrip(t *testing.T) {
	obj, err := admit(t, feedBase)
	if err != nil {
		t.Fatal(err)
	}
	feed := obj.(*feedsv1alpha1.Feed)
	v1, err := sources.FeedToV1(feed)
	if err != nil {
		t.Fatal(err)
	}
	gh := v1.(*sources.GitHubSource)
	gh.Status.InitializeConditions()
	gh.Status.MarkSecrets()
	gh.Status.MarkSink("http://git-webhook.default.example.com")
	gh.Status.MarkWebhookConfigured("4242")
	gh.Status.CloudEventAttributes = gh.CloudEventAttributes()
	if err := sources.SetFeedStatus(feed, gh); err != nil {
		t.Fatal(err)
	}
	if !feed.Status.GetCondition(api.ConditionReady).IsTrue() || feed.Status.SinkURI != "http://git-webhook.default.example.com" || len(feed.Status.CloudEventAttributes) != 1 {
		t.Errorf("feed status %+v", feed.Status)
	}
	if string(feed.Status.FeedContext) != `{"webhookIDKey":"4242"}` {
		t.Errorf("feedContext %s", feed.Status.FeedContext)
	}
	stored := mustAdmit(t, feed).(*feedsv1alpha1.Feed)
	again, err := sources.FeedToV1(stored)
	if err != nil {
		t.Fatal(err)
	}
	if st := again.(*sources.GitHubSource).Status; st.WebhookIDKey != "4242" || !st.IsReady() {
		t.Errorf("restored status %+v", st)
	}
	stored.Status.MarkNotReady("Unconvertible", "no GitHub")
	if c := stored.Status.GetCondition(api.ConditionReady); !c.IsFalse() || c.Reason != "Unconvertible" {
		t.Errorf("Ready %+v", c)
	}
	stored.Status.MarkReady()
	if !stored.Status.GetCondition(api.ConditionReady).IsTrue() {
		t.Error("not ready")
	}
}
