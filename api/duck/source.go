package duck

import (
	"fmt"
	"regexp"
	"sort"

	"github.com/eddyplatform/eddy/api"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// SourceConditionSinkProvided is True when a source's sink resolved to a URL.
const SourceConditionSinkProvided api.ConditionType = "SinkProvided"

// SourceSpec is the spec part every source shares: where its events go, and which extension
// attributes it adds to them.
type SourceSpec struct {
	// Sink is where the source sends its events.
	Sink Destination `json:"sink,omitempty"`
	// CloudEventOverrides adds or overrides extension attributes on every event sent.
	CloudEventOverrides *CloudEventOverrides `json:"ceOverrides,omitempty"`
}

// CloudEventOverrides are extension attributes a source sets on every event.
type CloudEventOverrides struct {
	// Extensions maps attribute names to values.
	Extensions map[string]string `json:"extensions,omitempty"`
}

// SourceStatus is the status part every source shares.
type SourceStatus struct {
	api.Status `json:",inline"`
	// SinkURI is the resolved URL of spec.sink.
	SinkURI string `json:"sinkUri,omitempty"`
	// SinkCACerts are the PEM certificates of the sink's authorities.
	SinkCACerts *string `json:"sinkCACerts,omitempty"`
	// SinkAudience is the sink's OIDC audience.
	SinkAudience *string `json:"sinkAudience,omitempty"`
	// CloudEventAttributes are the type and source attributes of the events the source sends.
	CloudEventAttributes []CloudEventAttributes `json:"ceAttributes,omitempty"`
}

// CloudEventAttributes are the type and source attributes of a kind of event a source sends.
type CloudEventAttributes struct {
	// Type is the CloudEvents type attribute.
	Type string `json:"type,omitempty"`
	// Source is the CloudEvents source attribute.
	Source string `json:"source,omitempty"`
}

// attributeName is a CloudEvents attribute name: lower-case letters and digits (CloudEvents
// 1.0 §Attribute Naming Convention), starting with a letter as Knative's filters require.
var attributeName = regexp.MustCompile(`^[a-z][a-z0-9]*$`)

// IsAttributeName reports whether s is a valid CloudEvents attribute name for a filter or an
// override: lower-case letters and digits, starting with a letter.
func IsAttributeName(s string) bool { return attributeName.MatchString(s) }

// AttributeNameMessage explains a rejected attribute name.
const AttributeNameMessage = "must be a CloudEvents attribute name: lower-case letters and digits, starting with a letter"

// requiredAttributes cannot be overridden: a source that set them would forge its events.
var requiredAttributes = map[string]bool{"id": true, "source": true, "specversion": true, "type": true}

// Validate checks the overrides at path p: extension names must be attribute names, and the
// required attributes (id, source, specversion, type) cannot be overridden.
func (o *CloudEventOverrides) Validate(p *field.Path) field.ErrorList {
	if o == nil {
		return nil
	}
	var errs field.ErrorList
	for _, name := range sortedKeys(o.Extensions) {
		kp := p.Child("extensions").Key(name)
		switch {
		case requiredAttributes[name]:
			errs = append(errs, field.Forbidden(kp, fmt.Sprintf("%q is a required attribute the source sets itself", name)))
		case !IsAttributeName(name):
			errs = append(errs, field.Invalid(kp, name, AttributeNameMessage))
		}
	}
	return errs
}

// SetDefaults defaults the sink's ref namespace.
func (s *SourceSpec) SetDefaults(parentNamespace string) { s.Sink.SetDefaults(parentNamespace) }

// Validate checks the sink (required) and the overrides at path p (the spec).
func (s *SourceSpec) Validate(p *field.Path, parentNamespace string) field.ErrorList {
	errs := s.Sink.Validate(p.Child("sink"), parentNamespace)
	return append(errs, s.CloudEventOverrides.Validate(p.Child("ceOverrides"))...)
}

// SourceConditionSet is the condition set of a long-running source: Ready follows SinkProvided.
var SourceConditionSet = api.NewLivingConditionSet(SourceConditionSinkProvided)

// MarkSink records the resolved sink URL and sets SinkProvided: True for a URL, False with a
// reason when uri is empty.
func (s *SourceStatus) MarkSink(uri string) {
	s.SinkURI = uri
	if uri == "" {
		SourceConditionSet.Manage(&s.Status).MarkFalse(SourceConditionSinkProvided, "SinkEmpty", "the sink resolved to an empty URL")
		return
	}
	SourceConditionSet.Manage(&s.Status).MarkTrue(SourceConditionSinkProvided)
}

// MarkNoSink clears the sink URL and sets SinkProvided to False with a reason.
func (s *SourceStatus) MarkNoSink(reason, format string, args ...any) {
	s.SinkURI = ""
	SourceConditionSet.Manage(&s.Status).MarkFalse(SourceConditionSinkProvided, reason, format, args...)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
