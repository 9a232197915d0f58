package dispatcher

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/eddyplatform/eddy/bus"
)

var owner = map[string]string{"kind": KindSubscription, "namespace": "default", "name": "sub"}

func TestDeliverySuccess(t *testing.T) {
	b := newBus(t)
	d, reg := newDispatcher(t, Config{})
	s := newSink(t, nil)
	start(t, d, b, Subscriber{SubscriberURI: s.url, Policy: fastPolicy(3)})

	ev := newEvent("e-1")
	ev.SetSubject("subj")
	ev.SetExtension("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	ev.SetExtension("tracestate", "congo=t61rcWkgMzE")
	ev.SetExtension("myext", "v")
	publish(t, b, ev)

	eventually(t, 10*time.Second, func() bool { return metric(t, reg, "eddy_dispatcher_events_delivered_total", owner) == 1 }, "delivered = 1")
	got := s.all()
	if len(got) != 1 {
		t.Fatalf("sink got %d requests, want 1", len(got))
	}
	h := got[0].header
	for k, want := range map[string]string{
		"Ce-Id":          "e-1",
		"Ce-Specversion": "1.0",
		"Ce-Type":        "dev.eddy.test.v1",
		"Ce-Source":      "/dispatcher/test",
		"Ce-Subject":     "subj",
		"Ce-Myext":       "v",
		"Content-Type":   "application/json",
		"Traceparent":    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
		"Tracestate":     "congo=t61rcWkgMzE",
		"Prefer":         "reply",
	} {
		if v := h.Get(k); v != want {
			t.Errorf("header %s = %q, want %q (binary mode)", k, v, want)
		}
	}
	if string(got[0].ev.Data()) != string(ev.Data()) {
		t.Errorf("data = %s, want %s", got[0].ev.Data(), ev.Data())
	}
	if tp := got[0].ev.Extensions()["traceparent"]; tp != "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" {
		t.Errorf("traceparent extension = %v, want it unchanged", tp)
	}
	if n := metric(t, reg, "eddy_dispatcher_delivery_duration_seconds", map[string]string{"outcome": "delivered"}); n != 1 {
		t.Errorf("delivery latency samples = %v, want 1", n)
	}
	if n := metric(t, reg, "eddy_dispatcher_attempt_duration_seconds", map[string]string{"destination": "subscriber"}); n != 1 {
		t.Errorf("attempt latency samples = %v, want 1", n)
	}
	if n := metric(t, reg, "eddy_dispatcher_attempts_failed_total", nil); n != 0 {
		t.Errorf("failed attempts = %v, want 0", n)
	}
}

func TestRetryThenSuccess(t *testing.T) {
	b := newBus(t)
	d, reg := newDispatcher(t, Config{})
	s := newSink(t, func(w http.ResponseWriter, _ *http.Request, rc received) {
		switch rc.n {
		case 1:
			w.WriteHeader(http.StatusServiceUnavailable)
		case 2:
			w.WriteHeader(http.StatusNotFound)
		default:
			w.WriteHeader(http.StatusOK)
		}
	})
	dls := newSink(t, nil)
	start(t, d, b, Subscriber{SubscriberURI: s.url, DeadLetterURI: dls.url, Policy: fastPolicy(5)})
	publish(t, b, newEvent("e-1"))

	eventually(t, 10*time.Second, func() bool { return metric(t, reg, "eddy_dispatcher_events_delivered_total", owner) == 1 }, "delivered = 1")
	if n := s.countID("e-1"); n != 3 {
		t.Errorf("subscriber saw %d attempts, want 3", n)
	}
	if n := metric(t, reg, "eddy_dispatcher_attempts_failed_total", map[string]string{"destination": "subscriber"}); n != 2 {
		t.Errorf("failed attempts = %v, want 2", n)
	}
	if n := metric(t, reg, "eddy_dispatcher_retries_total", map[string]string{"destination": "subscriber"}); n != 2 {
		t.Errorf("retries = %v, want 2", n)
	}
	if dls.count() != 0 {
		t.Errorf("dead-letter sink got %d events, want 0", dls.count())
	}
}

// assertDeadLetter checks the knativeerror* extensions of a dead-lettered event.
func assertDeadLetter(t *testing.T, got received, id, dest, code, body string) {
	t.Helper()
	ext := got.ev.Extensions()
	if got.ev.ID() != id {
		t.Errorf("dead letter id = %q, want the original %q", got.ev.ID(), id)
	}
	if v := fmt.Sprint(ext[ErrorDestExtension]); v != dest {
		t.Errorf("knativeerrordest = %q, want %q", v, dest)
	}
	if code == "" {
		if v, ok := ext[ErrorCodeExtension]; ok {
			t.Errorf("knativeerrorcode = %v, want none", v)
		}
	} else if v := fmt.Sprint(ext[ErrorCodeExtension]); v != code {
		t.Errorf("knativeerrorcode = %q, want %q", v, code)
	}
	if body != "" {
		data, err := base64.StdEncoding.DecodeString(fmt.Sprint(ext[ErrorDataExtension]))
		if err != nil || string(data) != body {
			t.Errorf("knativeerrordata = %v (decoded %q, %v), want base64 of %q", ext[ErrorDataExtension], data, err, body)
		}
	}
	if want := fmt.Sprintf(`{"n":%q}`, id); string(got.ev.Data()) != want {
		t.Errorf("dead letter data = %s, want the original %s", got.ev.Data(), want)
	}
}

func TestNonRetriableGoesToDeadLetterSink(t *testing.T) {
	b := newBus(t)
	d, reg := newDispatcher(t, Config{})
	s := newSink(t, status(http.StatusBadRequest, "field x is missing"))
	dls := newSink(t, nil)
	start(t, d, b, Subscriber{SubscriberURI: s.url, DeadLetterURI: dls.url, Policy: fastPolicy(5)})
	publish(t, b, newEvent("e-1"))

	eventually(t, 10*time.Second, func() bool { return metric(t, reg, "eddy_dispatcher_events_dead_lettered_total", owner) == 1 }, "dead-lettered = 1")
	if n := s.countID("e-1"); n != 1 {
		t.Errorf("subscriber saw %d attempts, want 1 (400 is not retried)", n)
	}
	got := dls.all()
	if len(got) != 1 {
		t.Fatalf("dead-letter sink got %d events, want 1", len(got))
	}
	assertDeadLetter(t, got[0], "e-1", s.url.String(), "400", "field x is missing")
	if got[0].header.Get("Prefer") != "" {
		t.Errorf("dead-letter request has Prefer: %q, want none", got[0].header.Get("Prefer"))
	}
	if n := metric(t, reg, "eddy_dispatcher_retries_total", nil); n != 0 {
		t.Errorf("retries = %v, want 0", n)
	}
}

func TestRetriesExhaustedGoToDeadLetterSink(t *testing.T) {
	b := newBus(t)
	d, reg := newDispatcher(t, Config{})
	long := strings.Repeat("x", 3000)
	s := newSink(t, status(http.StatusInternalServerError, long))
	dls := newSink(t, nil)
	start(t, d, b, Subscriber{SubscriberURI: s.url, DeadLetterURI: dls.url, Policy: fastPolicy(2)})
	publish(t, b, newEvent("e-1"))

	eventually(t, 10*time.Second, func() bool { return dls.count() == 1 }, "dead letter")
	if n := s.countID("e-1"); n != 3 {
		t.Errorf("subscriber saw %d attempts, want 3 (1 + 2 retries)", n)
	}
	assertDeadLetter(t, dls.all()[0], "e-1", s.url.String(), "500", long[:MaxErrorDataBytes])
	eventually(t, 5*time.Second, func() bool { return metric(t, reg, "eddy_dispatcher_events_dead_lettered_total", owner) == 1 }, "dead-lettered = 1")
	if n := metric(t, reg, "eddy_dispatcher_retries_total", map[string]string{"destination": "subscriber"}); n != 2 {
		t.Errorf("retries = %v, want 2", n)
	}
}

func TestNetworkErrorGoesToDeadLetterSinkWithoutCode(t *testing.T) {
	b := newBus(t)
	d, _ := newDispatcher(t, Config{})
	gone := newSink(t, nil)
	gone.srv.Close() // connection refused
	dls := newSink(t, nil)
	start(t, d, b, Subscriber{SubscriberURI: gone.url, DeadLetterURI: dls.url, Policy: fastPolicy(1)})
	publish(t, b, newEvent("e-1"))
	eventually(t, 10*time.Second, func() bool { return dls.count() == 1 }, "dead letter")
	got := dls.all()[0]
	assertDeadLetter(t, got, "e-1", gone.url.String(), "", "")
	data, _ := base64.StdEncoding.DecodeString(fmt.Sprint(got.ev.Extensions()[ErrorDataExtension]))
	if !strings.HasPrefix(string(data), "dispatch error: ") {
		t.Errorf("knativeerrordata = %q, want the dispatch error", data)
	}
}

func TestTimeoutIsRetried(t *testing.T) {
	b := newBus(t)
	d, reg := newDispatcher(t, Config{})
	s := newSink(t, func(w http.ResponseWriter, r *http.Request, rc received) {
		if rc.n == 1 {
			<-r.Context().Done() // stall past the attempt timeout
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
	p := fastPolicy(2)
	p.Timeout = 100 * time.Millisecond
	start(t, d, b, Subscriber{SubscriberURI: s.url, Policy: p})
	publish(t, b, newEvent("e-1"))
	eventually(t, 10*time.Second, func() bool { return metric(t, reg, "eddy_dispatcher_events_delivered_total", owner) == 1 }, "delivered = 1")
	if n := s.countID("e-1"); n < 2 {
		t.Errorf("subscriber saw %d attempts, want 2 (more only if the machine is too slow for 100ms)", n)
	}
	if n := metric(t, reg, "eddy_dispatcher_attempts_failed_total", owner); n < 1 {
		t.Errorf("failed attempts = %v, want the timed-out one", n)
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	b := newBus(t)
	d, _ := newDispatcher(t, Config{})
	s := newSink(t, func(w http.ResponseWriter, _ *http.Request, rc received) {
		if rc.n == 1 {
			w.Header().Set("Retry-After", "30") // capped by RetryAfterMax
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
	capped := 300 * time.Millisecond
	p := fastPolicy(1)
	p.RetryAfterMax = &capped
	start(t, d, b, Subscriber{SubscriberURI: s.url, Policy: p})
	publish(t, b, newEvent("e-1"))
	eventually(t, 10*time.Second, func() bool { return s.count() == 2 }, "second attempt")
	got := s.all()
	if gap := got[1].at.Sub(got[0].at); gap < capped || gap > 10*time.Second {
		t.Errorf("retry came %v after the 429, want about %v (Retry-After capped by RetryAfterMax)", gap, capped)
	}
}

func TestDeadLetterSinkDownIsNackedAndRedelivered(t *testing.T) {
	b := newBus(t)
	d, reg := newDispatcher(t, Config{RedeliveryDelay: 5 * time.Millisecond, MaxRedeliveryDelay: 20 * time.Millisecond})
	s := newSink(t, status(http.StatusBadRequest, "no"))
	var dlsUp atomic.Bool
	var accepted atomic.Int32
	dls := newSink(t, func(w http.ResponseWriter, _ *http.Request, _ received) {
		if !dlsUp.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		accepted.Add(1)
		w.WriteHeader(http.StatusAccepted)
	})
	c := start(t, d, b, Subscriber{SubscriberURI: s.url, DeadLetterURI: dls.url, Policy: fastPolicy(1)})
	publish(t, b, newEvent("e-1"))

	// Each bus delivery: one subscriber attempt (400), two DLS attempts, nack.
	eventually(t, 10*time.Second, func() bool {
		return metric(t, reg, "eddy_dispatcher_events_nacked_total", owner) >= 2 && s.countID("e-1") >= 3
	}, "the event nacked and redelivered at least twice")
	if n := accepted.Load(); n != 0 {
		t.Fatalf("DLS accepted %d while down", n)
	}
	dlsUp.Store(true)
	eventually(t, 10*time.Second, func() bool { return metric(t, reg, "eddy_dispatcher_events_dead_lettered_total", owner) == 1 }, "dead-lettered once the DLS is up")
	if err := c.Stop(context.Background()); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if n := accepted.Load(); n != 1 {
		t.Errorf("DLS accepted the event %d times after coming up, want exactly 1", n)
	}
	t.Logf("subscriber attempts %d, DLS attempts %d (accepted %d), nacks %v",
		s.countID("e-1"), dls.countID("e-1"), accepted.Load(), metric(t, reg, "eddy_dispatcher_events_nacked_total", owner))
}

func TestNoDeadLetterSinkDropsVisibly(t *testing.T) {
	b := newBus(t)
	var logs syncBuffer
	var mu sync.Mutex
	var drops []Dropped
	d, reg := newDispatcher(t, Config{
		Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
		OnDrop: func(dr Dropped) { mu.Lock(); drops = append(drops, dr); mu.Unlock() },
	})
	s := newSink(t, status(http.StatusInternalServerError, "boom"))
	start(t, d, b, Subscriber{Kind: KindTrigger, Namespace: "ns1", Name: "tr1", SubscriberURI: s.url, Policy: fastPolicy(1)})
	ev := newEvent("e-drop")
	if err := ev.SetData(event.ApplicationJSON, map[string]string{"secret": "s3cr3t-payload"}); err != nil {
		t.Fatal(err)
	}
	publish(t, b, ev)

	trigger := map[string]string{"kind": KindTrigger, "namespace": "ns1", "name": "tr1"}
	eventually(t, 10*time.Second, func() bool { return metric(t, reg, "eddy_dispatcher_events_dropped_total", trigger) == 1 }, "dropped = 1")
	eventually(t, 5*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(drops) == 1 }, "OnDrop called")
	mu.Lock()
	dr := drops[0]
	mu.Unlock()
	want := Dropped{Kind: KindTrigger, Namespace: "ns1", Name: "tr1", EventID: "e-drop", EventType: "dev.eddy.test.v1",
		EventSource: "/dispatcher/test", Destination: s.url.String(), StatusCode: 500, Attempts: 2}
	if dr.Reason == "" {
		t.Errorf("Dropped.Reason is empty")
	}
	dr.Reason = ""
	if dr != want {
		t.Errorf("Dropped = %+v, want %+v", dr, want)
	}
	if n := s.countID("e-drop"); n != 2 {
		t.Errorf("subscriber saw %d attempts, want 2", n)
	}
	out := logs.String()
	for _, want := range []string{`"level":"WARN"`, `"event_id":"e-drop"`, `"event_type":"dev.eddy.test.v1"`, `"event_source":"/dispatcher/test"`} {
		if !strings.Contains(out, want) {
			t.Errorf("warn log lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, "s3cr3t") {
		t.Errorf("log contains the event data:\n%s", out)
	}
}

// replyWith answers 200 with a reply event in binary or structured mode.
func replyWith(structured bool) func(http.ResponseWriter, *http.Request, received) {
	return func(w http.ResponseWriter, r *http.Request, rc received) {
		reply := event.New()
		reply.SetID("reply-of-" + rc.ev.ID())
		reply.SetSource("/replier")
		reply.SetType("dev.eddy.test.reply.v1")
		reply.SetData(event.ApplicationJSON, map[string]string{"re": rc.ev.ID()})
		ctx := r.Context()
		if structured {
			ctx = binding.WithForceStructured(ctx)
		}
		if err := cehttp.WriteResponseWriter(ctx, binding.ToMessage(&reply), http.StatusOK, w); err != nil {
			panic(err)
		}
	}
}

func TestReplyIsForwarded(t *testing.T) {
	for _, structured := range []bool{false, true} {
		t.Run(fmt.Sprintf("structured=%v", structured), func(t *testing.T) {
			b := newBus(t)
			d, reg := newDispatcher(t, Config{})
			s := newSink(t, replyWith(structured))
			replies := newSink(t, nil)
			dls := newSink(t, nil)
			start(t, d, b, Subscriber{SubscriberURI: s.url, ReplyURI: replies.url, DeadLetterURI: dls.url, Policy: fastPolicy(2)})
			ev := newEvent("e-1")
			ev.SetExtension("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
			publish(t, b, ev)

			eventually(t, 10*time.Second, func() bool { return metric(t, reg, "eddy_dispatcher_events_delivered_total", owner) == 1 }, "delivered = 1")
			got := replies.all()
			if len(got) != 1 || got[0].ev.ID() != "reply-of-e-1" || got[0].ev.Type() != "dev.eddy.test.reply.v1" {
				t.Fatalf("reply sink got %v, want the one reply", got)
			}
			if string(got[0].ev.Data()) != `{"re":"e-1"}` {
				t.Errorf("reply data = %s", got[0].ev.Data())
			}
			if tp := got[0].header.Get("Traceparent"); tp != "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" {
				t.Errorf("reply traceparent = %q, want the original's", tp)
			}
			if got[0].header.Get("Prefer") != "" {
				t.Errorf("reply request has a Prefer header")
			}
			if n := metric(t, reg, "eddy_dispatcher_replies_sent_total", owner); n != 1 {
				t.Errorf("replies sent = %v, want 1", n)
			}
			if dls.count() != 0 {
				t.Errorf("dead-letter sink got %d events, want 0: a reply never goes to the DLS", dls.count())
			}
		})
	}
}

func TestAcceptedBodyIsNotAReply(t *testing.T) {
	b := newBus(t)
	d, reg := newDispatcher(t, Config{})
	// 202 with an event: never a reply.
	s := newSink(t, func(w http.ResponseWriter, r *http.Request, rc received) {
		reply := event.New()
		reply.SetID("r")
		reply.SetSource("/x")
		reply.SetType("t")
		cehttp.WriteResponseWriter(r.Context(), binding.ToMessage(&reply), http.StatusAccepted, w)
	})
	replies := newSink(t, nil)
	start(t, d, b, Subscriber{SubscriberURI: s.url, ReplyURI: replies.url, Policy: fastPolicy(0)})
	publish(t, b, newEvent("e-1"))
	eventually(t, 10*time.Second, func() bool { return metric(t, reg, "eddy_dispatcher_events_delivered_total", owner) == 1 }, "delivered = 1")
	if replies.count() != 0 {
		t.Errorf("a 202 body was forwarded as a reply")
	}
}

func TestMalformedReplyGoesToDeadLetterSink(t *testing.T) {
	b := newBus(t)
	d, reg := newDispatcher(t, Config{})
	s := newSink(t, func(w http.ResponseWriter, _ *http.Request, _ received) {
		w.Header().Set("Ce-Specversion", "1.0") // a binary event without id, source, type
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "half an event")
	})
	replies := newSink(t, nil)
	dls := newSink(t, nil)
	start(t, d, b, Subscriber{SubscriberURI: s.url, ReplyURI: replies.url, DeadLetterURI: dls.url, Policy: fastPolicy(3)})
	publish(t, b, newEvent("e-1"))
	eventually(t, 10*time.Second, func() bool { return metric(t, reg, "eddy_dispatcher_events_dead_lettered_total", owner) == 1 }, "dead-lettered")
	if n := s.countID("e-1"); n != 1 {
		t.Errorf("subscriber saw %d attempts, want 1 (a malformed reply is not retried)", n)
	}
	assertDeadLetter(t, dls.all()[0], "e-1", s.url.String(), "200", "half an event")
	if replies.count() != 0 {
		t.Errorf("reply sink got %d", replies.count())
	}
}

func TestReplyFailureSendsOriginalToDeadLetterSink(t *testing.T) {
	b := newBus(t)
	d, reg := newDispatcher(t, Config{})
	s := newSink(t, replyWith(false))
	replies := newSink(t, status(http.StatusBadGateway, "reply target down"))
	dls := newSink(t, nil)
	start(t, d, b, Subscriber{SubscriberURI: s.url, ReplyURI: replies.url, DeadLetterURI: dls.url, Policy: fastPolicy(1)})
	publish(t, b, newEvent("e-1"))

	eventually(t, 10*time.Second, func() bool { return metric(t, reg, "eddy_dispatcher_events_dead_lettered_total", owner) == 1 }, "dead-lettered")
	if n := replies.countID("reply-of-e-1"); n != 2 {
		t.Errorf("reply sink saw %d attempts, want 2", n)
	}
	if n := s.countID("e-1"); n != 1 {
		t.Errorf("subscriber saw %d attempts, want 1", n)
	}
	got := dls.all()
	if len(got) != 1 {
		t.Fatalf("dead-letter sink got %d events, want 1", len(got))
	}
	assertDeadLetter(t, got[0], "e-1", replies.url.String(), "502", "reply target down")
	if n := metric(t, reg, "eddy_dispatcher_replies_sent_total", owner); n != 0 {
		t.Errorf("replies sent = %v, want 0", n)
	}
	if n := metric(t, reg, "eddy_dispatcher_attempts_failed_total", map[string]string{"destination": "reply"}); n != 2 {
		t.Errorf("failed reply attempts = %v, want 2", n)
	}
}

func TestReplyOnlySubscription(t *testing.T) {
	b := newBus(t)
	d, reg := newDispatcher(t, Config{})
	replies := newSink(t, nil)
	start(t, d, b, Subscriber{ReplyURI: replies.url, Policy: fastPolicy(0)})
	publish(t, b, newEvent("e-1"))
	eventually(t, 10*time.Second, func() bool { return metric(t, reg, "eddy_dispatcher_events_delivered_total", owner) == 1 }, "delivered")
	if n := replies.countID("e-1"); n != 1 {
		t.Errorf("reply sink got the event %d times, want 1", n)
	}
}

func TestFilterSkips(t *testing.T) {
	b := newBus(t)
	d, reg := newDispatcher(t, Config{})
	s := newSink(t, nil)
	start(t, d, b, Subscriber{
		SubscriberURI: s.url, Policy: fastPolicy(0),
		Filter: func(e *event.Event) bool {
			if e.ID() == "panic" {
				panic("filter bug")
			}
			return e.Type() == "wanted"
		},
	})
	var evs []*event.Event
	for i := range 10 {
		e := newEvent(fmt.Sprintf("e-%d", i))
		if i%2 == 0 {
			e.SetType("wanted")
		}
		evs = append(evs, e)
	}
	evs = append(evs, newEvent("panic"))
	publish(t, b, evs...)
	eventually(t, 10*time.Second, func() bool {
		return metric(t, reg, "eddy_dispatcher_events_delivered_total", owner) == 5 &&
			metric(t, reg, "eddy_dispatcher_events_filtered_total", owner) == 6
	}, "5 delivered, 6 filtered")
	for _, rc := range s.all() {
		if rc.ev.Type() != "wanted" {
			t.Errorf("filtered-out event %s was delivered", rc.ev.ID())
		}
	}
}

func TestOrderedModeOneInFlightPerKey(t *testing.T) {
	const keys, perKey = 4, 25
	b := newBus(t)
	d, _ := newDispatcher(t, Config{})
	var (
		mu          sync.Mutex
		inflight    = map[string]int{}
		maxPerKey   int
		total, maxT int
		order       = map[string][]int{}
	)
	// The first event of key k0 waits (up to 5s) for another key's event to
	// be in flight: ordering by key must not serialise the whole consumer.
	otherKey := make(chan struct{})
	var otherOnce sync.Once
	s := newSink(t, func(w http.ResponseWriter, _ *http.Request, rc received) {
		key := fmt.Sprint(rc.ev.Extensions()[bus.PartitionKeyExtension])
		var seq int
		fmt.Sscan(fmt.Sprint(rc.ev.Extensions()["seq"]), &seq)
		mu.Lock()
		inflight[key]++
		total++
		maxPerKey = max(maxPerKey, inflight[key])
		maxT = max(maxT, total)
		order[key] = append(order[key], seq)
		mu.Unlock()
		if key == "k0" && seq == 0 {
			select {
			case <-otherKey:
			case <-time.After(5 * time.Second):
			}
		} else if key != "k0" {
			otherOnce.Do(func() { close(otherKey) })
		}
		time.Sleep(time.Millisecond) // widen the window for overlaps
		mu.Lock()
		inflight[key]--
		total--
		mu.Unlock()
		// Some failures: a retried event must still hold its key.
		if seq%7 == 3 && rc.n == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
	start(t, d, b, Subscriber{SubscriberURI: s.url, Ordered: true, MaxInFlight: 16, Policy: fastPolicy(3)})
	var evs []*event.Event
	for i := range perKey {
		for k := range keys {
			e := newEvent(fmt.Sprintf("k%d-%d", k, i))
			e.SetExtension(bus.PartitionKeyExtension, fmt.Sprintf("k%d", k))
			e.SetExtension("seq", fmt.Sprint(i))
			evs = append(evs, e)
		}
	}
	publish(t, b, evs...)
	eventually(t, 30*time.Second, func() bool { return s.count() == keys*perKey+keys*((perKey+3)/7) }, "all events delivered")
	mu.Lock()
	defer mu.Unlock()
	if maxPerKey != 1 {
		t.Errorf("max in flight for one key = %d, want 1", maxPerKey)
	}
	if maxT < 2 {
		t.Errorf("max in flight overall = %d, want > 1: keys must not wait for each other", maxT)
	}
	for k, seqs := range order {
		// Attempts of one event are adjacent; first attempts are in order.
		var firsts []int
		for i, s := range seqs {
			if i == 0 || seqs[i-1] != s {
				firsts = append(firsts, s)
			}
		}
		for i, s := range firsts {
			if s != i {
				t.Errorf("key %s: delivery order %v, want 0..%d in order", k, firsts, perKey-1)
				break
			}
		}
	}
}

func TestMaxInFlightRespected(t *testing.T) {
	const limit, n = 3, 40
	b := newBus(t)
	d, _ := newDispatcher(t, Config{})
	var cur, peak atomic.Int32
	reached := make(chan struct{})
	var once sync.Once
	s := newSink(t, func(w http.ResponseWriter, _ *http.Request, _ received) {
		v := cur.Add(1)
		for {
			p := peak.Load()
			if v <= p || peak.CompareAndSwap(p, v) {
				break
			}
		}
		if v >= limit {
			once.Do(func() { close(reached) })
		}
		// Hold the request until the limit was reached once (or briefly):
		// the peak is then exactly what the dispatcher allows.
		select {
		case <-reached:
			time.Sleep(time.Millisecond)
		case <-time.After(2 * time.Second):
		}
		cur.Add(-1)
		w.WriteHeader(http.StatusAccepted)
	})
	start(t, d, b, Subscriber{SubscriberURI: s.url, MaxInFlight: limit, Policy: fastPolicy(0)})
	var evs []*event.Event
	for i := range n {
		evs = append(evs, newEvent(fmt.Sprintf("e-%d", i)))
	}
	publish(t, b, evs...)
	eventually(t, 30*time.Second, func() bool { return s.count() == n }, "all delivered")
	if p := peak.Load(); p != limit {
		t.Errorf("peak concurrency at the subscriber = %d, want %d", p, limit)
	}
}

func TestUpdateSwapsSubscriberLive(t *testing.T) {
	b := newBus(t)
	d, reg := newDispatcher(t, Config{})
	release := make(chan struct{})
	var releaseOnce sync.Once
	a := newSink(t, func(w http.ResponseWriter, _ *http.Request, rc received) {
		if rc.ev.ID() == "held" {
			<-release // in flight across the Update, then fails: its retry goes to B
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
	bs := newSink(t, nil)
	sub := Subscriber{Kind: KindSubscription, Namespace: "default", Name: "sub", SubscriberURI: a.url, Policy: fastPolicy(3)}
	c := start(t, d, b, sub)
	publish(t, b, newEvent("before"), newEvent("held"))
	eventually(t, 10*time.Second, func() bool { return a.countID("before") == 1 && a.countID("held") == 1 }, "A got the first events")

	sub.SubscriberURI = bs.url
	if err := c.Update(sub); err != nil {
		t.Fatalf("Update: %v", err)
	}
	if got := c.Subscriber().SubscriberURI.String(); got != bs.url.String() {
		t.Errorf("Subscriber().SubscriberURI = %s, want %s", got, bs.url)
	}
	releaseOnce.Do(func() { close(release) })
	publish(t, b, newEvent("after"))
	eventually(t, 10*time.Second, func() bool { return metric(t, reg, "eddy_dispatcher_events_delivered_total", owner) == 3 }, "3 delivered")
	if bs.countID("after") != 1 || bs.countID("held") != 1 || a.countID("after") != 0 {
		t.Errorf("after Update: B got after=%d held=%d, A got after=%d; want 1, 1, 0",
			bs.countID("after"), bs.countID("held"), a.countID("after"))
	}

	for _, change := range []func(*Subscriber){
		func(s *Subscriber) { s.Ordered = true },
		func(s *Subscriber) { s.MaxInFlight = 7 },
		func(s *Subscriber) { s.Name = "other" },
	} {
		s2 := sub
		change(&s2)
		if err := c.Update(s2); !errors.Is(err, ErrNotLive) {
			t.Errorf("Update changing a fixed field = %v, want ErrNotLive", err)
		}
	}
	if err := c.Update(Subscriber{Kind: sub.Kind}); err == nil {
		t.Errorf("Update with an invalid subscriber succeeded")
	}
}

func TestStopLeavesCleanly(t *testing.T) {
	const n = 20
	b := newBus(t)
	d, _ := newDispatcher(t, Config{})
	entered := make(chan struct{}, n)
	release := make(chan struct{})
	var releaseOnce sync.Once
	first := newSink(t, func(w http.ResponseWriter, _ *http.Request, _ received) {
		entered <- struct{}{}
		<-release
		w.WriteHeader(http.StatusAccepted)
	})
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
	c, err := d.Start(context.Background(), b, testTopic, "g", Subscriber{Kind: "subscription", Name: "a", SubscriberURI: first.url, MaxInFlight: 4, Policy: fastPolicy(0)})
	if err != nil {
		t.Fatal(err)
	}
	var evs []*event.Event
	for i := range n {
		evs = append(evs, newEvent(fmt.Sprintf("e-%02d", i)))
	}
	publish(t, b, evs...)
	for range 4 {
		<-entered
	}
	stopped := make(chan error, 1)
	go func() { stopped <- c.Stop(context.Background()) }()
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned (%v) while attempts were on the wire", err)
	case <-time.After(50 * time.Millisecond):
	}
	releaseOnce.Do(func() { close(release) })
	if err := <-stopped; err != nil {
		t.Fatalf("Stop: %v", err)
	}
	select {
	case <-c.Done():
	default:
		t.Fatal("Done not closed after Stop")
	}
	if c.Err() != nil {
		t.Errorf("Err after Stop = %v, want nil", c.Err())
	}
	if got := first.count(); got != 4 {
		t.Errorf("first consumer delivered %d, want the 4 in flight", got)
	}
	// The rest went back to the group: a new member gets them.
	second := newSink(t, nil)
	start(t, d, b, Subscriber{SubscriberURI: second.url, Policy: fastPolicy(0)})
	eventually(t, 10*time.Second, func() bool { return first.count()+second.count() >= n }, "every event delivered by one of the members")
	for _, e := range evs {
		if first.countID(e.ID())+second.countID(e.ID()) == 0 {
			t.Errorf("event %s lost", e.ID())
		}
	}
}

func TestStopWithExpiredContextNacks(t *testing.T) {
	b := newBus(t)
	d, _ := newDispatcher(t, Config{})
	entered := make(chan struct{}, 1)
	stuck := newSink(t, func(w http.ResponseWriter, r *http.Request, _ received) {
		entered <- struct{}{}
		<-r.Context().Done()
	})
	c, err := d.Start(context.Background(), b, testTopic, "g", Subscriber{Kind: "subscription", Name: "a", SubscriberURI: stuck.url, Policy: Policy{Timeout: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	publish(t, b, newEvent("e-1"))
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := c.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Stop = %v, want DeadlineExceeded", err)
	}
	second := newSink(t, nil)
	start(t, d, b, Subscriber{SubscriberURI: second.url, Policy: fastPolicy(0)})
	eventually(t, 10*time.Second, func() bool { return second.countID("e-1") == 1 }, "the cancelled delivery handed back to the group")
}

func TestConsumerEndsWithTheSubscription(t *testing.T) {
	b := newBus(t)
	d, _ := newDispatcher(t, Config{})
	s := newSink(t, nil)
	c := start(t, d, b, Subscriber{SubscriberURI: s.url, Policy: fastPolicy(0)})
	if err := b.DeleteTopic(context.Background(), testTopic); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("consumer still running after its topic was deleted")
	}
	if !errors.Is(c.Err(), bus.ErrTopicNotFound) {
		t.Errorf("Err = %v, want ErrTopicNotFound", c.Err())
	}
	if _, err := d.Start(context.Background(), b, testTopic, "g", Subscriber{Kind: "k", SubscriberURI: s.url}); !errors.Is(err, bus.ErrTopicNotFound) {
		t.Errorf("Start on a missing topic = %v, want ErrTopicNotFound", err)
	}
}

func TestStartContextBoundsTheConsumer(t *testing.T) {
	b := newBus(t)
	d, _ := newDispatcher(t, Config{})
	s := newSink(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	c, err := d.Start(ctx, b, testTopic, "g", Subscriber{Kind: "k", SubscriberURI: s.url})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("consumer still running after its Start context ended")
	}
	if c.Err() != nil {
		t.Errorf("Err = %v, want nil", c.Err())
	}
}

func TestMetricsAreRegisteredAndReleased(t *testing.T) {
	b := newBus(t)
	d, reg := newDispatcher(t, Config{})
	s := newSink(t, nil)
	c := start(t, d, b, Subscriber{SubscriberURI: s.url})
	publish(t, b, newEvent("e-1"))
	eventually(t, 10*time.Second, func() bool { return metric(t, reg, "eddy_dispatcher_events_delivered_total", owner) == 1 }, "delivered")
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	for _, n := range []string{
		"eddy_dispatcher_events_delivered_total", "eddy_dispatcher_attempts_failed_total", "eddy_dispatcher_retries_total",
		"eddy_dispatcher_events_dead_lettered_total", "eddy_dispatcher_events_dropped_total", "eddy_dispatcher_replies_sent_total",
		"eddy_dispatcher_events_filtered_total", "eddy_dispatcher_events_nacked_total",
		"eddy_dispatcher_delivery_duration_seconds", "eddy_dispatcher_attempt_duration_seconds",
	} {
		if !names[n] {
			t.Errorf("metric %s not exported", n)
		}
	}
	if err := c.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if v := metric(t, reg, "eddy_dispatcher_events_delivered_total", owner); v != 0 {
		t.Errorf("series still exported after the last consumer stopped")
	}
	if _, err := New(Config{Registerer: reg}); err == nil {
		t.Errorf("New registering the same metrics twice succeeded")
	}
}
