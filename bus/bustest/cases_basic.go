package bustest

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eddyplatform/eddy/bus"
)

// testPublishConsume: published events arrive whole, once, and stay acked.
func testPublishConsume(t *testing.T, s *suite) {
	b := s.openWithTopic(t)
	sub := subscribe(t, b, "g", bus.SubscribeOptions{MaxInFlight: 10}) // holds all 10
	publish(t, b, events(0, 5)...)
	publish(t, b, events(5, 10)...)
	ds := s.recvN(t, sub, 10, false)
	got := ids(ds)
	wantIDs(t, got, 0, 10)
	for _, d := range ds {
		e := d.Event()
		n := dataN(e)
		want := newEvent(eventID(n), n, "", 0)
		if e.ID() != want.ID() || e.Source() != want.Source() || e.Type() != want.Type() ||
			e.Subject() != want.Subject() || e.SpecVersion() != want.SpecVersion() ||
			e.DataContentType() != want.DataContentType() || string(e.Data()) != string(want.Data()) {
			t.Errorf("delivered event differs from the published one:\n got %v\nwant %v", e, want)
		}
		if d.Attempt() != 1 {
			t.Errorf("event %s: first delivery has Attempt %d, want 1", e.ID(), d.Attempt())
		}
		if err := d.Ack(); err != nil {
			t.Fatalf("Ack: %v", err)
		}
		if err := d.Ack(); err != nil {
			t.Errorf("second Ack: %v, want nil", err)
		}
	}
	if len(got) != len(ds) {
		t.Errorf("%d deliveries for %d events without any nack", len(ds), len(got))
	}
	s.expectNone(t, sub)

	// The delivered event is the receiver's to modify.
	publish(t, b, events(10, 11)...)
	d := s.recv(t, sub)
	d.Event().SetExtension("touched", "yes")
	if err := d.Nack(); err != nil {
		t.Fatalf("Nack: %v", err)
	}
	d = s.recv(t, sub)
	if _, ok := d.Event().Extensions()["touched"]; ok {
		t.Errorf("a change to a delivered event leaked into its redelivery")
	}
	d.Ack()
}

// testErrors: missing topics, bad names and bad events are refused with the
// shared errors.
func testErrors(t *testing.T, s *suite) {
	b, _ := s.open(t)
	ctx := context.Background()
	if err := b.Publish(ctx, "missing", events(0, 1)...); !errors.Is(err, bus.ErrTopicNotFound) {
		t.Errorf("Publish to a missing topic: %v, want ErrTopicNotFound", err)
	}
	if _, err := b.Subscribe(ctx, "missing", "g", bus.SubscribeOptions{}); !errors.Is(err, bus.ErrTopicNotFound) {
		t.Errorf("Subscribe to a missing topic: %v, want ErrTopicNotFound", err)
	}
	for _, name := range []string{"", "has/slash", "has space", ".hidden", "-dash", "a\x00b", strings.Repeat("a", bus.MaxNameLen+1)} {
		if err := b.EnsureTopic(ctx, name); !errors.Is(err, bus.ErrInvalidName) {
			t.Errorf("EnsureTopic(%q): %v, want ErrInvalidName", name, err)
		}
	}
	ensureTopic(t, b, testTopic)
	ensureTopic(t, b, testTopic) // idempotent
	ensureTopic(t, b, "Mixed.Case_name-1")
	ensureTopic(t, b, strings.Repeat("a", bus.MaxNameLen))
	if _, err := b.Subscribe(ctx, testTopic, "bad/group", bus.SubscribeOptions{}); !errors.Is(err, bus.ErrInvalidName) {
		t.Errorf("Subscribe with a bad group name: %v, want ErrInvalidName", err)
	}
	invalid := event.New()
	invalid.SetID("x")
	if err := b.Publish(ctx, testTopic, &invalid); !errors.Is(err, bus.ErrInvalidEvent) {
		t.Errorf("Publish of an event without source and type: %v, want ErrInvalidEvent", err)
	}
	if err := b.Publish(ctx, testTopic); err != nil {
		t.Errorf("Publish of no events: %v, want nil", err)
	}
	if err := b.DeleteTopic(ctx, "never-was"); err != nil {
		t.Errorf("DeleteTopic of a missing topic: %v, want nil", err)
	}
	if max := b.Features().MaxEventBytes; max > 0 && max < 64<<20 {
		big := newEvent("big", 0, "", 0)
		if err := big.SetData("application/octet-stream", make([]byte, max+1)); err != nil {
			t.Fatal(err)
		}
		if err := b.Publish(ctx, testTopic, big); !errors.Is(err, bus.ErrEventTooLarge) {
			t.Errorf("Publish above MaxEventBytes: %v, want ErrEventTooLarge", err)
		}
	}
	if !b.Features().OrderedByKey {
		_, err := b.Subscribe(ctx, testTopic, "g", bus.SubscribeOptions{Ordered: true})
		if !errors.Is(err, bus.ErrUnsupported) {
			t.Errorf("Subscribe Ordered on a bus without OrderedByKey: %v, want ErrUnsupported", err)
		}
	}
}

// testNewGroupStartsAtLatest: a new group sees what is published after it
// was created, unless it asks for Earliest.
func testNewGroupStartsAtLatest(t *testing.T, s *suite) {
	b := s.openWithTopic(t)
	publish(t, b, events(0, 5)...)
	sub := subscribe(t, b, "late", bus.SubscribeOptions{})
	publish(t, b, events(5, 10)...)
	got := ids(s.recvN(t, sub, 5, true))
	wantIDs(t, got, 5, 10)
	s.expectNone(t, sub)

	if !b.Features().Replay {
		t.Skip("bus lacks Replay: cannot check StartFrom Earliest")
	}
	early := subscribe(t, b, "early", bus.SubscribeOptions{StartFrom: bus.Earliest()})
	wantIDs(t, ids(s.recvN(t, early, 10, true)), 0, 10)
	s.expectNone(t, early)

	// StartFrom is ignored for an existing group.
	sub.Close()
	sub = subscribe(t, b, "late", bus.SubscribeOptions{StartFrom: bus.Earliest()})
	s.expectNone(t, sub)
}

// testTwoGroups: every group gets every event.
func testTwoGroups(t *testing.T, s *suite) {
	b := s.openWithTopic(t)
	a := subscribe(t, b, "a", bus.SubscribeOptions{})
	c := subscribe(t, b, "c", bus.SubscribeOptions{})
	publish(t, b, events(0, 50)...)
	wantIDs(t, ids(s.recvN(t, a, 50, true)), 0, 50)
	wantIDs(t, ids(s.recvN(t, c, 50, true)), 0, 50)
	s.expectNone(t, a)
	s.expectNone(t, c)
}

// testMembersShare: the members of a group split its events: both get
// some, together all, and an event goes to both only if redelivered.
func testMembersShare(t *testing.T, s *suite) {
	b := s.openWithTopic(t)
	const n = 200
	opts := bus.SubscribeOptions{MaxInFlight: 4}
	subs := []bus.Subscription{subscribe(t, b, "g", opts), subscribe(t, b, "g", opts)}
	type got struct {
		attempts map[string][]int
	}
	var (
		mu   sync.Mutex
		per  = []got{{map[string][]int{}}, {map[string][]int{}}}
		all  = newCounter(n)
		wg   sync.WaitGroup
		stop = make(chan struct{})
	)
	for i, sub := range subs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case d, ok := <-sub.Deliveries():
					if !ok {
						return
					}
					mu.Lock()
					per[i].attempts[d.Event().ID()] = append(per[i].attempts[d.Event().ID()], d.Attempt())
					mu.Unlock()
					all.add(d.Event().ID())
					if err := d.Ack(); err != nil {
						t.Errorf("Ack: %v", err)
					}
				case <-stop:
					return
				}
			}
		}()
	}
	publish(t, b, events(0, n)...)
	s.waitCounter(t, all)
	close(stop)
	wg.Wait()
	for i := range per {
		if len(per[i].attempts) == 0 {
			t.Errorf("member %d got no events; the group did not share them", i)
		}
	}
	for id, a0 := range per[0].attempts {
		a1, both := per[1].attempts[id]
		if !both {
			continue
		}
		redelivered := false
		for _, a := range append(a0, a1...) {
			redelivered = redelivered || a > 1
		}
		if !redelivered {
			t.Errorf("event %s went to both members, neither time as a redelivery", id)
		}
	}
	t.Logf("member 0 got %d events, member 1 got %d", len(per[0].attempts), len(per[1].attempts))
}

// waitCounter waits until c has seen its target of distinct ids.
func (s *suite) waitCounter(t *testing.T, c *counter) {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(s.f.Timeout):
		distinct, _ := c.counts()
		t.Fatalf("only %d of %d events delivered within %v", distinct, c.target, s.f.Timeout)
	}
}

// testConcurrentPublishers: publishes from many goroutines all arrive.
func testConcurrentPublishers(t *testing.T, s *suite) {
	b := s.openWithTopic(t)
	const publishers, each = 16, 100
	sub := subscribe(t, b, "g", bus.SubscribeOptions{})
	c := newCounter(publishers * each)
	stop := make(chan struct{})
	var cwg sync.WaitGroup
	cwg.Add(1)
	go consume(t, sub, c, stop, &cwg)
	var wg sync.WaitGroup
	for p := 0; p < publishers; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				n := p*each + i
				if err := b.Publish(context.Background(), testTopic, newEvent(eventID(n), n, "", 0)); err != nil {
					t.Errorf("Publish: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	s.waitCounter(t, c)
	close(stop)
	cwg.Wait()
}

// testSubscriptionClose: closing a member ends its channel and gives its
// unsettled deliveries to the rest of the group.
func testSubscriptionClose(t *testing.T, s *suite) {
	b := s.openWithTopic(t)
	opts := bus.SubscribeOptions{MaxInFlight: 3}
	first := subscribe(t, b, "g", opts)
	publish(t, b, events(0, 3)...)
	held := s.recvN(t, first, 3, false)
	second := subscribe(t, b, "g", opts)
	if err := first.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s.expectEnd(t, first)
	if err := first.Err(); err != nil {
		t.Errorf("Err after Close = %v, want nil", err)
	}
	if err := first.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	// A late Ack from the closed member still counts.
	if err := held[0].Ack(); err != nil {
		t.Errorf("Ack after the subscription closed: %v, want nil", err)
	}
	want := map[string]bool{held[1].Event().ID(): true, held[2].Event().ID(): true}
	for len(want) > 0 {
		d := s.recv(t, second)
		id := d.Event().ID()
		if want[id] && d.Attempt() < 2 {
			t.Errorf("redelivery of %s to the other member has Attempt %d, want >= 2", id, d.Attempt())
		}
		delete(want, id)
		d.Ack()
	}
}

// testContextCancel: the Subscribe context bounds the subscription.
func testContextCancel(t *testing.T, s *suite) {
	b := s.openWithTopic(t)
	ctx, cancel := context.WithCancel(context.Background())
	sub, err := b.Subscribe(ctx, testTopic, "g", bus.SubscribeOptions{})
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	cancel()
	s.expectEnd(t, sub)
	if err := sub.Err(); err != nil {
		t.Errorf("Err after the context ended = %v, want nil", err)
	}
	if _, err := b.Subscribe(ctx, testTopic, "g", bus.SubscribeOptions{}); err == nil {
		t.Errorf("Subscribe with a done context succeeded")
	}
}

// testDeleteTopic: deleting a topic ends its subscriptions and its events.
func testDeleteTopic(t *testing.T, s *suite) {
	b := s.openWithTopic(t)
	sub := subscribe(t, b, "g", bus.SubscribeOptions{})
	publish(t, b, events(0, 3)...)
	s.recv(t, sub)
	if err := b.DeleteTopic(context.Background(), testTopic); err != nil {
		t.Fatalf("DeleteTopic: %v", err)
	}
	s.expectEnd(t, sub)
	if err := sub.Err(); !errors.Is(err, bus.ErrTopicNotFound) {
		t.Errorf("Err after DeleteTopic = %v, want ErrTopicNotFound", err)
	}
	if err := b.Publish(context.Background(), testTopic, events(3, 4)...); !errors.Is(err, bus.ErrTopicNotFound) {
		t.Errorf("Publish to a deleted topic: %v, want ErrTopicNotFound", err)
	}
	ensureTopic(t, b, testTopic)
	opts := bus.SubscribeOptions{}
	if b.Features().Replay {
		opts.StartFrom = bus.Earliest() // nothing old may be left to replay
	}
	again := subscribe(t, b, "g", opts)
	publish(t, b, events(10, 11)...)
	d := s.recv(t, again)
	if d.Event().ID() != eventID(10) {
		t.Errorf("recreated topic delivered %s, want only new event %s", d.Event().ID(), eventID(10))
	}
	d.Ack()
	s.expectNone(t, again)
}
