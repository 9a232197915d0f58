package autoscaler

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ConfigName is the name of the ConfigMap that holds the autoscaler's cluster-wide defaults.
const ConfigName = "config-autoscaler"

// BucketSize is the granularity of the collector's time series: one bucket per second, as in
// Knative.
const BucketSize = time.Second

// TickInterval is how often a revision's Autoscaler should be asked for a decision (Knative's
// decider tick). It is also the granularity of the scale-down-delay window.
const TickInterval = 2 * time.Second

// Bounds that Knative enforces on configuration and annotation values.
const (
	// TargetMin is the smallest per-instance target value.
	TargetMin = 0.01
	// WindowMin and WindowMax bound the stable window.
	WindowMin = 6 * time.Second
	// WindowMax is the largest stable window.
	WindowMax = time.Hour
	// PanicWindowPercentageMin and PanicWindowPercentageMax bound panic-window-percentage.
	PanicWindowPercentageMin = 1.0
	// PanicWindowPercentageMax is the largest panic-window-percentage.
	PanicWindowPercentageMax = 100.0
	// PanicThresholdPercentageMin and PanicThresholdPercentageMax bound the
	// panic-threshold-percentage annotation.
	PanicThresholdPercentageMin = 110.0
	// PanicThresholdPercentageMax is the largest panic-threshold-percentage annotation.
	PanicThresholdPercentageMax = 1000.0
	// ScaleDownDelayMax is the largest scale-down-delay.
	ScaleDownDelayMax = time.Hour
)

// Config is the autoscaler's cluster-wide configuration: the keys of Knative's
// config-autoscaler ConfigMap (see ConfigFromMap) plus where to register metrics.
type Config struct {
	// PodAutoscalerClass is the default autoscaler class (pod-autoscaler-class); only
	// ClassKPA is implemented here.
	PodAutoscalerClass string
	// EnableScaleToZero (enable-scale-to-zero) lets idle revisions scale to zero.
	EnableScaleToZero bool
	// ContainerConcurrencyTargetFraction is container-concurrency-target-percentage as a
	// fraction (70 → 0.7): the share of an instance's concurrency capacity to aim for.
	ContainerConcurrencyTargetFraction float64
	// ContainerConcurrencyTargetDefault (container-concurrency-target-default) is the
	// per-instance concurrency capacity assumed when containerConcurrency is 0.
	ContainerConcurrencyTargetDefault float64
	// TargetUtilization is the utilization applied to the requests-per-second target. As in
	// Knative it is not a ConfigMap key; the target-utilization-percentage annotation
	// overrides it per revision.
	TargetUtilization float64
	// RPSTargetDefault (requests-per-second-target-default) is the per-instance
	// requests-per-second capacity for the "rps" metric.
	RPSTargetDefault float64
	// TargetBurstCapacity (target-burst-capacity) is the spare concurrency the revision
	// should have before the activator leaves the request path; 0 never puts the activator
	// in the path for capacity reasons, -1 keeps it there always.
	TargetBurstCapacity float64
	// StableWindow (stable-window) is the averaging window of the stable mode.
	StableWindow time.Duration
	// PanicWindowPercentage (panic-window-percentage) sizes the panic window as a
	// percentage of the stable window.
	PanicWindowPercentage float64
	// PanicThresholdPercentage (panic-threshold-percentage) is the load, as a percentage
	// of what the ready instances can take, above which the autoscaler panics.
	PanicThresholdPercentage float64
	// MaxScaleUpRate (max-scale-up-rate) caps one decision at ceil(rate × ready).
	MaxScaleUpRate float64
	// MaxScaleDownRate (max-scale-down-rate) floors one decision at floor(ready / rate).
	MaxScaleDownRate float64
	// ScaleToZeroGracePeriod (scale-to-zero-grace-period) is how long a revision stays
	// inactive, with the activator in its path, before its last instance is removed.
	ScaleToZeroGracePeriod time.Duration
	// ScaleToZeroPodRetentionPeriod (scale-to-zero-pod-retention-period) is the least time
	// the last instance is kept after the revision became inactive.
	ScaleToZeroPodRetentionPeriod time.Duration
	// InitialScale (initial-scale) is the scale a new revision starts at.
	InitialScale int32
	// AllowZeroInitialScale (allow-zero-initial-scale) permits an initial scale of 0.
	AllowZeroInitialScale bool
	// MinScale (min-scale) is the default lower bound of a revision's scale.
	MinScale int32
	// MaxScale (max-scale) is the default upper bound; 0 means unlimited.
	MaxScale int32
	// MaxScaleLimit (max-scale-limit) caps every max-scale; 0 means no cap.
	MaxScaleLimit int32
	// ActivatorCapacity (activator-capacity) is the concurrency one activator can take.
	// Eddy's router is its only activator, so it is parsed and validated but not used.
	ActivatorCapacity float64
	// ScaleDownDelay (scale-down-delay) is how long a lower decision must persist before it
	// is applied.
	ScaleDownDelay time.Duration

	// Registerer receives the autoscaler's Prometheus gauges; nil registers nowhere. It is
	// not read from the ConfigMap.
	Registerer prometheus.Registerer
}

// DefaultConfig returns Knative's defaults.
func DefaultConfig() *Config {
	return &Config{
		PodAutoscalerClass:                 ClassKPA,
		EnableScaleToZero:                  true,
		ContainerConcurrencyTargetFraction: 0.7,
		ContainerConcurrencyTargetDefault:  100,
		TargetUtilization:                  0.7,
		RPSTargetDefault:                   200,
		TargetBurstCapacity:                200,
		StableWindow:                       60 * time.Second,
		PanicWindowPercentage:              10,
		PanicThresholdPercentage:           200,
		MaxScaleUpRate:                     1000,
		MaxScaleDownRate:                   2,
		ScaleToZeroGracePeriod:             30 * time.Second,
		ScaleToZeroPodRetentionPeriod:      0,
		InitialScale:                       1,
		AllowZeroInitialScale:              false,
		MinScale:                           0,
		MaxScale:                           0,
		MaxScaleLimit:                      0,
		ActivatorCapacity:                  100,
		ScaleDownDelay:                     0,
	}
}

// ConfigFromMap parses the data of the config-autoscaler ConfigMap over DefaultConfig. Like
// Knative it ignores keys it does not know; a value that does not parse or is out of range is
// an error naming its key. container-concurrency-target-percentage accepts, for legacy
// reasons, a fraction in (0, 1] as well as a percentage.
func ConfigFromMap(data map[string]string) (*Config, error) {
	c := DefaultConfig()
	p := parser{data: data}
	p.str("pod-autoscaler-class", &c.PodAutoscalerClass)
	p.boolean("enable-scale-to-zero", &c.EnableScaleToZero)
	p.boolean("allow-zero-initial-scale", &c.AllowZeroInitialScale)
	p.float("max-scale-up-rate", &c.MaxScaleUpRate)
	p.float("max-scale-down-rate", &c.MaxScaleDownRate)
	p.float("container-concurrency-target-percentage", &c.ContainerConcurrencyTargetFraction)
	p.float("container-concurrency-target-default", &c.ContainerConcurrencyTargetDefault)
	p.float("requests-per-second-target-default", &c.RPSTargetDefault)
	p.float("target-burst-capacity", &c.TargetBurstCapacity)
	p.float("panic-window-percentage", &c.PanicWindowPercentage)
	p.float("activator-capacity", &c.ActivatorCapacity)
	p.float("panic-threshold-percentage", &c.PanicThresholdPercentage)
	p.int32("initial-scale", &c.InitialScale)
	p.int32("min-scale", &c.MinScale)
	p.int32("max-scale", &c.MaxScale)
	p.int32("max-scale-limit", &c.MaxScaleLimit)
	p.duration("stable-window", &c.StableWindow)
	p.duration("scale-down-delay", &c.ScaleDownDelay)
	p.duration("scale-to-zero-grace-period", &c.ScaleToZeroGracePeriod)
	p.duration("scale-to-zero-pod-retention-period", &c.ScaleToZeroPodRetentionPeriod)
	if p.err != nil {
		return nil, p.err
	}
	// Percentages become fractions; values in (0, 1] are taken as fractions already.
	if c.ContainerConcurrencyTargetFraction > 1 {
		c.ContainerConcurrencyTargetFraction /= 100
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// Validate checks c as Knative checks config-autoscaler; errors name the offending key.
func (c *Config) Validate() error {
	switch {
	case c.PodAutoscalerClass == "":
		return cfgErr("pod-autoscaler-class", "must not be empty")
	case c.ScaleToZeroGracePeriod <= 0:
		return cfgErr("scale-to-zero-grace-period", "must be positive, was %v", c.ScaleToZeroGracePeriod)
	case c.ScaleDownDelay < 0:
		return cfgErr("scale-down-delay", "cannot be negative, was %v", c.ScaleDownDelay)
	case c.ScaleDownDelay.Round(time.Second) != c.ScaleDownDelay:
		return cfgErr("scale-down-delay", "%v must be specified with at most second precision", c.ScaleDownDelay)
	case c.ScaleToZeroPodRetentionPeriod < 0:
		return cfgErr("scale-to-zero-pod-retention-period", "cannot be negative, was %v", c.ScaleToZeroPodRetentionPeriod)
	case c.TargetBurstCapacity < 0 && c.TargetBurstCapacity != -1:
		return cfgErr("target-burst-capacity", "must be either non-negative or -1 (for unlimited), was %v", c.TargetBurstCapacity)
	case c.ContainerConcurrencyTargetFraction <= 0 || c.ContainerConcurrencyTargetFraction > 1:
		return cfgErr("container-concurrency-target-percentage", "%v is outside of valid range of (0, 100]", c.ContainerConcurrencyTargetFraction*100)
	case c.ContainerConcurrencyTargetFraction*c.ContainerConcurrencyTargetDefault < TargetMin:
		return cfgErr("container-concurrency-target-default",
			"with container-concurrency-target-percentage yields a target concurrency of %v, can't be less than %v",
			c.ContainerConcurrencyTargetFraction*c.ContainerConcurrencyTargetDefault, TargetMin)
	case c.TargetUtilization <= 0 || c.TargetUtilization > 1:
		return fmt.Errorf("%s: target utilization %v is outside of valid range of (0, 1]", ConfigName, c.TargetUtilization)
	case c.RPSTargetDefault < TargetMin:
		return cfgErr("requests-per-second-target-default", "must be at least %v, was %v", TargetMin, c.RPSTargetDefault)
	case c.ActivatorCapacity < 1:
		return cfgErr("activator-capacity", "%v, must be at least 1", c.ActivatorCapacity)
	case c.MaxScaleUpRate <= 1:
		return cfgErr("max-scale-up-rate", "%v, must be greater than 1.0", c.MaxScaleUpRate)
	case c.MaxScaleDownRate <= 1:
		return cfgErr("max-scale-down-rate", "%v, must be greater than 1.0", c.MaxScaleDownRate)
	case c.StableWindow < WindowMin || c.StableWindow > WindowMax:
		return cfgErr("stable-window", "%v, must be in [%v; %v] range", c.StableWindow, WindowMin, WindowMax)
	case c.StableWindow.Round(time.Second) != c.StableWindow:
		return cfgErr("stable-window", "%v, must be specified with at most second precision", c.StableWindow)
	case c.PanicWindowPercentage < PanicWindowPercentageMin || c.PanicWindowPercentage > PanicWindowPercentageMax:
		return cfgErr("panic-window-percentage", "%v, must be in [%v, %v] interval",
			c.PanicWindowPercentage, PanicWindowPercentageMin, PanicWindowPercentageMax)
	case c.PanicThresholdPercentage <= 0:
		return cfgErr("panic-threshold-percentage", "%v, must be positive", c.PanicThresholdPercentage)
	case c.InitialScale < 0 || (c.InitialScale == 0 && !c.AllowZeroInitialScale):
		return cfgErr("initial-scale", "%v, must be at least 0 (or at least 1 when allow-zero-initial-scale is false)", c.InitialScale)
	case c.MaxScaleLimit < 0:
		return cfgErr("max-scale-limit", "%v, must be at least 0", c.MaxScaleLimit)
	}
	var minMaxScale int32
	if c.MaxScaleLimit > 0 {
		// A default max-scale must be set when max-scale-limit is.
		minMaxScale = 1
	}
	if c.MaxScale < minMaxScale || (c.MaxScaleLimit > 0 && c.MaxScale > c.MaxScaleLimit) {
		return cfgErr("max-scale", "%d, must be in [%d, max-scale-limit(%d)] range", c.MaxScale, minMaxScale, c.MaxScaleLimit)
	}
	if c.MinScale < 0 || (c.MaxScale > 0 && c.MinScale > c.MaxScale) {
		return cfgErr("min-scale", "%d, must be in [0, max-scale(%d)] range (max-scale 0 is unlimited)", c.MinScale, c.MaxScale)
	}
	return nil
}

func cfgErr(key, format string, args ...any) error {
	return fmt.Errorf("%s: %s: %s", ConfigName, key, fmt.Sprintf(format, args...))
}

// parser reads typed values from ConfigMap data, keeping the first error.
type parser struct {
	data map[string]string
	err  error
}

func (p *parser) raw(key string) (string, bool) {
	if p.err != nil {
		return "", false
	}
	v, ok := p.data[key]
	return v, ok
}

func (p *parser) fail(key, raw string, err error) {
	p.err = fmt.Errorf("%s: failed to parse %q: %q: %w", ConfigName, key, raw, err)
}

func (p *parser) str(key string, dst *string) {
	if v, ok := p.raw(key); ok {
		*dst = v
	}
}

func (p *parser) boolean(key string, dst *bool) {
	if v, ok := p.raw(key); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			p.fail(key, v, err)
			return
		}
		*dst = b
	}
}

func (p *parser) float(key string, dst *float64) {
	if v, ok := p.raw(key); ok {
		f, err := strconv.ParseFloat(v, 64)
		if err == nil && (math.IsNaN(f) || math.IsInf(f, 0)) {
			err = errors.New("not a finite number")
		}
		if err != nil {
			p.fail(key, v, err)
			return
		}
		*dst = f
	}
}

func (p *parser) int32(key string, dst *int32) {
	if v, ok := p.raw(key); ok {
		i, err := strconv.ParseInt(v, 10, 32)
		if err != nil {
			p.fail(key, v, err)
			return
		}
		*dst = int32(i)
	}
}

func (p *parser) duration(key string, dst *time.Duration) {
	if v, ok := p.raw(key); ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			p.fail(key, v, err)
			return
		}
		*dst = d
	}
}
