package kafka

import (
	"context"
	"strconv"
	"testing"

	"github.com/eddyplatform/eddy/bus"
	"github.com/eddyplatform/eddy/bus/bustest"
)

func benchBytes(b *testing.B) int64 {
	_, size, err := encodeEvent(context.Background(), "bench", bustest.BenchEvent())
	if err != nil {
		b.Fatal(err)
	}
	return int64(size)
}

// BenchmarkPublish measures acknowledged publishes (acks from all in-sync
// replicas of a three-broker kfake cluster) of one event each, from 1 and
// 32 concurrent publishers, and batches of 100 events from one publisher.
func BenchmarkPublish(b *testing.B) {
	c := cluster(b)
	for _, tc := range []struct {
		publishers, batch int
	}{{1, 1}, {32, 1}, {1, 100}} {
		b.Run("publishers="+strconv.Itoa(tc.publishers)+"/batch="+strconv.Itoa(tc.batch), func(b *testing.B) {
			b.SetBytes(benchBytes(b))
			bustest.BenchPublish(b, open(b, testConfig(b, c, 10)), bustest.BenchOptions{Publishers: tc.publishers, Batch: tc.batch})
		})
	}
}

// BenchmarkPublishConsume measures events published by 32 publishers,
// delivered to a group of two members and acknowledged.
func BenchmarkPublishConsume(b *testing.B) {
	b.SetBytes(benchBytes(b))
	bustest.BenchPublishConsume(b, open(b, testConfig(b, cluster(b), 10)),
		bustest.BenchOptions{Publishers: 32, Subscribe: bus.SubscribeOptions{MaxInFlight: 1024}})
}
