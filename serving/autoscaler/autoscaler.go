package autoscaler

import (
	"errors"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/eddyplatform/eddy/serving/runtime"
	"github.com/prometheus/client_golang/prometheus"
)

// ActivationTimeout is how long a revision may stay activating (scaling up with no ready
// instance) before the autoscaler gives up and lets it scale to zero: Knative's default
// progress deadline (600s) plus its 10s buffer.
const ActivationTimeout = 610 * time.Second

// State is a revision's activity, Knative's PodAutoscaler "Active" condition.
type State int

const (
	// Activating (Active=Unknown): the revision is new or scaling up from zero and has fewer
	// ready instances than it needs to be active.
	Activating State = iota
	// Active (Active=True): enough instances are ready.
	Active
	// Inactive (Active=False): the revision has no traffic; the activator is in its path and
	// it is at zero or will be after the scale-to-zero grace period.
	Inactive
)

// String returns the state's name.
func (s State) String() string {
	switch s {
	case Activating:
		return "Activating"
	case Active:
		return "Active"
	case Inactive:
		return "Inactive"
	}
	return "Unknown"
}

// Decision is an Autoscaler's verdict for one tick.
type Decision struct {
	// DesiredScale is the number of instances the revision should have now: the KPA
	// recommendation within the scale bounds, after the scale-to-zero rules. It is what the
	// reconciler applies. When the autoscaler has no new verdict (no metrics yet, waiting
	// out the grace period, activating) it repeats the last scale it asked for, initially
	// the revision's InitialScale.
	DesiredScale int32
	// Recommendation is the KPA decider's own pod count (Knative's DesiredPodCount: rate
	// limits, panic mode, activation scale and scale-down delay applied; bounds not), or -1
	// before the first metrics.
	Recommendation int32
	// ExcessBurstCapacity is floor(ready × TotalValue − TargetBurstCapacity − PanicValue):
	// negative means the ready instances cannot absorb the target burst, so the activator
	// should stay in the request path. It is 0 when TargetBurstCapacity is 0 and -1 when it
	// is -1 (always in path).
	ExcessBurstCapacity int32
	// ActivatorInPath is Knative's SKS proxy mode: true when the revision is (going) to
	// zero or ExcessBurstCapacity is negative.
	ActivatorInPath bool
	// InPanic reports panic mode.
	InPanic bool
	// State is the revision's activity after this decision.
	State State
	// Metric is the scaling metric, MetricConcurrency or MetricRPS.
	Metric string
	// StableValue and PanicValue are the metric's averages over the stable and panic
	// windows (the last ones obtained, if NoData).
	StableValue, PanicValue float64
	// TargetValue is the metric's per-instance target.
	TargetValue float64
	// ReadyInstances echoes the input.
	ReadyInstances int
	// NoData is set when the metrics were unavailable this tick (nothing recorded in the
	// stable window, or the revision is not collected): the previous recommendation stands.
	NoData bool
}

// AutoscalerOptions are an Autoscaler's optional dependencies.
type AutoscalerOptions struct {
	// Configuration is the revision's Configuration, for the metrics' configuration label.
	Configuration string
	// Registerer receives the gauges (normally Config.Registerer); nil registers nowhere.
	Registerer prometheus.Registerer
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Autoscaler is the KPA decision engine of one revision: Knative's decider
// (pkg/autoscaler/scaling) and the PodAutoscaler reconciler's scaling and scale-to-zero rules
// (pkg/reconciler/autoscaling/kpa), without the Kubernetes objects. Call Scale every
// TickInterval, and right after Collector.Poke when a request waits for a revision with no
// ready instance. Its methods are safe for concurrent use.
type Autoscaler struct {
	key     runtime.RevisionKey
	metrics MetricClient
	logger  *slog.Logger
	gauges  *revisionGauges

	mu          sync.Mutex
	spec        *RevisionSettings
	delayWindow *maxWindow
	started     bool

	// Decider state.
	panicTime      time.Time
	maxPanicPods   int32
	want           int32 // last valid recommendation; -1 before the first
	ebc            int32
	stable, panicV float64

	// PodAutoscaler state.
	state       State
	stateSince  time.Time
	initialized bool  // InitialScale was reached once
	applied     int32 // the last scale asked for
}

// NewAutoscaler returns the Autoscaler of the revision key with settings s, reading its
// averages from m (normally the Collector, with the revision registered by CreateOrUpdate).
func NewAutoscaler(key runtime.RevisionKey, s *RevisionSettings, m MetricClient, o AutoscalerOptions) *Autoscaler {
	a := &Autoscaler{key: key, metrics: m, logger: o.Logger, spec: s, want: -1, applied: s.InitialScale,
		state: Activating}
	if a.logger == nil {
		a.logger = slog.Default()
	}
	a.logger = a.logger.With("revision", key.String())
	a.gauges = newRevisionGauges(o.Registerer, key, o.Configuration)
	if s.ScaleDownDelay > 0 {
		a.delayWindow = newMaxWindow(s.ScaleDownDelay, TickInterval)
	}
	// Before the first decision, as Knative's multiscaler: 0 or -1 as configured, otherwise
	// what InitialScale instances leave after the target burst.
	switch tbc := s.TargetBurstCapacity; tbc {
	case -1, 0:
		a.ebc = int32(tbc)
	default:
		a.ebc = int32(float64(s.InitialScale)*s.TotalValue - tbc)
	}
	return a
}

// InitialScale is the scale to create the revision with.
func (a *Autoscaler) InitialScale() int32 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.spec.InitialScale
}

// Update replaces the revision's settings (after a change of config-autoscaler or of the
// revision's reachability). Call Collector.CreateOrUpdate too if the windows changed.
func (a *Autoscaler) Update(s *RevisionSettings) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if s.ScaleDownDelay != a.spec.ScaleDownDelay {
		a.delayWindow = nil
		if s.ScaleDownDelay > 0 {
			a.delayWindow = newMaxWindow(s.ScaleDownDelay, TickInterval)
		}
	}
	a.spec = s
}

// Close removes the revision's gauges.
func (a *Autoscaler) Close() { a.gauges.delete() }

// Scale decides the revision's scale at now, given its ready instances.
func (a *Autoscaler) Scale(now time.Time, readyInstances int) Decision {
	ready := max(readyInstances, 0)
	a.mu.Lock()
	defer a.mu.Unlock()
	spec := a.spec
	if !a.started {
		a.started = true
		a.stateSince = now
		// Like a restarted Knative autoscaler, start in panic mode when already scaled out,
		// so the empty history does not scale the revision down.
		if ready > 1 {
			a.panicTime = now
			a.maxPanicPods = int32(ready)
		}
	}

	ok := a.decide(now, ready, spec)
	want, apply := a.scaleTarget(now, spec)
	if apply {
		a.applied = want
	}
	inPath := want == 0 || a.ebc < 0 || (want < 0 && a.state == Inactive)
	a.computeActive(now, ready, want, spec)

	d := Decision{
		DesiredScale:        a.applied,
		Recommendation:      a.want,
		ExcessBurstCapacity: a.ebc,
		ActivatorInPath:     inPath,
		InPanic:             !a.panicTime.IsZero(),
		State:               a.state,
		Metric:              spec.Metric,
		StableValue:         a.stable,
		PanicValue:          a.panicV,
		TargetValue:         spec.TargetValue,
		ReadyInstances:      ready,
		NoData:              !ok,
	}
	a.gauges.report(d)
	return d
}

// decide is Knative's autoscaler.Scale: it updates the recommendation, the excess burst
// capacity and the panic state from the metrics. It reports false when there were none.
func (a *Autoscaler) decide(now time.Time, ready int, spec *RevisionSettings) bool {
	var stable, panicV float64
	var err error
	if spec.Metric == MetricRPS {
		stable, panicV, err = a.metrics.StableAndPanicRPS(a.key, now)
	} else {
		stable, panicV, err = a.metrics.StableAndPanicConcurrency(a.key, now)
	}
	if err != nil {
		if !errors.Is(err, ErrNoData) {
			a.logger.Error("autoscaler: failed to obtain metrics", "err", err)
		}
		return false
	}
	// With no ready instance, reason as if there were one.
	readyF := math.Max(1, float64(ready))

	// Rate limits. The ceil lets a conservative up-rate still add one instance.
	maxScaleUp := math.Ceil(spec.MaxScaleUpRate * readyF)
	maxScaleDown := 0.
	if spec.Reachable {
		maxScaleDown = math.Floor(readyF / spec.MaxScaleDownRate)
	}
	dspc := math.Ceil(stable / spec.TargetValue)
	dppc := math.Ceil(panicV / spec.TargetValue)
	desiredStable := int32(math.Min(math.Max(dspc, maxScaleDown), maxScaleUp))
	desiredPanic := int32(math.Min(math.Max(dppc, maxScaleDown), maxScaleUp))
	if spec.ActivationScale > 1 {
		if dspc > 0 && spec.ActivationScale > desiredStable {
			desiredStable = spec.ActivationScale
		}
		if dppc > 0 && spec.ActivationScale > desiredPanic {
			desiredPanic = spec.ActivationScale
		}
	}

	isOverPanicThreshold := dppc/readyF >= spec.PanicThreshold
	switch {
	case a.panicTime.IsZero() && isOverPanicThreshold:
		a.logger.Info("autoscaler: panicking", "panicValue", panicV, "target", spec.TargetValue, "ready", ready)
		a.panicTime = now
	case isOverPanicThreshold:
		a.panicTime = now // Still over: extend the panic.
	case !a.panicTime.IsZero() && a.panicTime.Add(spec.StableWindow).Before(now):
		// The surge has made its way into the stable window.
		a.logger.Info("autoscaler: un-panicking", "stableValue", stable, "target", spec.TargetValue)
		a.panicTime = time.Time{}
		a.maxPanicPods = 0
	}

	desired := desiredStable
	if !a.panicTime.IsZero() {
		// Provision for the larger of the two, and never scale down while panicking.
		desired = max(desired, desiredPanic)
		if desired > a.maxPanicPods {
			a.maxPanicPods = desired
		}
		desired = a.maxPanicPods
	}
	if a.delayWindow != nil {
		a.delayWindow.record(now, desired)
		desired = a.delayWindow.current()
	}

	excess := -1.
	switch tbc := spec.TargetBurstCapacity; {
	case tbc == 0:
		excess = 0
	case tbc > 0:
		excess = math.Floor(float64(ready)*spec.TotalValue - tbc - panicV)
	}
	a.want, a.ebc, a.stable, a.panicV = desired, int32(excess), stable, panicV
	return true
}

// scaleTarget is the KPA scaler's scale and handleScaleToZero: it bounds the recommendation
// and applies the scale-to-zero rules. It returns the scale and whether to apply it; when not
// to apply, the scale is -1 (unknown) or 0 (going to zero, not yet).
func (a *Autoscaler) scaleTarget(now time.Time, spec *RevisionSettings) (int32, bool) {
	desired := a.want
	if desired < 0 && a.state != Activating {
		return -1, false // No metrics yet.
	}
	lo, hi := bounds(spec)
	if spec.InitialScale > 1 && !a.initialized {
		lo = max(lo, spec.InitialScale)
	}
	if desired < lo {
		desired = lo
	}
	if hi != 0 && desired > hi {
		desired = hi
	}
	if desired != 0 {
		return desired, true
	}
	if !spec.EnableScaleToZero {
		return 1, true
	}
	in := now.Sub(a.stateSince)
	switch a.state {
	case Activating:
		if in >= ActivationTimeout {
			a.logger.Info("autoscaler: activation timed out", "after", ActivationTimeout)
			return 0, true
		}
		return -1, false
	case Active:
		if in >= spec.StableWindow {
			return 0, false // Become inactive; the activator takes over the path.
		}
		// Keep one instance for the rest of the stable window.
		return 1, true
	default:
		// Inactive: the last instance goes once the grace period (and the pod retention
		// period) have passed since the revision became inactive.
		if in >= max(spec.ScaleToZeroGracePeriod, spec.ScaleToZeroPodRetentionPeriod) {
			return 0, true
		}
		return 0, false
	}
}

// bounds returns the revision's min and max scale (max 0: unlimited); min does not apply to
// an unreachable revision.
func bounds(spec *RevisionSettings) (int32, int32) {
	var lo int32
	if spec.Reachable {
		lo = spec.MinScale
	}
	return lo, spec.MaxScale
}

// computeActive is the KPA reconciler's computeActiveCondition.
func (a *Autoscaler) computeActive(now time.Time, ready int, want int32, spec *RevisionSettings) {
	lo, _ := bounds(spec)
	minReady := max(lo, 1)
	if !a.initialized {
		minReady = max(lo, spec.InitialScale)
	}
	if int32(ready) >= minReady {
		a.initialized = true
	}
	set := func(s State) {
		if a.state != s {
			a.logger.Debug("autoscaler: state", "from", a.state.String(), "to", s.String())
			a.state, a.stateSince = s, now
		}
	}
	switch {
	case want == 0 || minReady == 0:
		set(Inactive)
	case int32(ready) < minReady:
		if want > 0 || a.state != Inactive {
			set(Activating)
		}
	default:
		if want > 0 || a.state != Inactive {
			set(Active)
		}
	}
}
