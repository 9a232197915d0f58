package rabbitmq

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eddyplatform/eddy/bus"
)

// benchBus returns a bus with topic "bench" and a group bound to it (so
// that published events are stored, not dropped as unroutable).
func benchBus(b *testing.B) (*Bus, bus.Subscription) {
	b.Helper()
	prefix := testPrefix()
	cleanupTopics(b, prefix, "bench")
	bb := openBus(b, testConfig(b, prefix))
	ctx := context.Background()
	if err := bb.EnsureTopic(ctx, "bench"); err != nil {
		b.Fatal(err)
	}
	sub, err := bb.Subscribe(ctx, "bench", "g", bus.SubscribeOptions{MaxInFlight: 500})
	if err != nil {
		b.Fatal(err)
	}
	return bb, sub
}

func benchEvents(n int) ([]*event.Event, int) {
	evs := make([]*event.Event, n)
	size := 0
	for i := range evs {
		evs[i] = testEvent(fmt.Sprintf("bench-%08d", i))
		size += len(evs[i].Data())
	}
	return evs, size / n
}

// BenchmarkPublish measures confirmed publishing of persistent events to a
// topic with one (idle) group, by batch size and concurrency.
func BenchmarkPublish(b *testing.B) {
	for _, c := range []struct{ batch, publishers int }{{1, 1}, {100, 1}, {1, 16}, {100, 8}} {
		b.Run(fmt.Sprintf("batch=%d/publishers=%d", c.batch, c.publishers), func(b *testing.B) {
			bb, sub := benchBus(b)
			sub.Close() // the queue keeps what is published
			evs, size := benchEvents(c.batch)
			b.SetBytes(int64(size * c.batch))
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for p := 0; p < c.publishers; p++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(b.N) {
						if err := bb.Publish(context.Background(), "bench", evs...); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(b.N*c.batch)/time.Since(start).Seconds(), "events/s")
		})
	}
}

// BenchmarkPublishConsume measures end to end: 8 publishers in batches of
// 100, one member acking each event, until all b.N events arrived.
func BenchmarkPublishConsume(b *testing.B) {
	bb, sub := benchBus(b)
	const publishers, batch = 8, 100
	evs, size := benchEvents(batch)
	b.SetBytes(int64(size))
	var got atomic.Int64
	done := make(chan struct{})
	go func() {
		for d := range sub.Deliveries() {
			d.Ack()
			if got.Add(1) == int64(b.N) {
				close(done)
			}
		}
	}()
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for p := 0; p < publishers; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				from := next.Add(batch) - batch
				if from >= int64(b.N) {
					return
				}
				n := min(int64(batch), int64(b.N)-from)
				if err := bb.Publish(context.Background(), "bench", evs[:n]...); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		b.Fatalf("only %d of %d events arrived", got.Load(), b.N)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
	b.StopTimer()
	sub.Close()
}
