package duck

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	cases := []struct {
		in   string
		want time.Duration
	}{
		{"PT0.2S", 200 * time.Millisecond}, // Knative's default broker backoffDelay
		{"PT0.5S", 500 * time.Millisecond},
		{"PT0,5S", 500 * time.Millisecond}, // ISO 8601 also allows a comma
		{"PT2S", 2 * time.Second},
		{"PT120S", 2 * time.Minute},
		{"PT0S", 0},
		{"PT1M30S", 90 * time.Second},
		{"PT1.5H", 90 * time.Minute},
		{"PT1H2M3.000000004S", time.Hour + 2*time.Minute + 3*time.Second + 4},
		{"PT0.0000000009S", 0}, // below a nanosecond: truncated
		{"P1D", 24 * time.Hour},
		{"P1DT12H", 36 * time.Hour},
		{"P2W", 14 * 24 * time.Hour},
		{"P1Y", 31556952 * time.Second},
		{"P1M", 2629746 * time.Second},
		{"P1Y2M10DT2H30M", 31556952*time.Second + 2*2629746*time.Second + 10*24*time.Hour + 2*time.Hour + 30*time.Minute},
		{"-PT1S", -time.Second},
		{"+PT1S", time.Second},
		{"PT0000010S", 10 * time.Second},
		{"PT9223372036.854775807S", math.MaxInt64},
		{"-PT9223372036.854775808S", math.MinInt64},
	}
	for _, c := range cases {
		got, err := ParseDuration(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}

func TestParseDurationRejects(t *testing.T) {
	cases := map[string]string{
		"":                                    `start with "P"`,
		"5s":                                  `start with "P"`,
		"1h":                                  `start with "P"`,
		"P":                                   "at least one component",
		"PT":                                  `"T" must be followed`,
		"P1DT":                                `"T" must be followed`,
		"pt1s":                                `start with "P"`,
		"PT1s":                                "upper-case",
		"PT1X":                                "unknown designator",
		"P1H":                                 `after a "T"`,
		"PT1D":                                `before the "T"`,
		"PT1S2M":                              "out of order",
		"P1D1D":                               "out of order",
		"PT1.5M30S":                           "only the last component",
		"PT.5S":                               "number before",
		"PT5.S":                               "followed by digits",
		"PTS":                                 "number before",
		"PT5":                                 "no designator",
		"P-1D":                                "number before",
		"PT1STT":                              "twice",
		"2007-03-01T13:00:00Z/P1Y2M10DT2H30M": `start with "P"`, // an interval, from a Knative docs example
		"P1Y2M10DT2H30M ":                     "expected a number",
		"PT9223372036.854775808S":             "out of range",
		"P1000Y":                              "out of range",
		"PT" + strings.Repeat("9", 50) + "S":  "more than 40 digits",
	}
	for in, want := range cases {
		_, err := ParseDuration(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseDuration(%q) = %v, want an error containing %q", in, err, want)
		}
	}
	if _, err := ParseDuration("P1000Y"); !errors.Is(err, ErrDurationRange) {
		t.Errorf("P1000Y: %v does not wrap ErrDurationRange", err)
	}
}

func TestFormatDuration(t *testing.T) {
	cases := map[time.Duration]string{
		0:                                     "PT0S",
		200 * time.Millisecond:                "PT0.2S",
		time.Nanosecond:                       "PT0.000000001S",
		90 * time.Second:                      "PT1M30S",
		time.Hour:                             "PT1H",
		26*time.Hour + 3*time.Second + 500000: "PT26H3.0005S",
		-time.Second:                          "-PT1S",
		math.MinInt64:                         "-PT2562047H47M16.854775808S",
	}
	for d, want := range cases {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
		if back, err := ParseDuration(want); err != nil || back != d {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", want, back, err, d)
		}
	}
}

// FuzzParseDuration checks that the parser never panics, and that whatever it accepts formats
// back to a string it parses to the same duration.
func FuzzParseDuration(f *testing.F) {
	for _, seed := range []string{"PT0.2S", "P1Y2M3W4DT5H6M7.8S", "-PT1S", "P1D", "PT", "5s", "PT9223372036.854775807S", "P1,5D", "+P2W"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			if d != 0 {
				t.Fatalf("ParseDuration(%q) returned %v with error %v", s, d, err)
			}
			return
		}
		if !strings.Contains(s, "P") {
			t.Fatalf("ParseDuration(%q) accepted a string with no P", s)
		}
		out := FormatDuration(d)
		back, err := ParseDuration(out)
		if err != nil || back != d {
			t.Fatalf("ParseDuration(%q) = %v; FormatDuration gave %q, which parses to %v, %v", s, d, out, back, err)
		}
	})
}
