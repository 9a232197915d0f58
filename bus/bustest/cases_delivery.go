package bustest

import (
	"hash/fnv"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eddyplatform/eddy/bus"
)

// testNack: a nacked delivery comes again, and an acked one does not.
func testNack(t *testing.T, s *suite) {
	b := s.openWithTopic(t)
	sub := subscribe(t, b, "g", bus.SubscribeOptions{})
	publish(t, b, events(0, 1)...)
	d1 := s.recv(t, sub)
	if err := d1.Nack(); err != nil {
		t.Fatalf("Nack: %v", err)
	}
	if err := d1.Ack(); err != nil {
		t.Errorf("Ack after Nack: %v, want nil (and no effect)", err)
	}
	d2 := s.recv(t, sub)
	if d2.Event().ID() != d1.Event().ID() {
		t.Fatalf("after a nack got %s, want %s again", d2.Event().ID(), d1.Event().ID())
	}
	if d2.Attempt() < 2 {
		t.Errorf("redelivery has Attempt %d, want >= 2", d2.Attempt())
	}
	if err := d2.Ack(); err != nil {
		t.Fatalf("Ack: %v", err)
	}
	s.expectNone(t, sub)
}

// testAckDeadline: an unsettled delivery comes again after its deadline,
// not before; a deadline can be extended where the bus allows.
func testAckDeadline(t *testing.T, s *suite) {
	b := s.openWithTopic(t)
	f := b.Features()
	if !f.AckDeadline {
		t.Skip("bus lacks AckDeadline")
	}
	dl := max(f.MinAckDeadline, 500*time.Millisecond)
	sub := subscribe(t, b, "g", bus.SubscribeOptions{AckDeadline: dl})
	start := time.Now()
	publish(t, b, events(0, 1)...)
	d1 := s.recv(t, sub)
	d2 := s.recv(t, sub)
	elapsed := time.Since(start)
	if d2.Event().ID() != d1.Event().ID() {
		t.Fatalf("got %s, want %s redelivered", d2.Event().ID(), d1.Event().ID())
	}
	if elapsed < dl {
		t.Errorf("redelivered %v after publishing, before the %v ack deadline", elapsed, dl)
	}
	if dd := d1.Deadline(); !dd.IsZero() && time.Now().Before(dd) {
		t.Errorf("redelivered before the first delivery's Deadline %v", dd)
	}
	if d2.Attempt() < 2 {
		t.Errorf("redelivery has Attempt %d, want >= 2", d2.Attempt())
	}
	if err := d2.Ack(); err != nil {
		t.Fatalf("Ack: %v", err)
	}
	if err := d1.Nack(); err != nil { // late: does nothing
		t.Errorf("late Nack: %v", err)
	}
	s.expectNone(t, sub)

	publish(t, b, events(1, 2)...)
	d := s.recv(t, sub)
	ext, ok := d.(bus.DeadlineExtender)
	if !ok {
		d.Ack()
		t.Skip("deliveries lack DeadlineExtender")
	}
	if err := ext.ExtendDeadline(4 * dl); err != nil {
		t.Fatalf("ExtendDeadline: %v", err)
	}
	s.expectNoneFor(t, sub, 2*dl)
	if err := d.Ack(); err != nil {
		t.Fatalf("Ack after extending: %v", err)
	}
	if err := ext.ExtendDeadline(dl); err == nil {
		t.Errorf("ExtendDeadline of a settled delivery succeeded")
	}
}

// expectNoneFor fails if a delivery arrives within d.
func (s *suite) expectNoneFor(t *testing.T, sub bus.Subscription, d time.Duration) {
	t.Helper()
	q := s.f.Quiet
	s.f.Quiet = d
	defer func() { s.f.Quiet = q }()
	s.expectNone(t, sub)
}

// testPerKeyOrder: in an ordered group, events of one key arrive in publish
// order, one at a time, across members and through nacks.
func testPerKeyOrder(t *testing.T, s *suite) {
	b := s.openWithTopic(t)
	if !b.Features().OrderedByKey {
		t.Skip("bus lacks OrderedByKey")
	}
	const keys, perKey = 4, 50
	opts := bus.SubscribeOptions{Ordered: true, MaxInFlight: 8}
	subs := []bus.Subscription{subscribe(t, b, "g", opts), subscribe(t, b, "g", opts)}
	if _, err := b.Subscribe(t.Context(), testTopic, "g", bus.SubscribeOptions{}); err == nil {
		t.Errorf("an unordered member joined an ordered group")
	}
	var (
		mu     sync.Mutex
		next   = map[string]int{}
		errs   int
		c      = newCounter(keys * perKey)
		stop   = make(chan struct{})
		wg     sync.WaitGroup
		nacked int
	)
	for _, sub := range subs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				var d bus.Delivery
				var ok bool
				select {
				case d, ok = <-sub.Deliveries():
					if !ok {
						return
					}
				case <-stop:
					return
				}
				e := d.Event()
				key := bus.PartitionKey(e)
				seq, _ := strconv.Atoi(extString(e, "seq"))
				nack := d.Attempt() == 1 && hash(e.ID())%5 == 0
				mu.Lock()
				if seq != next[key] && errs < 10 {
					errs++
					t.Errorf("key %s: got seq %d (attempt %d), want %d", key, seq, d.Attempt(), next[key])
				}
				if nack {
					nacked++
				} else {
					next[key] = seq + 1 // before Ack releases the key
				}
				mu.Unlock()
				if nack {
					d.Nack()
					continue
				}
				c.add(e.ID())
				if err := d.Ack(); err != nil {
					t.Errorf("Ack: %v", err)
				}
			}
		}()
	}
	var evs []*event.Event
	for i := 0; i < perKey; i++ {
		for k := 0; k < keys; k++ {
			n := i*keys + k
			evs = append(evs, newEvent(eventID(n), n, "key-"+strconv.Itoa(k), i))
		}
	}
	for len(evs) > 0 {
		batch := evs[:min(len(evs), 20)]
		evs = evs[len(batch):]
		publish(t, b, batch...)
	}
	s.waitCounter(t, c)
	close(stop)
	wg.Wait()
	t.Logf("%d events in order across %d keys, %d nacked along the way", keys*perKey, keys, nacked)
}

func extString(e *event.Event, name string) string {
	v, _ := e.Extensions()[name].(string)
	return v
}

func hash(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return h.Sum32()
}

// testReplayOffset: a new group can start at an offset.
func testReplayOffset(t *testing.T, s *suite) {
	b := s.openWithTopic(t)
	if !b.Features().Offsets {
		t.Skip("bus lacks Offsets")
	}
	sub := subscribe(t, b, "first", bus.SubscribeOptions{})
	publish(t, b, events(0, 10)...)
	offsets := map[string]int64{}
	for _, d := range s.recvN(t, sub, 10, true) {
		o, ok := d.(bus.Offsetter)
		if !ok {
			t.Fatalf("delivery lacks Offsetter though Features().Offsets")
		}
		offsets[d.Event().ID()] = o.Offset()
	}
	for i := 1; i < 10; i++ {
		if offsets[eventID(i)] <= offsets[eventID(i-1)] {
			t.Errorf("offset of %s (%d) is not after %s (%d)", eventID(i), offsets[eventID(i)], eventID(i-1), offsets[eventID(i-1)])
		}
	}
	from := subscribe(t, b, "from4", bus.SubscribeOptions{StartFrom: bus.AtOffset(offsets[eventID(4)])})
	wantIDs(t, ids(s.recvN(t, from, 6, true)), 4, 10)
	s.expectNone(t, from)

	before := subscribe(t, b, "before", bus.SubscribeOptions{StartFrom: bus.AtOffset(-100)})
	wantIDs(t, ids(s.recvN(t, before, 10, true)), 0, 10)

	past := subscribe(t, b, "past", bus.SubscribeOptions{StartFrom: bus.AtOffset(offsets[eventID(9)] + 1000)})
	s.expectNone(t, past)
	publish(t, b, events(10, 11)...)
	wantIDs(t, ids(s.recvN(t, past, 1, true)), 10, 11)
}

// testReplayTime: a new group can start at a time.
func testReplayTime(t *testing.T, s *suite) {
	b := s.openWithTopic(t)
	if !b.Features().Replay {
		t.Skip("bus lacks Replay")
	}
	publish(t, b, events(0, 5)...)
	mid := time.Now().Add(20 * time.Millisecond)
	// Let the clock pass mid, so that the next events are stored after it.
	<-time.After(time.Until(mid.Add(20 * time.Millisecond)))
	publish(t, b, events(5, 10)...)

	after := subscribe(t, b, "after", bus.SubscribeOptions{StartFrom: bus.AtTime(mid)})
	wantIDs(t, ids(s.recvN(t, after, 5, true)), 5, 10)
	s.expectNone(t, after)

	all := subscribe(t, b, "all", bus.SubscribeOptions{StartFrom: bus.AtTime(mid.Add(-time.Hour))})
	wantIDs(t, ids(s.recvN(t, all, 10, true)), 0, 10)

	future := subscribe(t, b, "future", bus.SubscribeOptions{StartFrom: bus.AtTime(time.Now().Add(time.Hour))})
	s.expectNone(t, future)
}
