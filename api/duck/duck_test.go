package duck

import (
	"strings"
	"testing"
	"time"

	"github.com/eddyplatform/eddy/api"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func ptr[T any](v T) *T { return &v }

// expectErrors checks that errs, joined, contain each of want, or that errs is empty when want
// is.
func expectErrors(t *testing.T, name string, errs field.ErrorList, want ...string) {
	t.Helper()
	got := errs.ToAggregate()
	if len(want) == 0 {
		if got != nil {
			t.Errorf("%s: unexpected errors: %v", name, got)
		}
		return
	}
	if got == nil {
		t.Errorf("%s: no errors, want %q", name, want)
		return
	}
	for _, w := range want {
		if !strings.Contains(got.Error(), w) {
			t.Errorf("%s: errors %q do not contain %q", name, got.Error(), w)
		}
	}
}

var svcRef = &KReference{APIVersion: "serving.knative.dev/v1", Kind: "Service", Name: "svc"}

func TestDestinationValidate(t *testing.T) {
	p := field.NewPath("spec", "subscriber")
	cases := []struct {
		name string
		d    *Destination
		ns   string
		want []string
	}{
		{"nil", nil, "", []string{"spec.subscriber: Required value"}},
		{"empty", &Destination{}, "", []string{"spec.subscriber: Required value"}},
		{"uri", &Destination{URI: "http://example.com/x"}, "", nil},
		{"ref", &Destination{Ref: svcRef}, "", nil},
		{"ref with relative uri", &Destination{Ref: svcRef, URI: "/update"}, "", nil},
		{"ref with absolute uri", &Destination{Ref: svcRef, URI: "http://x/y"}, "", []string{`spec.subscriber.uri: Invalid value: "http://x/y": must be a relative URI`}},
		{"relative uri alone", &Destination{URI: "/update"}, "", []string{`spec.subscriber.uri: Invalid value: "/update": must be an absolute URL`}},
		{"uri without host", &Destination{URI: "http:///x"}, "", []string{"spec.subscriber.uri: Invalid value"}},
		{"unparsable uri", &Destination{URI: "http://[::1"}, "", []string{"spec.subscriber.uri: Invalid value", "must be a URI"}},
		{"ref missing fields", &Destination{Ref: &KReference{}}, "", []string{
			"spec.subscriber.ref.kind: Required value", "spec.subscriber.ref.name: Required value", "spec.subscriber.ref.apiVersion: Required value"}},
		{"ref bad name", &Destination{Ref: &KReference{APIVersion: "v1", Kind: "Service", Name: "Bad_Name"}}, "", []string{`spec.subscriber.ref.name: Invalid value: "Bad_Name"`}},
		{"ref group instead of apiVersion", &Destination{Ref: &KReference{Group: "serving.knative.dev", Kind: "Service", Name: "s"}}, "", nil},
		{"ref group and apiVersion", &Destination{Ref: &KReference{Group: "serving.knative.dev", APIVersion: "serving.knative.dev/v1", Kind: "Service", Name: "s"}}, "", []string{"spec.subscriber.ref.group: Invalid value"}},
		{"ref bad apiVersion", &Destination{Ref: &KReference{APIVersion: "a/b/c", Kind: "Service", Name: "s"}}, "", []string{`spec.subscriber.ref.apiVersion: Invalid value: "a/b/c"`}},
		{"ref same namespace", &Destination{Ref: &KReference{APIVersion: "v1", Kind: "Service", Name: "s", Namespace: "ns"}}, "ns", nil},
		{"ref other namespace", &Destination{Ref: &KReference{APIVersion: "v1", Kind: "Service", Name: "s", Namespace: "other"}}, "ns", []string{`spec.subscriber.ref.namespace: Invalid value: "other": must be the namespace of the object, "ns"`}},
		{"ref other namespace allowed", &Destination{Ref: &KReference{APIVersion: "v1", Kind: "Service", Name: "s", Namespace: "other"}}, "", nil},
		{"bad CACerts", &Destination{URI: "https://x", CACerts: ptr("not pem")}, "", []string{"spec.subscriber.CACerts: Invalid value"}},
		{"good CACerts", &Destination{URI: "https://x", CACerts: ptr("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")}, "", nil},
	}
	for _, c := range cases {
		expectErrors(t, c.name, c.d.Validate(p, c.ns), c.want...)
	}
}

func TestDestinationDefaults(t *testing.T) {
	d := &Destination{Ref: &KReference{APIVersion: "v1", Kind: "Service", Name: "s"}}
	d.SetDefaults("ns")
	if d.Ref.Namespace != "ns" {
		t.Errorf("ref namespace not defaulted: %+v", d.Ref)
	}
	d.Ref.Namespace = "other"
	d.SetDefaults("ns")
	if d.Ref.Namespace != "other" {
		t.Errorf("ref namespace overwritten: %+v", d.Ref)
	}
	var nilDest *Destination
	nilDest.SetDefaults("ns") // must not panic
	if !nilDest.IsEmpty() || !(&Destination{}).IsEmpty() || d.IsEmpty() {
		t.Error("IsEmpty is wrong")
	}
}

func TestDeliverySpecValidate(t *testing.T) {
	p := field.NewPath("spec", "delivery")
	lin, bogus := BackoffPolicyLinear, BackoffPolicyType("random")
	json, bad := DeliveryFormatJSON, FormatType("xml")
	cases := []struct {
		name string
		d    *DeliverySpec
		want []string
	}{
		{"nil", nil, nil},
		{"full", &DeliverySpec{
			DeadLetterSink: &Destination{Ref: svcRef}, Retry: ptr[int32](5), BackoffPolicy: &lin,
			BackoffDelay: ptr("PT0.5S"), Timeout: ptr("PT10S"), RetryAfterMax: ptr("PT0S"), Format: &json,
		}, nil},
		{"5s backoffDelay", &DeliverySpec{BackoffDelay: ptr("5s")}, []string{`spec.delivery.backoffDelay: Invalid value: "5s": must be an ISO-8601 duration`}},
		{"negative backoffDelay", &DeliverySpec{BackoffDelay: ptr("-PT1S")}, []string{`spec.delivery.backoffDelay: Invalid value: "-PT1S": must not be negative`}},
		{"zero timeout", &DeliverySpec{Timeout: ptr("PT0S")}, []string{`spec.delivery.timeout: Invalid value: "PT0S": must be greater than zero`}},
		{"bad timeout", &DeliverySpec{Timeout: ptr("10")}, []string{`spec.delivery.timeout: Invalid value: "10": must be an ISO-8601 duration`}},
		{"huge retryAfterMax", &DeliverySpec{RetryAfterMax: ptr("P1000Y")}, []string{"spec.delivery.retryAfterMax: Invalid value", "at most 292 years"}},
		{"negative retry", &DeliverySpec{Retry: ptr[int32](-1)}, []string{"spec.delivery.retry: Invalid value: -1"}},
		{"bad policy", &DeliverySpec{BackoffPolicy: &bogus}, []string{`spec.delivery.backoffPolicy: Unsupported value: "random"`}},
		{"bad format", &DeliverySpec{Format: &bad}, []string{`spec.delivery.format: Unsupported value: "xml"`}},
		{"bad dead-letter sink", &DeliverySpec{DeadLetterSink: &Destination{}}, []string{"spec.delivery.deadLetterSink: Required value"}},
	}
	for _, c := range cases {
		expectErrors(t, c.name, c.d.Validate(p, "ns"), c.want...)
	}
}

func TestDeliverySpecDurations(t *testing.T) {
	d := &DeliverySpec{BackoffDelay: ptr("PT0.2S"), Timeout: ptr("PT1M"), RetryAfterMax: ptr("PT2M")}
	if v, err := d.BackoffDelayDuration(); err != nil || v != 200*time.Millisecond {
		t.Errorf("BackoffDelayDuration = %v, %v", v, err)
	}
	if v, err := d.TimeoutDuration(); err != nil || v != time.Minute {
		t.Errorf("TimeoutDuration = %v, %v", v, err)
	}
	if v, ok, err := d.RetryAfterMaxDuration(); err != nil || !ok || v != 2*time.Minute {
		t.Errorf("RetryAfterMaxDuration = %v, %v, %v", v, ok, err)
	}
	var none *DeliverySpec
	if v, err := none.BackoffDelayDuration(); err != nil || v != 0 {
		t.Errorf("nil BackoffDelayDuration = %v, %v", v, err)
	}
	if _, ok, _ := (&DeliverySpec{}).RetryAfterMaxDuration(); ok {
		t.Error("unset retryAfterMax reported as set")
	}
}

func TestEffectiveDelivery(t *testing.T) {
	parent := &DeliverySpec{Retry: ptr[int32](10)}
	own := &DeliverySpec{DeadLetterSink: &Destination{URI: "http://dls"}}
	if got := EffectiveDelivery(own, parent); got != own {
		t.Error("a trigger's own delivery spec must win whole, not merged")
	}
	if got := EffectiveDelivery(&DeliverySpec{}, parent); got != parent {
		t.Error("an empty delivery spec must fall back to the parent's")
	}
	if got := EffectiveDelivery(nil, nil); got != nil {
		t.Error("nil, nil must be nil")
	}
}

func TestChannelableSpecValidate(t *testing.T) {
	p := field.NewPath("spec")
	s := &ChannelableSpec{SubscribableSpec: SubscribableSpec{Subscribers: []SubscriberSpec{
		{UID: "a", SubscriberURI: "http://a.default.svc"},
		{UID: "b"},
		{UID: "a", ReplyURI: "not-absolute"},
	}}}
	expectErrors(t, "subscribers", s.Validate(p, "ns"),
		"spec.subscribers[1]: Required value",
		`spec.subscribers[2].replyUri: Invalid value: "not-absolute"`,
		`spec.subscribers[2].uid: Duplicate value: "a"`)
}

func TestAddressStatus(t *testing.T) {
	var a AddressStatus
	if a.URL() != "" {
		t.Error("empty address has a URL")
	}
	a.SetURL("https://x.example")
	if a.URL() != "https://x.example" || *a.Address.Name != "https" || len(a.Addresses) != 1 {
		t.Errorf("SetURL: %+v", a)
	}
	a.Address = nil
	if a.URL() != "https://x.example" {
		t.Error("URL must fall back to addresses")
	}
	a.SetURL("")
	if a.Address != nil || a.Addresses != nil {
		t.Errorf("SetURL(\"\") left %+v", a)
	}
}

func TestSourceSpec(t *testing.T) {
	p := field.NewPath("spec")
	s := &SourceSpec{Sink: Destination{URI: "http://sink"}, CloudEventOverrides: &CloudEventOverrides{Extensions: map[string]string{
		"type": "x", "good": "y", "Bad-Name": "z",
	}}}
	expectErrors(t, "overrides", s.Validate(p, "ns"),
		"spec.ceOverrides.extensions[type]: Forbidden",
		`spec.ceOverrides.extensions[Bad-Name]: Invalid value: "Bad-Name"`)
	expectErrors(t, "no sink", (&SourceSpec{}).Validate(p, "ns"), "spec.sink: Required value")

	var st SourceStatus
	st.MarkSink("http://sink")
	if st.SinkURI != "http://sink" || !st.GetCondition(api.ConditionReady).IsTrue() {
		t.Errorf("MarkSink: %+v", st)
	}
	st.MarkNoSink("NotFound", "service %q not found", "x")
	if st.SinkURI != "" || !st.GetCondition(api.ConditionReady).IsFalse() || st.GetCondition(api.ConditionReady).Reason != "NotFound" {
		t.Errorf("MarkNoSink: %+v", st)
	}
}
