package serving_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/eddyplatform/eddy/api/serving"
)

func f64(v float64) *float64             { return &v }
func i32(v int32) *int32                 { return &v }
func dur(d time.Duration) *time.Duration { return &d }

const as = "autoscaling.knative.dev/"

func TestParseAutoscalingValues(t *testing.T) {
	cases := []struct {
		name string
		anns map[string]string
		want serving.Autoscaling
	}{
		{"none", nil, serving.Autoscaling{}},
		{"other annotations are ignored", map[string]string{"example.com/x": "y", "serving.knative.dev/creator": "me"}, serving.Autoscaling{}},
		{"all of them", map[string]string{
			as + "class": serving.KPA, as + "metric": "rps", as + "target": "150.5", as + "target-utilization-percentage": "70",
			as + "target-burst-capacity": "-1", as + "window": "1m30s", as + "panic-window-percentage": "10.5",
			as + "panic-threshold-percentage": "200", as + "min-scale": "1", as + "max-scale": "10", as + "initial-scale": "0",
			as + "activation-scale": "3", as + "scale-down-delay": "15m", as + "scale-to-zero-pod-retention-period": "0s",
			as + "metric-aggregation-algorithm": "weightedExponential",
		}, serving.Autoscaling{
			Class: serving.KPA, Metric: serving.MetricRPS, Target: f64(150.5), TargetUtilizationPercentage: f64(70),
			TargetBurstCapacity: f64(-1), Window: dur(90 * time.Second), PanicWindowPercentage: f64(10.5),
			PanicThresholdPercentage: f64(200), MinScale: i32(1), MaxScale: i32(10), InitialScale: i32(0),
			ActivationScale: i32(3), ScaleDownDelay: dur(15 * time.Minute), ScaleToZeroPodRetentionPeriod: dur(0),
			MetricAggregationAlgorithm: serving.AlgorithmWeightedExponential,
		}},
		{"bounds are inclusive", map[string]string{
			as + "target": "0.01", as + "window": "6s", as + "panic-window-percentage": "100", as + "panic-threshold-percentage": "110",
			as + "target-utilization-percentage": "1", as + "scale-down-delay": "1h",
		}, serving.Autoscaling{
			Target: f64(0.01), Window: dur(6 * time.Second), PanicWindowPercentage: f64(100), PanicThresholdPercentage: f64(110),
			TargetUtilizationPercentage: f64(1), ScaleDownDelay: dur(time.Hour),
		}},
		{"the 2018 camelCase spellings", map[string]string{
			as + "minScale": "2", as + "maxScale": "5", as + "initialScale": "4", as + "panicWindowPercentage": "20",
			as + "panicThresholdPercentage": "300", as + "targetUtilizationPercentage": "80", as + "targetBurstCapacity": "200",
		}, serving.Autoscaling{
			MinScale: i32(2), MaxScale: i32(5), InitialScale: i32(4), PanicWindowPercentage: f64(20),
			PanicThresholdPercentage: f64(300), TargetUtilizationPercentage: f64(80), TargetBurstCapacity: f64(200),
		}},
		{"max-scale 0 is unlimited", map[string]string{as + "min-scale": "3", as + "max-scale": "0"},
			serving.Autoscaling{MinScale: i32(3), MaxScale: i32(0)}},
		{"metric concurrency", map[string]string{as + "metric": "concurrency"}, serving.Autoscaling{Metric: serving.MetricConcurrency}},
	}
	for _, c := range cases {
		got, errs := serving.ParseAutoscaling(c.anns)
		if len(errs) > 0 {
			t.Errorf("%s: %v", c.name, errs)
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", c.name, got, c.want)
		}
	}
}

func TestParseAutoscalingErrors(t *testing.T) {
	const p = "metadata.annotations[autoscaling.knative.dev/"
	cases := []struct {
		anns map[string]string
		want string
	}{
		{map[string]string{as + "class": serving.HPA}, p + `class]: Invalid value: "hpa.autoscaling.knative.dev": Eddy runs the KPA only`},
		{map[string]string{as + "class": "custom.example.com"}, p + `class]: Unsupported value: "custom.example.com"`},
		{map[string]string{as + "metric": "cpu"}, p + `metric]: Unsupported value: "cpu": supported values: "concurrency", "rps"`},
		{map[string]string{as + "target": "0.001"}, p + `target]: Invalid value: "0.001": must be at least 0.01`},
		{map[string]string{as + "target": "NaN"}, p + `target]: Invalid value: "NaN": must be a number`},
		{map[string]string{as + "target": "ten"}, p + `target]: Invalid value: "ten": must be a number`},
		{map[string]string{as + "target-utilization-percentage": "101"}, p + `target-utilization-percentage]: Invalid value: "101": must be between 1 and 100`},
		{map[string]string{as + "target-burst-capacity": "-2"}, p + `target-burst-capacity]: Invalid value: "-2"`},
		{map[string]string{as + "window": "5s"}, p + `window]: Invalid value: "5s": must be between 6s and 1h0m0s`},
		{map[string]string{as + "window": "1h1s"}, p + `window]: Invalid value: "1h1s": must be between 6s and 1h0m0s`},
		{map[string]string{as + "window": "7.5s"}, p + `window]: Invalid value: "7.5s": must be specified with at most second precision`},
		{map[string]string{as + "window": "60"}, p + `window]: Invalid value: "60": must be a duration`},
		{map[string]string{as + "panic-window-percentage": "0.5"}, p + `panic-window-percentage]: Invalid value: "0.5": must be between 1 and 100`},
		{map[string]string{as + "panic-threshold-percentage": "100"}, p + `panic-threshold-percentage]: Invalid value: "100": must be between 110 and 1000`},
		{map[string]string{as + "panic-threshold-percentage": "1001"}, p + `panic-threshold-percentage]: Invalid value: "1001"`},
		{map[string]string{as + "min-scale": "-1"}, p + `min-scale]: Invalid value: "-1": must be at least 0`},
		{map[string]string{as + "max-scale": "1.5"}, p + `max-scale]: Invalid value: "1.5": must be a whole number`},
		{map[string]string{as + "max-scale": "99999999999"}, p + `max-scale]: Invalid value: "99999999999": must be a whole number`},
		{map[string]string{as + "min-scale": "5", as + "max-scale": "2"}, p + `max-scale]: Invalid value: "2": max-scale=2 is less than min-scale=5`},
		{map[string]string{as + "minScale": "5", as + "maxScale": "2"}, p + `maxScale]: Invalid value: "2": max-scale=2 is less than min-scale=5`},
		{map[string]string{as + "initial-scale": "-1"}, p + `initial-scale]: Invalid value: "-1": must be at least 0`},
		{map[string]string{as + "activation-scale": "0"}, p + `activation-scale]: Invalid value: "0": must be at least 1`},
		{map[string]string{as + "activation-scale": "2", as + "min-scale": "3"}, p + `activation-scale]: Invalid value: "2": min-scale=3 is greater than activation-scale=2`},
		{map[string]string{as + "activation-scale": "5", as + "max-scale": "3"}, p + `activation-scale]: Invalid value: "5": max-scale=3 is less than activation-scale=5`},
		{map[string]string{as + "scale-down-delay": "-1s"}, p + `scale-down-delay]: Invalid value: "-1s": must be between 0s and 1h0m0s`},
		{map[string]string{as + "scale-down-delay": "500ms"}, p + `scale-down-delay]: Invalid value: "500ms": must be specified with at most second precision`},
		{map[string]string{as + "scale-to-zero-pod-retention-period": "2h"}, p + `scale-to-zero-pod-retention-period]: Invalid value: "2h"`},
		{map[string]string{as + "metric-aggregation-algorithm": "median"}, p + `metric-aggregation-algorithm]: Unsupported value: "median"`},
		{map[string]string{as + "min-scale": "1", as + "minScale": "2"}, p + `minScale]: Invalid value: "2": set autoscaling.knative.dev/min-scale or autoscaling.knative.dev/minScale, not both`},
		{map[string]string{as + "minscale": "1"}, p + `minscale]: Invalid value: "1": not an autoscaling annotation Eddy knows`},
	}
	for _, c := range cases {
		got, errs := serving.ParseAutoscaling(c.anns)
		if len(errs) != 1 || !strings.Contains(errs[0].Error(), c.want) {
			t.Errorf("ParseAutoscaling(%v) = %v\n  want one error containing %q", c.anns, errs, c.want)
		}
		// A value in error is left unset: the autoscaler falls back to its default.
		if c.anns[as+"min-scale"] == "-1" && got.MinScale != nil || c.anns[as+"max-scale"] == "2" && got.MaxScale != nil {
			t.Errorf("ParseAutoscaling(%v) kept a value in error: %+v", c.anns, got)
		}
	}
}
