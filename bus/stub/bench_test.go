package stub

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eddyplatform/eddy/bus"
)

// benchEvent is a typical small event: about 400 bytes of structured JSON.
func benchEvent() *event.Event {
	e := event.New()
	e.SetID("0")
	e.SetSource("/apis/v1/namespaces/default/pingsources/ping")
	e.SetType("dev.knative.sources.ping")
	e.SetSubject("bench")
	_ = e.SetData(event.ApplicationJSON, map[string]string{"message": strings.Repeat("x", 200)})
	return &e
}

func benchConfig(b *testing.B, mode string) Config {
	if mode == "memory" {
		return Config{InMemory: true}
	}
	return Config{Dir: b.TempDir()}
}

// BenchmarkPublish measures acknowledged publishes of one event each, from
// 1 and 32 concurrent publishers. On disk every publish waits for an fsync;
// concurrent publishers share them.
func BenchmarkPublish(b *testing.B) {
	for _, mode := range []string{"disk", "memory"} {
		for _, publishers := range []int{1, 32} {
			b.Run(mode+"/publishers="+strconv.Itoa(publishers), func(b *testing.B) {
				bb := open(b, benchConfig(b, mode))
				ctx := context.Background()
				if err := bb.EnsureTopic(ctx, "bench"); err != nil {
					b.Fatal(err)
				}
				var next atomic.Int64
				var wg sync.WaitGroup
				b.ResetTimer()
				start := time.Now()
				for p := 0; p < publishers; p++ {
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
}

// BenchmarkEndToEnd measures events published by 32 publishers, delivered
// to a group of two members and acknowledged.
func BenchmarkEndToEnd(b *testing.B) {
	for _, mode := range []string{"disk", "memory"} {
		b.Run(mode, func(b *testing.B) {
			bb := open(b, benchConfig(b, mode))
			ctx := context.Background()
			if err := bb.EnsureTopic(ctx, "bench"); err != nil {
				b.Fatal(err)
			}
			var acked atomic.Int64
			done := make(chan struct{})
			for i := 0; i < 2; i++ {
				sub, err := bb.Subscribe(ctx, "bench", "g", bus.SubscribeOptions{MaxInFlight: 1024})
				if err != nil {
					b.Fatal(err)
				}
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
			for p := 0; p < 32; p++ {
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
		})
	}
}
