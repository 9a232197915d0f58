package channelsv1alpha1

import (
	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/messaging"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Group is the API group of the 2018 kinds.
const Group = "channels.knative.dev"

// Version is their only, and storage, version.
const Version = "v1alpha1"

// Channel is a 2018 channel: a named endpoint on a Bus or ClusterBus.
type Channel struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              ChannelSpec `json:"spec"`
	// Status is the v1 Channel status: the channel is run as its v1 form (see ToV1).
	Status messaging.ChannelStatus `json:"status,omitempty"`
}

// ChannelSpec names the bus of a 2018 channel and its arguments.
type ChannelSpec struct {
	// Bus names a Bus in the channel's namespace.
	Bus string `json:"bus,omitempty"`
	// ClusterBus names a ClusterBus; it excludes Bus. With neither, the channel is on the
	// default (stub) bus.
	ClusterBus string `json:"clusterBus,omitempty"`
	// Arguments fulfil the bus's channel parameters.
	Arguments *[]Argument `json:"arguments,omitempty"`
}

// GetStatus returns the condition-bearing part of the status.
func (c *Channel) GetStatus() *api.Status { return &c.Status.Status }

// BusRef returns the bus the channel names: "Bus/NAME", "ClusterBus/NAME", the bus
// annotation, or the default bus.
func (c *Channel) BusRef() messaging.BusRef {
	switch {
	case c.Spec.Bus != "":
		return messaging.BusRef{Kind: messaging.KindBus, Name: c.Spec.Bus}
	case c.Spec.ClusterBus != "":
		return messaging.BusRef{Kind: messaging.KindClusterBus, Name: c.Spec.ClusterBus}
	}
	if v, ok := c.Annotations[messaging.BusAnnotation]; ok {
		if r, err := messaging.ParseBusRef(v); err == nil {
			return r
		}
	}
	return messaging.DefaultBus
}

// Validate checks the bus names (at most one of bus and clusterBus, and not with the bus
// annotation) and the arguments.
func (c *Channel) Validate() field.ErrorList {
	sp := field.NewPath("spec")
	errs := messaging.ValidateBusAnnotation(c.Annotations)
	switch {
	case c.Spec.Bus != "" && c.Spec.ClusterBus != "":
		errs = append(errs, field.Invalid(sp.Child("clusterBus"), c.Spec.ClusterBus, "set bus or clusterBus, not both"))
	case c.Spec.Bus != "" || c.Spec.ClusterBus != "":
		if _, ok := c.Annotations[messaging.BusAnnotation]; ok {
			errs = append(errs, field.Invalid(messaging.BusAnnotationPath(), c.Annotations[messaging.BusAnnotation],
				"name the bus with spec.bus or spec.clusterBus, or with the annotation, not both"))
		}
	}
	for name, v := range map[string]string{"bus": c.Spec.Bus, "clusterBus": c.Spec.ClusterBus} {
		if v == "" {
			continue
		}
		for _, msg := range validation.IsDNS1123Subdomain(v) {
			errs = append(errs, field.Invalid(sp.Child(name), v, msg))
		}
	}
	return append(errs, validateArguments(sp.Child("arguments"), c.Spec.Arguments)...)
}

// ValidateUpdate rejects a change of the bus (spec.bus, spec.clusterBus): the 2018 API made
// every field but the arguments immutable.
func (c *Channel) ValidateUpdate(old *Channel) field.ErrorList {
	sp := field.NewPath("spec")
	errs := apivalidation.ValidateImmutableField(c.Spec.Bus, old.Spec.Bus, sp.Child("bus"))
	errs = append(errs, apivalidation.ValidateImmutableField(c.Spec.ClusterBus, old.Spec.ClusterBus, sp.Child("clusterBus"))...)
	if c.Spec.Bus == "" && c.Spec.ClusterBus == "" {
		nv, ov := c.Annotations[messaging.BusAnnotation], old.Annotations[messaging.BusAnnotation]
		errs = append(errs, apivalidation.ValidateImmutableField(nv, ov, messaging.BusAnnotationPath())...)
	}
	return errs
}

// ToV1 returns the messaging.knative.dev/v1 Channel this channel runs as: a deep copy of the
// metadata, the bus as the bus annotation, the arguments as messaging.ArgumentsAnnotation,
// the v1 defaults applied, and a copy of the status (same type).
func (c *Channel) ToV1() *messaging.Channel {
	v1 := &messaging.Channel{
		TypeMeta:   metav1.TypeMeta{APIVersion: messaging.Group + "/" + messaging.Version, Kind: "Channel"},
		ObjectMeta: *c.ObjectMeta.DeepCopy(),
	}
	if c.Spec.Bus != "" || c.Spec.ClusterBus != "" {
		if v1.Annotations == nil {
			v1.Annotations = map[string]string{}
		}
		v1.Annotations[messaging.BusAnnotation] = c.BusRef().String()
	}
	setArgumentsAnnotation(&v1.Annotations, c.Spec.Arguments)
	v1.Status = copyChannelStatus(c.Status)
	v1.SetDefaults()
	return v1
}
