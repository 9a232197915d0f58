package pubsub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"cloud.google.com/go/pubsub/v2"
	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/cloudevents/sdk-go/v2/event"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/eddyplatform/eddy/bus"
)

// EnvEmulatorHost is the environment variable that points Google's client
// libraries, and this bus when Config.Endpoint is empty, at an emulator.
const EnvEmulatorHost = "PUBSUB_EMULATOR_HOST"

// Bus is a bus.Bus on Google Cloud Pub/Sub. Make one with New.
type Bus struct {
	cfg      Config
	log      *slog.Logger
	client   *pubsub.Client
	project  string
	longPoll bool

	closed  atomic.Bool   // set when Close starts
	closing chan struct{} // closed when Close starts
	pubWG   sync.WaitGroup

	mu     sync.Mutex
	pubs   map[string]*pubsub.Publisher // by bus topic
	groups map[string]*group            // by subscription resource name
}

var (
	_ bus.Bus          = (*Bus)(nil)
	_ bus.GroupDeleter = (*Bus)(nil)
)

// New connects to Pub/Sub (or the emulator cfg names) and returns a Bus. It
// does not create anything: topics are made by EnsureTopic and
// subscriptions by Subscribe.
func New(ctx context.Context, cfg Config) (*Bus, error) {
	cfg = cfg.withDefaults()
	if cfg.Endpoint == "" && cfg.APIEndpoint == "" {
		cfg.Endpoint = os.Getenv(EnvEmulatorHost)
	}
	emulator := cfg.Endpoint != ""
	project := cfg.Project
	if project == "" && !emulator {
		project = credentialsProject(cfg.CredentialsJSON)
		if project == "" {
			project = pubsub.DetectProjectID
		}
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var opts []option.ClientOption
	switch {
	case emulator:
		opts = append(opts,
			option.WithEndpoint(cfg.Endpoint),
			option.WithoutAuthentication(),
			option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
			option.WithTelemetryDisabled())
	default:
		if cfg.APIEndpoint != "" {
			opts = append(opts, option.WithEndpoint(cfg.APIEndpoint))
		}
		if len(cfg.CredentialsJSON) > 0 {
			opts = append(opts, option.WithAuthCredentialsJSON(option.ServiceAccount, cfg.CredentialsJSON))
		}
	}
	client, err := pubsub.NewClient(ctx, project, opts...)
	if err != nil {
		// The client's errors name files and fields, never key material.
		return nil, fmt.Errorf("pubsub: connect: %w", err)
	}
	longPoll := !emulator
	if cfg.LongPoll != nil {
		longPoll = *cfg.LongPoll
	}
	b := &Bus{
		cfg:      cfg,
		log:      cfg.Logger.With("bus", "pubsub", "project", client.Project(), "prefix", cfg.TopicPrefix),
		client:   client,
		project:  client.Project(),
		longPoll: longPoll,
		closing:  make(chan struct{}),
		pubs:     map[string]*pubsub.Publisher{},
		groups:   map[string]*group{},
	}
	b.log.Debug("pubsub bus open", "emulator", emulator, "longPoll", longPoll)
	return b, nil
}

// Features: Pub/Sub stores messages durably and orders them by ordering
// key; ack deadlines are kept by the bus (see the package documentation).
// Replay is not declared: it needs Seek on topics with message retention,
// which the pstest emulator the bus is tested against cannot do.
func (b *Bus) Features() bus.Features {
	return bus.Features{
		Durable:        true,
		OrderedByKey:   true,
		Replay:         false,
		Offsets:        false,
		AckDeadline:    true,
		MinAckDeadline: 0,
		MaxEventBytes:  MaxEventBytes,
	}
}

func (b *Bus) topicName(topic string) string {
	return topicName(b.project, b.cfg.TopicPrefix, topic)
}

func (b *Bus) subscriptionName(topic, group string) string {
	return subscriptionName(b.project, b.cfg.TopicPrefix, topic, group)
}

func errClosed(op string) error { return fmt.Errorf("pubsub: %s: %w", op, bus.ErrClosed) }

// EnsureTopic creates the Pub/Sub topic of topic if it does not exist.
func (b *Bus) EnsureTopic(ctx context.Context, topic string) error {
	if b.closed.Load() {
		return errClosed("EnsureTopic")
	}
	if err := bus.ValidateName("topic", topic); err != nil {
		return err
	}
	_, err := b.client.TopicAdminClient.CreateTopic(ctx, &pb.Topic{
		Name:   b.topicName(topic),
		Labels: map[string]string{"managed-by": "eddy"},
	})
	if err != nil && status.Code(err) != codes.AlreadyExists {
		return b.rpcError(ctx, "create topic "+topic, err)
	}
	return nil
}

// DeleteTopic deletes the Pub/Sub topic and the subscriptions the bus made
// for it (Pub/Sub itself would leave them, detached), and ends the topic's
// live subscriptions in this process with bus.ErrTopicNotFound. Members in
// other processes end the same way when their next Pull finds the
// subscription gone.
func (b *Bus) DeleteTopic(ctx context.Context, topic string) error {
	if b.closed.Load() {
		return errClosed("DeleteTopic")
	}
	if err := bus.ValidateName("topic", topic); err != nil {
		return err
	}
	name := b.topicName(topic)
	var subs []string
	it := b.client.TopicAdminClient.ListTopicSubscriptions(ctx, &pb.ListTopicSubscriptionsRequest{Topic: name})
	for {
		s, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if status.Code(err) == codes.NotFound {
			break // no topic, no subscriptions
		}
		if err != nil {
			return b.rpcError(ctx, "list subscriptions of "+topic, err)
		}
		if ownedSubscription(b.cfg.TopicPrefix, s) {
			subs = append(subs, s)
		}
	}
	err := b.client.TopicAdminClient.DeleteTopic(ctx, &pb.DeleteTopicRequest{Topic: name})
	if err != nil && status.Code(err) != codes.NotFound {
		return b.rpcError(ctx, "delete topic "+topic, err)
	}
	b.forgetTopic(topic, bus.ErrTopicNotFound)
	for _, s := range subs {
		err := b.client.SubscriptionAdminClient.DeleteSubscription(ctx, &pb.DeleteSubscriptionRequest{Subscription: s})
		if err != nil && status.Code(err) != codes.NotFound {
			return b.rpcError(ctx, "delete subscription "+s, err)
		}
	}
	return nil
}

// forgetTopic ends the local members of topic's groups with err and drops
// the groups. (The topic's publisher stays: it holds no more than the name,
// and the topic may be created again.)
func (b *Bus) forgetTopic(topic string, err error) {
	b.mu.Lock()
	var gs []*group
	for name, g := range b.groups {
		if g.topic == topic {
			gs = append(gs, g)
			delete(b.groups, name)
		}
	}
	b.mu.Unlock()
	for _, g := range gs {
		g.end(err, false)
	}
}

// DeleteGroup deletes the group's Pub/Sub subscription and ends its live
// subscriptions in this process (their Err is nil). A later Subscribe
// creates the group afresh, at the latest event.
func (b *Bus) DeleteGroup(ctx context.Context, topic, group string) error {
	if b.closed.Load() {
		return errClosed("DeleteGroup")
	}
	if err := bus.ValidateName("topic", topic); err != nil {
		return err
	}
	if err := bus.ValidateName("group", group); err != nil {
		return err
	}
	name := b.subscriptionName(topic, group)
	err := b.client.SubscriptionAdminClient.DeleteSubscription(ctx, &pb.DeleteSubscriptionRequest{Subscription: name})
	if err != nil && status.Code(err) != codes.NotFound {
		return b.rpcError(ctx, "delete subscription "+name, err)
	}
	b.mu.Lock()
	g := b.groups[name]
	delete(b.groups, name)
	b.mu.Unlock()
	if g != nil {
		g.end(nil, false)
	}
	return nil
}

// publisher returns the topic's publisher and registers a publish in
// progress; the caller must call b.pubWG.Done.
func (b *Bus) publisher(topic string) (*pubsub.Publisher, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed.Load() {
		return nil, errClosed("Publish")
	}
	b.pubWG.Add(1)
	p := b.pubs[topic]
	if p == nil {
		p = b.client.Publisher(b.topicName(topic))
		p.EnableMessageOrdering = true
		p.PublishSettings.DelayThreshold = b.cfg.PublishDelay
		b.pubs[topic] = p
	}
	return p, nil
}

// Publish encodes every event first (nothing is sent if one is invalid or
// too large), hands them to the topic's publisher and returns once Pub/Sub
// has answered each with a message id. Messages failing with a transient
// error are published again (in order) until ctx ends.
func (b *Bus) Publish(ctx context.Context, topic string, events ...*event.Event) error {
	if b.closed.Load() {
		return errClosed("Publish")
	}
	if err := bus.ValidateName("topic", topic); err != nil {
		return err
	}
	msgs := make([]*pb.PubsubMessage, len(events))
	for i, e := range events {
		m, err := encodeEvent(e)
		if err != nil {
			return err
		}
		msgs[i] = m
	}
	pub, err := b.publisher(topic)
	if err != nil {
		return err
	}
	defer b.pubWG.Done()
	if err := ctx.Err(); err != nil {
		return err
	}
	backoff := newBackoff()
	for len(msgs) > 0 {
		results := make([]*pubsub.PublishResult, len(msgs))
		for i, m := range msgs {
			results[i] = pub.Publish(ctx, &pubsub.Message{Data: m.Data, Attributes: m.Attributes, OrderingKey: m.OrderingKey})
		}
		var again []*pb.PubsubMessage
		var lastErr error
		for i, r := range results {
			_, err := r.Get(ctx)
			if err == nil {
				continue
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if k := msgs[i].OrderingKey; k != "" {
				pub.ResumePublish(k) // the publisher pauses a key after an error
			}
			switch {
			case status.Code(err) == codes.NotFound:
				return fmt.Errorf("pubsub: publish to %s: %w", topic, bus.ErrTopicNotFound)
			case retryable(err) || errors.As(err, new(pubsub.ErrPublishingPaused)):
				again = append(again, msgs[i])
				lastErr = err
			default:
				return fmt.Errorf("pubsub: publish to %s: %w", topic, err)
			}
		}
		if len(again) == 0 {
			return nil
		}
		b.log.Warn("pubsub: publishing again after a transient error", "topic", topic, "messages", len(again), "err", lastErr)
		if err := backoff.wait(ctx, b.closing); err != nil {
			if ctx.Err() == nil {
				err = fmt.Errorf("pubsub: publish to %s: %w (last error: %v)", topic, bus.ErrClosed, lastErr)
			}
			return err
		}
		msgs = again
	}
	return nil
}

// Close ends every subscription with bus.ErrClosed (their unsettled
// deliveries are nacked, so Pub/Sub redelivers them at once), waits for
// publishes in progress, sends the acknowledgements still queued and closes
// the client.
func (b *Bus) Close() error {
	b.mu.Lock()
	if b.closed.Load() {
		b.mu.Unlock()
		return nil
	}
	b.closed.Store(true)
	close(b.closing)
	groups := b.groups
	b.groups = map[string]*group{}
	b.mu.Unlock()

	b.pubWG.Wait()
	for _, g := range groups {
		g.end(bus.ErrClosed, true)
	}
	b.mu.Lock()
	pubs := b.pubs
	b.pubs = map[string]*pubsub.Publisher{}
	b.mu.Unlock()
	for _, p := range pubs {
		p.Stop()
	}
	if err := b.client.Close(); err != nil {
		return fmt.Errorf("pubsub: close: %w", err)
	}
	return nil
}

// rpcError describes a failed call, preferring the caller's context error.
func (b *Bus) rpcError(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if b.closed.Load() && status.Code(err) == codes.Canceled {
		return errClosed(what)
	}
	return fmt.Errorf("pubsub: %s: %w", what, err)
}

// retryable reports whether a call failing with err may succeed if tried
// again: the server or the connection had a passing problem.
func retryable(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Aborted, codes.Internal:
		return !strings.Contains(err.Error(), "invalid UTF-8")
	case codes.Unknown:
		// A dropped connection surfaces as Unknown ("transport is closing",
		// "EOF"); errors the server meant are not Unknown.
		return true
	}
	return false
}

// backoff waits increasing times between retries.
type backoff struct{ next time.Duration }

func newBackoff() *backoff { return &backoff{next: 50 * time.Millisecond} }

func (bo *backoff) reset() { bo.next = 50 * time.Millisecond }

// wait sleeps the next backoff, or returns early with an error when ctx or
// stop ends.
func (bo *backoff) wait(ctx context.Context, stop <-chan struct{}) error {
	t := time.NewTimer(bo.next)
	defer t.Stop()
	bo.next = min(bo.next*2, 5*time.Second)
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-stop:
		return bus.ErrClosed
	}
}
