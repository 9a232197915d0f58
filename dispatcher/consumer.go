package dispatcher

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/eddyplatform/eddy/bus"
)

// Consumer delivers one consumer group's events to one Subscriber. Create
// it with Dispatcher.Start. Its methods are safe for concurrent use.
//
// Each delivery from the bus is handled by its own goroutine, so a slow or
// retrying event never holds up the others; the bus caps how many are out
// at once (Subscriber.MaxInFlight) and, in ordered mode, holds back the next
// event of a partition key until the previous one is settled. Retries wait
// on timers while the bus delivery stays unsettled; its ack deadline is
// moved forward when the bus allows it (bus.DeadlineExtender). If the
// process dies meanwhile, the bus delivers the event again: delivery is at
// least once.
type Consumer struct {
	d      *Dispatcher
	sub    bus.Subscription
	topic  string
	group  string
	log    *slog.Logger
	m      *consumerMetrics
	target atomic.Pointer[target]

	// ctx is cancelled on a hard stop: attempts on the wire are abandoned.
	ctx    context.Context
	cancel context.CancelFunc
	// stopping is closed when the consumer stops taking deliveries; from
	// then on no retry or redelivery wait starts, deliveries that would
	// wait are nacked instead.
	stopping chan struct{}
	stopOnce sync.Once
	jobs     sync.WaitGroup
	done     chan struct{}
	err      error // why the subscription ended by itself; set before done closes

	updMu sync.Mutex // serialises Update
}

func newConsumer(ctx context.Context, d *Dispatcher, sub bus.Subscription, topic, group string, t *target) *Consumer {
	c := &Consumer{
		d:        d,
		sub:      sub,
		topic:    topic,
		group:    group,
		m:        d.m.forOwner(t.sub.Kind, t.sub.Namespace, t.sub.Name),
		stopping: make(chan struct{}),
		done:     make(chan struct{}),
	}
	c.log = d.cfg.Logger.With("kind", t.sub.Kind, "namespace", t.sub.Namespace, "name", t.sub.Name,
		"topic", topic, "group", group)
	c.target.Store(t)
	c.ctx, c.cancel = context.WithCancel(context.WithoutCancel(ctx))
	return c
}

// start runs the consumer; ctx is the Start context.
func (c *Consumer) start(ctx context.Context) {
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() { c.halt(true) })
		go func() {
			<-c.done
			stop()
		}()
	}
	go c.run()
}

// run takes deliveries from the bus until the consumer stops or the
// subscription ends, then waits for the deliveries in hand, closes the
// subscription and marks the consumer done.
func (c *Consumer) run() {
	ch := c.sub.Deliveries()
loop:
	for {
		select {
		case <-c.stopping:
			break loop
		case dl, ok := <-ch:
			if !ok {
				if err := c.sub.Err(); err != nil {
					c.err = fmt.Errorf("dispatcher: subscription to %s/%s ended: %w", c.topic, c.group, err)
					c.log.Warn("dispatcher: bus subscription ended", "err", err)
				}
				c.halt(false)
				break loop
			}
			c.jobs.Add(1)
			go c.handle(dl)
		}
	}
	c.jobs.Wait()
	// Deliveries the bus had queued for us but we never took go back to the
	// group here.
	if err := c.sub.Close(); err != nil {
		c.log.Warn("dispatcher: leaving the consumer group", "err", err)
	}
	c.cancel()
	c.d.m.release(c.m)
	c.d.forget(c)
	close(c.done)
}

// halt stops taking deliveries; hard also abandons attempts on the wire.
func (c *Consumer) halt(hard bool) {
	c.stopOnce.Do(func() { close(c.stopping) })
	if hard {
		c.cancel()
	}
}

// isStopping reports whether the consumer is stopping.
func (c *Consumer) isStopping() bool {
	select {
	case <-c.stopping:
		return true
	default:
		return false
	}
}

// Update swaps the consumer's destinations, policy and filter without
// stopping it: deliveries that start afterwards use s, and so does every
// later attempt and retry of the deliveries in flight (each goes to the new
// URL of its role: subscriber, reply or dead-letter sink; a role that s
// removes keeps its old URL for the events already in flight). Attempts on
// the wire are not interrupted and nothing in flight is lost. Kind,
// Namespace, Name, Ordered and MaxInFlight cannot change: Update returns an
// error wrapping ErrNotLive, and changes nothing, if s changes them.
func (c *Consumer) Update(s Subscriber) error {
	if err := s.Validate(); err != nil {
		return err
	}
	c.updMu.Lock()
	defer c.updMu.Unlock()
	old := c.target.Load()
	if f := sameFixed(&old.sub, &s); f != "" {
		return fmt.Errorf("%w: %s", ErrNotLive, f)
	}
	c.target.Store(newTarget(s, c.d.cfg.DefaultTimeout))
	return nil
}

// Subscriber returns a copy of the Subscriber the consumer currently uses.
func (c *Consumer) Subscriber() Subscriber { return c.target.Load().sub }

// Stop leaves the consumer group cleanly. It stops taking deliveries, lets
// the attempts on the wire finish (each settles: acknowledged if it
// succeeded, nacked if it would need a retry or a wait), hands the
// deliveries it never took back to the group, and returns once all are
// settled and the subscription is closed. If ctx ends first, the remaining
// attempts are cancelled and their deliveries nacked, and Stop returns
// ctx.Err() once that is done. Stop is idempotent; later calls wait the
// same way.
func (c *Consumer) Stop(ctx context.Context) error {
	c.halt(false)
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
	}
	c.halt(true)
	<-c.done
	return ctx.Err()
}

// Done returns a channel that is closed once the consumer has stopped and
// settled every delivery in hand: after Stop, after its Start context
// ended, or after the bus ended the subscription by itself (see Err).
func (c *Consumer) Done() <-chan struct{} { return c.done }

// Err returns why the consumer stopped by itself: nil while it runs and
// after Stop or the end of its Start context; an error wrapping the bus
// subscription's Err (bus.ErrClosed, bus.ErrTopicNotFound, ...) once Done
// is closed because the bus ended the subscription.
func (c *Consumer) Err() error {
	select {
	case <-c.done:
		return c.err
	default:
		return nil
	}
}
