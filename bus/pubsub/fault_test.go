package pubsub

import (
	"context"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eddyplatform/eddy/bus"
)

// proxy is a TCP proxy in front of the Pub/Sub server whose connections can
// be cut, as a network failure or a server restart would.
type proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy listen: %v", err)
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		p.cut()
		p.wg.Wait()
	})
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[s] = struct{}{}, struct{}{}
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

// cut closes every open connection and returns how many there were.
func (p *proxy) cut() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
	return len(p.conns) / 2
}

// TestFaultConnectionsCut publishes and consumes while a proxy between the
// bus and Pub/Sub cuts every connection again and again. Every event whose
// Publish returned nil must be delivered; duplicates are allowed (and
// logged).
func TestFaultConnectionsCut(t *testing.T) {
	srv := startServer(t)
	px := startProxy(t, srv.Addr)
	cfg := testConfig(px.addr())
	cfg.AckDeadline = 10 * time.Second // Pub/Sub's minimum lease: a lost Pull response comes back soonest
	b := open(t, cfg)
	ctx := context.Background()
	if err := b.EnsureTopic(ctx, "faults"); err != nil {
		t.Fatal(err)
	}
	var subs []bus.Subscription
	for range 2 {
		s, err := b.Subscribe(ctx, "faults", "g", bus.SubscribeOptions{MaxInFlight: 200})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		subs = append(subs, s)
	}

	var (
		mu        sync.Mutex
		delivered = map[string]int{}
		published = map[string]bool{}
		failed    atomic.Int64
		ended     atomic.Int64
		consStop  = make(chan struct{})
		cwg       sync.WaitGroup
	)
	for _, s := range subs {
		cwg.Add(1)
		go func() {
			defer cwg.Done()
			for {
				select {
				case d, ok := <-s.Deliveries():
					if !ok {
						ended.Add(1)
						t.Errorf("a subscription ended during the faults: %v", s.Err())
						return
					}
					mu.Lock()
					delivered[d.Event().ID()]++
					mu.Unlock()
					if err := d.Ack(); err != nil {
						t.Errorf("Ack: %v", err)
					}
				case <-consStop:
					return
				}
			}
		}()
	}

	// Cut all connections every 100ms while four publishers publish, and for
	// a second after.
	const publishers, batches, batch = 4, 40, 25
	cutStop, cutDone := make(chan struct{}), make(chan struct{})
	var cuts, cutConns int
	go func() {
		defer close(cutDone)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				cuts++
				cutConns += px.cut()
			case <-cutStop:
				return
			}
		}
	}()
	var pwg sync.WaitGroup
	for p := range publishers {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			for i := range batches {
				evs := make([]*event.Event, batch)
				ids := make([]string, batch)
				for j := range evs {
					ids[j] = "p" + strconv.Itoa(p) + "-" + strconv.Itoa(i*batch+j)
					evs[j] = testEvent(ids[j], "")
				}
				pctx, cancel := context.WithTimeout(ctx, 20*time.Second)
				err := b.Publish(pctx, "faults", evs...)
				cancel()
				if err != nil {
					failed.Add(1)
					t.Logf("Publish failed (its events are not counted): %v", err)
					continue
				}
				mu.Lock()
				for _, id := range ids {
					published[id] = true
				}
				mu.Unlock()
			}
		}()
	}
	pwg.Wait()
	time.AfterFunc(time.Second, func() { close(cutStop) })
	<-cutDone

	missing := func() int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for id := range published {
			if delivered[id] == 0 {
				n++
			}
		}
		return n
	}
	poll := time.NewTicker(20 * time.Millisecond)
	timeout := time.After(60 * time.Second)
wait:
	for missing() > 0 {
		select {
		case <-poll.C:
		case <-timeout:
			break wait
		}
	}
	poll.Stop()
	close(consStop)
	cwg.Wait()
	mu.Lock()
	dups := 0
	for _, n := range delivered {
		dups += n - 1
	}
	total := len(published)
	mu.Unlock()
	if n := missing(); n > 0 {
		t.Fatalf("%d of %d events whose Publish returned nil were not delivered within 60s", n, total)
	}
	if total == 0 {
		t.Fatal("no Publish succeeded")
	}
	t.Logf("%d cuts (%d connections); %d events published and all delivered; %d duplicates; %d publishes failed",
		cuts, cutConns, total, dups, failed.Load())
}
