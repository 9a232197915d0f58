package bustest

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eddyplatform/eddy/bus"
)

// suite carries the factory and its settings to the cases.
type suite struct {
	f Factory
}

// open returns a fresh bus, closed when the test ends, and its Reopen.
func (s *suite) open(t *testing.T) (bus.Bus, Reopen) {
	t.Helper()
	b, reopen := s.f.New(t)
	if b == nil {
		t.Fatal("bustest: Factory.New returned a nil bus")
	}
	t.Cleanup(func() { b.Close() })
	return b, reopen
}

// openWithTopic returns a fresh bus with topic "events".
func (s *suite) openWithTopic(t *testing.T) bus.Bus {
	t.Helper()
	b, _ := s.open(t)
	ensureTopic(t, b, testTopic)
	return b
}

const testTopic = "events"

func ensureTopic(t *testing.T, b bus.Bus, name string) {
	t.Helper()
	if err := b.EnsureTopic(context.Background(), name); err != nil {
		t.Fatalf("EnsureTopic(%q): %v", name, err)
	}
}

func subscribe(t *testing.T, b bus.Bus, group string, opts bus.SubscribeOptions) bus.Subscription {
	t.Helper()
	sub, err := b.Subscribe(context.Background(), testTopic, group, opts)
	if err != nil {
		t.Fatalf("Subscribe(%q, %q): %v", testTopic, group, err)
	}
	t.Cleanup(func() { sub.Close() })
	return sub
}

// newEvent returns a valid event with id and data {"n": n}; a non-empty key
// becomes its partition key and seq an extension.
func newEvent(id string, n int, key string, seq int) *event.Event {
	e := event.New()
	e.SetID(id)
	e.SetSource("/bustest")
	e.SetType("dev.eddy.bustest.v1")
	e.SetSubject(fmt.Sprintf("n-%d", n))
	if err := e.SetData(event.ApplicationJSON, map[string]int{"n": n}); err != nil {
		panic(err)
	}
	if key != "" {
		e.SetExtension(bus.PartitionKeyExtension, key)
		e.SetExtension("seq", strconv.Itoa(seq))
	}
	return &e
}

// eventID is the id of the n-th event of a case.
func eventID(n int) string { return fmt.Sprintf("e-%07d", n) }

// events returns events with ids eventID(from) to eventID(to-1).
func events(from, to int) []*event.Event {
	evs := make([]*event.Event, 0, to-from)
	for i := from; i < to; i++ {
		evs = append(evs, newEvent(eventID(i), i, "", 0))
	}
	return evs
}

func publish(t *testing.T, b bus.Bus, evs ...*event.Event) {
	t.Helper()
	if err := b.Publish(context.Background(), testTopic, evs...); err != nil {
		t.Fatalf("Publish: %v", err)
	}
}

// dataN returns the n of an event's {"n": n} data, or -1.
func dataN(e *event.Event) int {
	var v struct{ N *int }
	if json.Unmarshal(e.Data(), &v) != nil || v.N == nil {
		return -1
	}
	return *v.N
}

// recv waits for the next delivery; it fails the test if the subscription
// ends or nothing arrives in time.
func (s *suite) recv(t *testing.T, sub bus.Subscription) bus.Delivery {
	t.Helper()
	timer := time.NewTimer(s.f.Timeout)
	defer timer.Stop()
	select {
	case d, ok := <-sub.Deliveries():
		if !ok {
			t.Fatalf("subscription ended while waiting for a delivery: Err() = %v", sub.Err())
		}
		return d
	case <-timer.C:
		t.Fatalf("no delivery within %v", s.f.Timeout)
	}
	return nil
}

// recvN receives n deliveries, acking each if ack.
func (s *suite) recvN(t *testing.T, sub bus.Subscription, n int, ack bool) []bus.Delivery {
	t.Helper()
	ds := make([]bus.Delivery, 0, n)
	for len(ds) < n {
		d := s.recv(t, sub)
		if ack {
			if err := d.Ack(); err != nil {
				t.Fatalf("Ack: %v", err)
			}
		}
		ds = append(ds, d)
	}
	return ds
}

// expectNone fails if a delivery arrives within the quiet period.
func (s *suite) expectNone(t *testing.T, sub bus.Subscription) {
	t.Helper()
	timer := time.NewTimer(s.f.Quiet)
	defer timer.Stop()
	select {
	case d, ok := <-sub.Deliveries():
		if ok {
			t.Fatalf("unexpected delivery of %s (attempt %d)", d.Event().ID(), d.Attempt())
		}
	case <-timer.C:
	}
}

// expectEnd waits until the subscription's channel is closed, discarding
// deliveries still buffered.
func (s *suite) expectEnd(t *testing.T, sub bus.Subscription) {
	t.Helper()
	timer := time.NewTimer(s.f.Timeout)
	defer timer.Stop()
	for {
		select {
		case _, ok := <-sub.Deliveries():
			if !ok {
				return
			}
		case <-timer.C:
			t.Fatalf("subscription did not end within %v", s.f.Timeout)
		}
	}
}

// ids returns the event ids of deliveries, with how often each came.
func ids(ds []bus.Delivery) map[string]int {
	m := make(map[string]int, len(ds))
	for _, d := range ds {
		m[d.Event().ID()]++
	}
	return m
}

// wantIDs fails unless got holds exactly the ids eventID(from..to-1).
func wantIDs(t *testing.T, got map[string]int, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if got[eventID(i)] == 0 {
			t.Errorf("event %s was not delivered", eventID(i))
		}
	}
	for id := range got {
		var n int
		if _, err := fmt.Sscanf(id, "e-%d", &n); err != nil || n < from || n >= to {
			t.Errorf("unexpected event %s delivered", id)
		}
	}
}

// counter tracks deliveries by event id from several goroutines.
type counter struct {
	mu     sync.Mutex
	seen   map[string]int
	target int
	done   chan struct{}
}

func newCounter(target int) *counter {
	return &counter{seen: make(map[string]int, target), target: target, done: make(chan struct{})}
}

// add records one delivery of id and reports whether it was new.
func (c *counter) add(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen[id]++
	if c.seen[id] == 1 && len(c.seen) == c.target {
		close(c.done)
	}
	return c.seen[id] == 1
}

// distinct and dups return the distinct ids and the repeat deliveries.
func (c *counter) counts() (distinct, dups int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.seen {
		dups += n - 1
	}
	return len(c.seen), dups
}

// consume acks every delivery of sub, counting it, until the subscription
// ends or stop is closed. It runs in its own goroutine; errors go to t.Error.
func consume(t *testing.T, sub bus.Subscription, c *counter, stop <-chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	for {
		select {
		case d, ok := <-sub.Deliveries():
			if !ok {
				return
			}
			c.add(d.Event().ID())
			if err := d.Ack(); err != nil {
				t.Errorf("Ack: %v", err)
				return
			}
		case <-stop:
			return
		}
	}
}
