package eventing

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/duck"
	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

const (
	// BrokerLabel is set on every Trigger to the name of its broker.
	BrokerLabel = "eventing.knative.dev/broker"
	// DependencyAnnotation names, as the JSON of an ObjectReference, a source the Trigger
	// waits for (kn sets it when it creates a source and its trigger together).
	DependencyAnnotation = "knative.dev/dependency"
	// InjectionAnnotation ("enabled" or "disabled") on a Trigger of the broker "default" asks
	// for that broker to be created.
	InjectionAnnotation = "eventing.knative.dev/injection"
)

// Trigger asks for the events of a Broker that pass its filter to be delivered to a
// subscriber.
type Trigger struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              TriggerSpec   `json:"spec,omitempty"`
	Status            TriggerStatus `json:"status,omitempty"`
}

// TriggerSpec is the desired state of a Trigger.
type TriggerSpec struct {
	// Broker is the name of the broker the trigger receives events from. Required, immutable.
	Broker string `json:"broker,omitempty"`
	// BrokerNamespace is the broker's namespace; Eddy supports only the trigger's own (empty
	// or equal). Immutable.
	BrokerNamespace string `json:"brokerNamespace,omitempty"`
	// Filter selects events by exact attribute values; defaulted to {} (every event).
	Filter *TriggerFilter `json:"filter,omitempty"`
	// Filters are Subscriptions API filter expressions, all of which must pass. When set,
	// they replace Filter.
	Filters []SubscriptionsAPIFilter `json:"filters,omitempty"`
	// Subscriber receives the events that pass. Required.
	Subscriber duck.Destination `json:"subscriber"`
	// Delivery overrides the broker's delivery spec for this trigger (no merge).
	Delivery *duck.DeliverySpec `json:"delivery,omitempty"`
}

// TriggerStatus is the observed state of a Trigger.
type TriggerStatus struct {
	api.Status `json:",inline"`
	// SubscriberURI is the resolved spec.subscriber; empty while it does not resolve.
	SubscriberURI string `json:"subscriberUri,omitempty"`
	// SubscriberCACerts are the subscriber's PEM authority certificates.
	SubscriberCACerts *string `json:"subscriberCACerts,omitempty"`
	// SubscriberAudience is the subscriber's OIDC audience.
	SubscriberAudience  *string `json:"subscriberAudience,omitempty"`
	duck.DeliveryStatus `json:",inline"`
}

// GetStatus returns the condition-bearing part of the status.
func (t *Trigger) GetStatus() *api.Status { return &t.Status.Status }

// SetDefaults sets spec.filter to {} when it is missing, the broker label, and the namespaces
// of the subscriber's and the dead-letter sink's refs.
func (t *Trigger) SetDefaults() {
	if t.Spec.Filter == nil {
		t.Spec.Filter = &TriggerFilter{}
	}
	t.Spec.Subscriber.SetDefaults(t.Namespace)
	t.Spec.Delivery.SetDefaults(t.Namespace)
	if t.Spec.Broker != "" && len(validation.IsValidLabelValue(t.Spec.Broker)) == 0 {
		if t.Labels == nil {
			t.Labels = map[string]string{}
		}
		t.Labels[BrokerLabel] = t.Spec.Broker
	}
}

// Validate checks spec.broker (required), the filters, spec.subscriber (required),
// spec.delivery and the dependency and injection annotations.
func (t *Trigger) Validate() field.ErrorList {
	sp := field.NewPath("spec")
	_, errs := duck.ParseDispatchOptions(t.Annotations)
	if t.Spec.Broker == "" {
		errs = append(errs, field.Required(sp.Child("broker"), ""))
	} else {
		for _, msg := range validation.IsDNS1123Subdomain(t.Spec.Broker) {
			errs = append(errs, field.Invalid(sp.Child("broker"), t.Spec.Broker, msg))
		}
	}
	if ns := t.Spec.BrokerNamespace; ns != "" && ns != t.Namespace {
		errs = append(errs, field.Invalid(sp.Child("brokerNamespace"), ns,
			fmt.Sprintf("the broker must be in the trigger's namespace %q: leave brokerNamespace empty", t.Namespace)))
	}
	if t.Spec.Filter != nil {
		errs = append(errs, validateAttributes(sp.Child("filter", "attributes"), t.Spec.Filter.Attributes)...)
	}
	errs = append(errs, ValidateFilters(sp.Child("filters"), t.Spec.Filters)...)
	errs = append(errs, t.Spec.Subscriber.Validate(sp.Child("subscriber"), t.Namespace)...)
	errs = append(errs, t.Spec.Delivery.Validate(sp.Child("delivery"), t.Namespace)...)
	return append(errs, t.validateAnnotations()...)
}

func (t *Trigger) validateAnnotations() field.ErrorList {
	var errs field.ErrorList
	ap := field.NewPath("metadata", "annotations")
	if v, ok := t.Annotations[DependencyAnnotation]; ok {
		p := ap.Key(DependencyAnnotation)
		var ref corev1.ObjectReference
		if err := json.Unmarshal([]byte(v), &ref); err != nil {
			errs = append(errs, field.Invalid(p, v, "must be the JSON of an object reference: "+err.Error()))
		} else {
			var missing []string
			for _, f := range [][2]string{{"apiVersion", ref.APIVersion}, {"kind", ref.Kind}, {"name", ref.Name}} {
				if f[1] == "" {
					missing = append(missing, f[0])
				}
			}
			if len(missing) > 0 {
				errs = append(errs, field.Invalid(p, v, "the reference needs apiVersion, kind and name; missing: "+strings.Join(missing, ", ")))
			}
			if ref.Namespace != "" && ref.Namespace != t.Namespace {
				errs = append(errs, field.Invalid(p, v, fmt.Sprintf("the namespace must be empty or the trigger's, %q", t.Namespace)))
			}
		}
	}
	if v, ok := t.Annotations[InjectionAnnotation]; ok {
		p := ap.Key(InjectionAnnotation)
		switch {
		case v != "enabled" && v != "disabled":
			errs = append(errs, field.NotSupported(p, v, []string{"enabled", "disabled"}))
		case t.Spec.Broker != "default":
			errs = append(errs, field.Invalid(p, v, fmt.Sprintf("applies only to triggers of the broker \"default\", not %q", t.Spec.Broker)))
		}
	}
	return errs
}

// ValidateUpdate rejects a change of spec.broker or spec.brokerNamespace.
func (t *Trigger) ValidateUpdate(old *Trigger) field.ErrorList {
	sp := field.NewPath("spec")
	errs := apivalidation.ValidateImmutableField(t.Spec.Broker, old.Spec.Broker, sp.Child("broker"))
	return append(errs, apivalidation.ValidateImmutableField(t.Spec.BrokerNamespace, old.Spec.BrokerNamespace, sp.Child("brokerNamespace"))...)
}

// The conditions of a Trigger.
const (
	// TriggerConditionBroker is True when the trigger's broker exists and is Ready.
	TriggerConditionBroker api.ConditionType = "BrokerReady"
	// TriggerConditionSubscribed is True when the trigger's consumer group is set up on the
	// broker's bus.
	TriggerConditionSubscribed api.ConditionType = "SubscriptionReady"
	// TriggerConditionDependency is True when the source named by the dependency annotation
	// is Ready, or there is no such annotation.
	TriggerConditionDependency api.ConditionType = "DependencyReady"
	// TriggerConditionSubscriberResolved is True when spec.subscriber resolved into
	// status.subscriberUri.
	TriggerConditionSubscriberResolved api.ConditionType = "SubscriberResolved"
	// TriggerConditionDeadLetterSinkResolved is True when the dead-letter sink resolved, or
	// when there is none.
	TriggerConditionDeadLetterSinkResolved api.ConditionType = "DeadLetterSinkResolved"
)

// TriggerConditionSet is the condition set of a Trigger.
var TriggerConditionSet = api.NewLivingConditionSet(
	TriggerConditionBroker,
	TriggerConditionSubscribed,
	TriggerConditionDependency,
	TriggerConditionSubscriberResolved,
	TriggerConditionDeadLetterSinkResolved,
)

func (s *TriggerStatus) manage() *api.ConditionManager { return TriggerConditionSet.Manage(&s.Status) }

// InitializeConditions sets every missing condition to Unknown.
func (s *TriggerStatus) InitializeConditions() { s.manage().InitializeConditions() }

// IsReady reports whether Ready is True.
func (s *TriggerStatus) IsReady() bool { return s.manage().IsHappy() }

// PropagateBrokerCondition sets BrokerReady from the broker's Ready condition; nil (no broker
// yet, or not reconciled) makes it Unknown.
func (s *TriggerStatus) PropagateBrokerCondition(ready *api.Condition) {
	switch {
	case ready == nil:
		s.manage().MarkUnknown(TriggerConditionBroker, "BrokerNotConfigured", "the broker has not been reconciled yet")
	case ready.IsTrue():
		s.manage().MarkTrue(TriggerConditionBroker)
	case ready.IsFalse():
		s.manage().MarkFalse(TriggerConditionBroker, ready.Reason, "%s", ready.Message)
	default:
		s.manage().MarkUnknown(TriggerConditionBroker, ready.Reason, "%s", ready.Message)
	}
}

// MarkBrokerFailed records why the broker is not usable, such as "BrokerDoesNotExist".
func (s *TriggerStatus) MarkBrokerFailed(reason, format string, args ...any) {
	s.manage().MarkFalse(TriggerConditionBroker, reason, format, args...)
}

// MarkSubscribed records that the trigger's consumer group is set up.
func (s *TriggerStatus) MarkSubscribed() { s.manage().MarkTrue(TriggerConditionSubscribed) }

// MarkNotSubscribed records why the trigger's consumer group could not be set up.
func (s *TriggerStatus) MarkNotSubscribed(reason, format string, args ...any) {
	s.manage().MarkFalse(TriggerConditionSubscribed, reason, format, args...)
}

// MarkSubscribedUnknown records that the consumer group is being set up.
func (s *TriggerStatus) MarkSubscribedUnknown(reason, format string, args ...any) {
	s.manage().MarkUnknown(TriggerConditionSubscribed, reason, format, args...)
}

// MarkDependencySucceeded records that the dependency is ready, or that there is none.
func (s *TriggerStatus) MarkDependencySucceeded() { s.manage().MarkTrue(TriggerConditionDependency) }

// MarkDependencyFailed records why the dependency is not ready.
func (s *TriggerStatus) MarkDependencyFailed(reason, format string, args ...any) {
	s.manage().MarkFalse(TriggerConditionDependency, reason, format, args...)
}

// MarkDependencyUnknown records that the dependency has not reported yet.
func (s *TriggerStatus) MarkDependencyUnknown(reason, format string, args ...any) {
	s.manage().MarkUnknown(TriggerConditionDependency, reason, format, args...)
}

// MarkSubscriberResolvedSucceeded records the resolved subscriber URL.
func (s *TriggerStatus) MarkSubscriberResolvedSucceeded(uri string) {
	s.SubscriberURI = uri
	s.manage().MarkTrue(TriggerConditionSubscriberResolved)
}

// MarkSubscriberResolvedFailed clears status.subscriberUri, as the Knative spec requires, and
// records why the subscriber did not resolve.
func (s *TriggerStatus) MarkSubscriberResolvedFailed(reason, format string, args ...any) {
	s.SubscriberURI = ""
	s.manage().MarkFalse(TriggerConditionSubscriberResolved, reason, format, args...)
}

// MarkDeadLetterSinkResolvedSucceeded records the resolved dead-letter sink URL.
func (s *TriggerStatus) MarkDeadLetterSinkResolvedSucceeded(uri string) {
	s.DeliveryStatus = duck.DeliveryStatus{DeadLetterSinkURI: uri}
	s.manage().MarkTrue(TriggerConditionDeadLetterSinkResolved)
}

// MarkDeadLetterSinkNotConfigured records that the trigger has no dead-letter sink.
func (s *TriggerStatus) MarkDeadLetterSinkNotConfigured() {
	s.DeliveryStatus = duck.DeliveryStatus{}
	s.manage().MarkTrue(TriggerConditionDeadLetterSinkResolved)
}

// MarkDeadLetterSinkResolvedFailed records why the dead-letter sink did not resolve.
func (s *TriggerStatus) MarkDeadLetterSinkResolvedFailed(reason, format string, args ...any) {
	s.DeliveryStatus = duck.DeliveryStatus{}
	s.manage().MarkFalse(TriggerConditionDeadLetterSinkResolved, reason, format, args...)
}
