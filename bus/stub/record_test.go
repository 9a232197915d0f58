package stub

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eddyplatform/eddy/bus"
)

func testEvent(id string) *event.Event {
	e := event.New()
	e.SetID(id)
	e.SetSource("/stub/test")
	e.SetType("dev.eddy.test")
	_ = e.SetData(event.ApplicationJSON, map[string]string{"id": id})
	return &e
}

func TestRecordRoundTrip(t *testing.T) {
	ev := testEvent("a")
	ev.SetExtension(bus.PartitionKeyExtension, "k1")
	b, err := appendRecord([]byte("prefix"), ev, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	frame := b[len("prefix"):]
	if n := stampRecord(frame, 42, 1234); n != len(frame) {
		t.Fatalf("stampRecord = %d, want %d", n, len(frame))
	}
	r, n, err := decodeRecord(frame, maxBody)
	if err != nil || n != len(frame) {
		t.Fatalf("decodeRecord = %d, %v", n, err)
	}
	if r.offset != 42 || r.time != 1234 || string(r.key) != "k1" {
		t.Errorf("decoded offset %d time %d key %q", r.offset, r.time, r.key)
	}
	got, err := decodeEvent(r.data)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID() != "a" || string(got.Data()) != string(ev.Data()) || bus.PartitionKey(got) != "k1" {
		t.Errorf("decoded event %v", got)
	}
	if !bytes.Equal(encodeRecord(r), frame) {
		t.Errorf("encodeRecord does not reproduce the frame")
	}
}

func TestRecordDamageDetected(t *testing.T) {
	frame := encodeRecord(record{offset: 7, time: 99, key: []byte("k"), data: []byte(`{"specversion":"1.0"}`)})
	for i := 0; i < len(frame); i++ {
		for _, flip := range []byte{0x01, 0x80, 0xff} {
			bad := bytes.Clone(frame)
			bad[i] ^= flip
			if _, _, err := decodeRecord(bad, maxBody); err == nil {
				t.Fatalf("flipping byte %d by %#x went undetected", i, flip)
			}
		}
	}
	for cut := 0; cut < len(frame); cut++ {
		if _, _, err := decodeRecord(frame[:cut], maxBody); !errors.Is(err, errShortRecord) {
			t.Fatalf("record cut to %d bytes: %v, want errShortRecord", cut, err)
		}
	}
}

func TestAppendRecordRefusesBadEvents(t *testing.T) {
	bad := event.New()
	bad.SetID("x")
	if _, err := appendRecord(nil, &bad, 1<<20); !errors.Is(err, bus.ErrInvalidEvent) {
		t.Errorf("invalid event: %v", err)
	}
	notJSON := testEvent("y")
	notJSON.DataEncoded = []byte("{not json")
	if _, err := appendRecord(nil, notJSON, 1<<20); !errors.Is(err, bus.ErrInvalidEvent) {
		t.Errorf("JSON content type with bad data: %v", err)
	}
	text := testEvent("z")
	_ = text.SetData("text/plain", "{not json but fine")
	if _, err := appendRecord(nil, text, 1<<20); err != nil {
		t.Errorf("text data: %v", err)
	}
	if _, err := appendRecord(nil, testEvent("big"), 10); !errors.Is(err, bus.ErrEventTooLarge) {
		t.Errorf("too large: %v", err)
	}
}

// FuzzDecodeRecord: the decoder never panics, never reads past a frame, and
// whatever it accepts re-encodes to the same bytes.
func FuzzDecodeRecord(f *testing.F) {
	f.Add(encodeRecord(record{offset: 1, time: 2, key: []byte("key"), data: []byte(`{"id":"x"}`)}))
	f.Add(encodeRecord(record{}))
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0})
	two := append(encodeRecord(record{offset: 5}), encodeRecord(record{offset: 6, data: []byte("{}")})...)
	f.Add(two)
	f.Fuzz(func(t *testing.T, b []byte) {
		r, n, err := decodeRecord(b, 1<<20)
		if err != nil {
			if n != 0 {
				t.Fatalf("error %v with length %d", err, n)
			}
			if !errors.Is(err, errShortRecord) && !errors.Is(err, errCorruptRecord) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if n < recordOverhead || n > len(b) {
			t.Fatalf("length %d outside [%d, %d]", n, recordOverhead, len(b))
		}
		if !bytes.Equal(encodeRecord(r), b[:n]) {
			t.Fatalf("re-encoding differs")
		}
		// Whatever JSON the record holds, decoding it must not panic.
		_, _ = decodeEvent(r.data)
	})
}

// roundTrip stores ev in a record and decodes it again.
func roundTrip(t *testing.T, ev *event.Event) (*event.Event, error) {
	t.Helper()
	b, err := appendRecord(nil, ev, 1<<20)
	if err != nil {
		return nil, err
	}
	stampRecord(b, 0, 0)
	r, _, err := decodeRecord(b, maxBody)
	if err != nil {
		t.Fatalf("decodeRecord: %v", err)
	}
	got, err := decodeEvent(r.data)
	if err != nil {
		t.Fatalf("an accepted event does not decode: %v\n%s", err, r.data)
	}
	return got, nil
}

// sameData reports whether a decoded event carries the original's data:
// byte for byte, or as the same JSON value where the SDK stores it as JSON.
func sameData(orig, got *event.Event) bool {
	if bytes.Equal(orig.DataEncoded, got.DataEncoded) {
		return true
	}
	if !dataMustBeJSON(readable(orig)) {
		return false
	}
	var a, b any
	return json.Unmarshal(orig.DataEncoded, &a) == nil && json.Unmarshal(got.DataEncoded, &b) == nil &&
		reflect.DeepEqual(a, b)
}

func TestEventsRoundTrip(t *testing.T) {
	for _, ct := range []string{"", "application/json", "AppliCAtion/JSON", "TEXT/JSON;charset=utf-8", " application/json ",
		"application/cloudevents+json", "application/x+json", "text/plain", "application/octet-stream"} {
		for _, data := range []string{`0`, `{"a": [1, 2]}`, `"str"`, `not json`, "\xff\xfe binary \x00", ""} {
			ev := testEvent("rt")
			if ct != "" {
				ev.SetDataContentType(ct)
			}
			ev.DataEncoded = []byte(data)
			got, err := roundTrip(t, ev)
			if err != nil {
				if !errors.Is(err, bus.ErrInvalidEvent) || json.Valid([]byte(data)) {
					t.Errorf("%q %q: refused: %v", ct, data, err)
				}
				continue
			}
			if !sameData(ev, got) {
				t.Errorf("%q %q: data came back as %q", ct, data, got.DataEncoded)
			}
			if !strings.EqualFold(strings.TrimSpace(got.DataContentType()), strings.TrimSpace(ev.DataContentType())) {
				t.Errorf("%q: content type came back as %q", ct, got.DataContentType())
			}
		}
	}
}

// FuzzEventRoundTrip: an event the bus accepts is delivered with the same
// data and attributes.
func FuzzEventRoundTrip(f *testing.F) {
	f.Add("application/json", []byte(`{"a":1}`), false, "key")
	f.Add("AppliCAtion/json", []byte(`0`), false, "")
	f.Add("text/plain", []byte("\xff\x00"), false, "k")
	f.Add("application/octet-stream", []byte("\xff\x00"), true, "")
	f.Fuzz(func(t *testing.T, ct string, data []byte, b64 bool, key string) {
		ev := testEvent("fuzz")
		if ct != "" {
			ev.SetDataContentType(ct)
		}
		ev.DataEncoded = data
		ev.DataBase64 = b64
		if key != "" {
			ev.SetExtension(bus.PartitionKeyExtension, key)
		}
		if ev.Validate() != nil {
			return
		}
		got, err := roundTrip(t, ev)
		if err != nil {
			return
		}
		if !sameData(ev, got) {
			t.Fatalf("ct %q: data %q came back as %q", ct, data, got.DataEncoded)
		}
		if got.ID() != ev.ID() || got.Source() != ev.Source() || got.Type() != ev.Type() ||
			bus.PartitionKey(got) != bus.PartitionKey(ev) {
			t.Fatalf("attributes changed: %v -> %v", ev, got)
		}
	})
}
