package nats

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

// benchEvent is a typical small event: about 400 bytes encoded.
func benchEvent() *event.Event {
	e := event.New()
	e.SetID("0")
	e.SetSource("/apis/v1/namespaces/default/pingsources/ping")
	e.SetType("dev.knative.sources.ping")
	e.SetSubject("bench")
	_ = e.SetData(event.ApplicationJSON, map[string]string{"message": strings.Repeat("x", 200)})
	return &e
}

// BenchmarkPublish measures acknowledged publishes to the real server: one
// event per Publish from 1 and 32 concurrent publishers, and batches of
// 100 events from 8 publishers.
func BenchmarkPublish(b *testing.B) {
	for _, tc := range []struct {
		name              string
		publishers, batch int
	}{{"publishers=1", 1, 1}, {"publishers=32", 32, 1}, {"publishers=8/batch=100", 8, 100}} {
		b.Run(tc.name, func(b *testing.B) {
			bb := open(b, testConfig(b))
			ctx := context.Background()
			if err := bb.EnsureTopic(ctx, "bench"); err != nil {
				b.Fatal(err)
			}
			_, _, size, _ := encodeEvent(benchEvent())
			b.SetBytes(int64(size))
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for p := 0; p < tc.publishers; p++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						from := next.Add(int64(tc.batch)) - int64(tc.batch)
						if from >= int64(b.N) {
							return
						}
						n := min(int64(tc.batch), int64(b.N)-from)
						evs := make([]*event.Event, n)
						for i := range evs {
							evs[i] = benchEvent()
							evs[i].SetID(strconv.FormatInt(from+int64(i), 10))
						}
						if err := bb.Publish(ctx, "bench", evs...); err != nil {
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

// BenchmarkPublishConsume measures events published by 8 publishers in
// batches of 10, delivered to an unordered group of two members (or an
// ordered group keyed over 64 keys) and acknowledged.
func BenchmarkPublishConsume(b *testing.B) {
	for _, ordered := range []bool{false, true} {
		name := "unordered"
		if ordered {
			name = "ordered"
		}
		b.Run(name, func(b *testing.B) {
			bb := open(b, testConfig(b))
			ctx := context.Background()
			if err := bb.EnsureTopic(ctx, "bench"); err != nil {
				b.Fatal(err)
			}
			_, _, size, _ := encodeEvent(benchEvent())
			b.SetBytes(int64(size))
			var acked atomic.Int64
			done := make(chan struct{})
			for i := 0; i < 2; i++ {
				sub, err := bb.Subscribe(ctx, "bench", "g", bus.SubscribeOptions{MaxInFlight: 1024, Ordered: ordered})
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
			const batch = 10
			b.ResetTimer()
			start := time.Now()
			for p := 0; p < 8; p++ {
				go func() {
					for {
						from := next.Add(batch) - batch
						if from >= int64(b.N) {
							return
						}
						n := min(batch, int64(b.N)-from)
						evs := make([]*event.Event, n)
						for i := range evs {
							evs[i] = benchEvent()
							id := from + int64(i)
							evs[i].SetID(strconv.FormatInt(id, 10))
							evs[i].SetExtension(bus.PartitionKeyExtension, "k"+strconv.FormatInt(id%64, 10))
						}
						if err := bb.Publish(ctx, "bench", evs...); err != nil {
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
		})
	}
}
