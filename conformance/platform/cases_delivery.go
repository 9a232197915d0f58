package platformconf

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Extensions a dead-letter sink receives from Knative (and Eddy) with a failed event.
const (
	extErrorDest = "knativeerrordest"
	extErrorCode = "knativeerrorcode"
	extErrorData = "knativeerrordata"
)

// R1: Eddy, a sender that takes replies, reads reply events in both content modes.
func testRepliesBothModes(t *caseT) {
	for _, m := range []struct {
		name string
		mode replyMode
	}{{"binary", replyBinary}, {"structured", replyStructured}} {
		t.Run(m.name, func(t *caseT) {
			out := t.newSink("replies-"+m.name, accept)
			replier := t.newSink("replier-"+m.name, replyWith("conf.r1.reply", m.mode))
			addr := t.mkChannel("ch-" + m.name)
			t.mkSubscription("sub-"+m.name, "ch-"+m.name, subscriber(replier), reply(out))
			t.send(addr, newCE("r1-"+m.name, "conf.r1"))
			out.awaitIDs(t, "r1-"+m.name+"-reply")
			d := out.of("r1-" + m.name + "-reply")[0]
			if diffs := sameEvent(replyEvent(replier.all()[0].Event, "conf.r1.reply"), d.Event, "traceparent", "tracestate", "knativehistory"); len(diffs) > 0 {
				t.Errorf("the %s-mode reply arrived changed: %s", m.name, strings.Join(diffs, "; "))
			}
		})
	}
}

// R2: Brokers and Channels deliver with POST, using the CloudEvents HTTP binding.
func testDeliveredWithPOST(t *caseT) {
	t.eachFlow(func(t *caseT, fl flow) {
		s := t.newSink("subscriber", accept)
		addr := fl.setup(t, subscriber(s))
		t.send(addr, newCE("r2-binary", "conf.r2"))
		t.sendMode(addr, newCE("r2-structured", "conf.r2"), modeStructured)
		s.awaitIDs(t, "r2-binary", "r2-structured")
		for _, d := range s.settle(t) {
			if d.Method != http.MethodPost {
				t.Errorf("event %s was delivered with %s, not POST", d.ID(), d.Method)
			}
			if d.Judge.Err != nil {
				t.Errorf("delivery of %s is not a valid CloudEvents HTTP message: %v", d.ID(), d.Judge.Err)
			}
		}
	})
}

// statusCase is one row of the data plane's status table (R4).
type statusCase struct {
	code  int
	retry bool // retried (else one attempt)
	ok    bool // success: delivery complete, nothing dead-lettered
}

// statusTable is R4's table: 2xx success; 1xx/3xx and 4xx but 404, 408, 409 and 429 errors
// without retry; those four, 5xx and unlisted codes errors with retry. 1xx cannot be answered
// finally over Go's HTTP stack (its server sends 1xx only as interim responses, and its
// client skips them), so the table has none.
var statusTable = []statusCase{
	{200, false, true}, {201, false, true}, {202, false, true}, {204, false, true},
	{302, false, false}, {307, false, false},
	{400, false, false}, {401, false, false}, {403, false, false}, {410, false, false}, {422, false, false},
	{404, true, false}, {408, true, false}, {409, true, false}, {429, true, false},
	{500, true, false}, {502, true, false}, {503, true, false},
	{600, true, false}, // not in the table: should be treated as retriable
}

// statusRetries is the retry count of the status-table subscriptions.
const statusRetries = 2

// R4: how a Channel's or Broker's delivery treats each response status.
func testStatusTable(t *caseT) {
	t.eachFlow(func(t *caseT, fl flow) {
		redirected := t.newSink("redirect-target", accept)
		dls := t.newSink("dls", accept)
		s := t.newSink("subscriber", func(d *delivery) response {
			code, _ := strconv.Atoi(d.ext("respondwith"))
			if code == 0 {
				code = http.StatusBadRequest
			}
			r := answer(code)(d)
			if code/100 == 3 {
				r.Header = map[string]string{"Location": redirected.URL}
			}
			return r
		})
		addr := fl.setup(t, subscriber(s), fastRetry(statusRetries, uriDest(dls.URL)))
		var okIDs, failIDs []string
		for _, sc := range statusTable {
			id := fmt.Sprintf("r4-%d", sc.code)
			t.send(addr, newCE(id, "conf.r4").with("respondwith", strconv.Itoa(sc.code)))
			if sc.ok {
				okIDs = append(okIDs, id)
			} else {
				failIDs = append(failIDs, id)
			}
		}
		s.awaitIDs(t, okIDs...)
		dls.awaitIDs(t, failIDs...)
		t.quiet(s, dls)
		for _, sc := range statusTable {
			what := "not-retried"
			switch {
			case sc.ok:
				what = "success"
			case sc.retry:
				what = "retried"
			}
			t.Run(fmt.Sprintf("%d-%s", sc.code, what), func(t *caseT) {
				id := fmt.Sprintf("r4-%d", sc.code)
				attempts, dead := len(s.of(id)), len(dls.of(id))
				want := 1
				if sc.retry {
					want = statusRetries + 1
				}
				if attempts != want {
					t.Errorf("answered %d, the subscriber saw %d attempts; want %d (retry: %d)", sc.code, attempts, want, statusRetries)
				}
				switch {
				case sc.ok && dead != 0:
					t.Errorf("answered %d (success), yet the event went to the dead-letter sink", sc.code)
				case !sc.ok && dead != 1:
					t.Errorf("answered %d (error), the dead-letter sink got the event %d times; want 1", sc.code, dead)
				}
			})
		}
		t.Run("RedirectsNotFollowed", func(t *caseT) {
			if n := len(redirected.all()); n > 0 {
				t.Errorf("a 3xx answer was followed: the Location target got %d requests", n)
			}
		})
	})
}

// R5: a duplicate is accepted; deduplication, if any, keys on source and id together.
func testDuplicatesAccepted(t *caseT) {
	t.eachFlow(func(t *caseT, fl flow) {
		s := t.newSink("subscriber", accept)
		addr := fl.setup(t, subscriber(s))
		e := newCE("r5-dup", "conf.r5")
		t.send(addr, e)
		t.send(addr, e) // the same event again: must be accepted
		other := e
		other.Source = "/conformance/other-source"
		t.send(addr, other) // same id, other source: a different event
		s.await(t, "both sources' events", func(ds []*delivery) bool {
			srcs := map[string]bool{}
			for _, d := range ds {
				if d.ID() == "r5-dup" && d.Status/100 == 2 {
					srcs[d.Event.Source()] = true
				}
			}
			return srcs[e.Source] && srcs[other.Source]
		})
	})
}

// gaps returns the times between consecutive deliveries.
func gaps(ds []*delivery) []time.Duration {
	var out []time.Duration
	for i := 1; i < len(ds); i++ {
		out = append(out, ds[i].At.Sub(ds[i-1].At))
	}
	return out
}

// R6 (and R28.2): exponential backoff waits backoffDelay·2^N before retry N. The suite checks
// lower bounds only (a timer never fires early): retry k waits at least backoffDelay·2^(k-1),
// which a linear or constant backoff fails by the third retry.
func testExponentialBackoff(t *caseT) {
	const delay = 50 * time.Millisecond
	t.eachFlow(func(t *caseT, fl flow) {
		s := t.newSink("subscriber", answer(http.StatusServiceUnavailable))
		addr := fl.setup(t, subscriber(s), deliveryYAML(3, "exponential", "PT0.05S", ""))
		t.send(addr, newCE("r6-exp", "conf.r6"))
		ds := s.awaitCount(t, 4)
		ds = s.settle(t)
		if len(ds) != 4 {
			t.Errorf("retry 3: %d attempts, want 4", len(ds))
		}
		for k, g := range gaps(ds[:min(len(ds), 4)]) {
			if floor := delay << k; g < floor {
				t.Errorf("retry %d came %v after the previous attempt; exponential backoff from %v waits at least %v", k+1, g, delay, floor)
			}
		}
	})
}

// R28.2: linear backoff waits backoffDelay before every retry (the spec: "Linear policy uses
// the same backoffDelay for each attempt"). Lower bound: each wait is at least backoffDelay;
// upper bound, with ample margin: the third wait is under 2.5·backoffDelay.
func testLinearBackoff(t *caseT) {
	const delay = 200 * time.Millisecond
	t.eachFlow(func(t *caseT, fl flow) {
		s := t.newSink("subscriber", answer(http.StatusServiceUnavailable))
		addr := fl.setup(t, subscriber(s), deliveryYAML(3, "linear", "PT0.2S", ""))
		t.send(addr, newCE("r28-linear", "conf.r28"))
		s.awaitCount(t, 4)
		ds := s.all()[:4]
		g := gaps(ds)
		for k, d := range g {
			if d < delay {
				t.Errorf("retry %d came %v after the previous attempt; backoffDelay is %v", k+1, d, delay)
			}
		}
		if g[2] >= delay*5/2 {
			t.Errorf("linear backoff from %v: the waits were %v; the spec asks for the same backoffDelay before each retry", delay, g)
		}
	})
}

// R6: the congestion control honours Retry-After on a 429 (Knative's delivery-retryafter
// feature, which Eddy enables by default): the retry waits at least the seconds asked, even
// though backoffDelay is far shorter.
func testRetryAfter(t *caseT) {
	t.eachFlow(func(t *caseT, fl flow) {
		s := t.newSink("subscriber", func(d *delivery) response {
			if d.Attempt == 1 {
				return response{Status: http.StatusTooManyRequests, Header: map[string]string{"Retry-After": "1"}}
			}
			return accept(d)
		})
		addr := fl.setup(t, subscriber(s), fastRetry(2, ""))
		t.send(addr, newCE("r6-retry-after", "conf.r6"))
		ds := s.awaitCount(t, 2)
		if g := ds[1].At.Sub(ds[0].At); g < time.Second {
			t.Errorf("after a 429 with Retry-After: 1 the retry came %v later; want at least 1s", g)
		}
	})
}

// R8: deliveries to a subscriber carry "Prefer: reply".
func testPreferReply(t *caseT) {
	t.eachFlow(func(t *caseT, fl flow) {
		s := t.newSink("subscriber", accept)
		addr := fl.setup(t, subscriber(s))
		t.send(addr, newCE("r8-prefer", "conf.r8"))
		s.awaitIDs(t, "r8-prefer")
		for _, d := range s.all() {
			if !slices.ContainsFunc(d.Header.Values("Prefer"), func(v string) bool { return strings.Contains(strings.ToLower(v), "reply") }) {
				t.Errorf("delivery of %s to spec.subscriber has Prefer %q; want \"reply\"", d.ID(), d.Header.Values("Prefer"))
			}
		}
	})
}

// R8: a 202 answer is never routed as a reply, even when it carries a CloudEvent.
func testReply202NotRouted(t *caseT) {
	s202 := func(d *delivery) response {
		if d.Event == nil || strings.HasSuffix(d.ID(), "-reply") {
			return accept(d)
		}
		return replyResponse(http.StatusAccepted, replyEvent(d.Event, "conf.r8.reply"), replyBinary)
	}
	t.Run("Subscription", func(t *caseT) {
		out := t.newSink("reply", accept)
		s := t.newSink("subscriber", s202)
		addr := t.mkChannel("ch")
		t.mkSubscription("sub", "ch", subscriber(s), reply(out))
		t.send(addr, newCE("r8-202", "conf.r8"))
		s.awaitIDs(t, "r8-202")
		t.quiet(s, out)
		if ids := out.ids(); len(ids) > 0 {
			t.Errorf("the body of a 202 answer was routed to spec.reply as a reply: %v", ids)
		}
	})
	t.Run("Trigger", func(t *caseT) {
		all := t.newSink("all", s202)
		addr := t.mkBroker("br")
		t.mkTrigger("all", "br", subscriber(all))
		t.send(addr, newCE("r8-202", "conf.r8"))
		all.awaitIDs(t, "r8-202")
		t.quiet(all)
		if ids := all.ids(); slices.Contains(ids, "r8-202-reply") {
			t.Errorf("the body of a 202 answer went back into the broker as a reply: %v", ids)
		}
	})
}

// R25: each matching Trigger yields one delivery, also when Triggers share a destination;
// the data is not modified.
func testEachTriggerDelivers(t *caseT) {
	s := t.newSink("shared", accept)
	addr := t.mkBroker("br")
	t.mkTrigger("a", "br", subscriber(s))
	t.mkTrigger("b", "br", subscriber(s), "filter: {attributes: {type: conf.r25}}")
	t.mkTrigger("c", "br", subscriber(s), "filter: {attributes: {type: conf.r25.other}}")
	e := newCE("r25", "conf.r25")
	e.Data = []byte(`{"payload":[1,2,3],"text":"unchanged"}`)
	t.send(addr, e)
	s.await(t, "two deliveries", func(ds []*delivery) bool { return len(ds) >= 2 })
	ds := s.settle(t)
	switch {
	case len(ds) < 2:
		t.Errorf("two Triggers match the event and share a destination: %d deliveries; want 2 (%s)", len(ds), s.summary())
	case len(ds) > 2:
		t.Logf("%d deliveries for two matching Triggers: duplicates, which at-least-once delivery allows (%s)", len(ds), s.summary())
	}
	for _, d := range ds {
		if d.Event != nil && string(d.Event.Data()) != string(e.Data) {
			t.Errorf("the data was modified: %q", d.Event.Data())
		}
	}
}

// R27: each Subscription yields a delivery, also when Subscriptions share a destination.
func testEachSubscriptionDelivers(t *caseT) {
	s := t.newSink("shared", accept)
	addr := t.mkChannel("ch")
	t.mkSubscription("a", "ch", subscriber(s))
	t.mkSubscription("b", "ch", subscriber(s))
	e := newCE("r27", "conf.r27")
	e.Data = []byte(`{"payload":[1,2,3],"text":"unchanged"}`)
	t.send(addr, e)
	s.await(t, "two deliveries", func(ds []*delivery) bool { return len(ds) >= 2 })
	ds := s.settle(t)
	switch {
	case len(ds) < 2:
		t.Errorf("two Subscriptions share a destination: %d deliveries; want 2 (%s)", len(ds), s.summary())
	case len(ds) > 2:
		t.Logf("%d deliveries for two Subscriptions: duplicates, which at-least-once delivery allows (%s)", len(ds), s.summary())
	}
	for _, d := range ds {
		if d.Event != nil && string(d.Event.Data()) != string(e.Data) {
			t.Errorf("the data was modified: %q", d.Event.Data())
		}
	}
}

// R26: a Trigger subscriber's reply goes back into the Broker and is evaluated against every
// Trigger, the one that produced it included. (Exactly once each, but a duplicate delivery
// is allowed: the suite compares the events received, not the count.)
func testReplyReevaluated(t *caseT) {
	p := t.newSink("producer", replyWith("conf.r26.pong", replyBinary, "conf.r26.pong"))
	pong := t.newSink("pong", accept)
	addr := t.mkBroker("br")
	t.mkTrigger("producer", "br", subscriber(p))
	t.mkTrigger("pong", "br", subscriber(pong), "filter: {attributes: {type: conf.r26.pong}}")
	t.send(addr, newCE("r26", "conf.r26.ping"))
	pong.awaitIDs(t, "r26-reply")
	p.awaitIDs(t, "r26", "r26-reply")
	t.quiet(p, pong)
	if got := p.distinct(); !slices.Equal(got, []string{"r26", "r26-reply"}) {
		t.Errorf("the producing trigger received %v; want its event and its own reply once each", got)
	}
	if got := pong.distinct(); !slices.Equal(got, []string{"r26-reply"}) {
		t.Errorf("the pong trigger received %v; want the reply once", got)
	}
}

// R28.4: a Subscription sends its subscriber's reply to status.replyUri, and nowhere else.
func testSubscriptionReply(t *caseT) {
	out, dls := t.newSink("reply", accept), t.newSink("dls", accept)
	replier := t.newSink("replier", replyWith("conf.r28.reply", replyBinary))
	addr := t.mkChannel("ch")
	t.mkSubscription("sub", "ch", subscriber(replier), reply(out), fastRetry(2, uriDest(dls.URL)))
	t.send(addr, newCE("r28-4", "conf.r28"))
	out.awaitIDs(t, "r28-4-reply")
	t.quiet(out, dls, replier)
	if got := out.distinct(); !slices.Equal(got, []string{"r28-4-reply"}) {
		t.Errorf("spec.reply received %v; want the reply once", got)
	}
	if got := dls.ids(); len(got) > 0 {
		t.Errorf("a delivered reply also went to the dead-letter sink: %v", got)
	}
	if n := len(replier.all()); n != 1 {
		t.Errorf("the subscriber saw %d attempts; want 1", n)
	}
}

// R21: without spec.reply, a subscriber's reply is discarded: it goes nowhere, and the
// delivery is complete.
func testSubscriptionNoReply(t *caseT) {
	dls := t.newSink("dls", accept)
	replier := t.newSink("replier", replyWith("conf.r21.reply", replyBinary))
	other := t.newSink("other", accept)
	addr := t.mkChannel("ch")
	t.mkSubscription("sub", "ch", subscriber(replier), fastRetry(2, uriDest(dls.URL)))
	t.mkSubscription("other", "ch", subscriber(other))
	t.send(addr, newCE("r21", "conf.r21"))
	replier.awaitIDs(t, "r21")
	other.awaitIDs(t, "r21")
	t.quiet(replier, other, dls)
	if n := len(replier.all()); n != 1 {
		t.Errorf("the subscriber that replied saw %d attempts; want 1 (a reply without spec.reply is dropped, the delivery complete)", n)
	}
	if ids := other.distinct(); !slices.Equal(ids, []string{"r21"}) {
		t.Errorf("the channel's other subscriber received %v; the reply must not re-enter the channel", ids)
	}
	if ids := dls.ids(); len(ids) > 0 {
		t.Errorf("the dead-letter sink received %v", ids)
	}
}

// R28.5: when a Subscription's reply delivery fails retriably, the whole delivery (to the
// subscriber) is retried.
func testReplyFailureRetries(t *caseT) {
	out := t.newSink("reply", failFirst(1, http.StatusServiceUnavailable))
	replier := t.newSink("replier", replyWith("conf.r28.reply", replyBinary))
	addr := t.mkChannel("ch")
	t.mkSubscription("sub", "ch", subscriber(replier), reply(out), fastRetry(3, ""))
	t.send(addr, newCE("r28-5", "conf.r28"))
	out.awaitIDs(t, "r28-5-reply")
	t.quiet(out, replier)
	if n := len(replier.all()); n < 2 {
		t.Errorf("the reply destination answered 503 once; the subscriber saw %d attempts, want the whole delivery retried (≥2)", n)
	}
}

// R28.6: the dead-letter sink gets the failed event, unchanged but for Knative's error
// extensions: knativeerrordest (the failing URL), knativeerrorcode (its last status),
// knativeerrordata (base64 of its answer's body).
func testDeadLetterExtensions(t *caseT) {
	t.eachFlow(func(t *caseT, fl flow) {
		dls := t.newSink("dls", accept)
		s := t.newSink("subscriber", answer(http.StatusUnprocessableEntity))
		addr := fl.setup(t, subscriber(s), fastRetry(1, uriDest(dls.URL)))
		e := newCE("r28-6-ext", "conf.r28").with("keep", "me")
		t.send(addr, e)
		dls.awaitIDs(t, e.ID)
		d := dls.of(e.ID)[0]
		if diffs := sameEvent(e, d.Event, extErrorDest, extErrorCode, extErrorData, "traceparent", "tracestate", "knativehistory", "knativearrivaltime"); len(diffs) > 0 {
			t.Errorf("the dead-lettered event differs from the one sent: %s", strings.Join(diffs, "; "))
		}
		if got := d.ext(extErrorDest); !strings.HasPrefix(got, s.URL) {
			t.Errorf("%s = %q; want the subscriber's URL %s", extErrorDest, got, s.URL)
		}
		if got := d.ext(extErrorCode); got != "422" {
			t.Errorf("%s = %q; want 422", extErrorCode, got)
		}
		want := "conformance answer 422 for " + e.ID
		if raw, err := base64.StdEncoding.DecodeString(d.ext(extErrorData)); err != nil || string(raw) != want {
			t.Errorf("%s = %q (%q); want the base64 of %q", extErrorData, d.ext(extErrorData), raw, want)
		}
	})
}

// R28.6: delivery to the dead-letter sink is retried too (SHOULD).
func testDeadLetterRetried(t *caseT) {
	t.eachFlow(func(t *caseT, fl flow) {
		dls := t.newSink("dls", failFirst(1, http.StatusServiceUnavailable))
		s := t.newSink("subscriber", answer(http.StatusBadRequest))
		addr := fl.setup(t, subscriber(s), fastRetry(2, uriDest(dls.URL)))
		t.send(addr, newCE("r28-6-dls", "conf.r28"))
		dls.awaitIDs(t, "r28-6-dls")
		if n := len(dls.of("r28-6-dls")); n < 2 {
			t.Errorf("the dead-letter sink answered 503 first; it saw %d attempts, want a retry", n)
		}
	})
}

// R28.6: a reply that cannot be delivered sends the event to the dead-letter sink, once.
func testFailedReplyDeadLettered(t *caseT) {
	dls := t.newSink("dls", accept)
	out := t.newSink("reply", answer(http.StatusBadRequest))
	replier := t.newSink("replier", replyWith("conf.r28.reply", replyBinary))
	addr := t.mkChannel("ch")
	t.mkSubscription("sub", "ch", subscriber(replier), reply(out), fastRetry(2, uriDest(dls.URL)))
	t.send(addr, newCE("r28-6-reply", "conf.r28"))
	dls.awaitCount(t, 1)
	t.quiet(dls, out)
	ds := dls.all()
	if len(ds) != 1 || ds[0].ID() != "r28-6-reply" && ds[0].ID() != "r28-6-reply-reply" {
		t.Errorf("the reply destination refused the reply (400): the dead-letter sink got %s; want the event (or its reply) once", dls.summary())
	}
	if n := len(out.all()); n != 1 {
		t.Errorf("a 400 from the reply destination was retried: %d attempts", n)
	}
}

// R28.6: without a dead-letter sink, an undeliverable event is dropped after its retries:
// no more attempts follow.
func testNoDLSDrops(t *caseT) {
	t.eachFlow(func(t *caseT, fl flow) {
		s := t.newSink("subscriber", answer(http.StatusInternalServerError))
		addr := fl.setup(t, subscriber(s), fastRetry(2, ""))
		t.send(addr, newCE("r28-6-drop", "conf.r28"))
		s.awaitCount(t, 3)
		// Longer than Eddy's redelivery delay (1s): a nacked event would be back by then.
		if s.within(1500*time.Millisecond, func(ds []*delivery) bool { return len(ds) > 3 }) {
			t.Errorf("retry 2 and no dead-letter sink: %s; want 3 attempts, then the event dropped", s.summary())
		}
	})
}

// R29: a Subscription's own delivery spec replaces the Channel's entirely: its retry count
// applies, and the Channel's dead-letter sink is not used (no field-by-field merge).
func testSubscriptionDeliveryPrecedence(t *caseT) {
	chDLS := t.newSink("channel-dls", accept)
	s := t.newSink("subscriber", answer(http.StatusServiceUnavailable))
	addr := t.mkChannel("ch", fastRetry(3, uriDest(chDLS.URL)))
	t.mkSubscription("sub", "ch", subscriber(s), deliveryYAML(1, "linear", "PT0.01S", ""))
	t.send(addr, newCE("r29-sub", "conf.r29"))
	s.awaitCount(t, 2)
	t.quiet(s, chDLS)
	if n := len(s.all()); n != 2 {
		t.Errorf("the Subscription says retry 1, the Channel retry 3: %d attempts; want 2", n)
	}
	if ids := chDLS.ids(); len(ids) > 0 {
		t.Errorf("the Subscription's delivery spec has no dead-letter sink, yet the Channel's got %v (merged)", ids)
	}
}

// R29: a Subscription without a delivery spec uses the Channel's.
func testChannelDeliveryApplies(t *caseT) {
	chDLS := t.newSink("channel-dls", accept)
	s := t.newSink("subscriber", answer(http.StatusServiceUnavailable))
	addr := t.mkChannel("ch", fastRetry(2, uriDest(chDLS.URL)))
	t.mkSubscription("sub", "ch", subscriber(s))
	t.send(addr, newCE("r29-ch", "conf.r29"))
	chDLS.awaitIDs(t, "r29-ch")
	t.quiet(s, chDLS)
	if n := len(s.all()); n != 3 {
		t.Errorf("the Channel says retry 2: %d attempts; want 3", n)
	}
}

// R29: a Trigger's own delivery spec replaces the Broker's entirely.
func testTriggerDeliveryPrecedence(t *caseT) {
	brDLS := t.newSink("broker-dls", accept)
	s := t.newSink("subscriber", answer(http.StatusServiceUnavailable))
	addr := t.mkBroker("br", fastRetry(3, uriDest(brDLS.URL)))
	t.mkTrigger("tr", "br", subscriber(s), deliveryYAML(1, "linear", "PT0.01S", ""))
	t.send(addr, newCE("r29-tr", "conf.r29"))
	s.awaitCount(t, 2)
	t.quiet(s, brDLS)
	if n := len(s.all()); n != 2 {
		t.Errorf("the Trigger says retry 1, the Broker retry 3: %d attempts; want 2", n)
	}
	if ids := brDLS.ids(); len(ids) > 0 {
		t.Errorf("the Trigger's delivery spec has no dead-letter sink, yet the Broker's got %v (merged)", ids)
	}
}

// R30: filter.attributes is an exact, case-sensitive match on every key; a key must be
// present on the event; "" matches any value of a present attribute; extensions filter too.
func testFilters(t *caseT) {
	addr := t.mkBroker("br")
	filters := []struct {
		name, filter string
		want         []string
	}{
		{"type-exact", "{type: conf.r30.a}", []string{"e1", "e2"}},
		{"all-keys", "{type: conf.r30.a, source: /conformance/r30/one}", []string{"e1"}},
		{"case-sensitive", "{type: Conf.R30.A}", []string{"e4"}},
		{"empty-matches-present", "{r30ext: \"\"}", []string{"e1", "e3"}},
		{"extension-value", "{r30ext: v1}", []string{"e1"}},
	}
	sinks := map[string]*sink{}
	for _, f := range filters {
		sinks[f.name] = t.newSink(f.name, accept)
		t.mkTrigger(f.name, "br", subscriber(sinks[f.name]), "filter: {attributes: "+f.filter+"}")
	}
	all := t.newSink("all", accept)
	t.mkTrigger("all", "br", subscriber(all))
	mk := func(id, typ, src string, ext ...string) ce {
		e := newCE(id, typ)
		e.Source = src
		for i := 0; i+1 < len(ext); i += 2 {
			e = e.with(ext[i], ext[i+1])
		}
		return e
	}
	t.send(addr, mk("e1", "conf.r30.a", "/conformance/r30/one", "r30ext", "v1"))
	t.send(addr, mk("e2", "conf.r30.a", "/conformance/r30/two"))
	t.send(addr, mk("e3", "conf.r30.b", "/conformance/r30/one", "r30ext", "v2"))
	t.send(addr, mk("e4", "Conf.R30.A", "/conformance/r30/one"))
	all.awaitIDs(t, "e1", "e2", "e3", "e4")
	for _, f := range filters {
		sinks[f.name].awaitIDs(t, f.want...)
	}
	for _, s := range sinks {
		s.settle(t)
	}
	for _, f := range filters {
		t.Run(f.name, func(t *caseT) {
			if got := sinks[f.name].distinct(); !slices.Equal(got, f.want) {
				t.Errorf("filter %s passed %v; want %v", f.filter, got, f.want)
			}
		})
	}
}

// R39: a Channel delivers every attribute and the data unchanged (knativehistory may be
// appended to; traceparent and tracestate may change, R7). The delivery is valid CloudEvents.
func testChannelAttributesUnchanged(t *caseT) {
	s := t.newSink("subscriber", accept)
	addr := t.mkChannel("ch")
	t.mkSubscription("sub", "ch", subscriber(s))
	for _, m := range []mode{modeBinary, modeStructured} {
		e := fullEvent("r39-" + string(m))
		t.sendMode(addr, e, m)
		s.awaitIDs(t, e.ID)
		d := s.of(e.ID)[0]
		if diffs := sameEvent(e, d.Event, "knativehistory", "traceparent", "tracestate"); len(diffs) > 0 {
			t.Errorf("sent in %s mode, the event arrived changed: %s", m, strings.Join(diffs, "; "))
		}
		if d.Judge.Err != nil {
			t.Errorf("the delivery of %s is not valid: %v", e.ID, d.Judge.Err)
		}
	}
}

// R47: a Broker delivers valid CloudEvents, with (SHOULD) attributes, data and specversion
// unchanged (traceparent and tracestate may change, R7; Knative brokers add
// knativearrivaltime).
func testBrokerAttributesUnchanged(t *caseT) {
	s := t.newSink("subscriber", accept)
	addr := t.mkBroker("br")
	t.mkTrigger("tr", "br", subscriber(s))
	for _, m := range []mode{modeBinary, modeStructured} {
		e := fullEvent("r47-" + string(m))
		t.sendMode(addr, e, m)
		s.awaitIDs(t, e.ID)
		d := s.of(e.ID)[0]
		if d.Judge.Err != nil {
			t.Errorf("the delivery of %s is not a valid CloudEvent: %v", e.ID, d.Judge.Err)
		}
		if diffs := sameEvent(e, d.Event, "traceparent", "tracestate", "knativearrivaltime"); len(diffs) > 0 {
			t.Errorf("sent in %s mode, the event arrived changed: %s", m, strings.Join(diffs, "; "))
		}
	}
}

// fullEvent is a 1.0 event with every optional attribute and extensions.
func fullEvent(id string) ce {
	return ce{
		ID: id, Source: "/conformance/full", Type: "conf.full", Subject: "the-subject",
		Time: "2021-03-04T05:06:07.123Z", DataSchema: "https://example.com/schema.json",
		DataContentType: "application/json",
		Ext:             map[string]string{"confext": "value", "confnum": "42"},
		Data:            []byte(`{"answer":42,"list":["a","b"]}`),
	}
}

// R40: every Ready subscriber of a Channel gets each event.
func testEverySubscriber(t *caseT) {
	addr := t.mkChannel("ch")
	var sinks []*sink
	for _, n := range []string{"a", "b", "c"} {
		s := t.newSink(n, accept)
		sinks = append(sinks, s)
		t.mkSubscription(n, "ch", subscriber(s))
	}
	ch := t.mustGet(kindChannel, "ch")
	subs, _, _ := unstructured.NestedSlice(ch.Object, "status", "subscribers")
	ready := 0
	for _, s := range subs {
		if m, _ := s.(map[string]any); m["ready"] == "True" {
			ready++
		}
	}
	if ready != 3 {
		t.Errorf("status.subscribers lists %d ready subscribers; want 3", ready)
	}
	t.send(addr, newCE("r40", "conf.r40"))
	for _, s := range sinks {
		s.awaitIDs(t, "r40")
	}
}

// R40: once a Subscription is deleted (and gone from the Channel's status.subscribers), the
// events sent afterwards no longer reach it.
func testDeletedSubscription(t *caseT) {
	keep, gone := t.newSink("keep", accept), t.newSink("gone", accept)
	addr := t.mkChannel("ch")
	t.mkSubscription("keep", "ch", subscriber(keep))
	t.mkSubscription("gone", "ch", subscriber(gone))
	uid := t.mustGet(kindSubscription, "gone").GetUID()
	t.remove(kindSubscription, "gone")
	t.waitFor(kindChannel, "ch", "without the deleted subscriber", func(u *unstructured.Unstructured) bool {
		subs, _, _ := unstructured.NestedSlice(u.Object, "status", "subscribers")
		for _, s := range subs {
			if m, _ := s.(map[string]any); m["uid"] == string(uid) {
				return false
			}
		}
		return true
	})
	t.send(addr, newCE("r40-after", "conf.r40"))
	keep.awaitIDs(t, "r40-after")
	t.quiet(gone)
	if ids := gone.ids(); len(ids) > 0 {
		t.Errorf("the deleted Subscription's subscriber received %v", ids)
	}
}

// R48: once a Trigger is deleted, the events sent afterwards no longer reach it.
func testDeletedTrigger(t *caseT) {
	keep, gone := t.newSink("keep", accept), t.newSink("gone", accept)
	addr := t.mkBroker("br")
	t.mkTrigger("keep", "br", subscriber(keep))
	t.mkTrigger("gone", "br", subscriber(gone))
	t.remove(kindTrigger, "gone")
	t.send(addr, newCE("r48-after", "conf.r48"))
	keep.awaitIDs(t, "r48-after")
	t.quiet(gone)
	if ids := gone.ids(); len(ids) > 0 {
		t.Errorf("the deleted Trigger's subscriber received %v", ids)
	}
}

// traceparentOf returns the traceparent a delivery carried: the W3C header, else the
// CloudEvents extension.
func traceparentOf(d *delivery) string {
	if v := d.Header.Get("traceparent"); v != "" {
		return v
	}
	return d.ext("traceparent")
}

const testTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

// R41: W3C Trace Context passes from the sender through a Channel to its subscribers.
func testChannelTrace(t *caseT) {
	s := t.newSink("subscriber", accept)
	addr := t.mkChannel("ch")
	t.mkSubscription("sub", "ch", subscriber(s))
	req := newCE("r41", "conf.r41").request(addr, modeBinary)
	req.Header.Set("traceparent", testTraceparent)
	req.Header.Set("tracestate", "conformance=1")
	if code, body := t.do(req); code/100 != 2 {
		t.Fatalf("POST: %d %s", code, body)
	}
	s.awaitIDs(t, "r41")
	d := s.of("r41")[0]
	if got := traceID(traceparentOf(d)); got != traceID(testTraceparent) {
		t.Errorf("sent traceparent %s; the subscriber got %q (trace id %q)", testTraceparent, traceparentOf(d), got)
	}
}

// R50: a Broker keeps the trace context on delivery and on replies (SHOULD).
func testBrokerTrace(t *caseT) {
	p := t.newSink("producer", replyWith("conf.r50.reply", replyBinary, "conf.r50.reply"))
	addr := t.mkBroker("br")
	t.mkTrigger("tr", "br", subscriber(p))
	req := newCE("r50", "conf.r50").request(addr, modeBinary)
	req.Header.Set("traceparent", testTraceparent)
	if code, body := t.do(req); code/100 != 2 {
		t.Fatalf("POST: %d %s", code, body)
	}
	p.awaitIDs(t, "r50", "r50-reply")
	for _, d := range p.all() {
		if got := traceID(traceparentOf(d)); got != traceID(testTraceparent) {
			t.Errorf("%s arrived with traceparent %q (trace id %q); want trace id %s", d.ID(), traceparentOf(d), got, traceID(testTraceparent))
		}
	}
}

// R49: a malformed reply (a CloudEvent missing required attributes) is a failed delivery:
// the event goes to the dead-letter sink (SHOULD). It applies where replies are read: a
// Trigger's (replies go back to the Broker) and a Subscription's with spec.reply.
func testMalformedReply(t *caseT) {
	malformed := func(d *delivery) response {
		return response{Status: http.StatusOK, Header: map[string]string{
			"Ce-Specversion": "1.0", "Ce-Type": "conf.r49.reply", "Content-Type": "application/json", // no id, no source
		}, Body: []byte(`{}`)}
	}
	t.Run("Trigger", func(t *caseT) {
		dls := t.newSink("dls", accept)
		s := t.newSink("subscriber", malformed)
		addr := t.mkBroker("br")
		t.mkTrigger("tr", "br", subscriber(s), fastRetry(1, uriDest(dls.URL)))
		t.send(addr, newCE("r49", "conf.r49"))
		dls.awaitIDs(t, "r49")
	})
	t.Run("SubscriptionWithReply", func(t *caseT) {
		dls, out := t.newSink("dls", accept), t.newSink("reply", accept)
		s := t.newSink("subscriber", malformed)
		addr := t.mkChannel("ch")
		t.mkSubscription("sub", "ch", subscriber(s), reply(out), fastRetry(1, uriDest(dls.URL)))
		t.send(addr, newCE("r49", "conf.r49"))
		dls.awaitIDs(t, "r49")
		if ids := out.ids(); len(ids) > 0 {
			t.Errorf("spec.reply received %v from a malformed reply", ids)
		}
	})
}

// R51: BR0's conformance scenario. Trigger 1 passes source /conformance/r51/a, Trigger 2
// type conf.r51.second. Event x (only Trigger 1), event y (both), and Trigger 1's reply to x
// (only Trigger 2). Trigger 2's subscriber rejects each first delivery: redelivery follows.
// specversion, attributes and the trace id are kept.
func testBR0Scenario(t *caseT) {
	s1 := t.newSink("trigger1", replyWith("conf.r51.second", replyBinary, "conf.r51.second"))
	s2 := t.newSink("trigger2", failFirst(1, http.StatusServiceUnavailable))
	addr := t.mkBroker("br")
	t.mkTrigger("t1", "br", subscriber(s1), "filter: {attributes: {source: /conformance/r51/a}}")
	t.mkTrigger("t2", "br", subscriber(s2), "filter: {attributes: {type: conf.r51.second}}", fastRetry(3, ""))
	x := newCE("x", "conf.r51.first")
	x.Source = "/conformance/r51/a"
	y := newCE("y", "conf.r51.second")
	y.Source = "/conformance/r51/a"
	for _, e := range []ce{x, y} {
		req := e.request(addr, modeBinary)
		req.Header.Set("traceparent", testTraceparent)
		if code, body := t.do(req); code/100 != 2 {
			t.Fatalf("POST %s: %d %s", e.ID, code, body)
		}
	}
	s1.awaitIDs(t, "x", "y")
	s2.awaitIDs(t, "y", "x-reply")
	t.quiet(s1, s2)
	if got := slices.Compact(s1.accepted()); !slices.Equal(got, []string{"x", "y"}) {
		t.Errorf("Trigger 1 received %v; want x and y", got)
	}
	if got := slices.Compact(s2.accepted()); !slices.Equal(got, []string{"x-reply", "y"}) {
		t.Errorf("Trigger 2 accepted %v; want x's reply and y", got)
	}
	for _, id := range []string{"y", "x-reply"} {
		if n := len(s2.of(id)); n < 2 {
			t.Errorf("Trigger 2's subscriber rejected the first delivery of %s; it saw %d attempts, want a redelivery", id, n)
		}
	}
	for _, d := range append(s1.all(), s2.all()...) {
		var sent ce
		switch d.ID() {
		case "x":
			sent = x
		case "y":
			sent = y
		default:
			sent = replyEvent(s1.of("x")[0].Event, "conf.r51.second")
		}
		if diffs := sameEvent(sent, d.Event, "traceparent", "tracestate", "knativearrivaltime"); len(diffs) > 0 {
			t.Errorf("%s arrived changed: %s", d.ID(), strings.Join(diffs, "; "))
		}
		if got := traceID(traceparentOf(d)); got != traceID(testTraceparent) {
			t.Errorf("%s arrived with trace id %q; want %s", d.ID(), got, traceID(testTraceparent))
		}
	}
}

// gate is a subscriber that answers 503 until opened, then 202.
type gate struct{ open atomic.Bool }

func (g *gate) respond(d *delivery) response {
	if g.open.Load() {
		return accept(d)
	}
	return answer(http.StatusServiceUnavailable)(d)
}

// R24: a Broker durably enqueues an event before acknowledging it: an accepted event still
// being retried survives a restart of the platform and is delivered afterwards.
func testBrokerDurable(t *caseT) {
	t.ownPlatform()
	g := &gate{}
	s := t.newSink("subscriber", g.respond)
	addr := t.mkBroker("br")
	t.mkTrigger("tr", "br", subscriber(s), deliveryYAML(100, "linear", "PT0.1S", ""))
	t.send(addr, newCE("r24", "conf.r24"))
	s.awaitCount(t, 1)
	t.restart()
	g.open.Store(true)
	s.awaitIDs(t, "r24")
}

// R27: a Channel durably enqueues an event before acknowledging it (as R24).
func testChannelDurable(t *caseT) {
	t.ownPlatform()
	g := &gate{}
	s := t.newSink("subscriber", g.respond)
	addr := t.mkChannel("ch")
	t.mkSubscription("sub", "ch", subscriber(s), deliveryYAML(100, "linear", "PT0.1S", ""))
	t.send(addr, newCE("r27", "conf.r27"))
	s.awaitCount(t, 1)
	t.restart()
	g.open.Store(true)
	s.awaitIDs(t, "r27")
}
