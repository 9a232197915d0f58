package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
)

// structuredSeeds returns the structured and batch inputs the tests use, as fuzz seeds.
func structuredSeeds(f *testing.F) [][]byte {
	var seeds [][]byte
	files, _ := filepath.Glob(filepath.Join(goldenRoot, "*/*/*.json"))
	more, _ := filepath.Glob(filepath.Join(goldenRoot, "*/*/*/*.json"))
	for _, p := range append(files, more...) {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	for _, q := range sdkQuirks {
		seeds = append(seeds, []byte(q.input))
	}
	for _, s := range []string{
		ev10(""), ev03(""), `{}`, `[]`, ev10(`"data":{"a":[1,"x",null,true]}`),
		ev10(`"datacontenttype":"text/plain; charset=utf-8","data":"x"`),
		ev10(`"time":"2018-04-05T17:31:00.5+01:00","dataschema":"https://e.com/s#x","n":-7,"b":false`),
		ev03(`"datacontentencoding":"base64","data":"YQ==","schemaurl":"s.json","m":{"k":"v"}`),
		ev10(`"s":"\ud83d\ude00\u00e9"`), ev10(`"source":"http://[::1]:80/a?b#c"`),
	} {
		seeds = append(seeds, []byte(s))
	}
	return seeds
}

// sdkMayReject reports whether sdk-go v2.16.2 is known to reject a structured event this
// package accepts (see sdkQuirks and doc.go). Anything else is a bug on one side.
func sdkMayReject(data []byte, vs Violations, sdkErr error) bool {
	if vs.Has(RuleInterop) {
		return true // interop warnings name exactly the constructs the sdk mishandles
	}
	obj, err := parseJSON(data)
	if err != nil || obj.kind != jObject {
		return false
	}
	legacy := false
	for _, m := range obj.members {
		if m.key == "specversion" && m.val.kind == jString && m.val.str == SpecVersion03 {
			legacy = true
		}
	}
	for _, m := range obj.members {
		switch {
		case m.key == "data_base64":
			// The sdk decodes null, escapes, and whitespace before the value wrongly.
			if m.val.kind == jNull || bytes.IndexByte(data[m.val.start:m.val.end], '\\') >= 0 || isJSONSpace(data[m.val.start-1]) {
				return true
			}
		case legacy && m.val.kind == jObject && m.key != "data":
			return true // 0.3 Map
		case (m.key == "id" || m.key == "type" || m.key == "source" || m.key == "subject") && m.val.kind == jString && strings.TrimSpace(m.val.str) == "":
			return true // the sdk trims Unicode white space before its non-empty checks
		case (m.key == "source" || m.key == "dataschema" || m.key == "schemaurl") && m.val.kind == jString && goURLMishandles(m.val.str):
			return true
		}
	}
	return false
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// goURLMishandles reports whether s is a URI-reference that sdk-go, through Go's net/url,
// loses: url.Parse refuses a percent-encoded ASCII octet in the host (RFC 3986 allows it),
// and URL.String renders "#" (an empty fragment) as "".
func goURLMishandles(s string) bool {
	if u, err := url.Parse(s); err == nil && u.String() == "" && s != "" {
		return true
	}
	rest, ok := strings.CutPrefix(s, "//")
	if i := schemeEnd(s); i >= 0 {
		rest, ok = strings.CutPrefix(s[i+1:], "//")
	}
	if !ok {
		return false
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	return strings.Contains(rest, "%")
}

// sdkMayAccept reports whether every error in vs belongs to a class where this package is
// knowingly stricter than sdk-go v2.16.2 (see sdkQuirks and doc.go).
func sdkMayAccept(data []byte, vs Violations) bool {
	obj, _ := parseJSON(data)
	member := func(name string) *jsonValue {
		if obj == nil || obj.kind != jObject {
			return nil
		}
		var last *jsonValue
		for _, m := range obj.members {
			if m.key == name {
				last = m.val
			}
		}
		return last
	}
	if obj != nil && obj.kind == jObject {
		for _, m := range obj.members {
			if m.key == "" {
				return true // the sdk stops reading at an empty member name
			}
		}
	}
	for _, v := range vs.Errors() {
		switch v.Rule {
		case RuleNameChars, RuleStringChars, RuleURIReference, RuleURI, RuleMediaType, RuleDuplicate:
			continue
		case RuleJSON:
			if !utf8.Valid(data) {
				continue
			}
		case RuleDataFormat:
			if m := member("data"); m != nil && m.kind == jNull {
				continue
			}
		case RuleNonEmpty:
			if v.Attribute == "subject" || v.Attribute == "datacontenttype" || v.Attribute == "dataschema" {
				continue
			}
		case RuleTimestamp:
			// The sdk reads "" as unset, and Go's time.Parse accepts forms RFC 3339 does not
			// (one-digit hours, for example).
			if m := member(v.Attribute); m != nil && m.kind == jString {
				if _, err := time.Parse(time.RFC3339Nano, m.str); m.str == "" || err == nil {
					continue
				}
			}
		case RuleType:
			_, core := v10.core[v.Attribute]
			if m := member(v.Attribute); !core && m != nil && m.kind == jNumber {
				continue
			}
		}
		return false
	}
	return true
}

func checkViolationShape(t *testing.T, vs []Violation) {
	t.Helper()
	for _, v := range vs {
		if v.Rule == "" || v.Section == "" || v.Message == "" || !utf8.ValidString(v.Message) {
			t.Errorf("malformed violation %#v", v)
		}
	}
}

// FuzzValidateStructured checks that ValidateStructured never panics, that its JSON parser
// agrees with encoding/json, that a valid event is also valid inside a batch, and that it
// agrees with sdk-go's decoding except for the documented disagreements.
func FuzzValidateStructured(f *testing.F) {
	for _, s := range structuredSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		vs := Violations(ValidateStructured(data))
		checkViolationShape(t, vs)

		_, perr := parseJSON(data)
		std := json.Valid(data) && utf8.Valid(data) && !bytes.HasPrefix(data, []byte("\xEF\xBB\xBF"))
		if (perr == nil) != std {
			t.Fatalf("parseJSON: %v, encoding/json valid: %v", perr, std)
		}

		ours := len(vs.Errors()) == 0
		if ours {
			batch := append(append([]byte("["), data...), ']')
			if errs := Violations(ValidateBatch(batch)).Errors(); len(errs) > 0 {
				t.Fatalf("valid alone, invalid in a batch: %v", errs)
			}
		}

		ev, sdkErr := sdkDecode(data)
		switch {
		case ours && sdkErr != nil && !sdkMayReject(data, vs, sdkErr):
			t.Fatalf("valid here, but sdk-go rejects it: %v\nwarnings: %v", sdkErr, vs)
		case !ours && sdkErr == nil && !sdkMayAccept(data, vs):
			t.Fatalf("sdk-go accepts it, but: %v", vs.Errors())
		case ours && sdkErr == nil:
			if errs := Violations(Validate(ev)).Errors(); len(errs) > 0 {
				t.Fatalf("valid as JSON, but the sdk-go event is not: %v", errs)
			}
		}
	})
}

// FuzzValidateBatch checks that ValidateBatch never panics and numbers its elements.
func FuzzValidateBatch(f *testing.F) {
	for _, s := range structuredSeeds(f) {
		f.Add(s)
		f.Add(append(append([]byte("["), s...), ']'))
	}
	f.Add([]byte(`[` + ev10("") + `,` + ev03("") + `,5]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		vs := ValidateBatch(data)
		checkViolationShape(t, vs)
		j, err := parseJSON(data)
		for _, v := range vs {
			if v.Element < 0 || (v.Element > 0 && (err != nil || j.kind != jArray || v.Element > len(j.elems))) {
				t.Fatalf("element %d out of range: %v", v.Element, v)
			}
		}
	})
}

// parseFuzzHeaders turns fuzz input into headers and a body: "Name: value" lines up to an
// empty line, then the body.
func parseFuzzHeaders(data []byte) (http.Header, []byte) {
	h := http.Header{}
	rest := data
	for len(rest) > 0 {
		line, after, _ := bytes.Cut(rest, []byte("\n"))
		rest = after
		if len(line) == 0 {
			break
		}
		name, val, _ := bytes.Cut(line, []byte(":"))
		h[string(name)] = append(h[string(name)], strings.TrimLeft(string(val), " "))
	}
	return h, rest
}

func binarySeeds() []string {
	seeds := []string{
		"ce-specversion: 1.0\nce-id: 1\nce-source: /s\nce-type: t\n\n",
		"ce-specversion: 1.0\nce-id: 1\nce-source: /s\nce-type: t\nContent-Type: application/json\nce-time: 2018-04-05T17:31:00Z\n\n{\"a\":1}",
		"ce-specversion: 0.3\nce-id: 1\nce-source: /s\nce-type: t\nce-schemaurl: s.json\nce-datacontentencoding: base64\n\nYQ==",
		"ce-specversion: 1.0\nce-id: 1\nce-source: /s\nce-type: t\nce-subject: Euro%20%E2%82%AC\nce-x: \"a \\\"q\\\"\"\n\n",
		"ce-specversion: 1.0\nce-id: %C0%A0\nce-source: a b\nce-type: 100%\nce-datacontenttype: x\n\n",
	}
	files, _ := filepath.Glob(filepath.Join(goldenRoot, "spec/examples/json-format-*.txt"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			seeds = append(seeds, string(b))
		}
	}
	return seeds
}

// FuzzValidateBinaryHeaders checks that ValidateBinaryHeaders never panics, that it agrees
// with ValidateHTTP on binary messages, and that sdk-go can read every message it accepts,
// unless the message relies on the header decoding sdk-go lacks (percent-encoding, quoted
// strings).
func FuzzValidateBinaryHeaders(f *testing.F) {
	for _, s := range binarySeeds() {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h, body := parseFuzzHeaders(data)
		vs := Violations(ValidateBinaryHeaders(h, body))
		checkViolationShape(t, vs)
		if DetectMode(strings.Join(headerValues(h, "content-type"), "")) == ModeBinary && len(headerValues(h, "content-type")) <= 1 {
			if hv := ValidateHTTP(h, body); len(hv) != len(vs) {
				t.Fatalf("ValidateHTTP %v\nValidateBinaryHeaders %v", hv, vs)
			}
		}
		if len(vs.Errors()) > 0 {
			return
		}
		encoded := false
		canon := http.Header{}
		for k, vals := range h {
			if strings.HasPrefix(strings.ToLower(k), "ce-") && strings.ContainsAny(strings.Join(vals, ""), "%\"") {
				encoded = true
			}
			if !validHeaderKey(k) {
				return // net/http would never deliver such a header
			}
			canon[http.CanonicalHeaderKey(k)] = vals
		}
		if encoded {
			return
		}
		ev, err := binding.ToEvent(context.Background(), cehttp.NewMessage(canon, io.NopCloser(bytes.NewReader(body))))
		if err == nil {
			err = ev.Validate()
		}
		if err != nil && !vs.Has(RuleInterop) && !vs.Has(RuleEncoding) && !sdkBinaryMayReject(canon) {
			t.Fatalf("valid here, but sdk-go rejects it: %v\nheaders %q", err, canon)
		}
	})
}

func validHeaderKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		if !isTokenChar(k[i]) {
			return false
		}
	}
	return true
}

// sdkBinaryMayReject reports the documented reasons sdk-go rejects a binary message this
// package accepts: whitespace-only required values, which it trims; URIs Go's url.Parse
// refuses.
func sdkBinaryMayReject(h http.Header) bool {
	for k, vals := range h {
		name := strings.ToLower(strings.TrimPrefix(strings.ToLower(k), "ce-"))
		for _, v := range vals {
			switch name {
			case "id", "type", "source", "subject":
				if strings.TrimSpace(v) == "" {
					return true
				}
			}
			if (name == "source" || name == "dataschema" || name == "schemaurl") && goURLMishandles(v) {
				return true
			}
		}
	}
	return false
}

// FuzzHTTPHeaderValue checks that EncodeHTTPHeaderValue and DecodeHTTPHeaderValue round-trip
// every UTF-8 string, and that decoding never panics or yields invalid UTF-8.
func FuzzHTTPHeaderValue(f *testing.F) {
	for _, s := range []string{"", "Euro € 😀", "100%", `"a \"q\""`, "%C0%A0", "%e2%82%ac", "a b\t\x01"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if dec, err := DecodeHTTPHeaderValue(s); err == nil && !utf8.ValidString(dec) {
			t.Fatalf("decoded %q to invalid UTF-8 %q", s, dec)
		}
		if !utf8.ValidString(s) {
			return
		}
		enc := EncodeHTTPHeaderValue(s)
		if dec, err := DecodeHTTPHeaderValue(enc); err != nil || dec != s {
			t.Fatalf("%q -> %q -> %q, %v", s, enc, dec, err)
		}
	})
}

// FuzzValidateKafka checks that ValidateKafka never panics. The input holds "key: value"
// header lines, an empty line, and the record value.
func FuzzValidateKafka(f *testing.F) {
	f.Add([]byte("ce_specversion: 1.0\nce_id: 1\nce_source: /s\nce_type: t\ncontent-type: text/plain\n\nhi"))
	f.Add([]byte("content-type: application/cloudevents+json\n\n" + ev10("")))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, value := parseFuzzHeaders(data)
		var headers []KafkaHeader
		for k, vals := range h {
			for _, v := range vals {
				headers = append(headers, KafkaHeader{Key: k, Value: []byte(v)})
			}
		}
		checkViolationShape(t, ValidateKafka(headers, nil, value))
	})
}

// FuzzValidateAMQP checks that ValidateAMQP never panics. The input holds "key: value"
// property lines (all strings), an empty line, and the body; the first line's value, if
// its key is "content-type", is the content type.
func FuzzValidateAMQP(f *testing.F) {
	f.Add([]byte("content-type: text/plain\ncloudEvents_specversion: 1.0\ncloudEvents_id: 1\ncloudEvents_source: /s\ncloudEvents_type: t\n\nhi"))
	f.Add([]byte("content-type: application/cloudevents+json\n\n" + ev10("")))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, body := parseFuzzHeaders(data)
		props := map[string]any{}
		ct := ""
		for k, vals := range h {
			if k == "content-type" {
				ct = vals[0]
				continue
			}
			props[k] = vals[0]
		}
		checkViolationShape(t, ValidateAMQP(ct, props, body))
	})
}
