package eventing

import (
	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/duck"
	"github.com/eddyplatform/eddy/api/messaging"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Group is the API group of this package's kinds.
const Group = "eventing.knative.dev"

// Version is the version of Broker and Trigger.
const Version = "v1"

const (
	// BrokerClassAnnotation names a Broker's implementation class.
	BrokerClassAnnotation = "eventing.knative.dev/broker.class"
	// DefaultBrokerClass is the class of a Broker that names none, as in Knative.
	DefaultBrokerClass = "MTChannelBasedBroker"
)

// Knative's default delivery spec of a Broker.
const (
	DefaultBrokerRetry         int32                  = 10
	DefaultBrokerBackoffPolicy duck.BackoffPolicyType = duck.BackoffPolicyExponential
	DefaultBrokerBackoffDelay                         = "PT0.2S"
)

// DefaultBrokerDelivery returns the delivery spec of a Broker that sets none: retry 10,
// exponential backoff from PT0.2S.
func DefaultBrokerDelivery() *duck.DeliverySpec {
	retry, policy, delay := DefaultBrokerRetry, DefaultBrokerBackoffPolicy, DefaultBrokerBackoffDelay
	return &duck.DeliverySpec{Retry: &retry, BackoffPolicy: &policy, BackoffDelay: &delay}
}

// classBuses maps broker classes to the bus that carries them.
var classBuses = map[string]messaging.BusType{
	"Kafka":           messaging.BusKafka,
	"KafkaNamespaced": messaging.BusKafka,
	"RabbitMQBroker":  messaging.BusRabbitMQ,
	"googlecloud":     messaging.BusPubSub,
}

// Broker is an event mesh: events sent to its address are delivered to each of its Triggers
// whose filter they pass.
type Broker struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              BrokerSpec   `json:"spec,omitempty"`
	Status            BrokerStatus `json:"status,omitempty"`
}

// BrokerSpec is the desired state of a Broker.
type BrokerSpec struct {
	// Config refers to the class's configuration, such as a ConfigMap. It may be in another
	// namespace. Immutable.
	Config *duck.KReference `json:"config,omitempty"`
	// Delivery is the delivery spec of the broker's triggers that have none of their own.
	Delivery *duck.DeliverySpec `json:"delivery,omitempty"`
}

// BrokerStatus is the observed state of a Broker.
type BrokerStatus struct {
	api.Status          `json:",inline"`
	duck.AddressStatus  `json:",inline"`
	duck.DeliveryStatus `json:",inline"`
}

// GetStatus returns the condition-bearing part of the status.
func (b *Broker) GetStatus() *api.Status { return &b.Status.Status }

// Class returns the broker's class annotation, or DefaultBrokerClass.
func (b *Broker) Class() string {
	if c := b.Annotations[BrokerClassAnnotation]; c != "" {
		return c
	}
	return DefaultBrokerClass
}

// Bus returns the bus the broker runs on: the bus annotation, else its class's bus, else
// messaging.DefaultBus. An unparsable annotation yields DefaultBus; validation rejects it.
func (b *Broker) Bus() messaging.BusRef {
	if v, ok := b.Annotations[messaging.BusAnnotation]; ok {
		if r, err := messaging.ParseBusRef(v); err == nil {
			return r
		}
		return messaging.DefaultBus
	}
	if t, ok := classBuses[b.Class()]; ok {
		return messaging.BusRef{Name: string(t)}
	}
	return messaging.DefaultBus
}

// SetDefaults sets the class annotation, the default delivery spec when there is none, and the
// namespaces of spec.config and the dead-letter sink's ref.
func (b *Broker) SetDefaults() {
	if b.Annotations[BrokerClassAnnotation] == "" {
		if b.Annotations == nil {
			b.Annotations = map[string]string{}
		}
		b.Annotations[BrokerClassAnnotation] = DefaultBrokerClass
	}
	if b.Spec.Delivery == nil {
		b.Spec.Delivery = DefaultBrokerDelivery()
	}
	b.Spec.Config.SetDefaults(b.Namespace)
	b.Spec.Delivery.SetDefaults(b.Namespace)
}

// Validate checks the bus annotation, spec.config and spec.delivery. Both refs may name
// another namespace, as Knative allows for Brokers.
func (b *Broker) Validate() field.ErrorList {
	errs := messaging.ValidateBusAnnotation(b.Annotations)
	sp := field.NewPath("spec")
	if b.Spec.Config != nil {
		errs = append(errs, b.Spec.Config.Validate(sp.Child("config"), "")...)
	}
	return append(errs, b.Spec.Delivery.Validate(sp.Child("delivery"), "")...)
}

// ValidateUpdate rejects a change of the class annotation, the bus annotation or spec.config.
func (b *Broker) ValidateUpdate(old *Broker) field.ErrorList {
	errs := validateImmutableAnnotation(b.Annotations, old.Annotations, BrokerClassAnnotation)
	errs = append(errs, validateImmutableAnnotation(b.Annotations, old.Annotations, messaging.BusAnnotation)...)
	return append(errs, apivalidation.ValidateImmutableField(b.Spec.Config, old.Spec.Config, field.NewPath("spec", "config"))...)
}

// validateImmutableAnnotation rejects a change (including adding or removing) of annotation key.
func validateImmutableAnnotation(updated, old map[string]string, key string) field.ErrorList {
	nv, nok := updated[key]
	ov, ook := old[key]
	if nv == ov && nok == ook {
		return nil
	}
	was := "unset"
	if ook {
		was = `"` + ov + `"`
	}
	return field.ErrorList{field.Invalid(field.NewPath("metadata", "annotations").Key(key), nv, "field is immutable (was "+was+")")}
}

// The conditions of a Broker.
const (
	// BrokerConditionIngress is True when the ingress accepts events for the broker.
	BrokerConditionIngress api.ConditionType = "IngressReady"
	// BrokerConditionTriggerChannel is True when the broker's topic exists on its bus.
	BrokerConditionTriggerChannel api.ConditionType = "TriggerChannelReady"
	// BrokerConditionFilter is True when the dispatcher that evaluates the triggers runs.
	BrokerConditionFilter api.ConditionType = "FilterReady"
	// BrokerConditionAddressable is True when status.address.url is set.
	BrokerConditionAddressable api.ConditionType = "Addressable"
	// BrokerConditionDeadLetterSinkResolved is True when the dead-letter sink resolved, or
	// when there is none.
	BrokerConditionDeadLetterSinkResolved api.ConditionType = "DeadLetterSinkResolved"
)

// BrokerConditionSet is the condition set of a Broker.
var BrokerConditionSet = api.NewLivingConditionSet(
	BrokerConditionIngress,
	BrokerConditionTriggerChannel,
	BrokerConditionFilter,
	BrokerConditionAddressable,
	BrokerConditionDeadLetterSinkResolved,
)

func (s *BrokerStatus) manage() *api.ConditionManager { return BrokerConditionSet.Manage(&s.Status) }

// InitializeConditions sets every missing condition to Unknown.
func (s *BrokerStatus) InitializeConditions() { s.manage().InitializeConditions() }

// IsReady reports whether Ready is True.
func (s *BrokerStatus) IsReady() bool { return s.manage().IsHappy() }

// MarkIngressReady records that the ingress accepts events for the broker.
func (s *BrokerStatus) MarkIngressReady() { s.manage().MarkTrue(BrokerConditionIngress) }

// MarkIngressFailed records why the ingress does not accept events for the broker.
func (s *BrokerStatus) MarkIngressFailed(reason, format string, args ...any) {
	s.manage().MarkFalse(BrokerConditionIngress, reason, format, args...)
}

// MarkTriggerChannelReady records that the broker's topic exists on its bus.
func (s *BrokerStatus) MarkTriggerChannelReady() { s.manage().MarkTrue(BrokerConditionTriggerChannel) }

// MarkTriggerChannelFailed records why the broker's topic could not be set up.
func (s *BrokerStatus) MarkTriggerChannelFailed(reason, format string, args ...any) {
	s.manage().MarkFalse(BrokerConditionTriggerChannel, reason, format, args...)
}

// MarkFilterReady records that the dispatcher evaluating the triggers runs.
func (s *BrokerStatus) MarkFilterReady() { s.manage().MarkTrue(BrokerConditionFilter) }

// MarkFilterFailed records why the triggers' dispatcher does not run.
func (s *BrokerStatus) MarkFilterFailed(reason, format string, args ...any) {
	s.manage().MarkFalse(BrokerConditionFilter, reason, format, args...)
}

// SetAddress sets status.address to url and Addressable to True, or clears it and sets
// Addressable to False when url is empty.
func (s *BrokerStatus) SetAddress(url string) {
	s.AddressStatus.SetURL(url)
	if url == "" {
		s.manage().MarkFalse(BrokerConditionAddressable, "NoAddress", "the broker has no address yet")
		return
	}
	s.manage().MarkTrue(BrokerConditionAddressable)
}

// MarkDeadLetterSinkResolvedSucceeded records the resolved dead-letter sink URL.
func (s *BrokerStatus) MarkDeadLetterSinkResolvedSucceeded(uri string) {
	s.DeliveryStatus = duck.DeliveryStatus{DeadLetterSinkURI: uri}
	s.manage().MarkTrue(BrokerConditionDeadLetterSinkResolved)
}

// MarkDeadLetterSinkNotConfigured records that the broker has no dead-letter sink, which is
// fine: DeadLetterSinkResolved is True.
func (s *BrokerStatus) MarkDeadLetterSinkNotConfigured() {
	s.DeliveryStatus = duck.DeliveryStatus{}
	s.manage().MarkTrue(BrokerConditionDeadLetterSinkResolved)
}

// MarkDeadLetterSinkResolvedFailed records why the dead-letter sink did not resolve.
func (s *BrokerStatus) MarkDeadLetterSinkResolvedFailed(reason, format string, args ...any) {
	s.DeliveryStatus = duck.DeliveryStatus{}
	s.manage().MarkFalse(BrokerConditionDeadLetterSinkResolved, reason, format, args...)
}
