package autoscaler

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// Autoscaler classes and scaling metrics, as in Knative's autoscaling.knative.dev annotations.
const (
	// ClassKPA is the request-driven Knative Pod Autoscaler class, the one implemented here.
	ClassKPA = "kpa.autoscaling.knative.dev"
	// ClassHPA is Kubernetes' CPU-driven autoscaler class (not implemented by this package).
	ClassHPA = "hpa.autoscaling.knative.dev"
	// MetricConcurrency scales on requests in flight per instance (the default).
	MetricConcurrency = "concurrency"
	// MetricRPS scales on requests per second per instance.
	MetricRPS = "rps"
	// AnnotationPrefix is the prefix of the revision annotations ParseAnnotations reads.
	AnnotationPrefix = "autoscaling.knative.dev/"
)

// Overrides are a revision's autoscaling annotations, already parsed; nil fields are unset
// and fall back on Config. Percentages are given as percentages (70, not 0.7).
type Overrides struct {
	// Class is autoscaling.knative.dev/class; only ClassKPA is accepted.
	Class *string
	// Metric is autoscaling.knative.dev/metric: MetricConcurrency or MetricRPS.
	Metric *string
	// Target is autoscaling.knative.dev/target: the per-instance capacity to scale on.
	Target *float64
	// TargetUtilizationPercentage is autoscaling.knative.dev/target-utilization-percentage.
	TargetUtilizationPercentage *float64
	// TargetBurstCapacity is autoscaling.knative.dev/target-burst-capacity.
	TargetBurstCapacity *float64
	// Window is autoscaling.knative.dev/window: the stable window.
	Window *time.Duration
	// PanicWindowPercentage is autoscaling.knative.dev/panic-window-percentage.
	PanicWindowPercentage *float64
	// PanicThresholdPercentage is autoscaling.knative.dev/panic-threshold-percentage.
	PanicThresholdPercentage *float64
	// MinScale is autoscaling.knative.dev/min-scale.
	MinScale *int32
	// MaxScale is autoscaling.knative.dev/max-scale (0: unlimited).
	MaxScale *int32
	// InitialScale is autoscaling.knative.dev/initial-scale.
	InitialScale *int32
	// ActivationScale is autoscaling.knative.dev/activation-scale.
	ActivationScale *int32
	// ScaleDownDelay is autoscaling.knative.dev/scale-down-delay.
	ScaleDownDelay *time.Duration
	// ScaleToZeroPodRetentionPeriod is
	// autoscaling.knative.dev/scale-to-zero-pod-retention-period.
	ScaleToZeroPodRetentionPeriod *time.Duration
}

// RevisionSettings are the resolved autoscaling parameters of one revision (Knative's
// DeciderSpec plus the PodAutoscaler's bounds and scale-to-zero knobs).
type RevisionSettings struct {
	// Metric is MetricConcurrency or MetricRPS.
	Metric string
	// TargetValue is the metric value per instance the autoscaler aims for: TotalValue times
	// the target utilization.
	TargetValue float64
	// TotalValue is the metric value one instance can take (containerConcurrency, the
	// target annotation, or the configured default).
	TotalValue float64
	// TargetBurstCapacity is the spare capacity to keep; 0 never needs the activator, -1
	// always does.
	TargetBurstCapacity float64
	// PanicThreshold is the panic threshold as a factor (2.0 for 200%).
	PanicThreshold float64
	// StableWindow and PanicWindow are the averaging windows; PanicWindow is
	// StableWindow × panic-window-percentage / 100 rounded to BucketSize, at least BucketSize.
	StableWindow, PanicWindow time.Duration
	// MaxScaleUpRate and MaxScaleDownRate bound the change of one decision.
	MaxScaleUpRate, MaxScaleDownRate float64
	// MinScale and MaxScale bound the scale (MaxScale 0: unlimited).
	MinScale, MaxScale int32
	// InitialScale is the scale to create the revision with, and the floor of its scale
	// until that many instances were ready once.
	InitialScale int32
	// ActivationScale is the least scale of a revision that has traffic (0 or 1: no effect).
	ActivationScale int32
	// ScaleDownDelay holds scale-downs until the lower decision persisted this long.
	ScaleDownDelay time.Duration
	// EnableScaleToZero comes from Config.
	EnableScaleToZero bool
	// ScaleToZeroGracePeriod (from Config) is how long the revision stays inactive before
	// its last instance goes.
	ScaleToZeroGracePeriod time.Duration
	// ScaleToZeroPodRetentionPeriod is the least time the last instance is kept after the
	// revision became inactive.
	ScaleToZeroPodRetentionPeriod time.Duration
	// Reachable is whether a route sends traffic to the revision. NewRevisionSettings sets
	// it; the reconciler clears it for a revision no route references, which (as in
	// Knative) ignores MinScale and lifts the scale-down rate limit.
	Reachable bool
}

// NewRevisionSettings merges cfg with a revision's overrides and its containerConcurrency
// (0: unlimited), as Knative's MakeDecider, MakeMetric, ResolveMetricTarget, ScaleBounds and
// GetInitialScale do, and validates the overrides as Knative's admission webhook does. Errors
// name the annotation.
//
// Targets: for "concurrency" the per-instance capacity (total) is containerConcurrency, or
// container-concurrency-target-default when it is 0; a target annotation replaces it (capped
// at containerConcurrency when that is set). For "rps" the total is the target annotation or
// requests-per-second-target-default. The scaling target is total × utilization
// (container-concurrency-target-percentage for concurrency, 70% for rps, or the
// target-utilization-percentage annotation), at least TargetMin.
func NewRevisionSettings(cfg *Config, ov Overrides, containerConcurrency int) (*RevisionSettings, error) {
	if cfg == nil {
		cfg = DefaultConfig()
	}
	if err := validateOverrides(cfg, &ov, containerConcurrency); err != nil {
		return nil, err
	}
	s := &RevisionSettings{
		Metric:                        MetricConcurrency,
		TargetBurstCapacity:           pick(ov.TargetBurstCapacity, cfg.TargetBurstCapacity),
		PanicThreshold:                pick(ov.PanicThresholdPercentage, cfg.PanicThresholdPercentage) / 100,
		StableWindow:                  pick(ov.Window, cfg.StableWindow),
		MaxScaleUpRate:                cfg.MaxScaleUpRate,
		MaxScaleDownRate:              cfg.MaxScaleDownRate,
		MinScale:                      pick(ov.MinScale, cfg.MinScale),
		MaxScale:                      pick(ov.MaxScale, cfg.MaxScale),
		InitialScale:                  pick(ov.InitialScale, cfg.InitialScale),
		ActivationScale:               pick(ov.ActivationScale, 0),
		ScaleDownDelay:                pick(ov.ScaleDownDelay, cfg.ScaleDownDelay),
		EnableScaleToZero:             cfg.EnableScaleToZero,
		ScaleToZeroGracePeriod:        cfg.ScaleToZeroGracePeriod,
		ScaleToZeroPodRetentionPeriod: pick(ov.ScaleToZeroPodRetentionPeriod, cfg.ScaleToZeroPodRetentionPeriod),
		Reachable:                     true,
	}
	if ov.Metric != nil {
		s.Metric = *ov.Metric
	}
	pwp := pick(ov.PanicWindowPercentage, cfg.PanicWindowPercentage)
	s.PanicWindow = time.Duration(float64(s.StableWindow) * pwp / 100).Round(BucketSize)
	if s.PanicWindow < BucketSize {
		s.PanicWindow = BucketSize
	}

	// ResolveMetricTarget.
	var tu float64
	switch s.Metric {
	case MetricRPS:
		s.TotalValue = cfg.RPSTargetDefault
		tu = cfg.TargetUtilization
	default:
		s.TotalValue = float64(containerConcurrency)
		if s.TotalValue == 0 {
			s.TotalValue = cfg.ContainerConcurrencyTargetDefault
		}
		tu = cfg.ContainerConcurrencyTargetFraction
	}
	if ov.Target != nil {
		s.TotalValue = *ov.Target
		if s.Metric == MetricConcurrency && containerConcurrency != 0 {
			// Never aim above what an instance accepts.
			s.TotalValue = math.Min(*ov.Target, float64(containerConcurrency))
		}
	}
	if ov.TargetUtilizationPercentage != nil {
		tu = *ov.TargetUtilizationPercentage / 100
	}
	s.TargetValue = math.Max(TargetMin, s.TotalValue*tu)
	return s, nil
}

func pick[T any](p *T, def T) T {
	if p != nil {
		return *p
	}
	return def
}

func annErr(key, format string, args ...any) error {
	return fmt.Errorf("%s%s: %s", AnnotationPrefix, key, fmt.Sprintf(format, args...))
}

func validateOverrides(cfg *Config, ov *Overrides, cc int) error {
	if cc < 0 {
		return fmt.Errorf("containerConcurrency: %d, must be at least 0", cc)
	}
	class := pick(ov.Class, cfg.PodAutoscalerClass)
	if class != ClassKPA {
		return annErr("class", "%q is not supported (only %q)", class, ClassKPA)
	}
	if ov.Metric != nil && *ov.Metric != MetricConcurrency && *ov.Metric != MetricRPS {
		return annErr("metric", "%q, must be %q or %q for class %q", *ov.Metric, MetricConcurrency, MetricRPS, ClassKPA)
	}
	if v := ov.Target; v != nil && !(*v >= TargetMin) {
		return annErr("target", "%v, must be at least %v", *v, TargetMin)
	}
	if v := ov.TargetUtilizationPercentage; v != nil && !(*v >= 1 && *v <= 100) {
		return annErr("target-utilization-percentage", "%v, must be in [1, 100]", *v)
	}
	if v := ov.TargetBurstCapacity; v != nil && !(*v >= 0 || *v == -1) {
		return annErr("target-burst-capacity", "%v, must be non-negative or -1 (unlimited)", *v)
	}
	if v := ov.Window; v != nil && (*v < WindowMin || *v > WindowMax || v.Round(time.Second) != *v) {
		return annErr("window", "%v, must be in [%v, %v] with at most second precision", *v, WindowMin, WindowMax)
	}
	if v := ov.PanicWindowPercentage; v != nil && !(*v >= PanicWindowPercentageMin && *v <= PanicWindowPercentageMax) {
		return annErr("panic-window-percentage", "%v, must be in [%v, %v]", *v, PanicWindowPercentageMin, PanicWindowPercentageMax)
	}
	if v := ov.PanicThresholdPercentage; v != nil && !(*v >= PanicThresholdPercentageMin && *v <= PanicThresholdPercentageMax) {
		return annErr("panic-threshold-percentage", "%v, must be in [%v, %v]", *v, PanicThresholdPercentageMin, PanicThresholdPercentageMax)
	}
	if v := ov.ScaleDownDelay; v != nil && (*v < 0 || *v > ScaleDownDelayMax || v.Round(time.Second) != *v) {
		return annErr("scale-down-delay", "%v, must be in [0s, %v] with at most second precision", *v, ScaleDownDelayMax)
	}
	if v := ov.ScaleToZeroPodRetentionPeriod; v != nil && (*v < 0 || *v > WindowMax) {
		return annErr("scale-to-zero-pod-retention-period", "%v, must be in [0s, %v]", *v, WindowMax)
	}
	minS, maxS := pick(ov.MinScale, cfg.MinScale), pick(ov.MaxScale, cfg.MaxScale)
	if minS < 0 {
		return annErr("min-scale", "%d, must be at least 0", minS)
	}
	if maxS < 0 {
		return annErr("max-scale", "%d, must be at least 0", maxS)
	}
	if cfg.MaxScaleLimit > 0 && (maxS == 0 || maxS > cfg.MaxScaleLimit) {
		return annErr("max-scale", "%d, must be in [1, %d] (max-scale-limit)", maxS, cfg.MaxScaleLimit)
	}
	if maxS != 0 && minS > maxS {
		return annErr("min-scale", "%d, must not exceed max-scale %d", minS, maxS)
	}
	if v := ov.InitialScale; v != nil && (*v < 0 || (*v == 0 && !cfg.AllowZeroInitialScale)) {
		return annErr("initial-scale", "%d, must be at least 1 (or 0 when allow-zero-initial-scale is true)", *v)
	}
	if v := ov.ActivationScale; v != nil && (*v < 1 || (maxS != 0 && *v > maxS)) {
		return annErr("activation-scale", "%d, must be at least 1 and at most max-scale", *v)
	}
	return nil
}

// annotationKeys maps each Overrides field to its annotation names (the kebab-case name
// first, then Knative's legacy camelCase alias, if any).
var annotationKeys = struct {
	class, metric, target, tu, tbc, window, pwp, ptp, minScale, maxScale, initial, activation, sdd, retention []string
}{
	class:      []string{"class"},
	metric:     []string{"metric"},
	target:     []string{"target"},
	tu:         []string{"target-utilization-percentage", "targetUtilizationPercentage"},
	tbc:        []string{"target-burst-capacity", "targetBurstCapacity"},
	window:     []string{"window"},
	pwp:        []string{"panic-window-percentage", "panicWindowPercentage"},
	ptp:        []string{"panic-threshold-percentage", "panicThresholdPercentage"},
	minScale:   []string{"min-scale", "minScale"},
	maxScale:   []string{"max-scale", "maxScale"},
	initial:    []string{"initial-scale", "initialScale"},
	activation: []string{"activation-scale"},
	sdd:        []string{"scale-down-delay"},
	retention:  []string{"scale-to-zero-pod-retention-period"},
}

// ParseAnnotations reads a revision's autoscaling.knative.dev/* annotations into Overrides
// (including Knative's legacy camelCase aliases such as minScale). It checks syntax only;
// NewRevisionSettings checks ranges. Errors name the annotation.
func ParseAnnotations(ann map[string]string) (Overrides, error) {
	var ov Overrides
	get := func(names []string) (string, string, bool, error) {
		var key, val string
		found := false
		for _, n := range names {
			if v, ok := ann[AnnotationPrefix+n]; ok {
				if found {
					return "", "", false, fmt.Errorf("%s%s: conflicts with %s", AnnotationPrefix, n, key)
				}
				key, val, found = AnnotationPrefix+n, v, true
			}
		}
		return key, val, found, nil
	}
	var err error
	str := func(names []string) *string {
		_, v, ok, e := get(names)
		if e != nil || !ok {
			err = firstErr(err, e)
			return nil
		}
		return &v
	}
	flt := func(names []string) *float64 {
		k, v, ok, e := get(names)
		if e != nil || !ok {
			err = firstErr(err, e)
			return nil
		}
		f, e := strconv.ParseFloat(v, 64)
		if e != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			err = firstErr(err, fmt.Errorf("%s: %q is not a number", k, v))
			return nil
		}
		return &f
	}
	i32 := func(names []string) *int32 {
		k, v, ok, e := get(names)
		if e != nil || !ok {
			err = firstErr(err, e)
			return nil
		}
		i, e := strconv.ParseInt(v, 10, 32)
		if e != nil {
			err = firstErr(err, fmt.Errorf("%s: %q is not an integer", k, v))
			return nil
		}
		n := int32(i)
		return &n
	}
	dur := func(names []string) *time.Duration {
		k, v, ok, e := get(names)
		if e != nil || !ok {
			err = firstErr(err, e)
			return nil
		}
		d, e := time.ParseDuration(v)
		if e != nil {
			err = firstErr(err, fmt.Errorf("%s: %q is not a duration", k, v))
			return nil
		}
		return &d
	}
	k := annotationKeys
	ov.Class = str(k.class)
	ov.Metric = str(k.metric)
	ov.Target = flt(k.target)
	ov.TargetUtilizationPercentage = flt(k.tu)
	ov.TargetBurstCapacity = flt(k.tbc)
	ov.Window = dur(k.window)
	ov.PanicWindowPercentage = flt(k.pwp)
	ov.PanicThresholdPercentage = flt(k.ptp)
	ov.MinScale = i32(k.minScale)
	ov.MaxScale = i32(k.maxScale)
	ov.InitialScale = i32(k.initial)
	ov.ActivationScale = i32(k.activation)
	ov.ScaleDownDelay = dur(k.sdd)
	ov.ScaleToZeroPodRetentionPeriod = dur(k.retention)
	if err != nil {
		return Overrides{}, err
	}
	return ov, nil
}

func firstErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}
