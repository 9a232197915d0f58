package stub

import (
	"sync"
	"time"

	"github.com/eddyplatform/eddy/bus"
)

// member is one Subscribe call: one member of a group. It implements
// bus.Subscription.
type member struct {
	g           *group
	ch          chan bus.Delivery
	wakeCh      chan struct{} // capacity 1: outbox has items
	quit        chan struct{} // closed by the group when the member is gone
	done        chan struct{} // closed when run has stopped and ch is closed
	max         int
	ackDeadline time.Duration
	closeOnce   sync.Once

	// Guarded by g.mu.
	inflight  int
	outbox    []outItem
	leaving   bool
	err       error
	stopWatch func() bool // stops watching the Subscribe context
}

var _ bus.Subscription = (*member)(nil)

// outItem is an entry handed to a member, with what it needs to deliver it.
type outItem struct {
	e       *entry
	attempt int
	data    []byte
}

// join adds a member to the group and starts it.
func (g *group) join(opts bus.SubscribeOptions) (*member, error) {
	m := &member{
		g:           g,
		wakeCh:      make(chan struct{}, 1),
		quit:        make(chan struct{}),
		done:        make(chan struct{}),
		max:         opts.MaxInFlight,
		ackDeadline: opts.AckDeadline,
	}
	if m.max == 0 {
		m.max = g.cfg.MaxInFlight
	}
	if m.ackDeadline == 0 {
		m.ackDeadline = g.cfg.AckDeadline
	}
	// Unbuffered: a delivery's ack deadline starts when the subscriber
	// receives it, so the member goroutine must know when that is.
	m.ch = make(chan bus.Delivery)
	g.mu.Lock()
	if g.stopped {
		g.mu.Unlock()
		return nil, errFor(g.stopErr)
	}
	live := 0
	for _, o := range g.members {
		if !o.leaving {
			live++
		}
	}
	if g.ordered != opts.Ordered {
		if live > 0 {
			g.mu.Unlock()
			return nil, bus.ErrGroupMismatch
		}
		g.reap() // leaving members' entries go back before rerouting
		g.ordered = opts.Ordered
		g.reroute()
	}
	g.members = append(g.members, m)
	g.resize()
	if !g.started {
		g.started = true
		go g.run()
	}
	g.mu.Unlock()
	go m.run()
	g.wake()
	return m, nil
}

// signal wakes the member's goroutine.
func (m *member) signal() {
	select {
	case m.wakeCh <- struct{}{}:
	default:
	}
}

// run decodes the member's outbox and sends deliveries to its channel.
func (m *member) run() {
	defer close(m.done)
	defer close(m.ch)
	var batch []outItem
	for {
		select {
		case <-m.wakeCh:
		case <-m.quit:
			return
		}
		for {
			batch = m.g.take(m, batch[:0])
			if len(batch) == 0 {
				break
			}
			for i := range batch {
				it := batch[i]
				batch[i] = outItem{}
				d := m.g.deliver(m, it)
				if d == nil {
					continue
				}
				select {
				case m.ch <- d:
					m.g.received(m, it, d)
				case <-m.quit:
					return
				}
			}
		}
	}
}

// take moves m's outbox into buf, dropping entries no longer out to m.
func (g *group) take(m *member, buf []outItem) []outItem {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, it := range m.outbox {
		if e := it.e; e.state == stateOut && e.attempts == it.attempt && e.member == m {
			it.data = e.data
			buf = append(buf, it)
		}
	}
	clear(m.outbox)
	m.outbox = m.outbox[:0]
	return buf
}

// deliver decodes an item into a delivery. An event that cannot be decoded
// (which a record that passed its checksum never is, unless written by a
// newer format) is logged and acknowledged so it cannot block the group.
func (g *group) deliver(m *member, it outItem) *delivery {
	ev, err := decodeEvent(it.data)
	if err != nil {
		g.t.log.Error("stub: dropping an undecodable event", "group", g.name, "offset", it.e.off, "err", err)
		g.mu.Lock()
		g.ack(it.e)
		g.mu.Unlock()
		return nil
	}
	d := &delivery{g: g, e: it.e, off: it.e.off, attempt: it.attempt, ev: ev}
	// Received no sooner than now, so the deadline is no sooner than this.
	d.deadline.Store(time.Now().Add(m.ackDeadline).UnixNano())
	return d
}

// received starts the deadline of a delivery the subscriber has received.
// If the group took the entry back meanwhile (the member was leaving), the
// delivery is stale: its Deadline is set to now, so that a receiver that
// looks can tell.
func (g *group) received(m *member, it outItem, d *delivery) {
	g.mu.Lock()
	defer g.mu.Unlock()
	e := it.e
	switch {
	case e.state != stateOut || e.attempts != it.attempt || e.member != m:
		d.deadline.Store(time.Now().UnixNano())
	case e.hidx < 0: // not yet extended by the receiver
		e.deadline = time.Now().Add(m.ackDeadline)
		g.out.push(e)
		d.deadline.Store(e.deadline.UnixNano())
	}
}

// Deliveries implements bus.Subscription.
func (m *member) Deliveries() <-chan bus.Delivery { return m.ch }

// Close implements bus.Subscription.
func (m *member) Close() error {
	m.closeOnce.Do(func() {
		g := m.g
		g.mu.Lock()
		if stop := m.stopWatch; stop != nil {
			stop()
		}
		m.leaving = true
		g.mu.Unlock()
		g.wake()
	})
	<-m.done
	return nil
}

// Err implements bus.Subscription.
func (m *member) Err() error {
	m.g.mu.Lock()
	defer m.g.mu.Unlock()
	return m.err
}
