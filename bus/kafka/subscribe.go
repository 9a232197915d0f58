package kafka

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/IBM/sarama"

	"github.com/eddyplatform/eddy/bus"
)

// Subscribe joins the topic's group as a new member of its Kafka consumer
// group. A group that has no committed offsets yet is created first, by
// committing its start offsets (from opts.StartFrom), so it sees every
// event published after Subscribe returns even before the member has
// joined.
func (b *Bus) Subscribe(ctx context.Context, topic, group string, opts bus.SubscribeOptions) (bus.Subscription, error) {
	if err := bus.ValidateName("topic", topic); err != nil {
		return nil, err
	}
	if err := bus.ValidateName("group", group); err != nil {
		return nil, err
	}
	if b.isClosed() {
		return nil, errClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	switch opts.StartFrom.Kind {
	case bus.StartLatest, bus.StartEarliest, bus.StartTime:
	case bus.StartOffset:
		return nil, fmt.Errorf("kafka: a topic has several partitions and no offsets of its own, so a group cannot start at an offset: %w", bus.ErrUnsupported)
	default:
		return nil, fmt.Errorf("kafka: %w: unknown start position %v", bus.ErrUnsupported, opts.StartFrom)
	}
	kt, gid := b.kafkaTopic(topic), b.groupID(topic, group)
	parts, err := b.partitions(ctx, kt)
	if err != nil {
		return nil, err
	}
	if parts == nil {
		return nil, topicNotFound(topic)
	}
	if err := b.checkGroup(ctx, gid, opts.Ordered); err != nil {
		return nil, err
	}
	b.groupMu.Lock()
	err = b.ensureGroup(ctx, kt, gid, parts, opts.StartFrom)
	b.groupMu.Unlock()
	if err != nil {
		return nil, err
	}
	m, err := b.newMember(ctx, topic, group, opts)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		m.cancel()
		m.cg.Close()
		m.client.Close()
		return nil, errClosed
	}
	if err := b.localMismatch(gid, opts.Ordered); err != nil {
		b.mu.Unlock()
		m.cancel()
		m.cg.Close()
		m.client.Close()
		return nil, err
	}
	b.members[m] = struct{}{}
	b.mu.Unlock()
	go m.dispatch()
	go m.run()
	return m, nil
}

// partitions returns the partitions of a Kafka topic; nil if it does not
// exist.
func (b *Bus) partitions(ctx context.Context, kt string) ([]int32, error) {
	var md []*sarama.TopicMetadata
	err := do(ctx, func() (err error) {
		md, err = b.admin.DescribeTopics([]string{kt})
		return err
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("kafka: describing topic %s: %w", kt, err)
	}
	for _, t := range md {
		if t.Name != kt {
			continue
		}
		switch {
		case errors.Is(t.Err, sarama.ErrNoError):
			parts := make([]int32, 0, len(t.Partitions))
			for _, p := range t.Partitions {
				parts = append(parts, p.ID)
			}
			if len(parts) > 0 {
				b.mu.Lock()
				b.known[kt] = true
				b.mu.Unlock()
				return parts, nil
			}
		case errors.Is(t.Err, sarama.ErrUnknownTopicOrPartition):
		default:
			return nil, fmt.Errorf("kafka: describing topic %s: %w", kt, t.Err)
		}
	}
	b.mu.Lock()
	delete(b.known, kt)
	b.mu.Unlock()
	return nil, nil
}

// localMismatch refuses a member whose Ordered differs from the group's
// live members in this process. Called with b.mu held.
func (b *Bus) localMismatch(gid string, ordered bool) error {
	for m := range b.members {
		if m.gid == gid && m.ordered != ordered && !m.isEnding() {
			return fmt.Errorf("%w: group %q has live members with Ordered %t", bus.ErrGroupMismatch, gid, m.ordered)
		}
	}
	return nil
}

// checkGroup refuses a member whose Ordered differs from the group's live
// members, here or (as far as the coordinator tells) elsewhere.
func (b *Bus) checkGroup(ctx context.Context, gid string, ordered bool) error {
	b.mu.Lock()
	err := b.localMismatch(gid, ordered)
	b.mu.Unlock()
	if err != nil {
		return err
	}
	var gds []*sarama.GroupDescription
	if err := do(ctx, func() (err error) { gds, err = b.admin.DescribeConsumerGroups([]string{gid}); return err }); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		b.log.Debug("cannot describe consumer group", "group", gid, "err", err)
		return nil
	}
	for _, gd := range gds {
		if p := describeProtocol(gd); gd.GroupId == gid && p != "" && p != strategyName(ordered) {
			return fmt.Errorf("%w: group %q has live members with Ordered %t", bus.ErrGroupMismatch, gid, !ordered)
		}
	}
	return nil
}

// ensureGroup creates the group at pos unless it has committed offsets.
func (b *Bus) ensureGroup(ctx context.Context, kt, gid string, parts []int32, pos bus.Position) error {
	var resp *sarama.OffsetFetchResponse
	err := do(ctx, func() (err error) {
		resp, err = b.admin.ListConsumerGroupOffsets(gid, map[string][]int32{kt: parts})
		return err
	})
	switch {
	case errors.Is(err, sarama.ErrGroupIDNotFound):
		resp = nil // a new group
	case err != nil:
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("kafka: reading the offsets of consumer group %s: %w", gid, err)
	}
	for _, p := range parts {
		if resp == nil {
			break
		}
		if blk := resp.GetBlock(kt, p); blk != nil && errors.Is(blk.Err, sarama.ErrNoError) && blk.Offset >= 0 {
			return nil // the group exists: StartFrom does not apply
		}
	}
	offsets, err := b.startOffsets(ctx, kt, parts, pos)
	if err != nil {
		return err
	}
	return b.commitStart(ctx, gid, kt, offsets)
}

// startOffsets resolves pos into an offset per partition.
func (b *Bus) startOffsets(ctx context.Context, kt string, parts []int32, pos bus.Position) (map[int32]int64, error) {
	offsets := make(map[int32]int64, len(parts))
	err := do(ctx, func() error {
		for _, p := range parts {
			newest, err := b.client.GetOffset(kt, p, sarama.OffsetNewest)
			if err != nil {
				return err
			}
			var o int64
			switch pos.Kind {
			case bus.StartLatest:
				o = newest
			case bus.StartEarliest:
				if o, err = b.client.GetOffset(kt, p, sarama.OffsetOldest); err != nil {
					return err
				}
			case bus.StartTime:
				if o, err = b.client.GetOffset(kt, p, max(pos.Time.UnixMilli(), 0)); err != nil {
					return err
				}
				if o < 0 { // nothing stored at or after the time yet
					o = newest
				}
			}
			offsets[p] = o
		}
		return nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("kafka: resolving start position %v of %s: %w", pos, kt, err)
	}
	return offsets, nil
}

// commitStart commits a new group's start offsets, as a commit outside any
// generation, which the coordinator takes only while the group has no
// members. A group whose members joined meanwhile exists: that is fine.
func (b *Bus) commitStart(ctx context.Context, gid, kt string, offsets map[int32]int64) error {
	return do(ctx, func() error {
		var last error
		for attempt := 0; attempt < 10; attempt++ {
			if attempt > 0 {
				_ = b.client.RefreshCoordinator(gid)
				time.Sleep(100 * time.Millisecond)
			}
			coord, err := b.client.Coordinator(gid)
			if err != nil {
				last = err
				continue
			}
			req := sarama.NewOffsetCommitRequest(b.client.Config(), gid)
			for p, o := range offsets {
				req.AddBlock(kt, p, o, -1, "")
			}
			resp, err := coord.CommitOffset(req)
			if err != nil {
				last = err
				continue
			}
			last = nil
			for _, kerr := range resp.Errors[kt] {
				switch {
				case errors.Is(kerr, sarama.ErrNoError):
				case errors.Is(kerr, sarama.ErrUnknownMemberId), errors.Is(kerr, sarama.ErrIllegalGeneration),
					errors.Is(kerr, sarama.ErrRebalanceInProgress):
					return nil // the group has members: it exists
				case errors.Is(kerr, sarama.ErrNotCoordinatorForConsumer), errors.Is(kerr, sarama.ErrConsumerCoordinatorNotAvailable),
					errors.Is(kerr, sarama.ErrOffsetsLoadInProgress), errors.Is(kerr, sarama.ErrRequestTimedOut):
					last = kerr
				default:
					return fmt.Errorf("kafka: committing the start offsets of consumer group %s: %w", gid, kerr)
				}
			}
			if last == nil {
				return nil
			}
		}
		return fmt.Errorf("kafka: committing the start offsets of consumer group %s: %w", gid, last)
	})
}
