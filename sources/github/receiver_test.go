package github

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/eddyplatform/eddy/sources"
)

var pushBody = mustRead("testdata/webhooks/push/payload.json")

func mustRead(name string) []byte {
	b, err := os.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return b
}

// fixture is a Receiver behind a real HTTP server, with its metrics.
type fixture struct {
	r   *Receiver
	srv *httptest.Server
	reg *prometheus.Registry
	rec *recorder
	log *syncBuffer
}

func newFixture(t *testing.T, mod func(*ReceiverConfig)) *fixture {
	t.Helper()
	f := &fixture{reg: prometheus.NewPedanticRegistry(), rec: &recorder{}, log: &syncBuffer{}}
	cfg := ReceiverConfig{
		Secret:             []byte(corpusSecret),
		OwnerAndRepository: "Codertocat/Hello-World",
		Sender:             f.rec,
		Logger:             testLogger(f.log),
		Metrics:            f.reg,
		Namespace:          "ns",
		Name:               "src",
	}
	if mod != nil {
		mod(&cfg)
	}
	r, err := NewReceiver(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.r = r
	f.srv = httptest.NewServer(r)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fixture) dropped(t *testing.T, reason string) float64 {
	return counter(t, f.reg, "eddy_github_source_events_dropped_total", map[string]string{"namespace": "ns", "name": "src", "reason": reason})
}

func (f *fixture) count(t *testing.T, what string) float64 {
	return counter(t, f.reg, "eddy_github_source_events_"+what+"_total", map[string]string{"namespace": "ns", "name": "src"})
}

func headers(event, delivery, sig, ctype string) map[string]string {
	return map[string]string{HeaderEvent: event, HeaderDelivery: delivery, HeaderSignature: sig, "Content-Type": ctype}
}

func TestBadInput(t *testing.T) {
	f := newFixture(t, func(c *ReceiverConfig) { c.MaxBodyBytes = 64 << 10 })
	good := sign(corpusSecret, pushBody)
	form := []byte("other=1")
	notJSON := []byte(`{"zen": "x",`)
	array := []byte(`[1,2]`)
	trailing := []byte(`{"a":1} {"b":2}`)
	big := bytes.Repeat([]byte(" "), 64<<10+1)
	hello := []byte("Hello, World!")
	cases := []struct {
		name   string
		method string
		hdr    map[string]string
		body   []byte
		stream bool // send without Content-Length
		code   int
		reason string
	}{
		{"get", http.MethodGet, headers("push", "d", good, "application/json"), nil, false, 405, reasonMethod},
		{"too large", "", headers("push", "d", sign(corpusSecret, big), "application/json"), big, false, 413, reasonTooLarge},
		{"too large streamed", "", headers("push", "d", sign(corpusSecret, big), "application/json"), big, true, 413, reasonTooLarge},
		{"no signature", "", headers("push", "d", "", "application/json"), pushBody, false, 401, reasonMissingSignature},
		{"only sha1 signature", "", map[string]string{HeaderEvent: "push", HeaderDelivery: "d", "Content-Type": "application/json",
			"X-Hub-Signature": "sha1=0fe0c2a4f8ee5a4b6f3c3e4b0ff1c24ee1b54a85"}, pushBody, false, 401, reasonMissingSignature},
		{"wrong secret", "", headers("push", "d", sign("another secret", pushBody), "application/json"), pushBody, false, 401, reasonBadSignature},
		{"signature of another body", "", headers("push", "d", sign(corpusSecret, hello), "application/json"), pushBody, false, 401, reasonBadSignature},
		{"not hex", "", headers("push", "d", "sha256=zz", "application/json"), pushBody, false, 401, reasonBadSignature},
		{"sha1 in the sha256 header", "", headers("push", "d", "sha1=0fe0c2a4f8ee5a4b6f3c3e4b0ff1c24ee1b54a85", "application/json"), pushBody, false, 401, reasonBadSignature},
		{"truncated signature", "", headers("push", "d", good[:20], "application/json"), pushBody, false, 401, reasonBadSignature},
		{"text/plain", "", headers("push", "d", good, "text/plain"), pushBody, false, 415, reasonContentType},
		{"no content type", "", headers("push", "d", good, ""), pushBody, false, 415, reasonContentType},
		{"no event", "", headers("", "d", good, "application/json"), pushBody, false, 400, reasonMissingEvent},
		{"bad event", "", headers("Push Event", "d", good, "application/json"), pushBody, false, 400, reasonInvalidEvent},
		{"event too long", "", headers(strings.Repeat("a", 65), "d", good, "application/json"), pushBody, false, 400, reasonInvalidEvent},
		{"no delivery", "", headers("push", "", good, "application/json"), pushBody, false, 400, reasonMissingDelivery},
		{"bad delivery", "", headers("push", strings.Repeat("d", 257), good, "application/json"), pushBody, false, 400, reasonInvalidDelivery},
		{"form without payload", "", headers("push", "d", sign(corpusSecret, form), "application/x-www-form-urlencoded"), form, false, 400, reasonBadForm},
		{"malformed json", "", headers("push", "d", sign(corpusSecret, notJSON), "application/json"), notJSON, false, 400, reasonMalformedJSON},
		{"json array", "", headers("push", "d", sign(corpusSecret, array), "application/json"), array, false, 400, reasonMalformedJSON},
		{"two json values", "", headers("push", "d", sign(corpusSecret, trailing), "application/json"), trailing, false, 400, reasonMalformedJSON},
		// GitHub's documented signature vector: the signature is accepted, the body is not JSON.
		{"docs vector", "", headers("push", "d", "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", "application/json"), hello, false, 400, reasonMalformedJSON},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := f.dropped(t, c.reason)
			var body io.Reader = bytes.NewReader(c.body)
			if c.stream {
				body = io.MultiReader(body) // hides the length from net/http
			}
			method := c.method
			if method == "" {
				method = http.MethodPost
			}
			req, err := http.NewRequest(method, f.srv.URL, body)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range c.hdr {
				if v != "" {
					req.Header.Set(k, v)
				}
			}
			resp, err := f.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			msg, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.code || len(bytes.TrimSpace(msg)) == 0 {
				t.Errorf("status %d %q, want %d with a reason", resp.StatusCode, msg, c.code)
			}
			if got := f.dropped(t, c.reason); got != before+1 {
				t.Errorf("dropped{reason=%s} went %v → %v", c.reason, before, got)
			}
		})
	}
	if n := len(f.rec.all()); n != 0 {
		t.Errorf("%d events sent for bad input", n)
	}
	if strings.Contains(f.log.String(), corpusSecret) {
		t.Error("the secret appears in the log")
	}
	if got, want := f.count(t, "received"), float64(len(cases)); got != want {
		t.Errorf("received %v, want %v", got, want)
	}
}

func TestFormEncoded(t *testing.T) {
	f := newFixture(t, nil)
	body := []byte("payload=" + url.QueryEscape(string(pushBody)))
	code, msg := post(t, f.srv.Client(), f.srv.URL, headers("push", "g1", sign(corpusSecret, body), "application/x-www-form-urlencoded; charset=utf-8"), bytes.NewReader(body))
	if code != http.StatusAccepted || msg != "accepted" {
		t.Fatalf("status %d %q", code, msg)
	}
	evs := f.rec.all()
	if len(evs) != 1 || !bytes.Equal(evs[0].Data(), pushBody) || evs[0].Subject() != "6113728f27ae...000000000000" {
		t.Fatalf("events %v", evs)
	}
	// The signature covers the form body, not the JSON inside it.
	code, _ = post(t, f.srv.Client(), f.srv.URL, headers("push", "g2", sign(corpusSecret, pushBody), "application/x-www-form-urlencoded"), bytes.NewReader(body))
	if code != http.StatusUnauthorized {
		t.Fatalf("signature over the JSON: status %d", code)
	}
}

func TestPingAndFilter(t *testing.T) {
	ping := mustRead("testdata/webhooks/ping/payload.json")
	issues := mustRead("testdata/webhooks/issues/opened.payload.json")
	f := newFixture(t, func(c *ReceiverConfig) { c.EventTypes = []string{"push"} })

	code, msg := post(t, f.srv.Client(), f.srv.URL, headers("ping", "p1", sign(corpusSecret, ping), "application/json"), bytes.NewReader(ping))
	if code != http.StatusOK || msg != "pong" {
		t.Errorf("ping: %d %q", code, msg)
	}
	if log := f.log.String(); !strings.Contains(log, "zen=") || !strings.Contains(log, "hook_id=109948940") {
		t.Errorf("ping not logged with zen and hook id:\n%s", log)
	}
	code, _ = post(t, f.srv.Client(), f.srv.URL, headers("issues", "i1", sign(corpusSecret, issues), "application/json"), bytes.NewReader(issues))
	if code != http.StatusOK {
		t.Errorf("unsubscribed event: %d", code)
	}
	code, _ = post(t, f.srv.Client(), f.srv.URL, headers("push", "u1", sign(corpusSecret, pushBody), "application/json"), bytes.NewReader(pushBody))
	if code != http.StatusAccepted {
		t.Errorf("push: %d", code)
	}
	if evs := f.rec.all(); len(evs) != 1 || evs[0].ID() != "u1" {
		t.Errorf("sent %v", evs)
	}
	if f.dropped(t, reasonPing) != 1 || f.dropped(t, reasonFiltered) != 1 || f.count(t, "sent") != 1 || f.count(t, "received") != 3 {
		t.Error("metrics do not add up")
	}
}

// TestFutureEvent: an event type go-github does not know still becomes a CloudEvent.
func TestFutureEvent(t *testing.T) {
	f := newFixture(t, nil)
	body := []byte(`{"action":"hatched","octopus":{"id":4242,"name":"Mona"},"repository":{"name":"Hello-World","html_url":"https://github.com/Codertocat/Hello-World","owner":{"login":"Codertocat"}},"sender":{"login":"Codertocat"}}`)
	code, msg := post(t, f.srv.Client(), f.srv.URL, headers("octopus", "o1", sign(corpusSecret, body), "application/json"), bytes.NewReader(body))
	if code != http.StatusAccepted {
		t.Fatalf("%d %q", code, msg)
	}
	ev := f.rec.all()[0]
	if ev.Type() != "dev.knative.source.github.octopus" || ev.Subject() != "4242" || ev.Source() != "https://github.com/Codertocat/Hello-World" ||
		ev.Extensions()["action"] != "hatched" {
		t.Errorf("event %s", ev)
	}
}

func TestInsecure(t *testing.T) {
	f := newFixture(t, func(c *ReceiverConfig) { c.Secret, c.Insecure = nil, true })
	if code, _ := post(t, f.srv.Client(), f.srv.URL, headers("push", "n1", "", "application/json"), bytes.NewReader(pushBody)); code != http.StatusAccepted {
		t.Errorf("unsigned delivery to an insecure receiver: %d", code)
	}
	// A secret, when given, is checked even when Insecure.
	g := newFixture(t, func(c *ReceiverConfig) { c.Insecure = true })
	if code, _ := post(t, g.srv.Client(), g.srv.URL, headers("push", "n2", "", "application/json"), bytes.NewReader(pushBody)); code != http.StatusUnauthorized {
		t.Errorf("unsigned delivery with a secret: %d", code)
	}
}

func TestSinkFailure(t *testing.T) {
	f := newFixture(t, nil)
	f.rec.err = errors.New("sink answered 500")
	if code, _ := post(t, f.srv.Client(), f.srv.URL, headers("push", "s1", sign(corpusSecret, pushBody), "application/json"), bytes.NewReader(pushBody)); code != http.StatusBadGateway {
		t.Errorf("sink error: %d, want 502", code)
	}
	f.rec.err = context.DeadlineExceeded
	if code, _ := post(t, f.srv.Client(), f.srv.URL, headers("push", "s2", sign(corpusSecret, pushBody), "application/json"), bytes.NewReader(pushBody)); code != http.StatusServiceUnavailable {
		t.Errorf("sink timeout: %d, want 503", code)
	}
	if f.count(t, "failed") != 2 || f.count(t, "sent") != 0 {
		t.Error("failures not counted")
	}
}

// TestUpdate rotates the secret and narrows the event types while a delivery is in flight.
func TestUpdate(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	var oldSent []string
	var mu sync.Mutex
	blocking := sources.SenderFunc(func(_ context.Context, ev event.Event) error {
		close(entered)
		<-release
		mu.Lock()
		oldSent = append(oldSent, ev.ID())
		mu.Unlock()
		return nil
	})
	reg := prometheus.NewPedanticRegistry()
	base := ReceiverConfig{Secret: []byte("old"), Sender: blocking, Logger: testLogger(io.Discard), Metrics: reg, Namespace: "ns", Name: "src"}
	r, err := NewReceiver(base)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(r)
	defer srv.Close()

	inflight := make(chan int, 1)
	go func() {
		code, _ := post(t, srv.Client(), srv.URL, headers("push", "a", sign("old", pushBody), "application/json"), bytes.NewReader(pushBody))
		inflight <- code
	}()
	<-entered

	rec := &recorder{}
	next := base
	next.Secret, next.EventTypes, next.Sender = []byte("new"), []string{"issues"}, rec
	if err := r.Update(next); err != nil {
		t.Fatal(err)
	}
	bad := next
	bad.Sender = nil
	if err := r.Update(bad); err == nil {
		t.Fatal("Update accepted a config without a Sender")
	}

	issues := mustRead("testdata/webhooks/issues/opened.payload.json")
	if code, _ := post(t, srv.Client(), srv.URL, headers("issues", "b", sign("old", issues), "application/json"), bytes.NewReader(issues)); code != http.StatusUnauthorized {
		t.Errorf("old secret after rotation: %d", code)
	}
	if code, _ := post(t, srv.Client(), srv.URL, headers("push", "c", sign("new", pushBody), "application/json"), bytes.NewReader(pushBody)); code != http.StatusOK {
		t.Errorf("push after narrowing to issues: %d", code)
	}
	if code, _ := post(t, srv.Client(), srv.URL, headers("issues", "d", sign("new", issues), "application/json"), bytes.NewReader(issues)); code != http.StatusAccepted {
		t.Errorf("issues with the new secret: %d", code)
	}
	close(release)
	if code := <-inflight; code != http.StatusAccepted {
		t.Errorf("in-flight delivery: %d", code)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(oldSent) != 1 || oldSent[0] != "a" {
		t.Errorf("old sender got %v", oldSent)
	}
	if evs := rec.all(); len(evs) != 1 || evs[0].ID() != "d" {
		t.Errorf("new sender got %v", evs)
	}
}

func TestConfigValidation(t *testing.T) {
	ok := ReceiverConfig{Secret: []byte("s"), Sender: &recorder{}}
	bad := map[string]func(*ReceiverConfig){
		"no sender":       func(c *ReceiverConfig) { c.Sender = nil },
		"no secret":       func(c *ReceiverConfig) { c.Secret = nil },
		"bad owner":       func(c *ReceiverConfig) { c.OwnerAndRepository = "a/b/c" },
		"dot repo":        func(c *ReceiverConfig) { c.OwnerAndRepository = "a/.." },
		"bad event type":  func(c *ReceiverConfig) { c.EventTypes = []string{"push", "Pull Request"} },
		"negative limit":  func(c *ReceiverConfig) { c.MaxBodyBytes = -1 },
		"relative weburl": func(c *ReceiverConfig) { c.WebURL = "ghe.example.com" },
	}
	for name, mod := range bad {
		c := ok
		mod(&c)
		if _, err := NewReceiver(c); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	c := ok
	c.OwnerAndRepository, c.EventTypes, c.WebURL = "Octocoders", []string{"*"}, "https://ghe.example.com/"
	if _, err := NewReceiver(c); err != nil {
		t.Errorf("valid config: %v", err)
	}
}

// TestMetricsShared: Receivers share a registry, each with its own series, and Close removes
// them.
func TestMetricsShared(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	mk := func(name string) *Receiver {
		r, err := NewReceiver(ReceiverConfig{Secret: []byte("s"), Sender: &recorder{}, Metrics: reg, Namespace: "ns", Name: name, Logger: testLogger(io.Discard)})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	a, b := mk("a"), mk("b")
	for _, r := range []*Receiver{a, b, a} {
		w := httptest.NewRecorder()
		r.ServeHTTP(w, httptest.NewRequest(http.MethodPut, "/", nil))
	}
	if counter(t, reg, "eddy_github_source_events_received_total", map[string]string{"name": "a"}) != 2 ||
		counter(t, reg, "eddy_github_source_events_received_total", map[string]string{"name": "b"}) != 1 {
		t.Error("per-source counters wrong")
	}
	a.Close()
	if n := series(t, reg, "eddy_github_source_events_received_total"); n != 1 {
		t.Errorf("%d received series after Close, want 1", n)
	}
	if n := series(t, reg, "eddy_github_source_events_dropped_total"); n != len(dropReasons) {
		t.Errorf("%d dropped series after Close, want %d", n, len(dropReasons))
	}
}

// TestEndToEnd delivers through a CloudEvents HTTP client to a CloudEvents HTTP sink, and
// answers 502 when the sink refuses.
func TestEndToEnd(t *testing.T) {
	var mu sync.Mutex
	var got []event.Event
	status := http.StatusAccepted
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		ev, err := binding.ToEvent(req.Context(), cehttp.NewMessageFromHttpRequest(req))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		got = append(got, *ev)
		code := status
		mu.Unlock()
		w.WriteHeader(code)
	}))
	defer sink.Close()
	ce, err := cloudevents.NewClientHTTP()
	if err != nil {
		t.Fatal(err)
	}
	sender := sources.SenderFunc(func(ctx context.Context, ev event.Event) error {
		if res := ce.Send(cloudevents.ContextWithTarget(ctx, sink.URL), ev); !cloudevents.IsACK(res) {
			return res
		}
		return nil
	})
	f := newFixture(t, func(c *ReceiverConfig) { c.Sender = sender })

	pr := mustRead("testdata/webhooks/pull_request/opened.payload.json")
	if code, msg := post(t, f.srv.Client(), f.srv.URL, headers("pull_request", "e1", sign(corpusSecret, pr), "application/json"), bytes.NewReader(pr)); code != http.StatusAccepted {
		t.Fatalf("%d %q", code, msg)
	}
	mu.Lock()
	if len(got) != 1 || got[0].ID() != "e1" || got[0].Subject() != "2" || !bytes.Equal(got[0].Data(), pr) ||
		got[0].Extensions()["number"] != int32(2) && got[0].Extensions()["number"] != "2" {
		t.Errorf("sink got %v", got)
	}
	status = http.StatusInternalServerError
	mu.Unlock()
	if code, _ := post(t, f.srv.Client(), f.srv.URL, headers("pull_request", "e2", sign(corpusSecret, pr), "application/json"), bytes.NewReader(pr)); code != http.StatusBadGateway {
		t.Errorf("sink 500: %d, want 502", code)
	}
}

func TestEventTypeInfos(t *testing.T) {
	infos := EventTypeInfos(MapOptions{OwnerAndRepository: "o/r"}, []string{"push", "issues"})
	if len(infos) != 2 || infos[0].Type != "dev.knative.source.github.push" || infos[0].Source != "https://github.com/o/r" {
		t.Errorf("%+v", infos)
	}
	all := EventTypeInfos(MapOptions{WebURL: "https://ghe.example.com"}, nil)
	if len(all) < 50 || all[0].Source != "https://ghe.example.com" {
		t.Errorf("%d infos, first %+v", len(all), all[0])
	}
}
