package kafka

import (
	"errors"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eddyplatform/eddy/bus"
)

// delivery is one delivery of a record to a member. Its mutable fields are
// guarded by the member's mutex.
type delivery struct {
	m       *member
	rec     *record
	ev      *event.Event
	attempt int

	deadline  time.Time
	timer     *time.Timer
	extended  bool
	received  bool // the member took it from its channel
	settled   bool // Ack or Nack was called
	expired   bool // the deadline passed unsettled
	withdrawn bool // taken back before the member received it
	released  bool // no longer counted against the member's in-flight limit
}

var (
	_ bus.Delivery         = (*delivery)(nil)
	_ bus.DeadlineExtender = (*delivery)(nil)
)

// Event returns the delivered event, the receiver's own copy.
func (d *delivery) Event() *event.Event { return d.ev }

// Attempt counts the deliveries of the event to the group, from 1.
func (d *delivery) Attempt() int { return d.attempt }

// Deadline is when the event is delivered again unless settled.
func (d *delivery) Deadline() time.Time {
	d.m.mu.Lock()
	defer d.m.mu.Unlock()
	return d.deadline
}

// Ack marks the event done for the group: its offset can be committed once
// every earlier record of its partition is done too.
func (d *delivery) Ack() error {
	m := d.m
	if m.b.isClosed() {
		return errClosed
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if d.settled {
		return nil
	}
	d.settled = true
	m.release(d)
	m.ackRecord(d.rec)
	return nil
}

// Nack asks for the event to be delivered again at once.
func (d *delivery) Nack() error {
	m := d.m
	if m.b.isClosed() {
		return errClosed
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if d.settled || d.expired {
		d.settled = true
		return nil
	}
	d.settled = true
	m.release(d)
	m.redeliver(d.rec)
	return nil
}

var errSettled = errors.New("kafka: delivery already settled or expired")

// ExtendDeadline moves the deadline to now plus dur.
func (d *delivery) ExtendDeadline(dur time.Duration) error {
	m := d.m
	if m.b.isClosed() {
		return errClosed
	}
	if dur <= 0 {
		return errors.New("kafka: ExtendDeadline needs a positive duration")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if d.settled || d.expired || d.withdrawn {
		return errSettled
	}
	d.extended = true
	d.deadline = time.Now().Add(dur)
	if d.timer != nil {
		d.timer.Stop()
		d.timer = time.AfterFunc(dur, func() { m.expire(d) })
	}
	return nil
}

// release stops counting d against the member's limits. Called with m.mu
// held.
func (m *member) release(d *delivery) {
	if d.released {
		return
	}
	d.released = true
	if d.timer != nil {
		d.timer.Stop()
	}
	m.outstanding--
	r := d.rec
	r.p.out--
	if r.cur == d {
		r.cur = nil
	}
	signal(m.wake)
	if r.p.out == 0 && r.p.revoked {
		signal(r.p.drained)
	}
}

// ackRecord records that r is done. Called with m.mu held.
func (m *member) ackRecord(r *record) {
	if r.acked {
		return
	}
	r.acked = true
	p := r.p
	p.advance()
	if !m.ordered || r.key == "" || p.revoked {
		return
	}
	waiting := p.keys[r.key]
	if waiting == nil {
		return
	}
	if next, ok := waiting.pop(); ok {
		m.enqueue(next, false)
	} else {
		delete(p.keys, r.key)
	}
}

// redeliver queues r to be delivered again, unless it is done or going.
// Called with m.mu held.
func (m *member) redeliver(r *record) {
	if r.acked || r.p.revoked || r.queued || r.cur != nil {
		return
	}
	m.enqueue(r, true)
}

// enqueue makes r eligible for delivery. Called with m.mu held.
func (m *member) enqueue(r *record, retry bool) {
	r.queued = true
	if retry {
		m.retry.push(r)
	} else {
		m.fresh.push(r)
	}
	signal(m.wake)
}

// expire redelivers d's event if d is still unsettled at its deadline.
func (m *member) expire(d *delivery) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if d.settled || d.expired || d.withdrawn || d.released {
		return
	}
	if rem := time.Until(d.deadline); rem > 0 { // extended meanwhile
		if d.timer != nil {
			d.timer.Stop()
		}
		d.timer = time.AfterFunc(rem, func() { m.expire(d) })
		return
	}
	d.expired = true
	m.release(d)
	m.redeliver(d.rec)
}
