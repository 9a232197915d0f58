package rabbitmq

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding/spec"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/eddyplatform/eddy/bus"
)

// The CloudEvents AMQP binding (binary mode): every context attribute but
// datacontenttype is one application property (in AMQP 0-9-1, one header)
// named with the prefix "cloudEvents_"; datacontenttype is the content-type
// property and the data is the body. Decoding also accepts the binding's
// alternative prefix "cloudEvents:".
const (
	// HeaderPrefix starts the name of each CloudEvents attribute header.
	HeaderPrefix = "cloudEvents_"
	// HeaderPrefixColon is the binding's alternative prefix, accepted when
	// decoding.
	HeaderPrefixColon = "cloudEvents:"
)

// specs knows the attributes of each CloudEvents version, without prefix.
var specs = spec.New()

// encodeEvent validates ev and returns it as a persistent AMQP message in
// binary mode, and its size as MaxEventBytes counts it (data, content type,
// header names and values). Errors wrap bus.ErrInvalidEvent or
// bus.ErrEventTooLarge.
func encodeEvent(ev *event.Event, maxBytes int) (amqp.Publishing, error) {
	if ev == nil || ev.Context == nil {
		return amqp.Publishing{}, fmt.Errorf("%w: nil event", bus.ErrInvalidEvent)
	}
	if err := ev.Validate(); err != nil {
		return amqp.Publishing{}, fmt.Errorf("%w: %v", bus.ErrInvalidEvent, err)
	}
	ver := specs.Version(ev.SpecVersion())
	if ver == nil {
		return amqp.Publishing{}, fmt.Errorf("%w: event %q: unknown specversion %q", bus.ErrInvalidEvent, ev.ID(), ev.SpecVersion())
	}
	headers := make(amqp.Table, 8)
	size := 0
	for _, a := range ver.Attributes() {
		if a.Kind() == spec.DataContentType {
			continue
		}
		v := a.Get(ev.Context)
		if v == nil {
			continue
		}
		s, err := types.Format(v)
		if err != nil {
			return amqp.Publishing{}, fmt.Errorf("%w: event %q: attribute %s: %v", bus.ErrInvalidEvent, ev.ID(), a.Name(), err)
		}
		headers[HeaderPrefix+a.Name()] = s
		size += len(HeaderPrefix) + len(a.Name()) + len(s)
	}
	for name, v := range ev.Extensions() {
		key := HeaderPrefix + name
		if len(key) > 255 {
			return amqp.Publishing{}, fmt.Errorf("%w: event %q: extension name %q is too long for an AMQP header", bus.ErrInvalidEvent, ev.ID(), name)
		}
		size += len(key)
		switch v := v.(type) {
		case bool:
			headers[key] = v
			size++
		case int32:
			headers[key] = v
			size += 4
		case []byte:
			headers[key] = v
			size += len(v)
		default:
			s, err := types.Format(v)
			if err != nil {
				return amqp.Publishing{}, fmt.Errorf("%w: event %q: extension %s: %v", bus.ErrInvalidEvent, ev.ID(), name, err)
			}
			headers[key] = s
			size += len(s)
		}
	}
	data := ev.Data()
	ct := ev.DataContentType()
	size += len(data) + len(ct)
	if maxBytes > 0 && size > maxBytes {
		return amqp.Publishing{}, fmt.Errorf("%w: event %q is %d bytes encoded, above the limit of %d", bus.ErrEventTooLarge, ev.ID(), size, maxBytes)
	}
	pub := amqp.Publishing{
		Headers:      headers,
		ContentType:  ct,
		DeliveryMode: amqp.Persistent,
		MessageId:    ev.ID(),
		Body:         data,
	}
	if t := ev.Time(); !t.IsZero() {
		pub.Timestamp = t // informative: AMQP 0-9-1 timestamps have whole seconds
	}
	return pub, nil
}

// errUndecodable is wrapped by decodeEvent's errors.
var errUndecodable = errors.New("not a CloudEvent in the AMQP binding's binary mode")

// decodeEvent reads a CloudEvent from an AMQP message in binary mode: the
// headers named cloudEvents_* (or cloudEvents:*, not both), the
// content-type property and the body. The event it returns is valid.
func decodeEvent(headers amqp.Table, contentType string, body []byte) (*event.Event, error) {
	sep := ""
	var sv any
	for k, v := range headers {
		p := headerSep(k)
		if p == "" {
			continue
		}
		if sep != "" && p != sep {
			return nil, fmt.Errorf("%w: headers use both prefixes %q and %q", errUndecodable, HeaderPrefix, HeaderPrefixColon)
		}
		sep = p
		if k[len(HeaderPrefix):] == "specversion" {
			sv = v
		}
	}
	if sv == nil {
		return nil, fmt.Errorf("%w: no %sspecversion header", errUndecodable, HeaderPrefix)
	}
	svs, ok := sv.(string)
	if !ok {
		return nil, fmt.Errorf("%w: specversion header is a %T, not a string", errUndecodable, sv)
	}
	ver := specs.Version(svs)
	if ver == nil {
		return nil, fmt.Errorf("%w: unknown specversion %q", errUndecodable, svs)
	}
	ctx := ver.NewContext()
	dct := contentType
	for k, raw := range headers {
		if headerSep(k) == "" {
			continue
		}
		name := k[len(HeaderPrefix):]
		if name == "specversion" {
			continue
		}
		if !validAttrName(name) {
			return nil, fmt.Errorf("%w: header %q: attribute names are lowercase letters and digits", errUndecodable, k)
		}
		v, err := headerValue(raw)
		if err != nil {
			return nil, fmt.Errorf("%w: header %q: %v", errUndecodable, k, err)
		}
		a := ver.Attribute(name)
		switch {
		case a != nil && a.Kind() == spec.DataContentType:
			// Belongs in content-type; take it from a header only if that
			// property is empty.
			if dct == "" {
				s, err := types.ToString(v)
				if err != nil {
					return nil, fmt.Errorf("%w: header %q: %v", errUndecodable, k, err)
				}
				dct = s
			}
			continue
		case a != nil:
			err = a.Set(ctx, v)
		default:
			err = ctx.SetExtension(name, v)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: header %q: %v", errUndecodable, k, err)
		}
	}
	if dct != "" {
		if err := ctx.SetDataContentType(dct); err != nil {
			return nil, fmt.Errorf("%w: content-type: %v", errUndecodable, err)
		}
	}
	ev := event.Event{Context: ctx}
	if len(body) > 0 {
		ev.DataEncoded = body
	}
	if err := ev.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", errUndecodable, err)
	}
	return &ev, nil
}

// headerSep returns the CloudEvents prefix k starts with, or "".
func headerSep(k string) string {
	switch {
	case strings.HasPrefix(k, HeaderPrefix):
		return HeaderPrefix
	case strings.HasPrefix(k, HeaderPrefixColon):
		return HeaderPrefixColon
	}
	return ""
}

func validAttrName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// headerValue converts an AMQP header value to a CloudEvents attribute
// value: string, bool, integer (in int32 range), binary or timestamp.
func headerValue(v any) (any, error) {
	switch v := v.(type) {
	case string, bool, int32, []byte:
		return v, nil
	case int8, int16, int, int64, uint8, uint16, uint32, uint64:
		return types.Validate(v) // range-checked into int32
	case time.Time:
		return types.Timestamp{Time: v}, nil
	case nil:
		return nil, errors.New("void value")
	case float32, float64:
		f := toFloat(v)
		if f != math.Trunc(f) {
			return nil, fmt.Errorf("%v is not an integer", f)
		}
		return types.Validate(f)
	}
	return nil, fmt.Errorf("a %T is not a CloudEvents attribute type", v)
}

func toFloat(v any) float64 {
	switch v := v.(type) {
	case float32:
		return float64(v)
	case float64:
		return v
	}
	return math.NaN()
}
