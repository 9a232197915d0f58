package conformance

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"unicode/utf8"
)

// Mode is a content mode: how a message carries an event.
type Mode int

const (
	// ModeBinary carries the data as the message body and the attributes as metadata
	// (ce- headers in HTTP, ce_ headers in Kafka, cloudEvents_ properties in AMQP).
	ModeBinary Mode = iota
	// ModeStructured carries one event, attributes and data, in the body in an event format.
	ModeStructured
	// ModeBatch carries several events in the body in a batch format (HTTP only).
	ModeBatch
)

// String returns "binary", "structured" or "batch".
func (m Mode) String() string {
	switch m {
	case ModeBinary:
		return "binary"
	case ModeStructured:
		return "structured"
	case ModeBatch:
		return "batch"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// DetectMode returns the content mode a receiver must assume for a Content-Type (HTTP) or
// content-type (Kafka, AMQP) value, matched case-insensitively as the bindings require: a
// prefix of "application/cloudevents-batch" means batch, a prefix of
// "application/cloudevents" means structured, anything else (including no value) binary.
func DetectMode(contentType string) Mode {
	ct := strings.ToLower(strings.TrimSpace(contentType))
	switch {
	case strings.HasPrefix(ct, "application/cloudevents-batch"):
		return ModeBatch
	case strings.HasPrefix(ct, "application/cloudevents"):
		return ModeStructured
	}
	return ModeBinary
}

// isJSONFormat reports whether a structured or batch Content-Type names the JSON format.
func isJSONFormat(contentType string) bool {
	mt, p := checkMediaType(contentType)
	return p == "" && (mt == "application/cloudevents+json" || mt == "application/cloudevents-batch+json")
}

// ValidateHTTP judges an HTTP message (request or response) that carries a CloudEvent: it
// picks the content mode from Content-Type as HTTP Protocol Binding §3 requires and then
// validates the body with ValidateStructured or ValidateBatch, or the headers and body with
// ValidateBinaryHeaders. Structured or batch messages in a format other than JSON get a
// warning saying they could not be checked.
func ValidateHTTP(h http.Header, body []byte) []Violation {
	cts := headerValues(h, "content-type")
	ct := ""
	if len(cts) > 0 {
		ct = cts[0]
	}
	mode := DetectMode(ct)
	if mode == ModeBinary {
		return ValidateBinaryHeaders(h, body)
	}
	c := &collector{}
	if len(cts) > 1 {
		c.errorf(RuleDuplicate, "Content-Type", `header "Content-Type"`, v10.secHTTPModes, "the header appears %d times; the content mode and format are ambiguous", len(cts))
	}
	if !isJSONFormat(ct) {
		c.warnf(RuleMode, "Content-Type", `header "Content-Type"`, v10.secHTTPModes,
			"%s names a %s event format this validator cannot read (it knows application/cloudevents+json and application/cloudevents-batch+json); a receiver MAY forward such a message as binary", quote(ct), mode)
		return c.out
	}
	if mode == ModeBatch {
		return append(c.out, ValidateBatch(body)...)
	}
	return append(c.out, ValidateStructured(body)...)
}

// headerValues returns the values of every header whose name equals name ignoring case, in
// a stable order. http.Header built by hand may hold non-canonical keys.
func headerValues(h http.Header, name string) []string {
	var out []string
	for _, k := range sortedKeys(h) {
		if strings.EqualFold(k, name) {
			out = append(out, h[k]...)
		}
	}
	return out
}

func sortedKeys(h http.Header) []string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ValidateBinaryHeaders judges a binary-mode HTTP message: the ce- headers (each one
// attribute, header names case-insensitive), Content-Type (the datacontenttype) and the body
// (the data). Header values are decoded as HTTP Protocol Binding §3.1.3.2 prescribes — first
// an RFC 7230 quoted-string is unescaped, then exactly one round of percent-decoding — and
// the encoding itself is judged: raw non-ASCII or control bytes, a '%' that does not start
// %XX, or decoded bytes that are not UTF-8 are errors; raw spaces and double quotes, which
// older senders emit, are warnings. Headers that do not start with ce- are ignored.
func ValidateBinaryHeaders(h http.Header, body []byte) []Violation {
	c := &collector{}
	type header struct {
		key    string // as in the map
		values []string
	}
	ce := map[string]*header{}
	var names []string
	var cts []string
	ctKey := "Content-Type"
	size := len(body)
	for _, k := range sortedKeys(h) {
		for _, val := range h[k] {
			size += len(k) + len(val) + 4
		}
		lk := strings.ToLower(k)
		if lk == "content-type" {
			cts = append(cts, h[k]...)
			ctKey = k
			continue
		}
		if !strings.HasPrefix(lk, "ce-") {
			continue
		}
		name := lk[3:]
		if hd, ok := ce[name]; ok {
			hd.values = append(hd.values, h[k]...)
			continue
		}
		ce[name] = &header{key: k, values: append([]string(nil), h[k]...)}
		names = append(names, name)
	}

	// The version decides the rules; find it first.
	v := v10
	var attrs []attr
	sv, hasSV := ce["specversion"]
	switch {
	case !hasSV || len(sv.values) == 0:
		c.errorf(RuleRequired, "specversion", attrSubject("specversion"), v10.secRequired,
			"required but missing: no ce-specversion header; every CloudEvent MUST have id, source, specversion and type (the rest is checked against CloudEvents 1.0)")
	default:
		s, errs, _ := decodeHeaderValue(sv.values[0])
		if len(errs) > 0 {
			s = sv.values[0]
		}
		if v = versionOf(s); v == nil {
			c.errorf(RuleSpecVersion, "specversion", headerSubject("specversion", sv.key), v10.secRequired,
				"%s is not a CloudEvents version this validator knows; expected \"1.0\" (or the older \"0.3\")", quote(s))
			return c.out
		}
	}

	for _, name := range names {
		hd := ce[name]
		subject := headerSubject(name, hd.key)
		if len(hd.values) > 1 {
			c.errorf(RuleDuplicate, name, subject, v.secContext, "the header appears %d times; each context attribute MUST appear at most once", len(hd.values))
		}
		if name == "datacontenttype" {
			c.errorf(RuleContentType, name, subject, v.secHTTPContentType,
				"a ce-datacontenttype header MUST NOT be present in binary mode; the Content-Type header carries datacontenttype")
			continue
		}
		if len(hd.values) == 0 {
			continue
		}
		decoded, errs, warns := decodeHeaderValue(hd.values[0])
		for _, w := range warns {
			c.warnf(RuleHeaderEncoding, name, subject, v.secHTTPValues, "%s", w)
		}
		if len(errs) > 0 {
			for _, e := range errs {
				c.errorf(RuleHeaderEncoding, name, subject, v.secHTTPValues, "%s", e)
			}
			// Count a required attribute as present: its problem is already reported.
			attrs = append(attrs, attr{name: name, subject: subject, reported: true})
			continue
		}
		attrs = append(attrs, attr{name: name, val: value{kind: vString, s: decoded}, subject: subject})
	}

	dct, mt := "", ""
	if len(cts) > 1 {
		c.errorf(RuleDuplicate, "Content-Type", fmt.Sprintf("header %q", ctKey), v.secHTTPContentType, "the header appears %d times; it carries the single datacontenttype", len(cts))
	}
	if len(cts) > 0 {
		dct = cts[0]
		subject := fmt.Sprintf("attribute \"datacontenttype\" (header %q)", ctKey)
		if m := DetectMode(dct); m != ModeBinary {
			c.errorf(RuleMode, "Content-Type", fmt.Sprintf("header %q", ctKey), v.secHTTPModes,
				"%s selects %s mode, so a receiver will not read this message as binary; in binary mode Content-Type is the media type of the data", quote(dct), m)
		} else {
			attrs = append(attrs, attr{name: "datacontenttype", val: value{kind: vString, s: dct}, subject: subject})
			var p string
			if mt, p = checkMediaType(dct); p != "" {
				dct = "" // reported by checkAttributes
			}
		}
	}
	checkAttributes(c, v, attrs)
	checkBinaryEncoding(c, v, attrs)
	checkBinaryData(c, v, dct, mt, body)
	if size > sizeLimit {
		c.warnf(RuleSize, "", "event", secSize, "the message is about %d bytes (headers and body); intermediaries MUST forward events of up to 64 KiB (65536 bytes) but may drop larger ones", size)
	}
	return c.out
}

func headerSubject(name, key string) string {
	return fmt.Sprintf("attribute %q (header %q)", name, key)
}

// checkBinaryEncoding warns about a 0.3 datacontentencoding in binary mode, where the data
// travels as raw bytes rather than as a string.
func checkBinaryEncoding(c *collector, v *version, attrs []attr) {
	if !v.legacy {
		return
	}
	for _, a := range attrs {
		if a.name == "datacontentencoding" && a.val.kind != vNull {
			c.warnf(RuleEncoding, a.name, a.subject, v.secOptional,
				"in binary mode the data travels as raw bytes, not as a string; CloudEvents 0.3 says datacontentencoding MUST NOT be set then (and receivers MUST ignore it), and sdk-go refuses such messages")
		}
	}
}

// checkBinaryData checks a binary-mode body against the datacontenttype dct (mt its
// lower-cased type/subtype; both empty when absent or invalid).
func checkBinaryData(c *collector, v *version, dct, mt string, body []byte) {
	if len(body) == 0 || dct == "" {
		return
	}
	if w := mediaTypeInterop(dct, mt); w != "" {
		c.warnf(RuleInterop, "datacontenttype", attrSubject("datacontenttype"), v.jsonDataSec(".2"), "%s", w)
	}
	if isJSONMediaType(mt) {
		if _, err := parseJSON(body); err != nil {
			c.warnf(RuleDataFormat, "data", "data", v.jsonDataSec(".1"),
				"the media type %s declares JSON but the data is not JSON (%v); the event could not be rendered in the JSON format", quote(dct), err)
		}
	}
}

// decodeHeaderValue decodes a binary-mode HTTP header value: RFC 7230 quoted-string
// unescaping, then one round of percent-decoding, then a UTF-8 check. errs and warns say
// what is wrong with the encoding.
func decodeHeaderValue(raw string) (decoded string, errs, warns []string) {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c >= 0x80:
			errs = append(errs, fmt.Sprintf("the value has the raw byte 0x%02x at position %d; header values MUST use printable US-ASCII, and characters outside it MUST be percent-encoded as UTF-8 bytes (e.g. \"€\" as %%E2%%82%%AC)", c, i+1))
			return "", errs, warns
		case (c < 0x20 && c != '\t') || c == 0x7f:
			errs = append(errs, fmt.Sprintf("the value has the control byte 0x%02x at position %d; it MUST be percent-encoded", c, i+1))
			return "", errs, warns
		}
	}
	s := raw
	if strings.HasPrefix(raw, `"`) {
		var ok bool
		if s, ok = unquoteHeader(raw); !ok {
			errs = append(errs, fmt.Sprintf("the value %s starts with '\"' but is not a valid RFC 7230 quoted-string", quote(raw)))
			return "", errs, warns
		}
		warns = append(warns, "the value is an RFC 7230 quoted-string; receivers MUST accept this legacy form, but senders SHOULD percent-encode spaces and double quotes instead of quoting")
	} else {
		if strings.ContainsAny(raw, " \t") {
			warns = append(warns, fmt.Sprintf("the value %s has raw spaces or tabs; senders MUST percent-encode spaces (%%20) — older senders did not, so receivers accept them", quote(raw)))
		}
		if strings.Contains(raw, `"`) {
			warns = append(warns, fmt.Sprintf("the value %s has raw double quotes; senders MUST percent-encode them (%%22)", quote(raw)))
		}
	}
	buf := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			buf = append(buf, c)
			continue
		}
		if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
			errs = append(errs, fmt.Sprintf("the value %s has a '%%' at position %d that is not followed by two hex digits; a literal percent sign MUST be sent as %%25", quote(raw), i+1))
			return "", errs, warns
		}
		buf = append(buf, unhex(s[i+1])<<4|unhex(s[i+2]))
		i += 2
	}
	if !utf8.Valid(buf) {
		errs = append(errs, fmt.Sprintf("the percent-decoded value of %s is not valid UTF-8 (overlong forms such as %%C0%%A0 included) and MUST be rejected", quote(raw)))
		return "", errs, warns
	}
	return string(buf), errs, warns
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// unquoteHeader undoes an RFC 7230 §3.2.6 quoted-string that makes up the whole value.
func unquoteHeader(s string) (string, bool) {
	if len(s) < 2 || s[0] != '"' {
		return "", false
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			return b.String(), i == len(s)-1
		case '\\':
			i++
			if i >= len(s) {
				return "", false
			}
			c = s[i]
		}
		b.WriteByte(c)
	}
	return "", false
}

// EncodeHTTPHeaderValue percent-encodes an attribute's canonical string for an HTTP header
// as HTTP Protocol Binding 1.0 §3.1.3.2 prescribes: space, double quote, percent and every
// character outside printable ASCII (U+0021–U+007E) become %XX escapes of their UTF-8
// bytes, with upper-case hex. Invalid UTF-8 bytes are escaped byte by byte.
func EncodeHTTPHeaderValue(s string) string {
	const hexdigits = "0123456789ABCDEF"
	n := 0
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= 0x20 || c >= 0x7f || c == '"' || c == '%' {
			n++
		}
	}
	if n == 0 {
		return s
	}
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= 0x20 || c >= 0x7f || c == '"' || c == '%' {
			b = append(b, '%', hexdigits[c>>4], hexdigits[c&15])
		} else {
			b = append(b, c)
		}
	}
	return string(b)
}

// DecodeHTTPHeaderValue decodes a ce- header value as HTTP Protocol Binding 1.0 §3.1.3.2
// prescribes: an RFC 7230 quoted-string is unescaped first, then one round of
// percent-decoding is applied, accepting lower-case hex and unnecessary escapes. It fails
// on raw bytes outside printable ASCII, on a '%' that does not start %XX, and when the
// decoded bytes are not UTF-8 (overlong forms such as %C0%A0 included). Raw spaces and
// double quotes, which legacy senders emit, are accepted.
func DecodeHTTPHeaderValue(raw string) (string, error) {
	s, errs, _ := decodeHeaderValue(raw)
	if len(errs) > 0 {
		return "", fmt.Errorf("invalid CloudEvents header value: %s", errs[0])
	}
	return s, nil
}
