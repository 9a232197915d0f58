package nats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/eddyplatform/eddy/bus"
)

// Pulling.
const (
	// pullExpires and pullHeartbeat shape the long pull requests: the
	// server answers within pullExpires and, while it has nothing to send,
	// sends a heartbeat every pullHeartbeat.
	pullExpires   = 30 * time.Second
	pullHeartbeat = 5 * time.Second
	// shortPull is the life of a pull request of an ordered member with
	// fewer in-flight slots than partitions: it polls its partitions in
	// turns, so a partition's event waits at most about
	// partitions/MaxInFlight short pulls.
	shortPull = 250 * time.Millisecond
	// grace is how much later than promised the server may answer before
	// the bus gives a pull up as lost.
	grace = 2 * time.Second
	// retryPause is how long a lane waits after a failed pull.
	retryPause = time.Second
	// checkEvery is how often a member checks that its consumer and
	// stream still exist, to notice deletions by other processes.
	checkEvery = 30 * time.Second
	// drainWait bounds how long ending a member waits for the messages
	// already on their way to it.
	drainWait = 2 * time.Second
)

// Acknowledgement bodies (the JetStream ack protocol).
var (
	ackBody      = []byte("+ACK")
	nakBody      = []byte("-NAK")
	progressBody = []byte("+WPI")
	termBody     = []byte("+TERM")
)

// nakDelayBody is a NAK that asks the server to redeliver after d — while
// keeping the message pending, so that a later Ack still counts: it moves
// the ack deadline to now+d.
func nakDelayBody(d time.Duration) []byte {
	return []byte(`-NAK {"delay":` + strconv.FormatInt(int64(d), 10) + `}`)
}

// alwaysRestart is the AckWait below which hand-off always restarts the
// server's ack timer: the time a message spends between the server and the
// receiver (network, a busy client) is then too large a share of it to
// leave the deadline counted from the server's send.
const alwaysRestart = 5 * time.Second

// tolerance is how far a delivery's deadline may lag behind the server's
// ack timer before the bus restarts the timer at hand-off; it is also the
// margin Deadline keeps for the time a message spends on the wire.
func tolerance(ackWait time.Duration) time.Duration {
	return min(max(ackWait/50, time.Millisecond), time.Second)
}

// member is one Subscribe call: one member of a group. It implements
// bus.Subscription. It pulls from one consumer (an unordered group) or from
// one consumer per partition (an ordered group), each a lane with its own
// inbox subscription.
type member struct {
	b        *Bus
	topic    string
	group    string
	stream   string
	created  time.Time // the stream's creation, to tell a recreated topic
	ordered  bool
	max      int
	deadline time.Duration // this member's AckDeadline
	lanes    []*lane
	ch       chan bus.Delivery
	wake     chan struct{} // capacity 1
	quit     chan struct{} // closed by end
	done     chan struct{} // closed when the member has stopped and ch is closed
	endOnce  sync.Once

	mu        sync.Mutex
	err       error
	giveBack  bool // Nak the unsettled deliveries when ending
	ending    bool
	connected bool
	queue     []*delivery            // received from the server, not yet handed out
	live      map[*delivery]struct{} // queued or out: unsettled and unexpired
	cursor    int                    // ordered: where the next round of cold lanes starts
	checking  bool                   // an existence check is running
	nextCheck time.Time              // when to check existence next
	stopWatch func() bool            // stops watching the Subscribe context
}

var _ bus.Subscription = (*member)(nil)

// lane is one consumer a member pulls from, with its inbox.
type lane struct {
	idx       int
	consumer  string
	apiSubj   string        // where pull requests go
	ackWait   time.Duration // the consumer's AckWait
	sub       *natsgo.Subscription
	gen       int       // bumped by every reset; older subscriptions' messages are stale
	pending   int       // messages the outstanding pull requests may still bring
	held      int       // live deliveries from this lane
	hot       bool      // ordered: the last delivery was just settled; pull it first
	long      bool      // the outstanding pulls are long (with heartbeats)
	expect    time.Time // while pending > 0: the server must have spoken by then
	notBefore time.Time // do not pull before (after a failure)
	needReset bool
}

// pullRequest is the body of a JetStream pull request.
type pullRequest struct {
	Batch     int           `json:"batch"`
	Expires   time.Duration `json:"expires,omitempty"`
	Heartbeat time.Duration `json:"idle_heartbeat,omitempty"`
}

// start subscribes the lanes and starts the member's goroutine.
func (m *member) start() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, l := range m.lanes {
		if err := m.resetLaneLocked(l); err != nil {
			for _, l := range m.lanes {
				if l.sub != nil {
					l.sub.Unsubscribe()
				}
			}
			return m.b.apiError("subscribing to an inbox", err)
		}
	}
	m.nextCheck = time.Now().Add(checkEvery)
	go m.run()
	return nil
}

// resetLaneLocked drops a lane's subscription, and with it its outstanding
// pulls (the server drops a pull whose inbox lost interest), and subscribes
// a fresh inbox. m.mu must be held.
func (m *member) resetLaneLocked(l *lane) error {
	if l.sub != nil {
		l.sub.Unsubscribe()
		l.sub = nil
	}
	l.gen++
	l.pending = 0
	l.needReset = false
	gen := l.gen
	sub, err := m.b.nc.Subscribe(m.b.nc.NewInbox(), func(msg *natsgo.Msg) { m.onMsg(l, gen, msg) })
	if err != nil {
		l.needReset = true
		l.notBefore = time.Now().Add(retryPause)
		return err
	}
	sub.SetPendingLimits(-1, -1)
	l.sub = sub
	return nil
}

// poke wakes the member's goroutine.
func (m *member) poke() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// setConnected records the connection going down or coming back; on
// reconnection every lane starts afresh, since the server may have dropped
// the pulls of the old connection.
func (m *member) setConnected(up bool) {
	m.mu.Lock()
	m.connected = up
	if up {
		for _, l := range m.lanes {
			l.needReset = true
			l.notBefore = time.Time{}
		}
	}
	m.mu.Unlock()
	m.poke()
}

// pull is one pull request to send.
type pull struct {
	l     *lane
	inbox string
	req   pullRequest
}

// run is the member's goroutine: it plans and sends pulls, hands deliveries
// out, keeps the server's ack timers of waiting deliveries running, and
// checks now and then that the group still exists.
func (m *member) run() {
	defer m.finish()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		now := time.Now()
		m.mu.Lock()
		pulls := m.planLocked(now)
		refresh := m.dueRefreshLocked(now)
		check := false
		if !m.checking && !now.Before(m.nextCheck) {
			m.checking, check = true, true
		}
		var head *delivery
		if len(m.queue) > 0 {
			head = m.queue[0]
		}
		next := m.nextWakeLocked(now)
		m.mu.Unlock()

		for _, p := range pulls {
			body, _ := json.Marshal(p.req)
			if err := m.b.nc.PublishRequest(p.l.apiSubj, p.inbox, body); err != nil {
				m.mu.Lock()
				p.l.needReset = true
				p.l.notBefore = time.Now().Add(retryPause)
				m.mu.Unlock()
			}
		}
		for _, d := range refresh {
			m.b.nc.Publish(d.reply, progressBody)
		}
		if check {
			go m.checkExists()
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(max(next.Sub(now), time.Millisecond))
		var out chan bus.Delivery
		if head != nil {
			out = m.ch
		}
		select {
		case out <- head:
			m.handedOut(head)
		case <-m.wake:
		case <-timer.C:
		case <-m.quit:
			return
		}
	}
}

// planLocked resets lanes that need it and decides the pulls to send.
func (m *member) planLocked(now time.Time) []pull {
	if !m.connected || m.ending {
		return nil
	}
	for _, l := range m.lanes {
		lost := l.pending > 0 && now.After(l.expect)
		if (l.needReset || lost) && !now.Before(l.notBefore) {
			if lost {
				// Silence: the connection, the consumer or the stream
				// may be gone. Pull afresh and look.
				m.nextCheck = now
			}
			m.resetLaneLocked(l)
		}
	}
	used := len(m.live)
	for _, l := range m.lanes {
		used += l.pending
	}
	free := m.max - used
	if free <= 0 {
		return nil
	}
	var pulls []pull
	add := func(l *lane, batch int, long bool) {
		req := pullRequest{Batch: batch, Expires: shortPull}
		wait := shortPull
		if long {
			req = pullRequest{Batch: batch, Expires: pullExpires, Heartbeat: pullHeartbeat}
			wait = 2 * pullHeartbeat
		}
		if l.pending == 0 || now.Add(wait+grace).After(l.expect) {
			l.expect = now.Add(wait + grace)
		}
		l.pending += batch
		l.long = long
		free -= batch
		pulls = append(pulls, pull{l: l, inbox: l.sub.Subject, req: req})
	}
	ready := func(l *lane) bool {
		return l.sub != nil && !l.needReset && !now.Before(l.notBefore)
	}
	if !m.ordered {
		l := m.lanes[0]
		if ready(l) && (free >= max(1, m.max/4) || l.pending == 0) {
			add(l, free, true)
		}
		return pulls
	}
	// Ordered: one event per partition at a time. Lanes whose delivery was
	// just settled go first (their partition probably has more), then the
	// others in turns.
	long := m.max >= len(m.lanes)
	idle := func(l *lane) bool { return ready(l) && l.pending == 0 && l.held == 0 }
	for _, l := range m.lanes {
		if free > 0 && l.hot && idle(l) {
			l.hot = false
			add(l, 1, long)
		}
	}
	n := len(m.lanes)
	for k := 0; k < n && free > 0; k++ {
		l := m.lanes[(m.cursor+k)%n]
		if idle(l) {
			add(l, 1, long)
			m.cursor = (l.idx + 1) % n
		}
	}
	return pulls
}

// dueRefreshLocked returns the queued deliveries whose server ack timer
// has run half its course, restarting it: a delivery waiting for the
// receiver must not expire before the receiver gets it.
func (m *member) dueRefreshLocked(now time.Time) []*delivery {
	var due []*delivery
	for _, d := range m.queue {
		// The queue is in arrival order, and refreshes restart whole
		// prefixes of it, so the resets are in order too.
		if now.Sub(d.reset) < d.lane.ackWait/2 {
			break
		}
		d.reset = now
		d.deadline = d.preset()
		due = append(due, d)
	}
	return due
}

// nextWakeLocked returns when the member's goroutine must look again
// without being woken.
func (m *member) nextWakeLocked(now time.Time) time.Time {
	next := m.nextCheck
	if m.checking {
		next = now.Add(checkEvery)
	}
	for _, l := range m.lanes {
		if l.pending > 0 && l.expect.Before(next) {
			next = l.expect
		}
		if (l.needReset || l.notBefore.After(now)) && l.notBefore.Before(next) {
			next = l.notBefore
		}
	}
	if len(m.queue) > 0 {
		d := m.queue[0]
		if t := d.reset.Add(d.lane.ackWait / 2); t.Before(next) {
			next = t
		}
	}
	return next
}

// onMsg handles a message on a lane's inbox: a delivery, a heartbeat or
// the end of a pull request.
func (m *member) onMsg(l *lane, gen int, msg *natsgo.Msg) {
	if len(msg.Data) == 0 && msg.Header != nil {
		if status := msg.Header.Get("Status"); status != "" {
			m.onStatus(l, gen, msg, status)
			return
		}
	}
	md, ok := parseAckReply(msg.Reply)
	if !ok {
		return // not a JetStream message
	}
	ev, decodeErr := decodeEvent(msg.Header, msg.Data)
	now := time.Now()
	m.mu.Lock()
	if gen != l.gen || m.ending {
		// From a pull the bus has given up on, or arriving while the
		// member ends: not counted, so give it straight back.
		giveBack := !m.ending || m.giveBack
		m.mu.Unlock()
		if giveBack {
			m.b.nc.Publish(msg.Reply, nakBody)
		}
		return
	}
	if l.pending > 0 {
		l.pending--
	}
	l.expect = now.Add(2*pullHeartbeat + grace)
	if !l.long {
		l.expect = now.Add(shortPull + grace)
	}
	if decodeErr != nil {
		m.mu.Unlock()
		m.b.log.Error("nats: terminating an undecodable message", "topic", m.topic, "group", m.group,
			"offset", md.streamSeq-1, "err", decodeErr)
		m.b.nc.Publish(msg.Reply, termBody)
		m.poke()
		return
	}
	d := &delivery{
		m: m, lane: l, reply: msg.Reply, ev: ev,
		attempt: int(md.delivered), offset: int64(md.streamSeq) - 1,
		reset: now, state: stateQueued,
	}
	d.deadline = d.preset()
	l.held++
	m.live[d] = struct{}{}
	m.queue = append(m.queue, d)
	m.mu.Unlock()
	m.poke()
}

// onStatus handles a status message of the pull protocol.
func (m *member) onStatus(l *lane, gen int, msg *natsgo.Msg, status string) {
	now := time.Now()
	m.mu.Lock()
	defer m.poke()
	defer m.mu.Unlock()
	if gen != l.gen || m.ending {
		return
	}
	switch status {
	case "100": // idle heartbeat
		l.expect = now.Add(2*pullHeartbeat + grace)
	case "408": // a pull request expired; the header says how much of it was left
		n, err := strconv.Atoi(msg.Header.Get("Nats-Pending-Messages"))
		if err != nil {
			l.needReset = true
			return
		}
		l.pending = max(0, l.pending-n)
		if l.pending > 0 {
			l.expect = now.Add(2*pullHeartbeat + grace)
		}
	default: // 404, 409 (consumer deleted, limits), 503: start afresh after a pause
		descr := msg.Header.Get("Description")
		if strings.Contains(strings.ToLower(descr), "deleted") || status == "503" {
			m.nextCheck = now
		}
		m.b.log.Debug("nats: pull ended", "topic", m.topic, "group", m.group, "status", status, "description", descr)
		l.needReset = true
		l.notBefore = now.Add(retryPause)
	}
}

// ackMeta is what a JetStream ack subject tells about a delivery.
type ackMeta struct {
	delivered uint64
	streamSeq uint64
}

// parseAckReply parses a JetStream ack subject: $JS.ACK.<stream>.<consumer>.
// <delivered>.<stream seq>.<consumer seq>.<time>.<pending>, or the newer
// form with a domain and an account hash after $JS.ACK.
func parseAckReply(reply string) (ackMeta, bool) {
	if !strings.HasPrefix(reply, "$JS.ACK.") {
		return ackMeta{}, false
	}
	toks := strings.Split(reply, ".")
	var d, s string
	switch {
	case len(toks) == 9:
		d, s = toks[4], toks[5]
	case len(toks) >= 11:
		d, s = toks[6], toks[7]
	default:
		return ackMeta{}, false
	}
	dn, err1 := strconv.ParseUint(d, 10, 64)
	sn, err2 := strconv.ParseUint(s, 10, 64)
	if err1 != nil || err2 != nil || sn == 0 {
		return ackMeta{}, false
	}
	return ackMeta{delivered: dn, streamSeq: sn}, true
}

// handedOut starts the ack deadline of a delivery the receiver has just
// taken from the channel. If the member's AckDeadline differs from the
// consumer's AckWait, a delayed NAK sets the server's timer to it; if the
// AckWait is short or the delivery waited noticeably since the server's
// timer started, a +WPI restarts it; otherwise the server's timer stands.
func (m *member) handedOut(d *delivery) {
	now := time.Now()
	var ctl []byte
	m.mu.Lock()
	m.queue[0] = nil
	m.queue = m.queue[1:]
	if d.state != stateQueued { // the receiver has settled or extended it already
		m.mu.Unlock()
		return
	}
	d.state = stateOut
	aw := d.lane.ackWait
	switch {
	case m.deadline != aw:
		ctl = nakDelayBody(m.deadline)
		d.deadline = now.Add(m.deadline)
	case aw < alwaysRestart || now.Sub(d.reset) > tolerance(aw):
		ctl = progressBody
		d.deadline = now.Add(aw)
	default:
		d.deadline = d.preset()
	}
	d.timer = time.AfterFunc(d.deadline.Sub(now), func() { m.expire(d) })
	m.mu.Unlock()
	if ctl != nil {
		m.b.nc.Publish(d.reply, ctl)
	}
}

// expire takes back a delivery whose deadline passed: the server delivers
// it again.
func (m *member) expire(d *delivery) {
	m.mu.Lock()
	if d.state != stateOut {
		m.mu.Unlock()
		return
	}
	d.state = stateExpired
	m.releaseLocked(d)
	m.mu.Unlock()
	m.poke()
}

// releaseLocked frees a delivery's place in the member's in-flight count.
func (m *member) releaseLocked(d *delivery) {
	if _, ok := m.live[d]; !ok {
		return
	}
	delete(m.live, d)
	d.lane.held--
	d.lane.hot = true
	if d.timer != nil {
		d.timer.Stop()
	}
}

// checkExists checks that the group's consumer and the topic's stream
// still exist, and ends the member if not.
func (m *member) checkExists() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var end error
	ended := false
	_, err := m.b.js.Consumer(ctx, m.stream, m.lanes[0].consumer)
	switch {
	case err == nil:
	case errors.Is(err, jetstream.ErrConsumerNotFound):
		s, err := m.b.js.Stream(ctx, m.stream)
		switch {
		case errors.Is(err, jetstream.ErrStreamNotFound):
			end, ended = fmt.Errorf("%w: %q was deleted", bus.ErrTopicNotFound, m.topic), true
		case err == nil && !s.CachedInfo().Created.Equal(m.created):
			end, ended = fmt.Errorf("%w: %q was deleted (and created again)", bus.ErrTopicNotFound, m.topic), true
		case err == nil:
			ended = true // the group was deleted
		}
	case errors.Is(err, jetstream.ErrStreamNotFound):
		end, ended = fmt.Errorf("%w: %q was deleted", bus.ErrTopicNotFound, m.topic), true
	}
	m.mu.Lock()
	m.checking = false
	m.nextCheck = time.Now().Add(checkEvery)
	m.mu.Unlock()
	if ended {
		m.b.log.Debug("nats: subscription ends: its consumer is gone", "topic", m.topic, "group", m.group, "err", end)
		m.end(end, false)
	}
}

// end stops the member with err as its Err. giveBack says whether its
// unsettled deliveries go back to the group (not when the consumer or the
// stream is gone).
func (m *member) end(err error, giveBack bool) {
	m.endOnce.Do(func() {
		m.mu.Lock()
		m.err = err
		m.giveBack = giveBack
		m.ending = true
		stop := m.stopWatch
		m.mu.Unlock()
		if stop != nil {
			stop()
		}
		close(m.quit)
	})
}

// finish runs when the member's goroutine stops: it lets the messages
// already on their way arrive (draining the inboxes), hands every unsettled
// delivery back to the group, and closes the channel.
func (m *member) finish() {
	m.mu.Lock()
	giveBack := m.giveBack
	subs := make([]*natsgo.Subscription, 0, len(m.lanes))
	for _, l := range m.lanes {
		if l.sub != nil {
			subs = append(subs, l.sub)
			l.sub = nil
		}
	}
	m.mu.Unlock()
	if giveBack {
		deadline := time.After(drainWait)
		var closed []<-chan natsgo.SubStatus
		for _, s := range subs {
			ch := s.StatusChanged(natsgo.SubscriptionClosed)
			if s.Drain() == nil {
				closed = append(closed, ch)
			}
		}
	wait:
		for _, ch := range closed {
			select {
			case <-ch:
			case <-deadline:
				break wait
			}
		}
	}
	for _, s := range subs {
		s.Unsubscribe()
	}
	if giveBack {
		// The server keeps our pull requests queued until it notices that
		// their inboxes lost interest. Redelivering a NAKed message while
		// only such requests wait trips a bug of some servers (2.9: the
		// consumer steps its sequence back, delivering the stream's last
		// message again and leaving the NAKed one until its AckWait). A
		// consumer info request makes the server drop them first.
		ctx, cancel := context.WithTimeout(context.Background(), drainWait)
		for _, l := range m.lanes {
			m.b.js.Consumer(ctx, m.stream, l.consumer)
		}
		cancel()
	}

	m.mu.Lock()
	back := make([]*delivery, 0, len(m.live))
	for d := range m.live {
		d.state = stateReturned
		if d.timer != nil {
			d.timer.Stop()
		}
		d.lane.held--
		back = append(back, d)
	}
	clear(m.live)
	m.queue = nil
	m.mu.Unlock()
	if giveBack {
		for _, d := range back {
			m.b.nc.Publish(d.reply, nakBody)
		}
	}
	m.b.mu.Lock()
	delete(m.b.members, m)
	m.b.mu.Unlock()
	close(m.ch)
	close(m.done)
}

// Deliveries implements bus.Subscription.
func (m *member) Deliveries() <-chan bus.Delivery { return m.ch }

// Close implements bus.Subscription. The member's unsettled deliveries are
// NAKed, so the group gets them again at once.
func (m *member) Close() error {
	m.end(nil, true)
	<-m.done
	return nil
}

// Err implements bus.Subscription.
func (m *member) Err() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.err
}

// delivery states.
type dstate int

const (
	stateQueued   dstate = iota // received from the server, not yet handed out
	stateOut                    // handed out, unsettled
	stateAcked                  // settled by Ack
	stateNacked                 // settled by Nack
	stateExpired                // its deadline passed
	stateReturned               // its member ended; the group has it again
)

// delivery implements bus.Delivery, bus.Offsetter and
// bus.DeadlineExtender.
type delivery struct {
	m       *member
	lane    *lane
	reply   string
	ev      *event.Event
	attempt int
	offset  int64
	reset   time.Time // when the server's ack timer last (re)started, as far as the bus knows

	// Guarded by m.mu.
	state    dstate
	deadline time.Time
	timer    *time.Timer
}

var (
	_ bus.Delivery         = (*delivery)(nil)
	_ bus.Offsetter        = (*delivery)(nil)
	_ bus.DeadlineExtender = (*delivery)(nil)
)

// preset is the deadline of a delivery before hand-off: the server's
// timer, less a margin for the time on the wire, or the member's own
// deadline if that is shorter.
func (d *delivery) preset() time.Time {
	aw := d.lane.ackWait
	return d.reset.Add(min(aw-tolerance(aw), d.m.deadline))
}

// Event implements bus.Delivery. Each delivery decodes its own copy.
func (d *delivery) Event() *event.Event { return d.ev }

// Attempt implements bus.Delivery: the consumer's delivery count of the
// message (NumDelivered).
func (d *delivery) Attempt() int { return d.attempt }

// Offset implements bus.Offsetter: the stream sequence less one.
func (d *delivery) Offset() int64 { return d.offset }

// Deadline implements bus.Delivery.
func (d *delivery) Deadline() time.Time {
	d.m.mu.Lock()
	defer d.m.mu.Unlock()
	return d.deadline
}

// sendErr maps an error of sending an acknowledgement, turning a closed
// connection into ErrClosed.
func (d *delivery) sendErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, natsgo.ErrConnectionClosed) {
		return fmt.Errorf("nats: %w", bus.ErrClosed)
	}
	return fmt.Errorf("nats: sending acknowledgement: %w", err)
}

// Ack implements bus.Delivery with a JetStream +ACK. It counts even after
// the deadline or after the member ended, as long as the server still has
// the message pending.
func (d *delivery) Ack() error {
	if d.m.b.isClosed() {
		return fmt.Errorf("nats: %w", bus.ErrClosed)
	}
	m := d.m
	m.mu.Lock()
	switch d.state {
	case stateAcked, stateNacked:
		m.mu.Unlock()
		return nil
	case stateQueued, stateOut:
		m.releaseLocked(d)
	}
	d.state = stateAcked
	m.mu.Unlock()
	m.poke()
	return d.sendErr(m.b.nc.Publish(d.reply, ackBody))
}

// Nack implements bus.Delivery with a JetStream -NAK: the server delivers
// the event again at once. After the deadline it does nothing.
func (d *delivery) Nack() error {
	if d.m.b.isClosed() {
		return fmt.Errorf("nats: %w", bus.ErrClosed)
	}
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
	m.releaseLocked(d)
	d.state = stateNacked
	m.mu.Unlock()
	m.poke()
	return d.sendErr(m.b.nc.Publish(d.reply, nakBody))
}

// errSettled is returned by ExtendDeadline for a delivery no longer out.
var errSettled = errors.New("nats: delivery already settled or expired")

// ExtendDeadline implements bus.DeadlineExtender. It sends a NAK with a
// delay of dur, which JetStream treats as "redeliver dur from now" while
// keeping the message pending, so the deadline becomes now+dur exactly,
// shorter or longer than the consumer's AckWait. (A +WPI, the usual
// in-progress signal, could only restart the full AckWait.)
func (d *delivery) ExtendDeadline(dur time.Duration) error {
	if d.m.b.isClosed() {
		return fmt.Errorf("nats: %w", bus.ErrClosed)
	}
	if dur <= 0 {
		return fmt.Errorf("nats: ExtendDeadline(%v): want a positive duration", dur)
	}
	m := d.m
	now := time.Now()
	m.mu.Lock()
	if d.state != stateQueued && d.state != stateOut || !now.Before(d.deadline) && d.state == stateOut {
		m.mu.Unlock()
		return errSettled
	}
	d.state = stateOut
	d.deadline = now.Add(dur)
	if d.timer != nil {
		d.timer.Stop()
	}
	d.timer = time.AfterFunc(dur, func() { m.expire(d) })
	m.mu.Unlock()
	return d.sendErr(m.b.nc.Publish(d.reply, nakDelayBody(dur)))
}
