package stub

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eddyplatform/eddy/bus"
)

// TestChurn publishes keyed events while members of an ordered group come
// and go, nack some events and let others expire. Every event must be
// acknowledged in the end, and no event of a key may be delivered before the
// key's previous event was acknowledged. A consumer that handles a delivery
// after its deadline (when the race detector and a busy machine stall it)
// can see an event again that was since acknowledged: that is a duplicate,
// which at-least-once delivery allows, not disorder.
func TestChurn(t *testing.T) {
	for _, mode := range []string{"memory", "disk"} {
		t.Run(mode, func(t *testing.T) {
			cfg := Config{InMemory: true, GroupWindow: 64}
			if mode == "disk" {
				cfg = Config{Dir: t.TempDir(), SegmentBytes: 64 << 10, GroupWindow: 64, CommitInterval: time.Millisecond}
			}
			churn(t, open(t, cfg))
		})
	}
}

func churn(t *testing.T, b *Bus) {
	const events, keys = 20000, 16
	ctx := context.Background()
	if err := b.EnsureTopic(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	opts := bus.SubscribeOptions{Ordered: true, MaxInFlight: 16, AckDeadline: 50 * time.Millisecond}
	// Create the group before publishing.
	first, err := b.Subscribe(ctx, "t", "g", opts)
	if err != nil {
		t.Fatal(err)
	}

	var (
		mu       sync.Mutex
		next     = map[string]int{}
		acked    = map[string]bool{}
		done     = make(chan struct{})
		finished atomic.Bool
		stats    struct{ nacked, ignored, rejoined, dups int }
	)
	handle := func(d bus.Delivery, r *rand.Rand) {
		e := d.Event()
		key := bus.PartitionKey(e)
		seq, _ := strconv.Atoi(e.Extensions()["seq"].(string))
		mu.Lock()
		defer mu.Unlock()
		switch {
		case seq > next[key]:
			t.Errorf("key %s: delivered seq %d (attempt %d) before seq %d was acknowledged", key, seq, d.Attempt(), next[key])
		case seq < next[key]:
			stats.dups++
			d.Ack()
			return
		}
		switch x := r.IntN(100); {
		case x < 1:
			stats.ignored++ // expires and comes again
		case x < 6:
			stats.nacked++
			d.Nack()
		default:
			next[key] = seq + 1
			acked[e.ID()] = true
			if len(acked) == events && !finished.Swap(true) {
				close(done)
			}
			d.Ack()
		}
	}
	var wg sync.WaitGroup
	for c := 0; c < 3; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(c), 1))
			sub := bus.Subscription(nil)
			if c == 0 {
				sub = first
			}
			for !finished.Load() {
				if sub == nil {
					s, err := b.Subscribe(ctx, "t", "g", opts)
					if err != nil {
						t.Error(err)
						return
					}
					sub = s
					mu.Lock()
					stats.rejoined++
					mu.Unlock()
				}
				for n := r.IntN(500); n > 0 && !finished.Load(); n-- {
					select {
					case d := <-sub.Deliveries():
						handle(d, r)
					case <-done:
					}
				}
				sub.Close()
				sub = nil
			}
		}()
	}
	for p := 0; p < 4; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := p; i < events; i += 4 * 10 {
				var batch []*event.Event
				for j := i; j < min(i+4*10, events); j += 4 {
					e := testEvent(fmt.Sprintf("ev-%05d", j))
					e.SetExtension(bus.PartitionKeyExtension, fmt.Sprint("k", j%keys))
					e.SetExtension("seq", strconv.Itoa(j/keys))
					batch = append(batch, e)
				}
				if err := b.Publish(ctx, "t", batch...); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		mu.Lock()
		t.Errorf("only %d of %d events acknowledged", len(acked), events)
		mu.Unlock()
		finished.Store(true)
	}
	wg.Wait()
	t.Logf("nacked %d, let expire %d, members rejoined %d times, %d late duplicates",
		stats.nacked, stats.ignored, stats.rejoined, stats.dups)
}
