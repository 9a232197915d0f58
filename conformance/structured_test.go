package conformance

import (
	"slices"
	"sort"
	"strings"
	"testing"
)

// codes renders violations of severity s as sorted "rule@attribute" strings.
func codes(vs []Violation, s Severity) []string {
	var out []string
	for _, v := range vs {
		if v.Severity == s {
			c := string(v.Rule) + "@" + v.Attribute
			if !slices.Contains(out, c) {
				out = append(out, c)
			}
		}
	}
	sort.Strings(out)
	return out
}

type ruleCase struct {
	name   string
	input  string
	errs   []string // "rule@attribute", exact set
	warns  []string // "rule@attribute", exact set
	batch  bool
	legacy bool // wrap in a 0.3 envelope instead of 1.0
}

func (c ruleCase) check(t *testing.T, vs []Violation) {
	t.Helper()
	want := slices.Clone(c.errs)
	sort.Strings(want)
	wantW := slices.Clone(c.warns)
	sort.Strings(wantW)
	if got := codes(vs, SeverityError); !slices.Equal(got, want) {
		t.Errorf("errors %v, want %v\n%s", got, want, dump(vs))
	}
	if got := codes(vs, SeverityWarning); !slices.Equal(got, wantW) {
		t.Errorf("warnings %v, want %v\n%s", got, wantW, dump(vs))
	}
}

// ev10 wraps members in a minimal valid CloudEvents 1.0 JSON event.
func ev10(members string) string {
	s := `{"specversion":"1.0","id":"A-1","source":"/src","type":"com.example.t"`
	if members != "" {
		s += "," + members
	}
	return s + "}"
}

func ev03(members string) string {
	s := `{"specversion":"0.3","id":"A-1","source":"/src","type":"com.example.t"`
	if members != "" {
		s += "," + members
	}
	return s + "}"
}

func TestValidateStructuredRules(t *testing.T) {
	cases := []ruleCase{
		{name: "minimal 1.0", input: ev10("")},
		{name: "minimal 0.3", input: ev03("")},
		{name: "full 1.0", input: ev10(`"subject":"s","time":"2018-04-05T17:31:00Z","dataschema":"https://example.com/s.json","datacontenttype":"application/json","ext":true,"n":-5,"data":{"a":[1,2]}`)},

		// Required attributes and non-empty strings.
		{name: "no attributes", input: `{}`, errs: []string{"required@id", "required@source", "required@specversion", "required@type"}},
		{name: "missing id", input: `{"specversion":"1.0","source":"/s","type":"t"}`, errs: []string{"required@id"}},
		{name: "null id", input: `{"specversion":"1.0","id":null,"source":"/s","type":"t"}`, errs: []string{"required@id"}},
		{name: "empty id", input: `{"specversion":"1.0","id":"","source":"/s","type":"t"}`, errs: []string{"non-empty@id"}},
		{name: "numeric id", input: `{"specversion":"1.0","id":5,"source":"/s","type":"t"}`, errs: []string{"type@id"}},
		{name: "empty type", input: `{"specversion":"1.0","id":"1","source":"/s","type":""}`, errs: []string{"non-empty@type"}},
		{name: "empty source", input: `{"specversion":"1.0","id":"1","source":"","type":"t"}`, errs: []string{"non-empty@source"}},
		{name: "empty subject", input: ev10(`"subject":""`), errs: []string{"non-empty@subject"}},
		{name: "null optional attributes", input: ev10(`"subject":null,"time":null,"dataschema":null,"datacontenttype":null,"x":null`)},

		// specversion.
		{name: "unknown specversion", input: `{"specversion":"1.0.2","id":"1","source":"/s","type":"t"}`, errs: []string{"specversion@specversion"}},
		{name: "numeric specversion", input: `{"specversion":1.0,"id":"1","source":"/s","type":"t"}`, errs: []string{"type@specversion"}},
		{name: "missing specversion checks the rest as 1.0", input: `{"id":"1","source":"a b","type":"t"}`, errs: []string{"required@specversion", "uri-reference@source"}},

		// Attribute names.
		{name: "upper-case name", input: ev10(`"myExt":"x"`), errs: []string{"name-chars@myExt"}},
		{name: "dash in name", input: ev10(`"my-ext":"x"`), errs: []string{"name-chars@my-ext"}},
		{name: "empty name", input: ev10(`"":"x"`), errs: []string{"name-chars@"}},
		{name: "21-character name", input: ev10(`"abcdefghijklmnopqrstu":"x"`), warns: []string{"name-length@abcdefghijklmnopqrstu"}},
		{name: "name starting with a digit is fine in 1.0", input: ev10(`"1ext":"x"`)},
		{name: "name starting with a digit in 0.3", input: ev03(`"1ext":"x"`), errs: []string{"name-chars@1ext"}},
		{name: "duplicate attribute", input: ev10(`"id":"again"`), errs: []string{"duplicate@id"}},
		{name: "duplicate data", input: ev10(`"data":1,"data":2`), errs: []string{"duplicate@data"}},
		{name: "0.3 name in 1.0", input: ev10(`"schemaurl":"https://e.com/s"`), warns: []string{"other-version@schemaurl"}},
		{name: "1.0 name in 0.3", input: ev03(`"dataschema":"https://e.com/s"`), warns: []string{"other-version@dataschema"}},
		{name: "data_base64 in 0.3", input: ev03(`"data_base64":"YQ=="`), errs: []string{"name-chars@data_base64"}},

		// source: URI-reference.
		{name: "source absolute URI", input: ev10(`"source":"https://github.com/cloudevents"`), errs: []string{"duplicate@source"}},
		{name: "source examples", input: `[` +
			`{"specversion":"1.0","id":"1","type":"t","source":"mailto:cncf-wg-serverless@lists.cncf.io"},` +
			`{"specversion":"1.0","id":"1","type":"t","source":"urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66"},` +
			`{"specversion":"1.0","id":"1","type":"t","source":"/sensors/tn-1234567/alerts"},` +
			`{"specversion":"1.0","id":"1","type":"t","source":"1-555-123-4567"},` +
			`{"specversion":"1.0","id":"1","type":"t","source":"//github.com/cloudevents/cloudeventsconformance/yaml/v1.yaml"},` +
			`{"specversion":"1.0","id":"1","type":"t","source":"http://[2001:db8::1]:8080/p?q=1#f"},` +
			`{"specversion":"1.0","id":"1","type":"t","source":"cloudevents/spec/pull/123"},` +
			`{"specversion":"1.0","id":"1","type":"t","source":"%41b"}]`, batch: true},
		{name: "source with space", input: `{"specversion":"1.0","id":"1","type":"t","source":"my source"}`, errs: []string{"uri-reference@source"}},
		{name: "source with bad escape", input: `{"specversion":"1.0","id":"1","type":"t","source":"/a%zz"}`, errs: []string{"uri-reference@source"}},
		{name: "source non-ASCII", input: `{"specversion":"1.0","id":"1","type":"t","source":"/café"}`, errs: []string{"uri-reference@source"}},
		{name: "source colon without scheme", input: `{"specversion":"1.0","id":"1","type":"t","source":"1a:b"}`, errs: []string{"uri-reference@source"}},
		{name: "source bad port", input: `{"specversion":"1.0","id":"1","type":"t","source":"http://h:8o/"}`, errs: []string{"uri-reference@source"}},
		{name: "source bad IPv6", input: `{"specversion":"1.0","id":"1","type":"t","source":"http://[zz]/"}`, errs: []string{"uri-reference@source"}},
		{name: "source two fragments", input: `{"specversion":"1.0","id":"1","type":"t","source":"/a#b#c"}`, errs: []string{"uri-reference@source"}},
		{name: "source number", input: `{"specversion":"1.0","id":"1","type":"t","source":5}`, errs: []string{"type@source"}},

		// dataschema: absolute URI.
		{name: "relative dataschema", input: ev10(`"dataschema":"schema.json"`), errs: []string{"uri@dataschema"}},
		{name: "dataschema with fragment", input: ev10(`"dataschema":"https://e.com/s#v1"`), warns: []string{"uri@dataschema"}},
		{name: "empty dataschema", input: ev10(`"dataschema":""`), errs: []string{"non-empty@dataschema"}},
		{name: "0.3 schemaurl relative is fine", input: ev03(`"schemaurl":"schema.json"`)},
		{name: "0.3 schemaurl bad", input: ev03(`"schemaurl":"a b"`), errs: []string{"uri-reference@schemaurl"}},
		{name: "0.3 schemaurl empty", input: ev03(`"schemaurl":""`), warns: []string{"uri-reference@schemaurl"}},

		// time: RFC 3339.
		{name: "time with offset and nanos", input: ev10(`"time":"2018-04-05T17:31:00.123456789+01:00"`)},
		{name: "time leap year", input: ev10(`"time":"2020-02-29T00:00:00Z"`)},
		{name: "time not a leap year", input: ev10(`"time":"2019-02-29T00:00:00Z"`), errs: []string{"timestamp@time"}},
		{name: "time with space", input: ev10(`"time":"2018-04-05 17:31:00Z"`), errs: []string{"timestamp@time"}},
		{name: "time without offset", input: ev10(`"time":"2018-04-05T17:31:00"`), errs: []string{"timestamp@time"}},
		{name: "time hour 24", input: ev10(`"time":"2018-04-05T24:00:00Z"`), errs: []string{"timestamp@time"}},
		{name: "time comma fraction", input: ev10(`"time":"2018-04-05T17:31:00,5Z"`), errs: []string{"timestamp@time"}},
		{name: "time empty", input: ev10(`"time":""`), errs: []string{"timestamp@time"}},
		{name: "time number", input: ev10(`"time":1522949460`), errs: []string{"type@time"}},
		{name: "time leap second", input: ev10(`"time":"2016-12-31T23:59:60Z"`), warns: []string{"interop@time"}},
		{name: "time lower-case t and z", input: ev10(`"time":"2018-04-05t17:31:00z"`), warns: []string{"interop@time"}},

		// datacontenttype: RFC 2046.
		{name: "media type with parameters", input: ev10(`"datacontenttype":"text/plain; charset=\"utf-8\";format=flowed"`)},
		{name: "media type without subtype", input: ev10(`"datacontenttype":"text"`), errs: []string{"media-type@datacontenttype"}},
		{name: "media type trailing semicolon", input: ev10(`"datacontenttype":"text/plain;"`), errs: []string{"media-type@datacontenttype"}},
		{name: "media type duplicate parameter", input: ev10(`"datacontenttype":"text/plain;a=1;A=2"`), errs: []string{"media-type@datacontenttype"}},
		{name: "media type trailing space", input: ev10(`"datacontenttype":"text/plain "`), errs: []string{"media-type@datacontenttype"}},
		{name: "media type empty", input: ev10(`"datacontenttype":""`), errs: []string{"non-empty@datacontenttype"}},
		{name: "media type space in type", input: ev10(`"datacontenttype":"text /plain"`), errs: []string{"media-type@datacontenttype"}},

		// Extension values.
		{name: "extension types", input: ev10(`"b":false,"i":2147483647,"j":-2147483648,"s":"","u":"https://x","e":"\ud83d\ude00"`)},
		{name: "integer too big", input: ev10(`"i":2147483648`), errs: []string{"integer-range@i"}},
		{name: "integer huge", input: ev10(`"i":123456789012345678901234567890`), errs: []string{"integer-range@i"}},
		{name: "fraction", input: ev10(`"i":1.5`), errs: []string{"type@i"}},
		{name: "integral fraction", input: ev10(`"i":5.0`), errs: []string{"type@i"}},
		{name: "exponent", input: ev10(`"i":1e3`), errs: []string{"type@i"}},
		{name: "object extension in 1.0", input: ev10(`"o":{"a":1}`), errs: []string{"type@o"}},
		{name: "array extension", input: ev10(`"a":[1]`), errs: []string{"type@a"}},
		{name: "control character", input: ev10(`"s":"a\u0000b"`), errs: []string{"string-chars@s"}},
		{name: "newline", input: ev10(`"s":"line\n"`), errs: []string{"string-chars@s"}},
		{name: "C1 control character", input: ev10(`"s":"\u0085"`), errs: []string{"string-chars@s"}},
		{name: "noncharacter", input: ev10(`"s":"\ufdd0"`), errs: []string{"string-chars@s"}},
		{name: "noncharacter FFFE", input: ev10(`"s":"\ufffe"`), errs: []string{"string-chars@s"}},
		{name: "unpaired surrogate", input: ev10(`"s":"\ud800"`), errs: []string{"string-chars@s"}},
		{name: "unpaired low surrogate", input: ev10(`"s":"\udead"`), errs: []string{"string-chars@s"}},
		{name: "control character in id", input: `{"specversion":"1.0","id":"a\tb","source":"/s","type":"t"}`, errs: []string{"string-chars@id"}},
		{name: "0.3 boolean", input: ev03(`"b":true`), warns: []string{"type@b"}},
		{name: "0.3 map", input: ev03(`"m":{"a":1,"b":{"c":"d"},"n":null}`)},
		{name: "0.3 map with array", input: ev03(`"m":{"a":[1]}`), errs: []string{"type@m"}},
		{name: "0.3 map with duplicate key", input: ev03(`"m":{"a":1,"a":2}`), errs: []string{"duplicate@m"}},
		{name: "0.3 map with bad value", input: ev03(`"m":{"a":"\u0001"}`), errs: []string{"string-chars@m"}},

		// data and data_base64 (1.0).
		{name: "data_base64", input: ev10(`"datacontenttype":"image/png","data_base64":"iVBORw0KGgo="`)},
		{name: "empty data_base64", input: ev10(`"data_base64":""`)},
		{name: "data and data_base64", input: ev10(`"data":"x","data_base64":"eA=="`), errs: []string{"exclusive@data_base64"}},
		{name: "data and null data_base64", input: ev10(`"data":"x","data_base64":null`)},
		{name: "data_base64 unpadded", input: ev10(`"data_base64":"YQ"`), errs: []string{"base64@data_base64"}},
		{name: "data_base64 url alphabet", input: ev10(`"data_base64":"-_-_"`), errs: []string{"base64@data_base64"}},
		{name: "data_base64 with newline", input: ev10(`"data_base64":"YWFh\nYWFh"`), errs: []string{"base64@data_base64"}},
		{name: "data_base64 padding inside", input: ev10(`"data_base64":"YQ==YQ=="`), errs: []string{"base64@data_base64"}},
		{name: "data_base64 number", input: ev10(`"data_base64":5`), errs: []string{"type@data_base64"}},
		{name: "JSON data without datacontenttype", input: ev10(`"data":{"a":1}`)},
		{name: "null data", input: ev10(`"datacontenttype":"application/json","data":null`)},
		{name: "string data with xml", input: ev10(`"datacontenttype":"application/xml","data":"<a/>"`)},
		{name: "object data with text/plain", input: ev10(`"datacontenttype":"text/plain","data":{"a":1}`), errs: []string{"data-format@data"}},
		{name: "number data with xml", input: ev10(`"datacontenttype":"application/xml","data":5`), errs: []string{"data-format@data"}},
		{name: "null data with text/plain", input: ev10(`"datacontenttype":"text/plain","data":null`), errs: []string{"data-format@data"}},
		{name: "+json data", input: ev10(`"datacontenttype":"application/ld+json","data":{"a":1}`), warns: []string{"interop@datacontenttype"}},
		{name: "upper-case JSON media type", input: ev10(`"datacontenttype":"AppliCAtion/json","data":{"a":1}`), warns: []string{"interop@datacontenttype"}},
		{name: "JSON media type with charset", input: ev10(`"datacontenttype":"application/json; charset=utf-8","data":[1]`)},
		{name: "text/json", input: ev10(`"datacontenttype":"text/json","data":[1]`)},

		// 0.3 datacontentencoding.
		{name: "0.3 base64 data", input: ev03(`"datacontentencoding":"base64","datacontenttype":"image/png","data":"iVBORw0KGgo="`)},
		{name: "0.3 upper-case encoding", input: ev03(`"datacontentencoding":"Base64","data":"YQ=="`), warns: []string{"interop@datacontentencoding"}},
		{name: "0.3 unknown encoding", input: ev03(`"datacontentencoding":"quoted-printable","data":"a"`), errs: []string{"encoding@datacontentencoding"}},
		{name: "0.3 encoding without data", input: ev03(`"datacontentencoding":"base64"`), warns: []string{"encoding@datacontentencoding"}},
		{name: "0.3 encoding with bad data", input: ev03(`"datacontentencoding":"base64","data":"not base64"`), errs: []string{"base64@data"}},
		{name: "0.3 encoding with object data", input: ev03(`"datacontentencoding":"base64","data":{"a":1}`), errs: []string{"base64@data"}},
		{name: "0.3 object data with text/plain", input: ev03(`"datacontenttype":"text/plain","data":{"a":1}`), errs: []string{"data-format@data"}},

		// The JSON itself.
		{name: "array", input: `[]`, errs: []string{"json@"}},
		{name: "string", input: `"x"`, errs: []string{"json@"}},
		{name: "truncated", input: `{"specversion":"1.0"`, errs: []string{"json@"}},
		{name: "trailing garbage", input: ev10("") + ` x`, errs: []string{"json@"}},
		{name: "two objects", input: ev10("") + ev10(""), errs: []string{"json@"}},
		{name: "invalid UTF-8", input: ev10(`"s":"` + "\xff" + `"`), errs: []string{"json@"}},
		{name: "byte order mark", input: "\xEF\xBB\xBF" + ev10(""), errs: []string{"json@"}},
		{name: "raw control character", input: ev10("\"s\":\"a\x01\""), errs: []string{"json@"}},
		{name: "bad escape", input: ev10(`"s":"\x"`), errs: []string{"json@"}},
		{name: "leading zero", input: ev10(`"i":01`), errs: []string{"json@"}},
		{name: "single quotes", input: `{'specversion':'1.0'}`, errs: []string{"json@"}},
		{name: "empty input", input: ``, errs: []string{"json@"}},
		{name: "whitespace around", input: " \n\t" + ev10("") + "\r\n "},
		{name: "deep nesting", input: ev10(`"data":` + strings.Repeat("[", maxJSONDepth+1) + strings.Repeat("]", maxJSONDepth+1)), errs: []string{"json@"}},
		{name: "nesting at the limit", input: ev10(`"data":` + strings.Repeat("[", maxJSONDepth-1) + strings.Repeat("]", maxJSONDepth-1))},

		// Size.
		{name: "large event", input: ev10(`"data":"` + strings.Repeat("x", sizeLimit) + `"`), warns: []string{"size@"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.batch {
				c.check(t, ValidateBatch([]byte(c.input)))
				return
			}
			c.check(t, ValidateStructured([]byte(c.input)))
		})
	}
}

func TestValidateBatch(t *testing.T) {
	cases := []ruleCase{
		{name: "empty", input: `[]`},
		{name: "one", input: `[` + ev10("") + `]`},
		{name: "object", input: ev10(""), errs: []string{"batch@"}},
		{name: "not JSON", input: `[`, errs: []string{"json@"}},
		{name: "element not an object", input: `[` + ev10("") + `,5]`, errs: []string{"batch@"}},
		{name: "mixed versions", input: `[` + ev10("") + `,` + ev03("") + `]`, errs: []string{"specversion@specversion"}},
		{name: "element errors", input: `[` + ev10("") + `,{"specversion":"1.0"}]`, errs: []string{"required@id", "required@source", "required@type"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.check(t, ValidateBatch([]byte(c.input))) })
	}

	vs := ValidateBatch([]byte(`[` + ev10("") + `,` + ev10(`"time":"x"`) + `]`))
	if len(vs) != 1 || vs[0].Element != 2 || !strings.HasPrefix(vs[0].Message, "batch element 2: ") {
		t.Errorf("element numbering: %v", vs)
	}
}

func TestMessages(t *testing.T) {
	vs := ValidateStructured([]byte(`{"specversion":"1.0","id":"1","type":"t"}`))
	if len(vs) != 1 {
		t.Fatalf("%v", vs)
	}
	v := vs[0]
	if v.Attribute != "source" || v.Rule != RuleRequired || v.Severity != SeverityError || v.Section != "CloudEvents 1.0 §REQUIRED Attributes" {
		t.Errorf("%+v", v)
	}
	const want = `attribute "source": required but missing; every CloudEvent MUST have id, source, specversion and type (CloudEvents 1.0 §REQUIRED Attributes)`
	if v.Error() != want {
		t.Errorf("message\n%s\nwant\n%s", v.Error(), want)
	}

	vs = ValidateStructured([]byte(ev10(`"time":"afsa"`)))
	if got := vs[0].Message; !strings.Contains(got, `"afsa"`) || !strings.Contains(got, "RFC 3339") || !strings.Contains(got, "2018-04-05T17:31:00Z") {
		t.Errorf("timestamp message does not say what is wrong and what is expected: %s", got)
	}
	// Long values are shortened in messages.
	vs = ValidateStructured([]byte(ev10(`"time":"` + strings.Repeat("9", 1000) + `"`)))
	if len(vs[0].Message) > 400 {
		t.Errorf("message not shortened: %d bytes", len(vs[0].Message))
	}
}
