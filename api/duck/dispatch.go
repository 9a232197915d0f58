package duck

import (
	"fmt"
	"strconv"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Annotations of a Subscription or Trigger that tune how its events are dispatched.
const (
	// DeliveryOrderAnnotation is "ordered" (one event in flight per partition key, the
	// CloudEvents partitionkey extension, in publish order) or "unordered" (the default). The
	// name is Knative's, from its Kafka broker and channel.
	DeliveryOrderAnnotation = "kafka.eventing.knative.dev/delivery.order"
	// MaxInFlightAnnotation caps the events being delivered to the subscriber at once,
	// retries included: a positive integer. Unset means the bus's default.
	MaxInFlightAnnotation = "eventing.eddy.dev/max-in-flight"
)

// The values of DeliveryOrderAnnotation.
const (
	DeliveryOrdered   = "ordered"
	DeliveryUnordered = "unordered"
)

// maxInFlightLimit bounds MaxInFlightAnnotation.
const maxInFlightLimit = 1 << 16

// DispatchOptions are what the dispatch annotations ask for.
type DispatchOptions struct {
	// Ordered is DeliveryOrderAnnotation: "ordered".
	Ordered bool
	// MaxInFlight is MaxInFlightAnnotation, 0 when unset.
	MaxInFlight int
}

// ParseDispatchOptions reads the dispatch annotations among annotations. Errors name the
// annotation's field path.
func ParseDispatchOptions(annotations map[string]string) (DispatchOptions, field.ErrorList) {
	var o DispatchOptions
	var errs field.ErrorList
	p := field.NewPath("metadata", "annotations")
	if v, ok := annotations[DeliveryOrderAnnotation]; ok {
		switch v {
		case DeliveryOrdered:
			o.Ordered = true
		case DeliveryUnordered:
		default:
			errs = append(errs, field.NotSupported(p.Key(DeliveryOrderAnnotation), v, []string{DeliveryOrdered, DeliveryUnordered}))
		}
	}
	if v, ok := annotations[MaxInFlightAnnotation]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxInFlightLimit {
			errs = append(errs, field.Invalid(p.Key(MaxInFlightAnnotation), v, fmt.Sprintf("must be an integer from 1 to %d", maxInFlightLimit)))
		} else {
			o.MaxInFlight = n
		}
	}
	return o, errs
}
