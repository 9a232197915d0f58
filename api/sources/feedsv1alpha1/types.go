package feedsv1alpha1

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/duck"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Group is the API group of the 2018 feeds.
const Group = "feeds.knative.dev"

// Version is their only, and storage, version.
const Version = "v1alpha1"

// Feed connects an event trigger (an event type of an event source, on a resource) with an
// action (where the events go).
type Feed struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              FeedSpec `json:"spec"`
	// Status is the status of the v1 source the feed runs as (see package sources).
	Status FeedStatus `json:"status,omitempty"`
}

// FeedSpec is a Feed's spec.
type FeedSpec struct {
	// Generation is the early 2018 spec generation; accepted and ignored.
	Generation int64 `json:"generation,omitempty"`
	// Action is where the events go: exactly one of routeName, channelName and dnsName.
	Action FeedAction `json:"action"`
	// Trigger is the events to observe.
	Trigger EventTrigger `json:"trigger"`
	// ServiceAccountName is the ServiceAccount the feed's adapter runs as.
	ServiceAccountName string `json:"serviceAccountName,omitempty"`
}

// FeedAction is a Feed's target.
type FeedAction struct {
	// RouteName names a Knative Route in the feed's namespace.
	RouteName string `json:"routeName,omitempty"`
	// ChannelName names a Channel in the feed's namespace, or is the DNS name of a channel's
	// Service (such as flow-example-channel.default.svc.cluster.local).
	ChannelName string `json:"channelName,omitempty"`
	// DNSName is the host events are posted to (http://DNSNAME/).
	DNSName string `json:"dnsName,omitempty"`
}

// EventTrigger says which events a Feed observes.
type EventTrigger struct {
	// EventType names the EventType, such as dev.knative.k8s.event or pullrequest. It
	// excludes ClusterEventType.
	EventType string `json:"eventType,omitempty"`
	// ClusterEventType names a ClusterEventType instead.
	ClusterEventType string `json:"clusterEventType,omitempty"`
	// Resource is what to observe, in the event source's terms (such as "owner/repo" for
	// GitHub, "project/topic" for Pub/Sub).
	Resource string `json:"resource,omitempty"`
	// Service names the event source (such as github, k8sevents or gcppubsub).
	Service string `json:"service,omitempty"`
	// Parameters are the event source's parameters, a JSON object.
	Parameters json.RawMessage `json:"parameters,omitempty"`
	// ParametersFrom are Secret keys holding more parameters (JSON objects).
	ParametersFrom []ParametersFromSource `json:"parametersFrom,omitempty"`
}

// ParametersFromSource is a source of parameters.
type ParametersFromSource struct {
	// SecretKeyRef selects a key of a Secret in the feed's namespace.
	SecretKeyRef *SecretKeyReference `json:"secretKeyRef,omitempty"`
}

// SecretKeyReference selects a key of a Secret.
type SecretKeyReference struct {
	// Name of the Secret, in the feed's namespace.
	Name string `json:"name"`
	// Key within the Secret.
	Key string `json:"key"`
}

// FeedStatus is a Feed's status: the shared source status of the v1 source it runs as, and
// the 2018 feedContext.
type FeedStatus struct {
	duck.SourceStatus `json:",inline"`
	// FeedContext is what the 2018 feed operation returned; accepted and kept.
	FeedContext json.RawMessage `json:"feedContext,omitempty"`
}

// GetStatus returns the condition-bearing part of the status.
func (f *Feed) GetStatus() *api.Status { return &f.Status.Status }

// FeedConditionSet has only Ready: the v1 source a feed runs as decides it.
var FeedConditionSet = api.NewLivingConditionSet()

// MarkReady sets Ready to True.
func (s *FeedStatus) MarkReady() { FeedConditionSet.Manage(&s.Status).MarkTrue(api.ConditionReady) }

// MarkNotReady sets Ready to False with a reason, such as a conversion error.
func (s *FeedStatus) MarkNotReady(reason, format string, args ...any) {
	FeedConditionSet.Manage(&s.Status).MarkFalse(api.ConditionReady, reason, format, args...)
}

// EventSource is an archetype of an event producer: the image that sets feeds up.
type EventSource struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              EventSourceSpec `json:"spec"`
	Status            LegacyStatus    `json:"status,omitempty"`
}

// ClusterEventSource is a cluster-wide EventSource.
type ClusterEventSource struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              EventSourceSpec `json:"spec"`
	Status            LegacyStatus    `json:"status,omitempty"`
}

// EventSourceSpec describes an event source.
type EventSourceSpec struct {
	// Type is the kind of source, such as github (the earliest 2018 field).
	Type string `json:"type,omitempty"`
	// Source names the system that produces the events.
	Source string `json:"source,omitempty"`
	// Image is the container image that set feeds up; Eddy does not run it.
	Image string `json:"image,omitempty"`
	// Parameters configure the source, a JSON object.
	Parameters json.RawMessage `json:"parameters,omitempty"`
}

// EventType is a type of event an EventSource produces.
type EventType struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              EventTypeSpec `json:"spec"`
	Status            LegacyStatus  `json:"status,omitempty"`
}

// ClusterEventType is a cluster-wide EventType.
type ClusterEventType struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              EventTypeSpec `json:"spec"`
	Status            LegacyStatus  `json:"status,omitempty"`
}

// EventTypeSpec describes an event type.
type EventTypeSpec struct {
	// EventSource names the (Cluster)EventSource that produces the type. Required.
	EventSource string `json:"eventSource"`
	// Description is for people.
	Description string `json:"description,omitempty"`
	// SubscribeSchema describes the parameters a Feed of this type takes (any JSON).
	SubscribeSchema json.RawMessage `json:"subscribeSchema,omitempty"`
	// EventSchema describes the events (any JSON).
	EventSchema json.RawMessage `json:"eventSchema,omitempty"`
}

// LegacyStatus is the 2018 status of event sources and types. Nothing in Eddy writes it.
type LegacyStatus struct {
	// Conditions are the 2018 conditions.
	Conditions []LegacyCondition `json:"conditions,omitempty"`
}

// LegacyCondition is a 2018 event source or type condition; its type was written "state".
type LegacyCondition struct {
	// Type is Complete, Failed or Invalid.
	Type string `json:"state"`
	// Status is True, False or Unknown.
	Status corev1.ConditionStatus `json:"status"`
	// Reason is a CamelCase word.
	Reason string `json:"reason,omitempty"`
	// Message is for people.
	Message string `json:"message,omitempty"`
}

// canonicalJSON rewrites raw JSON with sorted keys and no insignificant space, and numbers as
// the store keeps them (int64 when they fit, else float64), so that a value is stored the same
// however it was written and survives the store's round trip; null becomes nil. Malformed JSON
// is left as is (decoding rejects it first).
func canonicalJSON(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return raw
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return raw
	}
	if v == nil {
		return nil
	}
	out, err := json.Marshal(storedNumbers(v))
	if err != nil {
		return raw
	}
	return out
}

// storedNumbers converts the json.Numbers in v as the store's unstructured decoding does.
func storedNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return i
		}
		if f, err := strconv.ParseFloat(string(x), 64); err == nil {
			return f
		}
		return x
	case map[string]any:
		for k, e := range x {
			x[k] = storedNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = storedNumbers(e)
		}
	}
	return v
}

// ParametersObject decodes raw parameters as a JSON object of raw values; nil parameters
// decode as an empty object.
func ParametersObject(raw json.RawMessage) (map[string]json.RawMessage, error) {
	out := map[string]json.RawMessage{}
	if len(raw) == 0 || string(raw) == "null" {
		return out, nil
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, err
	}
	if out == nil {
		out = map[string]json.RawMessage{}
	}
	return out, nil
}
