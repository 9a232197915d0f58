package conformance

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

func post(t *testing.T, url string, h http.Header, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestListener(t *testing.T) {
	var fmu sync.Mutex
	var forwarded []http.Header
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmu.Lock()
		forwarded = append(forwarded, r.Header.Clone())
		fmu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	defer sink.Close()

	var received []*Received
	l := &Listener{HistorySize: 2, Forward: sink.URL, OnReceive: func(r *Received) { received = append(received, r) }}
	srv := httptest.NewServer(l)
	defer srv.Close()

	valid := binaryHeaders("1.0", "A-1", "ce-subject", "Euro%20%E2%82%AC", "Content-Type", "application/json")
	if code, body := post(t, srv.URL+"/any/path", valid, `{"n":1}`); code != http.StatusAccepted {
		t.Fatalf("valid: %d %s", code, body)
	}
	// Invalid: answered 400 with the reason, printed anyway, not forwarded.
	code, body := post(t, srv.URL, binaryHeaders("1.0", "A-2", "ce-type", "-", "ce-subject", "%C0%A0"), "")
	if code != http.StatusBadRequest || !strings.Contains(body, "invalid CloudEvent") || !strings.Contains(body, `attribute "type"`) || !strings.Contains(body, "UTF-8") {
		t.Errorf("invalid: %d %s", code, body)
	}
	// sdk-go accepts this one, the raw validators do not.
	code, body = post(t, srv.URL, http.Header{"Content-Type": {"application/cloudevents+json"}}, `{"specversion":"1.0","id":"A-3","source":"/s","type":"t","Bad":1}`)
	if code != http.StatusBadRequest || !strings.Contains(body, `"Bad"`) {
		t.Errorf("upper-case name: %d %s", code, body)
	}
	batch := `[{"specversion":"1.0","id":"B-1","source":"/s","type":"t"},{"specversion":"0.3","id":"B-2","source":"/s","type":"t"}]`
	code, body = post(t, srv.URL, http.Header{"Content-Type": {"application/cloudevents-batch+json"}}, batch)
	if code != http.StatusBadRequest || !strings.Contains(body, "specversion") {
		t.Errorf("mixed batch: %d %s", code, body)
	}
	code, _ = post(t, srv.URL, http.Header{"Content-Type": {"application/cloudevents+json"}}, `{`)
	if code != http.StatusBadRequest {
		t.Errorf("bad JSON: %d", code)
	}

	if len(received) != 5 {
		t.Fatalf("%d received", len(received))
	}
	if r := received[0]; r.Status != 202 || r.Forwarded != "202 Accepted" || r.ForwardErr != nil || r.Cases[0].Get("subject") != "Euro €" || r.Request.URL != "/any/path" {
		t.Errorf("first: %+v", r)
	}
	if r := received[1]; r.Status != 400 || r.Forwarded != "" || len(r.Cases[0].Comments) == 0 {
		t.Errorf("second: %+v", r)
	}
	if r := received[4]; len(r.Cases) != 1 || !strings.Contains(strings.Join(r.Cases[0].Comments, "\n"), "could not read") {
		t.Errorf("unreadable: %+v", r.Cases)
	}
	fmu.Lock()
	if len(forwarded) != 1 || forwarded[0].Get("Ce-Subject") != "Euro%20%E2%82%AC" || forwarded[0].Get("Ce-Id") != "A-1" {
		t.Errorf("forwarded %v", forwarded)
	}
	fmu.Unlock()

	// History keeps the last 2 events (the batch counted 2, then the unreadable one).
	resp, err := http.Get(srv.URL + "/history")
	if err != nil {
		t.Fatal(err)
	}
	hist, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	cases, err := ReadCases(strings.NewReader(string(hist)))
	if err != nil {
		t.Fatalf("history does not read back: %v\n%s", err, hist)
	}
	if len(cases) != 2 || cases[0].Get("id") != "B-2" || cases[0].Mode != "batch" || !strings.Contains(string(hist), "# error") {
		t.Errorf("history:\n%s", hist)
	}

	if resp, _ := http.Get(srv.URL + "/other"); resp.StatusCode != 404 {
		t.Errorf("GET /other: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodOptions, srv.URL, nil)
	req.Header.Set("WebHook-Request-Origin", "eventemitter.example.com")
	if resp, _ := http.DefaultClient.Do(req); resp.Header.Get("WebHook-Allowed-Origin") != "eventemitter.example.com" {
		t.Errorf("OPTIONS: %v", resp.Header)
	}
	req, _ = http.NewRequest(http.MethodDelete, srv.URL, nil)
	if resp, _ := http.DefaultClient.Do(req); resp.StatusCode != 405 {
		t.Errorf("DELETE: %d", resp.StatusCode)
	}
}

func TestListenerForwardFailure(t *testing.T) {
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }))
	defer sink.Close()
	var got *Received
	l := &Listener{Forward: sink.URL, OnReceive: func(r *Received) { got = r }}
	srv := httptest.NewServer(l)
	defer srv.Close()
	if code, _ := post(t, srv.URL, binaryHeaders("1.0", "A"), ""); code != 202 {
		t.Errorf("code %d", code)
	}
	if got.ForwardErr == nil || got.Forwarded != "500 Internal Server Error" {
		t.Errorf("%+v", got)
	}
	if len(l.History()) != 0 {
		t.Error("history kept with HistorySize 0")
	}
}

// TestListenerPassesVerifyReceiver: the listener's judgement is what a conforming receiver
// does, so it passes every receiver case without a warning.
func TestListenerPassesVerifyReceiver(t *testing.T) {
	srv := httptest.NewServer(&Listener{})
	defer srv.Close()
	rep := VerifyReceiver(context.Background(), srv.URL, ReceiverOptions{})
	for _, r := range rep.Results {
		if r.Verdict != Pass {
			t.Errorf("%s %s: %s", r.Verdict, r.ID, r.Why)
		}
	}
}
