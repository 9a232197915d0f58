package messaging

import (
	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/duck"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Group is the API group of this package's kinds.
const Group = "messaging.knative.dev"

// Version is the served and stored version of this package's kinds.
const Version = "v1"

// ChannelTemplateSpec names the channel kind a Channel (or a Sequence's, Parallel's or
// Broker's channels) is made of, and the spec passed to it verbatim.
type ChannelTemplateSpec struct {
	metav1.TypeMeta `json:",inline"`
	// Spec is passed verbatim to channels made from the template.
	Spec *runtime.RawExtension `json:"spec,omitempty"`
}

// DefaultChannelTemplate returns the template of Knative's default channel,
// messaging.knative.dev/v1 InMemoryChannel, which Eddy carries on the stub bus.
func DefaultChannelTemplate() *ChannelTemplateSpec {
	return &ChannelTemplateSpec{TypeMeta: metav1.TypeMeta{APIVersion: Group + "/" + Version, Kind: "InMemoryChannel"}}
}

// Validate checks that the template names a kind (apiVersion and kind are required), at path p.
func (t *ChannelTemplateSpec) Validate(p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if t.APIVersion == "" {
		errs = append(errs, field.Required(p.Child("apiVersion"), ""))
	}
	if t.Kind == "" {
		errs = append(errs, field.Required(p.Child("kind"), ""))
	}
	return errs
}

// Channel is a generic channel: events sent to its address are delivered to each of its
// subscribers. Which bus carries them is decided by the bus annotation or the channel
// template (see the package documentation).
type Channel struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              ChannelSpec   `json:"spec,omitempty"`
	Status            ChannelStatus `json:"status,omitempty"`
}

// ChannelSpec is the desired state of a Channel.
type ChannelSpec struct {
	// ChannelTemplate names the channel kind, and so the bus, when the bus annotation does
	// not. Defaulted to InMemoryChannel; immutable.
	ChannelTemplate      *ChannelTemplateSpec `json:"channelTemplate"`
	duck.ChannelableSpec `json:",inline"`
}

// ChannelStatus is the observed state of a Channel (and of an InMemoryChannel).
type ChannelStatus struct {
	duck.ChannelableStatus `json:",inline"`
	// Channel is Knative's reference to the backing channel object. Eddy creates none, so it
	// stays empty.
	Channel *duck.KReference `json:"channel,omitempty"`
}

// GetStatus returns the condition-bearing part of the status.
func (c *Channel) GetStatus() *api.Status { return &c.Status.Status }

// Bus returns the bus the channel runs on: the bus annotation, else its template's bus, else
// DefaultBus. An unparsable annotation yields DefaultBus; validation rejects it.
func (c *Channel) Bus() BusRef {
	if v, ok := c.Annotations[BusAnnotation]; ok {
		if r, err := ParseBusRef(v); err == nil {
			return r
		}
		return DefaultBus
	}
	if r, ok := ChannelTemplateBus(c.Spec.ChannelTemplate); ok {
		return r
	}
	return DefaultBus
}

// SetDefaults fills spec.channelTemplate with InMemoryChannel when neither it nor the bus
// annotation is set, and defaults the namespaces of delivery refs.
func (c *Channel) SetDefaults() {
	if c.Spec.ChannelTemplate == nil {
		if _, ok := c.Annotations[BusAnnotation]; !ok {
			c.Spec.ChannelTemplate = DefaultChannelTemplate()
		}
	}
	c.Spec.ChannelableSpec.SetDefaults(c.Namespace)
}

// Validate checks the bus annotation, the channel template, the subscribers and the delivery
// spec.
func (c *Channel) Validate() field.ErrorList {
	errs := ValidateBusAnnotation(c.Annotations)
	sp := field.NewPath("spec")
	_, annotated := c.Annotations[BusAnnotation]
	switch t := c.Spec.ChannelTemplate; {
	case t == nil && !annotated:
		errs = append(errs, field.Required(sp.Child("channelTemplate"), "or name a bus with the "+BusAnnotation+" annotation"))
	case t != nil:
		terrs := t.Validate(sp.Child("channelTemplate"))
		errs = append(errs, terrs...)
		if _, known := ChannelTemplateBus(t); len(terrs) == 0 && !known && !annotated {
			errs = append(errs, field.NotSupported(sp.Child("channelTemplate", "kind"), t.Kind+"."+groupOf(t.APIVersion), TemplateKinds()))
		}
	}
	return append(errs, c.Spec.ChannelableSpec.Validate(sp, c.Namespace)...)
}

// ValidateUpdate rejects a change of spec.channelTemplate or of the bus annotation.
func (c *Channel) ValidateUpdate(old *Channel) field.ErrorList {
	errs := apivalidation.ValidateImmutableField(c.Spec.ChannelTemplate, old.Spec.ChannelTemplate, field.NewPath("spec", "channelTemplate"))
	return append(errs, validateImmutableAnnotation(c.Annotations, old.Annotations, BusAnnotation)...)
}

// validateImmutableAnnotation rejects a change (including adding or removing) of annotation key.
func validateImmutableAnnotation(updated, old map[string]string, key string) field.ErrorList {
	nv, nok := updated[key]
	ov, ook := old[key]
	if nv == ov && nok == ook {
		return nil
	}
	return field.ErrorList{field.Invalid(field.NewPath("metadata", "annotations").Key(key), nv, "field is immutable (was "+quoteOrUnset(ov, ook)+")")}
}

func quoteOrUnset(v string, ok bool) string {
	if !ok {
		return "unset"
	}
	return `"` + v + `"`
}

// The conditions of Channel and InMemoryChannel.
const (
	// ChannelConditionBackingChannelReady is True when the channel's topic exists on its bus.
	ChannelConditionBackingChannelReady api.ConditionType = "BackingChannelReady"
	// ChannelConditionAddressable is True when status.address.url is set.
	ChannelConditionAddressable api.ConditionType = "Addressable"
	// ChannelConditionDeadLetterSinkResolved is True when the dead-letter sink resolved, or
	// when there is none.
	ChannelConditionDeadLetterSinkResolved api.ConditionType = "DeadLetterSinkResolved"
)

// ChannelConditionSet is the condition set of Channel and InMemoryChannel.
var ChannelConditionSet = api.NewLivingConditionSet(
	ChannelConditionBackingChannelReady,
	ChannelConditionAddressable,
	ChannelConditionDeadLetterSinkResolved,
)

func (s *ChannelStatus) manage() *api.ConditionManager { return ChannelConditionSet.Manage(&s.Status) }

// InitializeConditions sets every missing condition to Unknown.
func (s *ChannelStatus) InitializeConditions() { s.manage().InitializeConditions() }

// IsReady reports whether Ready is True.
func (s *ChannelStatus) IsReady() bool { return s.manage().IsHappy() }

// SetAddress sets status.address to url and Addressable to True, or clears it and sets
// Addressable to False when url is empty.
func (s *ChannelStatus) SetAddress(url string) {
	s.AddressStatus.SetURL(url)
	if url == "" {
		s.manage().MarkFalse(ChannelConditionAddressable, "EmptyHostname", "the channel has no address yet")
		return
	}
	s.manage().MarkTrue(ChannelConditionAddressable)
}

// MarkBackingChannelReady records that the channel's topic exists on its bus.
func (s *ChannelStatus) MarkBackingChannelReady() {
	s.manage().MarkTrue(ChannelConditionBackingChannelReady)
}

// MarkBackingChannelFailed records why the channel's topic could not be set up.
func (s *ChannelStatus) MarkBackingChannelFailed(reason, format string, args ...any) {
	s.manage().MarkFalse(ChannelConditionBackingChannelReady, reason, format, args...)
}

// MarkBackingChannelUnknown records that the topic is being set up.
func (s *ChannelStatus) MarkBackingChannelUnknown(reason, format string, args ...any) {
	s.manage().MarkUnknown(ChannelConditionBackingChannelReady, reason, format, args...)
}

// MarkDeadLetterSinkResolvedSucceeded records the resolved dead-letter sink URL.
func (s *ChannelStatus) MarkDeadLetterSinkResolvedSucceeded(uri string) {
	s.DeadLetterSinkURI = uri
	s.manage().MarkTrue(ChannelConditionDeadLetterSinkResolved)
}

// MarkDeadLetterSinkNotConfigured records that the channel has no dead-letter sink, which is
// fine: DeadLetterSinkResolved is True.
func (s *ChannelStatus) MarkDeadLetterSinkNotConfigured() {
	s.DeliveryStatus = duck.DeliveryStatus{}
	s.manage().MarkTrue(ChannelConditionDeadLetterSinkResolved)
}

// MarkDeadLetterSinkResolvedFailed records why the dead-letter sink did not resolve.
func (s *ChannelStatus) MarkDeadLetterSinkResolvedFailed(reason, format string, args ...any) {
	s.DeliveryStatus = duck.DeliveryStatus{}
	s.manage().MarkFalse(ChannelConditionDeadLetterSinkResolved, reason, format, args...)
}

// MarkDeadLetterSinkResolvedUnknown records that the dead-letter sink is being resolved.
func (s *ChannelStatus) MarkDeadLetterSinkResolvedUnknown(reason, format string, args ...any) {
	s.DeliveryStatus = duck.DeliveryStatus{}
	s.manage().MarkUnknown(ChannelConditionDeadLetterSinkResolved, reason, format, args...)
}
