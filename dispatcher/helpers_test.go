package dispatcher

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/eddyplatform/eddy/bus"
	"github.com/eddyplatform/eddy/bus/stub"
)

const testTopic = "events"

var quietLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

// newBus returns an in-memory stub bus with topic testTopic.
func newBus(t testing.TB) *stub.Bus {
	t.Helper()
	b, err := stub.New(stub.Config{InMemory: true, Logger: quietLogger})
	if err != nil {
		t.Fatalf("stub.New: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	if err := b.EnsureTopic(context.Background(), testTopic); err != nil {
		t.Fatalf("EnsureTopic: %v", err)
	}
	return b
}

// newDispatcher returns a dispatcher with its own registry; cfg.Logger
// defaults to a quiet one and cfg.RedeliveryDelay to 5ms.
func newDispatcher(t testing.TB, cfg Config) (*Dispatcher, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	cfg.Registerer = reg
	if cfg.Logger == nil {
		cfg.Logger = quietLogger
	}
	if cfg.RedeliveryDelay == 0 {
		cfg.RedeliveryDelay = 5 * time.Millisecond
	}
	d, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		d.Close(ctx)
	})
	return d, reg
}

// start starts a consumer of testTopic, group "g", stopped at cleanup.
func start(t testing.TB, d *Dispatcher, b bus.Bus, s Subscriber) *Consumer {
	t.Helper()
	if s.Kind == "" {
		s.Kind, s.Namespace, s.Name = KindSubscription, "default", "sub"
	}
	c, err := d.Start(context.Background(), b, testTopic, "g", s)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c.Stop(ctx)
	})
	return c
}

func publish(t testing.TB, b bus.Bus, evs ...*event.Event) {
	t.Helper()
	if err := b.Publish(context.Background(), testTopic, evs...); err != nil {
		t.Fatalf("Publish: %v", err)
	}
}

// newEvent returns a valid event with JSON data {"n":"<id>"}.
func newEvent(id string) *event.Event {
	e := event.New()
	e.SetID(id)
	e.SetSource("/dispatcher/test")
	e.SetType("dev.eddy.test.v1")
	if err := e.SetData(event.ApplicationJSON, map[string]string{"n": id}); err != nil {
		panic(err)
	}
	return &e
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// received is one request seen by a sink.
type received struct {
	ev     *event.Event
	header http.Header
	at     time.Time
	n      int // how many times the sink had seen this event id, this one included
}

// sink is an HTTP CloudEvents receiver that records what it gets and
// answers with respond (202 when respond is nil).
type sink struct {
	srv *httptest.Server
	url *url.URL

	mu      sync.Mutex
	got     []received
	byID    map[string]int
	bad     int
	respond func(w http.ResponseWriter, r *http.Request, rc received)
}

func newSink(t testing.TB, respond func(w http.ResponseWriter, r *http.Request, rc received)) *sink {
	s := &sink{byID: make(map[string]int), respond: respond}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	s.url = mustURL(s.srv.URL + "/events")
	return s
}

func (s *sink) serve(w http.ResponseWriter, r *http.Request) {
	ev, err := binding.ToEvent(r.Context(), cehttp.NewMessageFromHttpRequest(r))
	if err != nil || r.Method != http.MethodPost {
		s.mu.Lock()
		s.bad++
		s.mu.Unlock()
		http.Error(w, "not a CloudEvent", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.byID[ev.ID()]++
	rc := received{ev: ev, header: r.Header.Clone(), at: time.Now(), n: s.byID[ev.ID()]}
	s.got = append(s.got, rc)
	respond := s.respond
	s.mu.Unlock()
	if respond == nil {
		w.WriteHeader(http.StatusAccepted)
		return
	}
	respond(w, r, rc)
}

func (s *sink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.got)
}

func (s *sink) countID(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byID[id]
}

func (s *sink) all() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.got...)
}

func (s *sink) badRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bad
}

// status answers with a fixed status and body.
func status(code int, body string) func(http.ResponseWriter, *http.Request, received) {
	return func(w http.ResponseWriter, _ *http.Request, _ received) {
		w.WriteHeader(code)
		io.WriteString(w, body)
	}
}

// eventually polls cond until it holds or timeout passes.
func eventually(t testing.TB, timeout time.Duration, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for: %s", timeout, fmt.Sprintf(format, args...))
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// metric returns the value of the counter (or the sample count of the
// histogram) name whose labels include want, summed over matching series.
func metric(t testing.TB, reg *prometheus.Registry, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			labels := make(map[string]string)
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			for k, v := range want {
				if labels[k] != v {
					continue series
				}
			}
			switch {
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			case m.Histogram != nil:
				sum += float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return sum
}

// syncBuffer is a goroutine-safe buffer for captured logs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fastPolicy retries quickly.
func fastPolicy(retry int) Policy {
	return Policy{Retry: retry, BackoffPolicy: BackoffLinear, BackoffDelay: time.Millisecond, Timeout: 2 * time.Second}
}
