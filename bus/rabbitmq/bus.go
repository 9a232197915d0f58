package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/eddyplatform/eddy/bus"
)

// Bus is a bus.Bus on a RabbitMQ broker. See the package documentation.
type Bus struct {
	cfg      Config
	log      *slog.Logger
	names    names
	conn     *connector
	pool     pubPool
	attempts attemptTracker
	locks    keyedMutex

	closing chan struct{} // closed by Close
	pubs    sync.WaitGroup

	mu     sync.Mutex
	closed bool
	known  map[string]bool // topics whose exchange is known to exist
	subs   map[*subscription]struct{}
}

var (
	_ bus.Bus          = (*Bus)(nil)
	_ bus.GroupDeleter = (*Bus)(nil)
)

// New connects to the broker and returns a Bus. It fails if the first
// connection cannot be made before ctx ends; once running, the bus
// reconnects by itself.
func New(ctx context.Context, cfg Config) (*Bus, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	u, _ := cfg.parseURL()
	tc, err := cfg.tlsConfig(u)
	if err != nil {
		return nil, fmt.Errorf("%s%w", errPrefix, err)
	}
	b := &Bus{
		cfg:      cfg,
		log:      cfg.Logger,
		names:    names{prefix: cfg.Prefix},
		closing:  make(chan struct{}),
		known:    map[string]bool{},
		subs:     map[*subscription]struct{}{},
		attempts: attemptTracker{m: map[string]int{}},
	}
	b.conn = newConnector(&b.cfg, tc, b.declareDeadLetter)
	if err := b.conn.start(ctx); err != nil {
		return nil, err
	}
	return b, nil
}

// Features reports what the bus can do: see the package documentation.
func (b *Bus) Features() bus.Features {
	return bus.Features{
		Durable:       true,
		OrderedByKey:  true,
		Replay:        false,
		Offsets:       false,
		AckDeadline:   true,
		MaxEventBytes: b.cfg.MaxEventBytes,
	}
}

// declareDeadLetter makes the dead-letter exchange and queue. It runs on
// every new connection, so that they come back if someone deletes them.
func (b *Bus) declareDeadLetter(conn *amqp.Connection) error {
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	defer ch.Close()
	dl := b.names.deadLetter()
	if err := ch.ExchangeDeclare(dl, amqp.ExchangeFanout, true, false, false, false, nil); err != nil {
		return fmt.Errorf("declaring dead-letter exchange %q: %w", dl, err)
	}
	if _, err := ch.QueueDeclare(dl, true, false, false, false, nil); err != nil {
		return fmt.Errorf("declaring dead-letter queue %q: %w", dl, err)
	}
	if err := ch.QueueBind(dl, "", dl, false, nil); err != nil {
		return fmt.Errorf("binding dead-letter queue %q: %w", dl, err)
	}
	return nil
}

// queueArgs are the arguments of every group queue. RabbitMQ refuses to
// declare an existing queue with other arguments (406 PRECONDITION_FAILED).
func (b *Bus) queueArgs(ordered bool) amqp.Table {
	args := amqp.Table{"x-dead-letter-exchange": b.names.deadLetter()}
	if b.cfg.QueueType == queueTypeQuorum {
		args["x-queue-type"] = queueTypeQuorum
	}
	if ordered {
		args["x-single-active-consumer"] = true
	}
	return args
}

func (b *Bus) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

// EnsureTopic declares the topic's exchange and its group registry.
func (b *Bus) EnsureTopic(ctx context.Context, topic string) error {
	if err := bus.ValidateName("topic", topic); err != nil {
		return err
	}
	if b.isClosed() {
		return bus.ErrClosed
	}
	err := b.do(ctx, func(conn *amqp.Connection) error {
		ch, err := conn.Channel()
		if err != nil {
			return err
		}
		defer ch.Close()
		if err := ch.ExchangeDeclare(b.names.exchange(topic), amqp.ExchangeFanout, true, false, false, false, nil); err != nil {
			return err
		}
		return b.ensureRegistry(conn, topic)
	})
	if err != nil {
		return fmt.Errorf("rabbitmq: ensuring topic %q: %w", topic, err)
	}
	b.mu.Lock()
	b.known[topic] = true
	b.mu.Unlock()
	return nil
}

// DeleteTopic deletes the topic's exchange, every group queue it has and its
// registry. Live subscriptions of this bus end at once with
// bus.ErrTopicNotFound; those of other processes end when the broker cancels
// their consumers.
func (b *Bus) DeleteTopic(ctx context.Context, topic string) error {
	if err := bus.ValidateName("topic", topic); err != nil {
		return err
	}
	if b.isClosed() {
		return bus.ErrClosed
	}
	unlock, err := b.lockTopic(ctx, topic)
	if err != nil {
		return fmt.Errorf("rabbitmq: deleting topic %q: %w", topic, err)
	}
	defer unlock()
	b.mu.Lock()
	delete(b.known, topic)
	b.mu.Unlock()
	if err := b.withChannel(ctx, func(ch *amqp.Channel) error {
		return ch.ExchangeDelete(b.names.exchange(topic), false, false)
	}); err != nil && amqpCode(err) != amqp.NotFound {
		return fmt.Errorf("rabbitmq: deleting topic %q: %w", topic, err)
	}
	// No publish reaches the groups now; end this bus's members.
	queues := map[string]bool{}
	for _, s := range b.subsOf(topic, "") {
		queues[s.queue] = true
		s.end(bus.ErrTopicNotFound)
	}
	groups, err := b.readRegistry(ctx, topic, nil)
	if err != nil {
		return fmt.Errorf("rabbitmq: deleting topic %q: reading its groups: %w", topic, err)
	}
	for _, g := range groups {
		queues[b.names.queue(topic, g)] = true
	}
	for q := range queues {
		if err := b.deleteQueue(ctx, q); err != nil {
			return fmt.Errorf("rabbitmq: deleting topic %q: %w", topic, err)
		}
	}
	if err := b.deleteQueue(ctx, b.names.registry(topic)); err != nil {
		return fmt.Errorf("rabbitmq: deleting topic %q: %w", topic, err)
	}
	return nil
}

// DeleteGroup ends the group's live subscriptions on this bus (Err nil),
// deletes its queue with any events it held, and drops it from the topic's
// registry. Members in other processes end when the broker cancels their
// consumers.
func (b *Bus) DeleteGroup(ctx context.Context, topic, group string) error {
	if err := bus.ValidateName("topic", topic); err != nil {
		return err
	}
	if err := bus.ValidateName("group", group); err != nil {
		return err
	}
	if b.isClosed() {
		return bus.ErrClosed
	}
	unlock, err := b.lockTopic(ctx, topic)
	if err != nil {
		return fmt.Errorf("rabbitmq: deleting group %q of topic %q: %w", group, topic, err)
	}
	defer unlock()
	for _, s := range b.subsOf(topic, group) {
		s.end(nil)
	}
	q := b.names.queue(topic, group)
	if err := b.deleteQueue(ctx, q); err != nil {
		return fmt.Errorf("rabbitmq: deleting group %q of topic %q: %w", group, topic, err)
	}
	if _, err := b.readRegistry(ctx, topic, map[string]bool{group: true}); err != nil {
		return fmt.Errorf("rabbitmq: deleting group %q of topic %q: updating the registry: %w", group, topic, err)
	}
	// A member that subscribed meanwhile may have made the queue again
	// after the registry lost its record: record it once more.
	exists, err := b.queueExists(ctx, q)
	if err == nil && exists {
		err = b.withChannel(ctx, func(ch *amqp.Channel) error { return b.register(ch, topic, group) })
	}
	if err != nil {
		return fmt.Errorf("rabbitmq: deleting group %q of topic %q: %w", group, topic, err)
	}
	return nil
}

// subsOf returns this bus's live subscriptions to topic (and group, unless
// it is "").
func (b *Bus) subsOf(topic, group string) []*subscription {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []*subscription
	for s := range b.subs {
		if s.topic == topic && (group == "" || s.group == group) {
			out = append(out, s)
		}
	}
	return out
}

func (b *Bus) deleteQueue(ctx context.Context, q string) error {
	err := b.withChannel(ctx, func(ch *amqp.Channel) error {
		_, err := ch.QueueDelete(q, false, false, false)
		return err
	})
	if amqpCode(err) == amqp.NotFound {
		return nil
	}
	return err
}

func (b *Bus) queueExists(ctx context.Context, q string) (bool, error) {
	err := b.withChannel(ctx, func(ch *amqp.Channel) error {
		_, err := ch.QueueDeclarePassive(q, true, false, false, false, nil)
		return err
	})
	switch {
	case err == nil:
		return true, nil
	case amqpCode(err) == amqp.NotFound:
		return false, nil
	}
	return false, err
}

func (b *Bus) exchangeExists(ctx context.Context, topic string) (bool, error) {
	err := b.withChannel(ctx, func(ch *amqp.Channel) error {
		return ch.ExchangeDeclarePassive(b.names.exchange(topic), amqp.ExchangeFanout, true, false, false, false, nil)
	})
	switch {
	case err == nil:
		return true, nil
	case amqpCode(err) == amqp.NotFound:
		return false, nil
	}
	return false, err
}

// Close waits for publishes in progress, ends every subscription with
// bus.ErrClosed and closes the connection; the broker requeues the
// deliveries not acknowledged.
func (b *Bus) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		<-b.conn.done
		return nil
	}
	b.closed = true
	close(b.closing)
	b.mu.Unlock()
	b.pubs.Wait()
	b.mu.Lock()
	subs := make([]*subscription, 0, len(b.subs))
	for s := range b.subs {
		subs = append(subs, s)
	}
	b.mu.Unlock()
	for _, s := range subs {
		s.end(bus.ErrClosed)
	}
	for _, s := range subs {
		<-s.done
	}
	b.conn.close()
	return nil
}

// amqpCode returns the AMQP reply code of err, or 0.
func amqpCode(err error) int {
	var e *amqp.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}

// do runs fn with the current connection, waiting for one, and runs it
// again on the next connection if the connection was lost meanwhile. It
// returns when fn does or ctx ends (then fn is left to finish alone).
func (b *Bus) do(ctx context.Context, fn func(conn *amqp.Connection) error) error {
	backoff := 10 * time.Millisecond
	for {
		conn, _, err := b.conn.get(ctx, b.closing)
		if err != nil {
			return err
		}
		errc := make(chan error, 1)
		go func() { errc <- fn(conn) }()
		select {
		case err = <-errc:
		case <-ctx.Done():
			return ctx.Err()
		}
		if err == nil || !lostConnection(conn, err) {
			return err
		}
		select {
		case <-time.After(backoff):
			backoff = min(2*backoff, time.Second)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// lostConnection tells whether err came from losing conn, so that the
// operation can be tried again on the next connection.
func lostConnection(conn *amqp.Connection, err error) bool {
	if conn.IsClosed() {
		return true
	}
	switch amqpCode(err) {
	case amqp.ConnectionForced, amqp.FrameError, amqp.InternalError:
		return true
	}
	return false
}

// withChannel runs fn on a fresh channel, closed afterwards; see do.
func (b *Bus) withChannel(ctx context.Context, fn func(ch *amqp.Channel) error) error {
	return b.do(ctx, func(conn *amqp.Connection) error {
		ch, err := conn.Channel()
		if err != nil {
			return err
		}
		defer ch.Close()
		return fn(ch)
	})
}

// attemptTracker remembers, per group and event, the attempt of the last
// delivery that this process nacked or let expire, so that the broker's
// redelivery gets the next attempt number. (Classic queues only flag a
// message as redelivered; quorum queues also count deliveries.) It is a
// hint, as bus.Delivery.Attempt allows: it forgets on Ack and when it grows
// past its cap.
type attemptTracker struct {
	mu sync.Mutex
	m  map[string]int
}

const maxTrackedAttempts = 1 << 16

func (t *attemptTracker) failed(key string, attempt int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.m) >= maxTrackedAttempts {
		clear(t.m)
	}
	t.m[key] = max(t.m[key], attempt)
}

func (t *attemptTracker) forget(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.m, key)
}

// attempt returns the attempt number of a delivery.
func (t *attemptTracker) attempt(key string, redelivered bool, deliveryCount int64) int {
	a := 1
	if redelivered {
		a = 2
	}
	if deliveryCount > 0 {
		a = max(a, int(min(deliveryCount, 1<<30))+1)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if n, ok := t.m[key]; ok && redelivered {
		a = max(a, n+1)
	}
	return a
}

// keyedMutex is a set of mutexes by name, taken with a context.
type keyedMutex struct {
	mu sync.Mutex
	m  map[string]chan struct{}
}

func (k *keyedMutex) lock(ctx context.Context, key string) error {
	for {
		k.mu.Lock()
		if k.m == nil {
			k.m = map[string]chan struct{}{}
		}
		held, ok := k.m[key]
		if !ok {
			k.m[key] = make(chan struct{})
			k.mu.Unlock()
			return nil
		}
		k.mu.Unlock()
		select {
		case <-held:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (k *keyedMutex) unlock(key string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	close(k.m[key])
	delete(k.m, key)
}
