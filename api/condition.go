package api

import (
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ConditionType names a condition, such as Ready.
type ConditionType string

// ConditionReady is the condition every StatusObject reports: True when the object does what
// its spec asks, False with a reason when it cannot, Unknown while that is not yet known.
const ConditionReady ConditionType = "Ready"

// ConditionSucceeded is the terminal condition of run-to-completion kinds such as Build.
const ConditionSucceeded ConditionType = "Succeeded"

// Condition is a Knative-style condition: one aspect of an object's state.
type Condition struct {
	Type               ConditionType          `json:"type"`
	Status             corev1.ConditionStatus `json:"status"`
	Severity           string                 `json:"severity,omitempty"`
	LastTransitionTime metav1.Time            `json:"lastTransitionTime,omitempty"`
	Reason             string                 `json:"reason,omitempty"`
	Message            string                 `json:"message,omitempty"`
}

// IsTrue reports whether the condition's status is True.
func (c *Condition) IsTrue() bool { return c != nil && c.Status == corev1.ConditionTrue }

// IsFalse reports whether the condition's status is False.
func (c *Condition) IsFalse() bool { return c != nil && c.Status == corev1.ConditionFalse }

// Status is the duck-typed status every StatusObject embeds.
type Status struct {
	// ObservedGeneration is the metadata.generation the controller last acted on.
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions are the latest observations of the object's state.
	Conditions []Condition `json:"conditions,omitempty"`
	// Annotations carry controller-specific extra status.
	Annotations map[string]string `json:"annotations,omitempty"`
}

// GetCondition returns the condition of type t, or nil.
func (s *Status) GetCondition(t ConditionType) *Condition {
	for i := range s.Conditions {
		if s.Conditions[i].Type == t {
			return &s.Conditions[i]
		}
	}
	return nil
}

// ConditionSet names a happy condition (Ready or Succeeded) and the dependent conditions that
// decide it: the happy condition is True when all dependents are True, False as soon as one is
// False (carrying that one's reason and message), and Unknown otherwise.
type ConditionSet struct {
	happy      ConditionType
	dependents []ConditionType
}

// NewLivingConditionSet returns a set whose happy condition is Ready, for long-running kinds.
func NewLivingConditionSet(dependents ...ConditionType) ConditionSet {
	return ConditionSet{happy: ConditionReady, dependents: dependents}
}

// NewBatchConditionSet returns a set whose happy condition is Succeeded, for run-to-completion kinds.
func NewBatchConditionSet(dependents ...ConditionType) ConditionSet {
	return ConditionSet{happy: ConditionSucceeded, dependents: dependents}
}

// Happy returns the set's happy condition type.
func (cs ConditionSet) Happy() ConditionType { return cs.happy }

// Manage returns a manager that edits s's conditions under this set's rules.
func (cs ConditionSet) Manage(s *Status) *ConditionManager {
	return &ConditionManager{set: cs, status: s, Now: time.Now}
}

// ConditionManager edits one Status's conditions and keeps the happy condition consistent with
// the dependents. It is not safe for concurrent use.
type ConditionManager struct {
	set    ConditionSet
	status *Status
	// Now stamps lastTransitionTime; tests may replace it.
	Now func() time.Time
}

// InitializeConditions sets every condition of the set that is missing to Unknown.
func (m *ConditionManager) InitializeConditions() {
	for _, t := range append([]ConditionType{m.set.happy}, m.set.dependents...) {
		if m.status.GetCondition(t) == nil {
			m.set0(Condition{Type: t, Status: corev1.ConditionUnknown})
		}
	}
	m.recompute()
}

// MarkTrue sets condition t to True and recomputes the happy condition.
func (m *ConditionManager) MarkTrue(t ConditionType) {
	m.set0(Condition{Type: t, Status: corev1.ConditionTrue})
	m.recompute()
}

// MarkFalse sets condition t to False with a reason and a formatted message.
func (m *ConditionManager) MarkFalse(t ConditionType, reason, format string, args ...any) {
	m.set0(Condition{Type: t, Status: corev1.ConditionFalse, Reason: reason, Message: fmt.Sprintf(format, args...)})
	m.recompute()
}

// MarkUnknown sets condition t to Unknown with a reason and a formatted message.
func (m *ConditionManager) MarkUnknown(t ConditionType, reason, format string, args ...any) {
	m.set0(Condition{Type: t, Status: corev1.ConditionUnknown, Reason: reason, Message: fmt.Sprintf(format, args...)})
	m.recompute()
}

// IsHappy reports whether the happy condition is True.
func (m *ConditionManager) IsHappy() bool { return m.status.GetCondition(m.set.happy).IsTrue() }

// set0 stores c, keeping lastTransitionTime when the status did not change.
func (m *ConditionManager) set0(c Condition) {
	if old := m.status.GetCondition(c.Type); old != nil {
		if old.Status == c.Status && old.Reason == c.Reason && old.Message == c.Message {
			return
		}
		c.LastTransitionTime = old.LastTransitionTime
		if old.Status != c.Status || c.LastTransitionTime.IsZero() {
			c.LastTransitionTime = metav1.NewTime(m.Now().Truncate(time.Second))
		}
		*old = c
		return
	}
	c.LastTransitionTime = metav1.NewTime(m.Now().Truncate(time.Second))
	m.status.Conditions = append(m.status.Conditions, c)
	sort.SliceStable(m.status.Conditions, func(i, j int) bool {
		return m.status.Conditions[i].Type < m.status.Conditions[j].Type
	})
}

// recompute derives the happy condition from the dependents.
func (m *ConditionManager) recompute() {
	if len(m.set.dependents) == 0 {
		return
	}
	var unknown *Condition
	for _, t := range m.set.dependents {
		c := m.status.GetCondition(t)
		switch {
		case c == nil:
			if unknown == nil {
				unknown = &Condition{Type: t, Status: corev1.ConditionUnknown}
			}
		case c.IsFalse():
			m.set0(Condition{Type: m.set.happy, Status: corev1.ConditionFalse, Reason: c.Reason, Message: c.Message})
			return
		case !c.IsTrue() && unknown == nil:
			unknown = c
		}
	}
	if unknown != nil {
		m.set0(Condition{Type: m.set.happy, Status: corev1.ConditionUnknown, Reason: unknown.Reason, Message: unknown.Message})
		return
	}
	m.set0(Condition{Type: m.set.happy, Status: corev1.ConditionTrue})
}
