package pubsub

import (
	"context"
	"fmt"
	"sync"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// settleTimeout bounds an Acknowledge or ModifyAckDeadline call; they are sent even when
// Run's context has ended, so that a message whose event went out is not sent again.
const settleTimeout = 10 * time.Second

// ensureSubscription creates the adapter's own subscription if it does not exist, or checks
// the given one, retrying passing errors.
func (r *runner) ensureSubscription(ctx context.Context) error {
	var bo backoff
	for {
		err := r.trySubscription(ctx)
		if err == nil || ctx.Err() != nil {
			return err
		}
		if fatal(err) {
			return err
		}
		r.a.log.Warn("pubsub: cannot reach the subscription yet; retrying", "subscription", r.sub, "err", err)
		if !bo.wait(ctx) {
			return ctx.Err()
		}
	}
}

func (r *runner) trySubscription(ctx context.Context) error {
	cfg := r.a.cfg
	if cfg.SubscriptionID == "" {
		want := &pb.Subscription{
			Name:                r.sub,
			Topic:               r.topic,
			AckDeadlineSeconds:  int32(cfg.AckDeadline / time.Second),
			RetainAckedMessages: cfg.RetainAckedMessages,
			Labels:              map[string]string{"managed-by": "eddy", "source-kind": "cloudpubsubsource"},
		}
		if cfg.RetentionDuration > 0 {
			want.MessageRetentionDuration = durationpb.New(cfg.RetentionDuration)
		}
		_, err := r.client.CreateSubscription(ctx, want)
		switch {
		case err == nil:
			r.a.log.Info("pubsub: created the subscription", "subscription", r.sub, "topic", r.topic)
			return nil
		case status.Code(err) == codes.NotFound:
			return fmt.Errorf("pubsub: topic %s: %w", r.topic, err)
		case status.Code(err) != codes.AlreadyExists:
			return fmt.Errorf("pubsub: create subscription %s: %w", r.sub, err)
		}
	}
	got, err := r.client.GetSubscription(ctx, &pb.GetSubscriptionRequest{Subscription: r.sub})
	if err != nil {
		return fmt.Errorf("pubsub: subscription %s: %w", r.sub, err)
	}
	if got.GetTopic() != r.topic {
		return status.Errorf(codes.FailedPrecondition, "pubsub: subscription %s reads topic %q, not %s", r.sub, got.GetTopic(), r.topic)
	}
	return nil
}

// pullTimeout bounds one Pull call.
const pullTimeout = time.Minute

// run is the pull loop. Each pulled batch is split by ordering key: messages without a key
// are sent concurrently, those sharing a key one after the other, in order.
//
// When ctx ends the loop stops pulling first and only then cancels the sends in progress,
// whose messages are nacked. Against an emulator a Pull in progress is let finish (it returns
// at once) rather than cancelled: a cancelled Pull the server has already answered would hold
// its messages until their ack deadline passes. Messages it brings are nacked unsent.
func (r *runner) run(ctx context.Context) error {
	cfg := r.a.cfg
	var wg sync.WaitGroup
	sendCtx, cancelSends := context.WithCancel(context.WithoutCancel(ctx))
	leaseCtx, stopLease := context.WithCancel(context.WithoutCancel(ctx))
	leaseDone := make(chan struct{})
	go func() {
		defer close(leaseDone)
		r.leaseLoop(leaseCtx)
	}()
	defer func() {
		cancelSends()
		wg.Wait()
		stopLease()
		<-leaseDone
	}()
	pullCtx := ctx
	if r.a.emulator {
		pullCtx = context.WithoutCancel(ctx)
	}

	var bo backoff
	for {
		n := r.room(ctx)
		if n == 0 {
			return nil // ctx ended
		}
		callCtx, cancel := context.WithTimeout(pullCtx, pullTimeout)
		resp, err := r.client.Pull(callCtx, &pb.PullRequest{
			Subscription:      r.sub,
			MaxMessages:       int32(min(n, 1000)),
			ReturnImmediately: r.a.emulator, //nolint:staticcheck // emulators answer a waiting Pull only after a fixed delay
		})
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if fatal(err) {
				return fmt.Errorf("pubsub: pull from %s: %w", r.sub, err)
			}
			r.a.log.Warn("pubsub: pull failed; retrying", "subscription", r.sub, "err", err)
			if !bo.wait(ctx) {
				return nil
			}
			continue
		}
		bo = backoff{}
		msgs := resp.GetReceivedMessages()
		if len(msgs) == 0 {
			if ctx.Err() != nil || r.a.emulator && !sleep(ctx, cfg.PollInterval) {
				return nil
			}
			continue
		}
		r.m.Received.Add(float64(len(msgs)))
		r.hold(msgs)
		var order []string
		chains := map[string][]*pb.ReceivedMessage{}
		for _, rm := range msgs {
			k := rm.GetMessage().GetOrderingKey()
			if k == "" {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r.chain(ctx, sendCtx, []*pb.ReceivedMessage{rm})
				}()
				continue
			}
			if _, ok := chains[k]; !ok {
				order = append(order, k)
			}
			chains[k] = append(chains[k], rm)
		}
		for _, k := range order {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r.chain(ctx, sendCtx, chains[k])
			}()
		}
	}
}

// sleep waits d or until ctx ends; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// chain sends the events of msgs in order, with sendCtx. When one is not accepted, it and the
// ones after it are nacked unsent, so Pub/Sub delivers them again in order. Once ctx (Run's)
// has ended, nothing more is sent.
func (r *runner) chain(ctx, sendCtx context.Context, msgs []*pb.ReceivedMessage) {
	for i, rm := range msgs {
		if !r.deliver(ctx, sendCtx, rm) {
			var ids []string
			for _, rest := range msgs[i:] {
				ids = append(ids, rest.GetAckId())
			}
			r.settle(ctx, ids, false)
			return
		}
		r.settle(ctx, []string{rm.GetAckId()}, true)
	}
}

// deliver sends the event of one message and reports whether the sink took it. A message
// that cannot become an event (it has no id, which Pub/Sub always gives) is reported as taken,
// so it is acknowledged and dropped rather than redelivered forever.
func (r *runner) deliver(ctx, sendCtx context.Context, rm *pb.ReceivedMessage) bool {
	ev, err := toEvent(rm, r.topic, r.sub)
	if err != nil {
		r.m.Failed.Inc()
		r.a.log.Error("pubsub: dropping a message that is not an event", "err", err)
		return true
	}
	if ctx.Err() != nil {
		return false
	}
	if err := r.a.cfg.Sender.Send(sendCtx, ev); err != nil {
		r.m.Failed.Inc()
		if sendCtx.Err() == nil {
			r.a.log.Warn("pubsub: sending failed; the message will come again", "id", ev.ID(), "err", err)
		}
		return false
	}
	r.m.Sent.Inc()
	return true
}

// settle acknowledges (ack) or nacks the messages with ackIDs and frees their room.
func (r *runner) settle(ctx context.Context, ackIDs []string, ack bool) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	var err error
	if ack {
		err = r.client.Acknowledge(sctx, &pb.AcknowledgeRequest{Subscription: r.sub, AckIds: ackIDs})
	} else {
		err = r.client.ModifyAckDeadline(sctx, &pb.ModifyAckDeadlineRequest{Subscription: r.sub, AckIds: ackIDs, AckDeadlineSeconds: 0})
	}
	if err != nil {
		// Unacknowledged, the message comes again once its deadline passes: at least once.
		r.a.log.Warn("pubsub: settling failed", "ack", ack, "messages", len(ackIDs), "err", err)
	}
	r.mu.Lock()
	for _, id := range ackIDs {
		delete(r.leased, id)
	}
	r.inFlight -= len(ackIDs)
	r.mu.Unlock()
	select {
	case r.freed <- struct{}{}:
	default:
	}
}

// room waits until fewer than MaxInFlight messages are held and returns how many more may be
// pulled, or 0 once ctx ends.
func (r *runner) room(ctx context.Context) int {
	for {
		r.mu.Lock()
		n := r.a.cfg.MaxInFlight - r.inFlight
		r.mu.Unlock()
		if n > 0 {
			return n
		}
		select {
		case <-r.freed:
		case <-ctx.Done():
			return 0
		}
	}
}

// hold counts pulled messages as held and leased.
func (r *runner) hold(msgs []*pb.ReceivedMessage) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.inFlight += len(msgs)
	for _, rm := range msgs {
		r.leased[rm.GetAckId()] = struct{}{}
	}
}

// leaseLoop keeps extending the ack deadline of the messages held, a third of the deadline
// before it passes, so that Pub/Sub does not deliver them again while the sink is slow.
func (r *runner) leaseLoop(ctx context.Context) {
	deadline := r.a.cfg.AckDeadline
	t := time.NewTicker(deadline / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		r.mu.Lock()
		ids := make([]string, 0, len(r.leased))
		for id := range r.leased {
			ids = append(ids, id)
		}
		r.mu.Unlock()
		for len(ids) > 0 {
			n := min(len(ids), 1000)
			err := r.client.ModifyAckDeadline(ctx, &pb.ModifyAckDeadlineRequest{
				Subscription: r.sub, AckIds: ids[:n], AckDeadlineSeconds: int32(deadline / time.Second),
			})
			if err != nil && ctx.Err() == nil {
				r.a.log.Warn("pubsub: extending ack deadlines failed", "messages", n, "err", err)
			}
			ids = ids[n:]
		}
	}
}
