package duck

import (
	"github.com/eddyplatform/eddy/api"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// SubscriberSpec is one subscriber of a channel, as the Subscription reconciler writes it into
// the channel's spec.subscribers: resolved URLs, not references. Users do not write these.
type SubscriberSpec struct {
	// UID is the uid of the Subscription this subscriber comes from.
	UID types.UID `json:"uid,omitempty"`
	// Generation is the generation of that Subscription.
	Generation int64 `json:"generation,omitempty"`
	// SubscriberURI is where events are delivered.
	SubscriberURI string `json:"subscriberUri,omitempty"`
	// SubscriberCACerts are the PEM certificates of the subscriber's authorities.
	SubscriberCACerts *string `json:"subscriberCACerts,omitempty"`
	// SubscriberAudience is the subscriber's OIDC audience.
	SubscriberAudience *string `json:"subscriberAudience,omitempty"`
	// ReplyURI is where the subscriber's replies are sent.
	ReplyURI string `json:"replyUri,omitempty"`
	// ReplyCACerts are the PEM certificates of the reply destination's authorities.
	ReplyCACerts *string `json:"replyCACerts,omitempty"`
	// ReplyAudience is the reply destination's OIDC audience.
	ReplyAudience *string `json:"replyAudience,omitempty"`
	// Delivery is the Subscription's delivery spec, resolved.
	Delivery *DeliverySpec `json:"delivery,omitempty"`
}

// SubscriberStatus is the state of one subscriber of a channel.
type SubscriberStatus struct {
	// UID is the uid of the Subscription.
	UID types.UID `json:"uid,omitempty"`
	// ObservedGeneration is the Subscription generation the channel acted on.
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Ready is True once the channel delivers to this subscriber.
	Ready corev1.ConditionStatus `json:"ready,omitempty"`
	// Message says why Ready is not True.
	Message string `json:"message,omitempty"`
}

// SubscribableSpec is the spec part of a channel that lists its subscribers.
type SubscribableSpec struct {
	// Subscribers are the channel's subscribers.
	Subscribers []SubscriberSpec `json:"subscribers,omitempty"`
}

// SubscribableStatus is the status part of a channel that reports its subscribers.
type SubscribableStatus struct {
	// Subscribers are the states of the channel's subscribers.
	Subscribers []SubscriberStatus `json:"subscribers,omitempty"`
}

// ChannelableSpec is the spec every channel kind shares: its subscribers and the default
// delivery spec of its subscriptions.
type ChannelableSpec struct {
	SubscribableSpec `json:",inline"`
	// Delivery is the delivery spec for subscriptions that have none of their own.
	Delivery *DeliverySpec `json:"delivery,omitempty"`
}

// ChannelableStatus is the status every channel kind shares.
type ChannelableStatus struct {
	api.Status         `json:",inline"`
	AddressStatus      `json:",inline"`
	SubscribableStatus `json:",inline"`
	DeliveryStatus     `json:",inline"`
	// DeadLetterChannel is the native channel failed events go to, for channels that have one.
	DeadLetterChannel *KReference `json:"deadLetterChannel,omitempty"`
}

// SetDefaults defaults the delivery spec.
func (s *ChannelableSpec) SetDefaults(parentNamespace string) {
	s.Delivery.SetDefaults(parentNamespace)
}

// Validate checks the subscribers (each needs a subscriberUri or a replyUri, both absolute) and
// the delivery spec, at path p (the spec).
func (s *ChannelableSpec) Validate(p *field.Path, parentNamespace string) field.ErrorList {
	var errs field.ErrorList
	for i, sub := range s.Subscribers {
		sp := p.Child("subscribers").Index(i)
		if sub.SubscriberURI == "" && sub.ReplyURI == "" {
			errs = append(errs, field.Required(sp, "set subscriberUri, replyUri or both"))
		}
		errs = append(errs, ValidateURI(sp.Child("subscriberUri"), sub.SubscriberURI)...)
		errs = append(errs, ValidateURI(sp.Child("replyUri"), sub.ReplyURI)...)
		errs = append(errs, sub.Delivery.Validate(sp.Child("delivery"), parentNamespace)...)
		for j := 0; j < i; j++ {
			if sub.UID != "" && s.Subscribers[j].UID == sub.UID {
				errs = append(errs, field.Duplicate(sp.Child("uid"), string(sub.UID)))
			}
		}
	}
	return append(errs, s.Delivery.Validate(p.Child("delivery"), parentNamespace)...)
}

// SubscriberStatusFor returns the status of the subscriber with this uid, or nil.
func (s *SubscribableStatus) SubscriberStatusFor(uid types.UID) *SubscriberStatus {
	for i := range s.Subscribers {
		if s.Subscribers[i].UID == uid {
			return &s.Subscribers[i]
		}
	}
	return nil
}
