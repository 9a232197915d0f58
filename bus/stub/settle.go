package stub

import (
	"errors"
	"time"
)

// Settling: Ack, Nack and ExtendDeadline of deliveries, applied to the
// group's state under its mutex by the caller's goroutine.

// ack settles an entry as done; g.mu must be held.
func (g *group) ack(e *entry) {
	switch e.state {
	case stateAcked:
		return
	case stateOut:
		g.takeBack(e)
	}
	heldKey := e.state != stateWaiting
	e.state = stateAcked
	e.data = nil
	if g.ordered && len(e.key) > 0 && heldKey {
		g.releaseKey(e.key)
	}
	if g.window.len() == 0 || g.window.front() != e {
		return
	}
	refill := g.limit - g.refillLocked()
	before := g.window.len()
	for g.window.len() > 0 && g.window.front().state == stateAcked {
		g.window.pop()
	}
	if before > refill && g.window.len() <= refill {
		g.wake() // room to read more
	}
	if g.file != nil && !g.persistSoon {
		g.persistSoon = true
		g.wake()
	}
}

// settle applies a delivery's Ack or Nack.
func (g *group) settle(d *delivery, ack bool) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopped {
		return errFor(g.stopErr)
	}
	e := d.e
	if ack {
		g.ack(e)
		return nil
	}
	if e.state != stateOut || e.attempts != d.attempt {
		return nil // expired or settled already; it was handed out again
	}
	g.takeBack(e)
	e.state = stateQueued
	g.ready.push(e)
	g.wake()
	return nil
}

// errExpired is returned by ExtendDeadline for a delivery no longer out.
var errExpired = errors.New("stub: delivery already settled or expired")

// extend moves an out delivery's deadline.
func (g *group) extend(d *delivery, dur time.Duration) (time.Time, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopped {
		return time.Time{}, errFor(g.stopErr)
	}
	e := d.e
	if e.state != stateOut || e.attempts != d.attempt {
		return time.Time{}, errExpired
	}
	e.deadline = time.Now().Add(dur)
	if e.hidx >= 0 {
		g.out.fix(e.hidx)
	} else {
		g.out.push(e)
	}
	g.wake()
	return e.deadline, nil
}
