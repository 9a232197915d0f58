package kafka

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"strings"
	"testing"

	"github.com/IBM/sarama"
	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eddyplatform/eddy/conformance"
)

// Fuzz inputs carry headers as key 0x1f value, separated by 0x1e.
func packHeaders(hs []sarama.RecordHeader) []byte {
	var b bytes.Buffer
	for i, h := range hs {
		if i > 0 {
			b.WriteByte(0x1e)
		}
		b.Write(h.Key)
		b.WriteByte(0x1f)
		b.Write(h.Value)
	}
	return b.Bytes()
}

func unpackHeaders(b []byte) []*sarama.RecordHeader {
	var hs []*sarama.RecordHeader
	if len(b) == 0 {
		return nil
	}
	for _, part := range bytes.Split(b, []byte{0x1e}) {
		k, v, _ := bytes.Cut(part, []byte{0x1f})
		hs = append(hs, &sarama.RecordHeader{Key: k, Value: v})
	}
	return hs
}

// encoded returns the headers and value encodeEvent writes for e.
func encoded(t testing.TB, e *event.Event) ([]sarama.RecordHeader, []byte, []byte) {
	t.Helper()
	pm, _, err := encodeEvent(context.Background(), "topic", e)
	if err != nil {
		t.Fatal(err)
	}
	var key, value []byte
	if pm.Key != nil {
		key, _ = pm.Key.Encode()
	}
	if pm.Value != nil {
		value, _ = pm.Value.Encode()
	}
	return pm.Headers, key, value
}

func ptrs(hs []sarama.RecordHeader) []*sarama.RecordHeader {
	out := make([]*sarama.RecordHeader, len(hs))
	for i := range hs {
		out[i] = &hs[i]
	}
	return out
}

func TestEncodeDecode(t *testing.T) {
	noData := event.New()
	noData.SetID("n")
	noData.SetSource("/s")
	noData.SetType("t")
	binaryData := event.New()
	binaryData.SetID("b")
	binaryData.SetSource("/s")
	binaryData.SetType("t")
	binaryData.SetData("application/octet-stream", []byte{0, 1, 2, 0xff})
	for _, e := range []*event.Event{testEvent("a", "key-1"), testEvent("b", ""), &noData, &binaryData} {
		hs, key, value := encoded(t, e)
		ch := make([]conformance.KafkaHeader, len(hs))
		for i, h := range hs {
			ch[i] = conformance.KafkaHeader{Key: string(h.Key), Value: h.Value}
		}
		for _, v := range conformance.ValidateKafka(ch, key, value) {
			if v.Severity == conformance.SeverityError {
				t.Errorf("event %s: %v", e.ID(), v)
			}
		}
		got, err := decodeRecord(ptrs(hs), value)
		if err != nil {
			t.Fatalf("decode %s: %v", e.ID(), err)
		}
		if !sameEvent(got, e) {
			t.Errorf("round trip of %s:\n got %v\nwant %v", e.ID(), got, e)
		}
	}

	// A structured record, as another producer may write, decodes too.
	e := testEvent("s", "k")
	body, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeRecord([]*sarama.RecordHeader{{Key: []byte("Content-Type"), Value: []byte("application/cloudevents+json")}}, body)
	if err != nil {
		t.Fatalf("structured: %v", err)
	}
	if got.ID() != "s" || got.Source() != e.Source() || !bytes.Equal(got.Data(), e.Data()) {
		t.Errorf("structured: got %v", got)
	}

	for _, bad := range []struct {
		name    string
		headers []*sarama.RecordHeader
		value   []byte
	}{
		{"plain record", nil, []byte("hello")},
		{"no id", []*sarama.RecordHeader{{Key: []byte("ce_specversion"), Value: []byte("1.0")}, {Key: []byte("ce_source"), Value: []byte("/s")}, {Key: []byte("ce_type"), Value: []byte("t")}}, nil},
		{"bad structured", []*sarama.RecordHeader{{Key: []byte("content-type"), Value: []byte("application/cloudevents+json")}}, []byte("{")},
	} {
		if _, err := decodeRecord(bad.headers, bad.value); err == nil {
			t.Errorf("%s: decoded without an error", bad.name)
		}
	}
}

// FuzzDecodeRecord: decoding any record either fails or yields a valid
// event that encodes and decodes to itself.
func FuzzDecodeRecord(f *testing.F) {
	noData := event.New()
	noData.SetID("n")
	noData.SetSource("/s")
	noData.SetType("t")
	for _, e := range []*event.Event{testEvent("a", "key-1"), testEvent("b", ""), &noData} {
		hs, _, value := encoded(f, e)
		f.Add(packHeaders(hs), value)
	}
	body, _ := json.Marshal(testEvent("s", "k"))
	f.Add(packHeaders([]sarama.RecordHeader{{Key: []byte("content-type"), Value: []byte("application/cloudevents+json")}}), body)
	f.Add([]byte("ce_specversion\x1f0.3\x1ece_id\x1fx\x1ece_source\x1f/s\x1ece_type\x1ft"), []byte("data"))
	f.Add([]byte{}, []byte("not an event"))
	f.Fuzz(func(t *testing.T, headers, value []byte) {
		e, err := decodeRecord(unpackHeaders(headers), value)
		if err != nil {
			return
		}
		if err := e.Validate(); err != nil {
			t.Fatalf("decoded an invalid event: %v", err)
		}
		pm, _, err := encodeEvent(context.Background(), "topic", e)
		if err != nil {
			t.Fatalf("a decoded event does not encode: %v", err)
		}
		var v []byte
		if pm.Value != nil {
			v, _ = pm.Value.Encode()
		}
		again, err := decodeRecord(ptrs(pm.Headers), v)
		if err != nil {
			t.Fatalf("a re-encoded event does not decode: %v", err)
		}
		if !sameEvent(again, e) {
			t.Fatalf("encoding is not stable:\n first %v\nsecond %v", e, again)
		}
	})
}

func TestNotes(t *testing.T) {
	n := newNotes(100)
	for _, o := range []int64{100, 101, 102, 105, 107, 108} {
		n.acked[o] = true
	}
	n.attempts[103] = 2
	n.attempts[104] = 1
	n.attempts[99] = 5  // before the commit: dropped
	n.attempts[105] = 3 // acked wins
	s := n.encode()
	if want := "eddy1;100;0-2a,3x2,4x1,5a,7-8a"; s != want {
		t.Errorf("encode = %q, want %q", s, want)
	}
	got := parseNotes(s)
	if got == nil || got.commit != 100 || !maps.Equal(got.acked, map[int64]bool{100: true, 101: true, 102: true, 105: true, 107: true, 108: true}) ||
		!maps.Equal(got.attempts, map[int64]int{103: 2, 104: 1}) {
		t.Errorf("parse(%q) = %+v", s, got)
	}
	if newNotes(5).encode() != "" {
		t.Errorf("empty notes encode to something")
	}
	big := newNotes(0)
	for o := int64(0); o < 10000; o += 2 {
		big.attempts[o] = 1
	}
	if s := big.encode(); len(s) > maxNotesLen || parseNotes(s) == nil {
		t.Errorf("large notes: %d bytes, parse %v", len(s), parseNotes(s) != nil)
	}
	for _, bad := range []string{"", "x", "eddy1;", "eddy1;-1;", "eddy1;5;3", "eddy1;5;3-1a", "eddy1;5;1x0", "eddy1;5;0-99999999a", "eddy1;5;ax1"} {
		if parseNotes(bad) != nil {
			t.Errorf("parseNotes(%q) accepted", bad)
		}
	}
}

// FuzzNotes: parsing any commit metadata is safe, and what parses encodes
// and parses to the same notes.
func FuzzNotes(f *testing.F) {
	f.Add("eddy1;100;0-2a,3x2,4x1,5a,7-8a")
	f.Add("eddy1;0;")
	f.Add("")
	f.Add("some other client's metadata")
	f.Fuzz(func(t *testing.T, s string) {
		n := parseNotes(s)
		if n == nil {
			return
		}
		enc := n.encode()
		if len(enc) > maxNotesLen {
			t.Fatalf("encoding is %d bytes", len(enc))
		}
		if strings.Count(enc, ",") < len(n.attempts)-1 { // truncated: nothing more to check
			return
		}
		again := parseNotes(enc)
		if n.empty() {
			if enc != "" {
				t.Fatalf("empty notes encode to %q", enc)
			}
			return
		}
		if again == nil || again.commit != n.commit || !maps.Equal(again.acked, n.acked) || !maps.Equal(again.attempts, withoutAcked(n)) {
			t.Fatalf("%q parsed to %+v, encoded to %q, parsed to %+v", s, n, enc, again)
		}
	})
}

func withoutAcked(n *notes) map[int64]int {
	m := map[int64]int{}
	for o, a := range n.attempts {
		if !n.acked[o] {
			m[o] = a
		}
	}
	return m
}

// sameEvent compares attributes, extensions and data (not how the data
// was set: binary mode carries bytes, whatever the publisher passed).
func sameEvent(a, b *event.Event) bool {
	return a.Context.String() == b.Context.String() && bytes.Equal(a.Data(), b.Data())
}
