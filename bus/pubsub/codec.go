package pubsub

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"strings"
	"unicode/utf8"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/cloudevents/sdk-go/v2/binding/spec"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"
	"google.golang.org/protobuf/proto"

	"github.com/eddyplatform/eddy/bus"
)

// The Google Cloud Pub/Sub protocol binding for CloudEvents: in binary mode
// every attribute is a "ce-"-prefixed Pub/Sub attribute holding its
// canonical string, datacontenttype is the "content-type" attribute and the
// data is the message data; in structured mode "content-type" names an
// event format and the data holds the whole event.
const (
	attrPrefix      = "ce-"
	attrContentType = "content-type"
	// attrContentTypeSDK is what sdk-go's Pub/Sub binding writes; it is read
	// too, for messages published by sdk-go clients.
	attrContentTypeSDK = "Content-Type"
	structuredJSON     = "application/cloudevents+json; charset=UTF-8"
)

// Pub/Sub's documented message limits.
const (
	maxAttributes     = 100
	maxAttrKeyBytes   = 256
	maxAttrValueBytes = 1024
	maxOrderingKey    = 1024
	// MaxEventBytes is the largest encoded event (the Pub/Sub message:
	// data, attributes and ordering key) that Publish accepts: Pub/Sub's
	// 10 MB publish request limit, less room for the request around it.
	MaxEventBytes = 10_000_000 - 10_000
)

var ceSpecs = spec.WithPrefix(attrPrefix)

// encodeEvent maps a valid event onto a Pub/Sub message: binary mode when
// its attributes fit Pub/Sub's attribute limits, structured JSON otherwise.
// The ordering key is the event's partition key (hashed if Pub/Sub would
// refuse it). Errors wrap bus.ErrInvalidEvent or bus.ErrEventTooLarge.
func encodeEvent(e *event.Event) (*pb.PubsubMessage, error) {
	if e == nil {
		return nil, fmt.Errorf("%w: nil event", bus.ErrInvalidEvent)
	}
	if err := e.Validate(); err != nil {
		return nil, fmt.Errorf("%w: event %q: %v", bus.ErrInvalidEvent, e.ID(), err)
	}
	m := &pb.PubsubMessage{OrderingKey: orderingKey(bus.PartitionKey(e))}
	attrs, ok, err := binaryAttributes(e)
	if err != nil {
		return nil, fmt.Errorf("%w: event %q: %v", bus.ErrInvalidEvent, e.ID(), err)
	}
	if ok {
		m.Attributes = attrs
		if len(e.DataEncoded) > 0 {
			m.Data = e.DataEncoded
		}
	} else {
		data, err := json.Marshal(e)
		if err != nil {
			return nil, fmt.Errorf("%w: event %q: %v", bus.ErrInvalidEvent, e.ID(), err)
		}
		m.Attributes = map[string]string{attrContentType: structuredJSON}
		m.Data = data
	}
	if n := proto.Size(m); n > MaxEventBytes {
		return nil, fmt.Errorf("%w: event %q is %d bytes as a Pub/Sub message, over %d", bus.ErrEventTooLarge, e.ID(), n, MaxEventBytes)
	}
	return m, nil
}

// binaryAttributes returns the binary-mode attributes of e, and false if
// they break a Pub/Sub attribute limit (or are not UTF-8, which protobuf
// strings must be), so that the event must travel in structured mode.
func binaryAttributes(e *event.Event) (map[string]string, bool, error) {
	v := ceSpecs.Version(e.SpecVersion())
	if v == nil {
		return nil, false, fmt.Errorf("unknown specversion %q", e.SpecVersion())
	}
	exts := e.Extensions()
	attrs := make(map[string]string, len(v.Attributes())+len(exts))
	fits := true
	set := func(k string, val any) error {
		s, err := types.Format(val)
		if err != nil {
			return fmt.Errorf("attribute %s: %v", k, err)
		}
		if len(k) > maxAttrKeyBytes || len(s) > maxAttrValueBytes || !utf8.ValidString(s) {
			fits = false
		}
		attrs[k] = s
		return nil
	}
	for _, a := range v.Attributes() {
		val := a.Get(e.Context)
		if val == nil {
			continue
		}
		k := a.PrefixedName()
		if a.Kind() == spec.DataContentType {
			k = attrContentType
			if s, _ := val.(string); strings.HasPrefix(strings.ToLower(s), "application/cloudevents") {
				// A receiver would take the message for a structured one.
				fits = false
			}
		}
		if err := set(k, val); err != nil {
			return nil, false, err
		}
	}
	for name, val := range exts {
		if err := set(attrPrefix+name, val); err != nil {
			return nil, false, err
		}
	}
	if len(attrs) > maxAttributes {
		fits = false
	}
	return attrs, fits, nil
}

// orderingKey maps a partition key onto a Pub/Sub ordering key: itself if
// Pub/Sub accepts it, otherwise "sha256:" and its hash (same key, same hash,
// so the order is kept).
func orderingKey(pk string) string {
	if pk == "" || len(pk) <= maxOrderingKey && utf8.ValidString(pk) {
		return pk
	}
	sum := sha256.Sum256([]byte(pk))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// errNotCloudEvent is wrapped by decodeMessage errors.
var errNotCloudEvent = errors.New("not a CloudEvent")

// decodeMessage reads a CloudEvent from a Pub/Sub message's data and
// attributes, in structured mode if content-type names the JSON event
// format and in binary mode otherwise. The event gets its own copy of data.
func decodeMessage(data []byte, attrs map[string]string) (*event.Event, error) {
	ct, hasCT := attrs[attrContentType]
	if !hasCT {
		ct, hasCT = attrs[attrContentTypeSDK]
	}
	if hasCT && strings.HasPrefix(strings.ToLower(strings.TrimSpace(ct)), "application/cloudevents") {
		return decodeStructured(ct, data)
	}
	sv, ok := attrs[ceSpecs.PrefixedSpecVersionName()]
	if !ok {
		return nil, fmt.Errorf("%w: no %s attribute", errNotCloudEvent, ceSpecs.PrefixedSpecVersionName())
	}
	v := ceSpecs.Version(sv)
	if v == nil {
		return nil, fmt.Errorf("%w: unknown specversion %q", errNotCloudEvent, sv)
	}
	e := event.New(v.String())
	seen := make(map[string]string, len(attrs))
	for _, k := range sortedKeys(attrs) {
		if !strings.HasPrefix(k, attrPrefix) {
			continue
		}
		name := strings.ToLower(k[len(attrPrefix):])
		if other, dup := seen[name]; dup {
			return nil, fmt.Errorf("%w: attributes %q and %q name the same attribute", errNotCloudEvent, other, k)
		}
		seen[name] = k
		val := attrs[k]
		if a := v.Attribute(k); a != nil {
			if a.Kind() == spec.SpecVersion {
				continue
			}
			if err := a.Set(e.Context, val); err != nil {
				return nil, fmt.Errorf("%w: attribute %s: %v", errNotCloudEvent, k, err)
			}
			continue
		}
		if err := e.Context.SetExtension(name, val); err != nil {
			return nil, fmt.Errorf("%w: attribute %s: %v", errNotCloudEvent, k, err)
		}
	}
	if hasCT {
		if err := e.Context.SetDataContentType(ct); err != nil {
			return nil, fmt.Errorf("%w: content-type: %v", errNotCloudEvent, err)
		}
	}
	if len(data) > 0 {
		e.DataEncoded = bytes.Clone(data)
	}
	if err := e.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", errNotCloudEvent, err)
	}
	return &e, nil
}

// decodeStructured reads a structured-mode message.
func decodeStructured(ct string, data []byte) (*event.Event, error) {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return nil, fmt.Errorf("%w: content-type: %v", errNotCloudEvent, err)
	}
	if mt != event.ApplicationCloudEventsJSON {
		return nil, fmt.Errorf("%w: event format %q is not supported (only %s)", errNotCloudEvent, mt, event.ApplicationCloudEventsJSON)
	}
	e := event.New()
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("%w: structured event: %v", errNotCloudEvent, err)
	}
	if err := e.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", errNotCloudEvent, err)
	}
	return &e, nil
}
