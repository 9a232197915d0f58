package dispatcher

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eddyplatform/eddy/bus"
)

// Dispatcher starts Consumers and owns what they share: the pooled
// keep-alive HTTP client, the metrics and the logger. Make one per process
// with New. It is safe for concurrent use.
type Dispatcher struct {
	cfg       Config
	client    *http.Client
	transport *http.Transport // nil if Config.Transport replaced it
	m         *metrics

	mu        sync.Mutex
	closed    bool
	consumers map[*Consumer]struct{}
}

// New returns a Dispatcher. It fills in cfg's defaults, validates it and
// registers the metrics on cfg.Registerer (an error if they are already
// registered there).
func New(cfg Config) (*Dispatcher, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	d := &Dispatcher{cfg: cfg, m: m, consumers: make(map[*Consumer]struct{})}
	rt := cfg.Transport
	if rt == nil {
		d.transport = newTransport(cfg.MaxIdleConnsPerHost)
		rt = d.transport
	}
	d.client = &http.Client{
		Transport: rt,
		// 3xx is an error without retry (Knative data plane): never follow.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return d, nil
}

// newTransport is tuned for many small POSTs to few hosts: every in-flight
// delivery keeps its connection (MaxIdleConnsPerHost), no compression (the
// events are small and the peers local), and no client-side timeouts beyond
// the per-attempt context.
func newTransport(maxIdlePerHost int) *http.Transport {
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   10 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:   true,
		MaxIdleConns:        0, // no global cap; the per-host cap rules
		MaxIdleConnsPerHost: maxIdlePerHost,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
		DisableCompression:  true,
		WriteBufferSize:     16 << 10,
		ReadBufferSize:      16 << 10,
	}
}

// ErrClosed is returned by Start after Close.
var ErrClosed = errors.New("dispatcher: closed")

// Start joins group on topic of b and delivers the group's events to s
// until Stop, until ctx is done, or until the bus ends the subscription (see
// Consumer.Done). The topic must exist. ctx bounds the consumer's life: when
// it is done the consumer stops as by Stop with an expired context (attempts
// on the wire are cancelled, their deliveries nacked). Start returns the
// bus's Subscribe errors as they are (errors.Is works: bus.ErrTopicNotFound,
// bus.ErrUnsupported for Ordered on a bus without OrderedByKey, ...).
//
// Several consumers, in one process or several, may share a group: they
// share its events. Every delivery is settled exactly once: acknowledged
// when it was delivered, dead-lettered, dropped or filtered out, nacked when
// it must come again.
func (d *Dispatcher) Start(ctx context.Context, b bus.Bus, topic, group string, s Subscriber) (*Consumer, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t := newTarget(s, d.cfg.DefaultTimeout)
	opts := bus.SubscribeOptions{
		AckDeadline: max(d.cfg.AckDeadline, 2*(t.timeout+leaseMargin)),
		MaxInFlight: s.MaxInFlight,
		Ordered:     s.Ordered,
	}
	d.mu.Lock()
	closed := d.closed
	d.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	// The subscription is closed by the consumer itself, after its
	// deliveries are settled, never by ctx.
	sub, err := b.Subscribe(context.WithoutCancel(ctx), topic, group, opts)
	if err != nil {
		return nil, fmt.Errorf("dispatcher: starting %s %s/%s: %w", s.Kind, s.Namespace, s.Name, err)
	}
	c := newConsumer(ctx, d, sub, topic, group, t)
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		sub.Close()
		c.cancel()
		d.m.release(c.m)
		return nil, ErrClosed
	}
	d.consumers[c] = struct{}{}
	d.mu.Unlock()
	c.start(ctx)
	return c, nil
}

// forget removes a stopped consumer.
func (d *Dispatcher) forget(c *Consumer) {
	d.mu.Lock()
	delete(d.consumers, c)
	d.mu.Unlock()
}

// Close stops every consumer still running, as Stop(ctx) does for each, and
// closes the idle connections. Later Starts fail with ErrClosed. It returns
// ctx.Err() if some consumers had to be cut short.
func (d *Dispatcher) Close(ctx context.Context) error {
	d.mu.Lock()
	d.closed = true
	cs := make([]*Consumer, 0, len(d.consumers))
	for c := range d.consumers {
		cs = append(cs, c)
	}
	d.mu.Unlock()
	var wg sync.WaitGroup
	var cut atomic.Bool
	for _, c := range cs {
		wg.Go(func() {
			if c.Stop(ctx) != nil {
				cut.Store(true)
			}
		})
	}
	wg.Wait()
	if d.transport != nil {
		d.transport.CloseIdleConnections()
	}
	if cut.Load() {
		return ctx.Err()
	}
	return nil
}
