package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/IBM/sarama"

	"github.com/eddyplatform/eddy/bus"
)

// Bus is an event bus on Apache Kafka. It implements bus.Bus and
// bus.GroupDeleter; see the package documentation for the mapping.
type Bus struct {
	cfg      Config
	log      *slog.Logger
	features bus.Features

	client sarama.Client // shared by the producer and the admin
	admin  sarama.ClusterAdmin

	mu      sync.Mutex
	closed  bool
	known   map[string]bool // Kafka topics known to exist
	members map[*member]struct{}

	prod       *producer
	renewMu    sync.Mutex     // serialises renewing the producer
	retiring   sync.WaitGroup // replaced producers closing
	groupMu    sync.Mutex     // serialises creating groups
	publishing sync.WaitGroup
	closeOnce  sync.Once
	closeErr   error
}

var (
	_ bus.Bus          = (*Bus)(nil)
	_ bus.GroupDeleter = (*Bus)(nil)
)

// New connects to the brokers and returns a Bus. ctx bounds connecting.
func New(ctx context.Context, cfg Config) (*Bus, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	b := &Bus{
		cfg: cfg,
		log: cfg.Logger.With("bus", "kafka"),
		features: bus.Features{
			Durable:       true,
			OrderedByKey:  true,
			Replay:        true,
			Offsets:       false, // a topic is several partitions; see the package documentation
			AckDeadline:   true,
			MaxEventBytes: cfg.MaxEventBytes,
		},
		known:   map[string]bool{},
		members: map[*member]struct{}{},
	}
	client, err := dial(ctx, cfg.Brokers, cfg.producerConfig())
	if err != nil {
		return nil, err
	}
	b.client = client
	if b.admin, err = sarama.NewClusterAdminFromClient(client); err != nil {
		client.Close()
		return nil, fmt.Errorf("kafka: admin client: %w", err)
	}
	if b.prod, err = b.newProducer(); err != nil {
		client.Close()
		return nil, err
	}
	return b, nil
}

// dial connects a client, giving up when ctx ends.
func dial(ctx context.Context, brokers []string, sc *sarama.Config) (sarama.Client, error) {
	type result struct {
		c   sarama.Client
		err error
	}
	ch := make(chan result, 1)
	go func() {
		c, err := sarama.NewClient(brokers, sc)
		ch <- result{c, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, fmt.Errorf("kafka: connecting to %s: %w", strings.Join(brokers, ","), r.err)
		}
		return r.c, nil
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.c != nil {
				r.c.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

// Features reports what the bus can do.
func (b *Bus) Features() bus.Features { return b.features }

// kafkaTopic maps a bus topic name onto its Kafka topic.
func (b *Bus) kafkaTopic(topic string) string { return b.cfg.TopicPrefix + topic }

// groupID maps a bus group of a topic onto its Kafka consumer group id.
func (b *Bus) groupID(topic, group string) string { return b.kafkaTopic(topic) + "/" + group }

func (b *Bus) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

var errClosed = fmt.Errorf("kafka: %w", bus.ErrClosed)

// do runs fn, an admin call that knows no context, and returns early with
// ctx.Err() if ctx ends first (fn then finishes in the background).
func do(ctx context.Context, fn func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ch := make(chan error, 1)
	go func() { ch <- fn() }()
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// EnsureTopic creates the topic's Kafka topic if it does not exist, with
// Config.Partitions and Config.ReplicationFactor.
func (b *Bus) EnsureTopic(ctx context.Context, topic string) error {
	if err := bus.ValidateName("topic", topic); err != nil {
		return err
	}
	if b.isClosed() {
		return errClosed
	}
	kt := b.kafkaTopic(topic)
	for {
		err := do(ctx, func() error {
			return b.admin.CreateTopic(kt, &sarama.TopicDetail{
				NumPartitions:     b.cfg.Partitions,
				ReplicationFactor: b.cfg.ReplicationFactor,
			}, false)
		})
		switch {
		case err == nil, errors.Is(err, sarama.ErrTopicAlreadyExists):
		case errors.Is(err, sarama.ErrInvalidTopic):
			return fmt.Errorf("%w: topic %q: Kafka refuses topic %q (%v); Kafka treats '.' and '_' alike, so it may collide with an existing topic",
				bus.ErrInvalidName, topic, kt, err)
		case ctx.Err() != nil:
			return ctx.Err()
		default:
			return fmt.Errorf("kafka: creating topic %s: %w", kt, err)
		}
		// Wait until the topic is there with a leader for every partition
		// (after a deletion, a broker may still be removing the old one).
		ok, err := b.describe(ctx, kt, true)
		if err != nil {
			return err
		}
		if ok {
			_ = b.client.RefreshMetadata(kt)
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// describe reports whether the Kafka topic exists (and, if leaders, has a
// leader for every partition), and remembers the answer.
func (b *Bus) describe(ctx context.Context, kt string, leaders bool) (bool, error) {
	var md []*sarama.TopicMetadata
	err := do(ctx, func() (err error) {
		md, err = b.admin.DescribeTopics([]string{kt})
		return err
	})
	if err != nil {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		return false, fmt.Errorf("kafka: describing topic %s: %w", kt, err)
	}
	exists := false
	for _, t := range md {
		if t.Name != kt {
			continue
		}
		switch {
		case errors.Is(t.Err, sarama.ErrNoError):
			exists = len(t.Partitions) > 0
			for _, p := range t.Partitions {
				if leaders && (p.Leader < 0 || !errors.Is(p.Err, sarama.ErrNoError)) {
					exists = false
				}
			}
		case errors.Is(t.Err, sarama.ErrUnknownTopicOrPartition):
		default:
			return false, fmt.Errorf("kafka: describing topic %s: %w", kt, t.Err)
		}
	}
	b.mu.Lock()
	if exists {
		b.known[kt] = true
	} else {
		delete(b.known, kt)
	}
	b.mu.Unlock()
	return exists, nil
}

// exists reports whether the Kafka topic exists, from memory if it was
// seen before.
func (b *Bus) exists(ctx context.Context, kt string) (bool, error) {
	b.mu.Lock()
	known := b.known[kt]
	b.mu.Unlock()
	if known {
		return true, nil
	}
	return b.describe(ctx, kt, false)
}

func topicNotFound(topic string) error {
	return fmt.Errorf("kafka: topic %q: %w", topic, bus.ErrTopicNotFound)
}

// DeleteTopic ends the topic's subscriptions in this process with
// bus.ErrTopicNotFound, deletes its Kafka topic and deletes its consumer
// groups. Subscriptions in other processes end when their clients notice
// the topic is gone.
func (b *Bus) DeleteTopic(ctx context.Context, topic string) error {
	if err := bus.ValidateName("topic", topic); err != nil {
		return err
	}
	if b.isClosed() {
		return errClosed
	}
	kt := b.kafkaTopic(topic)
	b.mu.Lock()
	delete(b.known, kt)
	b.mu.Unlock()
	if err := b.endMembers(ctx, func(m *member) bool { return m.kt == kt }, topicNotFound(topic)); err != nil {
		return err
	}
	err := do(ctx, func() error { return b.admin.DeleteTopic(kt) })
	switch {
	case errors.Is(err, sarama.ErrUnknownTopicOrPartition):
		return nil
	case err != nil:
		return fmt.Errorf("kafka: deleting topic %s: %w", kt, err)
	}
	b.mu.Lock()
	delete(b.known, kt)
	prod := b.prod
	b.mu.Unlock()
	// A topic of that name created again starts with empty partitions, to
	// which the producer's sequence numbers no longer fit.
	b.renew(prod)
	// Kafka drops the committed offsets of a deleted topic; the groups are
	// left empty. Delete them too, so that their names are free.
	var groups map[string]string
	if err := do(ctx, func() (err error) { groups, err = b.admin.ListConsumerGroups(); return err }); err != nil {
		b.log.Warn("cannot list consumer groups to delete those of a deleted topic", "topic", topic, "err", err)
		return nil
	}
	for gid := range groups {
		if strings.HasPrefix(gid, kt+"/") {
			if err := b.deleteGroup(ctx, gid); err != nil {
				b.log.Warn("cannot delete a consumer group of a deleted topic", "topic", topic, "group", gid, "err", err)
			}
		}
	}
	return nil
}

// DeleteGroup ends the group's subscriptions in this process (their Err is
// nil) and deletes its Kafka consumer group, committed offsets included. It
// fails while members in other processes remain.
func (b *Bus) DeleteGroup(ctx context.Context, topic, group string) error {
	if err := bus.ValidateName("topic", topic); err != nil {
		return err
	}
	if err := bus.ValidateName("group", group); err != nil {
		return err
	}
	if b.isClosed() {
		return errClosed
	}
	gid := b.groupID(topic, group)
	if err := b.endMembers(ctx, func(m *member) bool { return m.gid == gid }, nil); err != nil {
		return err
	}
	return b.deleteGroup(ctx, gid)
}

// deleteGroup deletes a consumer group, waiting a little for members that
// are still leaving.
func (b *Bus) deleteGroup(ctx context.Context, gid string) error {
	delay := 50 * time.Millisecond
	for attempt := 0; ; attempt++ {
		err := do(ctx, func() error { return b.admin.DeleteConsumerGroup(gid) })
		switch {
		case err == nil, errors.Is(err, sarama.ErrGroupIDNotFound):
			return nil
		case errors.Is(err, sarama.ErrNonEmptyGroup) && attempt < 10:
		case ctx.Err() != nil:
			return ctx.Err()
		default:
			return fmt.Errorf("kafka: deleting consumer group %s: %w", gid, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
			delay = min(2*delay, time.Second)
		}
	}
}

// endMembers ends the live members match selects with err and waits until
// they are gone (or ctx ends).
func (b *Bus) endMembers(ctx context.Context, match func(*member) bool, err error) error {
	b.mu.Lock()
	var ms []*member
	for m := range b.members {
		if match(m) {
			ms = append(ms, m)
		}
	}
	b.mu.Unlock()
	for _, m := range ms {
		m.end(err)
	}
	for _, m := range ms {
		select {
		case <-m.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Close waits for the publishes under way, ends every subscription with
// bus.ErrClosed (their unsettled deliveries are redelivered when a group
// member runs again) and closes the connections.
func (b *Bus) Close() error {
	b.closeOnce.Do(func() {
		b.mu.Lock()
		b.closed = true
		var ms []*member
		for m := range b.members {
			ms = append(ms, m)
		}
		b.mu.Unlock()
		b.publishing.Wait()
		b.renewMu.Lock() // no renewal under way
		b.mu.Lock()
		prod := b.prod
		b.mu.Unlock()
		b.renewMu.Unlock()
		prod.close()
		b.retiring.Wait()
		for _, m := range ms {
			m.end(errClosed)
		}
		for _, m := range ms {
			<-m.done
		}
		var errs []error
		if err := b.admin.Close(); err != nil && !errors.Is(err, sarama.ErrClosedClient) {
			errs = append(errs, err)
		}
		if err := b.client.Close(); err != nil && !errors.Is(err, sarama.ErrClosedClient) {
			errs = append(errs, err)
		}
		if err := errors.Join(errs...); err != nil {
			b.closeErr = fmt.Errorf("kafka: closing: %w", err)
		}
	})
	return b.closeErr
}
