package github

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eddyplatform/eddy/sources"
)

// FuzzReceiver feeds the Receiver arbitrary bodies and headers. It must never panic, answer
// 202 exactly when it sent an event, and never send an event whose body is not signed with
// the secret. With sign set, the fuzzer's body is signed correctly, to reach the parsing.
func FuzzReceiver(f *testing.F) {
	for _, d := range loadCorpus(f)[:3] {
		f.Add(d.body, d.event, "72d3162e-cc78-11e3-81ab-4c9367dc0958", "application/json", d.sig256, false)
	}
	f.Add(pushBody, "push", "x", "application/json", "", true)
	f.Add([]byte("payload="+url.QueryEscape(string(pushBody))), "push", "x", "application/x-www-form-urlencoded", "", true)
	f.Add([]byte(`{"repository":{"html_url":"%zz"},"zen":1}`), "ping", "x", "application/json", "", true)
	f.Add([]byte(`{"octopus":{"id":1e999}}`), "octopus", "x", "application/json; charset=utf-8", "", true)
	f.Add([]byte("Hello, World!"), "push", "x", "application/json", "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", false)

	var sent atomic.Int64
	sender := sources.SenderFunc(func(_ context.Context, ev event.Event) error {
		sent.Add(1)
		if err := ev.Validate(); err != nil {
			panic("invalid event sent: " + err.Error())
		}
		return nil
	})
	r, err := NewReceiver(ReceiverConfig{
		Secret: []byte(corpusSecret), Sender: sender, EventTypes: []string{"*", "ping"},
		Logger: testLogger(io.Discard), MaxBodyBytes: 1 << 20, OwnerAndRepository: "o/r",
	})
	if err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, body []byte, ghEvent, delivery, contentType, sig string, signIt bool) {
		if signIt {
			sig = sign(corpusSecret, body)
		}
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		for k, v := range map[string]string{HeaderEvent: ghEvent, HeaderDelivery: delivery, "Content-Type": contentType, HeaderSignature: sig} {
			req.Header[k] = []string{v}
		}
		before := sent.Load()
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		didSend := sent.Load() != before
		if didSend != (w.Code == http.StatusAccepted) {
			t.Fatalf("status %d, sent %v", w.Code, didSend)
		}
		if w.Code >= 500 {
			t.Fatalf("status %d for input", w.Code)
		}
		if didSend {
			mac := hmac.New(sha256.New, []byte(corpusSecret))
			mac.Write(body)
			got, err := hex.DecodeString(strings.TrimPrefix(sig, "sha256="))
			if err != nil || !strings.HasPrefix(sig, "sha256=") || !hmac.Equal(got, mac.Sum(nil)) {
				t.Fatalf("sent an event for a bad signature %q", sig)
			}
		}
	})
}

// FuzzNewEvent maps arbitrary payloads: never a panic, and either an error or a valid event
// carrying the payload unchanged.
func FuzzNewEvent(f *testing.F) {
	for _, d := range loadCorpus(f) {
		f.Add(d.event, d.body)
	}
	f.Add("gollum", []byte(`{"pages":[null,{"page_name":7},{"page_name":"A"}]}`))
	f.Add("octopus", []byte(`{"octopus":{"number":"  "},"organization":{"login":"../x"}}`))
	f.Add("push", []byte(`{"compare":"/","repository":{"html_url":"http://[::1"}}`))
	f.Fuzz(func(t *testing.T, ghEvent string, payload []byte) {
		ev, err := NewEvent(ghEvent, "id-1", payload, MapOptions{OwnerAndRepository: "o/r"})
		if err != nil {
			return
		}
		if err := ev.Validate(); err != nil {
			t.Fatalf("invalid event: %v", err)
		}
		if !bytes.Equal(ev.Data(), payload) || ev.Type() != EventType(ghEvent) || !ceString(ev.Subject()) {
			t.Fatalf("event %s", ev)
		}
		for k, v := range ev.Extensions() {
			if s, ok := v.(string); ok && !ceString(s) {
				t.Fatalf("extension %s = %q", k, s)
			}
		}
	})
}
