package platformconf

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/eddyplatform/eddy/conformance"
)

// delivery is one request a sink received.
type delivery struct {
	At     time.Time
	Method string
	Header http.Header
	Body   []byte
	// Event is the CloudEvent sdk-go read from the request; nil when it could not.
	Event *event.Event
	// Judge is the conformance engine's verdict on the raw request.
	Judge conformance.Judgement
	// Attempt counts the requests for the same event id, from 1.
	Attempt int
	// Status is what the sink answered.
	Status int
}

// ID is the delivered event's id ("" when there is no event).
func (d *delivery) ID() string {
	if d.Event == nil {
		return ""
	}
	return d.Event.ID()
}

// ext returns an extension of the delivered event as a string ("" when absent).
func (d *delivery) ext(name string) string {
	if d.Event == nil {
		return ""
	}
	v, ok := d.Event.Extensions()[name]
	if !ok {
		return ""
	}
	return fmt.Sprint(v)
}

// response is what a sink answers.
type response struct {
	Status int
	Header map[string]string
	Body   []byte
}

// responder decides a sink's answer to a delivery.
type responder func(d *delivery) response

// sink is a subscriber, reply destination or dead-letter sink: an HTTP server that records
// every request and answers as its responder says (202 by default).
type sink struct {
	name    string
	URL     string
	srv     *httptest.Server
	respond responder

	mu       sync.Mutex
	got      []*delivery
	attempts map[string]int
	wake     chan struct{} // closed and replaced on each request
}

// newSink starts a sink, closed when the case ends.
func (t *caseT) newSink(name string, respond responder) *sink {
	s := &sink{name: name, respond: respond, attempts: map[string]int{}, wake: make(chan struct{})}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL + "/" + name
	t.T.Cleanup(s.srv.Close)
	return s
}

func (s *sink) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	d := &delivery{At: time.Now(), Method: r.Method, Header: r.Header.Clone(), Body: body}
	d.Judge = conformance.JudgeHTTP(r.Header, body)
	msg := cehttp.NewMessage(r.Header.Clone(), io.NopCloser(bytes.NewReader(body)))
	if ev, err := binding.ToEvent(context.Background(), msg); err == nil {
		d.Event = ev
	}
	s.mu.Lock()
	if id := d.ID(); id != "" {
		s.attempts[id]++
		d.Attempt = s.attempts[id]
	}
	s.mu.Unlock()
	resp := response{Status: http.StatusAccepted}
	if s.respond != nil {
		resp = s.respond(d)
	}
	d.Status = resp.Status
	s.mu.Lock()
	s.got = append(s.got, d)
	close(s.wake)
	s.wake = make(chan struct{})
	s.mu.Unlock()
	for k, v := range resp.Header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(resp.Status)
	w.Write(resp.Body)
}

// all returns every request so far.
func (s *sink) all() []*delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*delivery(nil), s.got...)
}

// of returns the requests that carried event id.
func (s *sink) of(id string) []*delivery {
	var out []*delivery
	for _, d := range s.all() {
		if d.ID() == id {
			out = append(out, d)
		}
	}
	return out
}

// ids returns the ids of the events received, sorted, one per request.
func (s *sink) ids() []string {
	var out []string
	for _, d := range s.all() {
		out = append(out, d.ID())
	}
	sort.Strings(out)
	return out
}

// distinct returns the ids of the events received, sorted, each once: what the
// at-least-once cases compare, where a duplicate delivery is allowed (R5, R48).
func (s *sink) distinct() []string {
	return slices.Compact(s.ids())
}

// accepted returns the ids of the events the sink accepted (answered 2xx), sorted.
func (s *sink) accepted() []string {
	var out []string
	for _, d := range s.all() {
		if d.Status/100 == 2 {
			out = append(out, d.ID())
		}
	}
	sort.Strings(out)
	return out
}

// summary describes what the sink received, for failure messages.
func (s *sink) summary() string {
	var parts []string
	for _, d := range s.all() {
		parts = append(parts, fmt.Sprintf("%s#%d→%d", d.ID(), d.Attempt, d.Status))
	}
	if len(parts) == 0 {
		return s.name + " received nothing"
	}
	return s.name + " received " + strings.Join(parts, ", ")
}

// await waits until cond holds for the requests received, or fails the case.
func (s *sink) await(t *caseT, what string, cond func(ds []*delivery) bool) []*delivery {
	t.Helper()
	deadline := time.NewTimer(t.Timeout())
	defer deadline.Stop()
	for {
		s.mu.Lock()
		got, wake := append([]*delivery(nil), s.got...), s.wake
		s.mu.Unlock()
		if cond(got) {
			return got
		}
		select {
		case <-wake:
		case <-deadline.C:
			t.Fatalf("timed out after %v waiting for %s: %s", t.Timeout(), what, s.summary())
		}
	}
}

// within reports whether cond holds for the requests received within d.
func (s *sink) within(d time.Duration, cond func(ds []*delivery) bool) bool {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		got, wake := append([]*delivery(nil), s.got...), s.wake
		s.mu.Unlock()
		if cond(got) {
			return true
		}
		select {
		case <-wake:
		case <-deadline.C:
			return false
		}
	}
}

// awaitIDs waits until the sink has accepted each of ids at least once.
func (s *sink) awaitIDs(t *caseT, ids ...string) {
	t.Helper()
	s.await(t, fmt.Sprintf("%s to accept %s", s.name, strings.Join(ids, ", ")), func(ds []*delivery) bool {
		have := map[string]bool{}
		for _, d := range ds {
			if d.Status/100 == 2 {
				have[d.ID()] = true
			}
		}
		for _, id := range ids {
			if !have[id] {
				return false
			}
		}
		return true
	})
}

// awaitCount waits until the sink has received at least n requests.
func (s *sink) awaitCount(t *caseT, n int) []*delivery {
	t.Helper()
	return s.await(t, fmt.Sprintf("%s to receive %d requests", s.name, n), func(ds []*delivery) bool { return len(ds) >= n })
}

// settle waits until the sink has received nothing for the target's quiet period, and
// returns what it received.
func (s *sink) settle(t *caseT) []*delivery {
	t.Helper()
	for {
		s.mu.Lock()
		wake := s.wake
		s.mu.Unlock()
		quiet := time.NewTimer(t.Quiet())
		select {
		case <-wake:
			quiet.Stop()
		case <-quiet.C:
			return s.all()
		}
	}
}

// quiet waits until none of sinks has received anything for the target's quiet period.
func (t *caseT) quiet(sinks ...*sink) {
	t.Helper()
	for _, s := range sinks {
		s.settle(t)
	}
}

// Responders.

// accept answers 202.
func accept(*delivery) response { return response{Status: http.StatusAccepted} }

// answer answers code, with a body naming the event.
func answer(code int) responder {
	return func(d *delivery) response {
		return response{Status: code, Body: []byte("conformance answer " + fmt.Sprint(code) + " for " + d.ID())}
	}
}

// failFirst answers code to the first n attempts of each event, then 202.
func failFirst(n, code int) responder {
	return func(d *delivery) response {
		if d.Attempt <= n {
			return answer(code)(d)
		}
		return response{Status: http.StatusAccepted}
	}
}

// replyMode is how a responder encodes its reply event.
type replyMode int

const (
	replyBinary replyMode = iota
	replyStructured
)

// replyWith answers 200 with a reply event of type typ (id: the original's id + "-reply"),
// in mode. Events whose type is in skip get 202.
func replyWith(typ string, mode replyMode, skip ...string) responder {
	return func(d *delivery) response {
		if d.Event == nil {
			return response{Status: http.StatusBadRequest}
		}
		for _, s := range skip {
			if d.Event.Type() == s {
				return response{Status: http.StatusAccepted}
			}
		}
		return replyResponse(http.StatusOK, replyEvent(d.Event, typ), mode)
	}
}

// replyEvent is the reply to ev: id ev.ID()+"-reply", source /conformance/replier, type typ.
func replyEvent(ev *event.Event, typ string) ce {
	return ce{ID: ev.ID() + "-reply", Source: "/conformance/replier", Type: typ, DataContentType: "application/json", Data: []byte(`{"reply":true}`)}
}

// replyResponse encodes e as an HTTP answer with status code.
func replyResponse(code int, e ce, mode replyMode) response {
	if mode == replyStructured {
		return response{Status: code, Header: map[string]string{"Content-Type": "application/cloudevents+json"}, Body: e.structuredJSON()}
	}
	h := map[string]string{}
	for k, v := range e.binaryHeaders() {
		h[k] = v[0]
	}
	return response{Status: code, Header: h, Body: e.Data}
}
