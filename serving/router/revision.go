package router

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/eddyplatform/eddy/serving/runtime"
	"github.com/prometheus/client_golang/prometheus"
)

// revision is the router's state of one revision: its ready instances, the requests in flight
// to each, and the queue of requests waiting for a free instance.
type revision struct {
	key         runtime.RevisionKey
	settings    atomic.Pointer[Settings]
	inFlight    atomic.Int64 // requests in ServeHTTP, queued or sent
	completed   atomic.Uint64
	queueDepth  int
	queuedGauge prometheus.Gauge

	mu      sync.Mutex
	ready   []*instance          // ready and not draining, in the runtime's order
	all     map[string]*instance // every instance the router has seen and not yet dropped
	waiters []*waiter            // FIFO
	closed  bool
}

// instance is one instance as the router sees it. Its fields are guarded by revision.mu.
type instance struct {
	id, addr string
	inFlight int
	draining bool
	gone     bool          // no longer reported ready by the runtime
	idle     chan struct{} // closed when draining and idle
}

// waiter is a queued request; it receives the instance it may use.
type waiter struct {
	got chan *instance // buffered 1
}

var errRevisionGone = &problem{http.StatusServiceUnavailable, "the revision is no longer served"}

func newRevision(key runtime.RevisionKey, depth int) *revision {
	return &revision{key: key, queueDepth: depth, all: map[string]*instance{}}
}

func (rev *revision) capacity() int {
	if s := rev.settings.Load(); s != nil {
		return s.ContainerConcurrency
	}
	return 0
}

// free returns the least-loaded ready instance with room, or nil. mu is held.
func (rev *revision) free() *instance {
	cc := rev.capacity()
	var best *instance
	for _, in := range rev.ready {
		if cc > 0 && in.inFlight >= cc {
			continue
		}
		if best == nil || in.inFlight < best.inFlight {
			best = in
		}
	}
	return best
}

// acquire returns an instance for one request, waiting in the queue if there is none free.
// demand is called when the revision has no ready instance at all.
func (rev *revision) acquire(ctx context.Context, demand func()) (*instance, error) {
	rev.mu.Lock()
	if rev.closed {
		rev.mu.Unlock()
		return nil, errRevisionGone
	}
	if len(rev.waiters) == 0 {
		if in := rev.free(); in != nil {
			in.inFlight++
			rev.mu.Unlock()
			return in, nil
		}
	}
	if len(rev.waiters) >= rev.queueDepth {
		rev.mu.Unlock()
		return nil, &problem{http.StatusServiceUnavailable, fmt.Sprintf("revision %s: %d requests are already waiting for an instance", rev.key, rev.queueDepth)}
	}
	w := &waiter{got: make(chan *instance, 1)}
	rev.waiters = append(rev.waiters, w)
	noInstances := len(rev.ready) == 0
	rev.queuedGauge.Inc()
	rev.mu.Unlock()
	if noInstances && demand != nil {
		demand()
	}
	select {
	case in := <-w.got:
		if in == nil {
			return nil, errRevisionGone
		}
		return in, nil
	case <-ctx.Done():
		rev.mu.Lock()
		for i, x := range rev.waiters {
			if x == w {
				rev.waiters = append(rev.waiters[:i], rev.waiters[i+1:]...)
				rev.queuedGauge.Dec()
				break
			}
		}
		rev.mu.Unlock()
		// An instance may have been handed over meanwhile: give it back.
		select {
		case in := <-w.got:
			if in != nil {
				rev.release(in)
			}
		default:
		}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, &problem{http.StatusServiceUnavailable, fmt.Sprintf("revision %s: no instance became free within the request's timeout", rev.key)}
		}
		return nil, ctx.Err()
	}
}

// handOut gives free slots to queued requests, oldest first. mu is held.
func (rev *revision) handOut() {
	for len(rev.waiters) > 0 {
		in := rev.free()
		if in == nil {
			return
		}
		w := rev.waiters[0]
		rev.waiters = rev.waiters[1:]
		rev.queuedGauge.Dec()
		in.inFlight++
		w.got <- in
	}
}

// release ends one request's use of an instance.
func (rev *revision) release(in *instance) {
	rev.mu.Lock()
	in.inFlight--
	if in.inFlight == 0 && in.idle != nil && (in.draining || in.gone) {
		close(in.idle)
		in.idle = nil
	}
	if in.inFlight == 0 && in.gone {
		delete(rev.all, in.id)
	}
	rev.handOut()
	rev.mu.Unlock()
}

// suspect takes an instance out of rotation after a connection to it failed; the runtime's
// next report brings it back if it is still ready.
func (rev *revision) suspect(in *instance) {
	rev.mu.Lock()
	for i, x := range rev.ready {
		if x == in {
			rev.ready = append(rev.ready[:i:i], rev.ready[i+1:]...)
			break
		}
	}
	rev.mu.Unlock()
}

// refresh takes the runtime's view of the revision's instances.
func (rev *revision) refresh(insts []runtime.Instance) {
	rev.mu.Lock()
	defer rev.mu.Unlock()
	if rev.closed {
		return
	}
	seen := map[string]bool{}
	ready := rev.ready[:0:0]
	for _, ri := range insts {
		if ri.Phase != runtime.Ready || ri.Address == "" {
			continue
		}
		seen[ri.ID] = true
		in, ok := rev.all[ri.ID]
		if !ok || in.addr != ri.Address {
			in = &instance{id: ri.ID, addr: ri.Address}
			rev.all[ri.ID] = in
		}
		in.gone = false
		if !in.draining {
			ready = append(ready, in)
		}
	}
	for id, in := range rev.all {
		if !seen[id] {
			in.gone = true
			if in.inFlight == 0 {
				if in.idle != nil {
					close(in.idle)
					in.idle = nil
				}
				delete(rev.all, id)
			}
		}
	}
	rev.ready = ready
	rev.handOut()
}

// drain takes an instance out of rotation and returns a channel closed once it is idle.
func (rev *revision) drain(id string) <-chan struct{} {
	rev.mu.Lock()
	defer rev.mu.Unlock()
	idle := make(chan struct{})
	in, ok := rev.all[id]
	if !ok || in.inFlight == 0 {
		if ok {
			in.draining = true
		}
		rev.removeReady(in)
		close(idle)
		return idle
	}
	in.draining = true
	rev.removeReady(in)
	if in.idle == nil {
		in.idle = make(chan struct{})
	}
	return in.idle
}

func (rev *revision) removeReady(in *instance) {
	for i, x := range rev.ready {
		if x == in {
			rev.ready = append(rev.ready[:i:i], rev.ready[i+1:]...)
			return
		}
	}
}

// close fails the queued requests.
func (rev *revision) close() {
	rev.mu.Lock()
	defer rev.mu.Unlock()
	rev.closed = true
	for _, w := range rev.waiters {
		w.got <- nil
	}
	rev.waiters = nil
}

// instanceTransport sends a request to an instance of its revision: it acquires one (waiting
// if need be), and if the connection fails before the request was sent, it tries another.
type instanceTransport struct{ r *Router }

// maxConnectRetries bounds how often a request is sent elsewhere after a failed connection.
const maxConnectRetries = 5

func (t *instanceTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	st, _ := req.Context().Value(ctxKey{}).(*routed)
	if st == nil {
		return nil, errors.New("router: request without routing state")
	}
	rev := st.rev
	demand := func() {
		if f := t.r.cfg.OnDemand; f != nil {
			go f(rev.key)
		}
	}
	var body *trackedBody
	if req.Body != nil && req.Body != http.NoBody {
		body = &trackedBody{ReadCloser: req.Body}
		req.Body = body
	}
	for attempt := 0; ; attempt++ {
		in, err := rev.acquire(req.Context(), demand)
		if err != nil {
			return nil, err
		}
		// req is the reverse proxy's own outgoing copy: aim it at the instance.
		req.URL.Host = in.addr
		resp, err := t.r.cfg.Transport.RoundTrip(req)
		if err != nil {
			rev.release(in)
			if isConnectError(err) && (body == nil || !body.read.Load()) && attempt < maxConnectRetries {
				rev.suspect(in)
				continue
			}
			return nil, err
		}
		resp.Body = &releasingBody{ReadCloser: resp.Body, release: func() { rev.release(in) }}
		return resp, nil
	}
}

// isConnectError reports whether err happened while connecting, before anything was sent.
func isConnectError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// trackedBody notes whether the request body was read, so that a request is only retried
// when nothing of it was sent.
type trackedBody struct {
	io.ReadCloser
	read atomic.Bool
}

func (b *trackedBody) Read(p []byte) (int, error) {
	b.read.Store(true)
	return b.ReadCloser.Read(p)
}

// releasingBody releases the instance when the response body is closed.
type releasingBody struct {
	io.ReadCloser
	once    sync.Once
	release func()
}

func (b *releasingBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.release)
	return err
}
