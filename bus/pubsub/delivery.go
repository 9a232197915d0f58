package pubsub

import (
	"fmt"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eddyplatform/eddy/bus"
)

// deliveryState is where a delivery is in its life. Guarded by its
// member's mu.
type deliveryState int

const (
	stateHeld     deliveryState = iota // pulled, not handed out yet
	stateOut                           // handed out, not settled
	stateAcked                         // settled by Ack
	stateNacked                        // settled by Nack
	stateExpired                       // its deadline passed: the bus nacked it
	stateReturned                      // its member ended: the bus nacked it
	stateDropped                       // never handed out; returned to Pub/Sub
)

// delivery is one Pub/Sub message handed to one member.
type delivery struct {
	m             *member
	ackID         string
	msgID         string
	key           string // ordering key, in ordered groups only
	ev            *event.Event
	serverAttempt int
	attempt       int // set before the hand-off

	// Guarded by m.mu.
	state      deliveryState
	deadline   time.Time
	extended   bool // ExtendDeadline moved the deadline
	timer      *time.Timer
	leaseUntil time.Time // when Pub/Sub's lease on the message ends
}

var (
	_ bus.Delivery         = (*delivery)(nil)
	_ bus.DeadlineExtender = (*delivery)(nil)
)

// Event returns the event, decoded for this delivery alone.
func (d *delivery) Event() *event.Event { return d.ev }

// Attempt counts the deliveries of this message to the group seen by this
// bus (or Pub/Sub's count, on subscriptions with a dead-letter policy).
func (d *delivery) Attempt() int { return d.attempt }

// Deadline is when the bus nacks the delivery if it is still unsettled.
func (d *delivery) Deadline() time.Time {
	d.m.mu.Lock()
	defer d.m.mu.Unlock()
	return d.deadline
}

func (d *delivery) stopTimer() {
	if d.timer != nil {
		d.timer.Stop()
	}
}

// Ack acknowledges the message. An Ack after the deadline, or after the
// member ended, is still sent; Pub/Sub may have handed the message out again
// by then.
func (d *delivery) Ack() error {
	m := d.m
	m.mu.Lock()
	if d.state == stateAcked || d.state == stateNacked {
		m.mu.Unlock()
		return nil
	}
	if m.b.closed.Load() {
		m.mu.Unlock()
		return errClosed("Ack")
	}
	wasOut := d.state == stateOut
	d.state = stateAcked
	promoted := false
	if wasOut {
		delete(m.out, d)
		d.stopTimer()
		promoted, _ = m.releaseKey(d, true)
	}
	m.mu.Unlock()
	m.g.ack(d.ackID)
	if wasOut {
		m.g.forgetAttempts(d.msgID)
		m.wakePuller()
		if promoted {
			m.wakeDispatcher()
		}
	}
	return nil
}

// Nack returns the message to Pub/Sub for redelivery at once (a
// ModifyAckDeadline to zero). A Nack after the deadline or after the member
// ended does nothing: the bus has already returned it.
func (d *delivery) Nack() error {
	m := d.m
	m.mu.Lock()
	switch d.state {
	case stateAcked, stateNacked:
		m.mu.Unlock()
		return nil
	case stateExpired, stateReturned:
		d.state = stateNacked
		m.mu.Unlock()
		return nil
	}
	if m.b.closed.Load() {
		m.mu.Unlock()
		return errClosed("Nack")
	}
	d.state = stateNacked
	delete(m.out, d)
	d.stopTimer()
	_, dropped := m.releaseKey(d, false)
	m.mu.Unlock()
	m.g.nack(append([]string{d.ackID}, ackIDs(dropped)...)...)
	m.wakePuller()
	return nil
}

// ExtendDeadline moves the delivery's deadline to now plus dur. The bus
// keeps Pub/Sub's lease on the message for as long.
func (d *delivery) ExtendDeadline(dur time.Duration) error {
	if dur <= 0 {
		return fmt.Errorf("pubsub: ExtendDeadline(%v): not positive", dur)
	}
	m := d.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if d.state != stateOut {
		return errSettled
	}
	d.deadline = time.Now().Add(dur)
	d.extended = true
	if d.timer != nil {
		d.timer.Reset(dur)
	}
	return nil
}

// expire runs at the deadline: an unsettled delivery is nacked, so Pub/Sub
// delivers it again, and in an ordered group the events waiting behind it
// go back with it.
func (d *delivery) expire() {
	m := d.m
	m.mu.Lock()
	if d.state != stateOut {
		m.mu.Unlock()
		return
	}
	if left := time.Until(d.deadline); left > 0 { // extended meanwhile
		d.timer.Reset(left)
		m.mu.Unlock()
		return
	}
	d.state = stateExpired
	delete(m.out, d)
	_, dropped := m.releaseKey(d, false)
	m.mu.Unlock()
	m.b.log.Debug("pubsub: ack deadline passed; redelivering", "subscription", m.g.name, "messageID", d.msgID, "attempt", d.attempt)
	m.g.nack(append([]string{d.ackID}, ackIDs(dropped)...)...)
	m.wakePuller()
}

func ackIDs(ds []*delivery) []string {
	ids := make([]string, len(ds))
	for i, d := range ds {
		ids[i] = d.ackID
	}
	return ids
}
