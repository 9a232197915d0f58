package stub

import (
	"fmt"
	"sort"
	"strconv"
	"time"
)

// ParseConfig reads a stub bus's settings from a Bus or ClusterBus spec.config. The stub bus
// takes no credentials, so secret must be empty. Dir is not a key: the platform gives each
// bus its own directory. The keys, each optional:
//
//	inMemory        "true" keeps the log in memory (nothing survives a restart)
//	segmentBytes    Config.SegmentBytes, an integer
//	retentionBytes  Config.RetentionBytes, an integer; negative for no cap
//	retentionAge    Config.RetentionAge, a Go duration such as "72h"; negative for forever
//	maxEventBytes   Config.MaxEventBytes, an integer
//	ackDeadline     Config.AckDeadline, a Go duration
//	maxInFlight     Config.MaxInFlight, an integer
//
// An unknown key or a malformed value is an error that names the key.
func ParseConfig(config map[string]string, secret map[string][]byte) (Config, error) {
	var c Config
	if len(secret) > 0 {
		return c, fmt.Errorf("stub: the stub bus takes no credentials; remove its secretRef")
	}
	keys := make([]string, 0, len(config))
	for k := range config {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := config[k]
		var err error
		switch k {
		case "inMemory":
			c.InMemory, err = strconv.ParseBool(v)
		case "segmentBytes":
			c.SegmentBytes, err = strconv.ParseInt(v, 10, 64)
		case "retentionBytes":
			c.RetentionBytes, err = strconv.ParseInt(v, 10, 64)
		case "retentionAge":
			c.RetentionAge, err = time.ParseDuration(v)
		case "maxEventBytes":
			c.MaxEventBytes, err = strconv.Atoi(v)
		case "ackDeadline":
			c.AckDeadline, err = time.ParseDuration(v)
		case "maxInFlight":
			c.MaxInFlight, err = strconv.Atoi(v)
		default:
			return c, fmt.Errorf("stub: unknown config key %q (known: inMemory, segmentBytes, retentionBytes, retentionAge, maxEventBytes, ackDeadline, maxInFlight)", k)
		}
		if err != nil {
			return c, fmt.Errorf("stub: config key %q: %w", k, err)
		}
	}
	// Check what can be checked without a directory.
	check := c
	check.InMemory = true
	check.setDefaults()
	if err := check.Validate(); err != nil {
		return c, err
	}
	return c, nil
}
