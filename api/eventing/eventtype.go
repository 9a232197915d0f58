package eventing

import (
	"net/url"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/duck"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// EventTypeVersion is the version of EventType.
const EventTypeVersion = "v1beta2"

// EventType describes a kind of event that a broker, channel or source can provide: its
// CloudEvents type and source, and optionally a schema. Sources register the types they emit.
type EventType struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              EventTypeSpec   `json:"spec,omitempty"`
	Status            EventTypeStatus `json:"status,omitempty"`
}

// EventTypeSpec is the description of an event type. Every field is immutable.
type EventTypeSpec struct {
	// Type is the CloudEvents type attribute. Required.
	Type string `json:"type"`
	// Source is the CloudEvents source attribute, a URI reference.
	Source string `json:"source,omitempty"`
	// Schema is the URI of the events' data schema (the dataschema attribute).
	Schema string `json:"schema,omitempty"`
	// SchemaData holds the schema itself; it is not validated.
	SchemaData string `json:"schemaData,omitempty"`
	// Broker names the broker providing the type. Deprecated: use Reference.
	Broker string `json:"broker,omitempty"`
	// Reference names the addressable object that provides the type, such as a Broker.
	Reference *duck.KReference `json:"reference,omitempty"`
	// Description says what the events mean.
	Description string `json:"description,omitempty"`
}

// EventTypeStatus is the observed state of an EventType.
type EventTypeStatus struct {
	api.Status `json:",inline"`
}

// GetStatus returns the condition-bearing part of the status.
func (e *EventType) GetStatus() *api.Status { return &e.Status.Status }

// SetDefaults fills the reference's namespace.
func (e *EventType) SetDefaults() { e.Spec.Reference.SetDefaults(e.Namespace) }

// Validate checks spec.type (required), that source and schema are URI references, and
// spec.reference.
func (e *EventType) Validate() field.ErrorList {
	sp := field.NewPath("spec")
	var errs field.ErrorList
	if e.Spec.Type == "" {
		errs = append(errs, field.Required(sp.Child("type"), "the CloudEvents type"))
	}
	for _, f := range []struct{ name, value string }{{"source", e.Spec.Source}, {"schema", e.Spec.Schema}} {
		if f.value == "" {
			continue
		}
		if _, err := url.Parse(f.value); err != nil {
			errs = append(errs, field.Invalid(sp.Child(f.name), f.value, "must be a URI reference: "+err.Error()))
		}
	}
	if e.Spec.Reference != nil {
		errs = append(errs, e.Spec.Reference.Validate(sp.Child("reference"), e.Namespace)...)
	}
	return errs
}

// ValidateUpdate rejects any change of the spec, as Knative does.
func (e *EventType) ValidateUpdate(old *EventType) field.ErrorList {
	return apivalidation.ValidateImmutableField(e.Spec, old.Spec, field.NewPath("spec"))
}

// EventTypeConditionReferenceExists is True when spec.reference names an existing object.
const EventTypeConditionReferenceExists api.ConditionType = "ReferenceExists"

// EventTypeConditionSet is the condition set of an EventType.
var EventTypeConditionSet = api.NewLivingConditionSet(EventTypeConditionReferenceExists)

// InitializeConditions sets every missing condition to Unknown.
func (s *EventTypeStatus) InitializeConditions() {
	EventTypeConditionSet.Manage(&s.Status).InitializeConditions()
}

// IsReady reports whether Ready is True.
func (s *EventTypeStatus) IsReady() bool { return EventTypeConditionSet.Manage(&s.Status).IsHappy() }

// MarkReferenceExists records that the referenced object exists.
func (s *EventTypeStatus) MarkReferenceExists() {
	EventTypeConditionSet.Manage(&s.Status).MarkTrue(EventTypeConditionReferenceExists)
}

// MarkReferenceDoesNotExist records that the referenced object is missing.
func (s *EventTypeStatus) MarkReferenceDoesNotExist() {
	EventTypeConditionSet.Manage(&s.Status).MarkFalse(EventTypeConditionReferenceExists, "ResourceDoesNotExist", "the referenced resource does not exist")
}

// MarkReferenceExistsUnknown records that the reference has not been checked yet.
func (s *EventTypeStatus) MarkReferenceExistsUnknown(reason, format string, args ...any) {
	EventTypeConditionSet.Manage(&s.Status).MarkUnknown(EventTypeConditionReferenceExists, reason, format, args...)
}
