package stub

import (
	"strconv"
	"testing"

	"github.com/eddyplatform/eddy/bus"
	"github.com/eddyplatform/eddy/bus/bustest"
)

func benchConfig(b *testing.B, mode string) Config {
	if mode == "memory" {
		return Config{InMemory: true}
	}
	return Config{Dir: b.TempDir()}
}

// BenchmarkPublish measures acknowledged (on disk: fsynced) publishes of one
// event each, from 1 and 32 concurrent publishers.
func BenchmarkPublish(b *testing.B) {
	for _, mode := range []string{"disk", "memory"} {
		for _, publishers := range []int{1, 32} {
			b.Run(mode+"/publishers="+strconv.Itoa(publishers), func(b *testing.B) {
				bustest.BenchPublish(b, open(b, benchConfig(b, mode)), bustest.BenchOptions{Publishers: publishers})
			})
		}
	}
}

// BenchmarkEndToEnd measures events published by 32 publishers, delivered
// to a group of two members and acknowledged.
func BenchmarkEndToEnd(b *testing.B) {
	for _, mode := range []string{"disk", "memory"} {
		b.Run(mode, func(b *testing.B) {
			bustest.BenchPublishConsume(b, open(b, benchConfig(b, mode)),
				bustest.BenchOptions{Publishers: 32, Subscribe: bus.SubscribeOptions{MaxInFlight: 1024}})
		})
	}
}
