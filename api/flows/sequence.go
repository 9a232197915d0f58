package flows

import (
	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/duck"
	"github.com/eddyplatform/eddy/api/messaging"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Group is the API group of this package's kinds.
const Group = "flows.knative.dev"

// Version is the served and stored version of this package's kinds.
const Version = "v1"

// Sequence passes events through its steps in order: each step's reply is sent to the next
// step, and the last step's reply to spec.reply.
type Sequence struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              SequenceSpec   `json:"spec,omitempty"`
	Status            SequenceStatus `json:"status,omitempty"`
}

// SequenceSpec is the desired state of a Sequence.
type SequenceSpec struct {
	// Steps are called in order; at least one.
	Steps []SequenceStep `json:"steps"`
	// ChannelTemplate is the kind of the channels between the steps; defaulted to
	// InMemoryChannel.
	ChannelTemplate *messaging.ChannelTemplateSpec `json:"channelTemplate,omitempty"`
	// Reply receives the last step's replies.
	Reply *duck.Destination `json:"reply,omitempty"`
}

// SequenceStep is one step: a destination and its delivery spec.
type SequenceStep struct {
	duck.Destination `json:",inline"`
	// Delivery is the delivery spec of events sent to this step.
	Delivery *duck.DeliverySpec `json:"delivery,omitempty"`
}

// SequenceChannelStatus is the state of a channel created for a step.
type SequenceChannelStatus struct {
	// Channel refers to the channel.
	Channel corev1.ObjectReference `json:"channel"`
	// ReadyCondition is the channel's Ready condition.
	ReadyCondition api.Condition `json:"ready"`
}

// SequenceSubscriptionStatus is the state of a subscription created for a step.
type SequenceSubscriptionStatus struct {
	// Subscription refers to the subscription.
	Subscription corev1.ObjectReference `json:"subscription"`
	// ReadyCondition is the subscription's Ready condition.
	ReadyCondition api.Condition `json:"ready"`
}

// SequenceStatus is the observed state of a Sequence.
type SequenceStatus struct {
	api.Status `json:",inline"`
	// SubscriptionStatuses are the states of the steps' subscriptions, in step order.
	SubscriptionStatuses []SequenceSubscriptionStatus `json:"subscriptionStatuses"`
	// ChannelStatuses are the states of the steps' channels, in step order.
	ChannelStatuses []SequenceChannelStatus `json:"channelStatuses"`
	// AddressStatus is the address of the first channel: where to send events.
	duck.AddressStatus `json:",inline"`
}

// GetStatus returns the condition-bearing part of the status.
func (s *Sequence) GetStatus() *api.Status { return &s.Status.Status }

// SetDefaults fills the channel template and the namespaces of destination refs.
func (s *Sequence) SetDefaults() {
	if s.Spec.ChannelTemplate == nil {
		s.Spec.ChannelTemplate = messaging.DefaultChannelTemplate()
	}
	for i := range s.Spec.Steps {
		s.Spec.Steps[i].Destination.SetDefaults(s.Namespace)
		s.Spec.Steps[i].Delivery.SetDefaults(s.Namespace)
	}
	s.Spec.Reply.SetDefaults(s.Namespace)
}

// Validate checks the steps (at least one, each a valid destination), the channel template and
// the reply.
func (s *Sequence) Validate() field.ErrorList {
	sp := field.NewPath("spec")
	errs := messaging.ValidateBusAnnotation(s.Annotations)
	if len(s.Spec.Steps) == 0 {
		errs = append(errs, field.Required(sp.Child("steps"), "at least one step"))
	}
	for i := range s.Spec.Steps {
		step := &s.Spec.Steps[i]
		p := sp.Child("steps").Index(i)
		errs = append(errs, step.Destination.Validate(p, s.Namespace)...)
		errs = append(errs, step.Delivery.Validate(p.Child("delivery"), s.Namespace)...)
	}
	errs = append(errs, validateChannelTemplate(sp.Child("channelTemplate"), s.Spec.ChannelTemplate, s.Annotations)...)
	if !s.Spec.Reply.IsEmpty() {
		errs = append(errs, s.Spec.Reply.Validate(sp.Child("reply"), s.Namespace)...)
	}
	return errs
}

// validateChannelTemplate checks a flow's channel template: required, apiVersion and kind set,
// and a kind with a known bus unless the bus annotation names one.
func validateChannelTemplate(p *field.Path, t *messaging.ChannelTemplateSpec, annotations map[string]string) field.ErrorList {
	if t == nil {
		return field.ErrorList{field.Required(p, "")}
	}
	errs := t.Validate(p)
	if _, annotated := annotations[messaging.BusAnnotation]; len(errs) == 0 && !annotated {
		if _, known := messaging.ChannelTemplateBus(t); !known {
			errs = append(errs, field.NotSupported(p.Child("kind"), t.Kind, messaging.TemplateKinds()))
		}
	}
	return errs
}

// The conditions of Sequence and Parallel.
const (
	// ConditionChannelsReady is True when every channel created for the flow is Ready.
	ConditionChannelsReady api.ConditionType = "ChannelsReady"
	// ConditionSubscriptionsReady is True when every subscription created for the flow is Ready.
	ConditionSubscriptionsReady api.ConditionType = "SubscriptionsReady"
	// ConditionAddressable is True when status.address.url is set.
	ConditionAddressable api.ConditionType = "Addressable"
)

// ConditionSet is the condition set of Sequence and Parallel.
var ConditionSet = api.NewLivingConditionSet(ConditionChannelsReady, ConditionSubscriptionsReady, ConditionAddressable)

// InitializeConditions sets every missing condition to Unknown.
func (s *SequenceStatus) InitializeConditions() {
	ConditionSet.Manage(&s.Status).InitializeConditions()
}

// IsReady reports whether Ready is True.
func (s *SequenceStatus) IsReady() bool { return ConditionSet.Manage(&s.Status).IsHappy() }

// PropagateChannelStatuses records the steps' channels and sets ChannelsReady: True when there
// is at least one and all are Ready.
func (s *SequenceStatus) PropagateChannelStatuses(channels []SequenceChannelStatus) {
	s.ChannelStatuses = channels
	conds := make([]api.Condition, len(channels))
	for i, c := range channels {
		conds[i] = c.ReadyCondition
	}
	markAll(&s.Status, ConditionChannelsReady, conds, "ChannelsNotReady", "channels")
}

// PropagateSubscriptionStatuses records the steps' subscriptions and sets SubscriptionsReady:
// True when there is at least one and all are Ready.
func (s *SequenceStatus) PropagateSubscriptionStatuses(subs []SequenceSubscriptionStatus) {
	s.SubscriptionStatuses = subs
	conds := make([]api.Condition, len(subs))
	for i, c := range subs {
		conds[i] = c.ReadyCondition
	}
	markAll(&s.Status, ConditionSubscriptionsReady, conds, "SubscriptionsNotReady", "subscriptions")
}

// SetAddress sets status.address to url (the first channel's) and Addressable accordingly.
func (s *SequenceStatus) SetAddress(url string) { setAddress(&s.Status, &s.AddressStatus, url) }

// markAll sets t to True when conds is not empty and every one is True, else to False with the
// first failing condition's message.
func markAll(s *api.Status, t api.ConditionType, conds []api.Condition, reason, what string) {
	m := ConditionSet.Manage(s)
	if len(conds) == 0 {
		m.MarkFalse(t, reason, "there are no %s yet", what)
		return
	}
	for i, c := range conds {
		if !c.IsTrue() {
			msg := c.Message
			if msg == "" {
				msg = "not ready"
			}
			m.MarkFalse(t, reason, "%s %d of %d: %s", what, i+1, len(conds), msg)
			return
		}
	}
	m.MarkTrue(t)
}

func setAddress(s *api.Status, a *duck.AddressStatus, url string) {
	a.SetURL(url)
	if url == "" {
		ConditionSet.Manage(s).MarkFalse(ConditionAddressable, "EmptyAddress", "the first channel has no address yet")
		return
	}
	ConditionSet.Manage(s).MarkTrue(ConditionAddressable)
}
