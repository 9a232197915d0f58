package autoscaler

import (
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/eddyplatform/eddy/serving/runtime"
)

var quiet = slog.New(slog.DiscardHandler)

var testKey = runtime.RevisionKey{Namespace: "ns", Name: "rev-00001"}

// t0 is aligned to the 2s slots of the scale-down-delay window.
var t0 = time.Unix(1_000_000, 0)

// fakeMetrics is a MetricClient with settable averages.
type fakeMetrics struct {
	mu                  sync.Mutex
	stableC, panicC     float64
	stableRPS, panicRPS float64
	err                 error
}

func (f *fakeMetrics) set(stable, panicV float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stableC, f.panicC = stable, panicV
}

func (f *fakeMetrics) StableAndPanicConcurrency(runtime.RevisionKey, time.Time) (float64, float64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stableC, f.panicC, f.err
}

func (f *fakeMetrics) StableAndPanicRPS(runtime.RevisionKey, time.Time) (float64, float64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stableRPS, f.panicRPS, f.err
}

// settings returns the default settings (target 70 concurrency, total 100), modified.
func settings(t *testing.T, mod func(*RevisionSettings)) *RevisionSettings {
	t.Helper()
	s, err := NewRevisionSettings(DefaultConfig(), Overrides{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if mod != nil {
		mod(s)
	}
	return s
}

func newTest(t *testing.T, s *RevisionSettings, m MetricClient) *Autoscaler {
	t.Helper()
	return NewAutoscaler(testKey, s, m, AutoscalerOptions{Configuration: "cfg", Logger: quiet})
}

// TestDecider checks single decisions of the KPA decider, like Knative's autoscaler tests.
func TestDecider(t *testing.T) {
	tests := []struct {
		name          string
		mod           func(*RevisionSettings)
		stable, panic float64
		rps           [2]float64
		ready         int
		wantRec       int32
		wantEBC       int32
		wantPanic     bool
	}{
		{name: "steady traffic at target", stable: 350, panic: 350, ready: 5, wantRec: 5, wantEBC: 500 - 200 - 350},
		{name: "just over target rounds up", stable: 351, panic: 351, ready: 5, wantRec: 6, wantEBC: -51},
		{name: "below target rounds up to one", stable: 0.5, panic: 0.5, ready: 1, wantRec: 1, wantEBC: -101},
		{name: "no traffic one ready", stable: 0, panic: 0, ready: 1, wantRec: 0, wantEBC: -100},
		{name: "target utilization 50%", mod: func(s *RevisionSettings) { s.TargetValue = 50 },
			stable: 100, panic: 100, ready: 2, wantRec: 2, wantEBC: 200 - 200 - 100},
		{name: "scale-up rate limit", mod: func(s *RevisionSettings) { s.MaxScaleUpRate = 2; s.TargetValue = 10 },
			stable: 1000, panic: 10, ready: 2, wantRec: 4, wantEBC: 200 - 200 - 10},
		{name: "scale-up rate limit still adds one", mod: func(s *RevisionSettings) { s.MaxScaleUpRate = 1.1; s.TargetValue = 1 },
			stable: 3, panic: 3, ready: 2, wantRec: 3, wantEBC: 200 - 200 - 3},
		{name: "no ready instance counts as one", mod: func(s *RevisionSettings) { s.MaxScaleUpRate = 10; s.TargetValue = 1 },
			stable: 1000, panic: 0, ready: 0, wantRec: 10, wantEBC: -200},
		{name: "scale-down rate limit", stable: 0, panic: 0, ready: 10, wantRec: 5, wantEBC: 800},
		{name: "scale-down rate 4", mod: func(s *RevisionSettings) { s.MaxScaleDownRate = 4 },
			stable: 0, panic: 0, ready: 10, wantRec: 2, wantEBC: 800},
		{name: "unreachable scales down at once", mod: func(s *RevisionSettings) { s.Reachable = false },
			stable: 0, panic: 0, ready: 1, wantRec: 0, wantEBC: -100},
		{name: "panic over threshold", stable: 70, panic: 300, ready: 2, wantRec: 5, wantEBC: -300, wantPanic: true},
		{name: "just under panic threshold", stable: 70, panic: 210, ready: 2, wantRec: 1, wantEBC: -210},
		{name: "panic threshold 300%", mod: func(s *RevisionSettings) { s.PanicThreshold = 3 },
			stable: 70, panic: 300, ready: 2, wantRec: 1, wantEBC: -300},
		{name: "activation scale", mod: func(s *RevisionSettings) { s.ActivationScale = 3 },
			stable: 10, panic: 10, ready: 1, wantRec: 3, wantEBC: -110},
		{name: "activation scale without traffic", mod: func(s *RevisionSettings) { s.ActivationScale = 3 },
			stable: 0, panic: 0, ready: 1, wantRec: 0, wantEBC: -100},
		{name: "tbc 0", mod: func(s *RevisionSettings) { s.TargetBurstCapacity = 0 },
			stable: 350, panic: 350, ready: 5, wantRec: 5, wantEBC: 0},
		{name: "tbc unlimited", mod: func(s *RevisionSettings) { s.TargetBurstCapacity = -1 },
			stable: 350, panic: 350, ready: 5, wantRec: 5, wantEBC: -1},
		{name: "rps metric", mod: func(s *RevisionSettings) { s.Metric = MetricRPS; s.TargetValue = 140; s.TotalValue = 200 },
			stable: 1e6, panic: 1e6, rps: [2]float64{700, 700}, ready: 5, wantRec: 5, wantEBC: 1000 - 200 - 700},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := &fakeMetrics{stableC: tc.stable, panicC: tc.panic, stableRPS: tc.rps[0], panicRPS: tc.rps[1]}
			a := newTest(t, settings(t, tc.mod), m)
			a.started = true // Not a restart: do not start in panic mode.
			d := a.Scale(t0, tc.ready)
			if d.Recommendation != tc.wantRec || d.ExcessBurstCapacity != tc.wantEBC || d.InPanic != tc.wantPanic {
				t.Errorf("got recommendation %d, EBC %d, panic %v; want %d, %d, %v",
					d.Recommendation, d.ExcessBurstCapacity, d.InPanic, tc.wantRec, tc.wantEBC, tc.wantPanic)
			}
			if tc.wantEBC < 0 && !d.ActivatorInPath {
				t.Errorf("ActivatorInPath = %v with EBC %d", d.ActivatorInPath, d.ExcessBurstCapacity)
			}
		})
	}
}

type step struct {
	at            time.Duration
	stable, panic float64
	ready         int
	wantRec       int32
	wantDesired   int32 // checked when >= 0
	wantPanic     bool
	wantState     State
	checkState    bool
}

func run(t *testing.T, a *Autoscaler, m *fakeMetrics, steps []step) {
	t.Helper()
	for i, s := range steps {
		m.set(s.stable, s.panic)
		d := a.Scale(t0.Add(s.at), s.ready)
		if d.Recommendation != s.wantRec || d.InPanic != s.wantPanic {
			t.Errorf("step %d (t0+%v): recommendation %d panic %v, want %d %v", i, s.at, d.Recommendation, d.InPanic, s.wantRec, s.wantPanic)
		}
		if s.wantDesired >= 0 && d.DesiredScale != s.wantDesired {
			t.Errorf("step %d (t0+%v): desired %d, want %d", i, s.at, d.DesiredScale, s.wantDesired)
		}
		if s.checkState && d.State != s.wantState {
			t.Errorf("step %d (t0+%v): state %v, want %v", i, s.at, d.State, s.wantState)
		}
	}
}

func TestPanicEnterExtendAndLeave(t *testing.T) {
	m := &fakeMetrics{}
	s := settings(t, func(s *RevisionSettings) { s.TargetBurstCapacity = 0 })
	a := newTest(t, s, m)
	run(t, a, m, []step{
		{at: 0, stable: 50, panic: 50, ready: 1, wantRec: 1, wantDesired: 1},
		// 150/70 → 3 instances; 3/1 >= 200%: panic.
		{at: 2 * time.Second, stable: 50, panic: 150, ready: 1, wantRec: 3, wantDesired: 3, wantPanic: true},
		// Load gone from the panic window: no scale-down while panicking.
		{at: 10 * time.Second, stable: 60, panic: 0, ready: 3, wantRec: 3, wantDesired: 3, wantPanic: true},
		// More load: the panic count only grows.
		{at: 20 * time.Second, stable: 60, panic: 400, ready: 3, wantRec: 6, wantDesired: 6, wantPanic: true},
		{at: 30 * time.Second, stable: 60, panic: 100, ready: 6, wantRec: 6, wantDesired: 6, wantPanic: true},
		// Exactly a stable window after the last crossing: still panicking.
		{at: 80 * time.Second, stable: 60, panic: 60, ready: 6, wantRec: 6, wantDesired: 6, wantPanic: true},
		// Past it: back to stable mode; down at most by half.
		{at: 80*time.Second + time.Millisecond, stable: 60, panic: 60, ready: 6, wantRec: 3, wantDesired: 3},
		{at: 82 * time.Second, stable: 60, panic: 60, ready: 3, wantRec: 1, wantDesired: 1},
	})
}

func TestUnpanicAfterSlowIncrease(t *testing.T) {
	// Like Knative's test: a stable increase under the threshold never panics.
	m := &fakeMetrics{}
	a := newTest(t, settings(t, nil), m)
	a.started = true
	var steps []step
	ready := 2
	for i, c := range []float64{140, 210, 280, 350, 420} {
		want := int32(i + 2)
		steps = append(steps, step{at: time.Duration(i) * 2 * time.Second, stable: c, panic: c, ready: ready, wantRec: want, wantDesired: want})
		ready = int(want)
	}
	run(t, a, m, steps)
}

func TestStartsInPanicWhenScaledOut(t *testing.T) {
	m := &fakeMetrics{}
	a := newTest(t, settings(t, nil), m)
	run(t, a, m, []step{
		{at: 0, ready: 5, wantRec: 5, wantDesired: 5, wantPanic: true},
		{at: 60 * time.Second, ready: 5, wantRec: 5, wantDesired: 5, wantPanic: true},
		{at: 60*time.Second + 1, ready: 5, wantRec: 2, wantDesired: 2},
	})
}

func TestScaleDownDelay(t *testing.T) {
	m := &fakeMetrics{}
	s := settings(t, func(s *RevisionSettings) { s.ScaleDownDelay = 10 * time.Second; s.MaxScaleDownRate = 100 })
	a := newTest(t, s, m)
	a.started = true
	run(t, a, m, []step{
		{at: 0, stable: 350, panic: 350, ready: 5, wantRec: 5, wantDesired: 5},
		// Load drops to one instance's worth: held at 5 for the delay (five 2s slots).
		{at: 2 * time.Second, stable: 70, panic: 70, ready: 5, wantRec: 5, wantDesired: 5},
		{at: 8 * time.Second, stable: 70, panic: 70, ready: 5, wantRec: 5, wantDesired: 5},
		{at: 9 * time.Second, stable: 70, panic: 70, ready: 5, wantRec: 5, wantDesired: 5},
		{at: 10 * time.Second, stable: 70, panic: 70, ready: 5, wantRec: 1, wantDesired: 1},
		// A scale-up is immediate.
		{at: 12 * time.Second, stable: 210, panic: 210, ready: 2, wantRec: 3, wantDesired: 3},
		// An intermediate peak holds the later decisions.
		{at: 14 * time.Second, stable: 140, panic: 140, ready: 3, wantRec: 3, wantDesired: 3},
		{at: 22 * time.Second, stable: 70, panic: 70, ready: 3, wantRec: 2, wantDesired: 2},
		{at: 24 * time.Second, stable: 70, panic: 70, ready: 3, wantRec: 1, wantDesired: 1},
	})
	// Updating the delay to 0 removes the window.
	a.Update(settings(t, func(s *RevisionSettings) { s.MaxScaleDownRate = 100 }))
	run(t, a, m, []step{
		{at: 26 * time.Second, stable: 210, panic: 210, ready: 2, wantRec: 3, wantDesired: 3},
		{at: 28 * time.Second, stable: 70, panic: 70, ready: 3, wantRec: 1, wantDesired: 1},
	})
}

func TestBoundsAndInitialScale(t *testing.T) {
	t.Run("min", func(t *testing.T) {
		m := &fakeMetrics{}
		a := newTest(t, settings(t, func(s *RevisionSettings) { s.MinScale = 3 }), m)
		run(t, a, m, []step{
			{at: 0, stable: 70, panic: 70, ready: 1, wantRec: 1, wantDesired: 3},
			{at: 2 * time.Second, stable: 0, panic: 0, ready: 3, wantRec: 1, wantDesired: 3, checkState: true, wantState: Active},
			// Never to zero.
			{at: 300 * time.Second, stable: 0, panic: 0, ready: 3, wantRec: 1, wantDesired: 3, checkState: true, wantState: Active},
		})
	})
	t.Run("min ignored when unreachable", func(t *testing.T) {
		m := &fakeMetrics{}
		a := newTest(t, settings(t, func(s *RevisionSettings) { s.MinScale = 3; s.Reachable = false }), m)
		run(t, a, m, []step{{at: 0, stable: 70, panic: 70, ready: 1, wantRec: 1, wantDesired: 1}})
	})
	t.Run("max", func(t *testing.T) {
		m := &fakeMetrics{}
		a := newTest(t, settings(t, func(s *RevisionSettings) { s.MaxScale = 4 }), m)
		run(t, a, m, []step{{at: 0, stable: 700, panic: 70, ready: 1, wantRec: 10, wantDesired: 4}})
	})
	t.Run("initial scale until reached", func(t *testing.T) {
		m := &fakeMetrics{err: ErrNoData}
		a := newTest(t, settings(t, func(s *RevisionSettings) { s.InitialScale = 5; s.MaxScaleDownRate = 100 }), m)
		if got := a.InitialScale(); got != 5 {
			t.Fatalf("InitialScale = %d", got)
		}
		d := a.Scale(t0, 0)
		if d.DesiredScale != 5 || !d.NoData || d.Recommendation != -1 || d.State != Activating {
			t.Fatalf("before metrics: %+v", d)
		}
		m.err = nil
		run(t, a, m, []step{
			// Metrics say 1, but 5 instances were never ready yet.
			{at: 2 * time.Second, stable: 70, panic: 70, ready: 2, wantRec: 1, wantDesired: 5, checkState: true, wantState: Activating},
			{at: 4 * time.Second, stable: 70, panic: 70, ready: 5, wantRec: 1, wantDesired: 5, checkState: true, wantState: Active},
			// Reached once: the initial scale no longer applies.
			{at: 6 * time.Second, stable: 70, panic: 70, ready: 5, wantRec: 1, wantDesired: 1, checkState: true, wantState: Active},
		})
	})
	t.Run("min above initial", func(t *testing.T) {
		m := &fakeMetrics{}
		a := newTest(t, settings(t, func(s *RevisionSettings) { s.InitialScale = 2; s.MinScale = 4 }), m)
		run(t, a, m, []step{{at: 0, stable: 0, panic: 0, ready: 0, wantRec: 0, wantDesired: 4}})
	})
}

func TestNoDataKeepsLastDecision(t *testing.T) {
	m := &fakeMetrics{}
	a := newTest(t, settings(t, nil), m)
	a.started = true
	run(t, a, m, []step{{at: 0, stable: 210, panic: 210, ready: 2, wantRec: 3, wantDesired: 3}})
	m.err = ErrNoData
	d := a.Scale(t0.Add(2*time.Second), 3)
	if !d.NoData || d.Recommendation != 3 || d.DesiredScale != 3 || d.StableValue != 210 {
		t.Fatalf("no data: %+v", d)
	}
	m.err = ErrNotCollecting
	if d := a.Scale(t0.Add(4*time.Second), 3); !d.NoData || d.DesiredScale != 3 {
		t.Fatalf("not collecting: %+v", d)
	}
}

func TestScaleToZero(t *testing.T) {
	m := &fakeMetrics{}
	a := newTest(t, settings(t, nil), m) // stable window 60s, grace 30s
	const sw, grace = 60 * time.Second, 30 * time.Second
	in := func(at time.Duration, ready int, stable float64, wantDesired int32, want State, inPath bool) {
		t.Helper()
		m.set(stable, stable)
		d := a.Scale(t0.Add(at), ready)
		if d.DesiredScale != wantDesired || d.State != want || d.ActivatorInPath != inPath {
			t.Fatalf("t0+%v: desired %d state %v inPath %v; want %d %v %v", at, d.DesiredScale, d.State, d.ActivatorInPath, wantDesired, want, inPath)
		}
	}
	// New revision, created at its initial scale 1, not yet ready: activating.
	in(0, 0, 0, 1, Activating, true)
	// Ready, no traffic: active, and kept for a stable window.
	in(time.Second, 1, 0, 1, Active, true)
	in(time.Second+sw-time.Nanosecond, 1, 0, 1, Active, true)
	// Active for a stable window: inactive, the activator takes the path, the instance stays.
	in(time.Second+sw, 1, 0, 1, Inactive, true)
	inactiveAt := time.Second + sw
	// Not before the grace period...
	in(inactiveAt+grace-time.Nanosecond, 1, 0, 1, Inactive, true)
	// ...but exactly at it.
	in(inactiveAt+grace, 1, 0, 0, Inactive, true)
	in(inactiveAt+grace+2*time.Second, 0, 0, 0, Inactive, true)
	// A request arrives (Collector.Poke): scale from zero at once.
	in(200*time.Second, 0, 1, 1, Activating, true)
	// Metrics flicker to zero while activating: hold.
	in(201*time.Second, 0, 0, 1, Activating, true)
	in(202*time.Second, 1, 1, 1, Active, true)
	// Traffic gone: a full stable window of activity is required again.
	in(203*time.Second, 1, 0, 1, Active, true)
	in(202*time.Second+sw, 1, 0, 1, Inactive, true)
	// Traffic returns during the grace period: active again.
	in(202*time.Second+sw+10*time.Second, 1, 1, 1, Active, true)
}

func TestScaleToZeroRetentionAndDisabled(t *testing.T) {
	t.Run("pod retention longer than grace", func(t *testing.T) {
		m := &fakeMetrics{}
		a := newTest(t, settings(t, func(s *RevisionSettings) { s.ScaleToZeroPodRetentionPeriod = 100 * time.Second }), m)
		a.Scale(t0, 1)                                                    // Active at t0
		if d := a.Scale(t0.Add(60*time.Second), 1); d.State != Inactive { // Inactive at t0+60s
			t.Fatalf("state %v", d.State)
		}
		if d := a.Scale(t0.Add(159*time.Second), 1); d.DesiredScale != 1 {
			t.Fatalf("before retention: %d", d.DesiredScale)
		}
		if d := a.Scale(t0.Add(160*time.Second), 1); d.DesiredScale != 0 {
			t.Fatalf("after retention: %d", d.DesiredScale)
		}
	})
	t.Run("disabled", func(t *testing.T) {
		m := &fakeMetrics{}
		a := newTest(t, settings(t, func(s *RevisionSettings) { s.EnableScaleToZero = false }), m)
		for _, at := range []time.Duration{0, 60 * time.Second, 200 * time.Second, time.Hour} {
			if d := a.Scale(t0.Add(at), 1); d.DesiredScale != 1 || d.State != Active {
				t.Fatalf("t0+%v: %+v", at, d)
			}
		}
	})
	t.Run("zero initial scale", func(t *testing.T) {
		m := &fakeMetrics{err: ErrNoData}
		a := newTest(t, settings(t, func(s *RevisionSettings) { s.InitialScale = 0 }), m)
		if d := a.Scale(t0, 0); d.DesiredScale != 0 || d.State != Inactive {
			t.Fatalf("%+v", d)
		}
		m.err = nil
		m.set(1, 1)
		if d := a.Scale(t0.Add(2*time.Second), 0); d.DesiredScale != 1 || d.State != Activating {
			t.Fatalf("%+v", d)
		}
	})
	t.Run("activation timeout", func(t *testing.T) {
		m := &fakeMetrics{}
		a := newTest(t, settings(t, nil), m)
		a.Scale(t0, 0)
		if d := a.Scale(t0.Add(ActivationTimeout-time.Second), 0); d.DesiredScale != 1 || d.State != Activating {
			t.Fatalf("%+v", d)
		}
		if d := a.Scale(t0.Add(ActivationTimeout), 0); d.DesiredScale != 0 || d.State != Inactive {
			t.Fatalf("%+v", d)
		}
	})
}

func TestConcurrentScale(t *testing.T) {
	m := &fakeMetrics{}
	a := newTest(t, settings(t, nil), m)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 100 {
				m.set(float64(j), float64(j))
				a.Scale(t0.Add(time.Duration(i*100+j)*time.Second), j%5)
			}
		}()
	}
	wg.Wait()
}
