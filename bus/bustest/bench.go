package bustest

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

// BenchEvent returns the event the bus benchmarks publish: a typical small event, about 400
// bytes in structured JSON.
func BenchEvent() *event.Event {
	e := event.New()
	e.SetID("0")
	e.SetSource("/apis/v1/namespaces/default/pingsources/ping")
	e.SetType("dev.knative.sources.ping")
	e.SetSubject("bench")
	_ = e.SetData(event.ApplicationJSON, map[string]string{"message": strings.Repeat("x", 200)})
	return &e
}

// BenchOptions shape a bus benchmark. Zero values mean 1 publisher, 1 event a Publish, 2
// members, and events without a partition key.
type BenchOptions struct {
	// Publishers publish concurrently; Batch is how many events each Publish carries.
	Publishers, Batch int
	// Members subscribe to the group (BenchPublishConsume only), with Subscribe.
	Members   int
	Subscribe bus.SubscribeOptions
	// Keys, when positive, gives the events partition keys k0…k(Keys-1) in turn.
	Keys int
}

func (o *BenchOptions) defaults() {
	o.Publishers, o.Batch = max(o.Publishers, 1), max(o.Batch, 1)
	if o.Members == 0 {
		o.Members = 2
	}
}

// publishAll sends b.N events to topic "bench" of bb from o.Publishers goroutines, each event
// with an id of its own, and returns when all Publish calls returned.
func publishAll(b *testing.B, bb bus.Bus, o BenchOptions) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range o.Publishers {
		wg.Go(func() {
			evs := make([]*event.Event, o.Batch)
			for i := range evs {
				evs[i] = BenchEvent()
			}
			for {
				from := next.Add(int64(o.Batch)) - int64(o.Batch)
				if from >= int64(b.N) {
					return
				}
				n := min(int64(o.Batch), int64(b.N)-from)
				for i, ev := range evs[:n] {
					id := from + int64(i)
					ev.SetID(strconv.FormatInt(id, 10))
					if o.Keys > 0 {
						ev.SetExtension(bus.PartitionKeyExtension, "k"+strconv.FormatInt(id%int64(o.Keys), 10))
					}
				}
				if err := bb.Publish(context.Background(), "bench", evs[:n]...); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// ensureBench makes topic "bench" on bb.
func ensureBench(b *testing.B, bb bus.Bus) {
	if err := bb.EnsureTopic(context.Background(), "bench"); err != nil {
		b.Fatal(err)
	}
}

// BenchPublish measures acknowledged publishes to topic "bench" of bb and reports events/s.
func BenchPublish(b *testing.B, bb bus.Bus, o BenchOptions) {
	o.defaults()
	ensureBench(b, bb)
	b.ResetTimer()
	start := time.Now()
	publishAll(b, bb, o)
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}

// BenchPublishConsume measures events published to topic "bench" of bb, delivered to a group
// of o.Members members and acknowledged, and reports events/s.
func BenchPublishConsume(b *testing.B, bb bus.Bus, o BenchOptions) {
	o.defaults()
	ensureBench(b, bb)
	var acked atomic.Int64
	done := make(chan struct{})
	for range o.Members {
		sub, err := bb.Subscribe(context.Background(), "bench", "g", o.Subscribe)
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
	b.ResetTimer()
	start := time.Now()
	go publishAll(b, bb, o)
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		b.Fatalf("only %d of %d events delivered", acked.Load(), b.N)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}
