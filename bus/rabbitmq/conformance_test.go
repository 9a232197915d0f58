package rabbitmq

import (
	"strings"
	"testing"

	"github.com/eddyplatform/eddy/bus"
	"github.com/eddyplatform/eddy/bus/bustest"
)

// conformanceTopics are the topics bus/bustest makes.
var conformanceTopics = []string{"events", "other", "Mixed.Case_name-1", strings.Repeat("a", bus.MaxNameLen)}

// factory makes buses for bustest, each under its own prefix (the suite
// always uses topic "events" and group "g"); Reopen opens the same prefix
// again.
func factory(mod func(*Config)) func(t *testing.T) (bus.Bus, bustest.Reopen) {
	return func(t *testing.T) (bus.Bus, bustest.Reopen) {
		prefix := testPrefix()
		cfg := testConfig(t, prefix)
		if mod != nil {
			mod(&cfg)
		}
		cleanupTopics(t, prefix, conformanceTopics...)
		return openBus(t, cfg), func(t *testing.T) bus.Bus { return openBus(t, cfg) }
	}
}

// TestConformance runs bus/bustest on classic queues, with the full
// ManyEvents of 100,000.
func TestConformance(t *testing.T) {
	bustest.Run(t, bustest.Factory{New: factory(nil)})
}

// TestConformanceQuorum runs bus/bustest on quorum queues. Its
// ManyEventsNoneLost counts 20,000 events, not 100,000: TestConformance
// counts the full 100,000 through the same client code, and this run is
// about the quorum queue's own paths (delivery counts, requeue, single
// active consumer); the full count would add about 25 seconds to a package
// that must stay under 3 minutes on a 2-core machine shared with others.
func TestConformanceQuorum(t *testing.T) {
	bustest.Run(t, bustest.Factory{
		New:        factory(func(c *Config) { c.QueueType = queueTypeQuorum }),
		ManyEvents: 20_000,
	})
}
