package stub

import (
	"sync"
	"time"
)

// A group reads its topic's log into a window of entries (from its oldest
// unacknowledged event to the newest it has read) and hands them to its
// members. One goroutine per group (run) reads the log, dispatches entries
// to members, expires deadlines and persists the committed offset; one
// goroutine per member (member.run) decodes and delivers what it was given.
// Ack and Nack update the group's state directly under its mutex and wake
// the group goroutine only when that can make progress. There is no
// goroutine per event.

// entryState is where an entry is in its life.
type entryState uint8

const (
	stateQueued  entryState = iota // in ready or fresh, awaiting a member
	stateWaiting                   // ordered: behind an earlier event of its key
	stateOut                       // delivered to entry.member, not settled
	stateAcked                     // done
)

// entry is one event in a group's window.
type entry struct {
	off      int64
	key      []byte // partition key, aliasing the read buffer
	data     []byte // event JSON, aliasing the read buffer; nil once acked
	state    entryState
	attempts int       // deliveries so far in this process
	member   *member   // holder while out
	deadline time.Time // while out and received
	hidx     int       // index in the deadline heap once received, else -1
}

// group is one consumer group of one topic.
type group struct {
	t    *topic
	name string
	cfg  *Config
	file *offsetFile // nil in memory

	kick chan struct{} // wakes run; capacity 1
	quit chan struct{} // closed to stop run
	done chan struct{} // closed when run has stopped
	cur  cursor        // run's place in the log

	mu          sync.Mutex
	started     bool  // run is running
	stopped     bool  // the group is stopped; acks fail
	stopErr     error // why: bus.ErrClosed, bus.ErrTopicNotFound, or nil if deleted
	members     []*member
	rr          int  // round-robin position in members
	limit       int  // window size limit
	ordered     bool // per-key ordering (decided by the live members)
	window      queue[*entry]
	next        int64 // offset after the newest entry read
	persisted   int64 // committed offset last written to file
	lastPersist time.Time
	persistSoon bool          // run knows the committed offset moved
	ready       queue[*entry] // redeliveries and released keys, served first
	fresh       queue[*entry] // entries read from the log, in order
	keys        map[string]*queue[*entry]
	out         deadlineHeap // out entries the subscriber has received
}

func newGroup(t *topic, name string, committed int64, file *offsetFile) *group {
	return &group{
		t:         t,
		name:      name,
		cfg:       t.cfg,
		file:      file,
		kick:      make(chan struct{}, 1),
		quit:      make(chan struct{}),
		done:      make(chan struct{}),
		limit:     t.cfg.GroupWindow,
		next:      committed,
		persisted: committed,
		keys:      make(map[string]*queue[*entry]),
	}
}

// wake makes run do a round soon.
func (g *group) wake() {
	select {
	case g.kick <- struct{}{}:
	default:
	}
}

// committed is the oldest unacknowledged offset; g.mu must be held.
func (g *group) committed() int64 {
	if g.window.len() > 0 {
		return g.window.front().off
	}
	return g.next
}

// run is the group's goroutine.
func (g *group) run() {
	defer close(g.done)
	g.mu.Lock()
	from := g.committed()
	g.mu.Unlock()
	c, err := g.t.seekOffset(from)
	if err != nil {
		g.t.log.Error("stub: group cannot find its place in the log", "group", g.name, "err", err)
		<-g.quit
		g.shutdown()
		return
	}
	g.cur = c
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		more, notify, retry := g.fill()
		wake := g.step(time.Now())
		if more {
			select {
			case <-g.quit:
				g.shutdown()
				return
			default:
				continue
			}
		}
		if retry && (wake.IsZero() || time.Until(wake) > time.Second) {
			wake = time.Now().Add(time.Second)
		}
		if wake.IsZero() {
			timer.Stop()
		} else {
			timer.Reset(time.Until(wake))
		}
		select {
		case <-g.kick:
		case <-notify:
		case <-timer.C:
		case <-g.quit:
			g.shutdown()
			return
		}
	}
}

// maxReadRecords caps the records one fill reads.
const maxReadRecords = 1024

// fill reads from the log into the window while there are members and
// room. It reports whether it read anything, else a channel that signals
// new records, or that a read failed and should be retried.
func (g *group) fill() (more bool, notify <-chan struct{}, retry bool) {
	g.mu.Lock()
	room := g.limit - g.window.len()
	enough := room >= g.refillLocked()
	active := len(g.members) > 0
	g.mu.Unlock()
	if !active || !enough {
		return false, nil, false
	}
	recs, notify, err := g.t.read(&g.cur, min(room, maxReadRecords))
	if err != nil {
		if g.t.closedErr() == nil {
			g.t.log.Error("stub: group cannot read the log", "group", g.name, "err", err)
			return false, nil, true
		}
		return false, nil, false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, r := range recs {
		e := &entry{off: r.offset, key: r.key, data: r.data, hidx: -1}
		g.window.push(e)
		g.route(e)
	}
	g.next = g.cur.off
	return len(recs) > 0, notify, false
}

// refillLocked is how much room the window needs before fill reads again,
// so that a full window is refilled in chunks rather than one event at a
// time; g.mu must be held.
func (g *group) refillLocked() int { return max(1, min(g.limit/8, maxReadRecords)) }

// route queues a new (or rerouted) entry; g.mu must be held.
func (g *group) route(e *entry) {
	if g.ordered && len(e.key) > 0 {
		if q, busy := g.keys[string(e.key)]; busy {
			if q == nil {
				q = &queue[*entry]{}
				g.keys[string(e.key)] = q
			}
			e.state = stateWaiting
			q.push(e)
			return
		}
		g.keys[string(e.key)] = nil // e holds the key
	}
	e.state = stateQueued
	g.fresh.push(e)
}

// releaseKey passes e's key to the next waiting entry; g.mu must be held.
func (g *group) releaseKey(key []byte) {
	q := g.keys[string(key)]
	for q != nil && q.len() > 0 {
		n := q.pop()
		if n.state != stateWaiting {
			continue // acked by a delivery from before a reroute
		}
		n.state = stateQueued
		g.ready.push(n)
		g.wake()
		return
	}
	delete(g.keys, string(key))
}

// reroute rebuilds the queues after the ordering mode changed; g.mu must be
// held and the group must have no members (so no entry is out).
func (g *group) reroute() {
	g.ready.reset()
	g.fresh.reset()
	g.keys = make(map[string]*queue[*entry])
	for i := 0; i < g.window.len(); i++ {
		if e := g.window.at(i); e.state != stateAcked {
			g.route(e)
		}
	}
}

// step lets members leave, expires deadlines, dispatches ready entries and
// persists the committed offset. It returns when run must wake next, or the
// zero time.
func (g *group) step(now time.Time) time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.reap()
	for g.out.len() > 0 && !g.out.min().deadline.After(now) {
		e := g.out.min()
		g.takeBack(e)
		e.state = stateQueued
		g.ready.push(e)
	}
	g.dispatch()
	var wake time.Time
	if g.out.len() > 0 {
		wake = g.out.min().deadline
	}
	// An entry received from now on has a deadline at least the member's
	// ack deadline away: look again by then, so that its expiry is not
	// missed. (This saves waking run for every delivery received.)
	for _, m := range g.members {
		if m.inflight > 0 {
			if w := now.Add(m.ackDeadline); wake.IsZero() || w.Before(wake) {
				wake = w
			}
		}
	}
	g.persistSoon = false
	if g.file != nil && g.committed() != g.persisted {
		due := g.lastPersist.Add(g.cfg.CommitInterval)
		if !now.Before(due) {
			g.persist(now)
		} else {
			g.persistSoon = true
			if wake.IsZero() || due.Before(wake) {
				wake = due
			}
		}
	}
	return wake
}

// persist writes the committed offset; g.mu must be held.
func (g *group) persist(now time.Time) {
	c := g.committed()
	if err := g.file.write(c); err != nil {
		g.t.log.Error("stub: writing a group's offset", "group", g.name, "err", err)
		return
	}
	g.persisted, g.lastPersist = c, now
}

// dispatch hands ready entries to members with room; g.mu must be held.
func (g *group) dispatch() {
	for len(g.members) > 0 {
		e := g.peekReady()
		if e == nil {
			return
		}
		m := g.pickMember()
		if m == nil {
			return
		}
		if g.ready.len() > 0 && g.ready.front() == e {
			g.ready.pop()
		} else {
			g.fresh.pop()
		}
		e.attempts++
		e.state = stateOut
		e.member = m
		m.inflight++
		m.outbox = append(m.outbox, outItem{e: e, attempt: e.attempts})
		if len(m.outbox) == 1 {
			m.signal()
		}
	}
}

// peekReady returns the next entry to deliver, dropping settled ones.
func (g *group) peekReady() *entry {
	for g.ready.len() > 0 {
		if e := g.ready.front(); e.state == stateQueued {
			return e
		}
		g.ready.pop()
	}
	for g.fresh.len() > 0 {
		if e := g.fresh.front(); e.state == stateQueued {
			return e
		}
		g.fresh.pop()
	}
	return nil
}

// pickMember returns the next member, round robin, with room for one more.
func (g *group) pickMember() *member {
	n := len(g.members)
	for i := 0; i < n; i++ {
		m := g.members[(g.rr+i)%n]
		if !m.leaving && m.inflight < m.max {
			g.rr = (g.rr + i + 1) % n
			return m
		}
	}
	return nil
}

// takeBack takes an out entry back from its member; g.mu must be held.
func (g *group) takeBack(e *entry) {
	m := e.member
	if e.hidx >= 0 {
		g.out.remove(e.hidx)
	}
	if m.inflight == m.max {
		g.wake() // the member has room again
	}
	m.inflight--
	e.member = nil
}

// reap removes leaving members, giving their entries back to the group.
func (g *group) reap() {
	kept := g.members[:0]
	var gone []*member
	for _, m := range g.members {
		if m.leaving {
			gone = append(gone, m)
		} else {
			kept = append(kept, m)
		}
	}
	if len(gone) == 0 {
		return
	}
	for i := len(kept); i < len(g.members); i++ {
		g.members[i] = nil
	}
	g.members = kept
	for i := 0; i < g.window.len(); i++ {
		if e := g.window.at(i); e.state == stateOut && e.member.leaving {
			g.takeBack(e)
			e.state = stateQueued
			g.ready.push(e)
		}
	}
	for _, m := range gone {
		m.outbox = nil
		close(m.quit)
	}
	g.resize()
}

// resize recomputes the window limit; g.mu must be held.
func (g *group) resize() {
	sum := 0
	for _, m := range g.members {
		sum += m.max
	}
	g.limit = max(g.cfg.GroupWindow, sum)
}

// stop stops the group for reason; remove also deletes its file.
func (g *group) stop(reason error, remove bool) {
	g.mu.Lock()
	if g.stopped {
		g.mu.Unlock()
		return
	}
	g.stopErr = reason
	started := g.started
	if !started {
		g.stopped = true
	}
	g.mu.Unlock()
	if started {
		close(g.quit)
		<-g.done
	}
	if g.file == nil {
		return
	}
	var err error
	if remove {
		err = g.file.remove()
	} else {
		err = g.file.close()
	}
	if err != nil {
		g.t.log.Error("stub: closing a group's offset file", "group", g.name, "err", err)
	}
}

// shutdown ends run: members' subscriptions end and the committed offset is
// made durable.
func (g *group) shutdown() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.stopped = true
	for _, m := range g.members {
		m.err = g.stopErr
		close(m.quit)
	}
	g.members = nil
	if g.file != nil {
		g.persist(time.Now())
		if err := g.file.sync(); err != nil {
			g.t.log.Error("stub: syncing a group's offset", "group", g.name, "err", err)
		}
	}
}
