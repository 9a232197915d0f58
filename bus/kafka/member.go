package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/IBM/sarama"

	"github.com/eddyplatform/eddy/bus"
)

// strategyPrefix starts the names of the bus's partition assignment
// strategies. The name also says whether the group is ordered, so the
// coordinator refuses (INCONSISTENT_GROUP_PROTOCOL) a member whose Ordered
// differs from the group's.
const strategyPrefix = "eddy-roundrobin"

func strategyName(ordered bool) string {
	if ordered {
		return strategyPrefix + "-ordered"
	}
	return strategyPrefix
}

// strategy is sarama's round robin assignment under the bus's own name.
type strategy struct {
	sarama.BalanceStrategy
	name string
}

func newStrategy(ordered bool) sarama.BalanceStrategy {
	return strategy{sarama.NewBalanceStrategyRoundRobin(), strategyName(ordered)}
}

// Name is the protocol name the member offers in JoinGroup.
func (s strategy) Name() string { return s.name }

// member is one Subscribe: a member of a Kafka consumer group with its own
// client. It implements bus.Subscription.
type member struct {
	b                     *Bus
	log                   *slog.Logger
	topic, group, kt, gid string
	ordered               bool
	maxInFlight           int
	ackDeadline           time.Duration
	window                int
	drainLimit            time.Duration

	client sarama.Client
	cg     sarama.ConsumerGroup

	ctx        context.Context
	cancel     context.CancelFunc
	ch         chan bus.Delivery
	wake       chan struct{} // signals the dispatcher
	dispatched chan struct{} // closed when the dispatcher is done
	done       chan struct{} // closed when the member is gone

	mu          sync.Mutex
	ending      bool
	endErr      error
	retry       fifo[*record] // nacked and expired records, delivered first
	fresh       fifo[*record]
	outstanding int // deliveries held for or out to the member, unsettled
	startNotes  map[int32]*notes
	lastCheck   time.Time
}

var _ bus.Subscription = (*member)(nil)

// Deliveries returns the channel deliveries arrive on.
func (m *member) Deliveries() <-chan bus.Delivery { return m.ch }

// Close leaves the group and waits until Deliveries is closed. The group
// gets the member's unsettled deliveries back: the partition's next owner
// reads again from the committed offset, skipping what was acknowledged.
func (m *member) Close() error {
	m.end(nil)
	<-m.done
	return nil
}

// Err says why the subscription ended.
func (m *member) Err() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.endErr
}

// end ends the member with err (the first reason counts).
func (m *member) end(err error) {
	m.mu.Lock()
	if !m.ending {
		m.ending = true
		m.endErr = err
	}
	m.mu.Unlock()
	m.cancel()
}

// run takes part in the group until the member ends.
func (m *member) run() {
	defer m.finish()
	go m.watchErrors()
	delay := 100 * time.Millisecond
	for {
		err := m.cg.Consume(m.ctx, []string{m.kt}, m)
		if m.ctx.Err() != nil {
			return
		}
		if err == nil { // a rebalance ended the session
			delay = 100 * time.Millisecond
			continue
		}
		if m.fatal(err) {
			return
		}
		m.log.Warn("consumer group session failed; retrying", "err", err, "retry_in", delay)
		select {
		case <-m.ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(2*delay, 5*time.Second)
	}
}

// fatal ends the member if err means it cannot go on.
func (m *member) fatal(err error) bool {
	switch {
	case errors.Is(err, sarama.ErrClosedConsumerGroup):
		m.end(err)
	case errors.Is(err, sarama.ErrInconsistentGroupProtocol):
		m.end(fmt.Errorf("%w: group %q of topic %q has members with another Ordered option", bus.ErrGroupMismatch, m.group, m.topic))
	case errors.Is(err, sarama.ErrSASLAuthenticationFailed), errors.Is(err, sarama.ErrTopicAuthorizationFailed),
		errors.Is(err, sarama.ErrGroupAuthorizationFailed), errors.Is(err, sarama.ErrClusterAuthorizationFailed):
		m.end(fmt.Errorf("kafka: subscription to %s: %w", m.kt, err))
	case errors.Is(err, sarama.ErrInvalidSessionTimeout):
		m.end(fmt.Errorf("kafka: subscription to %s: the brokers refuse SessionTimeout %v (see their group.min/max.session.timeout.ms): %w",
			m.kt, m.b.cfg.SessionTimeout, err))
	default:
		if ok, derr := m.b.describe(m.ctx, m.kt, false); derr == nil && !ok {
			m.end(topicNotFound(m.topic))
			return true
		}
		return false
	}
	return true
}

// watchErrors logs the consumer group's errors and notices a deleted topic.
func (m *member) watchErrors() {
	for err := range m.cg.Errors() {
		if errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
			m.mu.Lock()
			check := time.Since(m.lastCheck) > time.Second
			if check {
				m.lastCheck = time.Now()
			}
			m.mu.Unlock()
			if check {
				go func() {
					if ok, derr := m.b.describe(m.ctx, m.kt, false); derr == nil && !ok {
						m.end(topicNotFound(m.topic))
					}
				}()
			}
		}
		m.log.Debug("consumer error", "err", err)
	}
}

// finish leaves the group and closes the member down.
func (m *member) finish() {
	m.mu.Lock()
	m.ending = true
	m.mu.Unlock()
	m.cancel()
	<-m.dispatched
	// Leaving goes to the cached coordinator only: refresh it, in case the
	// group moved, so that the group need not wait for the session to time
	// out.
	_ = m.client.RefreshCoordinator(m.gid)
	if err := m.cg.Close(); err != nil && !errors.Is(err, sarama.ErrClosedClient) {
		m.log.Debug("closing the consumer group", "err", err)
	}
	if err := m.client.Close(); err != nil && !errors.Is(err, sarama.ErrClosedClient) {
		m.log.Debug("closing the client", "err", err)
	}
	close(m.ch)
	m.b.mu.Lock()
	delete(m.b.members, m)
	m.b.mu.Unlock()
	close(m.done)
}

// dispatch hands deliveries to the member, within its in-flight limit.
func (m *member) dispatch() {
	defer close(m.dispatched)
	for {
		d := m.next()
		if d == nil {
			select {
			case <-m.wake:
				continue
			case <-m.ctx.Done():
				return
			}
		}
		ev := d.rec.ev.Clone()
		d.ev = &ev
		if !m.send(d) {
			return
		}
	}
}

// next returns the next delivery to hand out, or nil.
func (m *member) next() *delivery {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ending || m.outstanding >= m.maxInFlight {
		return nil
	}
	for {
		r, ok := m.retry.pop()
		if !ok {
			if r, ok = m.fresh.pop(); !ok {
				return nil
			}
		}
		r.queued = false
		if r.acked || r.p.revoked {
			continue
		}
		d := &delivery{m: m, rec: r, attempt: r.attempts + 1, deadline: time.Now().Add(m.ackDeadline)}
		r.cur = d
		m.outstanding++
		r.p.out++
		return d
	}
}

// send offers d to the member until it takes it, its partition is revoked
// or the member ends (then it returns false).
func (m *member) send(d *delivery) bool {
	for {
		select {
		case m.ch <- d:
			m.received(d)
			return true
		case <-m.wake:
			m.mu.Lock()
			revoked := d.rec.p.revoked
			if revoked {
				d.withdrawn = true
				m.release(d)
			}
			m.mu.Unlock()
			if revoked {
				return true
			}
		case <-m.ctx.Done():
			m.mu.Lock()
			d.withdrawn = true
			m.release(d)
			m.mu.Unlock()
			return false
		}
	}
}

// received starts d's ack deadline.
func (m *member) received(d *delivery) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d.received = true
	d.rec.attempts = max(d.rec.attempts, d.attempt)
	if d.released {
		return // settled already
	}
	if !d.extended {
		d.deadline = time.Now().Add(m.ackDeadline)
	}
	d.timer = time.AfterFunc(time.Until(d.deadline), func() { m.expire(d) })
}

// Setup reads the notes the partitions' previous owners left with their
// committed offsets.
func (m *member) Setup(sess sarama.ConsumerGroupSession) error {
	parts := sess.Claims()[m.kt]
	found := map[int32]*notes{}
	if len(parts) > 0 {
		resp, err := m.fetchOffsets(parts)
		if err != nil {
			_ = m.client.RefreshCoordinator(m.gid)
			resp, err = m.fetchOffsets(parts)
		}
		if err != nil {
			m.log.Warn("cannot read the notes of the partitions' previous owners; attempts restart at 1 and acknowledged events may come again", "err", err)
		} else {
			for _, p := range parts {
				if blk := resp.GetBlock(m.kt, p); blk != nil && errors.Is(blk.Err, sarama.ErrNoError) {
					if n := parseNotes(blk.Metadata); n != nil {
						found[p] = n
					}
				}
			}
		}
	}
	m.mu.Lock()
	m.startNotes = found
	m.mu.Unlock()
	m.log.Debug("session started", "generation", sess.GenerationID(), "partitions", parts)
	return nil
}

func (m *member) fetchOffsets(parts []int32) (*sarama.OffsetFetchResponse, error) {
	coord, err := m.client.Coordinator(m.gid)
	if err != nil {
		return nil, err
	}
	req := sarama.NewOffsetFetchRequest(m.client.Config().Version, m.gid, map[string][]int32{m.kt: parts})
	resp, err := coord.FetchOffset(req)
	if err != nil {
		return nil, err
	}
	if gerr := resp.GroupError(); !errors.Is(gerr, sarama.ErrNoError) {
		return nil, gerr
	}
	return resp, nil
}

// Cleanup runs when the session ends, after every ConsumeClaim returned.
func (m *member) Cleanup(sess sarama.ConsumerGroupSession) error {
	m.log.Debug("session ended", "generation", sess.GenerationID())
	return nil
}

// ConsumeClaim reads one partition for one session, until the partition
// is revoked or the member ends, then hands it over.
func (m *member) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	p := &partState{
		m:         m,
		partition: claim.Partition(),
		sess:      sess,
		marked:    claim.InitialOffset(),
		keys:      map[string]*fifo[*record]{},
		room:      make(chan struct{}, 1),
		drained:   make(chan struct{}, 1),
	}
	m.mu.Lock()
	if n := m.startNotes[p.partition]; n != nil && n.commit == claim.InitialOffset() {
		p.prior = n
	}
	m.mu.Unlock()
	defer m.revoke(p)
	ctx := sess.Context()
	msgs := claim.Messages()
	for {
		if !m.waitRoom(ctx, p) {
			return nil
		}
		select {
		case msg, ok := <-msgs:
			if !ok {
				return nil
			}
			m.add(p, msg)
		case <-ctx.Done():
			return nil
		}
	}
}

// waitRoom waits until p's window has room for another record.
func (m *member) waitRoom(ctx context.Context, p *partState) bool {
	for {
		m.mu.Lock()
		room := p.window.len() < m.window
		m.mu.Unlock()
		if room {
			return true
		}
		select {
		case <-p.room:
		case <-ctx.Done():
			return false
		}
	}
}

// add takes a record read from p.
func (m *member) add(p *partState, msg *sarama.ConsumerMessage) {
	ev, err := decodeRecord(msg.Headers, msg.Value)
	m.mu.Lock()
	defer m.mu.Unlock()
	if p.read && msg.Offset < p.next {
		return // read before
	}
	if !p.read && msg.Offset < p.marked {
		// The committed offset was out of range (the topic was created
		// again, say) and reading restarted before it: commit from here.
		p.sess.ResetOffset(m.kt, p.partition, msg.Offset, "")
		p.marked = msg.Offset
	}
	p.read = true
	p.next = msg.Offset + 1
	r := &record{p: p, offset: msg.Offset}
	switch {
	case err != nil:
		m.log.Warn("skipping a Kafka record that holds no valid CloudEvent", "partition", p.partition, "offset", msg.Offset, "err", err)
		r.acked = true
	case p.prior != nil && p.prior.acked[msg.Offset]:
		r.acked = true
	default:
		r.ev = ev
		if m.ordered {
			r.key = bus.PartitionKey(ev)
		}
		if p.prior != nil {
			r.attempts = p.prior.attempts[msg.Offset]
		}
	}
	p.window.push(r)
	if r.acked {
		p.advance()
		return
	}
	if r.key != "" {
		if waiting, busy := p.keys[r.key]; busy {
			waiting.push(r)
			return
		}
		p.keys[r.key] = &fifo[*record]{}
	}
	m.enqueue(r, false)
}

// revoke hands p over: it stops delivering the partition, gives the
// deliveries out (when the group is rebalancing, not when the member is
// ending) a while to be settled, and commits the oldest unacknowledged
// offset with notes for the next owner.
func (m *member) revoke(p *partState) {
	m.mu.Lock()
	p.revoked = true
	p.keys = nil
	signal(m.wake) // the dispatcher drops what it holds of p
	drain := !m.ending && m.ctx.Err() == nil && p.out > 0
	m.mu.Unlock()
	if drain {
		timer := time.NewTimer(m.drainLimit)
	wait:
		for {
			m.mu.Lock()
			out := p.out
			m.mu.Unlock()
			if out == 0 {
				break
			}
			select {
			case <-p.drained:
			case <-timer.C:
				m.log.Info("handing over a partition with deliveries still unsettled", "partition", p.partition, "unsettled", out)
				break wait
			case <-m.ctx.Done():
				break wait
			}
		}
		timer.Stop()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	p.final = true
	if !p.read {
		return
	}
	commit, meta := p.handover()
	p.sess.MarkOffset(m.kt, p.partition, commit, meta)
	p.sess.ResetOffset(m.kt, p.partition, commit, meta)
}

// newMember connects a member; the caller starts it.
func (b *Bus) newMember(ctx context.Context, topic, group string, opts bus.SubscribeOptions) (*member, error) {
	kt, gid := b.kafkaTopic(topic), b.groupID(topic, group)
	client, err := dial(ctx, b.cfg.Brokers, b.cfg.consumerConfig(opts.Ordered))
	if err != nil {
		return nil, err
	}
	cg, err := sarama.NewConsumerGroupFromClient(gid, client)
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("kafka: consumer group %s: %w", gid, err)
	}
	maxInFlight := opts.MaxInFlight
	if maxInFlight <= 0 {
		maxInFlight = b.cfg.MaxInFlight
	}
	ackDeadline := opts.AckDeadline
	if ackDeadline <= 0 {
		ackDeadline = b.cfg.AckDeadline
	}
	mctx, cancel := context.WithCancel(ctx)
	m := &member{
		b:           b,
		log:         b.log.With("topic", topic, "group", group),
		topic:       topic,
		group:       group,
		kt:          kt,
		gid:         gid,
		ordered:     opts.Ordered,
		maxInFlight: maxInFlight,
		ackDeadline: ackDeadline,
		window:      max(b.cfg.PartitionWindow, maxInFlight),
		drainLimit:  min(ackDeadline, b.cfg.RebalanceTimeout/2),
		client:      client,
		cg:          cg,
		ctx:         mctx,
		cancel:      cancel,
		ch:          make(chan bus.Delivery),
		wake:        make(chan struct{}, 1),
		dispatched:  make(chan struct{}),
		done:        make(chan struct{}),
	}
	return m, nil
}

// isEnding reports whether the member is on its way out.
func (m *member) isEnding() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ending
}

// describeProtocol returns the protocol of a group's live generation, if
// it is one of the bus's.
func describeProtocol(gd *sarama.GroupDescription) string {
	if gd == nil || gd.ProtocolType != "consumer" || !strings.HasPrefix(gd.Protocol, strategyPrefix) {
		return ""
	}
	switch gd.State {
	case "Stable", "CompletingRebalance", "PreparingRebalance":
		return gd.Protocol
	}
	return ""
}
