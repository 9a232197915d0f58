package nats

import (
	"testing"

	"github.com/eddyplatform/eddy/bus"
	"github.com/eddyplatform/eddy/bus/bustest"
)

func benchBytes() int64 {
	_, _, size, _ := encodeEvent(bustest.BenchEvent())
	return int64(size)
}

// BenchmarkPublish measures acknowledged publishes to a JetStream stream on
// the local server: single events from 1 and 32 publishers, and batches of
// 100 from 8 publishers.
func BenchmarkPublish(b *testing.B) {
	for _, tc := range []struct {
		name              string
		publishers, batch int
	}{{"publishers=1", 1, 1}, {"publishers=32", 32, 1}, {"publishers=8/batch=100", 8, 100}} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(benchBytes())
			bustest.BenchPublish(b, open(b, testConfig(b)), bustest.BenchOptions{Publishers: tc.publishers, Batch: tc.batch})
		})
	}
}

// BenchmarkPublishConsume measures events published by 8 publishers in
// batches of 10 (64 partition keys), delivered to a group of two members and
// acknowledged, unordered and ordered.
func BenchmarkPublishConsume(b *testing.B) {
	for _, ordered := range []bool{false, true} {
		name := "unordered"
		if ordered {
			name = "ordered"
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(benchBytes())
			bustest.BenchPublishConsume(b, open(b, testConfig(b)), bustest.BenchOptions{Publishers: 8, Batch: 10, Keys: 64,
				Subscribe: bus.SubscribeOptions{MaxInFlight: 1024, Ordered: ordered}})
		})
	}
}
