package nats

import (
	"bytes"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"
	natsgo "github.com/nats-io/nats.go"

	"github.com/eddyplatform/eddy/conformance"
)

// wireHeader renders headers as the NATS protocol carries them (NATS/1.0,
// "Name: value" lines), in a stable order.
func wireHeader(h natsgo.Header) []byte {
	var b bytes.Buffer
	b.WriteString("NATS/1.0\r\n")
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range h[k] {
			b.WriteString(k + ": " + v + "\r\n")
		}
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// overTheWire encodes e, renders the headers on the wire and decodes them
// as the client library does.
func overTheWire(t testing.TB, e *event.Event) (*event.Event, natsgo.Header, []byte) {
	t.Helper()
	h, data, _, err := encodeEvent(e)
	if err != nil {
		t.Fatalf("encodeEvent: %v", err)
	}
	wire := wireHeader(h)
	h2, err := natsgo.DecodeHeadersMsg(wire)
	if err != nil {
		t.Fatalf("the client cannot read the headers back: %v\n%s", err, wire)
	}
	got, err := decodeEvent(h2, data)
	if err != nil {
		t.Fatalf("decodeEvent: %v\n%s", err, wire)
	}
	return got, h, data
}

func codecEvents() []*event.Event {
	plain := event.New()
	plain.SetID("1234-1234-1234")
	plain.SetSource("/mycontext/subcontext")
	plain.SetType("com.example.someevent")
	plain.SetTime(time.Date(2018, 4, 5, 3, 56, 24, 0, time.UTC))
	_ = plain.SetData(event.ApplicationJSON, map[string]int{"n": 1})

	tricky := event.New()
	tricky.SetID(" spaced id ")
	tricky.SetSource("urn:x-test:a%20b")
	tricky.SetType("dev.eddy \"quoted\" type")
	tricky.SetSubject("Euro € 😀 tab\there\r\nnewline")
	tricky.SetDataSchema("https://example.com/schema?x=1&y=%41")
	tricky.SetTime(time.Date(2024, 2, 29, 23, 59, 59, 123456789, time.FixedZone("x", 3600)))
	tricky.SetExtension("partitionkey", "key with spaces")
	tricky.SetExtension("count", 42)
	tricky.SetExtension("flag", true)
	tricky.SetExtension("blob", []byte{0, 1, 2, 255})
	tricky.SetExtension("when", types.Timestamp{Time: time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)})
	tricky.SetExtension("link", types.URI{URL: *mustURL("https://example.com/a b")})
	_ = tricky.SetData("application/octet-stream", []byte{0, 1, 2, 3, '\r', '\n'})

	noData := event.New()
	noData.SetID("no-data")
	noData.SetSource("/s")
	noData.SetType("t")

	structuredCT := event.New()
	structuredCT.SetID("odd-ct")
	structuredCT.SetSource("/s")
	structuredCT.SetType("t")
	_ = structuredCT.SetData("application/cloudevents+json", []byte(`{"not":"an event"}`))

	v03 := event.New(event.CloudEventsVersionV03)
	v03.SetID("v03")
	v03.SetSource("/old")
	v03.SetType("t")
	v03.SetDataSchema("https://example.com/s")
	_ = v03.SetData("text/plain", []byte("hello"))

	return []*event.Event{&plain, &tricky, &noData, &structuredCT, &v03}
}

func TestCodecRoundTrip(t *testing.T) {
	for _, e := range codecEvents() {
		t.Run(e.ID(), func(t *testing.T) {
			got, _, _ := overTheWire(t, e)
			if got.SpecVersion() != e.SpecVersion() || got.ID() != e.ID() || got.Source() != e.Source() ||
				got.Type() != e.Type() || got.Subject() != e.Subject() || got.DataSchema() != e.DataSchema() ||
				got.DataContentType() != e.DataContentType() || !got.Time().Equal(e.Time()) || !bytes.Equal(got.Data(), e.Data()) {
				t.Errorf("round trip changed the event:\n got %v\nwant %v", got, e)
			}
			for name, v := range e.Extensions() {
				want, _ := types.Format(v)
				if g, _ := types.Format(got.Extensions()[name]); g != want {
					t.Errorf("extension %s: got %q, want %q", name, g, want)
				}
			}
			if len(got.Extensions()) != len(e.Extensions()) {
				t.Errorf("extensions: got %v, want %v", got.Extensions(), e.Extensions())
			}
		})
	}
}

// TestCodecWireFormat checks the binary-mode mapping against the spec's
// example and the conformance validators. The NATS binding maps
// datacontenttype to ce-datacontenttype, the HTTP and Kafka bindings to
// content-type; the bus writes both, so each validator is shown its own
// binding's form.
func TestCodecWireFormat(t *testing.T) {
	e := codecEvents()[0]
	h, data, size, err := encodeEvent(e)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"ce-specversion": "1.0", "ce-type": "com.example.someevent", "ce-time": "2018-04-05T03:56:24Z",
		"ce-id": "1234-1234-1234", "ce-source": "/mycontext/subcontext",
		"ce-datacontenttype": "application/json", "content-type": "application/json",
	}
	for k, v := range want {
		if got := h[k]; len(got) != 1 || got[0] != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	if len(h) != len(want) {
		t.Errorf("headers %v, want exactly %v", h, want)
	}
	if string(data) != `{"n":1}` {
		t.Errorf("payload %q", data)
	}
	if wire := len(wireHeader(h)) + len(data); wire != size {
		t.Errorf("size %d, but the wire form is %d bytes", size, wire)
	}
	for _, e := range codecEvents() {
		h, data, _, err := encodeEvent(e)
		if err != nil {
			t.Fatal(err)
		}
		httpH := http.Header{}
		var kafka []conformance.KafkaHeader
		for k, vs := range h {
			if k == "ce-datacontenttype" {
				continue
			}
			httpH[k] = vs
			v, err := decodeValue(vs[0])
			if err != nil {
				t.Fatal(err)
			}
			kafka = append(kafka, conformance.KafkaHeader{Key: strings.Replace(k, "ce-", "ce_", 1), Value: []byte(v)})
		}
		for _, v := range append(conformance.ValidateBinaryHeaders(httpH, data), conformance.ValidateKafka(kafka, nil, data)...) {
			if v.Severity == conformance.SeverityError && !strings.ContainsAny(e.Subject(), "\t\r\n") { // control characters: sdk-go allows them, the spec does not
				t.Errorf("event %q: %v", e.ID(), v)
			}
		}
	}
}

func TestEncodeValue(t *testing.T) {
	// The binding's example.
	if got := encodeValue("Euro € 😀"); got != "Euro%20%E2%82%AC%20%F0%9F%98%80" {
		t.Errorf("encodeValue = %q", got)
	}
	for _, s := range []string{"", "plain", "100%", `"q"`, " lead", "trail ", "a\x00b", "ü", "%zz"} {
		enc := encodeValue(s)
		if got, err := decodeValue(enc); err != nil || got != s {
			t.Errorf("decodeValue(encodeValue(%q)) = %q, %v", s, got, err)
		}
		if enc2 := conformance.EncodeHTTPHeaderValue(s); enc2 != enc {
			t.Errorf("encodeValue(%q) = %q, the HTTP binding's (same rules) gives %q", s, enc, enc2)
		}
	}
	for raw, want := range map[string]string{`"a b"`: "a b", `"a\"b"`: `a"b`, "%e2%82%ac": "€", "%41": "A"} {
		if got, err := decodeValue(raw); err != nil || got != want {
			t.Errorf("decodeValue(%q) = %q, %v; want %q", raw, got, err, want)
		}
	}
	for _, raw := range []string{"%", "%4", "%GG", "%C0%A0", `"a\"`, "\xff"} {
		if _, err := decodeValue(raw); err == nil {
			t.Errorf("decodeValue(%q) succeeded", raw)
		}
	}
}

// TestDecodeForeign: messages written by other producers decode — the way
// sdk-go's nats_jetstream binding writes them (raw values), upper-case
// header names, content-type only, and structured mode.
func TestDecodeForeign(t *testing.T) {
	for name, tc := range map[string]struct {
		h    natsgo.Header
		data string
		id   string
		dct  string
	}{
		"sdk-go": {natsgo.Header{"ce-specversion": {"1.0"}, "ce-id": {"a"}, "ce-source": {"/s"}, "ce-type": {"t"},
			"ce-datacontenttype": {"text/plain"}}, "hi", "a", "text/plain"},
		"upper case": {natsgo.Header{"Ce-Specversion": {"1.0"}, "CE-ID": {"b"}, "Ce-Source": {"/s"}, "Ce-Type": {"t"},
			"Content-Type": {"application/json"}}, "{}", "b", "application/json"},
		"structured": {natsgo.Header{"Content-Type": {"application/cloudevents+json; charset=utf-8"}},
			`{"specversion":"1.0","id":"c","source":"/s","type":"t","datacontenttype":"text/plain","data":"x"}`, "c", "text/plain"},
	} {
		t.Run(name, func(t *testing.T) {
			e, err := decodeEvent(tc.h, []byte(tc.data))
			if err != nil {
				t.Fatal(err)
			}
			if e.ID() != tc.id || e.DataContentType() != tc.dct {
				t.Errorf("decoded %v", e)
			}
		})
	}
	for name, h := range map[string]natsgo.Header{
		"no specversion":   {"ce-id": {"a"}},
		"unknown version":  {"ce-specversion": {"9.9"}, "ce-id": {"a"}, "ce-source": {"/s"}, "ce-type": {"t"}},
		"missing type":     {"ce-specversion": {"1.0"}, "ce-id": {"a"}, "ce-source": {"/s"}},
		"two ids":          {"ce-specversion": {"1.0"}, "ce-id": {"a", "b"}, "ce-source": {"/s"}, "ce-type": {"t"}},
		"bad time":         {"ce-specversion": {"1.0"}, "ce-id": {"a"}, "ce-source": {"/s"}, "ce-type": {"t"}, "ce-time": {"yesterday"}},
		"batch":            {"content-type": {"application/cloudevents-batch+json"}},
		"bad encoding":     {"ce-specversion": {"1.0"}, "ce-id": {"%C0%A0"}, "ce-source": {"/s"}, "ce-type": {"t"}},
		"structured wrong": {"content-type": {"application/cloudevents+json"}},
	} {
		if e, err := decodeEvent(h, []byte("{")); err == nil {
			t.Errorf("%s: decoded %v", name, e)
		}
	}
}

// FuzzDecodeEvent feeds raw header blocks and payloads, seeded with real
// encodings, through the client's header parser and decodeEvent: it must
// never panic, and what it decodes must be a valid event that survives
// another round trip unchanged.
func FuzzDecodeEvent(f *testing.F) {
	for _, e := range codecEvents() {
		h, data, _, err := encodeEvent(e)
		if err != nil {
			f.Fatal(err)
		}
		h[msgIDHeader] = []string{"id-1"}
		f.Add(wireHeader(h), data)
	}
	f.Add([]byte("NATS/1.0\r\nContent-Type: application/cloudevents+json\r\n\r\n"),
		[]byte(`{"specversion":"1.0","id":"c","source":"/s","type":"t","data":{"a":1}}`))
	f.Add([]byte("NATS/1.0\r\nce-specversion: 0.3\r\nce-id: \"q\\\"d\"\r\nce-source: /s\r\nce-type: t\r\n\r\n"), []byte{})
	f.Fuzz(func(t *testing.T, hdr, data []byte) {
		h, err := natsgo.DecodeHeadersMsg(hdr)
		if err != nil {
			return
		}
		e, err := decodeEvent(h, data)
		if err != nil {
			return
		}
		if err := e.Validate(); err != nil {
			t.Fatalf("decoded an invalid event: %v", err)
		}
		h2, data2, _, err := encodeEvent(e)
		if err != nil {
			return // e.g. invalid UTF-8 from a structured payload: Publish refuses it too
		}
		h3, err := natsgo.DecodeHeadersMsg(wireHeader(h2))
		if err != nil {
			t.Fatalf("re-encoded headers do not parse: %v", err)
		}
		e2, err := decodeEvent(h3, data2)
		if err != nil {
			t.Fatalf("re-encoded event does not decode: %v", err)
		}
		if e2.ID() != e.ID() || e2.Source() != e.Source() || e2.Type() != e.Type() || e2.Subject() != e.Subject() ||
			e2.DataContentType() != e.DataContentType() || !bytes.Equal(e2.Data(), e.Data()) {
			t.Fatalf("round trip changed the event:\n%v\n%v", e, e2)
		}
	})
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}
