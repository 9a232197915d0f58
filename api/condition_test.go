package api

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

func TestConditionSetReadyFollowsDependents(t *testing.T) {
	const a, b ConditionType = "A", "B"
	set := NewLivingConditionSet(a, b)
	var st Status
	m := set.Manage(&st)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m.Now = func() time.Time { return now }
	m.InitializeConditions()
	if c := st.GetCondition(ConditionReady); c == nil || c.Status != corev1.ConditionUnknown {
		t.Fatalf("Ready after init = %+v", c)
	}
	m.MarkTrue(a)
	if m.IsHappy() {
		t.Fatal("happy with B unknown")
	}
	m.MarkFalse(b, "NoSink", "sink %q not found", "x")
	ready := st.GetCondition(ConditionReady)
	if ready.Status != corev1.ConditionFalse || ready.Reason != "NoSink" || ready.Message != `sink "x" not found` {
		t.Fatalf("Ready = %+v, want False/NoSink", ready)
	}
	first := ready.LastTransitionTime
	now = now.Add(time.Minute)
	m.MarkFalse(b, "NoSink", "sink %q not found", "x") // no change: time kept
	if !st.GetCondition(ConditionReady).LastTransitionTime.Equal(&first) {
		t.Fatal("lastTransitionTime moved without a transition")
	}
	m.MarkTrue(b)
	if !m.IsHappy() {
		t.Fatalf("not happy with all dependents true: %+v", st.Conditions)
	}
	if got := st.GetCondition(ConditionReady).LastTransitionTime; !got.Time.Equal(now) {
		t.Fatalf("lastTransitionTime = %v, want %v", got, now)
	}
}
