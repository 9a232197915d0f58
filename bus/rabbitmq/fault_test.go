package rabbitmq

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eddyplatform/eddy/bus"
)

// closeConnections closes, through rabbitmqctl, the broker connections whose
// connection_name client property is name, and returns how many it closed.
// Only this test's own connection carries that name, so helpers running
// other tests against the same broker are not disturbed.
func closeConnections(t *testing.T, name string) int {
	t.Helper()
	out := rabbitmqctl(t, "-q", "--no-table-headers", "list_connections", "pid", "client_properties")
	want := fmt.Sprintf(`{"connection_name","%s"}`, name)
	n := 0
	for _, line := range strings.Split(out, "\n") {
		if !strings.Contains(line, want) {
			continue
		}
		pid, _, _ := strings.Cut(line, "\t")
		rabbitmqctl(t, "close_connection", strings.TrimSpace(pid), "test")
		n++
	}
	return n
}

// idCounter counts deliveries by event id.
type idCounter struct {
	mu    sync.Mutex
	seen  map[string]int
	total atomic.Int64
}

func newIDCounter() *idCounter { return &idCounter{seen: map[string]int{}} }

func (c *idCounter) add(id string) {
	c.mu.Lock()
	c.seen[id]++
	c.mu.Unlock()
	c.total.Add(1)
}

// missing returns how many of ids were never delivered, and the repeat
// deliveries.
func (c *idCounter) missing(ids []string) (missing, dups int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range ids {
		if c.seen[id] == 0 {
			missing++
		}
	}
	for _, n := range c.seen {
		dups += n - 1
	}
	return missing, dups
}

// TestFaultReconnect closes the bus's connection with rabbitmqctl several
// times while producers publish and two groups (one unordered, one
// ordered) consume. The bus must reconnect, publishers must block and carry
// on, subscriptions must survive, and every event whose Publish returned nil
// must be delivered to both groups (duplicates are allowed and reported).
func TestFaultReconnect(t *testing.T) {
	const topic = "faults"
	prefix := testPrefix()
	cfg := testConfig(t, prefix)
	cfg.ConnectionName = "eddy-fault-" + runID + "-" + randHex(4)
	cleanupTopics(t, prefix, topic)
	b := openBus(t, cfg)
	ctx := context.Background()
	if err := b.EnsureTopic(ctx, topic); err != nil {
		t.Fatal(err)
	}

	groups := []struct {
		name    string
		ordered bool
	}{{"plain", false}, {"ordered", true}}
	counters := make([]*idCounter, len(groups))
	subs := make([]bus.Subscription, len(groups))
	var cwg sync.WaitGroup
	for i, g := range groups {
		sub, err := b.Subscribe(ctx, topic, g.name, bus.SubscribeOptions{MaxInFlight: 200, Ordered: g.ordered})
		if err != nil {
			t.Fatal(err)
		}
		subs[i] = sub
		counters[i] = newIDCounter()
		cwg.Add(1)
		go func() {
			defer cwg.Done()
			for d := range sub.Deliveries() {
				counters[i].add(d.Event().ID())
				if err := d.Ack(); err != nil {
					t.Errorf("Ack: %v", err)
				}
			}
		}()
	}

	const producers, batch = 4, 50
	var (
		stop     atomic.Bool
		pwg      sync.WaitGroup
		mu       sync.Mutex
		acked    []string
		failures atomic.Int64
	)
	for p := 0; p < producers; p++ {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			for n := 0; !stop.Load(); n++ {
				evs := make([]*event.Event, batch)
				ids := make([]string, batch)
				for i := range evs {
					ids[i] = fmt.Sprintf("p%d-%05d-%02d", p, n, i)
					evs[i] = testEvent(ids[i])
					evs[i].SetExtension(bus.PartitionKeyExtension, fmt.Sprintf("k%d", i%8))
				}
				pctx, cancel := context.WithTimeout(ctx, 60*time.Second)
				err := b.Publish(pctx, topic, evs...)
				cancel()
				if err != nil {
					failures.Add(1)
					t.Logf("Publish failed, its events are not counted: %v", err)
					continue
				}
				mu.Lock()
				acked = append(acked, ids...)
				mu.Unlock()
			}
		}()
	}

	const faults = 3
	for k := 0; k < faults; k++ {
		target := counters[0].total.Load() + 2000
		waitFor(t, "deliveries before the next fault", 60*time.Second, func() bool { return counters[0].total.Load() >= target })
		b.conn.mu.Lock()
		gen := b.conn.gen
		b.conn.mu.Unlock()
		if n := closeConnections(t, cfg.ConnectionName); n == 0 {
			t.Fatalf("fault %d: no broker connection named %q to close", k+1, cfg.ConnectionName)
		}
		waitFor(t, "the bus to reconnect", 30*time.Second, func() bool {
			b.conn.mu.Lock()
			defer b.conn.mu.Unlock()
			return b.conn.gen > gen && b.conn.conn != nil
		})
		t.Logf("fault %d: connection closed at %d deliveries; reconnected", k+1, counters[0].total.Load())
	}
	target := counters[0].total.Load() + 2000
	waitFor(t, "deliveries after the last fault", 60*time.Second, func() bool { return counters[0].total.Load() >= target })
	stop.Store(true)
	pwg.Wait()

	mu.Lock()
	ids := acked
	mu.Unlock()
	if len(ids) == 0 {
		t.Fatal("no Publish succeeded")
	}
	for i, g := range groups {
		c := counters[i]
		waitFor(t, fmt.Sprintf("group %s to receive all %d published events", g.name, len(ids)), 90*time.Second, func() bool {
			missing, _ := c.missing(ids)
			return missing == 0
		})
		_, dups := c.missing(ids)
		t.Logf("group %s: all %d acknowledged events delivered, %d duplicate deliveries", g.name, len(ids), dups)
		if err := subs[i].Err(); err != nil {
			t.Errorf("group %s: subscription ended: %v", g.name, err)
		}
	}
	if n := failures.Load(); n > 0 {
		t.Logf("%d publishes returned an error", n)
	}
	for _, sub := range subs {
		sub.Close()
	}
	cwg.Wait()
}
