package rabbitmq

import (
	"strings"
	"testing"

	"github.com/eddyplatform/eddy/bus"
)

// TestNames: every name fits RabbitMQ's 255 bytes, even for the longest
// topic, group and prefix, and different groups get different queues.
func TestNames(t *testing.T) {
	n := names{prefix: strings.Repeat("p", maxPrefixLen)}
	long := strings.Repeat("t", bus.MaxNameLen)
	for _, name := range []string{n.exchange(long), n.registry(long), n.lock(long), n.deadLetter(), n.queue(long, long)} {
		if len(name) > maxAMQPName {
			t.Errorf("%d bytes: %s", len(name), name)
		}
	}
	seen := map[string]string{}
	for _, tg := range [][2]string{{"a.b", "c"}, {"a", "b.c"}, {long, long}, {long, long[:199] + "u"}, {long[:150], long}, {long[:150], long[:199]}} {
		q := n.queue(tg[0], tg[1])
		if prev, dup := seen[q]; dup {
			t.Errorf("%v and %s share queue %s", tg, prev, q)
		}
		seen[q] = tg[0] + "/" + tg[1]
	}
	if q := (names{prefix: "eddy."}).queue("orders", "billing"); q != "eddy.orders/billing" {
		t.Errorf("queue %q", q)
	}
}
