package rabbitmq

import (
	"errors"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eddyplatform/eddy/bus"
)

// message is one AMQP delivery from the broker: one delivery tag on one
// session's channel. In ordered mode it may be handed to the member more
// than once (after a nack or an expired deadline) before it is settled at
// the broker.
type message struct {
	sess    *session
	tag     uint64
	ev      *event.Event // as decoded; deliveries get copies where needed
	id      string       // queue, source and id: the attempt tracker's key
	key     string       // partition key, in ordered mode
	attempt int          // while waiting behind its key

	mu   sync.Mutex
	done bool // acknowledged, or nacked back to the broker
}

// finish marks the message settled at the broker and reports whether it
// was not already.
func (m *message) finish() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.done {
		return false
	}
	m.done = true
	return true
}

func (m *message) isDone() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.done
}

// ack acknowledges the message (basic.ack) and lets its key's next event
// go. On a session whose channel is gone the ack cannot be sent; the broker
// has requeued the message and delivers it again.
func (m *message) ack() {
	if !m.finish() {
		return
	}
	b := m.sess.s.b
	b.attempts.forget(m.id)
	if err := m.sess.ch.Ack(m.tag, false); err != nil {
		b.log.Debug("rabbitmq: ack not sent; the event will be delivered again", "queue", m.sess.s.queue, "err", err)
	}
	m.sess.release(m)
}

// requeue gives the message back to the broker (basic.nack with requeue),
// which delivers it again to any member of the group.
func (m *message) requeue(attempt int) {
	if !m.finish() {
		return
	}
	b := m.sess.s.b
	b.attempts.failed(m.id, attempt)
	if err := m.sess.ch.Nack(m.tag, false, true); err != nil {
		b.log.Debug("rabbitmq: nack not sent; the broker requeues the event anyway", "queue", m.sess.s.queue, "err", err)
	}
	m.sess.release(m)
}

type deliveryState uint8

const (
	stateQueued  deliveryState = iota // ready, not yet received
	stateOut                          // received by the member, unsettled
	stateSettled                      // acked or nacked
	stateExpired                      // deadline passed; handed out again
)

// delivery is one hand-out of a message to the member.
type delivery struct {
	m         *message
	attempt   int
	ev        *event.Event
	viaBroker bool // retry by nacking to the broker (unordered); else hand the message out again

	mu       sync.Mutex
	state    deliveryState
	deadline time.Time
	timer    *time.Timer
}

var (
	_ bus.Delivery         = (*delivery)(nil)
	_ bus.DeadlineExtender = (*delivery)(nil)
)

func newDelivery(m *message, attempt int, viaBroker bool) *delivery {
	ev := m.ev
	if !viaBroker {
		c := m.ev.Clone() // the message keeps a pristine copy for the next hand-out
		ev = &c
	}
	return &delivery{m: m, attempt: attempt, ev: ev, viaBroker: viaBroker}
}

// Event returns the delivered event, the receiver's to modify.
func (d *delivery) Event() *event.Event { return d.ev }

// Attempt is 1 on the first delivery and counts up with redeliveries this
// process knows of; see the package documentation.
func (d *delivery) Attempt() int { return d.attempt }

// Deadline is when the bus nacks the delivery back if it is not settled.
func (d *delivery) Deadline() time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.deadline
}

// handOut marks the delivery as being handed to the member, with a
// provisional deadline (received sets the real one).
func (d *delivery) handOut(dl time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.state == stateQueued {
		d.state = stateOut
	}
	if d.state == stateOut && d.timer == nil {
		d.deadline = time.Now().Add(dl)
	}
}

// received starts the deadline once the member has the delivery.
func (d *delivery) received(dl time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.state != stateOut {
		return
	}
	// The member may have extended the deadline already.
	if dl := time.Now().Add(dl); dl.After(d.deadline) {
		d.deadline = dl
	}
	d.timer = time.AfterFunc(time.Until(d.deadline), d.expire)
}

// settle moves an out delivery to settled and reports whether it was out.
func (d *delivery) settle() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.state != stateOut {
		return false
	}
	d.state = stateSettled
	if d.timer != nil {
		d.timer.Stop()
	}
	return true
}

// Ack acknowledges the event to the broker. A late Ack, after the deadline
// handed the event out again, still counts in ordered mode (the message is
// still held) and does nothing otherwise.
func (d *delivery) Ack() error {
	b := d.m.sess.s.b
	if b.isClosed() {
		return bus.ErrClosed
	}
	if d.settle() {
		d.m.sess.s.settled()
		d.m.ack()
		return nil
	}
	d.mu.Lock()
	expired := d.state == stateExpired
	d.mu.Unlock()
	if expired && !d.viaBroker {
		d.m.ack()
	}
	return nil
}

// Nack asks for the event again: nacked with requeue to the broker, which
// may hand it to any member, or, in ordered mode, handed out again before
// its key's later events.
func (d *delivery) Nack() error {
	b := d.m.sess.s.b
	if b.isClosed() {
		return bus.ErrClosed
	}
	if d.settle() {
		d.m.sess.s.settled()
		d.retry()
	}
	return nil
}

// ExtendDeadline moves the deadline to now plus dur.
func (d *delivery) ExtendDeadline(dur time.Duration) error {
	if d.m.sess.s.b.isClosed() {
		return bus.ErrClosed
	}
	if dur <= 0 {
		return errors.New("rabbitmq: ExtendDeadline needs a positive duration")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.state != stateOut {
		return errors.New("rabbitmq: delivery already settled or expired")
	}
	d.deadline = time.Now().Add(dur)
	if d.timer != nil {
		d.timer.Reset(dur)
	}
	return nil
}

// expire runs when the deadline timer fires.
func (d *delivery) expire() {
	d.mu.Lock()
	if d.state != stateOut {
		d.mu.Unlock()
		return
	}
	if rem := time.Until(d.deadline); rem > 0 { // extended meanwhile
		d.timer.Reset(rem)
		d.mu.Unlock()
		return
	}
	d.state = stateExpired
	d.mu.Unlock()
	d.m.sess.s.settled()
	d.retry()
}

// retry has the event delivered again after a nack or an expired deadline.
func (d *delivery) retry() {
	if d.viaBroker {
		d.m.requeue(d.attempt)
		return
	}
	if !d.m.isDone() {
		d.m.sess.redeliver(d.m, d.attempt+1)
	}
}
