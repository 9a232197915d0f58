package rabbitmq

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/eddyplatform/eddy/bus"
	"github.com/eddyplatform/eddy/conformance"
)

// sampleEvents are events with every kind of attribute and data.
func sampleEvents() []*event.Event {
	full := event.New()
	full.SetID("full-1")
	full.SetSource("https://example.com/sources/a?b=c")
	full.SetType("dev.eddy.sample.full")
	full.SetSubject("subject/ü")
	full.SetTime(time.Date(2026, 3, 4, 5, 6, 7, 891234567, time.UTC))
	full.SetDataSchema("https://example.com/schema.json")
	full.SetExtension("partitionkey", "key-7")
	full.SetExtension("count", int32(-42))
	full.SetExtension("flag", true)
	full.SetExtension("blob", []byte{0, 1, 2, 255})
	full.SetExtension("when", types.Timestamp{Time: time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)})
	full.SetExtension("ref", *mustURL("/relative/ref"))
	if err := full.SetData(event.ApplicationJSON, map[string]any{"n": 1, "s": "ü"}); err != nil {
		panic(err)
	}

	bare := event.New()
	bare.SetID("bare-1")
	bare.SetSource("/bare")
	bare.SetType("dev.eddy.sample.bare")

	bin := event.New()
	bin.SetID("bin-1")
	bin.SetSource("urn:eddy:bin")
	bin.SetType("dev.eddy.sample.binary")
	if err := bin.SetData("application/octet-stream", []byte{0xff, 0, 0x10, 'x'}); err != nil {
		panic(err)
	}

	text := event.New()
	text.SetID("text-1")
	text.SetSource("/text")
	text.SetType("dev.eddy.sample.text")
	if err := text.SetData("text/plain; charset=utf-8", []byte("hello, world")); err != nil {
		panic(err)
	}

	v03 := event.New(event.CloudEventsVersionV03)
	v03.SetID("v03-1")
	v03.SetSource("/old")
	v03.SetType("dev.eddy.sample.v03")
	v03.SetDataSchema("https://example.com/old-schema")
	if err := v03.SetData(event.ApplicationJSON, map[string]int{"old": 1}); err != nil {
		panic(err)
	}
	return []*event.Event{&full, &bare, &bin, &text, &v03}
}

func mustURL(s string) *types.URIRef {
	u := types.ParseURIRef(s)
	if u == nil {
		panic(s)
	}
	return u
}

// sameEvent fails unless got carries the same attributes, extensions (by
// canonical string) and data as want.
func sameEvent(t testing.TB, got, want *event.Event) {
	t.Helper()
	if g, w := canonical(got), canonical(want); g != w {
		t.Errorf("event differs after the round trip:\n got %s\nwant %s", g, w)
	}
}

// canonical renders an event's attributes and data in a fixed order.
func canonical(e *event.Event) string {
	var parts []string
	add := func(k string, v any) {
		if v == nil {
			return
		}
		s, err := types.Format(v)
		if err != nil {
			s = "!" + err.Error()
		}
		if s != "" {
			parts = append(parts, k+"="+s)
		}
	}
	ver := specs.Version(e.SpecVersion())
	for _, a := range ver.Attributes() {
		add(a.Name(), a.Get(e.Context))
	}
	for k, v := range e.Extensions() {
		add("ext:"+k, v)
	}
	sort.Strings(parts)
	return strings.Join(parts, " ") + " data=" + string(e.Data())
}

// TestCodecRoundTrip: encoding then decoding gives the event back, and the
// encoding passes conformance.ValidateAMQP.
func TestCodecRoundTrip(t *testing.T) {
	for _, ev := range sampleEvents() {
		pub, err := encodeEvent(ev, 1<<20)
		if err != nil {
			t.Fatalf("encode %s: %v", ev.ID(), err)
		}
		checkAMQP(t, ev.ID(), pub.ContentType, pub.Headers, pub.Body)
		if pub.DeliveryMode != amqp.Persistent {
			t.Errorf("%s: delivery mode %d, want persistent", ev.ID(), pub.DeliveryMode)
		}
		if pub.MessageId != ev.ID() {
			t.Errorf("%s: message-id %q", ev.ID(), pub.MessageId)
		}
		got, err := decodeEvent(pub.Headers, pub.ContentType, pub.Body)
		if err != nil {
			t.Fatalf("decode %s: %v", ev.ID(), err)
		}
		sameEvent(t, got, ev)
	}
}

// checkAMQP asserts the message is a valid CloudEvent in the AMQP binding's
// binary mode, with the datacontenttype in content-type only.
func checkAMQP(t testing.TB, what, contentType string, headers amqp.Table, body []byte) {
	t.Helper()
	for _, v := range conformance.ValidateAMQP(contentType, map[string]any(headers), body) {
		if v.Severity == conformance.SeverityError {
			t.Errorf("%s: %s: %s", what, v.Rule, v.Message)
		} else {
			t.Logf("%s: warning %s: %s", what, v.Rule, v.Message)
		}
	}
	for k := range headers {
		if !strings.HasPrefix(k, HeaderPrefix) {
			t.Errorf("%s: header %q lacks the %q prefix", what, k, HeaderPrefix)
		}
	}
	if _, ok := headers[HeaderPrefix+"datacontenttype"]; ok {
		t.Errorf("%s: datacontenttype sent as a header, not as content-type", what)
	}
}

// TestEncodingOnTheWire publishes the sample events through the bus, reads
// the raw messages from the group's queue with a plain AMQP client and
// validates them with conformance.ValidateAMQP.
func TestEncodingOnTheWire(t *testing.T) {
	const topic = "wire"
	prefix := testPrefix()
	cleanupTopics(t, prefix, topic)
	b := openBus(t, testConfig(t, prefix))
	ctx := context.Background()
	if err := b.EnsureTopic(ctx, topic); err != nil {
		t.Fatal(err)
	}
	sub, err := b.Subscribe(ctx, topic, "raw", bus.SubscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sub.Close() // the queue keeps the group's events
	evs := sampleEvents()
	if err := b.Publish(ctx, topic, evs...); err != nil {
		t.Fatal(err)
	}
	ch, err := rawConn(t).Channel()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range evs {
		m, ok, err := ch.Get(b.names.queue(topic, "raw"), true)
		if err != nil || !ok {
			t.Fatalf("basic.get: ok=%t err=%v", ok, err)
		}
		if m.DeliveryMode != amqp.Persistent {
			t.Errorf("%s: not persistent", want.ID())
		}
		if m.ContentType != want.DataContentType() {
			t.Errorf("%s: content-type %q, want datacontenttype %q", want.ID(), m.ContentType, want.DataContentType())
		}
		if m.Headers[HeaderPrefix+"id"] != want.ID() || m.Headers[HeaderPrefix+"specversion"] != want.SpecVersion() {
			t.Errorf("%s: headers %v", want.ID(), m.Headers)
		}
		checkAMQP(t, want.ID(), m.ContentType, m.Headers, m.Body)
		got, err := decodeEvent(m.Headers, m.ContentType, m.Body)
		if err != nil {
			t.Fatalf("decode %s: %v", want.ID(), err)
		}
		sameEvent(t, got, want)
	}
}

// TestDecodeRejects: what is not a CloudEvent in binary mode is refused.
func TestDecodeRejects(t *testing.T) {
	good := func() amqp.Table {
		return amqp.Table{"cloudEvents_specversion": "1.0", "cloudEvents_id": "x", "cloudEvents_source": "/s", "cloudEvents_type": "t"}
	}
	with := func(k string, v any) amqp.Table { h := good(); h[k] = v; return h }
	without := func(k string) amqp.Table { h := good(); delete(h, k); return h }
	cases := map[string]amqp.Table{
		"no headers":         nil,
		"no specversion":     without("cloudEvents_specversion"),
		"bad specversion":    with("cloudEvents_specversion", "2.0"),
		"int specversion":    with("cloudEvents_specversion", int32(1)),
		"no id":              without("cloudEvents_id"),
		"no type":            without("cloudEvents_type"),
		"mixed prefixes":     with("cloudEvents:subject", "s"),
		"upper-case name":    with("cloudEvents_Subject", "s"),
		"empty name":         with("cloudEvents_", "s"),
		"table value":        with("cloudEvents_ext", amqp.Table{"a": "b"}),
		"fractional":         with("cloudEvents_ext", 1.5),
		"out of int32 range": with("cloudEvents_ext", int64(1)<<40),
		"bad time":           with("cloudEvents_time", "yesterday"),
		"void":               with("cloudEvents_ext", nil),
	}
	for name, h := range cases {
		if ev, err := decodeEvent(h, "", nil); err == nil {
			t.Errorf("%s: decoded %v", name, ev)
		} else if !errors.Is(err, errUndecodable) {
			t.Errorf("%s: error %v does not wrap errUndecodable", name, err)
		}
	}
	colon := amqp.Table{"cloudEvents:specversion": "1.0", "cloudEvents:id": "x", "cloudEvents:source": "/s", "cloudEvents:type": "t", "other": "ignored"}
	if _, err := decodeEvent(colon, "text/plain", []byte("hi")); err != nil {
		t.Errorf("the cloudEvents: prefix: %v", err)
	}
}

// TestEncodeRefuses: invalid and oversized events wrap the bus errors.
func TestEncodeRefuses(t *testing.T) {
	invalid := event.New()
	invalid.SetID("x")
	if _, err := encodeEvent(&invalid, 0); !errors.Is(err, bus.ErrInvalidEvent) {
		t.Errorf("invalid event: %v", err)
	}
	if _, err := encodeEvent(nil, 0); !errors.Is(err, bus.ErrInvalidEvent) {
		t.Errorf("nil event: %v", err)
	}
	big := testEvent("big")
	big.SetData("application/octet-stream", make([]byte, 1000))
	if _, err := encodeEvent(big, 1000); !errors.Is(err, bus.ErrEventTooLarge) {
		t.Errorf("oversized event: %v", err)
	}
}

// Fuzz input for header tables: entries of key length (1 byte), key, type
// (1 byte), value length (2 bytes), value.
func tableToBytes(h amqp.Table) []byte {
	var buf bytes.Buffer
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		var typ byte
		var val []byte
		switch v := h[k].(type) {
		case string:
			typ, val = 's', []byte(v)
		case bool:
			typ, val = 'b', []byte{0}
			if v {
				val[0] = 1
			}
		case int32:
			typ, val = 'i', binary.BigEndian.AppendUint32(nil, uint32(v))
		case int64:
			typ, val = 'l', binary.BigEndian.AppendUint64(nil, uint64(v))
		case []byte:
			typ, val = 'x', v
		case time.Time:
			typ, val = 't', binary.BigEndian.AppendUint64(nil, uint64(v.Unix()))
		default:
			continue
		}
		buf.WriteByte(byte(len(k)))
		buf.WriteString(k)
		buf.WriteByte(typ)
		buf.Write(binary.BigEndian.AppendUint16(nil, uint16(len(val))))
		buf.Write(val)
	}
	return buf.Bytes()
}

func tableFromBytes(b []byte) amqp.Table {
	h := amqp.Table{}
	for len(b) > 0 {
		kl := int(b[0])
		b = b[1:]
		if len(b) < kl+3 {
			return h
		}
		k := string(b[:kl])
		typ := b[kl]
		vl := int(binary.BigEndian.Uint16(b[kl+1:]))
		b = b[kl+3:]
		if len(b) < vl {
			return h
		}
		val := b[:vl]
		b = b[vl:]
		switch typ {
		case 's':
			h[k] = string(val)
		case 'b':
			h[k] = len(val) > 0 && val[0] != 0
		case 'i':
			if len(val) == 4 {
				h[k] = int32(binary.BigEndian.Uint32(val))
			}
		case 'l':
			if len(val) == 8 {
				h[k] = int64(binary.BigEndian.Uint64(val))
			}
		case 'x':
			h[k] = append([]byte(nil), val...)
		case 't':
			if len(val) == 8 {
				h[k] = time.Unix(int64(binary.BigEndian.Uint64(val)), 0)
			}
		case 'f':
			if len(val) == 8 {
				h[k] = float64(int64(binary.BigEndian.Uint64(val))) / 4
			}
		case 'v':
			h[k] = nil
		}
	}
	return h
}

// FuzzDecodeEvent feeds decodeEvent arbitrary header tables, content types
// and bodies, seeded with the bus's real encodings. Whatever it accepts must
// be a valid event that survives another encode and decode unchanged.
func FuzzDecodeEvent(f *testing.F) {
	for _, ev := range sampleEvents() {
		pub, err := encodeEvent(ev, 0)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(tableToBytes(pub.Headers), pub.ContentType, pub.Body)
	}
	f.Add(tableToBytes(amqp.Table{"cloudEvents:specversion": "1.0", "cloudEvents:id": "1", "cloudEvents:source": "/", "cloudEvents:type": "t", "cloudEvents:n": int64(7)}), "", []byte(nil))
	f.Add([]byte{}, "text/plain", []byte("not an event"))
	f.Fuzz(func(t *testing.T, raw []byte, contentType string, body []byte) {
		ev, err := decodeEvent(tableFromBytes(raw), contentType, body)
		if err != nil {
			if !errors.Is(err, errUndecodable) {
				t.Fatalf("error %v does not wrap errUndecodable", err)
			}
			return
		}
		if err := ev.Validate(); err != nil {
			t.Fatalf("decoded an invalid event: %v", err)
		}
		pub, err := encodeEvent(ev, 0)
		if err != nil {
			t.Fatalf("decoded event does not encode: %v", err)
		}
		again, err := decodeEvent(pub.Headers, pub.ContentType, pub.Body)
		if err != nil {
			t.Fatalf("re-encoded event does not decode: %v", err)
		}
		sameEvent(t, again, ev)
	})
}
