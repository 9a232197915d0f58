package nats

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/eddyplatform/eddy/bus"
)

// maxStreamRefresh bounds how often one Publish looks the stream up again
// because no stream answered for a subject.
const maxStreamRefresh = 3

// Publish implements bus.Bus. It encodes every event first (so that an
// invalid or oversized event publishes nothing), sends them all with
// JetStream asynchronous publishes and returns nil once the server has
// acknowledged each. Events whose acknowledgement does not come — the
// connection dropped, or no answer within 10s — are sent again, with the
// same Nats-Msg-Id so that the stream drops a copy it already stored, after
// waiting for the connection to come back; Publish keeps trying until ctx
// ends.
func (b *Bus) Publish(ctx context.Context, topic string, events ...*event.Event) error {
	if err := bus.ValidateName("topic", topic); err != nil {
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
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(events) == 0 {
		return nil
	}
	msgs := make([]*natsgo.Msg, len(events))
	hashes := make([]uint32, len(events))
	idBase := nuid.Next()
	for i, e := range events {
		if e == nil {
			return fmt.Errorf("%w: event %d is nil", bus.ErrInvalidEvent, i)
		}
		if err := e.Validate(); err != nil {
			return fmt.Errorf("%w: event %d (id %q): %v", bus.ErrInvalidEvent, i, e.ID(), err)
		}
		h, data, size, err := encodeEvent(e)
		if err != nil {
			return fmt.Errorf("%w: event %d (id %q): %v", bus.ErrInvalidEvent, i, e.ID(), err)
		}
		if size > b.features.MaxEventBytes {
			return fmt.Errorf("%w: event %d (id %q) is %d bytes encoded, above %d",
				bus.ErrEventTooLarge, i, e.ID(), size, b.features.MaxEventBytes)
		}
		h[msgIDHeader] = []string{idBase + "-" + strconv.Itoa(i)}
		msgs[i] = &natsgo.Msg{Header: h, Data: data}
		key := bus.PartitionKey(e)
		if key == "" {
			key = e.ID() // no order asked for: spread by id
		}
		hashes[i] = hashKey(key)
	}
	ti, err := b.lookupTopic(ctx, topic, false)
	if err != nil {
		return err
	}
	address := func(ti topicInfo) {
		for i, m := range msgs {
			m.Subject = b.names.subject(topic, partitionOf(hashes[i], ti.partitions))
			m.Header[expectedStreamHeader] = []string{ti.stream}
		}
	}
	address(ti)

	pending := make([]int, len(msgs))
	for i := range pending {
		pending[i] = i
	}
	refreshes, idle := 0, 0
	for len(pending) > 0 {
		if err := b.waitConnected(ctx); err != nil {
			return err
		}
		left, noStream, err := b.publishAttempt(ctx, msgs, pending)
		if err != nil {
			return err
		}
		if noStream {
			refreshes++
			ti2, err := b.lookupTopic(ctx, topic, true)
			if err != nil {
				return err
			}
			if refreshes > maxStreamRefresh {
				return fmt.Errorf("nats: publishing to topic %q: no stream answers for its subjects", topic)
			}
			if ti2 != ti {
				ti = ti2
				address(ti)
			}
		}
		if len(left) == len(pending) {
			// No progress: back off before trying again.
			idle++
			if err := b.sleep(ctx, min(time.Duration(idle)*50*time.Millisecond, time.Second)); err != nil {
				return err
			}
		} else {
			idle = 0
		}
		pending = left
	}
	return nil
}

// publishAttempt sends msgs[pending...] and waits for their
// acknowledgements. It returns the indices to send again, in order, and
// whether no stream answered for some of them; err is a failure that
// sending again would not cure.
func (b *Bus) publishAttempt(ctx context.Context, msgs []*natsgo.Msg, pending []int) (left []int, noStream bool, err error) {
	type sent struct {
		i int
		f jetstream.PubAckFuture
	}
	out := make([]sent, 0, len(pending))
	for k, i := range pending {
		f, err := b.js.PublishMsgAsync(msgs[i])
		if err != nil {
			if errors.Is(err, natsgo.ErrConnectionClosed) {
				return nil, false, bus.ErrClosed
			}
			if !retryable(err) {
				return nil, false, fmt.Errorf("nats: publishing: %w", err)
			}
			// Keep the order: this one and the rest go next time.
			left = append(left, pending[k:]...)
			break
		}
		out = append(out, sent{i, f})
	}
	var failed []int
	for _, s := range out {
		select {
		case <-s.f.Ok():
		case err := <-s.f.Err():
			var apiErr *jetstream.APIError
			switch {
			case errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, natsgo.ErrNoResponders):
				noStream = true
				failed = append(failed, s.i)
			case errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamMessageExceedsMaximum:
				return nil, false, fmt.Errorf("%w: %v", bus.ErrEventTooLarge, err)
			case errors.As(err, &apiErr):
				return nil, false, fmt.Errorf("nats: publishing: %w", err)
			case errors.Is(err, natsgo.ErrConnectionClosed):
				return nil, false, bus.ErrClosed
			default: // disconnected, timed out: send again
				failed = append(failed, s.i)
			}
		case <-ctx.Done():
			return nil, false, ctx.Err()
		case <-b.abort:
			return nil, false, bus.ErrClosed
		}
	}
	// failed precede left in publish order.
	return append(failed, left...), noStream, nil
}

// retryable reports whether a publish that failed to be sent can be sent
// again later.
func retryable(err error) bool {
	return errors.Is(err, jetstream.ErrTooManyStalledMsgs) || errors.Is(err, natsgo.ErrReconnectBufExceeded) ||
		errors.Is(err, natsgo.ErrDisconnected) || errors.Is(err, natsgo.ErrConnectionReconnecting) ||
		errors.Is(err, natsgo.ErrConnectionDraining)
}

// sleep waits d unless ctx ends or the bus gives up.
func (b *Bus) sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-b.abort:
		return bus.ErrClosed
	}
}

// hashKey hashes a partition key (FNV-1a, 32 bits).
func hashKey(key string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(key))
	return h.Sum32()
}

// partitionOf maps a key hash onto one of n partitions.
func partitionOf(hash uint32, n int) int { return int(hash % uint32(n)) }
