package flows_test

import (
	"testing"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/flows"
	corev1 "k8s.io/api/core/v1"
)

func TestKnativeDocsSequence(t *testing.T) {
	objs := decodeFile(t, "knative-docs-sequence.yaml")
	s := mustAdmit(t, objs[0]).(*flows.Sequence)
	if len(s.Spec.Steps) != 3 || s.Spec.Steps[2].Ref.Name != "third" || s.Spec.Reply.Ref.Name != "event-display" {
		t.Errorf("sequence %+v", s.Spec)
	}
	if s.Spec.ChannelTemplate.Kind != "InMemoryChannel" {
		t.Errorf("template %+v", s.Spec.ChannelTemplate)
	}
}

func TestKnativeDocsParallel(t *testing.T) {
	objs := decodeFile(t, "knative-docs-parallel.yaml")
	p := mustAdmit(t, objs[0]).(*flows.Parallel)
	if len(p.Spec.Branches) != 2 || p.Spec.Branches[1].Filter.Ref.Name != "odd-filter" || p.Spec.Branches[1].Subscriber.Ref.Name != "odd-transformer" {
		t.Errorf("parallel %+v", p.Spec)
	}
}

func TestSequenceDefaults(t *testing.T) {
	obj, err := admit(t, `
apiVersion: flows.knative.dev/v1
kind: Sequence
metadata: {name: s, namespace: ns}
spec:
  steps:
  - ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: first}
    delivery: {retry: 2, deadLetterSink: {ref: {apiVersion: v1, kind: Service, name: dls}}}
  - uri: http://second.example
`)
	if err != nil {
		t.Fatal(err)
	}
	s := mustAdmit(t, obj).(*flows.Sequence)
	if s.Spec.ChannelTemplate == nil || s.Spec.ChannelTemplate.Kind != "InMemoryChannel" || s.Spec.ChannelTemplate.APIVersion != "messaging.knative.dev/v1" {
		t.Errorf("template not defaulted: %+v", s.Spec.ChannelTemplate)
	}
	if s.Spec.Steps[0].Ref.Namespace != "ns" || s.Spec.Steps[0].Delivery.DeadLetterSink.Ref.Namespace != "ns" {
		t.Errorf("ref namespaces not defaulted: %+v", s.Spec.Steps[0])
	}
}

func TestSequenceValidation(t *testing.T) {
	head := "apiVersion: flows.knative.dev/v1\nkind: Sequence\nmetadata: {name: s, namespace: ns}\n"
	cases := map[string]struct{ doc, want string }{
		"no steps":      {head + "spec: {steps: []}\n", "spec.steps: Required value"},
		"empty step":    {head + "spec:\n  steps: [{uri: http://a.example}, {}]\n", "spec.steps[1]: Required value"},
		"step relative": {head + "spec:\n  steps: [{uri: /x}]\n", `spec.steps[0].uri: Invalid value: "/x"`},
		"step delivery": {head + "spec:\n  steps: [{uri: http://a.example, delivery: {backoffDelay: 5s}}]\n",
			`spec.steps[0].delivery.backoffDelay: Invalid value: "5s": must be an ISO-8601 duration`},
		"template": {head + "spec:\n  channelTemplate: {apiVersion: example.com/v1, kind: RedisChannel}\n  steps: [{uri: http://a.example}]\n",
			`spec.channelTemplate.kind: Unsupported value: "RedisChannel"`},
		"reply": {head + "spec:\n  steps: [{uri: http://a.example}]\n  reply: {ref: {kind: Service, name: r}}\n", "spec.reply.ref.apiVersion: Required value"},
	}
	for name, c := range cases {
		_, err := admit(t, c.doc)
		expectInvalid(t, name, err, c.want)
	}
	annotated := "apiVersion: flows.knative.dev/v1\nkind: Sequence\nmetadata:\n  name: s\n  annotations: {messaging.knative.dev/bus: rabbitmq}\n" +
		"spec:\n  channelTemplate: {apiVersion: example.com/v1, kind: RabbitChannel}\n  steps: [{uri: http://a.example}]\n"
	if _, err := admit(t, annotated); err != nil {
		t.Errorf("with the bus annotation any template kind is accepted: %v", err)
	}
}

func TestParallelValidation(t *testing.T) {
	head := "apiVersion: flows.knative.dev/v1\nkind: Parallel\nmetadata: {name: p, namespace: ns}\n"
	cases := map[string]struct{ doc, want string }{
		"no branches":   {head + "spec: {branches: []}\n", "spec.branches: Required value"},
		"no subscriber": {head + "spec:\n  branches: [{filter: {uri: http://f.example}}]\n", "spec.branches[0].subscriber: Required value"},
		"bad filter": {head + "spec:\n  branches: [{filter: {uri: /f}, subscriber: {uri: http://s.example}}]\n",
			`spec.branches[0].filter.uri: Invalid value: "/f"`},
		"bad reply": {head + "spec:\n  branches: [{subscriber: {uri: http://s.example}, reply: {uri: r}}]\n",
			`spec.branches[0].reply.uri: Invalid value: "r"`},
		"bad delivery": {head + "spec:\n  branches: [{subscriber: {uri: http://s.example}, delivery: {retry: -2}}]\n",
			"spec.branches[0].delivery.retry: Invalid value: -2"},
	}
	for name, c := range cases {
		_, err := admit(t, c.doc)
		expectInvalid(t, name, err, c.want)
	}
	obj, err := admit(t, head+"spec:\n  branches: [{subscriber: {ref: {apiVersion: v1, kind: Service, name: s}}}]\n")
	if err != nil {
		t.Fatal(err)
	}
	p := mustAdmit(t, obj).(*flows.Parallel)
	if p.Spec.ChannelTemplate.Kind != "InMemoryChannel" || p.Spec.Branches[0].Subscriber.Ref.Namespace != "ns" {
		t.Errorf("parallel not defaulted: %+v", p.Spec)
	}
}

func ready(status corev1.ConditionStatus, msg string) api.Condition {
	return api.Condition{Type: api.ConditionReady, Status: status, Message: msg}
}

func TestSequenceConditions(t *testing.T) {
	var s flows.SequenceStatus
	s.InitializeConditions()
	s.PropagateChannelStatuses(nil)
	if c := s.GetCondition(flows.ConditionChannelsReady); !c.IsFalse() || c.Message != "there are no channels yet" {
		t.Errorf("ChannelsReady = %+v", c)
	}
	s.PropagateChannelStatuses([]flows.SequenceChannelStatus{
		{Channel: corev1.ObjectReference{Name: "s-kn-sequence-0"}, ReadyCondition: ready(corev1.ConditionTrue, "")},
		{Channel: corev1.ObjectReference{Name: "s-kn-sequence-1"}, ReadyCondition: ready(corev1.ConditionFalse, "topic missing")},
	})
	if c := s.GetCondition(flows.ConditionChannelsReady); !c.IsFalse() || c.Message != "channels 2 of 2: topic missing" {
		t.Errorf("ChannelsReady = %+v", c)
	}
	s.PropagateChannelStatuses([]flows.SequenceChannelStatus{{ReadyCondition: ready(corev1.ConditionTrue, "")}})
	s.PropagateSubscriptionStatuses([]flows.SequenceSubscriptionStatus{{ReadyCondition: ready(corev1.ConditionTrue, "")}})
	if s.IsReady() {
		t.Fatal("ready without an address")
	}
	s.SetAddress("http://127.0.0.1:8080/ns/s-kn-sequence-0")
	if !s.IsReady() || s.URL() != "http://127.0.0.1:8080/ns/s-kn-sequence-0" || len(s.ChannelStatuses) != 1 {
		t.Errorf("not ready: %+v", s)
	}
}

func TestParallelConditions(t *testing.T) {
	var s flows.ParallelStatus
	s.InitializeConditions()
	ok := ready(corev1.ConditionTrue, "")
	s.PropagateChannelStatuses(flows.ParallelChannelStatus{ReadyCondition: ok},
		[]flows.ParallelChannelStatus{{ReadyCondition: ok}, {ReadyCondition: ok}})
	s.PropagateSubscriptionStatuses(
		[]flows.ParallelSubscriptionStatus{{ReadyCondition: ok}, {ReadyCondition: ok}},
		[]flows.ParallelSubscriptionStatus{{ReadyCondition: ok}, {ReadyCondition: ready(corev1.ConditionUnknown, "")}})
	if c := s.GetCondition(flows.ConditionSubscriptionsReady); !c.IsFalse() || c.Message != "subscriptions 4 of 4: not ready" {
		t.Errorf("SubscriptionsReady = %+v", c)
	}
	if len(s.BranchStatuses) != 2 {
		t.Errorf("branch statuses %+v", s.BranchStatuses)
	}
	s.PropagateSubscriptionStatuses(
		[]flows.ParallelSubscriptionStatus{{ReadyCondition: ok}, {ReadyCondition: ok}},
		[]flows.ParallelSubscriptionStatus{{ReadyCondition: ok}, {ReadyCondition: ok}})
	s.SetAddress("http://127.0.0.1:8080/ns/p-kn-parallel")
	if !s.IsReady() {
		t.Errorf("not ready: %+v", s.Conditions)
	}
	if !s.BranchStatuses[1].FilterChannelStatus.ReadyCondition.IsTrue() {
		t.Error("the filter channel statuses were lost")
	}
}
