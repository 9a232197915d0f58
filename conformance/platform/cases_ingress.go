package platformconf

import (
	"bytes"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// addressable is a Channel or a Broker with a subscriber, for the ingress cases.
type addressable struct {
	Name string
	k    kind
	// setup creates it with a subscriber at s and returns its address.
	setup func(t *caseT, s *sink) string
	// accepted reports whether a status is the spec's answer to an accepted event.
	accepted func(code int) bool
}

var channelIngress = addressable{"Channel", kindChannel, func(t *caseT, s *sink) string {
	addr := t.mkChannel("ch")
	t.mkSubscription("sub", "ch", subscriber(s))
	return addr
}, func(code int) bool { return code == http.StatusAccepted }}

var brokerIngress = addressable{"Broker", kindBroker, func(t *caseT, s *sink) string {
	addr := t.mkBroker("br")
	t.mkTrigger("tr", "br", subscriber(s))
	return addr
}, func(code int) bool { return code/100 == 2 }}

// R3: an OPTIONS probe, when answered, lists POST in Allow.
func testOptions(t *caseT) {
	for _, a := range []addressable{channelIngress, brokerIngress} {
		t.Run(a.Name, func(t *caseT) {
			addr := a.setup(t, t.newSink("subscriber", accept))
			resp, err := httpClient.Do(mustRequest(http.MethodOptions, addr))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			code := resp.StatusCode
			if code/100 != 2 {
				return // OPTIONS not implemented: allowed
			}
			allow := strings.Split(strings.ReplaceAll(resp.Header.Get("Allow"), " ", ""), ",")
			if !slices.Contains(allow, http.MethodPost) {
				t.Errorf("OPTIONS %s answered %d with Allow %q; it must list POST", addr, code, resp.Header.Get("Allow"))
			}
		})
	}
}

func mustRequest(method, url string) *http.Request {
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		panic(err)
	}
	return req
}

// modes sends one event in binary and one in structured mode and checks the answer and the
// delivery of both.
func modes(t *caseT, a addressable) {
	s := t.newSink("subscriber", accept)
	addr := a.setup(t, s)
	for _, m := range []mode{modeBinary, modeStructured} {
		e := newCE("modes-"+string(m), "conf.modes")
		if code, body := t.do(e.request(addr, m)); !a.accepted(code) {
			t.Errorf("a valid %s-mode event got %d %s", m, code, body)
		}
	}
	s.awaitIDs(t, "modes-binary", "modes-structured")
}

// R33: a Channel takes binary and structured mode.
func testChannelModes(t *caseT) { modes(t, channelIngress) }

// R43: a Broker takes binary and structured mode.
func testBrokerModes(t *caseT) { modes(t, brokerIngress) }

// event03 is a CloudEvents 0.3 event.
func event03(id string) ce {
	e := newCE(id, "conf.v03")
	e.SpecVersion = "0.3"
	e.Subject = "v03"
	e.DataSchema = "https://example.com/v03.json"
	return e
}

// R32: a Channel accepts CloudEvents 0.3 (and 1.0), in both modes.
func testChannelAccepts03(t *caseT) {
	s := t.newSink("subscriber", accept)
	addr := channelIngress.setup(t, s)
	for _, m := range []mode{modeBinary, modeStructured} {
		e := event03("v03-" + string(m))
		if code, body := t.do(e.request(addr, m)); code != http.StatusAccepted {
			t.Errorf("a valid 0.3 event in %s mode got %d %s", m, code, body)
		}
	}
	s.awaitIDs(t, "v03-binary", "v03-structured")
}

// R34: a Channel does not upgrade the CloudEvents version: 0.3 in, 0.3 out (and 1.0 in, 1.0
// out), with the 0.3 attributes intact.
func testSpecVersionKept(t *caseT) {
	s := t.newSink("subscriber", accept)
	addr := channelIngress.setup(t, s)
	e03, e10 := event03("sv-03"), newCE("sv-10", "conf.v10")
	t.send(addr, e03)
	t.send(addr, e10)
	s.awaitIDs(t, "sv-03", "sv-10")
	for _, c := range []struct {
		sent ce
		want string
	}{{e03, "0.3"}, {e10, "1.0"}} {
		d := s.of(c.sent.ID)[0]
		if got := d.Event.SpecVersion(); got != c.want {
			t.Errorf("sent specversion %s; the subscriber got %s", c.want, got)
		}
		if diffs := sameEvent(c.sent, d.Event, "traceparent", "tracestate", "knativehistory"); len(diffs) > 0 {
			t.Errorf("%s arrived changed: %s", c.sent.ID, strings.Join(diffs, "; "))
		}
	}
}

// nonPOST checks that every method but POST (and OPTIONS, the probe) gets 405.
func nonPOST(t *caseT, a addressable) {
	addr := a.setup(t, t.newSink("subscriber", accept))
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		req := newCE("non-post", "conf.r35").request(addr, modeBinary)
		req.Method = m
		if code, body := t.do(req); code != http.StatusMethodNotAllowed {
			t.Errorf("%s %s got %d %s; want 405", m, addr, code, body)
		}
	}
}

// R35: a Channel answers 405 to a method other than POST.
func testChannelNonPOST(t *caseT) { nonPOST(t, channelIngress) }

// R44: a Broker answers 405 to a method other than POST.
func testBrokerNonPOST(t *caseT) { nonPOST(t, brokerIngress) }

// siblingURL is addr with its last path segment replaced by name: the address another
// object of the same kind and namespace would have, were addresses made that way; and in any
// case a URL no object of the case has.
func siblingURL(addr, name string) string {
	u, err := url.Parse(addr)
	if err != nil || u.Opaque != "" || u.Host == "" {
		return strings.TrimSuffix(addr, "/") + "/" + name + "-sibling"
	}
	p := strings.TrimSuffix(u.Path, "/")
	if i := strings.LastIndex(p, "/"); i >= 0 {
		u.Path = p[:i+1] + name
	} else {
		u.Path = "/" + name
	}
	return u.String()
}

// R36: a URL with no Channel gets 404.
func testUnknownChannel(t *caseT) {
	addr := channelIngress.setup(t, t.newSink("subscriber", accept))
	for _, u := range []string{siblingURL(addr, "no-such-channel"), t.ingress() + "/conformance/no/such/channel"} {
		if code, body := t.do(newCE("r36", "conf.r36").request(u, modeBinary)); code != http.StatusNotFound {
			t.Errorf("POST %s (no channel there) got %d %s; want 404", u, code, body)
		}
	}
}

// deleted creates an addressable, deletes it, and checks its former address gets 404.
func deleted(t *caseT, a addressable, name string) {
	addr := a.setup(t, t.newSink("subscriber", accept))
	t.remove(a.k, name)
	t.eventually("the deleted "+a.Name+"'s address to answer 404", func() (bool, string) {
		code, body := t.do(newCE("deleted", "conf.deleted").request(addr, modeBinary))
		return code == http.StatusNotFound, body
	})
}

// R36: a deleted Channel's URL gets 404.
func testDeletedChannel(t *caseT) { deleted(t, channelIngress, "ch") }

// R52: a deleted Broker's URL (a sink's unknown URL) gets 404.
func testDeletedBroker(t *caseT) { deleted(t, brokerIngress, "br") }

// R37: a Channel answers an accepted event with 202 exactly.
func testChannel202(t *caseT) {
	s := t.newSink("subscriber", accept)
	addr := channelIngress.setup(t, s)
	for _, m := range []mode{modeBinary, modeStructured} {
		if code, body := t.do(newCE("r37-"+string(m), "conf.r37").request(addr, m)); code != http.StatusAccepted {
			t.Errorf("%s mode: %d %s; want 202", m, code, body)
		}
	}
}

// R45: a Broker answers an accepted event with a 2xx.
func testBroker2xx(t *caseT) {
	s := t.newSink("subscriber", accept)
	addr := brokerIngress.setup(t, s)
	for _, m := range []mode{modeBinary, modeStructured} {
		if code, body := t.do(newCE("r45-"+string(m), "conf.r45").request(addr, m)); code/100 != 2 {
			t.Errorf("%s mode: %d %s; want 2xx", m, code, body)
		}
	}
}

// invalidRequests are requests that do not carry a valid CloudEvent.
func invalidRequests(addr string) map[string]*http.Request {
	out := map[string]*http.Request{}
	mk := func(name string, h map[string]string, body string) {
		req, _ := http.NewRequest(http.MethodPost, addr, strings.NewReader(body))
		for k, v := range h {
			req.Header.Set(k, v)
		}
		out[name] = req
	}
	mk("binary-without-id", map[string]string{"ce-specversion": "1.0", "ce-source": "/c", "ce-type": "t", "Content-Type": "application/json"}, `{}`)
	mk("binary-without-source", map[string]string{"ce-specversion": "1.0", "ce-id": "1", "ce-type": "t", "Content-Type": "application/json"}, `{}`)
	mk("binary-without-type", map[string]string{"ce-specversion": "1.0", "ce-id": "1", "ce-source": "/c", "Content-Type": "application/json"}, `{}`)
	mk("binary-empty-id", map[string]string{"ce-specversion": "1.0", "ce-id": "", "ce-source": "/c", "ce-type": "t"}, ``)
	mk("binary-bad-specversion", map[string]string{"ce-specversion": "7.0", "ce-id": "1", "ce-source": "/c", "ce-type": "t"}, ``)
	mk("structured-malformed-json", map[string]string{"Content-Type": "application/cloudevents+json"}, `{"specversion":"1.0","id":`)
	mk("structured-without-type", map[string]string{"Content-Type": "application/cloudevents+json"}, `{"specversion":"1.0","id":"1","source":"/c"}`)
	mk("structured-bad-time", map[string]string{"Content-Type": "application/cloudevents+json"}, `{"specversion":"1.0","id":"1","source":"/c","type":"t","time":"yesterday"}`)
	mk("not-a-cloudevent", map[string]string{"Content-Type": "text/plain"}, `hello`)
	return out
}

// invalid checks that each invalid request gets 400 and is not delivered.
func invalid(t *caseT, a addressable) {
	s := t.newSink("subscriber", accept)
	addr := a.setup(t, s)
	reqs := invalidRequests(addr)
	for _, name := range sortedKeys(reqs) {
		t.Run(name, func(t *caseT) {
			if code, body := t.do(reqs[name]); code != http.StatusBadRequest {
				t.Errorf("got %d %s; want 400", code, body)
			}
		})
	}
	t.send(addr, newCE("after-invalid", "conf.r38"))
	s.awaitIDs(t, "after-invalid")
	t.quiet(s)
	if ids := s.distinct(); !slices.Equal(ids, []string{"after-invalid"}) {
		t.Errorf("the subscriber received %v; only the valid event was to be delivered", ids)
	}
}

// R38: a Channel answers 400 to what is not a valid CloudEvent.
func testChannelInvalid(t *caseT) { invalid(t, channelIngress) }

// R46: a Broker answers 400 to what is not a valid CloudEvent.
func testBrokerInvalid(t *caseT) { invalid(t, brokerIngress) }

// R38 (Eddy's refinement): a body over the ingress's limit (4 MiB by default) is refused with
// 413, not taken and lost, and not a 5xx that invites a retry.
func testOversized(t *caseT) {
	for _, a := range []addressable{channelIngress, brokerIngress} {
		t.Run(a.Name, func(t *caseT) {
			s := t.newSink("subscriber", accept)
			addr := a.setup(t, s)
			e := newCE("too-big", "conf.r38")
			e.DataContentType = "application/octet-stream"
			e.Data = bytes.Repeat([]byte("x"), 5<<20)
			if code, body := t.do(e.request(addr, modeBinary)); code != http.StatusRequestEntityTooLarge {
				t.Errorf("a 5 MiB event got %d %s; want 413", code, body)
			}
		})
	}
}

// R48: with no Trigger matching, the producer still gets a 2xx.
func testNoMatchingTrigger(t *caseT) {
	s := t.newSink("subscriber", accept)
	addr := t.mkBroker("br")
	t.mkTrigger("tr", "br", subscriber(s), "filter: {attributes: {type: conf.r48.never}}")
	if code, body := t.do(newCE("r48", "conf.r48").request(addr, modeBinary)); code/100 != 2 {
		t.Errorf("an event no Trigger matches got %d %s; want 2xx", code, body)
	}
	t.quiet(s)
	if ids := s.ids(); len(ids) > 0 {
		t.Errorf("a Trigger whose filter does not match received %v", ids)
	}
}

// R53: batch mode is optional; an ingress that accepts a batch delivers every event in it.
func testBatch(t *caseT) {
	for _, a := range []addressable{channelIngress, brokerIngress} {
		t.Run(a.Name, func(t *caseT) {
			s := t.newSink("subscriber", accept)
			addr := a.setup(t, s)
			code, body := t.do(batchRequest(addr, newCE("b1", "conf.batch"), newCE("b2", "conf.batch"), newCE("b3", "conf.batch")))
			if code/100 != 2 {
				t.Logf("the batch was refused (%d %s): batch mode is optional", code, body)
				return
			}
			s.awaitIDs(t, "b1", "b2", "b3")
		})
	}
}
