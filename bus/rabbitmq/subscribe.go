package rabbitmq

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/eddyplatform/eddy/bus"
)

// errGroupGone says a group's queue no longer exists while its topic does:
// the group was deleted (DeleteGroup, here or elsewhere).
var errGroupGone = errors.New("rabbitmq: group deleted")

// Subscribe declares the group's queue if it is new (durable, bound to the
// topic's exchange, with the dead-letter exchange and, for an ordered group,
// single active consumer), records it in the topic's registry and starts
// consuming it with a prefetch of opts.MaxInFlight.
func (b *Bus) Subscribe(ctx context.Context, topic, group string, opts bus.SubscribeOptions) (bus.Subscription, error) {
	if err := bus.ValidateName("topic", topic); err != nil {
		return nil, err
	}
	if err := bus.ValidateName("group", group); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if b.isClosed() {
		return nil, bus.ErrClosed
	}
	if opts.MaxInFlight < 0 || opts.AckDeadline < 0 {
		return nil, fmt.Errorf("rabbitmq: negative MaxInFlight (%d) or AckDeadline (%v)", opts.MaxInFlight, opts.AckDeadline)
	}
	switch opts.StartFrom.Kind {
	case bus.StartLatest, bus.StartEarliest, bus.StartTime, bus.StartOffset:
	default:
		return nil, fmt.Errorf("%w: start position %v", bus.ErrUnsupported, opts.StartFrom)
	}
	prefetch := opts.MaxInFlight
	if prefetch == 0 {
		prefetch = b.cfg.Prefetch
	}
	prefetch = min(prefetch, maxPrefetch)
	deadline := opts.AckDeadline
	if deadline == 0 {
		deadline = b.cfg.AckDeadline
	}
	if err := b.declareGroup(ctx, topic, group, opts); err != nil {
		return nil, err
	}

	sctx, cancel := context.WithCancel(ctx)
	s := &subscription{
		b:        b,
		topic:    topic,
		group:    group,
		queue:    b.names.queue(topic, group),
		ordered:  opts.Ordered,
		prefetch: prefetch,
		deadline: deadline,
		out:      make(chan bus.Delivery),
		ctx:      sctx,
		cancel:   cancel,
		done:     make(chan struct{}),
		wake:     make(chan struct{}, 1),
	}
	// Consume before returning, so that the member takes its share of
	// what is published next.
	sess, err := s.open()
	if err != nil {
		cancel()
		switch {
		case errors.Is(err, errGroupGone):
			return nil, fmt.Errorf("rabbitmq: group %q of topic %q was deleted while subscribing", group, topic)
		case errors.Is(err, bus.ErrTopicNotFound):
			return nil, fmt.Errorf("%w: %q", bus.ErrTopicNotFound, topic)
		}
		return nil, fmt.Errorf("rabbitmq: subscribing to topic %q as group %q: %w", topic, group, err)
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		cancel()
		sess.ch.Close()
		return nil, bus.ErrClosed
	}
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	go s.run(sess)
	return s, nil
}

// declareGroup makes sure the topic exists and the group's queue exists,
// is bound to the topic's exchange and is recorded in its registry.
func (b *Bus) declareGroup(ctx context.Context, topic, group string, opts bus.SubscribeOptions) error {
	ex, q := b.names.exchange(topic), b.names.queue(topic, group)
	return b.do(ctx, func(conn *amqp.Connection) error {
		ch, err := conn.Channel()
		if err != nil {
			return err
		}
		err = ch.ExchangeDeclarePassive(ex, amqp.ExchangeFanout, true, false, false, false, nil)
		if amqpCode(err) == amqp.NotFound {
			return fmt.Errorf("%w: %q", bus.ErrTopicNotFound, topic)
		}
		if err != nil {
			return err
		}
		_, err = ch.QueueDeclarePassive(q, true, false, false, false, nil)
		exists := err == nil
		ch.Close() // after a 404 it is closed already
		if err != nil && amqpCode(err) != amqp.NotFound {
			return err
		}
		if !exists && opts.StartFrom.Kind != bus.StartLatest {
			return fmt.Errorf("%w: a new group starts at the latest event (StartFrom %v needs Replay)", bus.ErrUnsupported, opts.StartFrom)
		}
		ch, err = conn.Channel()
		if err != nil {
			return err
		}
		defer ch.Close()
		if _, err := ch.QueueDeclare(q, true, false, false, false, b.queueArgs(opts.Ordered)); err != nil {
			if amqpCode(err) == amqp.PreconditionFailed {
				return fmt.Errorf("%w: group %q of topic %q exists with another ordering (Ordered=%t asked) or queue type; an ordered group's mode is fixed until DeleteGroup: %v",
					bus.ErrGroupMismatch, group, topic, opts.Ordered, err)
			}
			return err
		}
		if !exists {
			if err := b.ensureRegistry(conn, topic); err != nil {
				return err
			}
			if err := b.register(ch, topic, group); err != nil {
				return err
			}
		}
		err = ch.QueueBind(q, "", ex, false, nil)
		if amqpCode(err) == amqp.NotFound {
			// The topic was deleted meanwhile: take back what we made.
			if !exists {
				if c2, err2 := conn.Channel(); err2 == nil {
					c2.QueueDelete(q, false, false, false)
					c2.Close()
				}
			}
			return fmt.Errorf("%w: %q", bus.ErrTopicNotFound, topic)
		}
		return err
	})
}

// subscription is one member of a group: one consumer on the group's queue,
// re-made on each connection.
type subscription struct {
	b        *Bus
	topic    string
	group    string
	queue    string
	ordered  bool
	prefetch int
	deadline time.Duration

	out    chan bus.Delivery // unbuffered: a deadline starts when the member receives
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{} // closed after out
	wake   chan struct{} // nudges the session loop

	mu       sync.Mutex
	ended    bool
	endErr   error
	inflight int // deliveries out to the member and not settled, of any session
}

// Deliveries returns the channel deliveries arrive on.
func (s *subscription) Deliveries() <-chan bus.Delivery { return s.out }

// Close leaves the group: it cancels the consumer and closes its channel,
// so the broker requeues the unsettled deliveries, and waits until
// Deliveries is closed.
func (s *subscription) Close() error {
	s.end(nil)
	<-s.done
	return nil
}

// Err returns why the subscription ended.
func (s *subscription) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.endErr
}

// end ends the subscription for reason, unless it ended already.
func (s *subscription) end(reason error) {
	s.mu.Lock()
	if !s.ended {
		s.ended = true
		s.endErr = reason
	}
	s.mu.Unlock()
	s.cancel()
}

func (s *subscription) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// settled frees the in-flight slot of a delivery that was out.
func (s *subscription) settled() {
	s.mu.Lock()
	s.inflight--
	s.mu.Unlock()
	s.signal()
}

// run delivers until the subscription ends, opening a new session after
// each lost channel or connection.
func (s *subscription) run(sess *session) {
	defer func() {
		s.b.mu.Lock()
		delete(s.b.subs, s)
		s.b.mu.Unlock()
		s.mu.Lock()
		s.ended = true
		s.mu.Unlock()
		s.cancel()
		close(s.out)
		close(s.done)
	}()
	log := s.b.log.With("topic", s.topic, "group", s.group)
	backoff := s.b.cfg.ReconnectBackoff
	for {
		if sess == nil {
			var err error
			sess, err = s.open()
			switch {
			case err == nil:
				log.Info("rabbitmq: subscription resumed")
				backoff = s.b.cfg.ReconnectBackoff
			case s.ctx.Err() != nil:
				return
			case errors.Is(err, bus.ErrTopicNotFound):
				s.end(bus.ErrTopicNotFound)
				return
			case errors.Is(err, errGroupGone):
				s.end(nil)
				return
			case errors.Is(err, bus.ErrClosed):
				s.end(bus.ErrClosed)
				return
			default:
				wait := jitter(backoff)
				log.Warn("rabbitmq: resuming subscription failed; retrying", "err", err, "retryIn", wait)
				backoff = min(2*backoff, s.b.cfg.MaxReconnectBackoff)
				select {
				case <-time.After(wait):
				case <-s.ctx.Done():
					return
				}
				continue
			}
		}
		cancelled := sess.loop()
		sess.stop()
		sess = nil
		if s.ctx.Err() != nil {
			return
		}
		if cancelled {
			// The broker cancelled the consumer: its queue was deleted,
			// or (quorum queues) its leader moved. open tells which.
			log.Info("rabbitmq: the broker cancelled the consumer")
		} else {
			log.Warn("rabbitmq: subscription lost its channel; resuming")
		}
	}
}

// open starts a session: a channel with the prefetch and a consumer on the
// group's queue. It waits for a connection. A missing queue is reported as
// bus.ErrTopicNotFound or errGroupGone.
func (s *subscription) open() (*session, error) {
	for {
		conn, _, err := s.b.conn.get(s.ctx, s.b.closing)
		if err != nil {
			return nil, err
		}
		sess, err := s.consume(conn)
		if err == nil {
			return sess, nil
		}
		if lostConnection(conn, err) {
			continue
		}
		if amqpCode(err) == amqp.NotFound {
			ok, err := s.b.exchangeExists(s.ctx, s.topic)
			switch {
			case err != nil:
				return nil, err
			case !ok:
				return nil, bus.ErrTopicNotFound
			}
			return nil, errGroupGone
		}
		return nil, err
	}
}

func (s *subscription) consume(conn *amqp.Connection) (*session, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, err
	}
	if err := ch.Qos(s.prefetch, 0, false); err != nil {
		ch.Close()
		return nil, err
	}
	var tag [8]byte
	rand.Read(tag[:])
	sess := &session{
		s:      s,
		ch:     ch,
		tag:    "eddy-" + hex.EncodeToString(tag[:]),
		closed: ch.NotifyClose(make(chan *amqp.Error, 1)),
		keys:   map[string][]*message{},
	}
	sess.dels, err = ch.Consume(s.queue, sess.tag, false, false, false, false, nil)
	if err != nil {
		ch.Close()
		return nil, err
	}
	return sess, nil
}

// session is one consumer of a subscription, on one channel. Its delivery
// tags mean nothing on another channel, so its settlements go to the broker
// only while it lives; after, the broker has requeued its messages anyway.
type session struct {
	s      *subscription
	ch     *amqp.Channel
	tag    string
	dels   <-chan amqp.Delivery
	closed chan *amqp.Error

	mu    sync.Mutex
	dead  bool
	ready []*delivery           // to hand to the member, in order
	keys  map[string][]*message // ordered mode: keys with an event out, and the events waiting behind it
}

// loop moves messages from the broker to the member until the channel
// closes, the broker cancels the consumer (then it returns true) or the
// subscription ends.
func (sess *session) loop() (cancelled bool) {
	s := sess.s
	for {
		sess.mu.Lock()
		var next *delivery
		if len(sess.ready) > 0 {
			next = sess.ready[0]
		}
		sess.mu.Unlock()
		var out chan bus.Delivery
		if next != nil {
			s.mu.Lock()
			room := s.inflight < s.prefetch
			s.mu.Unlock()
			if room {
				out = s.out
				next.handOut(s.deadline)
			}
		}
		select {
		case m, ok := <-sess.dels:
			if !ok {
				return !sess.ch.IsClosed()
			}
			sess.arrive(m)
		case out <- next:
			s.mu.Lock()
			s.inflight++
			s.mu.Unlock()
			sess.mu.Lock()
			for i, d := range sess.ready {
				if d == next {
					sess.ready = append(sess.ready[:i], sess.ready[i+1:]...)
					break
				}
			}
			sess.mu.Unlock()
			next.received(s.deadline)
		case <-s.wake:
		case <-s.ctx.Done():
			return false
		}
	}
}

// stop ends the session: the channel closes and the broker requeues every
// message not acknowledged on it.
func (sess *session) stop() {
	sess.mu.Lock()
	sess.dead = true
	sess.ready = nil
	sess.keys = nil
	sess.mu.Unlock()
	if !sess.ch.IsClosed() {
		sess.ch.Cancel(sess.tag, false)
		sess.ch.Close()
	}
}

// arrive takes a message from the broker: an undecodable one goes to the
// dead-letter exchange; an event waits its turn (ordered mode) or is ready.
func (sess *session) arrive(m amqp.Delivery) {
	s := sess.s
	ev, err := decodeEvent(m.Headers, m.ContentType, m.Body)
	if err != nil {
		s.b.log.Warn("rabbitmq: message is not a CloudEvent; dead-lettering it",
			"topic", s.topic, "group", s.group, "queue", s.queue, "messageId", m.MessageId,
			"deadLetterQueue", s.b.names.deadLetter(), "err", err)
		sess.ch.Reject(m.DeliveryTag, false)
		return
	}
	msg := &message{
		sess: sess,
		tag:  m.DeliveryTag,
		ev:   ev,
		id:   s.queue + "\x00" + ev.Source() + "\x00" + ev.ID(),
	}
	attempt := s.b.attempts.attempt(msg.id, m.Redelivered, deliveryCount(m.Headers))
	if s.ordered {
		msg.key = bus.PartitionKey(ev)
	}
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if msg.key != "" {
		if waiting, busy := sess.keys[msg.key]; busy {
			msg.attempt = attempt
			sess.keys[msg.key] = append(waiting, msg)
			return
		}
		sess.keys[msg.key] = nil
	}
	sess.ready = append(sess.ready, newDelivery(msg, attempt, !s.ordered))
}

// deliveryCount reads the x-delivery-count header quorum queues set on
// redeliveries.
func deliveryCount(h amqp.Table) int64 {
	switch v := h["x-delivery-count"].(type) {
	case int64:
		return v
	case int32:
		return int64(v)
	case int16:
		return int64(v)
	case int8:
		return int64(v)
	case int:
		return int64(v)
	}
	return 0
}

// release lets the next event of msg's key go, after msg was acknowledged.
func (sess *session) release(msg *message) {
	if msg.key == "" {
		return
	}
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if sess.dead {
		return
	}
	waiting := sess.keys[msg.key]
	if len(waiting) == 0 {
		delete(sess.keys, msg.key)
		return
	}
	next := waiting[0]
	waiting[0] = nil
	sess.keys[msg.key] = waiting[1:]
	sess.ready = append(sess.ready, newDelivery(next, next.attempt, false))
	sess.s.signal()
}

// redeliver hands msg out again ahead of everything else (ordered mode,
// after a nack or an expired deadline). The message stays unacknowledged on
// the broker, and its key stays held.
func (sess *session) redeliver(msg *message, attempt int) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if sess.dead {
		return
	}
	sess.ready = append([]*delivery{newDelivery(msg, attempt, false)}, sess.ready...)
	sess.s.signal()
}
