package messaging

import (
	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/duck"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// InMemoryChannel is Knative's default channel kind. Eddy runs it as a Channel on the stub bus,
// which keeps events on disk: nothing is lost on a restart, whatever the name says.
type InMemoryChannel struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              InMemoryChannelSpec   `json:"spec,omitempty"`
	Status            InMemoryChannelStatus `json:"status,omitempty"`
}

// InMemoryChannelSpec is the desired state of an InMemoryChannel: its subscribers and the
// default delivery spec of its subscriptions.
type InMemoryChannelSpec struct {
	duck.ChannelableSpec `json:",inline"`
}

// InMemoryChannelStatus is a Channel's status, with the same conditions.
type InMemoryChannelStatus = ChannelStatus

// GetStatus returns the condition-bearing part of the status.
func (c *InMemoryChannel) GetStatus() *api.Status { return &c.Status.Status }

// Bus returns the default bus (see DefaultBusName), or the stub bus if the bus annotation
// names it.
func (c *InMemoryChannel) Bus() BusRef {
	if r, err := ParseBusRef(c.Annotations[BusAnnotation]); err == nil && r == StubBus {
		return StubBus
	}
	return DefaultBus
}

// StubBus is the built-in stub bus with its default settings.
var StubBus = BusRef{Name: string(BusStub)}

// SetDefaults defaults the namespaces of delivery refs.
func (c *InMemoryChannel) SetDefaults() { c.Spec.ChannelableSpec.SetDefaults(c.Namespace) }

// Validate checks the subscribers and the delivery spec. The bus annotation, if any, must name
// the default or the stub bus.
func (c *InMemoryChannel) Validate() field.ErrorList {
	errs := ValidateBusAnnotation(c.Annotations)
	if v, ok := c.Annotations[BusAnnotation]; ok && len(errs) == 0 {
		if r, _ := ParseBusRef(v); r != DefaultBus && r != StubBus {
			errs = append(errs, field.Invalid(BusAnnotationPath(), v, "an InMemoryChannel runs on the default or the stub bus; use a Channel to choose another"))
		}
	}
	return append(errs, c.Spec.ChannelableSpec.Validate(field.NewPath("spec"), c.Namespace)...)
}

// AsChannel returns the Channel the InMemoryChannel is run as: the same metadata, spec and
// status, with the InMemoryChannel template (so the stub bus). The metadata is copied; the
// spec's and the status's slices are shared with c.
func (c *InMemoryChannel) AsChannel() *Channel {
	ch := &Channel{
		TypeMeta:   metav1.TypeMeta{APIVersion: Group + "/" + Version, Kind: "Channel"},
		ObjectMeta: *c.ObjectMeta.DeepCopy(),
		Spec:       ChannelSpec{ChannelTemplate: DefaultChannelTemplate(), ChannelableSpec: c.Spec.ChannelableSpec},
		Status:     c.Status,
	}
	delete(ch.Annotations, BusAnnotation)
	return ch
}
