package messaging

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// BusAnnotation names the bus a Channel or a Broker runs on; its value is a BusRef.
const BusAnnotation = "messaging.knative.dev/bus"

// ArgumentsAnnotation carries the arguments of a channel or subscription converted from
// channels.knative.dev/v1alpha1, as the JSON of a list of {"name", "value"} objects. The bus
// reads them as per-channel (or per-subscription) settings, checked against the parameters the
// Bus or ClusterBus declares.
const ArgumentsAnnotation = "channels.knative.dev/arguments"

// BusType is a bus backend.
type BusType string

// The bus backends.
const (
	BusStub     BusType = "stub"
	BusKafka    BusType = "kafka"
	BusRabbitMQ BusType = "rabbitmq"
	BusPubSub   BusType = "pubsub"
	BusNATS     BusType = "nats"
)

// BusTypes lists every bus backend.
var BusTypes = []BusType{BusStub, BusKafka, BusRabbitMQ, BusPubSub, BusNATS}

// IsValid reports whether t is one of BusTypes.
func (t BusType) IsValid() bool {
	for _, b := range BusTypes {
		if t == b {
			return true
		}
	}
	return false
}

// BusTypeNames returns BusTypes as strings, for error messages.
func BusTypeNames() []string {
	out := make([]string, len(BusTypes))
	for i, b := range BusTypes {
		out[i] = string(b)
	}
	return out
}

// The kinds a BusRef may name.
const (
	KindBus        = "Bus"
	KindClusterBus = "ClusterBus"
)

// BusRef names a bus: Kind "Bus" is a Bus in the referring object's namespace, Kind
// "ClusterBus" a ClusterBus, and an empty Kind the ClusterBus Name if it exists, else the
// built-in bus of type Name with default settings ("default" is the default bus: see
// DefaultBusName).
type BusRef struct {
	// Kind is KindBus, KindClusterBus or "".
	Kind string
	// Name is the bus's name, or a BusType when Kind is "" and no ClusterBus has that name.
	Name string
}

// DefaultBusName names the default bus: the ClusterBus "default" if one exists, else the bus
// Eddy was started with (`eddy up --bus`, the stub bus unless told otherwise).
const DefaultBusName = "default"

// DefaultBus is the bus of a channel or broker that names none, and of every InMemoryChannel.
var DefaultBus = BusRef{Name: DefaultBusName}

// String writes the ref as the annotation holds it: "Bus/NAME", "ClusterBus/NAME" or "NAME".
func (r BusRef) String() string {
	if r.Kind == "" {
		return r.Name
	}
	return r.Kind + "/" + r.Name
}

// ParseBusRef reads the value of the bus annotation.
func ParseBusRef(s string) (BusRef, error) {
	var r BusRef
	if kind, name, ok := strings.Cut(s, "/"); ok {
		if kind != KindBus && kind != KindClusterBus {
			return r, fmt.Errorf("must be NAME, Bus/NAME or ClusterBus/NAME, not %s/…", kind)
		}
		r = BusRef{Kind: kind, Name: name}
	} else {
		r = BusRef{Name: s}
	}
	if r.Name == "" {
		return r, fmt.Errorf("must name a bus: NAME, Bus/NAME or ClusterBus/NAME")
	}
	if msgs := validation.IsDNS1123Subdomain(r.Name); len(msgs) > 0 {
		return r, fmt.Errorf("bus name %q: %s", r.Name, strings.Join(msgs, "; "))
	}
	return r, nil
}

// ValidateBusAnnotation checks the bus annotation among annotations, if present; the error
// path is metadata.annotations[messaging.knative.dev/bus].
func ValidateBusAnnotation(annotations map[string]string) field.ErrorList {
	v, ok := annotations[BusAnnotation]
	if !ok {
		return nil
	}
	if _, err := ParseBusRef(v); err != nil {
		return field.ErrorList{field.Invalid(BusAnnotationPath(), v, err.Error())}
	}
	return nil
}

// BusAnnotationPath is the field path of the bus annotation.
func BusAnnotationPath() *field.Path {
	return field.NewPath("metadata", "annotations").Key(BusAnnotation)
}

// templateBuses maps channel kinds to the bus that carries them: Knative's default channel
// kind, InMemoryChannel, to Eddy's default bus.
var templateBuses = map[schema.GroupKind]string{
	{Group: Group, Kind: "InMemoryChannel"}:                DefaultBusName,
	{Group: Group, Kind: "KafkaChannel"}:                   string(BusKafka),
	{Group: Group, Kind: "NatssChannel"}:                   string(BusNATS),
	{Group: Group, Kind: "NatsJetStreamChannel"}:           string(BusNATS),
	{Group: "messaging.cloud.google.com", Kind: "Channel"}: string(BusPubSub),
}

// TemplateKinds lists the channel kinds a channelTemplate may name without a bus annotation.
func TemplateKinds() []string {
	var out []string
	for gk := range templateBuses {
		out = append(out, gk.Kind+"."+gk.Group)
	}
	sortStrings(out)
	return out
}

// ChannelTemplateBus returns the bus that carries channels of the template's kind, and false
// for a kind Eddy does not know.
func ChannelTemplateBus(t *ChannelTemplateSpec) (BusRef, bool) {
	if t == nil {
		return BusRef{}, false
	}
	gv, err := schema.ParseGroupVersion(t.APIVersion)
	if err != nil {
		return BusRef{}, false
	}
	b, ok := templateBuses[schema.GroupKind{Group: gv.Group, Kind: t.Kind}]
	if !ok {
		return BusRef{}, false
	}
	return BusRef{Name: b}, true
}
