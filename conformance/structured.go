package conformance

import (
	"fmt"
	"strings"
)

// ValidateStructured judges a structured-mode event in the JSON event format
// (application/cloudevents+json) exactly as it arrived: one JSON object, CloudEvents 1.0 or
// 0.3. It checks the JSON itself (well-formed UTF-8 JSON, no duplicate members), the context
// attributes (presence, names, types, values) and the data members (data versus data_base64,
// base64, data against datacontenttype). It never panics, whatever the input.
func ValidateStructured(data []byte) []Violation {
	c := &collector{}
	j, err := parseJSON(data)
	if err != nil {
		c.errorf(RuleJSON, "", "structured event", secRFC8259, "the body is not well-formed JSON: %v", err)
		return c.out
	}
	if j.kind != jObject {
		hint := ""
		if j.kind == jArray {
			hint = "; a JSON array is a batch (application/cloudevents-batch+json), see ValidateBatch"
		}
		c.errorf(RuleJSON, "", "structured event", v10.secJSONEnvelope, "the body is a JSON %s, but a structured CloudEvent MUST be a JSON object%s", j.kind, hint)
		return c.out
	}
	validateJSONEvent(c, j, len(data))
	return c.out
}

// ValidateBatch judges a batch in the JSON batch format (application/cloudevents-batch+json):
// a JSON array, possibly empty, of structured events that all have the same specversion. Each
// element is checked as ValidateStructured would; violations about an element carry its
// 1-based position in Element.
func ValidateBatch(data []byte) []Violation {
	c := &collector{}
	j, err := parseJSON(data)
	if err != nil {
		c.errorf(RuleJSON, "", "batch", secRFC8259, "the body is not well-formed JSON: %v", err)
		return c.out
	}
	if j.kind != jArray {
		c.errorf(RuleBatch, "", "batch", secJSONBatch+".1", "the body is a JSON %s; a JSON batch MUST be a JSON array of events", j.kind)
		return c.out
	}
	firstVersion, firstAt := "", 0
	for i, e := range j.elems {
		c.element = i + 1
		if e.kind != jObject {
			c.errorf(RuleBatch, "", "element", secJSONBatch+".1", "the element is a JSON %s; every element of a batch MUST be a CloudEvent (a JSON object)", e.kind)
			continue
		}
		sv := validateJSONEvent(c, e, e.end-e.start)
		if sv == "" {
			continue
		}
		if firstVersion == "" {
			firstVersion, firstAt = sv, i+1
		} else if sv != firstVersion {
			c.errorf(RuleSpecVersion, "specversion", attrSubject("specversion"), secSpecBatch,
				"the value %q differs from %q in element %d; all CloudEvents in one batch MUST have the same specversion", sv, firstVersion, firstAt)
		}
	}
	return c.out
}

// validateJSONEvent checks one JSON object as a CloudEvent. size is its length in bytes.
// It returns the specversion it validated against ("" if it could not tell).
func validateJSONEvent(c *collector, obj *jsonValue, size int) string {
	// Repeated members are an error; the rest of the checks judge the last occurrence, the
	// one encoding/json and sdk-go keep.
	members := map[string]*jsonMember{}
	count := map[string]int{}
	var order []string
	for i := range obj.members {
		m := &obj.members[i]
		if count[m.key] == 0 {
			order = append(order, m.key)
		}
		count[m.key]++
		members[m.key] = m // ends as the last occurrence
	}
	for _, key := range order {
		if count[key] < 2 {
			continue
		}
		what, sec := "attribute", v10.secContext
		if key == "data" || key == "data_base64" {
			what, sec = "member", v10.secJSONData
		}
		c.errorf(RuleDuplicate, key, fmt.Sprintf("%s %q", what, key), sec,
			"the member appears %d times in the JSON object; each context attribute MUST appear at most once, and RFC 8259 leaves the meaning of repeated names undefined (the last one is checked here)", count[key])
	}

	var v *version
	sv := ""
	switch m := members["specversion"]; {
	case m == nil || m.val.kind == jNull:
		c.errorf(RuleRequired, "specversion", attrSubject("specversion"), v10.secRequired,
			"required but missing; every CloudEvent MUST have id, source, specversion and type (the rest is checked against CloudEvents 1.0)")
		v = v10
	case m.val.kind != jString:
		c.errorf(RuleType, "specversion", attrSubject("specversion"), v10.secRequired,
			"the value is a JSON %s; expected the string \"1.0\" or \"0.3\"", m.val.kind)
		return ""
	default:
		sv = m.val.str
		if v = versionOf(sv); v == nil {
			c.errorf(RuleSpecVersion, "specversion", attrSubject("specversion"), v10.secRequired,
				"%s is not a CloudEvents version this validator knows; expected \"1.0\" (or the older \"0.3\")", quote(sv))
			return ""
		}
	}

	var attrs []attr
	for _, key := range order {
		m := members[key]
		switch {
		case m.key == "data":
			continue
		case m.key == "data_base64" && !v.legacy:
			continue
		case m.key == "data_base64":
			c.errorf(RuleNameChars, m.key, attrSubject(m.key), v.secJSONData,
				"data_base64 is the CloudEvents 1.0 member for binary data; in 0.3 binary data goes in \"data\" as a base64 string with datacontentencoding \"base64\"")
			continue
		}
		attrs = append(attrs, attr{name: m.key, val: fromJSON(m.val), subject: attrSubject(m.key)})
	}
	checkAttributes(c, v, attrs)
	checkJSONDataMembers(c, v, members)
	if size > sizeLimit {
		c.warnf(RuleSize, "", "event", secSize, "the event is %d bytes; intermediaries MUST forward events of up to 64 KiB (65536 bytes) but may drop larger ones", size)
	}
	return sv
}

// checkJSONDataMembers applies the JSON format's rules for data and data_base64 (1.0) or data
// and datacontentencoding (0.3).
func checkJSONDataMembers(c *collector, v *version, members map[string]*jsonMember) {
	// members maps each member name to its last occurrence.
	dct, mt := "", ""
	dctValid := true
	if m := members["datacontenttype"]; m != nil && m.val.kind == jString {
		dct = m.val.str
		var p string
		if mt, p = checkMediaType(dct); p != "" {
			dctValid = false // already reported
		}
	} else if m != nil && m.val.kind != jNull {
		dctValid = false // already reported as a type error
	}
	data := members["data"]

	if v.legacy {
		if m := members["datacontentencoding"]; m != nil && m.val.kind == jString && strings.EqualFold(m.val.str, "base64") {
			switch {
			case data == nil:
				c.warnf(RuleEncoding, "datacontentencoding", attrSubject("datacontentencoding"), v.secOptional,
					"datacontentencoding is set but there is no data; it MUST NOT be set unless data holds string-encoded binary data")
			case data.val.kind != jString:
				c.errorf(RuleBase64, "data", "member \"data\"", v.secJSONData,
					"the data is a JSON %s, but with datacontentencoding %s it MUST be a base64 string", data.val.kind, quote(m.val.str))
			default:
				if p := checkBase64(data.val.str); p != "" {
					c.errorf(RuleBase64, "data", "member \"data\"", v.secJSONData, "datacontentencoding says base64, but the data %s is not base64: %s", quote(data.val.str), p)
				}
			}
			return
		}
		if data != nil && dctValid {
			checkJSONData(c, v, data.val, dct, mt)
		}
		return
	}

	b64 := members["data_base64"]
	if b64 != nil && b64.val.kind != jNull {
		if data != nil {
			c.errorf(RuleExclusive, "data_base64", "member \"data_base64\"", v.secJSONData+".1",
				"\"data\" and \"data_base64\" both appear; they are mutually exclusive, use data_base64 for binary data and data otherwise")
		}
		switch {
		case b64.val.kind != jString:
			c.errorf(RuleType, "data_base64", "member \"data_base64\"", v.secJSONData+".1", "the value is a JSON %s; expected a base64 string", b64.val.kind)
		default:
			if p := checkBase64(b64.val.str); p != "" {
				c.errorf(RuleBase64, "data_base64", "member \"data_base64\"", v.secJSONData+".2", "the value %s is not base64: %s", quote(b64.val.str), p)
			}
		}
	}
	if data != nil && dctValid {
		checkJSONData(c, v, data.val, dct, mt)
	}
}

// checkJSONData checks the "data" member against datacontenttype (dct, mt its lower-cased
// type/subtype; both empty when absent).
func checkJSONData(c *collector, v *version, data *jsonValue, dct, mt string) {
	if dct == "" {
		return // absent: data is JSON, any JSON value will do
	}
	if isJSONMediaType(mt) {
		if w := mediaTypeInterop(dct, mt); w != "" {
			c.warnf(RuleInterop, "datacontenttype", attrSubject("datacontenttype"), v.jsonDataSec(".2"), "%s", w)
		}
		return
	}
	if data.kind != jString {
		c.errorf(RuleDataFormat, "data", "member \"data\"", v.jsonDataSec(".1"),
			"the data is a JSON %s, but datacontenttype %s does not declare JSON; the JSON format carries such data as a string (or, for binary data, as data_base64)", data.kind, quote(dct))
	}
}
