package serving

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// AutoscalingGroup prefixes the autoscaling annotations.
const AutoscalingGroup = "autoscaling.knative.dev"

// The autoscaling annotations of a revision template (spec.template.metadata.annotations) or a
// Revision, as Knative names them. Values are strings, as all annotations are.
const (
	// ClassAnnotationKey chooses the autoscaler; Eddy has one, the KPA.
	ClassAnnotationKey = AutoscalingGroup + "/class"
	// MetricAnnotationKey is what the autoscaler scales on: MetricConcurrency (the default)
	// or MetricRPS.
	MetricAnnotationKey = AutoscalingGroup + "/metric"
	// TargetAnnotationKey is the per-instance target of the metric (in-flight requests or
	// requests per second), at least TargetMin.
	TargetAnnotationKey = AutoscalingGroup + "/target"
	// TargetUtilizationPercentageAnnotationKey is the share of the target the autoscaler
	// aims at, 1 to 100.
	TargetUtilizationPercentageAnnotationKey = AutoscalingGroup + "/target-utilization-percentage"
	// TargetBurstCapacityAnnotationKey is the spare capacity (in requests) below which the
	// activator stays in the request path; 0 never, -1 always.
	TargetBurstCapacityAnnotationKey = AutoscalingGroup + "/target-burst-capacity"
	// WindowAnnotationKey is the stable window, a Go duration from WindowMin to WindowMax
	// with at most second precision, such as "60s".
	WindowAnnotationKey = AutoscalingGroup + "/window"
	// PanicWindowPercentageAnnotationKey is the panic window as a percentage of the stable
	// window, 1 to 100.
	PanicWindowPercentageAnnotationKey = AutoscalingGroup + "/panic-window-percentage"
	// PanicThresholdPercentageAnnotationKey is the load, as a percentage of capacity, that
	// starts panic mode: 110 to 1000.
	PanicThresholdPercentageAnnotationKey = AutoscalingGroup + "/panic-threshold-percentage"
	// MinScaleAnnotationKey is the least number of instances (0 allows scale to zero).
	MinScaleAnnotationKey = AutoscalingGroup + "/min-scale"
	// MaxScaleAnnotationKey is the most instances; 0 is unlimited.
	MaxScaleAnnotationKey = AutoscalingGroup + "/max-scale"
	// InitialScaleAnnotationKey is the number of instances a new revision starts with (0
	// allowed).
	InitialScaleAnnotationKey = AutoscalingGroup + "/initial-scale"
	// ActivationScaleAnnotationKey is the least number of instances when scaling up from
	// zero, at least 1.
	ActivationScaleAnnotationKey = AutoscalingGroup + "/activation-scale"
	// ScaleDownDelayAnnotationKey delays scaling down by a Go duration from 0 to 1h with at
	// most second precision.
	ScaleDownDelayAnnotationKey = AutoscalingGroup + "/scale-down-delay"
	// ScaleToZeroPodRetentionPeriodAnnotationKey keeps the last instance for a Go duration
	// (0 to 1h) after the autoscaler decided to scale to zero.
	ScaleToZeroPodRetentionPeriodAnnotationKey = AutoscalingGroup + "/scale-to-zero-pod-retention-period"
	// MetricAggregationAlgorithmAnnotationKey chooses how the metric is averaged over the
	// window: "linear" (the default) or "weightedExponential".
	MetricAggregationAlgorithmAnnotationKey = AutoscalingGroup + "/metric-aggregation-algorithm"
)

// The values of the class and metric annotations.
const (
	// KPA is Knative's request-driven autoscaler, the one Eddy runs.
	KPA = "kpa.autoscaling.knative.dev"
	// HPA is Kubernetes' CPU autoscaler: rejected, Eddy does not run it.
	HPA = "hpa.autoscaling.knative.dev"
	// MetricConcurrency scales on in-flight requests per instance.
	MetricConcurrency = "concurrency"
	// MetricRPS scales on requests per second per instance.
	MetricRPS = "rps"
	// AlgorithmLinear averages the metric evenly over the window.
	AlgorithmLinear = "linear"
	// AlgorithmWeightedExponential weighs recent samples more.
	AlgorithmWeightedExponential = "weightedExponential"
)

// Bounds of the autoscaling annotations, as Knative's.
const (
	// TargetMin is the smallest target.
	TargetMin = 0.01
	// WindowMin is the shortest stable window.
	WindowMin = 6 * time.Second
	// WindowMax is the longest stable window, scale-down delay and retention period.
	WindowMax = time.Hour
	// PanicWindowPercentageMin is the smallest panic window percentage.
	PanicWindowPercentageMin = 1.0
	// PanicWindowPercentageMax is the largest panic window percentage.
	PanicWindowPercentageMax = 100.0
	// PanicThresholdPercentageMin is the smallest panic threshold percentage.
	PanicThresholdPercentageMin = 110.0
	// PanicThresholdPercentageMax is the largest panic threshold percentage.
	PanicThresholdPercentageMax = 1000.0
)

// alternateKeys maps each annotation key to the older camelCase spelling Knative still
// accepts ("autoscaling.knative.dev/minScale"). Setting both spellings is an error.
var alternateKeys = map[string]string{
	MinScaleAnnotationKey:                      AutoscalingGroup + "/minScale",
	MaxScaleAnnotationKey:                      AutoscalingGroup + "/maxScale",
	InitialScaleAnnotationKey:                  AutoscalingGroup + "/initialScale",
	PanicWindowPercentageAnnotationKey:         AutoscalingGroup + "/panicWindowPercentage",
	PanicThresholdPercentageAnnotationKey:      AutoscalingGroup + "/panicThresholdPercentage",
	TargetUtilizationPercentageAnnotationKey:   AutoscalingGroup + "/targetUtilizationPercentage",
	TargetBurstCapacityAnnotationKey:           AutoscalingGroup + "/targetBurstCapacity",
	ScaleDownDelayAnnotationKey:                AutoscalingGroup + "/scaleDownDelay",
	ScaleToZeroPodRetentionPeriodAnnotationKey: AutoscalingGroup + "/scaleToZeroPodRetentionPeriod",
}

// Autoscaling is the parsed autoscaling annotations of a revision. A nil pointer or an empty
// string is an annotation that is not set: the autoscaler uses its default for it.
type Autoscaling struct {
	// Class is the class annotation; "" or KPA.
	Class string
	// Metric is MetricConcurrency, MetricRPS or "".
	Metric string
	// Target is the per-instance target of the metric.
	Target *float64
	// TargetUtilizationPercentage is the share of Target aimed at, 1 to 100.
	TargetUtilizationPercentage *float64
	// TargetBurstCapacity is the spare capacity that keeps the activator out of the path.
	TargetBurstCapacity *float64
	// Window is the stable window.
	Window *time.Duration
	// PanicWindowPercentage is the panic window as a percentage of Window.
	PanicWindowPercentage *float64
	// PanicThresholdPercentage is the load that starts panic mode, in percent of capacity.
	PanicThresholdPercentage *float64
	// MinScale is the least number of instances.
	MinScale *int32
	// MaxScale is the most instances; 0 is unlimited.
	MaxScale *int32
	// InitialScale is the number of instances a new revision starts with.
	InitialScale *int32
	// ActivationScale is the least number of instances when scaling up from zero.
	ActivationScale *int32
	// ScaleDownDelay delays scaling down.
	ScaleDownDelay *time.Duration
	// ScaleToZeroPodRetentionPeriod keeps the last instance after deciding to scale to zero.
	ScaleToZeroPodRetentionPeriod *time.Duration
	// MetricAggregationAlgorithm is AlgorithmLinear, AlgorithmWeightedExponential or "".
	MetricAggregationAlgorithm string
}

// ParseAutoscaling parses and checks the autoscaling.knative.dev/ annotations of a revision
// (or of a revision template), with Knative's rules. Each error's path is
// metadata.annotations[KEY], KEY as written; a value in error is left unset in the result. An
// unknown autoscaling.knative.dev/ key is an error (a typo would otherwise be ignored), and so
// is setting a key in both its spellings (min-scale and minScale).
func ParseAutoscaling(annotations map[string]string) (Autoscaling, field.ErrorList) {
	return parseAutoscaling(field.NewPath("metadata", "annotations"), annotations)
}

// autoscalingParser reads one set of annotations.
type autoscalingParser struct {
	p    *field.Path
	anns map[string]string
	errs field.ErrorList
}

// get returns the value of key or its alternate spelling and the key it was found under.
func (ap *autoscalingParser) get(key string) (string, string, bool) {
	v, ok := ap.anns[key]
	alt, hasAlt := alternateKeys[key]
	if hasAlt {
		if av, aok := ap.anns[alt]; aok {
			if ok {
				ap.errs = append(ap.errs, field.Invalid(ap.p.Key(alt), av, fmt.Sprintf("set %s or %s, not both", key, alt)))
				return v, key, true
			}
			return av, alt, true
		}
	}
	return v, key, ok
}

func (ap *autoscalingParser) invalid(k, v, msg string) {
	ap.errs = append(ap.errs, field.Invalid(ap.p.Key(k), v, msg))
}

// float parses key as a finite number within [lo, hi].
func (ap *autoscalingParser) float(key string, lo, hi float64) *float64 {
	v, k, ok := ap.get(key)
	if !ok {
		return nil
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	switch {
	case err != nil || math.IsNaN(f) || math.IsInf(f, 0):
		ap.invalid(k, v, "must be a number")
	case f < lo || f > hi:
		if hi == math.MaxFloat64 {
			ap.invalid(k, v, fmt.Sprintf("must be at least %g", lo))
		} else {
			ap.invalid(k, v, fmt.Sprintf("must be between %g and %g", lo, hi))
		}
	default:
		return &f
	}
	return nil
}

// int32 parses key as a whole number of at least lo.
func (ap *autoscalingParser) int32(key string, lo int32) *int32 {
	v, k, ok := ap.get(key)
	if !ok {
		return nil
	}
	i, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
	switch {
	case err != nil:
		ap.invalid(k, v, "must be a whole number")
	case i < int64(lo):
		ap.invalid(k, v, fmt.Sprintf("must be at least %d", lo))
	default:
		n := int32(i)
		return &n
	}
	return nil
}

// duration parses key as a Go duration within [lo, hi] with at most second precision.
func (ap *autoscalingParser) duration(key string, lo, hi time.Duration) *time.Duration {
	v, k, ok := ap.get(key)
	if !ok {
		return nil
	}
	d, err := time.ParseDuration(strings.TrimSpace(v))
	switch {
	case err != nil:
		ap.invalid(k, v, `must be a duration such as "60s" or "1m30s"`)
	case d < lo || d > hi:
		ap.invalid(k, v, fmt.Sprintf("must be between %v and %v", lo, hi))
	case d.Truncate(time.Second) != d:
		ap.invalid(k, v, "must be specified with at most second precision")
	default:
		return &d
	}
	return nil
}

// oneOf returns key's value when it is one of allowed.
func (ap *autoscalingParser) oneOf(key string, allowed ...string) string {
	v, k, ok := ap.get(key)
	if !ok {
		return ""
	}
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	ap.errs = append(ap.errs, field.NotSupported(ap.p.Key(k), v, allowed))
	return ""
}

// parseAutoscaling is ParseAutoscaling with errors under path p (the annotations map).
func parseAutoscaling(p *field.Path, annotations map[string]string) (Autoscaling, field.ErrorList) {
	ap := &autoscalingParser{p: p, anns: annotations}
	var a Autoscaling
	known := map[string]bool{}
	for _, k := range allAutoscalingKeys {
		known[k] = true
		if alt, ok := alternateKeys[k]; ok {
			known[alt] = true
		}
	}
	var unknown []string
	for k := range annotations {
		if strings.HasPrefix(k, AutoscalingGroup+"/") && !known[k] {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		ap.errs = append(ap.errs, field.Invalid(p.Key(k), annotations[k], "not an autoscaling annotation Eddy knows"))
	}

	if v, k, ok := ap.get(ClassAnnotationKey); ok {
		switch v {
		case KPA:
			a.Class = v
		case HPA:
			ap.invalid(k, v, "Eddy runs the KPA only ("+KPA+"): the HPA scales Kubernetes pods on CPU")
		default:
			ap.errs = append(ap.errs, field.NotSupported(p.Key(k), v, []string{KPA}))
		}
	}
	a.Metric = ap.oneOf(MetricAnnotationKey, MetricConcurrency, MetricRPS)
	a.MetricAggregationAlgorithm = ap.oneOf(MetricAggregationAlgorithmAnnotationKey, AlgorithmLinear, AlgorithmWeightedExponential)
	a.Target = ap.float(TargetAnnotationKey, TargetMin, math.MaxFloat64)
	a.TargetUtilizationPercentage = ap.float(TargetUtilizationPercentageAnnotationKey, 1, 100)
	if v, k, ok := ap.get(TargetBurstCapacityAnnotationKey); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 && f != -1 {
			ap.invalid(k, v, "must be a number of at least 0, or -1 (the activator stays in the request path)")
		} else {
			a.TargetBurstCapacity = &f
		}
	}
	a.Window = ap.duration(WindowAnnotationKey, WindowMin, WindowMax)
	a.PanicWindowPercentage = ap.float(PanicWindowPercentageAnnotationKey, PanicWindowPercentageMin, PanicWindowPercentageMax)
	a.PanicThresholdPercentage = ap.float(PanicThresholdPercentageAnnotationKey, PanicThresholdPercentageMin, PanicThresholdPercentageMax)
	a.MinScale = ap.int32(MinScaleAnnotationKey, 0)
	a.MaxScale = ap.int32(MaxScaleAnnotationKey, 0)
	a.InitialScale = ap.int32(InitialScaleAnnotationKey, 0)
	a.ActivationScale = ap.int32(ActivationScaleAnnotationKey, 1)
	a.ScaleDownDelay = ap.duration(ScaleDownDelayAnnotationKey, 0, WindowMax)
	a.ScaleToZeroPodRetentionPeriod = ap.duration(ScaleToZeroPodRetentionPeriodAnnotationKey, 0, WindowMax)

	if a.MinScale != nil && a.MaxScale != nil && *a.MaxScale != 0 && *a.MaxScale < *a.MinScale {
		_, k, _ := ap.get(MaxScaleAnnotationKey)
		ap.invalid(k, strconv.Itoa(int(*a.MaxScale)), fmt.Sprintf("max-scale=%d is less than min-scale=%d", *a.MaxScale, *a.MinScale))
		a.MaxScale = nil
	}
	if act := a.ActivationScale; act != nil {
		_, k, _ := ap.get(ActivationScaleAnnotationKey)
		switch {
		case a.MinScale != nil && *a.MinScale > *act:
			ap.invalid(k, strconv.Itoa(int(*act)), fmt.Sprintf("min-scale=%d is greater than activation-scale=%d", *a.MinScale, *act))
			a.ActivationScale = nil
		case a.MaxScale != nil && *a.MaxScale != 0 && *a.MaxScale < *act:
			ap.invalid(k, strconv.Itoa(int(*act)), fmt.Sprintf("max-scale=%d is less than activation-scale=%d", *a.MaxScale, *act))
			a.ActivationScale = nil
		}
	}
	return a, dedupe(ap.errs)
}

// dedupe drops repeated errors (a key read twice reports a conflict of spellings twice).
func dedupe(errs field.ErrorList) field.ErrorList {
	seen := map[string]bool{}
	var out field.ErrorList
	for _, e := range errs {
		if s := e.Error(); !seen[s] {
			seen[s] = true
			out = append(out, e)
		}
	}
	return out
}

// allAutoscalingKeys lists every annotation key ParseAutoscaling reads.
var allAutoscalingKeys = []string{
	ClassAnnotationKey, MetricAnnotationKey, TargetAnnotationKey, TargetUtilizationPercentageAnnotationKey,
	TargetBurstCapacityAnnotationKey, WindowAnnotationKey, PanicWindowPercentageAnnotationKey,
	PanicThresholdPercentageAnnotationKey, MinScaleAnnotationKey, MaxScaleAnnotationKey, InitialScaleAnnotationKey,
	ActivationScaleAnnotationKey, ScaleDownDelayAnnotationKey, ScaleToZeroPodRetentionPeriodAnnotationKey,
	MetricAggregationAlgorithmAnnotationKey,
}

// validateNoAutoscalingAnnotations rejects autoscaling annotations on a Service, Configuration
// or Route's own metadata: they belong on the revision template, as Knative requires.
func validateNoAutoscalingAnnotations(annotations map[string]string) field.ErrorList {
	var keys []string
	for k := range annotations {
		if strings.HasPrefix(k, AutoscalingGroup+"/") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var errs field.ErrorList
	for _, k := range keys {
		errs = append(errs, field.Forbidden(field.NewPath("metadata", "annotations").Key(k),
			"autoscaling annotations must be put under spec.template.metadata.annotations to work"))
	}
	return errs
}
