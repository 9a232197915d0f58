package autoscaler

import (
	"strings"
	"testing"
	"time"
)

func ptr[T any](v T) *T { return &v }

func TestNewRevisionSettingsTargets(t *testing.T) {
	tests := []struct {
		name          string
		cfg           func(*Config)
		ov            Overrides
		cc            int
		target, total float64
	}{
		{name: "defaults", target: 70, total: 100},
		{name: "container concurrency", cc: 10, target: 7, total: 10},
		{name: "container concurrency above default", cc: 500, target: 350, total: 500},
		{name: "target annotation", ov: Overrides{Target: ptr(50.0)}, target: 35, total: 50},
		{name: "target annotation capped by cc", ov: Overrides{Target: ptr(50.0)}, cc: 10, target: 7, total: 10},
		{name: "target annotation below cc", ov: Overrides{Target: ptr(5.0)}, cc: 10, target: 3.5, total: 5},
		{name: "utilization annotation", ov: Overrides{TargetUtilizationPercentage: ptr(50.0)}, target: 50, total: 100},
		{name: "utilization from config", cfg: func(c *Config) { c.ContainerConcurrencyTargetFraction = 0.9 }, target: 90, total: 100},
		{name: "tiny target floors at TargetMin", ov: Overrides{Target: ptr(0.01), TargetUtilizationPercentage: ptr(1.0)}, target: TargetMin, total: 0.01},
		{name: "rps", ov: Overrides{Metric: ptr(MetricRPS)}, cc: 10, target: 140, total: 200},
		{name: "rps target", ov: Overrides{Metric: ptr(MetricRPS), Target: ptr(100.0)}, cc: 10, target: 70, total: 100},
		{name: "rps utilization", ov: Overrides{Metric: ptr(MetricRPS), TargetUtilizationPercentage: ptr(100.0)}, target: 200, total: 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			if tc.cfg != nil {
				tc.cfg(cfg)
			}
			s, err := NewRevisionSettings(cfg, tc.ov, tc.cc)
			if err != nil {
				t.Fatal(err)
			}
			if s.TargetValue != tc.target || s.TotalValue != tc.total {
				t.Errorf("target, total = %v, %v; want %v, %v", s.TargetValue, s.TotalValue, tc.target, tc.total)
			}
		})
	}
}

func TestNewRevisionSettingsMerge(t *testing.T) {
	s, err := NewRevisionSettings(nil, Overrides{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if s.Metric != MetricConcurrency || s.StableWindow != time.Minute || s.PanicWindow != 6*time.Second ||
		s.PanicThreshold != 2 || s.TargetBurstCapacity != 200 || s.InitialScale != 1 || !s.Reachable ||
		!s.EnableScaleToZero || s.ScaleToZeroGracePeriod != 30*time.Second || s.MaxScaleUpRate != 1000 || s.MaxScaleDownRate != 2 {
		t.Errorf("defaults: %+v", s)
	}
	cfg := DefaultConfig()
	cfg.AllowZeroInitialScale = true
	s, err = NewRevisionSettings(cfg, Overrides{
		Window: ptr(10 * time.Second), PanicWindowPercentage: ptr(10.0), PanicThresholdPercentage: ptr(150.0),
		MinScale: ptr(int32(1)), MaxScale: ptr(int32(5)), InitialScale: ptr(int32(0)), ActivationScale: ptr(int32(2)),
		ScaleDownDelay: ptr(5 * time.Second), TargetBurstCapacity: ptr(0.0), ScaleToZeroPodRetentionPeriod: ptr(time.Minute),
	}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if s.StableWindow != 10*time.Second || s.PanicWindow != time.Second || s.PanicThreshold != 1.5 ||
		s.MinScale != 1 || s.MaxScale != 5 || s.InitialScale != 0 || s.ActivationScale != 2 ||
		s.ScaleDownDelay != 5*time.Second || s.TargetBurstCapacity != 0 || s.ScaleToZeroPodRetentionPeriod != time.Minute {
		t.Errorf("overrides: %+v", s)
	}
	// The panic window is rounded to whole seconds and is at least one.
	for _, tc := range []struct {
		window time.Duration
		pwp    float64
		want   time.Duration
	}{{6 * time.Second, 1, time.Second}, {60 * time.Second, 12.5, 8 * time.Second}, {25 * time.Second, 10, 3 * time.Second}} {
		s, err := NewRevisionSettings(nil, Overrides{Window: ptr(tc.window), PanicWindowPercentage: ptr(tc.pwp)}, 0)
		if err != nil || s.PanicWindow != tc.want {
			t.Errorf("window %v × %v%%: panic window %v (%v), want %v", tc.window, tc.pwp, s.PanicWindow, err, tc.want)
		}
	}
}

func TestNewRevisionSettingsErrors(t *testing.T) {
	limited := DefaultConfig()
	limited.MaxScaleLimit, limited.MaxScale = 10, 5
	tests := []struct {
		cfg *Config
		ov  Overrides
		cc  int
		key string
	}{
		{ov: Overrides{Class: ptr(ClassHPA)}, key: "class"},
		{ov: Overrides{Metric: ptr("cpu")}, key: "metric"},
		{ov: Overrides{Target: ptr(0.0)}, key: "target"},
		{ov: Overrides{TargetUtilizationPercentage: ptr(0.5)}, key: "target-utilization-percentage"},
		{ov: Overrides{TargetUtilizationPercentage: ptr(101.0)}, key: "target-utilization-percentage"},
		{ov: Overrides{TargetBurstCapacity: ptr(-3.0)}, key: "target-burst-capacity"},
		{ov: Overrides{Window: ptr(5 * time.Second)}, key: "window"},
		{ov: Overrides{Window: ptr(10500 * time.Millisecond)}, key: "window"},
		{ov: Overrides{PanicWindowPercentage: ptr(0.0)}, key: "panic-window-percentage"},
		{ov: Overrides{PanicThresholdPercentage: ptr(100.0)}, key: "panic-threshold-percentage"},
		{ov: Overrides{PanicThresholdPercentage: ptr(1001.0)}, key: "panic-threshold-percentage"},
		{ov: Overrides{MinScale: ptr(int32(-1))}, key: "min-scale"},
		{ov: Overrides{MaxScale: ptr(int32(-1))}, key: "max-scale"},
		{ov: Overrides{MinScale: ptr(int32(3)), MaxScale: ptr(int32(2))}, key: "min-scale"},
		{cfg: limited, ov: Overrides{MaxScale: ptr(int32(11))}, key: "max-scale"},
		{cfg: limited, ov: Overrides{MaxScale: ptr(int32(0))}, key: "max-scale"},
		{ov: Overrides{InitialScale: ptr(int32(0))}, key: "initial-scale"},
		{ov: Overrides{ActivationScale: ptr(int32(0))}, key: "activation-scale"},
		{ov: Overrides{ActivationScale: ptr(int32(3)), MaxScale: ptr(int32(2))}, key: "activation-scale"},
		{ov: Overrides{ScaleDownDelay: ptr(-time.Second)}, key: "scale-down-delay"},
		{ov: Overrides{ScaleDownDelay: ptr(2 * time.Hour)}, key: "scale-down-delay"},
		{ov: Overrides{ScaleToZeroPodRetentionPeriod: ptr(-time.Second)}, key: "scale-to-zero-pod-retention-period"},
		{cc: -1, key: "containerConcurrency"},
	}
	for _, tc := range tests {
		_, err := NewRevisionSettings(tc.cfg, tc.ov, tc.cc)
		if err == nil || !strings.Contains(err.Error(), tc.key) {
			t.Errorf("%+v: error %v, want one naming %q", tc.ov, err, tc.key)
		}
	}
}

func TestParseAnnotations(t *testing.T) {
	ov, err := ParseAnnotations(map[string]string{
		"autoscaling.knative.dev/class":                              ClassKPA,
		"autoscaling.knative.dev/metric":                             "rps",
		"autoscaling.knative.dev/target":                             "150",
		"autoscaling.knative.dev/target-utilization-percentage":      "80",
		"autoscaling.knative.dev/targetBurstCapacity":                "0",
		"autoscaling.knative.dev/window":                             "30s",
		"autoscaling.knative.dev/panic-window-percentage":            "20",
		"autoscaling.knative.dev/panicThresholdPercentage":           "150",
		"autoscaling.knative.dev/minScale":                           "1",
		"autoscaling.knative.dev/max-scale":                          "9",
		"autoscaling.knative.dev/initial-scale":                      "2",
		"autoscaling.knative.dev/activation-scale":                   "3",
		"autoscaling.knative.dev/scale-down-delay":                   "20s",
		"autoscaling.knative.dev/scale-to-zero-pod-retention-period": "1m",
		"unrelated.example.com/thing":                                "x",
	})
	if err != nil {
		t.Fatal(err)
	}
	if *ov.Class != ClassKPA || *ov.Metric != MetricRPS || *ov.Target != 150 || *ov.TargetUtilizationPercentage != 80 ||
		*ov.TargetBurstCapacity != 0 || *ov.Window != 30*time.Second || *ov.PanicWindowPercentage != 20 ||
		*ov.PanicThresholdPercentage != 150 || *ov.MinScale != 1 || *ov.MaxScale != 9 || *ov.InitialScale != 2 ||
		*ov.ActivationScale != 3 || *ov.ScaleDownDelay != 20*time.Second || *ov.ScaleToZeroPodRetentionPeriod != time.Minute {
		t.Errorf("parsed %+v", ov)
	}
	ov, err = ParseAnnotations(nil)
	if err != nil || ov != (Overrides{}) {
		t.Errorf("empty: %+v %v", ov, err)
	}
	for ann, key := range map[string]string{
		"target":       "autoscaling.knative.dev/target",
		"window":       "autoscaling.knative.dev/window",
		"min-scale":    "autoscaling.knative.dev/min-scale",
		"maxScale":     "autoscaling.knative.dev/maxScale",
		"initialScale": "autoscaling.knative.dev/initialScale",
	} {
		_, err := ParseAnnotations(map[string]string{AnnotationPrefix + ann: "nope"})
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s: error %v does not name %s", ann, err, key)
		}
	}
	_, err = ParseAnnotations(map[string]string{AnnotationPrefix + "min-scale": "1", AnnotationPrefix + "minScale": "2"})
	if err == nil || !strings.Contains(err.Error(), "minScale") {
		t.Errorf("conflict: %v", err)
	}
}
