package bustest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyplatform/eddy/bus"
)

// testRestart: after a close and reopen, a group gets every event it had
// not acknowledged, and the log goes on.
func testRestart(t *testing.T, s *suite) {
	b, reopen := s.open(t)
	if !b.Features().Durable {
		t.Skip("bus is not Durable")
	}
	if reopen == nil {
		t.Fatal("Factory.New returned no Reopen for a Durable bus")
	}
	ensureTopic(t, b, testTopic)
	opts := bus.SubscribeOptions{MaxInFlight: 100}
	sub := subscribe(t, b, "g", opts)
	publish(t, b, events(0, 50)...)
	unacked := map[string]bool{}
	for _, d := range s.recvN(t, sub, 50, false) {
		if dataN(d.Event())%2 == 0 {
			if err := d.Ack(); err != nil {
				t.Fatalf("Ack: %v", err)
			}
		} else {
			unacked[d.Event().ID()] = true
		}
	}
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s.expectEnd(t, sub)

	b2 := reopen(t)
	t.Cleanup(func() { b2.Close() })
	sub2 := subscribe(t, b2, "g", opts)
	dups := s.recvAll(t, sub2, unacked)
	t.Logf("after reopening: %d acknowledged events delivered again", dups)

	publish(t, b2, events(50, 60)...)
	want := map[string]bool{}
	for i := 50; i < 60; i++ {
		want[eventID(i)] = true
	}
	s.recvAll(t, sub2, want)

	if !b2.Features().Replay {
		return
	}
	all := subscribe(t, b2, "all", bus.SubscribeOptions{StartFrom: bus.Earliest(), MaxInFlight: 100})
	wantIDs(t, ids(s.recvN(t, all, 60, true)), 0, 60)
}

// recvAll receives and acks until every id in want was delivered, and
// returns how many other deliveries came meanwhile.
func (s *suite) recvAll(t *testing.T, sub bus.Subscription, want map[string]bool) (others int) {
	t.Helper()
	for len(want) > 0 {
		d := s.recv(t, sub)
		if want[d.Event().ID()] {
			delete(want, d.Event().ID())
		} else {
			others++
		}
		if err := d.Ack(); err != nil {
			t.Fatalf("Ack: %v", err)
		}
	}
	return others
}

// testClose: a closed bus refuses work, ends subscriptions, and (if
// Durable) keeps every publish it acknowledged, even one racing Close.
func testClose(t *testing.T, s *suite) {
	b, reopen := s.open(t)
	ensureTopic(t, b, testTopic)
	ctx := context.Background()
	sub := subscribe(t, b, "g", bus.SubscribeOptions{MaxInFlight: 1 << 20})
	publish(t, b, events(0, 3)...)
	d := s.recv(t, sub)

	var (
		acked   sync.Map
		stop    atomic.Bool
		wg      sync.WaitGroup
		counter atomic.Int64
	)
	counter.Store(1000)
	for p := 0; p < 4; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				n := int(counter.Add(1))
				err := b.Publish(ctx, testTopic, events(n, n+1)...)
				if err != nil {
					if !errors.Is(err, bus.ErrClosed) {
						t.Errorf("Publish racing Close: %v, want nil or ErrClosed", err)
					}
					return
				}
				acked.Store(eventID(n), true)
			}
		}()
	}
	// Let some publishes through before closing.
	s.recvN(t, sub, 10, false)
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	stop.Store(true)
	wg.Wait()

	s.expectEnd(t, sub)
	if err := sub.Err(); !errors.Is(err, bus.ErrClosed) {
		t.Errorf("Err after the bus closed = %v, want ErrClosed", err)
	}
	if err := b.Publish(ctx, testTopic, events(0, 1)...); !errors.Is(err, bus.ErrClosed) {
		t.Errorf("Publish after Close: %v, want ErrClosed", err)
	}
	if _, err := b.Subscribe(ctx, testTopic, "g", bus.SubscribeOptions{}); !errors.Is(err, bus.ErrClosed) {
		t.Errorf("Subscribe after Close: %v, want ErrClosed", err)
	}
	if err := b.EnsureTopic(ctx, "other"); !errors.Is(err, bus.ErrClosed) {
		t.Errorf("EnsureTopic after Close: %v, want ErrClosed", err)
	}
	if err := b.DeleteTopic(ctx, testTopic); !errors.Is(err, bus.ErrClosed) {
		t.Errorf("DeleteTopic after Close: %v, want ErrClosed", err)
	}
	if err := d.Ack(); !errors.Is(err, bus.ErrClosed) {
		t.Errorf("Ack after Close: %v, want ErrClosed", err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close: %v, want nil", err)
	}
	if err := sub.Close(); err != nil {
		t.Errorf("Subscription.Close after the bus closed: %v", err)
	}

	if !b.Features().Durable || reopen == nil {
		return
	}
	want := map[string]bool{}
	acked.Range(func(k, _ any) bool { want[k.(string)] = true; return true })
	b2 := reopen(t)
	t.Cleanup(func() { b2.Close() })
	sub2 := subscribe(t, b2, "g", bus.SubscribeOptions{})
	n := len(want)
	s.recvAll(t, sub2, want)
	t.Logf("all %d publishes acknowledged while closing were delivered after reopening", n)
}

// testManyEvents: many events from concurrent publishers to a group of two
// members, counted by id: none lost.
func testManyEvents(t *testing.T, s *suite) {
	b := s.openWithTopic(t)
	n := s.f.ManyEvents
	const publishers, batch = 8, 100
	subs := []bus.Subscription{subscribe(t, b, "g", bus.SubscribeOptions{}), subscribe(t, b, "g", bus.SubscribeOptions{})}
	c := newCounter(n)
	stop := make(chan struct{})
	var cwg sync.WaitGroup
	for _, sub := range subs {
		cwg.Add(1)
		go consume(t, sub, c, stop, &cwg)
	}
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for p := 0; p < publishers; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				from := int(next.Add(batch)) - batch
				if from >= n {
					return
				}
				if err := b.Publish(context.Background(), testTopic, events(from, min(from+batch, n))...); err != nil {
					t.Errorf("Publish: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	published := time.Since(start)
	deadline := s.f.Timeout + time.Duration(n)*time.Millisecond/2
	select {
	case <-c.done:
	case <-time.After(deadline):
	}
	close(stop)
	cwg.Wait()
	distinct, dups := c.counts()
	if distinct != n {
		t.Fatalf("%d of %d events delivered within %v: %d lost", distinct, n, deadline, n-distinct)
	}
	total := time.Since(start)
	t.Logf("%d events: published in %v, all delivered in %v (%.0f events/s), %d duplicates",
		n, published.Round(time.Millisecond), total.Round(time.Millisecond), float64(n)/total.Seconds(), dups)
}
