package conformance

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// KafkaHeader is one Kafka record header. It is an alias of the plain struct type, so a
// []struct{Key string; Value []byte} can be passed as is, without importing a Kafka client.
type KafkaHeader = struct {
	Key   string
	Value []byte
}

// ValidateKafka judges a Kafka record as the Kafka Protocol Binding 1.0 maps CloudEvents to
// it: headers, key and payload (the record value). The content-type header selects the mode
// (§3). A structured record carries a JSON event in payload, judged as ValidateStructured
// does. A binary record carries one attribute per ce_ header, datacontenttype in
// content-type, and the data as payload (nil: no data, a tombstone). Header keys and values
// must be UTF-8 (§3.2.3); values are taken as-is, without the percent-decoding of HTTP. There
// is no batch mode in Kafka (§1.3). key is accepted for completeness: the binding maps the
// user's key unchanged (§3.1), so no rule constrains it.
func ValidateKafka(headers []KafkaHeader, key, payload []byte) []Violation {
	_ = key
	c := &collector{}
	var cts []string
	ctKey := "content-type"
	for _, h := range headers {
		if strings.EqualFold(h.Key, "content-type") {
			if h.Key != "content-type" {
				c.warnf(RuleContentType, h.Key, fmt.Sprintf("header %q", h.Key), secKafkaCT,
					"Kafka header keys are case-sensitive and the binding names the header \"content-type\"; receivers may not see this one")
			}
			cts = append(cts, string(h.Value))
			ctKey = h.Key
		}
	}
	ct := ""
	if len(cts) > 0 {
		ct = cts[0]
	}
	if len(cts) > 1 {
		c.errorf(RuleDuplicate, ctKey, fmt.Sprintf("header %q", ctKey), secKafkaModes, "the header appears %d times; the content mode and datacontenttype are ambiguous", len(cts))
	}
	switch DetectMode(ct) {
	case ModeBatch:
		c.errorf(RuleMode, ctKey, fmt.Sprintf("header %q", ctKey), secKafkaNoBatch, "%s asks for batch mode, which the Kafka binding does not support", quote(ct))
		return c.out
	case ModeStructured:
		if !isJSONFormat(ct) {
			c.warnf(RuleMode, ctKey, fmt.Sprintf("header %q", ctKey), secKafkaModes,
				"%s names an event format this validator cannot read (it knows application/cloudevents+json); a receiver MAY forward such a record as binary", quote(ct))
			return c.out
		}
		return append(c.out, ValidateStructured(payload)...)
	}

	type hdr struct {
		key    string
		values []string
	}
	ce := map[string]*hdr{}
	var names []string
	for _, h := range headers {
		if len(h.Key) < 3 || !strings.EqualFold(h.Key[:3], "ce_") {
			continue
		}
		if !utf8.ValidString(h.Key) {
			c.errorf(RuleHeaderEncoding, h.Key, fmt.Sprintf("header %q", h.Key), secKafkaHeaders, "the header key is not valid UTF-8; header keys and values MUST be UTF-8 strings")
			continue
		}
		name := h.Key[3:]
		if hd, ok := ce[name]; ok {
			hd.values = append(hd.values, string(h.Value))
			continue
		}
		ce[name] = &hdr{key: h.Key, values: []string{string(h.Value)}}
		names = append(names, name)
	}

	v := v10
	if sv, ok := ce["specversion"]; !ok {
		c.errorf(RuleRequired, "specversion", attrSubject("specversion"), v10.secRequired,
			"required but missing: no ce_specversion header; every CloudEvent MUST have id, source, specversion and type (the rest is checked against CloudEvents 1.0)")
	} else if v = versionOf(sv.values[0]); v == nil {
		c.errorf(RuleSpecVersion, "specversion", kafkaSubject("specversion", sv.key), v10.secRequired,
			"%s is not a CloudEvents version this validator knows; expected \"1.0\" (or the older \"0.3\")", quote(sv.values[0]))
		return c.out
	}

	var attrs []attr
	for _, name := range names {
		hd := ce[name]
		subject := kafkaSubject(name, hd.key)
		if hd.key[:3] != "ce_" {
			c.errorf(RuleNameChars, name, subject, secKafkaNames, "the key prefix is %q; the binding's prefix is the lower-case \"ce_\"", hd.key[:3])
		}
		if len(hd.values) > 1 {
			c.errorf(RuleDuplicate, name, subject, v.secContext, "the header appears %d times; each context attribute MUST appear at most once", len(hd.values))
		}
		if name == "datacontenttype" {
			c.warnf(RuleContentType, name, subject, secKafkaCT, "in binary mode the content-type header carries datacontenttype; a ce_datacontenttype header duplicates it and receivers ignore or reject it")
			continue
		}
		if !utf8.ValidString(hd.values[0]) {
			c.errorf(RuleHeaderEncoding, name, subject, secKafkaHeaders, "the header value is not valid UTF-8; header keys and values MUST be UTF-8 strings")
			attrs = append(attrs, attr{name: name, subject: subject, reported: true})
			continue
		}
		attrs = append(attrs, attr{name: name, val: value{kind: vString, s: hd.values[0]}, subject: subject})
	}
	dct, mt := "", ""
	if len(cts) > 0 {
		dct = ct
		attrs = append(attrs, attr{name: "datacontenttype", val: value{kind: vString, s: dct}, subject: kafkaSubject("datacontenttype", ctKey)})
		var p string
		if mt, p = checkMediaType(dct); p != "" {
			dct = ""
		}
	}
	checkAttributes(c, v, attrs)
	checkBinaryEncoding(c, v, attrs)
	checkBinaryData(c, v, dct, mt, payload)
	return c.out
}

func kafkaSubject(name, key string) string {
	return fmt.Sprintf("attribute %q (header %q)", name, key)
}
