package conformance

import (
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"
)

// binHeaders returns the headers of a minimal valid binary-mode 1.0 event plus extra
// "Name: value" pairs; an empty value deletes the header.
func binHeaders(extra ...string) http.Header {
	h := http.Header{
		"Ce-Specversion": {"1.0"},
		"Ce-Id":          {"A-1"},
		"Ce-Source":      {"/src"},
		"Ce-Type":        {"com.example.t"},
	}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] == "\x00delete" {
			h.Del(extra[i])
			continue
		}
		h[extra[i]] = append(h[extra[i]], extra[i+1])
	}
	return h
}

const del = "\x00delete"

func TestValidateBinaryHeaders(t *testing.T) {
	cases := []struct {
		name  string
		h     http.Header
		body  string
		errs  []string
		warns []string
	}{
		{name: "minimal", h: binHeaders()},
		{name: "with data", h: binHeaders("Content-Type", "application/json; charset=utf-8", "Ce-Time", "2018-04-05T17:31:00Z", "Ce-Ext", "v"), body: `{"a":1}`},
		{name: "non-canonical keys", h: http.Header{"ce-specversion": {"1.0"}, "CE-ID": {"1"}, "ce-Source": {"/s"}, "ce-type": {"t"}, "content-type": {"text/plain"}}, body: "hi"},
		{name: "no specversion", h: binHeaders("Ce-Specversion", del), errs: []string{"required@specversion"}},
		{name: "unknown specversion", h: http.Header{"Ce-Specversion": {"2.0"}}, errs: []string{"specversion@specversion"}},
		{name: "nothing", h: http.Header{}, errs: []string{"required@specversion", "required@id", "required@source", "required@type"}},
		{name: "0.3", h: binHeaders("Ce-Specversion", del, "Ce-Specversion", "0.3", "Ce-Schemaurl", "s.json")},
		{name: "0.3 with dataschema", h: binHeaders("Ce-Specversion", del, "Ce-Specversion", "0.3", "Ce-Dataschema", "https://e.com/s")}, // warning below
		{name: "ce-datacontenttype", h: binHeaders("Ce-Datacontenttype", "text/plain"), errs: []string{"content-type@datacontenttype"}},
		{name: "structured Content-Type", h: binHeaders("Content-Type", "application/cloudevents+json"), errs: []string{"mode@Content-Type"}},
		{name: "repeated header", h: binHeaders("Ce-Id", "B-2"), errs: []string{"duplicate@id"}},
		{name: "same header in two cases", h: func() http.Header { h := binHeaders(); h["ce-id"] = []string{"B-2"}; return h }(), errs: []string{"duplicate@id"}},
		{name: "repeated Content-Type", h: binHeaders("Content-Type", "text/plain", "Content-Type", "text/html"), errs: []string{"duplicate@Content-Type"}},
		{name: "dash in name", h: binHeaders("Ce-My-Ext", "x"), errs: []string{"name-chars@my-ext"}},
		{name: "empty name", h: binHeaders("Ce-", "x"), errs: []string{"name-chars@"}},
		{name: "reserved name", h: binHeaders("Ce-Data", "x"), errs: []string{"reserved@data"}},
		{name: "empty id", h: binHeaders("Ce-Id", del, "Ce-Id", ""), errs: []string{"non-empty@id"}},
		{name: "bad time", h: binHeaders("Ce-Time", "yesterday"), errs: []string{"timestamp@time"}},
		{name: "bad source", h: binHeaders("Ce-Source", del, "Ce-Source", "a%20b"), errs: []string{"uri-reference@source"}},
		{name: "bad Content-Type", h: binHeaders("Content-Type", "text"), errs: []string{"media-type@datacontenttype"}},
		{name: "non-ASCII subject, encoded", h: binHeaders("Ce-Subject", "Euro%20%E2%82%AC%20%F0%9F%98%80")},
		{name: "unnecessary encoding", h: binHeaders("Ce-Time", "2018-04-05T17%3A31%3A00Z")},
		{name: "raw UTF-8", h: binHeaders("Ce-Subject", "Euro €"), errs: []string{"header-encoding@subject"}},
		{name: "raw space", h: binHeaders("Ce-Subject", "a b"), warns: []string{"header-encoding@subject"}},
		{name: "raw double quote", h: binHeaders("Ce-Subject", `a"b`), warns: []string{"header-encoding@subject"}},
		{name: "quoted string", h: binHeaders("Ce-Subject", `"a \"quoted\" value"`), warns: []string{"header-encoding@subject"}},
		{name: "broken quoted string", h: binHeaders("Ce-Subject", `"a`), errs: []string{"header-encoding@subject"}},
		{name: "stray percent", h: binHeaders("Ce-Subject", "100%"), errs: []string{"header-encoding@subject"}},
		{name: "overlong UTF-8", h: binHeaders("Ce-Subject", "%C0%A0"), errs: []string{"header-encoding@subject"}},
		{name: "encoded newline", h: binHeaders("Ce-Subject", "a%0Ab"), errs: []string{"string-chars@subject"}},
		{name: "raw tab", h: binHeaders("Ce-Subject", "a\tb"), errs: []string{"string-chars@subject"}, warns: []string{"header-encoding@subject"}},
		{name: "raw control byte", h: binHeaders("Ce-Subject", "a\x01b"), errs: []string{"header-encoding@subject"}},
		{name: "bad required value still counts as present", h: binHeaders("Ce-Id", del, "Ce-Id", "%zz"), errs: []string{"header-encoding@id"}},
		{name: "JSON body not JSON", h: binHeaders("Content-Type", "application/json"), body: "{", warns: []string{"data-format@data"}},
		{name: "mixed-case JSON media type", h: binHeaders("Content-Type", "Application/JSON"), body: "{}", warns: []string{"interop@datacontenttype"}},
		{name: "large", h: binHeaders(), body: strings.Repeat("x", sizeLimit), warns: []string{"size@"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := ruleCase{errs: c.errs, warns: c.warns}
			if c.name == "0.3 with dataschema" {
				want.warns = []string{"other-version@dataschema"}
			}
			want.check(t, ValidateBinaryHeaders(c.h, []byte(c.body)))
			if c.name != "structured Content-Type" {
				want.check(t, ValidateHTTP(c.h, []byte(c.body)))
			}
		})
	}
}

func TestValidateHTTP(t *testing.T) {
	ct := func(v string) http.Header { return http.Header{"Content-Type": {v}} }
	cases := []struct {
		name  string
		h     http.Header
		body  string
		errs  []string
		warns []string
	}{
		{name: "structured", h: ct("application/cloudevents+json; charset=UTF-8"), body: ev10("")},
		{name: "structured, mixed case", h: ct("Application/CloudEvents+JSON"), body: ev10("")},
		{name: "structured, invalid", h: ct("application/cloudevents+json"), body: `{"specversion":"1.0"}`, errs: []string{"required@id", "required@source", "required@type"}},
		{name: "batch", h: ct("application/cloudevents-batch+json"), body: "[" + ev10("") + "]"},
		{name: "batch given an object", h: ct("application/cloudevents-batch+json"), body: ev10(""), errs: []string{"batch@"}},
		{name: "structured given an array", h: ct("application/cloudevents+json"), body: "[]", errs: []string{"json@"}},
		{name: "other format", h: ct("application/cloudevents+avro"), body: "\x00", warns: []string{"mode@Content-Type"}},
		{name: "repeated Content-Type", h: http.Header{"Content-Type": {"application/cloudevents+json", "text/plain"}}, body: ev10(""), errs: []string{"duplicate@Content-Type"}},
		{name: "binary", h: binHeaders("Content-Type", "text/plain"), body: "hi"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ruleCase{errs: c.errs, warns: c.warns}.check(t, ValidateHTTP(c.h, []byte(c.body)))
		})
	}
}

func TestDetectMode(t *testing.T) {
	for ct, want := range map[string]Mode{
		"":                                   ModeBinary,
		"application/json":                   ModeBinary,
		"text/plain; charset=utf-8":          ModeBinary,
		"application/cloudevents+json":       ModeStructured,
		" APPLICATION/CloudEvents+json; x=y": ModeStructured,
		"application/cloudevents+avro":       ModeStructured,
		"application/cloudevents-batch+json": ModeBatch,
		"Application/CloudEvents-Batch+JSON": ModeBatch,
	} {
		if got := DetectMode(ct); got != want {
			t.Errorf("DetectMode(%q) = %v, want %v", ct, got, want)
		}
	}
	if Mode(9).String() != "Mode(9)" {
		t.Error("Mode.String")
	}
}

func TestHTTPHeaderValueCoding(t *testing.T) {
	for _, s := range []string{"", "plain", "a b", `"q"`, "100%", "Euro € 😀", "tab\there", "\x7f", "~!#$&'()*+,/:;=?@[]"} {
		enc := EncodeHTTPHeaderValue(s)
		for i := 0; i < len(enc); i++ {
			if enc[i] <= 0x20 || enc[i] >= 0x7f || enc[i] == '"' {
				t.Errorf("EncodeHTTPHeaderValue(%q) = %q has byte 0x%02x", s, enc, enc[i])
			}
		}
		dec, err := DecodeHTTPHeaderValue(enc)
		if err != nil || dec != s {
			t.Errorf("round trip %q -> %q -> %q, %v", s, enc, dec, err)
		}
	}
	if got := EncodeHTTPHeaderValue("a~b"); got != "a~b" {
		t.Errorf("printable ASCII was encoded: %q", got)
	}
	for _, bad := range []string{"%", "%4", "%GG", "%C0%A0", "%FF", "é", "\"open", "\"a\"b"} {
		if got, err := DecodeHTTPHeaderValue(bad); err == nil {
			t.Errorf("DecodeHTTPHeaderValue(%q) = %q, want an error", bad, got)
		}
	}
	if got, err := DecodeHTTPHeaderValue(`"a\"b%41"`); err != nil || got != `a"bA` {
		t.Errorf("quoted: %q %v", got, err)
	}
	if !utf8.ValidString(EncodeHTTPHeaderValue("\xff")) || EncodeHTTPHeaderValue("\xff") != "%FF" {
		t.Error("invalid UTF-8 is escaped byte by byte")
	}
}
