package stub

import (
	"strings"
	"testing"
	"time"
)

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig(map[string]string{"inMemory": "true", "retentionAge": "72h", "maxInFlight": "16", "segmentBytes": "1048576"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !c.InMemory || c.RetentionAge != 72*time.Hour || c.MaxInFlight != 16 || c.SegmentBytes != 1<<20 {
		t.Fatalf("parsed %+v", c)
	}
	for cfg, want := range map[string]map[string]string{
		`unknown config key "colour"`: {"colour": "blue"},
		`"maxInFlight"`:               {"maxInFlight": "many"},
		`SegmentBytes 10 is below`:    {"segmentBytes": "10"},
	} {
		if _, err := ParseConfig(want, nil); err == nil || !strings.Contains(err.Error(), cfg) {
			t.Errorf("ParseConfig(%v) = %v, want an error containing %s", want, err, cfg)
		}
	}
	if _, err := ParseConfig(nil, map[string][]byte{"password": []byte("x")}); err == nil || strings.Contains(err.Error(), "x") && !strings.Contains(err.Error(), "secretRef") {
		t.Errorf("a secret is refused without echoing it: %v", err)
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add("inMemory", "true")
	f.Add("retentionAge", "-1s")
	f.Add("segmentBytes", "99999999999999999999")
	f.Fuzz(func(t *testing.T, k, v string) {
		c, err := ParseConfig(map[string]string{k: v}, nil)
		if err != nil {
			return
		}
		check := c
		check.InMemory = true
		check.setDefaults()
		if err := check.Validate(); err != nil {
			t.Fatalf("ParseConfig accepted %q=%q but the config is invalid: %v", k, v, err)
		}
	})
}
