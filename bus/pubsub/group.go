package pubsub

import (
	"context"
	"fmt"
	"sync"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/eddyplatform/eddy/bus"
)

const (
	// maxAckIDs is how many ack ids one Acknowledge or ModifyAckDeadline
	// request carries (as in Google's client: well within the 512 KiB
	// request limit).
	maxAckIDs = 1000
	// minLease and maxLease bound a subscription's ack deadline in Pub/Sub.
	minLease = 10 * time.Second
	maxLease = 600 * time.Second
	// settleTimeout bounds one flush of acknowledgements.
	settleTimeout = 30 * time.Second
)

// group is the bus's side of one Pub/Sub subscription (one consumer group)
// in this process: its live members, the acks and nacks waiting to be sent,
// and the delivery attempts counted so far.
type group struct {
	b     *Bus
	topic string
	name  string // subscription resource name

	mu       sync.Mutex
	members  map[*member]struct{}
	acks     []string
	nacks    []string
	attempts attempts
	ended    bool // no new members
	drop     bool // the subscription is gone: discard acks and nacks

	kick chan struct{} // wakes the sender
	stop chan struct{} // closed to stop the sender after a last flush
	done chan struct{} // closed when the sender has stopped
}

func newGroup(b *Bus, topic, name string) *group {
	g := &group{
		b:       b,
		topic:   topic,
		name:    name,
		members: map[*member]struct{}{},
		kick:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	go g.run()
	return g
}

// run sends queued acks and nacks until the group ends. While one batch is
// on its way the next one gathers, so the batches grow with the load.
func (g *group) run() {
	defer close(g.done)
	for {
		select {
		case <-g.kick:
			g.flush()
		case <-g.stop:
			g.flush()
			return
		}
	}
}

func (g *group) wake() {
	select {
	case g.kick <- struct{}{}:
	default:
	}
}

// ack and nack queue ack ids for the sender.
func (g *group) ack(ids ...string) {
	if len(ids) == 0 {
		return
	}
	g.mu.Lock()
	if !g.drop {
		g.acks = append(g.acks, ids...)
	}
	g.mu.Unlock()
	g.wake()
}

func (g *group) nack(ids ...string) {
	if len(ids) == 0 {
		return
	}
	g.mu.Lock()
	if !g.drop {
		g.nacks = append(g.nacks, ids...)
	}
	g.mu.Unlock()
	g.wake()
}

// flush sends everything queued, then whatever was queued meanwhile. Once
// acks went out it wakes the members' pullers: in an ordered group the
// next event of a key is only available once the previous one is acked.
func (g *group) flush() {
	for {
		g.mu.Lock()
		acks, nacks := g.acks, g.nacks
		g.acks, g.nacks = nil, nil
		g.mu.Unlock()
		if len(acks) == 0 && len(nacks) == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), settleTimeout)
		sac := g.b.client.SubscriptionAdminClient
		for len(acks) > 0 {
			n := min(len(acks), maxAckIDs)
			err := sac.Acknowledge(ctx, &pb.AcknowledgeRequest{Subscription: g.name, AckIds: acks[:n]})
			g.settleError("acknowledge", n, err)
			acks = acks[n:]
		}
		for len(nacks) > 0 {
			n := min(len(nacks), maxAckIDs)
			err := sac.ModifyAckDeadline(ctx, &pb.ModifyAckDeadlineRequest{Subscription: g.name, AckIds: nacks[:n], AckDeadlineSeconds: 0})
			g.settleError("nack", n, err)
			nacks = nacks[n:]
		}
		cancel()
		g.mu.Lock()
		for m := range g.members {
			m.wakePuller()
		}
		g.mu.Unlock()
	}
}

// settleError logs a failed ack or nack. Nothing is lost: Pub/Sub delivers
// the events again once their lease ends.
func (g *group) settleError(what string, n int, err error) {
	switch {
	case err == nil:
	case status.Code(err) == codes.NotFound:
		g.b.log.Debug("pubsub: subscription gone; settlements dropped", "subscription", g.name, "op", what, "count", n)
	default:
		g.b.log.Warn("pubsub: settlement failed; the events will be delivered again", "subscription", g.name, "op", what, "count", n, "err", err)
	}
}

// addMember registers m, unless the group has ended.
func (g *group) addMember(m *member) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ended {
		return false
	}
	g.members[m] = struct{}{}
	return true
}

func (g *group) removeMember(m *member) {
	g.mu.Lock()
	delete(g.members, m)
	g.mu.Unlock()
}

// end stops the group's members with err and then its sender, after a last
// flush unless drop (the subscription was deleted).
func (g *group) end(err error, flush bool) {
	g.mu.Lock()
	if g.ended {
		g.mu.Unlock()
		<-g.done
		return
	}
	g.ended = true
	g.drop = !flush
	if g.drop {
		g.acks, g.nacks = nil, nil
	}
	ms := make([]*member, 0, len(g.members))
	for m := range g.members {
		ms = append(ms, m)
	}
	g.mu.Unlock()
	for _, m := range ms {
		m.stop(err)
	}
	for _, m := range ms {
		<-m.done
	}
	close(g.stop)
	<-g.done
}

// nextAttempt returns the attempt number of the next delivery of a message
// and counts it.
func (g *group) nextAttempt(msgID string, server int) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := max(g.attempts.get(msgID)+1, server)
	g.attempts.set(msgID, n)
	return n
}

func (g *group) forgetAttempts(msgID string) {
	g.mu.Lock()
	g.attempts.forget(msgID)
	g.mu.Unlock()
}

// attempts counts deliveries by message id. Pub/Sub reports delivery
// attempts only on subscriptions with a dead-letter policy, so the bus
// counts them itself: a hint, as bus.Delivery.Attempt allows. Counts go
// when the message is acked; the rest (messages acked by another process)
// age out: when the current map reaches attemptsPerGen ids it becomes the
// old one and the previous old one is forgotten.
type attempts struct {
	cur, old map[string]int
}

const attemptsPerGen = 1 << 16

func (a *attempts) get(id string) int {
	if n, ok := a.cur[id]; ok {
		return n
	}
	return a.old[id]
}

func (a *attempts) set(id string, n int) {
	if a.cur == nil {
		a.cur = map[string]int{}
	}
	if _, ok := a.cur[id]; !ok && len(a.cur) >= attemptsPerGen {
		a.old, a.cur = a.cur, map[string]int{}
	}
	a.cur[id] = n
	delete(a.old, id)
}

func (a *attempts) forget(id string) {
	delete(a.cur, id)
	delete(a.old, id)
}

// Subscribe makes sure the group's Pub/Sub subscription exists (creating it
// with message ordering if opts.Ordered) and starts a member pulling from
// it. A group's ordering is fixed when its subscription is created, as
// Pub/Sub cannot change it: a member asking for the other mode gets
// bus.ErrGroupMismatch until the group is deleted (DeleteGroup).
func (b *Bus) Subscribe(ctx context.Context, topic, groupName string, opts bus.SubscribeOptions) (bus.Subscription, error) {
	if b.closed.Load() {
		return nil, errClosed("Subscribe")
	}
	if err := bus.ValidateName("topic", topic); err != nil {
		return nil, err
	}
	if err := bus.ValidateName("group", groupName); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	switch opts.StartFrom.Kind {
	case bus.StartLatest:
	case bus.StartEarliest, bus.StartTime:
		return nil, fmt.Errorf("pubsub: start from %v needs Replay: %w", opts.StartFrom, bus.ErrUnsupported)
	case bus.StartOffset:
		return nil, fmt.Errorf("pubsub: start from %v needs Offsets: %w", opts.StartFrom, bus.ErrUnsupported)
	default:
		return nil, fmt.Errorf("pubsub: unknown start position %v: %w", opts.StartFrom, bus.ErrUnsupported)
	}
	if opts.AckDeadline < 0 || opts.MaxInFlight < 0 {
		return nil, fmt.Errorf("pubsub: negative AckDeadline (%v) or MaxInFlight (%d)", opts.AckDeadline, opts.MaxInFlight)
	}
	name := b.subscriptionName(topic, groupName)
	ps, err := b.ensureSubscription(ctx, topic, name, opts.Ordered)
	if err != nil {
		return nil, err
	}
	if ps.GetEnableMessageOrdering() != opts.Ordered {
		return nil, fmt.Errorf("pubsub: group %q of topic %q has ordered=%v, this member asks for ordered=%v: %w",
			groupName, topic, ps.GetEnableMessageOrdering(), opts.Ordered, bus.ErrGroupMismatch)
	}
	b.mu.Lock()
	if b.closed.Load() {
		b.mu.Unlock()
		return nil, errClosed("Subscribe")
	}
	g := b.groups[name]
	if g == nil {
		g = newGroup(b, topic, name)
		b.groups[name] = g
	}
	b.mu.Unlock()

	m := newMember(ctx, b, g, opts, ps)
	if !g.addMember(m) {
		m.cancel()
		if b.closed.Load() {
			return nil, errClosed("Subscribe")
		}
		return nil, fmt.Errorf("pubsub: topic %q or group %q deleted while subscribing: %w", topic, groupName, bus.ErrTopicNotFound)
	}
	m.start()
	b.log.Debug("pubsub: member joined", "subscription", name, "ordered", opts.Ordered, "maxInFlight", m.maxInFlight, "ackDeadline", m.ackDeadline)
	return m, nil
}

// ensureSubscription returns the group's subscription, creating it if
// missing. A subscription left over from a deleted incarnation of the topic
// (Pub/Sub detaches such subscriptions to "_deleted-topic_") is replaced.
func (b *Bus) ensureSubscription(ctx context.Context, topic, name string, ordered bool) (*pb.Subscription, error) {
	sac, tac := b.client.SubscriptionAdminClient, b.client.TopicAdminClient
	tname := b.topicName(topic)
	lease := min(max(b.cfg.AckDeadline, minLease), maxLease)
	for range 3 {
		ps, err := sac.GetSubscription(ctx, &pb.GetSubscriptionRequest{Subscription: name})
		switch {
		case err == nil && ps.GetTopic() == tname:
			return ps, nil
		case err == nil && ps.GetTopic() == deletedTopic:
			if _, err := tac.GetTopic(ctx, &pb.GetTopicRequest{Topic: tname}); err != nil {
				if status.Code(err) == codes.NotFound {
					return nil, fmt.Errorf("pubsub: subscribe to %s: %w", topic, bus.ErrTopicNotFound)
				}
				return nil, b.rpcError(ctx, "get topic "+topic, err)
			}
			b.log.Info("pubsub: replacing a subscription left by a deleted topic", "subscription", name)
			err := sac.DeleteSubscription(ctx, &pb.DeleteSubscriptionRequest{Subscription: name})
			if err != nil && status.Code(err) != codes.NotFound {
				return nil, b.rpcError(ctx, "delete subscription "+name, err)
			}
		case err == nil:
			return nil, fmt.Errorf("pubsub: subscription %s belongs to topic %s, not %s", name, ps.GetTopic(), tname)
		case status.Code(err) != codes.NotFound:
			return nil, b.rpcError(ctx, "get subscription "+name, err)
		}
		ps, err = sac.CreateSubscription(ctx, &pb.Subscription{
			Name:                  name,
			Topic:                 tname,
			AckDeadlineSeconds:    int32(lease / time.Second),
			EnableMessageOrdering: ordered,
			ExpirationPolicy:      &pb.ExpirationPolicy{}, // groups never expire
			Labels:                map[string]string{"managed-by": "eddy"},
		})
		switch {
		case err == nil:
			return ps, nil
		case status.Code(err) == codes.NotFound:
			return nil, fmt.Errorf("pubsub: subscribe to %s: %w", topic, bus.ErrTopicNotFound)
		case status.Code(err) == codes.AlreadyExists:
			continue // another member made it meanwhile
		default:
			return nil, b.rpcError(ctx, "create subscription "+name, err)
		}
	}
	return nil, fmt.Errorf("pubsub: subscription %s keeps changing", name)
}
