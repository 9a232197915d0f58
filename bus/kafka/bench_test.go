package kafka

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

func benchBytes(b *testing.B) int64 {
	_, size, err := encodeEvent(context.Background(), "bench", benchEvent())
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
			bb := open(b, testConfig(b, c, 10))
			ctx := context.Background()
			if err := bb.EnsureTopic(ctx, "bench"); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(benchBytes(b))
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for p := 0; p < tc.publishers; p++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					evs := make([]*event.Event, tc.batch)
					for i := range evs {
						evs[i] = benchEvent()
					}
					for {
						n := next.Add(int64(tc.batch))
						if n-int64(tc.batch) >= int64(b.N) {
							return
						}
						k := min(int64(tc.batch), int64(b.N)-(n-int64(tc.batch)))
						for i := range evs[:k] {
							evs[i].SetID(strconv.FormatInt(n+int64(i), 10))
						}
						if err := bb.Publish(ctx, "bench", evs[:k]...); err != nil {
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
// delivered to a group of two members and acknowledged.
func BenchmarkPublishConsume(b *testing.B) {
	c := cluster(b)
	bb := open(b, testConfig(b, c, 10))
	ctx := context.Background()
	if err := bb.EnsureTopic(ctx, "bench"); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(benchBytes(b))
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
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		b.Fatalf("only %d of %d events delivered", acked.Load(), b.N)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}
