package kafka

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eddyplatform/eddy/bus"
)

func idHash(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return h.Sum32()
}

// faultEvent is an event of the fault test.
func faultEvent(id string, n int) *event.Event {
	e := event.New()
	e.SetID(id)
	e.SetSource("/kafka/fault-test")
	e.SetType("dev.eddy.test.fault")
	e.SetExtension(bus.PartitionKeyExtension, fmt.Sprintf("k%d", n%17))
	if err := e.SetData(event.ApplicationJSON, map[string]int{"n": n}); err != nil {
		panic(err)
	}
	return &e
}

// TestBrokerFailure publishes and consumes while the cluster loses a
// broker, has every partition leader moved, gets a broker back, has its
// group coordinators moved and a group member replaced; the consumers nack
// a tenth of the first deliveries. Every event whose Publish returned nil
// must be delivered and acknowledged, counted by id; duplicates are
// allowed and reported.
func TestBrokerFailure(t *testing.T) {
	c, err := newCluster() // its own cluster: the test takes brokers away
	if err != nil {
		t.Fatalf("cannot start the in-process kfake Kafka cluster: %v", err)
	}
	t.Cleanup(c.Close) // after the cleanups testConfig and open register
	cfg := testConfig(t, c, 6)
	b := open(t, cfg)
	ctx := context.Background()
	const topic = "faults"
	if err := b.EnsureTopic(ctx, topic); err != nil {
		t.Fatal(err)
	}

	var (
		mu        sync.Mutex
		delivered = map[string]int{}
		acked     sync.Map // ids whose Publish returned nil
		nAcked    atomic.Int64
		nFailed   atomic.Int64
		stop      = make(chan struct{})
		cwg, pwg  sync.WaitGroup
	)
	consume := func() bus.Subscription {
		sub, err := b.Subscribe(ctx, topic, "g", bus.SubscribeOptions{MaxInFlight: 64})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sub.Close() })
		cwg.Add(1)
		go func() {
			defer cwg.Done()
			for d := range sub.Deliveries() {
				if d.Attempt() == 1 && idHash(d.Event().ID())%10 == 0 {
					d.Nack() // some first deliveries fail, to redeliver under faults too
					continue
				}
				mu.Lock()
				delivered[d.Event().ID()]++
				mu.Unlock()
				if err := d.Ack(); err != nil {
					t.Errorf("Ack: %v", err)
				}
			}
			if err := sub.Err(); err != nil && !errors.Is(err, bus.ErrClosed) {
				t.Errorf("subscription ended: %v", err)
			}
		}()
		return sub
	}
	first := consume()
	consume()

	var next atomic.Int64
	start := time.Now()
	for p := 0; p < 4; p++ {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				var evs []*event.Event
				for i := 0; i < 20; i++ {
					n := int(next.Add(1))
					evs = append(evs, faultEvent(fmt.Sprintf("f-%07d", n), n))
				}
				pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				err := b.Publish(pctx, topic, evs...)
				cancel()
				if err != nil {
					if nFailed.Add(1) <= 5 {
						t.Logf("Publish failed (allowed; its events are not counted): %v", err)
					}
					continue
				}
				for _, e := range evs {
					acked.Store(e.ID(), true)
				}
				nAcked.Add(int64(len(evs)))
			}
		}()
	}
	published := func(n int64) func() bool {
		target := nAcked.Load() + n
		return func() bool { return nAcked.Load() >= target }
	}

	waitFor(t, "publishes before the faults", 30*time.Second, published(2000))
	victim := int32(0) // not the controller, which kfake keeps on the last broker
	t.Logf("%v: removing broker %d after %d publishes", time.Since(start).Round(time.Millisecond), victim, nAcked.Load())
	if err := c.RemoveNode(victim); err != nil {
		t.Fatalf("RemoveNode: %v", err)
	}
	waitFor(t, "publishes with a broker down", 60*time.Second, published(2000))
	t.Logf("%v: moving every partition leader after %d publishes", time.Since(start).Round(time.Millisecond), nAcked.Load())
	c.ShufflePartitionLeaders()
	waitFor(t, "publishes after the leaders moved", 60*time.Second, published(2000))
	for p := int32(0); p < 6; p++ {
		if err := c.MoveTopicPartition(cfg.TopicPrefix+topic, p, 2); err != nil {
			t.Fatalf("MoveTopicPartition: %v", err)
		}
	}
	t.Logf("%v: moved every partition to broker 2 after %d publishes", time.Since(start).Round(time.Millisecond), nAcked.Load())
	waitFor(t, "publishes with one leader", 60*time.Second, published(2000))
	node, _, err := c.AddNode(-1, 0)
	if err != nil {
		t.Fatalf("AddNode: %v", err)
	}
	t.Logf("%v: added broker %d after %d publishes", time.Since(start).Round(time.Millisecond), node, nAcked.Load())
	waitFor(t, "publishes after a broker came back", 60*time.Second, published(2000))
	t.Logf("%v: moving the group coordinators after %d publishes", time.Since(start).Round(time.Millisecond), nAcked.Load())
	c.RehashCoordinators()
	waitFor(t, "publishes after the coordinators moved", 60*time.Second, published(2000))
	t.Logf("%v: replacing a group member after %d publishes", time.Since(start).Round(time.Millisecond), nAcked.Load())
	if err := first.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	consume()
	waitFor(t, "publishes after the group changed", 60*time.Second, published(2000))
	close(stop)
	pwg.Wait()

	want := 0
	acked.Range(func(_, _ any) bool { want++; return true })
	missing := func() (n int, example string) {
		mu.Lock()
		defer mu.Unlock()
		acked.Range(func(k, _ any) bool {
			if delivered[k.(string)] == 0 {
				n++
				example = k.(string)
			}
			return true
		})
		return n, example
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		n, example := missing()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d acknowledged events never delivered (for example %s)", n, want, example)
		}
		time.Sleep(50 * time.Millisecond) // polling the count
	}
	mu.Lock()
	dups := 0
	for _, n := range delivered {
		dups += n - 1
	}
	mu.Unlock()
	t.Logf("%d acknowledged events all delivered; %d failed publishes; %d duplicate deliveries", want, nFailed.Load(), dups)
	b.Close()
	cwg.Wait()
}
