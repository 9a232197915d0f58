package kafka

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"mime"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/IBM/sarama"
	kafkasarama "github.com/cloudevents/sdk-go/protocol/kafka_sarama/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
)

// EventType is the type of the events made of records that are not CloudEvents.
const EventType = "dev.knative.kafka.event"

// EventSource returns the CloudEvents source of the events made of a topic's records that are
// not CloudEvents.
func EventSource(namespace, name, topic string) string {
	return "/apis/v1/namespaces/" + namespace + "/kafkasources/" + name + "#" + topic
}

// Key types (Knative's kafka.eventing.knative.dev/key-type label): how a record key becomes
// the "key" extension.
const (
	KeyString    = "string"     // UTF-8 text (the default)
	KeyInt       = "int"        // a big-endian signed integer of 1, 2, 4 or 8 bytes
	KeyFloat     = "float"      // a big-endian IEEE 754 number of 4 or 8 bytes
	KeyByteArray = "byte-array" // bytes, a Binary extension
)

// Record is the part of a Kafka record the mapping reads.
type Record struct {
	// Topic, Partition and Offset place the record.
	Topic     string
	Partition int32
	Offset    int64
	// Key is the record key; nil means none.
	Key []byte
	// Value is the record value; nil means none (a tombstone).
	Value []byte
	// Headers are the record headers, in order.
	Headers []Header
	// Timestamp is in milliseconds since the Unix epoch; 0 or less means none.
	Timestamp int64
}

// Header is a record header.
type Header struct {
	// Key is the header's name.
	Key string
	// Value is the header's value.
	Value []byte
}

// recordOf converts a consumed sarama record.
func recordOf(cm *sarama.ConsumerMessage) Record {
	r := Record{Topic: cm.Topic, Partition: cm.Partition, Offset: cm.Offset, Key: cm.Key, Value: cm.Value}
	if !cm.Timestamp.IsZero() {
		r.Timestamp = cm.Timestamp.UnixMilli()
	}
	for _, h := range cm.Headers {
		if h != nil {
			r.Headers = append(r.Headers, Header{Key: string(h.Key), Value: h.Value})
		}
	}
	return r
}

// ToEvent maps a record to the event a KafkaSource named namespace/name emits for it.
//
// A record in the CloudEvents Kafka binding (binary mode: a ce_specversion header, the
// attributes in ce_ headers, datacontenttype in content-type, the data as value; structured
// mode: content-type application/cloudevents+json and the JSON event as value) is that event,
// unchanged; passThrough is true. Any other record, and one that claims to be a CloudEvent but
// does not decode to a valid one, becomes a dev.knative.kafka.event as Knative's KafkaSource
// makes it:
//
//	id       partition:<partition>/offset:<offset>
//	source   /apis/v1/namespaces/<namespace>/kafkasources/<name>#<topic>
//	subject  partition:<partition>#<offset>
//	time     the record's timestamp
//	data     the record's value; datacontenttype its content-type header, if a media type
//	key, partitionkey  the record key (key typed per keyType; partitionkey as text)
//	kafkaheader<name>  each header whose value is text, <name> its key lowercased without
//	                   the characters that are not letters or digits
func ToEvent(r Record, namespace, name, keyType string) (ev event.Event, passThrough bool) {
	if ev, ok := cloudEvent(r); ok {
		return ev, true
	}
	return plainEvent(r, namespace, name, keyType), false
}

// cloudEvent decodes a record in the CloudEvents Kafka binding.
func cloudEvent(r Record) (event.Event, bool) {
	headers := make(map[string][]byte, len(r.Headers))
	for _, h := range r.Headers {
		headers[strings.ToLower(h.Key)] = h.Value
	}
	contentType := string(headers["content-type"])
	// Only the record's own headers: NewMessageFromConsumerMessage would add kafkatopic,
	// kafkapartition and kafkaoffset extensions to an event that is to pass unchanged.
	msg := kafkasarama.NewMessage(r.Value, contentType, headers)
	if msg.ReadEncoding() == binding.EncodingUnknown {
		return event.Event{}, false
	}
	ev, err := binding.ToEvent(context.Background(), msg)
	if err != nil || ev.Validate() != nil {
		return event.Event{}, false
	}
	return *ev, true
}

// plainEvent wraps a record that is not a CloudEvent.
func plainEvent(r Record, namespace, name, keyType string) event.Event {
	ev := event.New(event.CloudEventsVersionV1)
	p, o := strconv.FormatInt(int64(r.Partition), 10), strconv.FormatInt(r.Offset, 10)
	ev.SetID("partition:" + p + "/offset:" + o)
	ev.SetType(EventType)
	ev.SetSource(EventSource(namespace, name, r.Topic))
	ev.SetSubject("partition:" + p + "#" + o)
	if r.Timestamp > 0 {
		ev.SetTime(timeOfMillis(r.Timestamp))
	}
	var contentType string
	for _, h := range r.Headers {
		if strings.EqualFold(h.Key, "content-type") && textValue(h.Value) {
			if _, _, err := mime.ParseMediaType(string(h.Value)); err == nil {
				contentType = string(h.Value)
			}
		}
		if !textValue(h.Value) {
			continue
		}
		ev.SetExtension("kafkaheader"+headerName(h.Key), string(h.Value))
	}
	if r.Key != nil {
		key, text := keyValue(r.Key, keyType)
		ev.SetExtension("key", key)
		ev.SetExtension("partitionkey", text)
	}
	ev.SetDataContentType(contentType)
	if r.Value != nil {
		ev.DataEncoded = r.Value
		// In structured mode JSON data goes as it is, anything else as data_base64.
		ev.DataBase64 = !(isJSON(ev.DataMediaType()) && json.Valid(r.Value))
	}
	return ev
}

// headerName keeps the ASCII letters and digits of a header key, lowercased.
func headerName(k string) string {
	var b strings.Builder
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			b.WriteByte(c)
		case c >= 'A' && c <= 'Z':
			b.WriteByte(c + 'a' - 'A')
		}
	}
	return b.String()
}

// textValue reports whether b can be a CloudEvents String: UTF-8 without control characters,
// surrogates or noncharacters.
func textValue(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		if unicode.IsControl(r) || r >= 0xFDD0 && r <= 0xFDEF || r&0xFFFE == 0xFFFE {
			return false
		}
	}
	return true
}

// keyValue returns the "key" extension value of a record key and its text form.
func keyValue(k []byte, keyType string) (value any, text string) {
	switch keyType {
	case KeyInt:
		var n int64
		switch len(k) {
		case 1:
			n = int64(int8(k[0]))
		case 2:
			n = int64(int16(binary.BigEndian.Uint16(k)))
		case 4:
			n = int64(int32(binary.BigEndian.Uint32(k)))
		case 8:
			n = int64(binary.BigEndian.Uint64(k))
		default:
			return stringKey(k)
		}
		s := strconv.FormatInt(n, 10)
		if n >= math.MinInt32 && n <= math.MaxInt32 {
			return int32(n), s
		}
		return s, s // beyond a CloudEvents Integer
	case KeyFloat:
		var f float64
		switch len(k) {
		case 4:
			f = float64(math.Float32frombits(binary.BigEndian.Uint32(k)))
		case 8:
			f = math.Float64frombits(binary.BigEndian.Uint64(k))
		default:
			return stringKey(k)
		}
		s := strconv.FormatFloat(f, 'g', -1, 64)
		return s, s
	case KeyByteArray:
		return append([]byte(nil), k...), base64.StdEncoding.EncodeToString(k)
	}
	return stringKey(k)
}

// stringKey is the key as text, or as bytes when it is not text.
func stringKey(k []byte) (any, string) {
	if textValue(k) {
		return string(k), string(k)
	}
	return append([]byte(nil), k...), base64.StdEncoding.EncodeToString(k)
}

// isJSON reports whether a media type is JSON, the empty one included (CloudEvents reads data
// without a datacontenttype as JSON).
func isJSON(mt string) bool {
	mt = strings.ToLower(strings.TrimSpace(mt))
	return mt == "" || mt == "application/json" || mt == "text/json" || strings.HasSuffix(mt, "+json")
}

// validKeyType reports whether t is a key type ("" is string).
func validKeyType(t string) bool {
	switch t {
	case "", KeyString, KeyInt, KeyFloat, KeyByteArray:
		return true
	}
	return false
}

// timeOfMillis is the time of a Kafka timestamp.
func timeOfMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }
