package pubsub

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"google.golang.org/protobuf/proto"

	"github.com/eddyplatform/eddy/bus"
)

// benchEvent is a typical small event: about 400 bytes.
func benchEvent() *event.Event {
	e := event.New()
	e.SetID("0")
	e.SetSource("/apis/v1/namespaces/default/pingsources/ping")
	e.SetType("dev.knative.sources.ping")
	e.SetSubject("bench")
	_ = e.SetData(event.ApplicationJSON, map[string]string{"message": strings.Repeat("x", 200)})
	return &e
}

// BenchmarkPublish measures acknowledged publishes of one event each to
// pstest, from 1 and 32 concurrent publishers (the publisher batches
// concurrent publishes into one request).
func BenchmarkPublish(b *testing.B) {
	m, err := encodeEvent(benchEvent())
	if err != nil {
		b.Fatal(err)
	}
	for _, publishers := range []int{1, 32} {
		b.Run("publishers="+strconv.Itoa(publishers), func(b *testing.B) {
			srv := startServer(b)
			bb := open(b, testConfig(srv.Addr))
			ctx := context.Background()
			if err := bb.EnsureTopic(ctx, "bench"); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(proto.Size(m)))
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for range publishers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ev := benchEvent()
					for {
						n := next.Add(1)
						if n > int64(b.N) {
							return
						}
						ev.SetID(strconv.FormatInt(n, 10))
						if err := bb.Publish(ctx, "bench", ev); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
		})
	}
}

// BenchmarkPublishConsume measures events published by 32 publishers,
// delivered to a group of two members and acknowledged, through pstest.
func BenchmarkPublishConsume(b *testing.B) {
	srv := startServer(b)
	bb := open(b, testConfig(srv.Addr))
	ctx := context.Background()
	if err := bb.EnsureTopic(ctx, "bench"); err != nil {
		b.Fatal(err)
	}
	var acked atomic.Int64
	done := make(chan struct{})
	for range 2 {
		sub, err := bb.Subscribe(ctx, "bench", "g", bus.SubscribeOptions{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { sub.Close() })
		go func() {
			for d := range sub.Deliveries() {
				_ = d.Event()
				d.Ack()
				if acked.Add(1) == int64(b.N) {
					close(done)
				}
			}
		}()
	}
	var next atomic.Int64
	b.ResetTimer()
	start := time.Now()
	for range 32 {
		go func() {
			ev := benchEvent()
			for {
				n := next.Add(1)
				if n > int64(b.N) {
					return
				}
				ev.SetID(strconv.FormatInt(n, 10))
				if err := bb.Publish(ctx, "bench", ev); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	<-done
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}
