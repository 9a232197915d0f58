package rabbitmq

import (
	"context"
	"errors"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/eddyplatform/eddy/bus"
)

// A topic's groups are recorded in RabbitMQ itself, since AMQP cannot list
// queues or bindings: the durable queue <prefix><topic>/@groups holds one
// persistent message per group, its body the group name. Subscribe adds the
// record when it creates a group's queue; DeleteGroup removes it;
// DeleteTopic reads all records to delete every group queue. Reading takes
// the messages with basic.get and hands back those it keeps by closing the
// channel, so readers are serialised by a lock: an exclusive queue
// <prefix><topic>/@lock, which only one connection can hold and which the
// broker deletes if its holder dies.

// lockTopic takes the lock on topic's registry, waiting for another holder
// until ctx ends. The returned function releases it.
func (b *Bus) lockTopic(ctx context.Context, topic string) (func(), error) {
	if err := b.locks.lock(ctx, topic); err != nil {
		return nil, err
	}
	name := b.names.lock(topic)
	backoff := 20 * time.Millisecond
	for {
		conn, _, err := b.conn.get(ctx, b.closing)
		if err != nil {
			b.locks.unlock(topic)
			return nil, err
		}
		ch, err := conn.Channel()
		if err == nil {
			_, err = ch.QueueDeclare(name, false, false, true, false, nil)
			if err == nil {
				return func() {
					ch.QueueDelete(name, false, false, false)
					ch.Close()
					b.locks.unlock(topic)
				}, nil
			}
			ch.Close()
		}
		if amqpCode(err) != amqp.ResourceLocked && !lostConnection(conn, err) {
			b.locks.unlock(topic)
			return nil, err
		}
		select {
		case <-time.After(jitter(backoff)):
			backoff = min(2*backoff, 500*time.Millisecond)
		case <-ctx.Done():
			b.locks.unlock(topic)
			return nil, ctx.Err()
		}
	}
}

// readRegistry returns the groups recorded for topic, removing duplicate
// records, malformed ones and those of the groups in drop. A missing
// registry holds no groups. The caller holds the topic's lock.
func (b *Bus) readRegistry(ctx context.Context, topic string, drop map[string]bool) ([]string, error) {
	reg := b.names.registry(topic)
	type result struct{ groups []string }
	res := make(chan result, 1)
	err := b.withChannel(ctx, func(ch *amqp.Channel) error {
		var groups []string
		seen := map[string]bool{}
		for {
			d, ok, err := ch.Get(reg, false)
			if err != nil {
				return err
			}
			if !ok {
				res <- result{groups}
				return nil // closing the channel gives back the records kept
			}
			g := string(d.Body)
			if bus.ValidateName("group", g) != nil || drop[g] || seen[g] {
				if err := ch.Ack(d.DeliveryTag, false); err != nil {
					return err
				}
				continue
			}
			seen[g] = true
			groups = append(groups, g)
		}
	})
	if amqpCode(err) == amqp.NotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return (<-res).groups, nil
}

// ensureRegistry declares topic's registry unless it exists, of whatever
// queue type.
func (b *Bus) ensureRegistry(conn *amqp.Connection, topic string) error {
	reg := b.names.registry(topic)
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	_, err = ch.QueueDeclarePassive(reg, true, false, false, false, nil)
	ch.Close()
	if amqpCode(err) != amqp.NotFound {
		return err
	}
	ch, err = conn.Channel()
	if err != nil {
		return err
	}
	defer ch.Close()
	_, err = ch.QueueDeclare(reg, true, false, false, false, b.registryArgs())
	return err
}

// registryArgs are the arguments of a new registry queue.
func (b *Bus) registryArgs() amqp.Table {
	if b.cfg.QueueType == queueTypeQuorum {
		return amqp.Table{"x-queue-type": queueTypeQuorum}
	}
	return nil
}

// register records group in topic's registry, with a publisher confirm.
func (b *Bus) register(ch *amqp.Channel, topic, group string) error {
	if err := ch.Confirm(false); err != nil {
		return err
	}
	dc, err := ch.PublishWithDeferredConfirm("", b.names.registry(topic), false, false, amqp.Publishing{
		DeliveryMode: amqp.Persistent,
		ContentType:  "text/plain",
		Headers:      amqp.Table{"topic": topic, "group": group},
		Body:         []byte(group),
	})
	if err != nil {
		return err
	}
	if !dc.Wait() {
		if ch.IsClosed() {
			return amqp.ErrClosed
		}
		return errors.New("the broker refused the group's registry record")
	}
	return nil
}
