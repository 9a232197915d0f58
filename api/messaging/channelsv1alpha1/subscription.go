package channelsv1alpha1

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/duck"
	"github.com/eddyplatform/eddy/api/messaging"
	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Subscription is a 2018 subscription: the events of a channel go to a subscriber, named by a
// plain string, and its replies to replyTo.
type Subscription struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              SubscriptionSpec `json:"spec"`
	// Status is the v1 Subscription status: the subscription is run as its v1 form.
	Status messaging.SubscriptionStatus `json:"status,omitempty"`
}

// SubscriptionSpec is a 2018 subscription's spec.
type SubscriptionSpec struct {
	// Channel is the name of a channels.knative.dev Channel in the same namespace.
	Channel string `json:"channel"`
	// Subscriber is an http(s) URL, the name of a Knative Service, or a DNS name.
	Subscriber string `json:"subscriber"`
	// ReplyTo receives the subscriber's replies; same forms as Subscriber.
	ReplyTo string `json:"replyTo,omitempty"`
	// Arguments fulfil the bus's subscription parameters.
	Arguments *[]Argument `json:"arguments,omitempty"`
}

// GetStatus returns the condition-bearing part of the status.
func (s *Subscription) GetStatus() *api.Status { return &s.Status.Status }

// ServiceAPIVersion is the apiVersion a bare subscriber name refers to.
const ServiceAPIVersion = "serving.knative.dev/v1"

// ParseDestination reads a 2018 subscriber or replyTo string: an http or https URL is the
// destination's uri; a DNS label ("message-dumper") is a ref to the Knative Service of that
// name; a DNS name with dots, optionally with a port and path ("dumper.default.svc:8080/x"),
// is the uri http://NAME.
func ParseDestination(s string) (*duck.Destination, error) {
	if strings.Contains(s, "://") {
		u, err := url.Parse(s)
		if err != nil {
			return nil, err
		}
		if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
			return nil, fmt.Errorf("a URL must be http or https with a host")
		}
		return &duck.Destination{URI: s}, nil
	}
	if len(validation.IsDNS1123Label(s)) == 0 {
		return &duck.Destination{Ref: &duck.KReference{APIVersion: ServiceAPIVersion, Kind: "Service", Name: s}}, nil
	}
	u, err := url.Parse("http://" + s)
	if err == nil && u.Hostname() != "" && len(validation.IsDNS1123Subdomain(u.Hostname())) == 0 && u.User == nil {
		return &duck.Destination{URI: u.String()}, nil
	}
	return nil, fmt.Errorf("must be an http(s) URL, the name of a Knative Service, or a DNS name")
}

// Validate checks the channel name, the subscriber (required) and replyTo forms, and the
// arguments.
func (s *Subscription) Validate() field.ErrorList {
	sp := field.NewPath("spec")
	var errs field.ErrorList
	if s.Spec.Channel == "" {
		errs = append(errs, field.Required(sp.Child("channel"), "the Subscription must name a Channel"))
	} else {
		for _, msg := range validation.IsDNS1123Subdomain(s.Spec.Channel) {
			errs = append(errs, field.Invalid(sp.Child("channel"), s.Spec.Channel, msg))
		}
	}
	if s.Spec.Subscriber == "" {
		errs = append(errs, field.Required(sp.Child("subscriber"), "an http(s) URL, a Knative Service name or a DNS name"))
	} else if _, err := ParseDestination(s.Spec.Subscriber); err != nil {
		errs = append(errs, field.Invalid(sp.Child("subscriber"), s.Spec.Subscriber, err.Error()))
	}
	if s.Spec.ReplyTo != "" {
		if _, err := ParseDestination(s.Spec.ReplyTo); err != nil {
			errs = append(errs, field.Invalid(sp.Child("replyTo"), s.Spec.ReplyTo, err.Error()))
		}
	}
	return append(errs, validateArguments(sp.Child("arguments"), s.Spec.Arguments)...)
}

// ValidateUpdate rejects a change of spec.channel or spec.replyTo: the 2018 API let only the
// subscriber and the arguments change.
func (s *Subscription) ValidateUpdate(old *Subscription) field.ErrorList {
	sp := field.NewPath("spec")
	errs := apivalidation.ValidateImmutableField(s.Spec.Channel, old.Spec.Channel, sp.Child("channel"))
	return append(errs, apivalidation.ValidateImmutableField(s.Spec.ReplyTo, old.Spec.ReplyTo, sp.Child("replyTo"))...)
}

// ToV1 returns the messaging.knative.dev/v1 Subscription this subscription runs as: a deep
// copy of the metadata, spec.channel as a reference to the channels.knative.dev/v1alpha1
// Channel, the subscriber and replyTo as destinations (see ParseDestination), the arguments as
// messaging.ArgumentsAnnotation, the v1 defaults applied, and a copy of the status.
func (s *Subscription) ToV1() (*messaging.Subscription, error) {
	v1 := &messaging.Subscription{
		TypeMeta:   metav1.TypeMeta{APIVersion: messaging.Group + "/" + messaging.Version, Kind: "Subscription"},
		ObjectMeta: *s.ObjectMeta.DeepCopy(),
		Spec: messaging.SubscriptionSpec{
			Channel: corev1.ObjectReference{APIVersion: Group + "/" + Version, Kind: "Channel", Name: s.Spec.Channel},
		},
	}
	var err error
	if v1.Spec.Subscriber, err = ParseDestination(s.Spec.Subscriber); err != nil {
		return nil, fmt.Errorf("spec.subscriber %q: %w", s.Spec.Subscriber, err)
	}
	if s.Spec.ReplyTo != "" {
		if v1.Spec.Reply, err = ParseDestination(s.Spec.ReplyTo); err != nil {
			return nil, fmt.Errorf("spec.replyTo %q: %w", s.Spec.ReplyTo, err)
		}
	}
	setArgumentsAnnotation(&v1.Annotations, s.Spec.Arguments)
	v1.Status = copySubscriptionStatus(s.Status)
	v1.SetDefaults()
	return v1, nil
}
