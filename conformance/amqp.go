package conformance

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"
)

// AMQP application-property prefixes (AMQP Protocol Binding 1.0 §3.1.3.1).
const (
	// AMQPPrefix is the preferred prefix, the only one JMS 2.0 clients accept.
	AMQPPrefix = "cloudEvents_"
	// AMQPPrefixColon is the alternative prefix.
	AMQPPrefixColon = "cloudEvents:"
)

// ValidateAMQP judges an AMQP 1.0 message as the AMQP Protocol Binding 1.0 maps CloudEvents
// to it, given its content-type message property, its application-properties and the bytes
// of its application-data section. The content type selects the mode (§3). In binary mode
// each attribute is one application property named with the prefix "cloudEvents_" or
// "cloudEvents:" — one message must not mix them — and the content type is the
// datacontenttype. Property values may be the native AMQP type (in Go: bool, any integer
// type for long, string, []byte, time.Time) or the canonical string (§3.1.3.2). There is no
// batch mode in AMQP (§1.3).
func ValidateAMQP(contentType string, properties map[string]any, body []byte) []Violation {
	c := &collector{}
	switch DetectMode(contentType) {
	case ModeBatch:
		c.errorf(RuleMode, "content-type", "property \"content-type\"", secAMQPNoBatch, "%s asks for batch mode, which the AMQP binding does not support", quote(contentType))
		return c.out
	case ModeStructured:
		if !isJSONFormat(contentType) {
			c.warnf(RuleMode, "content-type", "property \"content-type\"", secAMQPModes,
				"%s names an event format this validator cannot read (it knows application/cloudevents+json); a receiver MAY forward such a message as binary", quote(contentType))
			return c.out
		}
		return append(c.out, ValidateStructured(body)...)
	}

	keys := make([]string, 0, len(properties))
	for k := range properties {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	type prop struct {
		key string
		val any
	}
	byName := map[string]prop{}
	var names []string
	sepKey := map[string]string{} // separator → first key using it
	for _, k := range keys {
		var name string
		switch {
		case strings.HasPrefix(k, AMQPPrefix):
			name = k[len(AMQPPrefix):]
			if _, ok := sepKey["_"]; !ok {
				sepKey["_"] = k
			}
		case strings.HasPrefix(k, AMQPPrefixColon):
			name = k[len(AMQPPrefixColon):]
			if _, ok := sepKey[":"]; !ok {
				sepKey[":"] = k
			}
		default:
			if len(k) >= len(AMQPPrefix) && (strings.EqualFold(k[:len(AMQPPrefix)], AMQPPrefix) || strings.EqualFold(k[:len(AMQPPrefix)], AMQPPrefixColon)) {
				c.warnf(RulePrefix, k, fmt.Sprintf("property %q", k), secAMQPNames,
					"the key looks like a CloudEvents attribute but property names are case-sensitive; the prefix is %q or %q, so receivers will not read it as one", AMQPPrefix, AMQPPrefixColon)
			}
			continue
		}
		if p, dup := byName[name]; dup {
			c.errorf(RuleDuplicate, name, fmt.Sprintf("attribute %q (property %q)", name, k), secAMQPNames,
				"the attribute also appears as %q; each context attribute MUST appear at most once", p.key)
			continue
		}
		byName[name] = prop{key: k, val: properties[k]}
		names = append(names, name)
	}
	if len(sepKey) > 1 {
		c.errorf(RulePrefix, sepKey[":"], fmt.Sprintf("property %q", sepKey[":"]), secAMQPNames,
			"the message uses both separators (%q and %q); any single message MUST use the same separator for all CloudEvents attributes", sepKey["_"], sepKey[":"])
	}

	v := v10
	if sv, ok := byName["specversion"]; !ok {
		c.errorf(RuleRequired, "specversion", attrSubject("specversion"), v10.secRequired,
			"required but missing: no cloudEvents_specversion property; every CloudEvent MUST have id, source, specversion and type (the rest is checked against CloudEvents 1.0)")
	} else {
		s := ""
		if val := amqpValue(sv.val); val.kind == vString {
			s = val.s
		}
		if v = versionOf(s); v == nil {
			got := fmt.Sprintf("a value of Go type %T", sv.val)
			if _, isStr := sv.val.(string); isStr || s != "" {
				got = quote(s)
			}
			c.errorf(RuleSpecVersion, "specversion", amqpSubject("specversion", sv.key), v10.secRequired,
				"%s is not a CloudEvents version this validator knows; expected the string \"1.0\" (or the older \"0.3\")", got)
			return c.out
		}
	}

	var attrs []attr
	for _, name := range names {
		p := byName[name]
		subject := amqpSubject(name, p.key)
		if name == "datacontenttype" {
			c.warnf(RuleContentType, name, subject, secAMQPHeaders, "datacontenttype travels in the AMQP content-type property in binary mode, not as an application property")
			continue
		}
		attrs = append(attrs, attr{name: name, val: amqpValue(p.val), subject: subject})
	}
	dct, mt := "", ""
	if contentType != "" {
		dct = contentType
		attrs = append(attrs, attr{name: "datacontenttype", val: value{kind: vString, s: dct}, subject: "attribute \"datacontenttype\" (property \"content-type\")"})
		var p string
		if mt, p = checkMediaType(dct); p != "" {
			dct = ""
		}
	}
	checkAttributes(c, v, attrs)
	checkBinaryEncoding(c, v, attrs)
	checkBinaryData(c, v, dct, mt, body)
	return c.out
}

func amqpSubject(name, key string) string {
	return fmt.Sprintf("attribute %q (property %q)", name, key)
}

// amqpValue converts an application-property value as a Go AMQP library delivers it.
func amqpValue(x any) value {
	switch x := x.(type) {
	case nil:
		return value{kind: vNull}
	case string:
		return value{kind: vString, s: x}
	case bool:
		return value{kind: vBool}
	case []byte:
		return value{kind: vBinary}
	case time.Time:
		return value{kind: vTime, t: x}
	}
	rv := reflect.ValueOf(x)
	switch rv.Kind() {
	case reflect.String: // e.g. a library's Symbol type
		return value{kind: vString, s: rv.String()}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return goValue(x)
	}
	return value{kind: vOther, s: fmt.Sprintf("%T", x)}
}
