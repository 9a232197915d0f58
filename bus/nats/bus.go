package nats

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/eddyplatform/eddy/bus"
)

// Tuning that is not configurable.
const (
	// controlReserve is what Features().MaxEventBytes leaves of the
	// server's max_payload for the headers the bus adds (message id,
	// expected stream).
	controlReserve = 1024
	// closeGrace is how long Close waits for publishes in flight.
	closeGrace = 10 * time.Second
	// pubAckTimeout is how long one attempt of a publish waits for its
	// acknowledgement before it is sent again (deduplicated by message id).
	pubAckTimeout = 10 * time.Second
	// dupWindow is the streams' deduplication window.
	dupWindow = 2 * time.Minute
	// minAckDeadline is Features().MinAckDeadline.
	minAckDeadline = 10 * time.Millisecond
)

// Bus is a bus.Bus on NATS JetStream. Create it with New.
type Bus struct {
	cfg      Config
	log      *slog.Logger
	names    naming
	nc       *natsgo.Conn
	js       jetstream.JetStream
	features bus.Features

	mu      sync.Mutex
	closed  bool
	closedA atomic.Bool // closed, for the hot paths
	members map[*member]struct{}
	topics  map[string]topicInfo // cache of known topics
	pubs    sync.WaitGroup       // publishes in flight
	abort   chan struct{}        // closed when Close stops waiting for publishes

	connMu    sync.Mutex
	connected chan struct{} // closed while connected
}

var (
	_ bus.Bus          = (*Bus)(nil)
	_ bus.GroupDeleter = (*Bus)(nil)
)

// topicInfo is what the bus knows of a topic's stream.
type topicInfo struct {
	stream     string
	partitions int
}

// New connects to NATS and returns a Bus. It fails if the server cannot be
// reached or has no JetStream. ctx bounds the connection and the check.
func New(ctx context.Context, cfg Config) (*Bus, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	b := &Bus{
		cfg:       cfg,
		log:       cfg.Logger.With("bus", "nats"),
		names:     naming{streamPrefix: cfg.StreamPrefix, subjectPrefix: cfg.SubjectPrefix},
		members:   map[*member]struct{}{},
		topics:    map[string]topicInfo{},
		abort:     make(chan struct{}),
		connected: make(chan struct{}),
	}
	close(b.connected)
	opts, err := b.natsOptions()
	if err != nil {
		return nil, err
	}
	type result struct {
		nc  *natsgo.Conn
		err error
	}
	done := make(chan result, 1)
	go func() {
		nc, err := natsgo.Connect(cfg.URL, opts...)
		done <- result{nc, err}
	}()
	var nc *natsgo.Conn
	select {
	case r := <-done:
		if r.err != nil {
			return nil, fmt.Errorf("nats: connecting to %s: %w", redactURLs(cfg.URL), r.err)
		}
		nc = r.nc
	case <-ctx.Done():
		go func() {
			if r := <-done; r.nc != nil {
				r.nc.Close()
			}
		}()
		return nil, ctx.Err()
	}
	js, err := jetstream.New(nc,
		jetstream.WithPublishAsyncMaxPending(1<<16),
		jetstream.WithPublishAsyncTimeout(pubAckTimeout))
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("nats: %w", err)
	}
	if _, err := js.AccountInfo(ctx); err != nil {
		nc.Close()
		return nil, fmt.Errorf("nats: JetStream is not available at %s (is the server started with -js?): %w", redactURLs(cfg.URL), err)
	}
	b.nc, b.js = nc, js
	b.features = bus.Features{
		Durable:        true,
		OrderedByKey:   true,
		Replay:         true,
		Offsets:        true,
		AckDeadline:    true,
		MinAckDeadline: minAckDeadline,
		MaxEventBytes:  int(nc.MaxPayload()) - controlReserve,
	}
	b.log.Debug("nats: connected", "server", nc.ConnectedUrlRedacted(), "version", nc.ConnectedServerVersion())
	return b, nil
}

// natsOptions returns the connection options for the configuration.
func (b *Bus) natsOptions() ([]natsgo.Option, error) {
	c := b.cfg
	opts := []natsgo.Option{
		natsgo.Name(c.Name),
		natsgo.MaxReconnects(-1),
		natsgo.ReconnectWait(c.ReconnectWait),
		natsgo.Timeout(c.ConnectTimeout),
		natsgo.PingInterval(c.PingInterval),
		natsgo.MaxPingsOutstanding(2),
		natsgo.NoCallbacksAfterClientClose(),
		natsgo.DisconnectErrHandler(b.onDisconnect),
		natsgo.ReconnectHandler(b.onReconnect),
		natsgo.ErrorHandler(func(_ *natsgo.Conn, _ *natsgo.Subscription, err error) {
			if errors.Is(err, natsgo.ErrSlowConsumer) {
				b.log.Warn("nats: slow consumer: messages were dropped and will be redelivered", "err", err)
				return
			}
			// Mostly write errors of a connection that is going down;
			// the disconnect handler reports that.
			b.log.Debug("nats: asynchronous error", "err", err)
		}),
	}
	switch {
	case c.Token != "":
		opts = append(opts, natsgo.Token(c.Token))
	case c.Username != "":
		opts = append(opts, natsgo.UserInfo(c.Username, c.Password))
	case len(c.Creds) > 0:
		opts = append(opts, natsgo.UserCredentialBytes(c.Creds))
	case len(c.NKeySeed) > 0:
		pub, err := nkeyFromSeed(c.NKeySeed)
		if err != nil {
			return nil, errors.New(`nats: secret "nkey": not a valid NKey user seed`)
		}
		seed := c.NKeySeed
		opts = append(opts, natsgo.Nkey(pub, func(nonce []byte) ([]byte, error) {
			return signNonce(seed, nonce)
		}))
	}
	tlsOn := c.TLS || len(c.CA) > 0 || len(c.Cert) > 0 || strings.Contains(c.URL, "tls://") || strings.Contains(c.URL, "wss://")
	if tlsOn {
		tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.TLSServerName}
		if len(c.CA) > 0 {
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(c.CA) {
				return nil, errors.New(`nats: secret "ca": no PEM certificate found in it`)
			}
			tc.RootCAs = pool
		}
		if len(c.Cert) > 0 {
			cert, err := tls.X509KeyPair(c.Cert, c.Key)
			if err != nil {
				return nil, errors.New(`nats: secret "cert"/"key": not a valid PEM certificate and matching key`)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		opts = append(opts, natsgo.Secure(tc))
	}
	return opts, nil
}

// onDisconnect marks the connection down.
func (b *Bus) onDisconnect(_ *natsgo.Conn, err error) {
	b.connMu.Lock()
	select {
	case <-b.connected:
		b.connected = make(chan struct{})
	default:
	}
	b.connMu.Unlock()
	if err != nil {
		b.log.Warn("nats: disconnected; reconnecting", "err", err)
	}
	for _, m := range b.liveMembers() {
		m.setConnected(false)
	}
}

// onReconnect marks the connection up and restarts the subscriptions'
// pulls.
func (b *Bus) onReconnect(nc *natsgo.Conn) {
	b.connMu.Lock()
	select {
	case <-b.connected:
	default:
		close(b.connected)
	}
	b.connMu.Unlock()
	b.log.Info("nats: reconnected", "server", nc.ConnectedUrlRedacted())
	for _, m := range b.liveMembers() {
		m.setConnected(true)
	}
}

// waitConnected waits until the connection is up, ctx ends or the bus
// gives up on publishing.
func (b *Bus) waitConnected(ctx context.Context) error {
	b.connMu.Lock()
	ch := b.connected
	b.connMu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-b.abort:
		return bus.ErrClosed
	}
}

func (b *Bus) liveMembers() []*member {
	b.mu.Lock()
	defer b.mu.Unlock()
	ms := make([]*member, 0, len(b.members))
	for m := range b.members {
		ms = append(ms, m)
	}
	return ms
}

// Features implements bus.Bus. The bus is Durable (file-stored streams),
// replays from the start, a time or an offset, redelivers after an ack
// deadline of at least 10ms, orders by partition key over per-key
// partitions, and accepts events up to the server's max_payload less 1 KiB.
func (b *Bus) Features() bus.Features { return b.features }

// isClosed reports whether Close has begun, without locking.
func (b *Bus) isClosed() bool { return b.closedA.Load() }

// errClosed returns ErrClosed if the bus is closed.
func (b *Bus) errClosed() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return bus.ErrClosed
	}
	return nil
}

// EnsureTopic implements bus.Bus: it creates the topic's stream (file
// storage, the configured replicas and retention, one subject per
// partition) unless it exists.
func (b *Bus) EnsureTopic(ctx context.Context, topic string) error {
	if err := bus.ValidateName("topic", topic); err != nil {
		return err
	}
	if err := b.errClosed(); err != nil {
		return err
	}
	if _, err := b.lookupTopic(ctx, topic, true); err == nil || !errors.Is(err, bus.ErrTopicNotFound) {
		return err
	}
	sc := jetstream.StreamConfig{
		Name:        b.names.stream(topic),
		Description: "eddy topic " + topic,
		Subjects:    b.names.subjects(topic, b.cfg.Partitions),
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		Storage:     jetstream.FileStorage,
		Replicas:    b.cfg.Replicas,
		MaxMsgs:     -1,
		MaxBytes:    -1,
		MaxMsgSize:  -1,
		Duplicates:  dupWindow,
	}
	if b.cfg.MaxAge > 0 {
		sc.MaxAge = b.cfg.MaxAge
		sc.Duplicates = min(dupWindow, b.cfg.MaxAge)
	}
	if b.cfg.MaxBytes > 0 {
		sc.MaxBytes = b.cfg.MaxBytes
	}
	_, err := b.js.CreateStream(ctx, sc)
	if err != nil {
		var apiErr *jetstream.APIError
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) || errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamNameInUse {
			// Created concurrently by someone else.
			_, err := b.lookupTopic(ctx, topic, true)
			return err
		}
		return b.apiError(fmt.Sprintf("creating stream %s for topic %q", sc.Name, topic), err)
	}
	b.mu.Lock()
	b.topics[topic] = topicInfo{stream: sc.Name, partitions: b.cfg.Partitions}
	b.mu.Unlock()
	return nil
}

// lookupTopic returns what the bus knows of topic, asking the server unless
// it is cached (or fresh is set). It returns ErrTopicNotFound if the
// stream does not exist.
func (b *Bus) lookupTopic(ctx context.Context, topic string, fresh bool) (topicInfo, error) {
	if !fresh {
		b.mu.Lock()
		ti, ok := b.topics[topic]
		b.mu.Unlock()
		if ok {
			return ti, nil
		}
	}
	name := b.names.stream(topic)
	s, err := b.js.Stream(ctx, name)
	if err != nil {
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			b.forgetTopic(topic)
			return topicInfo{}, fmt.Errorf("%w: %q", bus.ErrTopicNotFound, topic)
		}
		return topicInfo{}, b.apiError(fmt.Sprintf("looking up stream %s", name), err)
	}
	p := b.names.partitionsOf(topic, s.CachedInfo().Config.Subjects)
	if p == 0 {
		return topicInfo{}, fmt.Errorf("nats: stream %s exists but its subjects %v are not those of an eddy topic (prefix %q)",
			name, s.CachedInfo().Config.Subjects, b.names.subjectPrefix)
	}
	ti := topicInfo{stream: name, partitions: p}
	b.mu.Lock()
	b.topics[topic] = ti
	b.mu.Unlock()
	return ti, nil
}

func (b *Bus) forgetTopic(topic string) {
	b.mu.Lock()
	delete(b.topics, topic)
	b.mu.Unlock()
}

// apiError wraps an error of a JetStream API call, turning a closed
// connection into ErrClosed.
func (b *Bus) apiError(what string, err error) error {
	if errors.Is(err, natsgo.ErrConnectionClosed) {
		return fmt.Errorf("nats: %s: %w", what, bus.ErrClosed)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("nats: %s: %w", what, err)
}

// DeleteTopic implements bus.Bus: it deletes the topic's stream, with its
// events and consumers. Live subscriptions of this bus end at once with
// ErrTopicNotFound; those of other processes when their next pull finds
// the consumer gone.
func (b *Bus) DeleteTopic(ctx context.Context, topic string) error {
	if err := bus.ValidateName("topic", topic); err != nil {
		return err
	}
	if err := b.errClosed(); err != nil {
		return err
	}
	name := b.names.stream(topic)
	err := b.js.DeleteStream(ctx, name)
	b.forgetTopic(topic)
	if err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return b.apiError(fmt.Sprintf("deleting stream %s", name), err)
	}
	for _, m := range b.liveMembers() {
		if m.topic == topic {
			m.end(fmt.Errorf("%w: %q was deleted", bus.ErrTopicNotFound, topic), false)
		}
	}
	return nil
}

// DeleteGroup implements bus.GroupDeleter: it deletes the group's consumers
// (one, or one per partition for an ordered group). Live subscriptions of
// this bus end at once with a nil Err; those of other processes when their
// next pull finds the consumer gone.
func (b *Bus) DeleteGroup(ctx context.Context, topic, group string) error {
	if err := bus.ValidateName("topic", topic); err != nil {
		return err
	}
	if err := bus.ValidateName("group", group); err != nil {
		return err
	}
	if err := b.errClosed(); err != nil {
		return err
	}
	ti, err := b.lookupTopic(ctx, topic, false)
	if errors.Is(err, bus.ErrTopicNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	names := []string{consumerName(group)}
	for p := 0; p < ti.partitions; p++ {
		names = append(names, partitionConsumer(group, p))
	}
	for _, m := range b.liveMembers() {
		if m.topic == topic && m.group == group {
			m.end(nil, false)
		}
	}
	for _, n := range names {
		err := b.js.DeleteConsumer(ctx, ti.stream, n)
		switch {
		case err == nil, errors.Is(err, jetstream.ErrConsumerNotFound):
		case errors.Is(err, jetstream.ErrStreamNotFound):
			b.forgetTopic(topic)
			return nil
		default:
			return b.apiError(fmt.Sprintf("deleting consumer %s of stream %s", n, ti.stream), err)
		}
	}
	return nil
}

// Close implements bus.Bus. It refuses new work, waits (up to 10s) for
// publishes in flight, ends every subscription with ErrClosed — handing
// their unsettled deliveries back to their groups — and closes the
// connection.
func (b *Bus) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.closedA.Store(true)
	members := make([]*member, 0, len(b.members))
	for m := range b.members {
		members = append(members, m)
	}
	b.mu.Unlock()

	done := make(chan struct{})
	go func() { b.pubs.Wait(); close(done) }()
	timer := time.NewTimer(closeGrace)
	select {
	case <-done:
	case <-timer.C:
		b.log.Warn("nats: closing with publishes still unacknowledged")
	}
	timer.Stop()
	close(b.abort)
	<-done

	for _, m := range members {
		m.end(bus.ErrClosed, true)
	}
	for _, m := range members {
		<-m.done
	}
	if b.nc.IsConnected() {
		if err := b.nc.FlushTimeout(2 * time.Second); err != nil {
			b.log.Warn("nats: flushing on close", "err", err)
		}
	}
	b.nc.Close()
	return nil
}
