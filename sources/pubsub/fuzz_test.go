package pubsub

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// FuzzToEvent: any pulled message either is refused (no id) or becomes a valid event whose
// data decodes back to the message.
func FuzzToEvent(f *testing.F) {
	f.Add("m0", []byte("test message 3"), "attr1", "attr1-value", "ordering-key", int64(1612497974), int32(109_000_000), int32(0))
	f.Add("3103425958877813", []byte{1, 2, 3, 4}, "", "", "", int64(0), int32(0), int32(5))
	f.Add("", []byte(nil), "Invalid-Attrib#$^", "\xff", "k", int64(-62135596800), int32(1), int32(-1))
	f.Fuzz(func(t *testing.T, id string, data []byte, key, value, orderingKey string, secs int64, nanos, attempt int32) {
		m := &pb.PubsubMessage{Data: data, MessageId: id, OrderingKey: orderingKey, PublishTime: &timestamppb.Timestamp{Seconds: secs, Nanos: nanos}}
		if key != "" {
			m.Attributes = map[string]string{key: value}
		}
		rm := &pb.ReceivedMessage{AckId: "a", Message: m, DeliveryAttempt: attempt}
		ev, err := toEvent(rm, "projects/p/topics/t", "projects/p/subscriptions/s")
		if strings.TrimSpace(id) == "" { // the event's id would be empty
			if err == nil {
				t.Fatal("message without id accepted")
			}
			return
		}
		if err != nil {
			t.Fatalf("toEvent: %v", err)
		}
		if err := ev.Validate(); err != nil {
			t.Fatalf("invalid event: %v", err)
		}
		if _, err := json.Marshal(ev); err != nil {
			t.Fatalf("event does not serialize: %v", err)
		}
		var d MessagePublishedData
		if err := json.Unmarshal(ev.Data(), &d); err != nil {
			t.Fatalf("data %s does not decode: %v", ev.Data(), err)
		}
		if !bytes.Equal(d.Message.Data, data) || d.Message.MessageID != viaJSON(id) || d.DeliveryAttempt != attempt ||
			d.Message.OrderingKey != viaJSON(orderingKey) || d.Subscription != "projects/p/subscriptions/s" {
			t.Fatalf("data %s does not match the message", ev.Data())
		}
		if ts := m.PublishTime; ts.IsValid() && !d.Message.PublishTime.Equal(ts.AsTime()) {
			t.Fatalf("publish time %s, want %s", d.Message.PublishTime, ts.AsTime())
		}
	})
}

// viaJSON is s after a trip through encoding/json, which replaces invalid UTF-8 (Pub/Sub's
// strings are valid UTF-8; the fuzzer's need not be).
func viaJSON(s string) string {
	b, _ := json.Marshal(s)
	var out string
	json.Unmarshal(b, &out)
	return out
}

// FuzzMessagePublishedData: decoding any input never panics, and what decodes survives a
// round trip through MarshalJSON.
func FuzzMessagePublishedData(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*.json")
	more, _ := filepath.Glob("testdata/google-cloudevents/*/*/*/*.json")
	deeper, _ := filepath.Glob("testdata/google-cloudevents/testdata/google/events/cloud/pubsub/v1/*.json")
	for _, p := range append(append(files, more...), deeper...) {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"message":{"data":"_-8","publish_time":"2021-02-26T19:13:55.749+01:00"},"delivery_attempt":2}`))
	f.Add([]byte(`{"message":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var d MessagePublishedData
		if err := json.Unmarshal(b, &d); err != nil {
			return
		}
		out, err := json.Marshal(d)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		var back MessagePublishedData
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("%s does not decode: %v", out, err)
		}
		if !back.Message.PublishTime.Equal(d.Message.PublishTime) {
			t.Fatalf("publish time %s, then %s", d.Message.PublishTime, back.Message.PublishTime)
		}
		back.Message.PublishTime, d.Message.PublishTime = time.Time{}, time.Time{}
		norm := func(x *MessagePublishedData) {
			if len(x.Message.Data) == 0 {
				x.Message.Data = nil
			}
			if len(x.Message.Attributes) == 0 {
				x.Message.Attributes = nil
			}
		}
		norm(&d)
		norm(&back)
		if !reflect.DeepEqual(back, d) {
			t.Fatalf("round trip: %+v, then %+v", d, back)
		}
	})
}
