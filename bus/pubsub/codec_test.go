package pubsub

import (
	"context"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	ps "cloud.google.com/go/pubsub/v2"
	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	cepubsub "github.com/cloudevents/sdk-go/protocol/pubsub/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"

	"github.com/eddyplatform/eddy/bus"
	"github.com/eddyplatform/eddy/conformance"
)

// sampleEvents are events of every shape the codec must carry.
func sampleEvents() map[string]*event.Event {
	full := event.New()
	full.SetID("full-1")
	full.SetSource("https://example.com/sources/a?x=1")
	full.SetType("com.example.full")
	full.SetSubject("subject with spaces/and/slashes")
	full.SetDataSchema("https://example.com/schema.json")
	full.SetTime(time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC))
	full.SetExtension(bus.PartitionKeyExtension, "key-7")
	full.SetExtension("count", 42)
	full.SetExtension("flag", true)
	full.SetExtension("note", "héllo, wörld ✓")
	if err := full.SetData(event.ApplicationJSON, map[string]any{"a": 1, "b": []string{"x"}}); err != nil {
		panic(err)
	}

	noData := event.New()
	noData.SetID("nodata")
	noData.SetSource("/s")
	noData.SetType("t")

	binary := event.New()
	binary.SetID("bin")
	binary.SetSource("/s")
	binary.SetType("t")
	if err := binary.SetData("application/octet-stream", []byte{0, 1, 2, 0xff, 0xfe}); err != nil {
		panic(err)
	}

	v03 := event.New(event.CloudEventsVersionV03)
	v03.SetID("old")
	v03.SetSource("/old")
	v03.SetType("t.old")
	if err := v03.SetData("text/plain", "plain text"); err != nil {
		panic(err)
	}

	longAttr := event.New()
	longAttr.SetID("long")
	longAttr.SetSource("/s/" + strings.Repeat("x", 2000)) // over Pub/Sub's 1024-byte attribute value
	longAttr.SetType("t")
	if err := longAttr.SetData(event.ApplicationJSON, []int{1, 2, 3}); err != nil {
		panic(err)
	}

	nested := event.New()
	nested.SetID("nested")
	nested.SetSource("/s")
	nested.SetType("t")
	if err := nested.SetData(event.ApplicationCloudEventsJSON, []byte(`{"specversion":"1.0","id":"inner","source":"/i","type":"t"}`)); err != nil {
		panic(err)
	}

	return map[string]*event.Event{"full": &full, "noData": &noData, "binary": &binary, "v03": &v03, "longAttribute": &longAttr, "nestedEvent": &nested}
}

// assertSameEvent fails unless got carries want's attributes (as canonical
// strings: binary mode carries extensions as strings) and data.
func assertSameEvent(t *testing.T, got, want *event.Event) {
	t.Helper()
	if got.SpecVersion() != want.SpecVersion() || got.ID() != want.ID() || got.Source() != want.Source() ||
		got.Type() != want.Type() || got.Subject() != want.Subject() || got.DataSchema() != want.DataSchema() ||
		!got.Time().Equal(want.Time()) || got.DataContentType() != want.DataContentType() || string(got.Data()) != string(want.Data()) {
		t.Errorf("decoded event differs:\n got %v\nwant %v", got, want)
	}
	canon := func(m map[string]any) map[string]string {
		out := map[string]string{}
		for k, v := range m {
			s, _ := types.Format(v)
			out[k] = s
		}
		return out
	}
	if g, w := canon(got.Extensions()), canon(want.Extensions()); !maps.Equal(g, w) {
		t.Errorf("extensions differ: got %v, want %v", g, w)
	}
}

// asKafkaHeaders maps binary-mode Pub/Sub attributes onto Kafka headers,
// whose binding has the same rules (raw UTF-8 values, a content-type
// header) with "ce_" for "ce-", so that conformance.ValidateKafka can judge
// the attribute values.
func asKafkaHeaders(attrs map[string]string) []conformance.KafkaHeader {
	var hs []conformance.KafkaHeader
	for _, k := range sortedKeys(attrs) {
		name := k
		if strings.HasPrefix(k, attrPrefix) {
			name = "ce_" + k[len(attrPrefix):]
		}
		hs = append(hs, conformance.KafkaHeader{Key: name, Value: []byte(attrs[k])})
	}
	return hs
}

func TestEncodeDecode(t *testing.T) {
	for name, e := range sampleEvents() {
		t.Run(name, func(t *testing.T) {
			m, err := encodeEvent(e)
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			structured := strings.HasPrefix(m.Attributes[attrContentType], event.ApplicationCloudEventsJSON)
			wantStructured := name == "longAttribute" || name == "nestedEvent"
			if structured != wantStructured {
				t.Fatalf("structured = %v, want %v (attributes %v)", structured, wantStructured, m.Attributes)
			}
			if structured {
				if vs := conformance.Violations(conformance.ValidateStructured(m.Data)).Errors(); len(vs) > 0 {
					t.Errorf("structured message breaks the JSON format: %v", vs)
				}
			} else {
				if _, ok := m.Attributes["ce-datacontenttype"]; ok {
					t.Errorf("binary mode carries ce-datacontenttype; the binding puts it in content-type")
				}
				if got := m.Attributes[attrContentType]; got != e.DataContentType() {
					t.Errorf("content-type attribute %q, want the datacontenttype %q", got, e.DataContentType())
				}
				if m.Attributes["ce-id"] != e.ID() || m.Attributes["ce-specversion"] != e.SpecVersion() {
					t.Errorf("ce-id/ce-specversion attributes wrong: %v", m.Attributes)
				}
				if e.SpecVersion() == event.CloudEventsVersionV1 {
					if vs := conformance.Violations(conformance.ValidateKafka(asKafkaHeaders(m.Attributes), nil, m.Data)).Errors(); len(vs) > 0 {
						t.Errorf("binary attributes break the binding rules: %v", vs)
					}
				}
			}
			if got, want := m.OrderingKey, bus.PartitionKey(e); got != want {
				t.Errorf("ordering key %q, want the partition key %q", got, want)
			}
			got, err := decodeMessage(m.Data, m.Attributes)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			assertSameEvent(t, got, e)
			if vs := conformance.Violations(conformance.Validate(got)).Errors(); len(vs) > 0 {
				t.Errorf("decoded event is invalid: %v", vs)
			}
		})
	}
}

func TestEncodeErrors(t *testing.T) {
	if _, err := encodeEvent(nil); !errors.Is(err, bus.ErrInvalidEvent) {
		t.Errorf("nil event: %v, want ErrInvalidEvent", err)
	}
	bad := event.New()
	bad.SetID("x")
	if _, err := encodeEvent(&bad); !errors.Is(err, bus.ErrInvalidEvent) {
		t.Errorf("event without source and type: %v, want ErrInvalidEvent", err)
	}
	big := testEvent("big", "")
	if err := big.SetData("application/octet-stream", make([]byte, MaxEventBytes)); err != nil {
		t.Fatal(err)
	}
	if _, err := encodeEvent(big); !errors.Is(err, bus.ErrEventTooLarge) {
		t.Errorf("event of MaxEventBytes data: %v, want ErrEventTooLarge", err)
	}
	fits := testEvent("fits", "")
	if err := fits.SetData("application/octet-stream", make([]byte, MaxEventBytes-1000)); err != nil {
		t.Fatal(err)
	}
	if _, err := encodeEvent(fits); err != nil {
		t.Errorf("event just under MaxEventBytes: %v", err)
	}
}

func TestOrderingKey(t *testing.T) {
	long := strings.Repeat("k", maxOrderingKey+1)
	k := orderingKey(long)
	if k == long || len(k) > maxOrderingKey || k != orderingKey(long) {
		t.Errorf("orderingKey of a %d-byte key = %q; want a stable hash within %d bytes", len(long), k, maxOrderingKey)
	}
	if k := orderingKey("\xff\xfe"); !strings.HasPrefix(k, "sha256:") {
		t.Errorf("orderingKey of invalid UTF-8 = %q, want a hash", k)
	}
	if k := orderingKey("plain"); k != "plain" {
		t.Errorf("orderingKey(plain) = %q", k)
	}
}

// TestDecodeSDKBinding reads messages written by sdk-go's own Pub/Sub
// binding, as a publisher outside Eddy would write them.
func TestDecodeSDKBinding(t *testing.T) {
	for name, e := range sampleEvents() {
		if name == "longAttribute" || name == "nestedEvent" {
			continue // sdk-go writes no content-type in structured mode
		}
		t.Run(name, func(t *testing.T) {
			m := &ps.Message{Attributes: map[string]string{}}
			if err := cepubsub.WritePubSubMessage(context.Background(), binding.ToMessage(e), m); err != nil {
				t.Fatal(err)
			}
			got, err := decodeMessage(m.Data, m.Attributes)
			if err != nil {
				t.Fatalf("decode of sdk-go's encoding %v: %v", m.Attributes, err)
			}
			assertSameEvent(t, got, e)
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	cases := map[string]*pb.PubsubMessage{
		"plain":           {Data: []byte("hello")},
		"noSpecversion":   {Attributes: map[string]string{"ce-id": "1", "ce-source": "/s", "ce-type": "t"}},
		"badSpecversion":  {Attributes: map[string]string{"ce-specversion": "9.9", "ce-id": "1", "ce-source": "/s", "ce-type": "t"}},
		"missingType":     {Attributes: map[string]string{"ce-specversion": "1.0", "ce-id": "1", "ce-source": "/s"}},
		"badTime":         {Attributes: map[string]string{"ce-specversion": "1.0", "ce-id": "1", "ce-source": "/s", "ce-type": "t", "ce-time": "yesterday"}},
		"caseDuplicate":   {Attributes: map[string]string{"ce-specversion": "1.0", "ce-id": "1", "ce-ID": "2", "ce-source": "/s", "ce-type": "t"}},
		"badExtension":    {Attributes: map[string]string{"ce-specversion": "1.0", "ce-id": "1", "ce-source": "/s", "ce-type": "t", "ce-bad_name": "x"}},
		"structuredJunk":  {Data: []byte("{not json"), Attributes: map[string]string{attrContentType: "application/cloudevents+json"}},
		"structuredBatch": {Data: []byte("[]"), Attributes: map[string]string{attrContentType: "application/cloudevents-batch+json"}},
		"structuredAvro":  {Data: []byte("x"), Attributes: map[string]string{attrContentType: "application/cloudevents+avro"}},
	}
	for name, m := range cases {
		if e, err := decodeMessage(m.Data, m.Attributes); !errors.Is(err, errNotCloudEvent) {
			t.Errorf("%s: decode = %v, %v; want an error wrapping errNotCloudEvent", name, e, err)
		}
	}
}
