package pubsub

import (
	"strconv"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/eddyplatform/eddy/bus/bustest"
)

func benchBytes(b *testing.B) int64 {
	m, err := encodeEvent(bustest.BenchEvent())
	if err != nil {
		b.Fatal(err)
	}
	return int64(proto.Size(m))
}

// BenchmarkPublish measures publishes to pstest that returned a server ID,
// from 1 and 32 publishers.
func BenchmarkPublish(b *testing.B) {
	for _, publishers := range []int{1, 32} {
		b.Run("publishers="+strconv.Itoa(publishers), func(b *testing.B) {
			b.SetBytes(benchBytes(b))
			srv := startServer(b)
			bustest.BenchPublish(b, open(b, testConfig(srv.Addr)), bustest.BenchOptions{Publishers: publishers})
		})
	}
}

// BenchmarkPublishConsume measures events published by 32 publishers,
// delivered to a group of two members and acknowledged.
func BenchmarkPublishConsume(b *testing.B) {
	b.SetBytes(benchBytes(b))
	srv := startServer(b)
	bustest.BenchPublishConsume(b, open(b, testConfig(srv.Addr)), bustest.BenchOptions{Publishers: 32})
}
