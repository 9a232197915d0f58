package nats

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/cloudevents/sdk-go/v2/binding/format"
	"github.com/cloudevents/sdk-go/v2/binding/spec"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"
	natsgo "github.com/nats-io/nats.go"
)

// The CloudEvents NATS protocol binding (binary content mode).
const (
	// attrPrefix starts the header of every CloudEvents attribute.
	attrPrefix = "ce-"
	// contentTypeHeader carries datacontenttype as well, for receivers (like
	// sdk-go's nats_jetstream binding) that read it there, and selects the
	// structured mode when it is application/cloudevents.
	contentTypeHeader = "content-type"
	// structuredPrefix is the media type prefix of structured mode.
	structuredPrefix = "application/cloudevents"
)

// Headers the bus adds for JetStream; they are not part of the event.
const (
	msgIDHeader          = "Nats-Msg-Id"
	expectedStreamHeader = "Nats-Expected-Stream"
)

// errEncoding is wrapped by encoding errors about the event.
var errEncoding = errors.New("cannot encode")

// encodeEvent maps e onto a NATS message in binary content mode: every
// attribute and extension becomes a ce-<name> header whose value is the
// attribute's canonical string, percent-encoded; datacontenttype also goes
// in content-type; the data is the payload. It returns the headers, the
// payload and the encoded size as NATS counts it.
func encodeEvent(e *event.Event) (natsgo.Header, []byte, int, error) {
	if e == nil || e.Context == nil {
		return nil, nil, 0, fmt.Errorf("%w: nil event", errEncoding)
	}
	version := spec.VS.Version(e.SpecVersion())
	if version == nil {
		return nil, nil, 0, fmt.Errorf("%w: unknown specversion %q", errEncoding, e.SpecVersion())
	}
	h := make(natsgo.Header, 8)
	size := len("NATS/1.0\r\n\r\n")
	set := func(name, value string) {
		h[name] = []string{value}
		size += len(name) + len(value) + 4
	}
	for _, a := range version.Attributes() {
		v := a.Get(e.Context)
		if v == nil {
			continue
		}
		s, err := types.Format(v)
		if err != nil {
			return nil, nil, 0, fmt.Errorf("%w: attribute %s: %v", errEncoding, a.Name(), err)
		}
		if !utf8.ValidString(s) {
			return nil, nil, 0, fmt.Errorf("%w: attribute %s is not valid UTF-8", errEncoding, a.Name())
		}
		set(attrPrefix+a.Name(), encodeValue(s))
		if a.Kind() == spec.DataContentType && !hasPrefixFold(s, structuredPrefix) {
			set(contentTypeHeader, encodeValue(s))
		}
	}
	for name, v := range e.Extensions() {
		s, err := types.Format(v)
		if err != nil {
			return nil, nil, 0, fmt.Errorf("%w: extension %s: %v", errEncoding, name, err)
		}
		if !utf8.ValidString(s) {
			return nil, nil, 0, fmt.Errorf("%w: extension %s is not valid UTF-8", errEncoding, name)
		}
		set(attrPrefix+name, encodeValue(s))
	}
	data := e.Data()
	size += len(data)
	return h, data, size, nil
}

// decodeEvent maps a NATS message back onto an event. It reads binary mode
// (ce- headers, percent-decoded, and content-type) and structured mode (a
// content-type of application/cloudevents+json and the JSON event as the
// payload), and matches header names case-insensitively. A header with
// more than one value for an attribute, a value that does not decode, and
// an event that fails validation are errors; extension headers whose names
// are not valid CloudEvents names are skipped.
func decodeEvent(h natsgo.Header, data []byte) (*event.Event, error) {
	var ct, sv string
	var hasCT, hasSV bool
	for k, vs := range h {
		switch {
		case strings.EqualFold(k, contentTypeHeader):
			if len(vs) != 1 || hasCT {
				return nil, errors.New("more than one content-type header")
			}
			ct, hasCT = vs[0], true
		case strings.EqualFold(k, attrPrefix+"specversion"):
			if len(vs) != 1 || hasSV {
				return nil, errors.New("more than one ce-specversion header")
			}
			v, err := decodeValue(vs[0])
			if err != nil {
				return nil, fmt.Errorf("ce-specversion: %w", err)
			}
			sv, hasSV = v, true
		}
	}
	if hasCT && hasPrefixFold(strings.TrimSpace(ct), structuredPrefix) {
		return decodeStructured(ct, data)
	}
	if !hasSV {
		return nil, errors.New("neither a ce-specversion header (binary mode) nor an application/cloudevents content-type (structured mode)")
	}
	version := spec.VS.Version(sv)
	if version == nil {
		return nil, fmt.Errorf("unknown specversion %q", sv)
	}
	e := event.New(sv)
	e.Context = version.NewContext()
	hasDCT := false
	for k, vs := range h {
		if len(k) <= len(attrPrefix) || !strings.EqualFold(k[:len(attrPrefix)], attrPrefix) {
			continue
		}
		name := strings.ToLower(k[len(attrPrefix):])
		if name == "specversion" {
			continue
		}
		a := version.Attribute(name)
		if len(vs) != 1 {
			if a == nil {
				continue
			}
			return nil, fmt.Errorf("header %s has %d values", k, len(vs))
		}
		v, err := decodeValue(vs[0])
		if err != nil {
			if a == nil {
				continue
			}
			return nil, fmt.Errorf("header %s: %w", k, err)
		}
		if a == nil {
			if event.IsExtensionNameValid(name) {
				if err := e.Context.SetExtension(name, v); err != nil {
					continue
				}
			}
			continue
		}
		if err := a.Set(e.Context, v); err != nil {
			return nil, fmt.Errorf("header %s: %w", k, err)
		}
		if a.Kind() == spec.DataContentType {
			hasDCT = true
		}
	}
	if hasCT && !hasDCT {
		v, err := decodeValue(ct)
		if err != nil {
			return nil, fmt.Errorf("content-type: %w", err)
		}
		if err := version.AttributeFromKind(spec.DataContentType).Set(e.Context, v); err != nil {
			return nil, fmt.Errorf("content-type: %w", err)
		}
	}
	if len(data) > 0 {
		e.DataEncoded = data
	}
	if err := e.Validate(); err != nil {
		return nil, err
	}
	return &e, nil
}

// decodeStructured decodes a structured-mode payload.
func decodeStructured(ct string, data []byte) (*event.Event, error) {
	f := format.Lookup(strings.TrimSpace(ct))
	if f == nil {
		return nil, fmt.Errorf("unsupported structured content type %q", ct)
	}
	e := event.New()
	if err := f.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("structured event: %w", err)
	}
	if err := e.Validate(); err != nil {
		return nil, err
	}
	return &e, nil
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

const upperHex = "0123456789ABCDEF"

// encodeValue percent-encodes a header value as the binding prescribes:
// space, double quote, percent and every byte outside printable ASCII
// (U+0021-U+007E) become %XY, upper-case.
func encodeValue(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if mustEncode(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if mustEncode(c) {
			b = append(b, '%', upperHex[c>>4], upperHex[c&15])
		} else {
			b = append(b, c)
		}
	}
	return string(b)
}

func mustEncode(c byte) bool { return c < 0x21 || c > 0x7e || c == '"' || c == '%' }

// decodeValue undoes encodeValue. As the binding requires of a receiver, it
// first unquotes an RFC 7230 quoted string, then percent-decodes once,
// accepting lower-case hex and needlessly encoded characters; the result
// must be valid UTF-8.
func decodeValue(raw string) (string, error) {
	s := strings.Trim(raw, " \t")
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		var b strings.Builder
		for i := 1; i < len(s)-1; i++ {
			c := s[i]
			if c == '\\' {
				if i+1 >= len(s)-1 {
					return "", errors.New("quoted string ends in a backslash")
				}
				i++
				c = s[i]
			} else if c == '"' {
				return "", errors.New("unescaped double quote inside a quoted string")
			}
			b.WriteByte(c)
		}
		s = b.String()
	}
	if strings.IndexByte(s, '%') < 0 {
		if !utf8.ValidString(s) {
			return "", errors.New("not valid UTF-8")
		}
		return s, nil
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			b = append(b, c)
			continue
		}
		if i+2 >= len(s) {
			return "", errors.New("truncated percent-encoding")
		}
		hi, lo := unhex(s[i+1]), unhex(s[i+2])
		if hi > 15 || lo > 15 {
			return "", fmt.Errorf("invalid percent-encoding %q", s[i:i+3])
		}
		b = append(b, hi<<4|lo)
		i += 2
	}
	if !utf8.Valid(b) {
		return "", errors.New("percent-decodes to invalid UTF-8")
	}
	return string(b), nil
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10
	}
	return 255
}
