// Package duck holds the shapes that Knative's eventing kinds share ("duck types"): where
// events go (Destination, KReference), how a resource says where it can be reached
// (Addressable, AddressStatus), how delivery is retried and dead-lettered (DeliverySpec,
// DeliveryStatus), how a channel lists its subscribers (SubscriberSpec, SubscriberStatus) and
// how a source reports its sink (SourceSpec, SourceStatus).
//
// The JSON field names are Knative's (knative.dev/pkg/apis/duck/v1 and
// knative.dev/eventing/pkg/apis/duck/v1), so Knative YAML decodes strictly into these types.
// URLs are kept as the strings the user wrote: validation parses them and reports a malformed
// one with its field path, where a typed URL would fail the whole decode.
//
// Validation functions take the field path of the value they check and return a
// field.ErrorList whose paths start at the object's root, such as
// "spec.delivery.backoffDelay: Invalid value: "5s": must be an ISO-8601 duration".
//
// Durations in delivery specs are ISO-8601 durations ("PT0.2S", "PT1M", "P1D"). ParseDuration
// reads them into time.Duration and FormatDuration writes them back.
//
// Nothing here resolves a reference into a URL: that needs the store and belongs to the
// reconcilers.
package duck
