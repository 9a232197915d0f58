package nats

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eddyplatform/eddy/bus"
)

// proxy is a TCP proxy between the bus and the NATS server that can cut
// every connection through it and refuse new ones for a while.
type proxy struct {
	t        testing.TB
	ln       net.Listener
	upstream string

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	down  bool // refuse new connections
	cuts  int
	wg    sync.WaitGroup
}

func newProxy(t testing.TB) *proxy {
	t.Helper()
	u, err := url.Parse(testURL())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{t: t, ln: ln, upstream: u.Host, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(p.close)
	return p
}

func (p *proxy) url() string { return "nats://" + p.ln.Addr().String() }

func (p *proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			c.Close()
			continue
		}
		s, err := net.Dial("tcp", p.upstream)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c] = struct{}{}
		p.conns[s] = struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(c, s)
		go p.pipe(s, c)
	}
}

func (p *proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	io.Copy(dst, src)
	dst.Close()
	src.Close()
	p.mu.Lock()
	delete(p.conns, dst)
	delete(p.conns, src)
	p.mu.Unlock()
}

// cut closes every proxied connection; with down set, new ones are refused
// until up is called.
func (p *proxy) cut(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	p.cuts++
	for c := range p.conns {
		c.Close()
	}
}

func (p *proxy) up() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

func (p *proxy) close() {
	p.ln.Close()
	p.cut(true)
	p.wg.Wait()
}

// faultEvent returns a valid event with the given id.
func faultEvent(id string) *event.Event {
	e := event.New()
	e.SetID(id)
	e.SetSource("/fault")
	e.SetType("dev.eddy.fault.v1")
	if err := e.SetData(event.ApplicationJSON, map[string]string{"id": id}); err != nil {
		panic(err)
	}
	return &e
}

// TestFaultConnectionCuts cuts every connection between the bus and the
// server several times while producers publish and a group consumes, and
// checks that every event whose Publish returned nil is delivered.
func TestFaultConnectionCuts(t *testing.T) {
	cfg := testConfig(t)
	p := newProxy(t)
	cfg.URL = p.url()
	cfg.AckDeadline = 2 * time.Second // deliveries lost in a cut come back soon
	cfg.PingInterval = time.Second
	b := open(t, cfg)
	ctx := context.Background()
	const topic = "faults"
	if err := b.EnsureTopic(ctx, topic); err != nil {
		t.Fatal(err)
	}
	subA, err := b.Subscribe(ctx, topic, "g", bus.SubscribeOptions{MaxInFlight: 64})
	if err != nil {
		t.Fatal(err)
	}
	subB, err := b.Subscribe(ctx, topic, "g", bus.SubscribeOptions{MaxInFlight: 64})
	if err != nil {
		t.Fatal(err)
	}

	var (
		mu        sync.Mutex
		delivered = map[string]int{}
		acked     sync.Map
		nAcked    atomic.Int64
		pubErrs   atomic.Int64
		stop      = make(chan struct{})
		cwg, pwg  sync.WaitGroup
	)
	for _, sub := range []bus.Subscription{subA, subB} {
		cwg.Add(1)
		go func() {
			defer cwg.Done()
			for {
				select {
				case d, ok := <-sub.Deliveries():
					if !ok {
						t.Errorf("subscription ended during the faults: %v", sub.Err())
						return
					}
					mu.Lock()
					delivered[d.Event().ID()]++
					mu.Unlock()
					d.Ack() // may fail while disconnected; then it comes again
				case <-stop:
					return
				}
			}
		}()
	}
	const producers, batches, batch = 4, 60, 25
	for w := 0; w < producers; w++ {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			for i := 0; i < batches; i++ {
				evs := make([]*event.Event, batch)
				for j := range evs {
					evs[j] = faultEvent(fmt.Sprintf("p%d-b%03d-e%02d", w, i, j))
				}
				pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				err := b.Publish(pctx, topic, evs...)
				cancel()
				if err != nil {
					pubErrs.Add(1)
					t.Logf("Publish failed (its events may or may not arrive): %v", err)
					continue
				}
				for _, e := range evs {
					acked.Store(e.ID(), true)
				}
				nAcked.Add(batch)
			}
		}()
	}
	// Cut every connection three times while the producers publish.
	total := int64(producers * batches * batch)
	for cut := 1; cut <= 3; cut++ {
		waitFor(t, fmt.Sprintf("%d%% of the events published", cut*25), 60*time.Second, func() bool {
			return nAcked.Load() >= total*int64(cut)/4
		})
		p.cut(false)
		t.Logf("cut %d: all connections closed after %d acknowledged publishes", cut, nAcked.Load())
	}
	pwg.Wait()

	want := map[string]bool{}
	acked.Range(func(k, _ any) bool { want[k.(string)] = true; return true })
	waitFor(t, "every acknowledged event delivered", 60*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for id := range want {
			if delivered[id] == 0 {
				return false
			}
		}
		return true
	})
	close(stop)
	cwg.Wait()
	mu.Lock()
	dups := 0
	for _, n := range delivered {
		dups += n - 1
	}
	mu.Unlock()
	if r := b.nc.Stats().Reconnects; r < 3 {
		t.Errorf("the client reconnected %d times, want at least 3", r)
	}
	if subA.Err() != nil || subB.Err() != nil {
		t.Errorf("subscriptions ended: %v, %v", subA.Err(), subB.Err())
	}
	t.Logf("%d events acknowledged (%d publishes failed) and all delivered through %d cuts; %d duplicates",
		len(want), pubErrs.Load(), 3, dups)
}

// TestFaultPublishWaitsForReconnect: a Publish made while the server is
// unreachable waits and succeeds once it is back; one whose context ends
// first returns the context's error.
func TestFaultPublishWaitsForReconnect(t *testing.T) {
	cfg := testConfig(t)
	p := newProxy(t)
	cfg.URL = p.url()
	b := open(t, cfg)
	ctx := context.Background()
	if err := b.EnsureTopic(ctx, "waits"); err != nil {
		t.Fatal(err)
	}
	sub, err := b.Subscribe(ctx, "waits", "g", bus.SubscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.cut(true)
	waitFor(t, "the bus to notice the cut", 10*time.Second, func() bool { return !b.nc.IsConnected() })

	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	err = b.Publish(short, "waits", faultEvent("timed-out"))
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Publish while down with a short context: %v, want DeadlineExceeded", err)
	}

	const outage = 500 * time.Millisecond
	start := time.Now()
	time.AfterFunc(outage, p.up)
	if err := b.Publish(ctx, "waits", faultEvent("waited")); err != nil {
		t.Fatalf("Publish across the outage: %v", err)
	}
	if took := time.Since(start); took < outage {
		t.Errorf("Publish returned after %v, before the server was reachable again (%v)", took, outage)
	}
	for {
		select {
		case d := <-sub.Deliveries():
			d.Ack()
			if d.Event().ID() == "waited" {
				return
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the event published across the outage was not delivered to the subscription that lived through it")
		}
	}
}

// waitFor polls cond until it holds, failing the test after timeout.
func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
