package nats

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/eddyplatform/eddy/bus"
)

// Subscribe implements bus.Bus. An unordered group is one durable pull
// consumer of the topic's stream; an ordered group is one durable pull
// consumer per partition with MaxAckPending 1. The consumers are created
// on the group's first Subscribe, starting at opts.StartFrom; an existing
// group keeps its place (and its AckWait: a member whose AckDeadline
// differs sets its own deadlines with delayed NAKs). A group's mode is
// fixed when it is created: subscribing to it in the other mode returns
// ErrGroupMismatch until the group is deleted.
func (b *Bus) Subscribe(ctx context.Context, topic, group string, opts bus.SubscribeOptions) (bus.Subscription, error) {
	if err := bus.ValidateName("topic", topic); err != nil {
		return nil, err
	}
	if err := bus.ValidateName("group", group); err != nil {
		return nil, err
	}
	if err := b.errClosed(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	maxInFlight := opts.MaxInFlight
	if maxInFlight == 0 {
		maxInFlight = b.cfg.MaxInFlight
	}
	if maxInFlight < 0 {
		return nil, fmt.Errorf("nats: MaxInFlight %d is negative", maxInFlight)
	}
	deadline := opts.AckDeadline
	if deadline == 0 {
		deadline = b.cfg.AckDeadline
	}
	if deadline < 0 {
		return nil, fmt.Errorf("nats: AckDeadline %v is negative", deadline)
	}
	deadline = max(deadline, minAckDeadline)

	name := b.names.stream(topic)
	s, err := b.js.Stream(ctx, name)
	if err != nil {
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			b.forgetTopic(topic)
			return nil, fmt.Errorf("%w: %q", bus.ErrTopicNotFound, topic)
		}
		return nil, b.apiError("looking up stream "+name, err)
	}
	info := s.CachedInfo()
	partitions := b.names.partitionsOf(topic, info.Config.Subjects)
	if partitions == 0 {
		return nil, fmt.Errorf("nats: stream %s exists but its subjects %v are not those of an eddy topic", name, info.Config.Subjects)
	}
	b.mu.Lock()
	b.topics[topic] = topicInfo{stream: name, partitions: partitions}
	b.mu.Unlock()

	cc := jetstream.ConsumerConfig{
		Description:   fmt.Sprintf("eddy group %q of topic %q", group, topic),
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       deadline,
		MaxDeliver:    -1,
		ReplayPolicy:  jetstream.ReplayInstantPolicy,
		MaxAckPending: max(maxInFlight, b.cfg.MaxAckPending),
	}
	switch p := opts.StartFrom; p.Kind {
	case bus.StartLatest:
		cc.DeliverPolicy = jetstream.DeliverNewPolicy
	case bus.StartEarliest:
		cc.DeliverPolicy = jetstream.DeliverAllPolicy
	case bus.StartTime:
		if p.Time.IsZero() {
			cc.DeliverPolicy = jetstream.DeliverAllPolicy
		} else {
			t := p.Time
			cc.DeliverPolicy = jetstream.DeliverByStartTimePolicy
			cc.OptStartTime = &t
		}
	case bus.StartOffset:
		// Offset o is stream sequence o+1. Before the first retained
		// event JetStream starts at the first; past the newest, start at
		// the next event rather than wait for that sequence.
		seq := uint64(1)
		if p.Offset >= 0 {
			seq = uint64(p.Offset) + 1
		}
		if last := info.State.LastSeq; seq > last+1 {
			seq = last + 1
		}
		cc.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cc.OptStartSeq = seq
	default:
		return nil, fmt.Errorf("%w: start position %v", bus.ErrUnsupported, p)
	}

	m := &member{
		b: b, topic: topic, group: group, stream: name, created: info.Created,
		ordered: opts.Ordered, max: maxInFlight, deadline: deadline,
		ch:   make(chan bus.Delivery),
		wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{}),
		live: map[*delivery]struct{}{}, connected: true,
	}
	apiSubj := func(consumer string) string {
		return "$JS.API.CONSUMER.MSG.NEXT." + name + "." + consumer
	}
	if !opts.Ordered {
		if exists, err := b.consumerExists(ctx, topic, name, partitionConsumer(group, 0)); err != nil {
			return nil, err
		} else if exists {
			return nil, fmt.Errorf("%w: group %q of topic %q is ordered", bus.ErrGroupMismatch, group, topic)
		}
		cc.Durable = consumerName(group)
		ackWait, err := b.ensureConsumer(ctx, topic, name, cc)
		if err != nil {
			return nil, err
		}
		m.lanes = []*lane{{consumer: cc.Durable, apiSubj: apiSubj(cc.Durable), ackWait: ackWait}}
	} else {
		if exists, err := b.consumerExists(ctx, topic, name, consumerName(group)); err != nil {
			return nil, err
		} else if exists {
			return nil, fmt.Errorf("%w: group %q of topic %q is not ordered", bus.ErrGroupMismatch, group, topic)
		}
		cc.MaxAckPending = 1
		for p := 0; p < partitions; p++ {
			pc := cc
			pc.Durable = partitionConsumer(group, p)
			pc.FilterSubject = b.names.subject(topic, p)
			ackWait, err := b.ensureConsumer(ctx, topic, name, pc)
			if err != nil {
				return nil, err
			}
			m.lanes = append(m.lanes, &lane{idx: p, consumer: pc.Durable, apiSubj: apiSubj(pc.Durable), ackWait: ackWait})
		}
	}

	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, bus.ErrClosed
	}
	b.members[m] = struct{}{}
	b.mu.Unlock()
	stop := context.AfterFunc(ctx, func() { m.end(nil, true) })
	m.mu.Lock()
	m.stopWatch = stop
	// From here on the connection handlers keep this up to date.
	m.connected = b.nc.IsConnected()
	m.mu.Unlock()
	if err := m.start(); err != nil {
		stop()
		b.mu.Lock()
		delete(b.members, m)
		b.mu.Unlock()
		close(m.ch)
		close(m.done) // Close may be waiting for it
		return nil, err
	}
	return m, nil
}

// consumerExists reports whether a consumer exists.
func (b *Bus) consumerExists(ctx context.Context, topic, stream, consumer string) (bool, error) {
	_, err := b.js.Consumer(ctx, stream, consumer)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, jetstream.ErrConsumerNotFound):
		return false, nil
	case errors.Is(err, jetstream.ErrStreamNotFound):
		return false, fmt.Errorf("%w: %q", bus.ErrTopicNotFound, topic)
	default:
		return false, b.apiError(fmt.Sprintf("looking up consumer %s of stream %s", consumer, stream), err)
	}
}

// ensureConsumer returns the AckWait of the durable consumer cc.Durable,
// creating it with cc if it does not exist.
func (b *Bus) ensureConsumer(ctx context.Context, topic, stream string, cc jetstream.ConsumerConfig) (time.Duration, error) {
	for attempt := 0; ; attempt++ {
		c, err := b.js.Consumer(ctx, stream, cc.Durable)
		if err == nil {
			ci := c.CachedInfo()
			if ci.Config.DeliverSubject != "" || ci.Config.AckPolicy != jetstream.AckExplicitPolicy {
				return 0, fmt.Errorf("nats: consumer %s of stream %s exists but is not a pull consumer with explicit acks", cc.Durable, stream)
			}
			return ci.Config.AckWait, nil
		}
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return 0, fmt.Errorf("%w: %q", bus.ErrTopicNotFound, topic)
		}
		if !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return 0, b.apiError(fmt.Sprintf("looking up consumer %s of stream %s", cc.Durable, stream), err)
		}
		_, err = b.js.CreateConsumer(ctx, stream, cc)
		if err == nil {
			return cc.AckWait, nil
		}
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return 0, fmt.Errorf("%w: %q", bus.ErrTopicNotFound, topic)
		}
		var apiErr *jetstream.APIError
		exists := errors.Is(err, jetstream.ErrConsumerExists) || errors.As(err, &apiErr) &&
			(apiErr.ErrorCode == jetstream.JSErrCodeConsumerNameExists || apiErr.ErrorCode == jetstream.JSErrCodeConsumerAlreadyExists ||
				apiErr.ErrorCode == jetstream.JSErrCodeConsumerExists)
		if !exists || attempt >= 2 {
			return 0, b.apiError(fmt.Sprintf("creating consumer %s of stream %s", cc.Durable, stream), err)
		}
		// Created concurrently by another member: use it.
	}
}
