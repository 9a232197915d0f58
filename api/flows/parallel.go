package flows

import (
	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/duck"
	"github.com/eddyplatform/eddy/api/messaging"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Parallel sends every event to each of its branches: through the branch's filter (when it
// has one) to its subscriber, whose reply goes to the branch's reply, else to spec.reply.
type Parallel struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              ParallelSpec   `json:"spec,omitempty"`
	Status            ParallelStatus `json:"status,omitempty"`
}

// ParallelSpec is the desired state of a Parallel.
type ParallelSpec struct {
	// Branches are the filter and subscriber pairs; at least one.
	Branches []ParallelBranch `json:"branches"`
	// ChannelTemplate is the kind of the channels the Parallel is made of; defaulted to
	// InMemoryChannel.
	ChannelTemplate *messaging.ChannelTemplateSpec `json:"channelTemplate"`
	// Reply receives the replies of branches that have no reply of their own.
	Reply *duck.Destination `json:"reply,omitempty"`
}

// ParallelBranch is one branch of a Parallel.
type ParallelBranch struct {
	// Filter guards the branch: an event goes on to the subscriber when the filter answers
	// with an event.
	Filter *duck.Destination `json:"filter,omitempty"`
	// Subscriber receives the events that pass the filter. Required.
	Subscriber duck.Destination `json:"subscriber"`
	// Reply receives the subscriber's replies; without it, spec.reply does.
	Reply *duck.Destination `json:"reply,omitempty"`
	// Delivery is the delivery spec of events sent to the subscriber.
	Delivery *duck.DeliverySpec `json:"delivery,omitempty"`
}

// ParallelStatus is the observed state of a Parallel.
type ParallelStatus struct {
	api.Status `json:",inline"`
	// IngressChannelStatus is the state of the channel events enter by.
	IngressChannelStatus ParallelChannelStatus `json:"ingressChannelStatus"`
	// BranchStatuses are the states of the branches, in branch order.
	BranchStatuses []ParallelBranchStatus `json:"branchStatuses"`
	// AddressStatus is the ingress channel's address: where to send events.
	duck.AddressStatus `json:",inline"`
}

// ParallelBranchStatus is the state of one branch.
type ParallelBranchStatus struct {
	// FilterSubscriptionStatus is the state of the subscription to the filter.
	FilterSubscriptionStatus ParallelSubscriptionStatus `json:"filterSubscriptionStatus"`
	// FilterChannelStatus is the state of the channel after the filter.
	FilterChannelStatus ParallelChannelStatus `json:"filterChannelStatus"`
	// SubscriptionStatus is the state of the subscription to the subscriber.
	SubscriptionStatus ParallelSubscriptionStatus `json:"subscriberSubscriptionStatus"`
}

// ParallelChannelStatus is the state of a channel created for a Parallel.
type ParallelChannelStatus struct {
	// Channel refers to the channel.
	Channel corev1.ObjectReference `json:"channel"`
	// ReadyCondition is the channel's Ready condition.
	ReadyCondition api.Condition `json:"ready"`
}

// ParallelSubscriptionStatus is the state of a subscription created for a Parallel.
type ParallelSubscriptionStatus struct {
	// Subscription refers to the subscription.
	Subscription corev1.ObjectReference `json:"subscription"`
	// ReadyCondition is the subscription's Ready condition.
	ReadyCondition api.Condition `json:"ready"`
}

// GetStatus returns the condition-bearing part of the status.
func (p *Parallel) GetStatus() *api.Status { return &p.Status.Status }

// SetDefaults fills the channel template and the namespaces of destination refs.
func (p *Parallel) SetDefaults() {
	if p.Spec.ChannelTemplate == nil {
		p.Spec.ChannelTemplate = messaging.DefaultChannelTemplate()
	}
	for i := range p.Spec.Branches {
		b := &p.Spec.Branches[i]
		b.Filter.SetDefaults(p.Namespace)
		b.Subscriber.SetDefaults(p.Namespace)
		b.Reply.SetDefaults(p.Namespace)
		b.Delivery.SetDefaults(p.Namespace)
	}
	p.Spec.Reply.SetDefaults(p.Namespace)
}

// Validate checks the branches (at least one; each with a subscriber), the channel template and
// the reply.
func (p *Parallel) Validate() field.ErrorList {
	sp := field.NewPath("spec")
	errs := messaging.ValidateBusAnnotation(p.Annotations)
	if len(p.Spec.Branches) == 0 {
		errs = append(errs, field.Required(sp.Child("branches"), "at least one branch"))
	}
	for i := range p.Spec.Branches {
		b := &p.Spec.Branches[i]
		bp := sp.Child("branches").Index(i)
		if !b.Filter.IsEmpty() {
			errs = append(errs, b.Filter.Validate(bp.Child("filter"), p.Namespace)...)
		}
		errs = append(errs, b.Subscriber.Validate(bp.Child("subscriber"), p.Namespace)...)
		if !b.Reply.IsEmpty() {
			errs = append(errs, b.Reply.Validate(bp.Child("reply"), p.Namespace)...)
		}
		errs = append(errs, b.Delivery.Validate(bp.Child("delivery"), p.Namespace)...)
	}
	errs = append(errs, validateChannelTemplate(sp.Child("channelTemplate"), p.Spec.ChannelTemplate, p.Annotations)...)
	if !p.Spec.Reply.IsEmpty() {
		errs = append(errs, p.Spec.Reply.Validate(sp.Child("reply"), p.Namespace)...)
	}
	return errs
}

// InitializeConditions sets every missing condition to Unknown.
func (s *ParallelStatus) InitializeConditions() {
	ConditionSet.Manage(&s.Status).InitializeConditions()
}

// IsReady reports whether Ready is True.
func (s *ParallelStatus) IsReady() bool { return ConditionSet.Manage(&s.Status).IsHappy() }

// PropagateChannelStatuses records the ingress channel and each branch's filter channel, and
// sets ChannelsReady: True when all are Ready.
func (s *ParallelStatus) PropagateChannelStatuses(ingress ParallelChannelStatus, branches []ParallelChannelStatus) {
	s.IngressChannelStatus = ingress
	s.resizeBranches(len(branches))
	conds := []api.Condition{ingress.ReadyCondition}
	for i, c := range branches {
		s.BranchStatuses[i].FilterChannelStatus = c
		conds = append(conds, c.ReadyCondition)
	}
	markAll(&s.Status, ConditionChannelsReady, conds, "ChannelsNotReady", "channels")
}

// PropagateSubscriptionStatuses records each branch's filter and subscriber subscriptions
// (filters[i] and subscribers[i] belong to branch i) and sets SubscriptionsReady: True when
// there is at least one branch and all are Ready.
func (s *ParallelStatus) PropagateSubscriptionStatuses(filters, subscribers []ParallelSubscriptionStatus) {
	s.resizeBranches(max(len(filters), len(subscribers)))
	var conds []api.Condition
	for i, f := range filters {
		s.BranchStatuses[i].FilterSubscriptionStatus = f
		conds = append(conds, f.ReadyCondition)
	}
	for i, sub := range subscribers {
		s.BranchStatuses[i].SubscriptionStatus = sub
		conds = append(conds, sub.ReadyCondition)
	}
	markAll(&s.Status, ConditionSubscriptionsReady, conds, "SubscriptionsNotReady", "subscriptions")
}

func (s *ParallelStatus) resizeBranches(n int) {
	if len(s.BranchStatuses) != n {
		bs := make([]ParallelBranchStatus, n)
		copy(bs, s.BranchStatuses)
		s.BranchStatuses = bs
	}
}

// SetAddress sets status.address to url (the ingress channel's) and Addressable accordingly.
func (s *ParallelStatus) SetAddress(url string) { setAddress(&s.Status, &s.AddressStatus, url) }
