package kafka

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/IBM/sarama"
	"github.com/cloudevents/sdk-go/protocol/kafka_sarama/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eddyplatform/eddy/bus"
)

// encodeEvent turns a valid event into a producer message in the Kafka
// Protocol Binding's binary mode: one ce_ header per attribute, the
// datacontenttype in content-type, the data as the value and the partition
// key as the record key. It returns the message and its size as the bus
// counts it against MaxEventBytes.
func encodeEvent(ctx context.Context, topic string, e *event.Event) (*sarama.ProducerMessage, int, error) {
	pm := &sarama.ProducerMessage{Topic: topic}
	if err := kafka_sarama.WriteProducerMessage(ctx, binding.ToMessage(e), pm); err != nil {
		return nil, 0, fmt.Errorf("%w: event %q: %v", bus.ErrInvalidEvent, e.ID(), err)
	}
	size := 0
	if pm.Key != nil {
		size += pm.Key.Length()
	}
	if pm.Value != nil {
		size += pm.Value.Length()
	}
	for _, h := range pm.Headers {
		size += len(h.Key) + len(h.Value)
	}
	return pm, size, nil
}

// errNotCloudEvent is wrapped by decoding errors of records that hold no
// CloudEvent.
var errNotCloudEvent = errors.New("record is not a CloudEvent")

// decodeRecord turns a Kafka record into the CloudEvent it carries, in
// binary mode (ce_ headers) or structured mode (content-type
// application/cloudevents+json). Header names are matched without regard
// to case, as the binding's receivers do.
func decodeRecord(headers []*sarama.RecordHeader, value []byte) (*event.Event, error) {
	var contentType string
	hs := make(map[string][]byte, len(headers))
	for _, h := range headers {
		if h == nil {
			continue
		}
		k := strings.ToLower(string(h.Key))
		if k == "content-type" {
			contentType = string(h.Value)
		}
		hs[k] = h.Value
	}
	msg := kafka_sarama.NewMessage(value, contentType, hs)
	if msg.ReadEncoding() == binding.EncodingUnknown {
		return nil, fmt.Errorf("%w: neither a ce_specversion header nor a structured content-type", errNotCloudEvent)
	}
	e, err := binding.ToEvent(context.Background(), msg)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errNotCloudEvent, err)
	}
	if err := e.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", errNotCloudEvent, err)
	}
	return e, nil
}
