package channels_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/eventing"
	"github.com/eddyplatform/eddy/api/flows"
	"github.com/eddyplatform/eddy/api/messaging"
	"github.com/eddyplatform/eddy/control/reconciler"
	"github.com/eddyplatform/eddy/platform"
	"github.com/eddyplatform/eddy/platform/platformtest"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// env is a running platform with a client.
type env struct{ *platformtest.Env }

func start(t *testing.T) *env { return &env{platformtest.Start(t, platform.Config{})} }

// eventually polls cond for up to 30 seconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	platformtest.Eventually(t, what, 30*time.Second, cond)
}

// ready waits for an object's Ready condition to be True and returns it.
func (e *env) ready(t *testing.T, obj api.StatusObject, name string) {
	t.Helper()
	eventually(t, fmt.Sprintf("%T %s to be ready", obj, name), func() bool {
		if err := e.Client.Get(context.Background(), "default", name, obj); err != nil {
			return false
		}
		return obj.GetStatus().GetCondition(api.ConditionReady).IsTrue()
	})
}

// sink is an HTTP subscriber that records events and answers with respond.
type sink struct {
	*httptest.Server
	mu      sync.Mutex
	events  []*event.Event
	respond func(ev *event.Event, w http.ResponseWriter)
}

func newSink(t *testing.T, respond func(ev *event.Event, w http.ResponseWriter)) *sink {
	s := &sink{respond: respond}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ev, err := cehttp.NewEventFromHTTPRequest(r)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		s.mu.Lock()
		s.events = append(s.events, ev)
		s.mu.Unlock()
		if s.respond != nil {
			s.respond(ev, w)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *sink) ids() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, e := range s.events {
		out = append(out, e.ID())
	}
	return out
}

func (s *sink) count() int { return len(s.ids()) }

func send(t *testing.T, url, id, typ string, ext map[string]string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(`{"n":1}`))
	req.Header.Set("ce-specversion", "1.0")
	req.Header.Set("ce-id", id)
	req.Header.Set("ce-source", "/test")
	req.Header.Set("ce-type", typ)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range ext {
		req.Header.Set("ce-"+k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST %s: %d %s", url, resp.StatusCode, body)
	}
}

// reply answers with a new event in binary mode, derived from ev.
func reply(typ string) func(ev *event.Event, w http.ResponseWriter) {
	return func(ev *event.Event, w http.ResponseWriter) {
		w.Header().Set("ce-specversion", "1.0")
		w.Header().Set("ce-id", ev.ID()+"-"+typ)
		w.Header().Set("ce-source", "/replier")
		w.Header().Set("ce-type", typ)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(200)
		w.Write([]byte(`{"replied":true}`))
	}
}

func TestBrokerTriggersFilterAndReplyToBroker(t *testing.T) {
	e := start(t)
	greetings, all, sql, replies := newSink(t, reply("dev.eddy.reply")), newSink(t, nil), newSink(t, nil), newSink(t, nil)
	e.Apply(t, fmt.Sprintf(`
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: default}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: greetings}
spec:
  broker: default
  filter: {attributes: {type: dev.eddy.greeting}}
  subscriber: {uri: %q}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: all}
spec:
  broker: default
  subscriber: {uri: %q}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: sql}
spec:
  broker: default
  filters: [{cesql: "type LIKE 'dev.eddy.%%' AND priority > 5"}]
  subscriber: {uri: %q}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: replies}
spec:
  broker: default
  filters: [{exact: {type: dev.eddy.reply}}]
  subscriber: {uri: %q}
`, greetings.URL, all.URL, sql.URL, replies.URL))
	b := &eventing.Broker{}
	e.ready(t, b, "default")
	for _, n := range []string{"greetings", "all", "sql", "replies"} {
		e.ready(t, &eventing.Trigger{}, n)
	}
	addr := b.Status.AddressStatus.URL()
	if !strings.HasPrefix(addr, e.P.IngressURL+"/brokers/default/default") {
		t.Fatalf("broker address %q", addr)
	}
	send(t, addr, "g1", "dev.eddy.greeting", nil)
	send(t, addr, "o1", "dev.eddy.other", map[string]string{"priority": "9"})
	send(t, addr, "o2", "dev.eddy.other", map[string]string{"priority": "1"})

	eventually(t, "deliveries", func() bool {
		return greetings.count() == 1 && sql.count() == 1 && replies.count() == 1 && all.count() == 4
	})
	if got := strings.Join(greetings.ids(), ","); got != "g1" {
		t.Fatalf("greetings got %s", got)
	}
	if got := strings.Join(sql.ids(), ","); got != "o1" {
		t.Fatalf("cesql trigger got %s", got)
	}
	// The greeting subscriber's reply went back into the broker and on to the reply trigger.
	if got := strings.Join(replies.ids(), ","); got != "g1-dev.eddy.reply" {
		t.Fatalf("replies got %s", got)
	}
}

func TestTriggerWithoutBrokerSaysWhy(t *testing.T) {
	e := start(t)
	e.Apply(t, `
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: orphan}
spec:
  broker: nowhere
  subscriber: {uri: "http://127.0.0.1:1/"}
`)
	tr := &eventing.Trigger{}
	eventually(t, "trigger status", func() bool {
		if err := e.Client.Get(context.Background(), "default", "orphan", tr); err != nil {
			return false
		}
		c := tr.Status.GetCondition(api.ConditionReady)
		return c.IsFalse() && c.Reason == "BrokerDoesNotExist"
	})
	e.Apply(t, `
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata: {name: orphan}
spec:
  channel: {apiVersion: messaging.knative.dev/v1, kind: Channel, name: nowhere}
  subscriber: {uri: "http://127.0.0.1:1/"}
`)
	sub := &messaging.Subscription{}
	eventually(t, "subscription status", func() bool {
		if err := e.Client.Get(context.Background(), "default", "orphan", sub); err != nil {
			return false
		}
		c := sub.Status.GetCondition(api.ConditionReady)
		return c.IsFalse() && c.Reason == "ChannelNotFound"
	})
}

func TestChannelSubscriptionReplyAndDeadLetter(t *testing.T) {
	e := start(t)
	replier, final, failing, dls := newSink(t, reply("dev.eddy.reply")), newSink(t, nil), newSink(t, func(_ *event.Event, w http.ResponseWriter) {
		http.Error(w, "no such order", 400)
	}), newSink(t, nil)
	e.Apply(t, fmt.Sprintf(`
apiVersion: messaging.knative.dev/v1
kind: Channel
metadata: {name: orders}
---
apiVersion: messaging.knative.dev/v1
kind: InMemoryChannel
metadata: {name: replies}
---
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata: {name: replier}
spec:
  channel: {apiVersion: messaging.knative.dev/v1, kind: Channel, name: orders}
  subscriber: {uri: %q}
  reply: {ref: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: replies}}
---
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata: {name: final}
spec:
  channel: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: replies}
  subscriber: {uri: %q}
---
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata: {name: failing}
spec:
  channel: {apiVersion: messaging.knative.dev/v1, kind: Channel, name: orders}
  subscriber: {uri: %q}
  delivery:
    retry: 3
    backoffDelay: PT0.01S
    deadLetterSink: {uri: %q}
`, replier.URL, final.URL, failing.URL, dls.URL))
	ch := &messaging.Channel{}
	e.ready(t, ch, "orders")
	for _, n := range []string{"replier", "final", "failing"} {
		e.ready(t, &messaging.Subscription{}, n)
	}
	send(t, ch.Status.AddressStatus.URL(), "order-1", "dev.eddy.order", nil)
	eventually(t, "reply and dead letter", func() bool { return final.count() == 1 && dls.count() == 1 })
	if got := final.ids()[0]; got != "order-1-dev.eddy.reply" {
		t.Fatalf("reply chain delivered %s", got)
	}
	// A 400 is not retried: one attempt, then the dead-letter sink, with the error extensions.
	if n := failing.count(); n != 1 {
		t.Fatalf("the failing subscriber saw %d attempts, want 1 (400 is not retried)", n)
	}
	dl := dls.events[0]
	ext := dl.Extensions()
	if dl.ID() != "order-1" || ext["knativeerrorcode"] != "400" || !strings.HasPrefix(fmt.Sprint(ext["knativeerrordest"]), failing.URL) || ext["knativeerrordata"] == nil {
		t.Fatalf("dead letter %v", dl)
	}

	// Deleting a subscription removes it from the channel and stops its deliveries.
	if err := e.Client.Delete(context.Background(), &messaging.Subscription{ObjectMeta: metaOf("failing")}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "subscriber removed from the channel", func() bool {
		e.Client.Get(context.Background(), "default", "orders", ch)
		return len(ch.Spec.Subscribers) == 1 && len(ch.Status.Subscribers) == 1
	})
	send(t, ch.Status.AddressStatus.URL(), "order-2", "dev.eddy.order", nil)
	eventually(t, "second order replied", func() bool { return final.count() == 2 })
	if failing.count() != 1 {
		t.Fatal("a deleted subscription still receives events")
	}
}

func TestSequenceAndParallel(t *testing.T) {
	e := start(t)
	step1, step2, out := newSink(t, reply("step1")), newSink(t, reply("step2")), newSink(t, nil)
	pass, drop := newSink(t, func(ev *event.Event, w http.ResponseWriter) { reply(ev.Type())(ev, w) }), newSink(t, func(_ *event.Event, w http.ResponseWriter) { w.WriteHeader(204) })
	branchA, branchB, branchC := newSink(t, nil), newSink(t, nil), newSink(t, nil)
	e.Apply(t, fmt.Sprintf(`
apiVersion: flows.knative.dev/v1
kind: Sequence
metadata: {name: seq}
spec:
  steps:
  - uri: %q
  - uri: %q
  reply: {uri: %q}
---
apiVersion: flows.knative.dev/v1
kind: Parallel
metadata: {name: par}
spec:
  branches:
  - filter: {uri: %q}
    subscriber: {uri: %q}
  - filter: {uri: %q}
    subscriber: {uri: %q}
  - subscriber: {uri: %q}
`, step1.URL, step2.URL, out.URL, pass.URL, branchA.URL, drop.URL, branchB.URL, branchC.URL))
	s := &flows.Sequence{}
	e.ready(t, s, "seq")
	send(t, s.Status.AddressStatus.URL(), "s1", "start", nil)
	eventually(t, "sequence output", func() bool { return out.count() == 1 })
	if got := out.ids()[0]; got != "s1-step1-step2" {
		t.Fatalf("sequence produced %s", got)
	}

	p := &flows.Parallel{}
	e.ready(t, p, "par")
	send(t, p.Status.AddressStatus.URL(), "p1", "start", nil)
	eventually(t, "parallel branches", func() bool { return branchA.count() == 1 && branchC.count() == 1 })
	// Branch B's filter answered without an event: nothing passes to its subscriber.
	eventually(t, "branch B's filter saw the event", func() bool { return drop.count() == 1 })
	if branchB.count() != 0 {
		t.Fatalf("branch B received %v through a filter that dropped it", branchB.ids())
	}
}

func metaOf(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: "default", Name: name}
}

// A Broker records every (type, source) pair it accepts as an EventType, once.
func TestBrokerRecordsEventTypes(t *testing.T) {
	e := start(t)
	e.Apply(t, "apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: {name: seen}\n")
	b := &eventing.Broker{}
	e.ready(t, b, "seen")
	for i := range 3 {
		send(t, b.Status.AddressStatus.URL(), fmt.Sprint("a", i), "dev.eddy.order.created", nil)
	}
	send(t, b.Status.AddressStatus.URL(), "b", "dev.eddy.order.shipped", nil)
	eventually(t, "two event types", func() bool {
		ets, _ := reconciler.List[*eventing.EventType](context.Background(), e.Client, "default", nil)
		got := map[string]bool{}
		for _, et := range ets {
			if et.Spec.Reference == nil || et.Spec.Reference.Name != "seen" || et.Spec.Source != "/test" {
				t.Fatalf("event type %+v", et.Spec)
			}
			got[et.Spec.Type] = true
		}
		return len(ets) == 2 && got["dev.eddy.order.created"] && got["dev.eddy.order.shipped"]
	})
	eventually(t, "the event types to be ready (their broker exists)", func() bool {
		ets, _ := reconciler.List[*eventing.EventType](context.Background(), e.Client, "default", nil)
		for _, et := range ets {
			if !et.Status.IsReady() {
				return false
			}
		}
		return len(ets) == 2
	})
}
