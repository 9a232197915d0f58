package pubsub

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/cloudevents/sdk-go/v2/event"
)

// EventType is the type of the events the source emits.
const EventType = "google.cloud.pubsub.topic.v1.messagePublished"

// DataSchema is the JSON Schema of the events' data, published by googleapis/google-cloudevents.
const DataSchema = "https://googleapis.github.io/google-cloudevents/jsonschema/google/events/cloud/pubsub/v1/MessagePublishedData.json"

// EventSource returns the CloudEvents source of the messages of a topic, given its full name
// projects/<project>/topics/<topic>: "//pubsub.googleapis.com/" and the name.
func EventSource(topicName string) string { return "//pubsub.googleapis.com/" + topicName }

// MessagePublishedData is the data of a google.cloud.pubsub.topic.v1.messagePublished event
// (google.events.cloud.pubsub.v1.MessagePublishedData), in its JSON form.
type MessagePublishedData struct {
	// Message is the message published.
	Message PubsubMessage
	// Subscription is the full name of the subscription the message came through,
	// projects/<project>/subscriptions/<id>.
	Subscription string
	// DeliveryAttempt counts deliveries of the message to the subscription; Pub/Sub sets it
	// only on subscriptions with a dead-letter policy, and it is 0 (and left out) otherwise.
	DeliveryAttempt int32
}

// PubsubMessage is a message published to a topic (google.events.cloud.pubsub.v1.PubsubMessage).
type PubsubMessage struct {
	// Data is the message's payload.
	Data []byte
	// Attributes are the message's attributes.
	Attributes map[string]string
	// MessageID is the id Pub/Sub gave the message, unique within the topic.
	MessageID string
	// PublishTime is when Pub/Sub received the message.
	PublishTime time.Time
	// OrderingKey is the message's ordering key, if any.
	OrderingKey string
}

// wireData and wireMessage are the JSON shapes the adapter writes.
type wireData struct {
	Subscription    string      `json:"subscription"`
	Message         wireMessage `json:"message"`
	DeliveryAttempt int32       `json:"deliveryAttempt,omitempty"`
}

type wireMessage struct {
	Attributes  map[string]string `json:"attributes,omitempty"`
	Data        string            `json:"data,omitempty"`
	MessageID   string            `json:"messageId"`
	PublishTime string            `json:"publishTime,omitempty"`
	OrderingKey string            `json:"orderingKey,omitempty"`
}

// MarshalJSON writes the data as Google's events carry it: camelCase names, data in base64,
// publishTime in RFC 3339 (UTC, with 0, 3, 6 or 9 fractional digits, as protobuf's JSON
// mapping writes it), empty optional fields left out.
func (d MessagePublishedData) MarshalJSON() ([]byte, error) {
	return json.Marshal(wireData{Subscription: d.Subscription, Message: d.Message.wire(), DeliveryAttempt: d.DeliveryAttempt})
}

// wire returns the JSON shape of m.
func (m PubsubMessage) wire() wireMessage {
	w := wireMessage{MessageID: m.MessageID, OrderingKey: m.OrderingKey}
	if len(m.Attributes) > 0 {
		w.Attributes = m.Attributes
	}
	if len(m.Data) > 0 {
		w.Data = base64.StdEncoding.EncodeToString(m.Data)
	}
	if !m.PublishTime.IsZero() {
		w.PublishTime = formatTimestamp(m.PublishTime)
	}
	return w
}

// UnmarshalJSON reads the data as Google and others write it. It accepts the camelCase and
// snake_case names protobuf's JSON mapping allows (push deliveries carry both messageId and
// message_id; when both are there they must agree), data in standard or URL-safe base64, with
// or without padding, and ignores members it does not know, such as "@type".
func (d *MessagePublishedData) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("messagePublished data: %w", err)
	}
	if raw == nil {
		return errors.New("messagePublished data: null")
	}
	var out MessagePublishedData
	if err := member(raw, &out.Subscription, "subscription"); err != nil {
		return err
	}
	if err := member(raw, &out.DeliveryAttempt, "deliveryAttempt", "delivery_attempt"); err != nil {
		return err
	}
	msg, ok := raw["message"]
	if !ok || string(msg) == "null" {
		return errors.New("messagePublished data: no message")
	}
	if err := out.Message.UnmarshalJSON(msg); err != nil {
		return err
	}
	*d = out
	return nil
}

// MarshalJSON writes the message as MessagePublishedData.MarshalJSON does.
func (m PubsubMessage) MarshalJSON() ([]byte, error) { return json.Marshal(m.wire()) }

// UnmarshalJSON reads a message as MessagePublishedData.UnmarshalJSON does.
func (m *PubsubMessage) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("pubsub message: %w", err)
	}
	if raw == nil {
		return errors.New("pubsub message: null")
	}
	var out PubsubMessage
	var data, publishTime string
	if err := member(raw, &data, "data"); err != nil {
		return err
	}
	if err := member(raw, &out.Attributes, "attributes"); err != nil {
		return err
	}
	if err := member(raw, &out.MessageID, "messageId", "message_id"); err != nil {
		return err
	}
	if err := member(raw, &publishTime, "publishTime", "publish_time"); err != nil {
		return err
	}
	if err := member(raw, &out.OrderingKey, "orderingKey", "ordering_key"); err != nil {
		return err
	}
	if data != "" {
		var err error
		if out.Data, err = decodeBase64(data); err != nil {
			return errors.New("pubsub message: data is not base64")
		}
	}
	if publishTime != "" {
		t, err := time.Parse(time.RFC3339Nano, publishTime)
		if err != nil {
			return errors.New("pubsub message: publishTime is not an RFC 3339 time")
		}
		out.PublishTime = t
	}
	*m = out
	return nil
}

// member decodes the first of names present in raw into v; when several are present they
// must hold the same value. A JSON null counts as absent.
func member(raw map[string]json.RawMessage, v any, names ...string) error {
	var first json.RawMessage
	var firstName string
	for _, n := range names {
		r, ok := raw[n]
		if !ok || string(bytes.TrimSpace(r)) == "null" {
			continue
		}
		if first == nil {
			if err := json.Unmarshal(r, v); err != nil {
				return fmt.Errorf("pubsub message: member %q: %w", n, err)
			}
			first, firstName = r, n
			continue
		}
		if !sameJSON(first, r) {
			return fmt.Errorf("pubsub message: %q and %q differ", firstName, n)
		}
	}
	return nil
}

// sameJSON reports whether two JSON values are equal once decoded.
func sameJSON(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}

// decodeBase64 accepts standard and URL-safe base64, padded or not, as protobuf's JSON
// mapping does for bytes.
func decodeBase64(s string) ([]byte, error) {
	if strings.ContainsAny(s, "-_") {
		return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	}
	return base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
}

// formatTimestamp writes t as protobuf's JSON mapping writes a Timestamp.
func formatTimestamp(t time.Time) string {
	t = t.UTC()
	ns := t.Nanosecond()
	switch {
	case ns == 0:
		return t.Format("2006-01-02T15:04:05Z")
	case ns%1_000_000 == 0:
		return t.Format("2006-01-02T15:04:05.000Z")
	case ns%1_000 == 0:
		return t.Format("2006-01-02T15:04:05.000000Z")
	default:
		return t.Format("2006-01-02T15:04:05.000000000Z")
	}
}

// toEvent turns a pulled message into the messagePublished event: id the message id, time
// its publish time, source the topic, data the MessagePublishedData as JSON. topicName and
// subscription are full resource names.
func toEvent(rm *pb.ReceivedMessage, topicName, subscription string) (event.Event, error) {
	m := rm.GetMessage()
	if m == nil {
		return event.Event{}, errors.New("pubsub: pulled a delivery without a message")
	}
	if m.GetMessageId() == "" {
		return event.Event{}, errors.New("pubsub: message without an id")
	}
	d := MessagePublishedData{
		Message: PubsubMessage{
			Data:        m.GetData(),
			Attributes:  m.GetAttributes(),
			MessageID:   m.GetMessageId(),
			OrderingKey: m.GetOrderingKey(),
		},
		Subscription:    subscription,
		DeliveryAttempt: rm.GetDeliveryAttempt(),
	}
	if ts := m.GetPublishTime(); ts != nil && ts.IsValid() {
		d.Message.PublishTime = ts.AsTime()
	}
	js, err := d.MarshalJSON()
	if err != nil {
		return event.Event{}, fmt.Errorf("pubsub: encoding message %s: %w", m.GetMessageId(), err)
	}
	ev := event.New(event.CloudEventsVersionV1)
	ev.SetID(m.GetMessageId())
	ev.SetType(EventType)
	ev.SetSource(EventSource(topicName))
	if !d.Message.PublishTime.IsZero() {
		ev.SetTime(d.Message.PublishTime)
	}
	ev.SetDataContentType(event.ApplicationJSON)
	ev.DataEncoded = js
	if err := ev.Validate(); err != nil {
		return event.Event{}, fmt.Errorf("pubsub: message %s: %w", m.GetMessageId(), err)
	}
	return ev, nil
}
