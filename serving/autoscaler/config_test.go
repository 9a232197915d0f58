package autoscaler

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestConfigDefaults(t *testing.T) {
	c, err := ConfigFromMap(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
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
		InitialScale:                       1,
		ActivatorCapacity:                  100,
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", c, want)
	}
}

func TestConfigFromMap(t *testing.T) {
	c, err := ConfigFromMap(map[string]string{
		"container-concurrency-target-default":    "10",
		"container-concurrency-target-percentage": "80",
		"requests-per-second-target-default":      "50",
		"target-burst-capacity":                   "-1",
		"stable-window":                           "2m",
		"panic-window-percentage":                 "20",
		"panic-threshold-percentage":              "300",
		"max-scale-up-rate":                       "10",
		"max-scale-down-rate":                     "4",
		"enable-scale-to-zero":                    "false",
		"scale-to-zero-grace-period":              "45s",
		"scale-to-zero-pod-retention-period":      "1m",
		"initial-scale":                           "0",
		"allow-zero-initial-scale":                "true",
		"min-scale":                               "1",
		"max-scale":                               "8",
		"max-scale-limit":                         "10",
		"activator-capacity":                      "50",
		"scale-down-delay":                        "15s",
		"pod-autoscaler-class":                    ClassKPA,
		"some-future-key":                         "ignored",
		"_example":                                "ignored",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		PodAutoscalerClass:                 ClassKPA,
		EnableScaleToZero:                  false,
		ContainerConcurrencyTargetFraction: 0.8,
		ContainerConcurrencyTargetDefault:  10,
		TargetUtilization:                  0.7,
		RPSTargetDefault:                   50,
		TargetBurstCapacity:                -1,
		StableWindow:                       2 * time.Minute,
		PanicWindowPercentage:              20,
		PanicThresholdPercentage:           300,
		MaxScaleUpRate:                     10,
		MaxScaleDownRate:                   4,
		ScaleToZeroGracePeriod:             45 * time.Second,
		ScaleToZeroPodRetentionPeriod:      time.Minute,
		InitialScale:                       0,
		AllowZeroInitialScale:              true,
		MinScale:                           1,
		MaxScale:                           8,
		MaxScaleLimit:                      10,
		ActivatorCapacity:                  50,
		ScaleDownDelay:                     15 * time.Second,
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("\n got %+v\nwant %+v", c, want)
	}

	// Legacy: a fraction in (0, 1] is taken as is.
	c, err = ConfigFromMap(map[string]string{"container-concurrency-target-percentage": "0.5"})
	if err != nil || c.ContainerConcurrencyTargetFraction != 0.5 {
		t.Errorf("fraction: %v %v", c, err)
	}
}

func TestConfigFromMapErrors(t *testing.T) {
	tests := []struct {
		data map[string]string
		key  string
	}{
		{map[string]string{"stable-window": "forever"}, "stable-window"},
		{map[string]string{"stable-window": "5s"}, "stable-window"},
		{map[string]string{"stable-window": "2h"}, "stable-window"},
		{map[string]string{"stable-window": "60500ms"}, "stable-window"},
		{map[string]string{"enable-scale-to-zero": "maybe"}, "enable-scale-to-zero"},
		{map[string]string{"allow-zero-initial-scale": "yes please"}, "allow-zero-initial-scale"},
		{map[string]string{"max-scale-up-rate": "fast"}, "max-scale-up-rate"},
		{map[string]string{"max-scale-up-rate": "1"}, "max-scale-up-rate"},
		{map[string]string{"max-scale-up-rate": "NaN"}, "max-scale-up-rate"},
		{map[string]string{"max-scale-down-rate": "0.5"}, "max-scale-down-rate"},
		{map[string]string{"container-concurrency-target-percentage": "0"}, "container-concurrency-target-percentage"},
		{map[string]string{"container-concurrency-target-percentage": "101"}, "container-concurrency-target-percentage"},
		{map[string]string{"container-concurrency-target-default": "0.001"}, "container-concurrency-target-default"},
		{map[string]string{"requests-per-second-target-default": "0"}, "requests-per-second-target-default"},
		{map[string]string{"target-burst-capacity": "-2"}, "target-burst-capacity"},
		{map[string]string{"panic-window-percentage": "0.5"}, "panic-window-percentage"},
		{map[string]string{"panic-window-percentage": "101"}, "panic-window-percentage"},
		{map[string]string{"panic-threshold-percentage": "0"}, "panic-threshold-percentage"},
		{map[string]string{"scale-to-zero-grace-period": "0s"}, "scale-to-zero-grace-period"},
		{map[string]string{"scale-to-zero-pod-retention-period": "-1s"}, "scale-to-zero-pod-retention-period"},
		{map[string]string{"scale-down-delay": "-1s"}, "scale-down-delay"},
		{map[string]string{"scale-down-delay": "1500ms"}, "scale-down-delay"},
		{map[string]string{"initial-scale": "0"}, "initial-scale"},
		{map[string]string{"initial-scale": "-1", "allow-zero-initial-scale": "true"}, "initial-scale"},
		{map[string]string{"initial-scale": "1.5"}, "initial-scale"},
		{map[string]string{"max-scale": "-1"}, "max-scale"},
		{map[string]string{"max-scale": "11", "max-scale-limit": "10"}, "max-scale"},
		{map[string]string{"max-scale-limit": "10"}, "max-scale"}, // default max-scale 0 (unlimited) exceeds the limit
		{map[string]string{"max-scale-limit": "-1"}, "max-scale-limit"},
		{map[string]string{"min-scale": "-1"}, "min-scale"},
		{map[string]string{"min-scale": "5", "max-scale": "4"}, "min-scale"},
		{map[string]string{"activator-capacity": "0.5"}, "activator-capacity"},
		{map[string]string{"pod-autoscaler-class": ""}, "pod-autoscaler-class"},
	}
	for _, tc := range tests {
		_, err := ConfigFromMap(tc.data)
		if err == nil {
			t.Errorf("%v: no error", tc.data)
			continue
		}
		if !strings.Contains(err.Error(), tc.key) || !strings.HasPrefix(err.Error(), ConfigName+": ") {
			t.Errorf("%v: error %q does not name %q", tc.data, err, tc.key)
		}
	}
}
