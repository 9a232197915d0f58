package duck

import (
	"errors"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// BackoffPolicyType is how the delay between retries grows.
type BackoffPolicyType string

const (
	// BackoffPolicyLinear: every retry waits backoffDelay (the Knative spec; Knative's Go
	// documentation says backoffDelay × the retry number). The dispatcher decides which.
	BackoffPolicyLinear BackoffPolicyType = "linear"
	// BackoffPolicyExponential: retry N waits backoffDelay × 2^N.
	BackoffPolicyExponential BackoffPolicyType = "exponential"
)

// FormatType is the CloudEvents content mode a sender uses.
type FormatType string

const (
	// DeliveryFormatJSON asks for structured mode.
	DeliveryFormatJSON FormatType = "json"
	// DeliveryFormatBinary asks for binary mode.
	DeliveryFormatBinary FormatType = "binary"
)

// DeliverySpec is how events are delivered to a destination: retries, backoff, per-attempt
// timeout and the dead-letter sink for events that cannot be delivered. All fields are
// optional; durations are ISO-8601 strings (see ParseDuration).
//
// There is no field-by-field merge of delivery specs: when a Subscription or Trigger sets any
// delivery field, its Channel's or Broker's spec.delivery is ignored for it entirely.
type DeliverySpec struct {
	// DeadLetterSink receives the events that could not be delivered.
	DeadLetterSink *Destination `json:"deadLetterSink,omitempty"`
	// Retry is the minimum number of retries before an event goes to the dead-letter sink.
	Retry *int32 `json:"retry,omitempty"`
	// Timeout bounds each delivery attempt, an ISO-8601 duration greater than zero.
	Timeout *string `json:"timeout,omitempty"`
	// BackoffPolicy is linear or exponential.
	BackoffPolicy *BackoffPolicyType `json:"backoffPolicy,omitempty"`
	// BackoffDelay is the base delay between retries, an ISO-8601 duration such as "PT0.2S".
	BackoffDelay *string `json:"backoffDelay,omitempty"`
	// RetryAfterMax caps the wait a Retry-After header may ask for on 429 and 503 responses;
	// "PT0S" ignores Retry-After headers.
	RetryAfterMax *string `json:"retryAfterMax,omitempty"`
	// Format is the content mode events are sent in: json (structured) or binary.
	Format *FormatType `json:"format,omitempty"`
}

// IsEmpty reports whether d is nil or sets nothing.
func (d *DeliverySpec) IsEmpty() bool {
	return d == nil || *d == DeliverySpec{}
}

// EffectiveDelivery returns the delivery spec that applies to a Subscription or Trigger: its
// own when it sets any field, else its Channel's or Broker's (which may be nil). There is no
// field-by-field merge (Knative control-plane spec, "Event Delivery").
func EffectiveDelivery(own, parent *DeliverySpec) *DeliverySpec {
	if !own.IsEmpty() {
		return own
	}
	return parent
}

// SetDefaults defaults the dead-letter sink's ref namespace.
func (d *DeliverySpec) SetDefaults(parentNamespace string) {
	if d != nil {
		d.DeadLetterSink.SetDefaults(parentNamespace)
	}
}

// Validate checks the delivery spec at path p. parentNamespace is passed to the dead-letter
// sink's validation ("" lets it be in another namespace).
func (d *DeliverySpec) Validate(p *field.Path, parentNamespace string) field.ErrorList {
	if d == nil {
		return nil
	}
	var errs field.ErrorList
	if d.DeadLetterSink != nil {
		errs = append(errs, d.DeadLetterSink.Validate(p.Child("deadLetterSink"), parentNamespace)...)
	}
	if d.Retry != nil && *d.Retry < 0 {
		errs = append(errs, field.Invalid(p.Child("retry"), *d.Retry, "must be greater than or equal to 0"))
	}
	if d.BackoffPolicy != nil {
		switch *d.BackoffPolicy {
		case BackoffPolicyLinear, BackoffPolicyExponential:
		default:
			errs = append(errs, field.NotSupported(p.Child("backoffPolicy"), *d.BackoffPolicy,
				[]string{string(BackoffPolicyLinear), string(BackoffPolicyExponential)}))
		}
	}
	errs = append(errs, ValidateDuration(p.Child("backoffDelay"), d.BackoffDelay, false)...)
	errs = append(errs, ValidateDuration(p.Child("timeout"), d.Timeout, true)...)
	errs = append(errs, ValidateDuration(p.Child("retryAfterMax"), d.RetryAfterMax, false)...)
	if d.Format != nil {
		switch *d.Format {
		case DeliveryFormatJSON, DeliveryFormatBinary:
		default:
			errs = append(errs, field.NotSupported(p.Child("format"), *d.Format,
				[]string{string(DeliveryFormatJSON), string(DeliveryFormatBinary)}))
		}
	}
	return errs
}

// ValidateDuration checks an optional ISO-8601 duration at path p: it must parse and must not
// be negative; with positive set it must also be greater than zero.
func ValidateDuration(p *field.Path, value *string, positive bool) field.ErrorList {
	if value == nil {
		return nil
	}
	d, err := ParseDuration(*value)
	switch {
	case errors.Is(err, ErrDurationRange):
		return field.ErrorList{field.Invalid(p, *value, "must be an ISO-8601 duration of at most 292 years")}
	case err != nil:
		return field.ErrorList{field.Invalid(p, *value, "must be an ISO-8601 duration")}
	case d < 0:
		return field.ErrorList{field.Invalid(p, *value, "must not be negative")}
	case positive && d == 0:
		return field.ErrorList{field.Invalid(p, *value, "must be greater than zero")}
	}
	return nil
}

// BackoffDelayDuration returns the parsed backoffDelay, or 0 when it is not set.
func (d *DeliverySpec) BackoffDelayDuration() (time.Duration, error) {
	if d == nil {
		return 0, nil
	}
	return optionalDuration(d.BackoffDelay)
}

// TimeoutDuration returns the parsed per-attempt timeout, or 0 (no timeout of its own) when it
// is not set.
func (d *DeliverySpec) TimeoutDuration() (time.Duration, error) {
	if d == nil {
		return 0, nil
	}
	return optionalDuration(d.Timeout)
}

// RetryAfterMaxDuration returns the parsed retryAfterMax and whether it is set.
func (d *DeliverySpec) RetryAfterMaxDuration() (time.Duration, bool, error) {
	if d == nil || d.RetryAfterMax == nil {
		return 0, false, nil
	}
	v, err := ParseDuration(*d.RetryAfterMax)
	return v, err == nil, err
}

func optionalDuration(s *string) (time.Duration, error) {
	if s == nil {
		return 0, nil
	}
	return ParseDuration(*s)
}

// DeliveryStatus is the resolved part of a delivery spec, embedded in statuses.
type DeliveryStatus struct {
	// DeadLetterSinkURI is the resolved URL of spec.delivery.deadLetterSink.
	DeadLetterSinkURI string `json:"deadLetterSinkUri,omitempty"`
	// DeadLetterSinkCACerts are the PEM certificates of the dead-letter sink's authorities.
	DeadLetterSinkCACerts *string `json:"deadLetterSinkCACerts,omitempty"`
	// DeadLetterSinkAudience is the OIDC audience of the dead-letter sink.
	DeadLetterSinkAudience *string `json:"deadLetterSinkAudience,omitempty"`
}
