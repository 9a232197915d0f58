package autoscaler

import (
	"testing"
	"time"

	"github.com/eddyplatform/eddy/serving/runtime"
	"github.com/prometheus/client_golang/prometheus"
)

// gauge returns the value of the named gauge for the revision, and whether it exists.
func gauge(t *testing.T, reg *prometheus.Registry, name, revision string) (float64, bool) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["revision"] == revision && labels["namespace"] == "ns" && labels["configuration"] == "cfg" {
				return m.GetGauge().GetValue(), true
			}
		}
	}
	return 0, false
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := &fakeMetrics{stableC: 350, panicC: 350}
	keyB := runtime.RevisionKey{Namespace: "ns", Name: "rev-b"}
	a := NewAutoscaler(testKey, settings(t, func(s *RevisionSettings) { s.MaxScale = 4 }), m,
		AutoscalerOptions{Configuration: "cfg", Registerer: reg, Logger: quiet})
	// A second revision on the same registry shares the vectors.
	b := NewAutoscaler(keyB, settings(t, func(s *RevisionSettings) { s.Metric = MetricRPS; s.TargetValue = 140 }), &fakeMetrics{stableRPS: 10, panicRPS: 20},
		AutoscalerOptions{Configuration: "cfg", Registerer: reg, Logger: quiet})
	a.Scale(t0, 1)
	b.Scale(t0, 1)

	for name, want := range map[string]float64{
		"eddy_autoscaler_desired_pods":               5, // ceil(350/70), limited to 4 by max-scale below
		"eddy_autoscaler_requested_pods":             4,
		"eddy_autoscaler_actual_pods":                1,
		"eddy_autoscaler_stable_request_concurrency": 350,
		"eddy_autoscaler_panic_request_concurrency":  350,
		"eddy_autoscaler_target_concurrency_per_pod": 70,
		"eddy_autoscaler_excess_burst_capacity":      100 - 200 - 350,
		"eddy_autoscaler_panic_mode":                 1,
	} {
		if got, ok := gauge(t, reg, name, testKey.Name); !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", name, got, ok, want)
		}
	}
	if _, ok := gauge(t, reg, "eddy_autoscaler_stable_requests_per_second", testKey.Name); ok {
		t.Error("rps series set for a concurrency revision")
	}
	for name, want := range map[string]float64{
		"eddy_autoscaler_stable_requests_per_second": 10,
		"eddy_autoscaler_panic_requests_per_second":  20,
		"eddy_autoscaler_target_requests_per_second": 140,
		"eddy_autoscaler_panic_mode":                 0,
	} {
		if got, ok := gauge(t, reg, name, keyB.Name); !ok || got != want {
			t.Errorf("%s{rev-b} = %v (present %v), want %v", name, got, ok, want)
		}
	}
	a.Close()
	if _, ok := gauge(t, reg, "eddy_autoscaler_desired_pods", testKey.Name); ok {
		t.Error("series left after Close")
	}
	if _, ok := gauge(t, reg, "eddy_autoscaler_desired_pods", keyB.Name); !ok {
		t.Error("other revision's series removed")
	}
	// No registerer: works, exports nothing.
	c := NewAutoscaler(testKey, settings(t, nil), m, AutoscalerOptions{Logger: quiet})
	c.Scale(t0.Add(time.Second), 1)
	c.Close()
}

// TestEndToEnd drives a Collector fed by router-like counters and an Autoscaler whose
// decisions are applied at once, through a burst, steady traffic, and scale to zero.
func TestEndToEnd(t *testing.T) {
	stats := newFakeStats()
	s := settings(t, nil)
	c := NewCollector(CollectorOptions{Stats: stats.Stats, Clock: &fakeClock{now: t0}, SampleInterval: time.Second})
	c.CreateOrUpdate(testKey, s)
	a := NewAutoscaler(testKey, s, c, AutoscalerOptions{Logger: quiet})

	ready := int(a.InitialScale())
	trafficEnd := 120 * time.Second
	var inactiveAt, zeroAt time.Duration = -1, -1
	var maxScale int32
	for sec := time.Duration(0); sec <= 300*time.Second; sec += time.Second {
		inFlight := 0
		if sec < trafficEnd {
			inFlight = 140 // two instances' worth at target 70
		}
		stats.set(testKey, inFlight, uint64(inFlight))
		now := t0.Add(sec)
		c.Tick(now)
		if sec%TickInterval != 0 {
			continue
		}
		d := a.Scale(now, ready)
		ready = int(d.DesiredScale) // instant readiness
		maxScale = max(maxScale, d.DesiredScale)
		if d.State == Inactive && inactiveAt < 0 {
			inactiveAt = sec
		}
		if d.DesiredScale == 0 && zeroAt < 0 {
			zeroAt = sec
			if d.State != Inactive || !d.ActivatorInPath {
				t.Errorf("at zero: %+v", d)
			}
		}
		if sec == 100*time.Second && (d.DesiredScale != 2 || d.InPanic) {
			t.Errorf("steady at t0+100s: %+v", d)
		}
	}
	if maxScale != 2 {
		t.Errorf("max scale %d, want 2", maxScale)
	}
	// The stable average reaches 0 a stable window after the traffic ends; the revision has
	// been active far longer than a stable window, so it turns inactive then...
	if inactiveAt < trafficEnd+s.StableWindow || inactiveAt > trafficEnd+s.StableWindow+TickInterval {
		t.Errorf("inactive at t0+%v, want about t0+%v", inactiveAt, trafficEnd+s.StableWindow)
	}
	// ...and reaches zero exactly the grace period later.
	if zeroAt-inactiveAt != s.ScaleToZeroGracePeriod {
		t.Errorf("zero at t0+%v, inactive at t0+%v: want %v apart", zeroAt, inactiveAt, s.ScaleToZeroGracePeriod)
	}

	// Scale from zero: a request waits; the router's OnDemand pokes and scales at once.
	now := t0.Add(400 * time.Second)
	stats.set(testKey, 1, 0)
	c.Poke(testKey, now)
	if d := a.Scale(now, 0); d.DesiredScale != 1 || d.State != Activating {
		t.Errorf("after poke: %+v", d)
	}
}
