package conformance

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// collector accumulates violations for one event.
type collector struct {
	out Violations
	// element is the 1-based batch position, 0 outside a batch.
	element int
}

func (c *collector) add(sev Severity, rule Rule, attr, subject, section, detail string) {
	msg := subject + ": " + detail + " (" + section + ")"
	if c.element > 0 {
		msg = fmt.Sprintf("batch element %d: %s", c.element, msg)
	}
	c.out = append(c.out, Violation{
		Attribute: attr,
		Rule:      rule,
		Severity:  sev,
		Section:   section,
		Element:   c.element,
		Message:   msg,
	})
}

func (c *collector) errorf(rule Rule, attr, subject, section, format string, args ...any) {
	c.add(SeverityError, rule, attr, subject, section, fmt.Sprintf(format, args...))
}

func (c *collector) warnf(rule Rule, attr, subject, section, format string, args ...any) {
	c.add(SeverityWarning, rule, attr, subject, section, fmt.Sprintf(format, args...))
}

func attrSubject(name string) string {
	if s, ok := coreSubjects[name]; ok {
		return s
	}
	return "attribute " + strconv.Quote(name)
}

// coreSubjects holds the subjects of the core attributes, which every event names: Validate
// runs on every event the ingress accepts, and formatting them each time showed in profiles.
var coreSubjects = func() map[string]string {
	m := map[string]string{}
	for _, n := range []string{"id", "source", "specversion", "type", "datacontenttype", "dataschema", "subject", "time",
		"datacontentencoding", "schemaurl", "traceparent", "tracestate", "partitionkey"} {
		m[n] = "attribute " + strconv.Quote(n)
	}
	return m
}()

// valKind is the representation a value arrived in.
type valKind int

const (
	vString valKind = iota // a string: JSON string, header value, or a String/canonical string
	vBool
	vInt    // an integer held natively (Go integer types, AMQP long)
	vNumber // a JSON number literal, in s
	vNull
	vObject // a JSON object (a 0.3 Map), in obj
	vArray
	vBinary
	vTime
	vURI
	vURIRef
	vOther // a Go type outside the type system, named in s
)

// value is an attribute value as received, before interpretation.
type value struct {
	kind valKind
	s    string
	i    int64
	// big is set for vInt values that do not fit in int64 (large unsigned integers).
	big          bool
	t            time.Time
	badSurrogate bool
	obj          *jsonValue
}

func (v value) kindName() string {
	switch v.kind {
	case vString:
		return "a string"
	case vBool:
		return "a boolean"
	case vInt:
		return "an integer"
	case vNumber:
		return "a number"
	case vNull:
		return "null"
	case vObject:
		return "an object"
	case vArray:
		return "an array"
	case vBinary:
		return "binary"
	case vTime:
		return "a timestamp"
	case vURI, vURIRef:
		return "a URI"
	}
	return "a value of Go type " + v.s
}

// fromJSON converts a parsed JSON value.
func fromJSON(j *jsonValue) value {
	switch j.kind {
	case jString:
		return value{kind: vString, s: j.str, badSurrogate: j.badSurrogate}
	case jBool:
		return value{kind: vBool}
	case jNumber:
		return value{kind: vNumber, s: j.str}
	case jObject:
		return value{kind: vObject, obj: j}
	case jArray:
		return value{kind: vArray}
	}
	return value{kind: vNull}
}

// checkNameRules reports naming problems of an attribute name: characters, length, reserved
// names and names of the other specification version.
func checkNameRules(c *collector, v *version, name, subject string) {
	if p := checkName(name, v); p != "" {
		c.errorf(RuleNameChars, name, subject, v.secNaming, "%s", p)
		return
	}
	if len(name) > maxNameLength {
		c.warnf(RuleNameLength, name, subject, v.secNaming, "the name is %d characters long; attribute names SHOULD NOT exceed %d", len(name), maxNameLength)
	}
	if name == "data" {
		c.errorf(RuleReserved, name, subject, v.secNaming, "\"data\" is reserved and MUST NOT be used as an attribute name")
	}
	if note, ok := v.other[name]; ok {
		c.warnf(RuleOtherVersion, name, subject, v.secExtensions, "in CloudEvents %s this is only an extension attribute; %s", v.name, note)
	}
}

// checkValue checks the value of attribute name (core or extension) against its type.
// val must not be vNull.
func checkValue(c *collector, v *version, name string, val value, subject string) {
	typ, core := v.core[name]
	if !core {
		typ = tExtension
	}
	sec := v.secOptional
	for _, r := range required {
		if r == name {
			sec = v.secRequired
		}
	}
	str := func(what string) (string, bool) {
		if val.kind != vString {
			c.errorf(RuleType, name, subject, v.secTypes, "the value is %s; expected %s", val.kindName(), what)
			return "", false
		}
		if val.badSurrogate {
			c.errorf(RuleStringChars, name, subject, v.secTypes, "the value contains an unpaired UTF-16 surrogate escape, which Strings MUST NOT contain")
			return "", false
		}
		return val.s, true
	}
	nonEmpty := func(s string) bool {
		if s == "" {
			c.errorf(RuleNonEmpty, name, subject, sec, "the value is empty; it MUST be a non-empty string")
			return false
		}
		return true
	}
	switch typ {
	case tString:
		s, ok := str("a non-empty String")
		if !ok || !nonEmpty(s) {
			return
		}
		if p := checkStringChars(s); p != "" {
			c.errorf(RuleStringChars, name, subject, v.secTypes, "the value %s is not a valid String: %s", quote(s), p)
		}
	case tURIRef:
		if val.kind == vURIRef || val.kind == vURI {
			val.kind = vString
		}
		s, ok := str("a URI-reference (a string, RFC 3986 §4.1)")
		if !ok {
			return
		}
		if s == "" {
			if name == "source" {
				nonEmpty(s)
			} else {
				c.warnf(RuleURIReference, name, subject, sec, "the value is empty; that is a valid URI-reference (a same-document reference) but points at no schema; omit the attribute instead")
			}
			return
		}
		if p, _, _ := checkURIReference(s); p != "" {
			c.errorf(RuleURIReference, name, subject, v.secTypes, "%s is not a URI-reference (RFC 3986 §4.1): %s", quote(s), p)
		}
	case tURI:
		if val.kind == vURI || val.kind == vURIRef {
			val.kind = vString
		}
		s, ok := str("an absolute URI (a string, RFC 3986 §4.3)")
		if !ok {
			return
		}
		if s == "" {
			c.errorf(RuleNonEmpty, name, subject, sec, "the value is empty; if present it MUST be a non-empty URI")
			return
		}
		checkURIValue(c, v, name, s, subject)
	case tTimestamp:
		if val.kind == vTime {
			if y := val.t.Year(); y < 0 || y > 9999 {
				c.errorf(RuleTimestamp, name, subject, v.secTypes, "the year %d cannot be written as an RFC 3339 timestamp (years 0000–9999)", y)
			}
			return
		}
		s, ok := str("an RFC 3339 timestamp string")
		if !ok {
			return
		}
		checkTimestampValue(c, v, name, s, subject)
	case tMediaType:
		s, ok := str("an RFC 2046 media type string")
		if !ok {
			return
		}
		if s == "" {
			c.errorf(RuleNonEmpty, name, subject, sec, "the value is empty; if present it MUST be an RFC 2046 media type")
			return
		}
		if _, p := checkMediaType(s); p != "" {
			c.errorf(RuleMediaType, name, subject, sec, "%s is not a media type: %s", quote(s), p)
		}
	case tEncoding:
		s, ok := str("the string \"base64\"")
		if !ok {
			return
		}
		if !strings.EqualFold(s, "base64") {
			c.errorf(RuleEncoding, name, subject, sec, "the value %s is not supported; the only value CloudEvents 0.3 defines is \"base64\"", quote(s))
		} else if s != "base64" {
			c.warnf(RuleInterop, name, subject, sec, "RFC 2045 encoding names are case-insensitive, but sdk-go's JSON decoder accepts only the exact value \"base64\" and rejects %s", quote(s))
		}
	case tExtension:
		checkExtensionValue(c, v, name, val, subject, 0)
	}
}

func checkURIValue(c *collector, v *version, name, s, subject string) {
	p, abs, frag := checkURIReference(s)
	switch {
	case p != "":
		c.errorf(RuleURI, name, subject, v.secTypes, "%s is not a URI (RFC 3986): %s", quote(s), p)
	case !abs:
		c.errorf(RuleURI, name, subject, v.secTypes, "%s is a relative reference; the URI type requires an absolute URI with a scheme (RFC 3986 §4.3), e.g. \"https://example.com/schema\"", quote(s))
	case frag:
		c.warnf(RuleURI, name, subject, v.secTypes, "%s has a fragment; RFC 3986 §4.3 absolute-URI excludes fragments, although the CloudEvents JSON Schema (format \"uri\") allows them", quote(s))
	}
}

func checkTimestampValue(c *collector, v *version, name, s, subject string) {
	p, interop := checkTimestamp(s)
	if p != "" {
		c.errorf(RuleTimestamp, name, subject, v.secTypes, "%s is not a timestamp: %s", quote(s), p)
	} else if interop != "" {
		c.warnf(RuleInterop, name, subject, v.secTypes, "%s: %s", quote(s), interop)
	}
}

// checkExtensionValue checks an extension value (or, in 0.3, a Map entry at depth > 0).
func checkExtensionValue(c *collector, v *version, name string, val value, subject string, depth int) {
	const types10 = "Boolean, Integer, String, Binary, URI, URI-reference or Timestamp"
	const types03 = "Integer, String, Binary, Map, URI-reference or Timestamp"
	switch val.kind {
	case vString:
		if val.badSurrogate {
			c.errorf(RuleStringChars, name, subject, v.secTypes, "the value contains an unpaired UTF-16 surrogate escape, which Strings MUST NOT contain")
		} else if p := checkStringChars(val.s); p != "" {
			c.errorf(RuleStringChars, name, subject, v.secTypes, "the value %s is not a valid String: %s", quote(val.s), p)
		}
	case vBool:
		if v.legacy {
			c.warnf(RuleType, name, subject, v.secTypes, "CloudEvents 0.3 has no Boolean type (1.0 added it); a 0.3 value should be one of %s", types03)
		}
	case vInt:
		if val.big || val.i < math.MinInt32 || val.i > math.MaxInt32 {
			c.errorf(RuleIntegerRange, name, subject, v.secTypes, "the Integer is outside the range -2147483648 to 2147483647")
		}
	case vNumber:
		if rule, p := checkJSONInteger(val.s); p != "" {
			c.errorf(rule, name, subject, v.secJSONTypes, "%s", p)
		}
	case vObject:
		if !v.legacy {
			c.errorf(RuleType, name, subject, v.secTypes, "the value is an object; CloudEvents 1.0 attribute values MUST be one of %s", types10)
			return
		}
		if depth > 64 {
			c.errorf(RuleType, name, subject, v.secTypes, "Map values nest more than 64 levels deep")
			return
		}
		seen := map[string]bool{}
		for _, m := range val.obj.members {
			sub := fmt.Sprintf("%s, map key %q", subject, m.key)
			if seen[m.key] {
				c.errorf(RuleDuplicate, name, sub, v.secTypes, "the key appears more than once in the Map")
				continue
			}
			seen[m.key] = true
			if m.keyBadSurrogate {
				c.errorf(RuleStringChars, name, sub, v.secTypes, "the key contains an unpaired UTF-16 surrogate escape")
			} else if p := checkStringChars(m.key); p != "" {
				c.errorf(RuleStringChars, name, sub, v.secTypes, "Map keys are Strings: %s", p)
			}
			if m.val.kind != jNull {
				checkExtensionValue(c, v, name, fromJSON(m.val), sub, depth+1)
			}
		}
	case vArray:
		types := types10
		if v.legacy {
			types = types03
		}
		c.errorf(RuleType, name, subject, v.secTypes, "the value is an array; attribute values MUST be one of %s", types)
	case vBinary, vURIRef:
	case vURI:
		checkURIValue(c, v, name, val.s, subject)
	case vTime:
		if y := val.t.Year(); y < 0 || y > 9999 {
			c.errorf(RuleTimestamp, name, subject, v.secTypes, "the year %d cannot be written as an RFC 3339 timestamp (years 0000–9999)", y)
		}
	case vOther:
		types := types10
		if v.legacy {
			types = types03
		}
		c.errorf(RuleType, name, subject, v.secTypes, "the value has Go type %s; attribute values MUST be one of %s", val.s, types)
	}
}

// attr is one attribute as found on the wire.
type attr struct {
	name    string
	val     value
	subject string // how messages refer to it, e.g. `attribute "time" (header "ce-time")`
	// reported marks a value whose encoding was already found broken: it counts as
	// present but its value is not checked again.
	reported bool
}

// checkAttributes runs the name, type and presence rules over a decoded attribute set.
// Names in attrs are unique; null values mean unset. Names of core attributes are not
// checked again.
func checkAttributes(c *collector, v *version, attrs []attr) {
	present := make(map[string]bool, len(attrs))
	for _, a := range attrs {
		if _, core := v.core[a.name]; !core {
			checkNameRules(c, v, a.name, a.subject)
		}
		if a.val.kind == vNull {
			continue
		}
		present[a.name] = true
		if !a.reported {
			checkValue(c, v, a.name, a.val, a.subject)
		}
	}
	for _, r := range required {
		if r == "specversion" {
			continue // the caller reports it: without it there is no version to check against
		}
		if !present[r] {
			c.errorf(RuleRequired, r, attrSubject(r), v.secRequired, "required but missing; every CloudEvent MUST have id, source, specversion and type")
		}
	}
}
