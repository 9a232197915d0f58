package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eddyplatform/eddy/bus"
)

// producer is one idempotent sarama producer. The bus replaces its
// producer when the producer's sequence numbers no longer fit a partition
// (after a topic was deleted and created again).
type producer struct {
	p       sarama.AsyncProducer
	users   sync.WaitGroup // publishes using it
	results chan struct{}  // closed when its results are drained
}

// pubBatch collects the producer's answers for the messages of one
// Publish call.
type pubBatch struct {
	mu     sync.Mutex
	left   int
	err    error
	failed []*sarama.ProducerMessage
	done   chan struct{}
}

func (p *pubBatch) finish(m *sarama.ProducerMessage, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		if p.err == nil || !sequenceError(err) {
			p.err = err
		}
		p.failed = append(p.failed, m)
	}
	p.left--
	if p.left == 0 {
		close(p.done)
	}
}

// sequenceError reports whether err says the producer's idempotence
// state does not fit the partition, which a new producer fixes.
func sequenceError(err error) bool {
	return errors.Is(err, sarama.ErrOutOfOrderSequenceNumber) || errors.Is(err, sarama.ErrUnknownProducerID) ||
		errors.Is(err, sarama.ErrInvalidProducerEpoch)
}

// newProducer starts a producer on the bus's client.
func (b *Bus) newProducer() (*producer, error) {
	ap, err := sarama.NewAsyncProducerFromClient(b.client)
	if err != nil {
		return nil, fmt.Errorf("kafka: producer: %w", err)
	}
	p := &producer{p: ap, results: make(chan struct{})}
	go p.collectResults(b.log)
	return p, nil
}

// collectResults hands the producer's acknowledgements and errors to the
// publishes waiting for them, until the producer is closed.
func (p *producer) collectResults(log *slog.Logger) {
	defer close(p.results)
	succ, errs := p.p.Successes(), p.p.Errors()
	for succ != nil || errs != nil {
		select {
		case m, ok := <-succ:
			if !ok {
				succ = nil
				continue
			}
			if pb, ok := m.Metadata.(*pubBatch); ok {
				pb.finish(m, nil)
			}
		case pe, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			err := pe.Err
			if err == nil {
				err = errors.New("unknown producer error")
			}
			if pe.Msg != nil {
				if pb, ok := pe.Msg.Metadata.(*pubBatch); ok {
					pb.finish(pe.Msg, err)
					continue
				}
			}
			log.Warn("producer error for an unknown message", "err", err)
		}
	}
}

// close closes the producer once its publishes are done.
func (p *producer) close() {
	p.users.Wait()
	p.p.AsyncClose()
	<-p.results
}

// acquire returns the current producer, counted as used until release.
func (b *Bus) acquire() (*producer, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, errClosed
	}
	b.publishing.Add(1)
	b.prod.users.Add(1)
	return b.prod, nil
}

func (b *Bus) releaseProducer(p *producer) {
	p.users.Done()
	b.publishing.Done()
}

// renew replaces old, if it is still the current producer, with a new one
// (with a new producer id, so its sequence numbers start afresh).
func (b *Bus) renew(old *producer) {
	b.renewMu.Lock()
	defer b.renewMu.Unlock()
	b.mu.Lock()
	current := b.prod == old && !b.closed
	b.mu.Unlock()
	if !current {
		return
	}
	p, err := b.newProducer()
	if err != nil {
		b.log.Warn("cannot start a new producer; keeping the old one", "err", err)
		return
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		p.close()
		return
	}
	b.prod = p
	b.retiring.Add(1)
	b.mu.Unlock()
	go func() {
		defer b.retiring.Done()
		old.close()
	}()
}

// Publish appends events to the topic's Kafka topic and returns once every
// one of them is acknowledged by all in-sync replicas. Events are written
// in the Kafka binding's binary mode, keyed by their partition key, so
// events of one key keep their order in one partition.
func (b *Bus) Publish(ctx context.Context, topic string, events ...*event.Event) error {
	if err := bus.ValidateName("topic", topic); err != nil {
		return err
	}
	if len(events) == 0 {
		if b.isClosed() {
			return errClosed
		}
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	kt := b.kafkaTopic(topic)
	now := time.Now()
	msgs := make([]*sarama.ProducerMessage, len(events))
	for i, e := range events {
		if e == nil {
			return fmt.Errorf("%w: event %d is nil", bus.ErrInvalidEvent, i)
		}
		if err := e.Validate(); err != nil {
			return fmt.Errorf("%w: event %q: %v", bus.ErrInvalidEvent, e.ID(), err)
		}
		pm, size, err := encodeEvent(ctx, kt, e)
		if err != nil {
			return err
		}
		if size > b.cfg.MaxEventBytes {
			return fmt.Errorf("%w: event %q is %d bytes as a Kafka record, above %d", bus.ErrEventTooLarge, e.ID(), size, b.cfg.MaxEventBytes)
		}
		pm.Timestamp = now
		msgs[i] = pm
	}
	prod, err := b.acquire()
	if err != nil {
		return err
	}
	ok, err := b.exists(ctx, kt)
	if err != nil {
		b.releaseProducer(prod)
		return err
	}
	if !ok {
		b.releaseProducer(prod)
		return topicNotFound(topic)
	}
	pb, err := produce(ctx, prod, msgs)
	b.releaseProducer(prod)
	if err != nil {
		return err
	}
	if pb.err != nil && sequenceError(pb.err) {
		// The topic was deleted and created again since this producer
		// wrote to it: a new producer starts its sequences afresh.
		b.log.Info("renewing the producer after a sequence error", "topic", topic, "err", pb.err)
		b.renew(prod)
		if prod, err = b.acquire(); err != nil {
			return err
		}
		again := make([]*sarama.ProducerMessage, len(pb.failed))
		for i, m := range pb.failed {
			again[i] = &sarama.ProducerMessage{Topic: m.Topic, Key: m.Key, Value: m.Value, Headers: m.Headers, Timestamp: m.Timestamp}
		}
		pb, err = produce(ctx, prod, again)
		b.releaseProducer(prod)
		if err != nil {
			return err
		}
	}
	if pb.err == nil {
		return nil
	}
	return b.publishError(ctx, topic, kt, pb.err)
}

// produce hands msgs to the producer and waits for their answers.
func produce(ctx context.Context, prod *producer, msgs []*sarama.ProducerMessage) (*pubBatch, error) {
	pb := &pubBatch{left: len(msgs), done: make(chan struct{})}
	for _, pm := range msgs {
		pm.Metadata = pb
		select {
		case prod.p.Input() <- pm:
		case <-ctx.Done():
			// The messages already handed over are still published; the
			// batch is not atomic.
			return nil, ctx.Err()
		}
	}
	select {
	case <-pb.done:
		return pb, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// publishError maps a producer error onto the bus's errors.
func (b *Bus) publishError(ctx context.Context, topic, kt string, err error) error {
	switch {
	case errors.Is(err, sarama.ErrMessageSizeTooLarge), errors.Is(err, sarama.ErrMessageTooLarge):
		return fmt.Errorf("%w: %v", bus.ErrEventTooLarge, err)
	case errors.Is(err, sarama.ErrUnknownTopicOrPartition):
		if ok, derr := b.describe(ctx, kt, false); derr == nil && !ok {
			return topicNotFound(topic)
		}
	}
	return fmt.Errorf("kafka: publishing to %s: %w", kt, err)
}
