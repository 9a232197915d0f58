package ingress_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/eddyplatform/eddy/bus"
	"github.com/eddyplatform/eddy/bus/stub"
	"github.com/eddyplatform/eddy/channels/ingress"
)

// resolver maps channel and broker names to topics of one bus.
type resolver struct {
	b      bus.Bus
	topics map[string]string
}

func (r resolver) Resolve(kind, ns, name string) (ingress.Target, bool) {
	t, ok := r.topics[kind+"/"+ns+"/"+name]
	return ingress.Target{Bus: r.b, Topic: t}, ok
}

type fixture struct {
	srv *httptest.Server
	bus *stub.Bus
	sub bus.Subscription
}

func setup(t testing.TB) *fixture {
	t.Helper()
	b, err := stub.New(stub.Config{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	ctx := context.Background()
	for _, topic := range []string{"ch", "br"} {
		if err := b.EnsureTopic(ctx, topic); err != nil {
			t.Fatal(err)
		}
	}
	sub, err := b.Subscribe(ctx, "ch", "test", bus.SubscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h, err := ingress.New(ingress.Config{
		Resolver: resolver{b, map[string]string{"channels/default/ch": "ch", "brokers/default/br": "br", "channels/default/gone": "no-such-topic"}},
		MaxBytes: 64 << 10,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &fixture{srv: srv, bus: b, sub: sub}
}

func (f *fixture) post(t testing.TB, path string, header map[string]string, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", f.srv.URL+path, strings.NewReader(body))
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// next returns the next event the bus delivers on the test subscription.
func (f *fixture) next(t *testing.T) *event.Event {
	t.Helper()
	select {
	case d := <-f.sub.Deliveries():
		d.Ack()
		return d.Event()
	case <-time.After(10 * time.Second):
		t.Fatal("no event reached the bus")
		return nil
	}
}

func binary(id string) map[string]string {
	return map[string]string{
		"ce-specversion": "1.0", "ce-id": id, "ce-source": "/test", "ce-type": "dev.eddy.test",
		"Content-Type": "application/json",
	}
}

func TestBinaryStructuredAndBatchModes(t *testing.T) {
	f := setup(t)
	if code, body := f.post(t, "/channels/default/ch", binary("b1"), `{"n":1}`); code != 202 {
		t.Fatalf("binary: %d %s", code, body)
	}
	ev := f.next(t)
	if ev.ID() != "b1" || string(ev.Data()) != `{"n":1}` || ev.DataContentType() != "application/json" {
		t.Fatalf("binary event on the bus: %v", ev)
	}

	structured := `{"specversion":"1.0","id":"s1","source":"/test","type":"dev.eddy.test","datacontenttype":"text/plain","data":"hi","myext":"x"}`
	if code, body := f.post(t, "/channels/default/ch", map[string]string{"Content-Type": "application/cloudevents+json"}, structured); code != 202 {
		t.Fatalf("structured: %d %s", code, body)
	}
	ev = f.next(t)
	if ev.ID() != "s1" || ev.Extensions()["myext"] != "x" || string(ev.Data()) != "hi" {
		t.Fatalf("structured event on the bus: %v", ev)
	}

	batch := `[{"specversion":"1.0","id":"x1","source":"/t","type":"t"},{"specversion":"1.0","id":"x2","source":"/t","type":"t"},{"specversion":"1.0","id":"x3","source":"/t","type":"t"}]`
	if code, body := f.post(t, "/channels/default/ch", map[string]string{"Content-Type": "application/cloudevents-batch+json"}, batch); code != 202 {
		t.Fatalf("batch: %d %s", code, body)
	}
	for _, want := range []string{"x1", "x2", "x3"} {
		if got := f.next(t).ID(); got != want {
			t.Fatalf("batch order: got %s, want %s", got, want)
		}
	}

	v03 := map[string]string{"ce-specversion": "0.3", "ce-id": "old", "ce-source": "/t", "ce-type": "t", "ce-schemaurl": "http://example.com/s"}
	if code, body := f.post(t, "/channels/default/ch", v03, ""); code != 202 {
		t.Fatalf("spec 0.3: %d %s", code, body)
	}
	if ev := f.next(t); ev.ID() != "old" || ev.SpecVersion() != "0.3" {
		t.Fatalf("0.3 event: %v", ev)
	}
}

func TestRejectionsSayWhy(t *testing.T) {
	f := setup(t)
	noID := binary("")
	delete(noID, "ce-id")
	cases := []struct {
		name, path string
		header     map[string]string
		body       string
		code       int
		want       string
	}{
		{"missing id", "/channels/default/ch", noID, "{}", 400, "id"},
		{"not a cloudevent", "/channels/default/ch", map[string]string{"Content-Type": "application/json"}, `{"a":1}`, 400, "not a CloudEvent"},
		{"bad structured", "/channels/default/ch", map[string]string{"Content-Type": "application/cloudevents+json"}, `{"specversion":"1.0"`, 400, "not well-formed JSON"},
		{"bad specversion", "/channels/default/ch", map[string]string{"ce-specversion": "9.9", "ce-id": "1", "ce-source": "/s", "ce-type": "t"}, "", 400, ""},
		// The sdk accepts these; conformance.Reason names the rule they break.
		{"bad media type", "/channels/default/ch", map[string]string{"ce-specversion": "1.0", "ce-id": "1", "ce-source": "/s", "ce-type": "t", "Content-Type": "garbage"}, "{}", 400, "not a media type"},
		{"control character", "/channels/default/ch", map[string]string{"Content-Type": "application/cloudevents+json"}, `{"specversion":"1.0","id":"1","source":"/s","type":"a\u0001b"}`, 400, "control character"},
		// An empty batch is a valid batch of nothing: accepted, nothing published.
		{"empty batch", "/channels/default/ch", map[string]string{"Content-Type": "application/cloudevents-batch+json; charset=utf-8"}, `[]`, 202, ""},
		// sdk-go would take these; the HTTP binding and the JSON format reject them.
		{"data and data_base64", "/channels/default/ch", map[string]string{"Content-Type": "application/cloudevents+json"}, `{"specversion":"1.0","id":"1","source":"/s","type":"t","data":{"n":1},"data_base64":"AAE="}`, 400, "data_base64"},
		{"upper-case name", "/channels/default/ch", map[string]string{"Content-Type": "application/cloudevents+json"}, `{"specversion":"1.0","id":"1","source":"/s","type":"t","comExample":"x"}`, 400, "comExample"},
		{"percent-encoded control character", "/channels/default/ch", map[string]string{"ce-specversion": "1.0", "ce-id": "1", "ce-source": "/s", "ce-type": "t", "ce-subject": "a%00b"}, "", 400, "control"},
		{"overlong UTF-8", "/channels/default/ch", map[string]string{"ce-specversion": "1.0", "ce-id": "1", "ce-source": "/s", "ce-type": "t", "ce-subject": "%C0%A0"}, "", 400, "UTF-8"},
		{"too large", "/channels/default/ch", binary("big"), strings.Repeat("x", 65<<10), 413, "limit"},
		{"unknown channel", "/channels/default/nope", binary("1"), "{}", 404, "does not exist"},
		{"unknown kind", "/widgets/default/ch", binary("1"), "{}", 404, "no channel or broker"},
		{"missing topic", "/channels/default/gone", binary("1"), "{}", 404, "no topic"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := f.post(t, c.path, c.header, c.body)
			if code != c.code || !strings.Contains(body, c.want) {
				t.Fatalf("got %d %s, want %d containing %q", code, body, c.code, c.want)
			}
		})
	}
	req, _ := http.NewRequest("GET", f.srv.URL+"/channels/default/ch", nil)
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 || !strings.Contains(resp.Header.Get("Allow"), "POST") {
		t.Fatalf("GET: %d Allow=%q", resp.StatusCode, resp.Header.Get("Allow"))
	}
	// A closed bus answers 503, so the sender retries; nothing was accepted.
	f.bus.Close()
	if code, body := f.post(t, "/brokers/default/br", binary("late"), "{}"); code != 503 {
		t.Fatalf("closed bus: %d %s", code, body)
	}
}

func TestTraceparentCarriedIntoEvent(t *testing.T) {
	f := setup(t)
	h := binary("tp")
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	h["traceparent"] = tp
	if code, body := f.post(t, "/channels/default/ch", h, "{}"); code != 202 {
		t.Fatalf("%d %s", code, body)
	}
	if got := f.next(t).Extensions()["traceparent"]; got != tp {
		t.Fatalf("traceparent extension = %v", got)
	}
}

func TestWebhookAbuseProtectionHandshake(t *testing.T) {
	f := setup(t)
	req, _ := http.NewRequest("OPTIONS", f.srv.URL+"/brokers/default/br", nil)
	req.Header.Set("WebHook-Request-Origin", "eventemitter.example.com")
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("WebHook-Allowed-Origin") != "eventemitter.example.com" {
		t.Fatalf("OPTIONS: %d %v", resp.StatusCode, resp.Header)
	}
}

// FuzzIngress throws arbitrary content types, headers and bodies at the ingress: it must never
// panic, must answer 202, 400 or 413, and must have published a valid event for every 202.
func FuzzIngress(f *testing.F) {
	f.Add("application/cloudevents+json", "", "", `{"specversion":"1.0","id":"1","source":"/s","type":"t","data":{"a":1}}`)
	f.Add("application/json", "1.0", "1", `{"a":1}`)
	f.Add("application/cloudevents-batch+json", "", "", `[{"specversion":"1.0","id":"1","source":"/s","type":"t"}]`)
	f.Add("application/cloudevents+json", "", "", `{"specversion":"0.3","id":"1","source":"/s","type":"t","datacontentencoding":"base64","data":"aGk="}`)
	f.Add("text/plain", "0.3", "", "hello")
	f.Add("application/cloudevents+json", "", "", `{"specversion":"1.0","id":"1","source":"/s","type":"t","data_base64":"!!"}`)
	fx := setup(f)
	f.Fuzz(func(t *testing.T, contentType, specversion, id, body string) {
		h := map[string]string{"Content-Type": contentType}
		if specversion != "" {
			h["ce-specversion"], h["ce-id"], h["ce-source"], h["ce-type"] = specversion, id, "/fuzz", "fuzz"
		}
		req, _ := http.NewRequest("POST", fx.srv.URL+"/channels/default/ch", strings.NewReader(body))
		for k, v := range h {
			if strings.ContainsAny(v, "\r\n\x00") {
				return
			}
			req.Header.Set(k, v)
		}
		resp, err := fx.srv.Client().Do(req)
		if err != nil {
			return // an unsendable request (bad header bytes)
		}
		resp.Body.Close()
		switch resp.StatusCode {
		case 202:
			select {
			case d := <-fx.sub.Deliveries():
				d.Ack()
				if err := d.Event().Validate(); err != nil {
					t.Fatalf("accepted an invalid event: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("202 but nothing reached the bus")
			}
		case 400, 413:
		default:
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
}

// Binary-mode header values are percent-decoded (HTTP binding §3.1.3.2); raw UTF-8, which
// common SDKs send, is accepted as it is.
func TestHeaderValuesAreDecoded(t *testing.T) {
	f := setup(t)
	h := binary("pct")
	h["ce-subject"] = "Euro%20%E2%82%AC"
	if code, body := f.post(t, "/channels/default/ch", h, "{}"); code != 202 {
		t.Fatalf("%d %s", code, body)
	}
	if got := f.next(t).Subject(); got != "Euro €" {
		t.Fatalf("subject %q, want the decoded value", got)
	}
	h = binary("raw")
	h["ce-subject"] = "Euro €"
	if code, body := f.post(t, "/channels/default/ch", h, "{}"); code != 202 {
		t.Fatalf("raw UTF-8: %d %s", code, body)
	}
	if got := f.next(t).Subject(); got != "Euro €" {
		t.Fatalf("subject %q", got)
	}
}
