package messaging

import (
	"fmt"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/duck"
	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Subscription delivers the events of a channel to a subscriber, and the subscriber's replies
// to spec.reply.
type Subscription struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              SubscriptionSpec   `json:"spec"`
	Status            SubscriptionStatus `json:"status,omitempty"`
}

// SubscriptionSpec is the desired state of a Subscription.
type SubscriptionSpec struct {
	// Channel is the channel to subscribe to, in the Subscription's namespace: apiVersion,
	// kind and name, nothing else. Immutable.
	Channel corev1.ObjectReference `json:"channel"`
	// Subscriber receives the channel's events. Required.
	Subscriber *duck.Destination `json:"subscriber,omitempty"`
	// Reply receives the subscriber's replies; without it replies are dropped.
	Reply *duck.Destination `json:"reply,omitempty"`
	// Delivery overrides the channel's delivery spec for this subscription (no merge).
	Delivery *duck.DeliverySpec `json:"delivery,omitempty"`
}

// SubscriptionStatus is the observed state of a Subscription.
type SubscriptionStatus struct {
	api.Status `json:",inline"`
	// PhysicalSubscription holds the resolved URLs of the subscriber, reply and dead-letter
	// sink.
	PhysicalSubscription SubscriptionStatusPhysicalSubscription `json:"physicalSubscription,omitempty"`
}

// SubscriptionStatusPhysicalSubscription is a Subscription with its destinations resolved.
type SubscriptionStatusPhysicalSubscription struct {
	// SubscriberURI is the resolved spec.subscriber.
	SubscriberURI string `json:"subscriberUri,omitempty"`
	// SubscriberCACerts are the subscriber's PEM authority certificates.
	SubscriberCACerts *string `json:"subscriberCACerts,omitempty"`
	// SubscriberAudience is the subscriber's OIDC audience.
	SubscriberAudience *string `json:"subscriberAudience,omitempty"`
	// ReplyURI is the resolved spec.reply.
	ReplyURI string `json:"replyUri,omitempty"`
	// ReplyCACerts are the reply destination's PEM authority certificates.
	ReplyCACerts *string `json:"replyCACerts,omitempty"`
	// ReplyAudience is the reply destination's OIDC audience.
	ReplyAudience *string `json:"replyAudience,omitempty"`
	// DeadLetterSinkURI is the resolved spec.delivery.deadLetterSink.
	DeadLetterSinkURI string `json:"deadLetterSinkUri,omitempty"`
	// DeadLetterSinkCACerts are the dead-letter sink's PEM authority certificates.
	DeadLetterSinkCACerts *string `json:"deadLetterSinkCACerts,omitempty"`
	// DeadLetterSinkAudience is the dead-letter sink's OIDC audience.
	DeadLetterSinkAudience *string `json:"deadLetterSinkAudience,omitempty"`
}

// GetStatus returns the condition-bearing part of the status.
func (s *Subscription) GetStatus() *api.Status { return &s.Status.Status }

// ChannelGVK returns the group, version and kind of spec.channel.
func (s *Subscription) ChannelGVK() schema.GroupVersionKind {
	return schema.FromAPIVersionAndKind(s.Spec.Channel.APIVersion, s.Spec.Channel.Kind)
}

// SetDefaults defaults the namespaces of the subscriber's, reply's and dead-letter sink's refs
// to the Subscription's.
func (s *Subscription) SetDefaults() {
	s.Spec.Subscriber.SetDefaults(s.Namespace)
	s.Spec.Reply.SetDefaults(s.Namespace)
	s.Spec.Delivery.SetDefaults(s.Namespace)
}

// Validate checks that spec.channel names a channel in the Subscription's namespace, that
// spec.subscriber or spec.reply is set, and each of spec.subscriber, spec.reply and
// spec.delivery that is set.
func (s *Subscription) Validate() field.ErrorList {
	sp := field.NewPath("spec")
	errs := ValidateChannelReference(sp.Child("channel"), s.Spec.Channel, s.Namespace)
	_, derrs := duck.ParseDispatchOptions(s.Annotations)
	errs = append(errs, derrs...)
	// As Knative: a subscriber, a reply or both. A reply-only subscription forwards every
	// event to the reply as it is (Parallel uses one for a branch without a filter).
	switch {
	case s.Spec.Subscriber.IsEmpty() && s.Spec.Reply.IsEmpty():
		errs = append(errs, field.Required(sp.Child("subscriber"), "the Subscription must reference at least one of subscriber or reply"))
	case !s.Spec.Subscriber.IsEmpty():
		errs = append(errs, s.Spec.Subscriber.Validate(sp.Child("subscriber"), s.Namespace)...)
	}
	if !s.Spec.Reply.IsEmpty() {
		errs = append(errs, s.Spec.Reply.Validate(sp.Child("reply"), s.Namespace)...)
	}
	return append(errs, s.Spec.Delivery.Validate(sp.Child("delivery"), s.Namespace)...)
}

// ValidateUpdate rejects a change of spec.channel.
func (s *Subscription) ValidateUpdate(old *Subscription) field.ErrorList {
	return apivalidation.ValidateImmutableField(s.Spec.Channel, old.Spec.Channel, field.NewPath("spec", "channel"))
}

// ValidateChannelReference checks a reference to a channel at path p: apiVersion, kind and
// name are required, the namespace may only be the referring object's, and uid,
// resourceVersion and fieldPath are not allowed.
func ValidateChannelReference(p *field.Path, ref corev1.ObjectReference, namespace string) field.ErrorList {
	if ref == (corev1.ObjectReference{}) {
		return field.ErrorList{field.Required(p, "name the channel: apiVersion, kind and name")}
	}
	var errs field.ErrorList
	if ref.APIVersion == "" {
		errs = append(errs, field.Required(p.Child("apiVersion"), ""))
	} else if _, err := schema.ParseGroupVersion(ref.APIVersion); err != nil {
		errs = append(errs, field.Invalid(p.Child("apiVersion"), ref.APIVersion, err.Error()))
	}
	if ref.Kind == "" {
		errs = append(errs, field.Required(p.Child("kind"), ""))
	}
	if ref.Name == "" {
		errs = append(errs, field.Required(p.Child("name"), ""))
	} else {
		for _, msg := range validation.IsDNS1123Subdomain(ref.Name) {
			errs = append(errs, field.Invalid(p.Child("name"), ref.Name, msg))
		}
	}
	if ref.Namespace != "" && ref.Namespace != namespace {
		errs = append(errs, field.Invalid(p.Child("namespace"), ref.Namespace,
			fmt.Sprintf("the channel must be in the subscription's namespace %q: leave namespace empty", namespace)))
	}
	if ref.UID != "" {
		errs = append(errs, field.Forbidden(p.Child("uid"), "only apiVersion, kind and name may be set"))
	}
	if ref.ResourceVersion != "" {
		errs = append(errs, field.Forbidden(p.Child("resourceVersion"), "only apiVersion, kind and name may be set"))
	}
	if ref.FieldPath != "" {
		errs = append(errs, field.Forbidden(p.Child("fieldPath"), "only apiVersion, kind and name may be set"))
	}
	return errs
}

// The conditions of a Subscription.
const (
	// SubscriptionConditionReferencesResolved is True when spec.subscriber, spec.reply and the
	// dead-letter sink resolved into status.physicalSubscription.
	SubscriptionConditionReferencesResolved api.ConditionType = "ReferencesResolved"
	// SubscriptionConditionAddedToChannel is True when the subscriber is in the channel's
	// spec.subscribers.
	SubscriptionConditionAddedToChannel api.ConditionType = "AddedToChannel"
	// SubscriptionConditionChannelReady is True when the channel reports the subscriber ready.
	SubscriptionConditionChannelReady api.ConditionType = "ChannelReady"
)

// SubscriptionConditionSet is the condition set of a Subscription.
var SubscriptionConditionSet = api.NewLivingConditionSet(
	SubscriptionConditionReferencesResolved,
	SubscriptionConditionAddedToChannel,
	SubscriptionConditionChannelReady,
)

func (s *SubscriptionStatus) manage() *api.ConditionManager {
	return SubscriptionConditionSet.Manage(&s.Status)
}

// InitializeConditions sets every missing condition to Unknown.
func (s *SubscriptionStatus) InitializeConditions() { s.manage().InitializeConditions() }

// IsReady reports whether Ready is True.
func (s *SubscriptionStatus) IsReady() bool { return s.manage().IsHappy() }

// MarkReferencesResolved records that every destination resolved.
func (s *SubscriptionStatus) MarkReferencesResolved() {
	s.manage().MarkTrue(SubscriptionConditionReferencesResolved)
}

// MarkReferencesNotResolved records why a destination did not resolve.
func (s *SubscriptionStatus) MarkReferencesNotResolved(reason, format string, args ...any) {
	s.manage().MarkFalse(SubscriptionConditionReferencesResolved, reason, format, args...)
}

// MarkReferencesResolvedUnknown records that destinations are being resolved.
func (s *SubscriptionStatus) MarkReferencesResolvedUnknown(reason, format string, args ...any) {
	s.manage().MarkUnknown(SubscriptionConditionReferencesResolved, reason, format, args...)
}

// MarkAddedToChannel records that the subscriber is in the channel's spec.subscribers.
func (s *SubscriptionStatus) MarkAddedToChannel() {
	s.manage().MarkTrue(SubscriptionConditionAddedToChannel)
}

// MarkNotAddedToChannel records why the subscriber could not be added to the channel.
func (s *SubscriptionStatus) MarkNotAddedToChannel(reason, format string, args ...any) {
	s.manage().MarkFalse(SubscriptionConditionAddedToChannel, reason, format, args...)
}

// MarkChannelReady records that the channel delivers to the subscriber.
func (s *SubscriptionStatus) MarkChannelReady() {
	s.manage().MarkTrue(SubscriptionConditionChannelReady)
}

// MarkChannelFailed records why the channel does not deliver to the subscriber, such as a
// missing channel.
func (s *SubscriptionStatus) MarkChannelFailed(reason, format string, args ...any) {
	s.manage().MarkFalse(SubscriptionConditionChannelReady, reason, format, args...)
}

// MarkChannelUnknown records that the channel has not reported the subscriber yet.
func (s *SubscriptionStatus) MarkChannelUnknown(reason, format string, args ...any) {
	s.manage().MarkUnknown(SubscriptionConditionChannelReady, reason, format, args...)
}
