package pubsub

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/eddyplatform/eddy/bus"
)

// maxPull is the most messages one Pull asks for (Pub/Sub's limit).
const maxPull = 1000

// member is one bus.Subscription: a member of a group, pulling from the
// group's subscription. Three goroutines serve it: the puller asks Pub/Sub
// for as many messages as the member has room for, the dispatcher hands
// them out on the Deliveries channel, and the leaser extends the Pub/Sub
// leases of every message the member holds. A fourth waits for the end and
// cleans up.
type member struct {
	b           *Bus
	g           *group
	ctx         context.Context
	cancel      context.CancelFunc
	ch          chan bus.Delivery
	maxInFlight int
	ackDeadline time.Duration
	lease       time.Duration // the subscription's ack deadline
	ordered     bool

	mu      sync.Mutex
	ready   []*delivery            // pulled, to be handed out, in order
	keyHead map[string]*delivery   // ordered: the one delivery holding each key
	keyWait map[string][]*delivery // ordered: pulled events waiting for their key
	out     map[*delivery]struct{} // handed out, not settled
	held    int                    // pulled and not handed out (ready and keyWait)
	stopped bool
	err     error

	readyKick chan struct{}
	pullKick  chan struct{}
	wg        sync.WaitGroup
	done      chan struct{}
}

var _ bus.Subscription = (*member)(nil)

func newMember(ctx context.Context, b *Bus, g *group, opts bus.SubscribeOptions, ps *pb.Subscription) *member {
	m := &member{
		b:           b,
		g:           g,
		ch:          make(chan bus.Delivery),
		maxInFlight: opts.MaxInFlight,
		ackDeadline: opts.AckDeadline,
		lease:       min(max(time.Duration(ps.GetAckDeadlineSeconds())*time.Second, minLease), maxLease),
		ordered:     ps.GetEnableMessageOrdering(),
		keyHead:     map[string]*delivery{},
		keyWait:     map[string][]*delivery{},
		out:         map[*delivery]struct{}{},
		readyKick:   make(chan struct{}, 1),
		pullKick:    make(chan struct{}, 1),
		done:        make(chan struct{}),
	}
	if m.maxInFlight == 0 {
		m.maxInFlight = b.cfg.MaxInFlight
	}
	if m.ackDeadline == 0 {
		m.ackDeadline = b.cfg.AckDeadline
	}
	m.ctx, m.cancel = context.WithCancel(ctx)
	return m
}

func (m *member) start() {
	m.wg.Add(3)
	go m.pullLoop()
	go m.dispatchLoop()
	go m.leaseLoop()
	go m.supervise()
}

// Deliveries returns the channel deliveries arrive on.
func (m *member) Deliveries() <-chan bus.Delivery { return m.ch }

// Close leaves the group: the member's unsettled deliveries are nacked, so
// the group gets them again at once. It waits until Deliveries is closed.
func (m *member) Close() error {
	m.stop(nil)
	<-m.done
	return nil
}

// Err returns why the subscription ended.
func (m *member) Err() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.err
}

// stop ends the member with err (the first reason counts).
func (m *member) stop(err error) {
	m.mu.Lock()
	if !m.stopped {
		m.stopped = true
		m.err = err
	}
	m.mu.Unlock()
	m.cancel()
}

func (m *member) wakePuller() {
	select {
	case m.pullKick <- struct{}{}:
	default:
	}
}

func (m *member) wakeDispatcher() {
	select {
	case m.readyKick <- struct{}{}:
	default:
	}
}

// supervise waits for the end (Close, the Subscribe context, the topic or
// group deleted, the bus closed), nacks whatever the member still holds
// and closes the channel.
func (m *member) supervise() {
	<-m.ctx.Done()
	m.wg.Wait()
	m.mu.Lock()
	var ids []string
	for _, d := range m.ready {
		d.state = stateDropped
		ids = append(ids, d.ackID)
	}
	for _, ws := range m.keyWait {
		for _, d := range ws {
			d.state = stateDropped
			ids = append(ids, d.ackID)
		}
	}
	for d := range m.out {
		d.state = stateReturned
		d.stopTimer()
		ids = append(ids, d.ackID)
	}
	m.ready, m.keyHead, m.keyWait, m.out, m.held = nil, nil, nil, nil, 0
	err := m.err
	m.mu.Unlock()
	m.g.nack(ids...)
	m.g.removeMember(m)
	close(m.ch)
	close(m.done)
	m.b.log.Debug("pubsub: member left", "subscription", m.g.name, "returned", len(ids), "err", err)
}

// room waits until the member can take more messages and returns how many
// (at most maxPull), or 0 when it ends.
func (m *member) room() int {
	for {
		m.mu.Lock()
		free := m.maxInFlight - m.held - len(m.out)
		m.mu.Unlock()
		if free > 0 {
			return min(free, maxPull)
		}
		select {
		case <-m.pullKick:
		case <-m.ctx.Done():
			return 0
		}
	}
}

// pullLoop pulls messages while the member has room. Against an emulator
// (not LongPoll) an empty Pull is followed by a short wait, cut short when
// an ack goes out.
func (m *member) pullLoop() {
	defer m.wg.Done()
	bo := newBackoff()
	for {
		n := m.room()
		if n == 0 {
			return
		}
		resp, err := m.b.client.SubscriptionAdminClient.Pull(m.ctx, &pb.PullRequest{
			Subscription:      m.g.name,
			MaxMessages:       int32(n),
			ReturnImmediately: !m.b.longPoll, //lint:ignore SA1019 emulators do not long-poll usefully
		})
		if err != nil {
			if m.ctx.Err() != nil {
				return
			}
			if status.Code(err) == codes.NotFound {
				m.subscriptionGone()
				return
			}
			if !retryable(err) && status.Code(err) != codes.Canceled {
				m.b.log.Error("pubsub: pull failed; subscription ends", "subscription", m.g.name, "err", err)
				m.stop(fmt.Errorf("pubsub: pull from %s: %w", m.g.name, err))
				return
			}
			m.b.log.Warn("pubsub: pull failed; retrying", "subscription", m.g.name, "err", err)
			if bo.wait(m.ctx, nil) != nil {
				return
			}
			continue
		}
		bo.reset()
		if len(resp.GetReceivedMessages()) == 0 {
			if !m.b.longPoll {
				t := time.NewTimer(m.b.cfg.PollInterval)
				select {
				case <-t.C:
				case <-m.pullKick:
				case <-m.ctx.Done():
				}
				t.Stop()
			}
			continue
		}
		m.add(resp.GetReceivedMessages())
	}
}

// subscriptionGone ends the member whose subscription Pub/Sub no longer
// has: with bus.ErrTopicNotFound if the topic went too, and with no error
// if only the group was deleted (as DeleteGroup ends its members).
func (m *member) subscriptionGone() {
	_, err := m.b.client.TopicAdminClient.GetTopic(m.ctx, &pb.GetTopicRequest{Topic: m.b.topicName(m.g.topic)})
	switch {
	case m.ctx.Err() != nil:
	case status.Code(err) == codes.NotFound:
		m.stop(fmt.Errorf("pubsub: topic %q deleted: %w", m.g.topic, bus.ErrTopicNotFound))
	case err == nil:
		m.b.log.Info("pubsub: subscription deleted; member ends", "subscription", m.g.name)
		m.stop(nil)
	default:
		m.stop(fmt.Errorf("pubsub: subscription %s deleted, and its topic cannot be read: %w", m.g.name, err))
	}
}

// add takes pulled messages in. In an ordered group an event whose key is
// held by an earlier delivery waits behind it. Messages that are not
// CloudEvents are acknowledged, so they do not come back, and logged.
func (m *member) add(rms []*pb.ReceivedMessage) {
	now := time.Now()
	ds := make([]*delivery, 0, len(rms))
	var bad []string
	for _, rm := range rms {
		msg := rm.GetMessage()
		ev, err := decodeMessage(msg.GetData(), msg.GetAttributes())
		if err != nil {
			m.b.log.Error("pubsub: dropping a message that is not a CloudEvent", "subscription", m.g.name, "messageID", msg.GetMessageId(), "err", err)
			bad = append(bad, rm.GetAckId())
			continue
		}
		d := &delivery{
			m:             m,
			ackID:         rm.GetAckId(),
			msgID:         msg.GetMessageId(),
			ev:            ev,
			serverAttempt: int(rm.GetDeliveryAttempt()),
			leaseUntil:    now.Add(m.lease),
		}
		if m.ordered {
			d.key = msg.GetOrderingKey()
		}
		ds = append(ds, d)
	}
	m.g.ack(bad...)
	m.mu.Lock()
	for _, d := range ds {
		m.held++
		if d.key != "" {
			if _, busy := m.keyHead[d.key]; busy {
				m.keyWait[d.key] = append(m.keyWait[d.key], d)
				continue
			}
			m.keyHead[d.key] = d
		}
		m.ready = append(m.ready, d)
	}
	m.mu.Unlock()
	m.wakeDispatcher()
}

// next takes the next delivery to hand out, waiting for one; nil when the
// member ends. The delivery counts as out from here, so that an Ack racing
// the hand-off is taken.
func (m *member) next() *delivery {
	for {
		m.mu.Lock()
		if len(m.ready) > 0 {
			d := m.ready[0]
			m.ready[0] = nil
			m.ready = m.ready[1:]
			m.held--
			d.state = stateOut
			d.deadline = time.Now().Add(m.ackDeadline)
			m.out[d] = struct{}{}
			m.mu.Unlock()
			return d
		}
		m.mu.Unlock()
		select {
		case <-m.readyKick:
		case <-m.ctx.Done():
			return nil
		}
	}
}

// dispatchLoop hands deliveries out, one at a time; the ack deadline runs
// from when the member receives one.
func (m *member) dispatchLoop() {
	defer m.wg.Done()
	for {
		d := m.next()
		if d == nil {
			return
		}
		d.attempt = m.g.nextAttempt(d.msgID, d.serverAttempt)
		select {
		case m.ch <- d:
		case <-m.ctx.Done():
			return // supervise nacks it with the rest
		}
		m.mu.Lock()
		if d.state == stateOut {
			if !d.extended {
				d.deadline = time.Now().Add(m.ackDeadline)
			}
			d.timer = time.AfterFunc(time.Until(d.deadline), d.expire)
		}
		m.mu.Unlock()
	}
}

// leaseLoop keeps the Pub/Sub leases of the messages the member holds from
// running out, by extending them to the subscription's ack deadline when
// less than half a period is left. Unsettled deliveries are thus only
// redelivered when the bus's own deadline nacks them, or when this process
// dies.
func (m *member) leaseLoop() {
	defer m.wg.Done()
	period := m.lease / 3
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-m.ctx.Done():
			return
		}
		now := time.Now()
		horizon := now.Add(period + period/2)
		var ds []*delivery
		m.mu.Lock()
		due := func(d *delivery) {
			if d.leaseUntil.Before(horizon) {
				ds = append(ds, d)
			}
		}
		for _, d := range m.ready {
			due(d)
		}
		for _, ws := range m.keyWait {
			for _, d := range ws {
				due(d)
			}
		}
		for d := range m.out {
			due(d)
		}
		m.mu.Unlock()
		for len(ds) > 0 {
			n := min(len(ds), maxAckIDs)
			ids := make([]string, n)
			for i, d := range ds[:n] {
				ids[i] = d.ackID
			}
			err := m.b.client.SubscriptionAdminClient.ModifyAckDeadline(m.ctx, &pb.ModifyAckDeadlineRequest{
				Subscription:       m.g.name,
				AckIds:             ids,
				AckDeadlineSeconds: int32(m.lease / time.Second),
			})
			if err == nil {
				m.mu.Lock()
				for _, d := range ds[:n] {
					d.leaseUntil = now.Add(m.lease)
				}
				m.mu.Unlock()
			} else if m.ctx.Err() == nil {
				m.b.log.Warn("pubsub: extending leases failed; will retry", "subscription", m.g.name, "count", n, "err", err)
			}
			ds = ds[n:]
		}
	}
}

// releaseKey frees d's key when d is settled. After an ack the key's next
// waiting event becomes ready (reported by promoted); after a nack or an
// expiry the waiting events are returned too (dropped), because Pub/Sub
// delivers them again after d. Called with m.mu held.
func (m *member) releaseKey(d *delivery, acked bool) (promoted bool, dropped []*delivery) {
	if d.key == "" || m.keyHead[d.key] != d {
		return false, nil
	}
	ws := m.keyWait[d.key]
	if acked && len(ws) > 0 {
		next := ws[0]
		if len(ws) == 1 {
			delete(m.keyWait, d.key)
		} else {
			m.keyWait[d.key] = ws[1:]
		}
		m.keyHead[d.key] = next
		m.ready = append(m.ready, next)
		return true, nil
	}
	delete(m.keyHead, d.key)
	delete(m.keyWait, d.key)
	for _, w := range ws {
		w.state = stateDropped
	}
	m.held -= len(ws)
	return false, ws
}

// errSettled is returned by ExtendDeadline of a settled or expired delivery.
var errSettled = errors.New("pubsub: delivery already settled or expired")
