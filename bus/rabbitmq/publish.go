package rabbitmq

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/cloudevents/sdk-go/v2/event"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/eddyplatform/eddy/bus"
)

// pubChan is one confirm-mode channel of the publisher pool.
type pubChan struct {
	conn *amqp.Connection
	ch   *amqp.Channel
	done chan struct{} // closed once the channel is closed; err is set then
	err  *amqp.Error   // why the broker or the connection closed it, if it did
}

func newPubChan(conn *amqp.Connection) (*pubChan, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, err
	}
	if err := ch.Confirm(false); err != nil {
		ch.Close()
		return nil, err
	}
	pc := &pubChan{conn: conn, ch: ch, done: make(chan struct{})}
	closed := ch.NotifyClose(make(chan *amqp.Error, 1))
	go func() {
		if e, ok := <-closed; ok {
			pc.err = e
		}
		close(pc.done)
	}()
	return pc, nil
}

// pubPool spreads publishes over Config.PublisherChannels channels of the
// current connection, replacing those that close.
type pubPool struct {
	mu    sync.Mutex
	gen   uint64
	chans []*pubChan
	next  atomic.Uint64
}

// pubChannel returns a live publisher channel, waiting for a connection
// until ctx ends or the bus closes.
func (b *Bus) pubChannel(ctx context.Context) (*pubChan, error) {
	for {
		conn, gen, err := b.conn.get(ctx, b.closing)
		if err != nil {
			return nil, err
		}
		n := b.cfg.PublisherChannels
		i := int(b.pool.next.Add(1) % uint64(n))
		b.pool.mu.Lock()
		if b.pool.gen != gen || len(b.pool.chans) != n {
			b.pool.chans = make([]*pubChan, n)
			b.pool.gen = gen
		}
		pc := b.pool.chans[i]
		if pc == nil || pc.ch.IsClosed() {
			pc, err = newPubChan(conn)
			if err != nil {
				b.pool.mu.Unlock()
				if lostConnection(conn, err) {
					continue
				}
				return nil, fmt.Errorf("rabbitmq: opening a publisher channel: %w", err)
			}
			b.pool.chans[i] = pc
		}
		b.pool.mu.Unlock()
		return pc, nil
	}
}

// Publish sends the events to the topic's exchange as persistent messages
// on a confirm-mode channel and returns once the broker has confirmed every
// one (for a durable queue, once it is written to disk). Events whose
// confirmation is lost with the connection are published again on the next
// connection, so a reconnect can duplicate but never drop an event; Publish
// waits for the reconnection until ctx ends. A negative confirmation
// (basic.nack) is an error.
func (b *Bus) Publish(ctx context.Context, topic string, events ...*event.Event) error {
	if err := bus.ValidateName("topic", topic); err != nil {
		return err
	}
	if b.isClosed() {
		return bus.ErrClosed
	}
	msgs := make([]amqp.Publishing, len(events))
	for i, ev := range events {
		var err error
		if msgs[i], err = encodeEvent(ev, b.cfg.MaxEventBytes); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return bus.ErrClosed
	}
	b.pubs.Add(1)
	b.mu.Unlock()
	defer b.pubs.Done()

	if err := b.checkTopic(ctx, topic); err != nil {
		return err
	}
	if len(msgs) == 0 {
		return nil
	}
	ex := b.names.exchange(topic)
	pending := msgs
	for {
		pc, err := b.pubChannel(ctx)
		if err != nil {
			return err
		}
		dcs := make([]*amqp.DeferredConfirmation, 0, len(pending))
		for i := range pending {
			dc, err := pc.ch.PublishWithDeferredConfirm(ex, "", false, false, pending[i])
			if err != nil {
				break // the channel closed: the rest go again
			}
			dcs = append(dcs, dc)
		}
		var retry []amqp.Publishing
		nacked := 0
		for i := range pending {
			if i >= len(dcs) {
				retry = append(retry, pending[i])
				continue
			}
			select {
			case <-dcs[i].Done():
			case <-ctx.Done():
				return ctx.Err()
			}
			switch {
			case dcs[i].Acked():
			case pc.ch.IsClosed(): // amqp091 fails pending confirmations on close
				retry = append(retry, pending[i])
			default:
				nacked++
			}
		}
		if nacked > 0 {
			return fmt.Errorf("rabbitmq: publish to topic %q: the broker refused (basic.nack) %d of %d events; publish them again", topic, nacked, len(msgs))
		}
		if len(retry) == 0 {
			return nil
		}
		select {
		case <-pc.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		switch {
		case amqpCode(pc.err) == amqp.NotFound:
			// The exchange was deleted, perhaps by another process.
			b.mu.Lock()
			delete(b.known, topic)
			b.mu.Unlock()
			if err := b.checkTopic(ctx, topic); err != nil {
				return err
			}
		case pc.err != nil && !lostConnection(pc.conn, pc.err):
			return fmt.Errorf("rabbitmq: publish to topic %q: the broker closed the channel: %w", topic, pc.err)
		}
		pending = retry
	}
}

// checkTopic returns bus.ErrTopicNotFound unless the topic's exchange
// exists.
func (b *Bus) checkTopic(ctx context.Context, topic string) error {
	b.mu.Lock()
	ok := b.known[topic]
	b.mu.Unlock()
	if ok {
		return nil
	}
	exists, err := b.exchangeExists(ctx, topic)
	if err != nil {
		return fmt.Errorf("rabbitmq: checking topic %q: %w", topic, err)
	}
	if !exists {
		return fmt.Errorf("%w: %q", bus.ErrTopicNotFound, topic)
	}
	b.mu.Lock()
	b.known[topic] = true
	b.mu.Unlock()
	return nil
}
