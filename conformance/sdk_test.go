package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
)

// sdkDecode decodes a structured event with sdk-go and validates it as the sdk does. A panic
// in the sdk is returned as an error.
func sdkDecode(data []byte) (ev *event.Event, err error) {
	defer func() {
		if r := recover(); r != nil {
			ev, err = nil, fmt.Errorf("sdk-go panicked: %v", r)
		}
	}()
	ev = &event.Event{}
	if err := json.Unmarshal(data, ev); err != nil {
		return nil, err
	}
	if err := ev.Validate(); err != nil {
		return nil, err
	}
	return ev, nil
}

// sdkQuirks pins the places where sdk-go v2.16.2's JSON decoding disagrees with the
// specification, and with this package. Each case records what the sdk does (sdkOK) and
// which error rules this package reports (errs). If an sdk upgrade changes a behaviour, the
// case fails: update the case and the list in doc.go.
var sdkQuirks = []struct {
	name  string
	input string
	sdkOK bool
	errs  []string
	why   string
}{
	{"data_base64 after specversion with whitespace", ev10(`"data_base64": "eyAieHl6IjogMTIzIH0="`), false, nil,
		"the sdk keeps the raw member bytes including the space after ':' and strips one byte per end as quotes; the spec example json-format-11 fails this way"},
	{"non-string data_base64 before specversion", `{"data_base64":1,"specversion":"1.0","id":"1","source":"/s","type":"t"}`, false, []string{"type@data_base64"},
		"the sdk panics (slice bounds out of range) on b[1:len(b)-1] of the one-byte member"},
	{"null data_base64", ev10(`"data_base64":null`), false, nil,
		"a null member means unset (JSON format §2.2); the sdk base64-decodes the text null"},
	{"mixed-case JSON media type", ev10(`"datacontenttype":"AppliCAtion/json","data":{"a":1}`), false, nil,
		"media types are case-insensitive; the sdk's decoder compares them case-sensitively (its encoder lower-cases first)"},
	{"+json media type", ev10(`"datacontenttype":"application/ld+json","data":{"a":1}`), false, nil,
		"*/*+json declares JSON (JSON format §3.1.1); the sdk knows only four JSON media types and reads data as a string"},
	{"escaped data_base64", ev10(`"data_base64":"\u0059WFh"`), false, nil,
		"the JSON string is \"YWFh\"; when no datacontenttype precedes it the sdk base64-decodes the raw member text, escapes included"},
	{"0.3 Map extension", ev03(`"m":{"a":1}`), false, nil,
		"Map is a 0.3 type; the sdk's type system has none"},
	{"0.3 encoding name in upper case", ev03(`"datacontentencoding":"Base64","data":"YQ=="`), false, nil,
		"RFC 2045 encoding names are case-insensitive; the sdk's decoder wants exactly base64"},
	{"lower-case t and z", ev10(`"time":"2018-04-05t17:31:00z"`), false, nil,
		"RFC 3339 allows them; Go's time.Parse does not"},
	{"leap second", ev10(`"time":"2016-12-31T23:59:60Z"`), false, nil,
		"RFC 3339 allows :60; Go's time.Parse does not"},
	{"percent-encoded host", `{"specversion":"1.0","id":"1","source":"http://%41/","type":"t"}`, false, nil,
		"RFC 3986 reg-name allows pct-encoded octets; Go's url.Parse refuses escaped ASCII in hosts"},
	{"empty fragment as source", `{"specversion":"1.0","id":"1","source":"#","type":"t"}`, false, nil,
		"\"#\" is a URI-reference; the sdk holds source as a url.URL whose String() drops the empty fragment, leaving source empty"},
	{"whitespace-only id", `{"specversion":"1.0","id":" ","source":"/s","type":"t"}`, false, nil,
		"\" \" is a non-empty string; the sdk trims before checking"},

	{"empty member name", ev10(`"":{},"time":"not a time","data_base64":"!"`), true, []string{"base64@data_base64", "name-chars@", "timestamp@time", "type@"},
		"the sdk's member loop ends at the first empty name (jsoniter's ReadObject returns \"\" at the end of an object) and ignores the rest"},
	{"upper-case extension name", ev10(`"myExt":"x"`), true, []string{"name-chars@myExt"},
		"the sdk accepts A-Z in names and lower-cases them"},
	{"fractional integer", ev10(`"n":1.5`), true, []string{"type@n"},
		"the sdk truncates 1.5 to the Integer 1"},
	{"empty subject", ev10(`"subject":""`), true, []string{"non-empty@subject"},
		"the sdk reads an empty subject as unset"},
	{"empty time", ev10(`"time":""`), true, []string{"timestamp@time"},
		"the sdk reads an empty time as unset"},
	{"empty datacontenttype before specversion", `{"datacontenttype":"","specversion":"1.0","id":"1","source":"/s","type":"t"}`, true, []string{"non-empty@datacontenttype"},
		"before specversion the sdk reads \"\" as unset; after it, the same member fails Validate"},
	{"invalid UTF-8", ev10(`"s":"` + "\xff" + `"`), true, []string{"json@"},
		"JSON text MUST be UTF-8 (RFC 8259 §8.1); the sdk passes the bytes through"},
	{"duplicate attribute", ev10(`"type":"other"`), true, []string{"duplicate@type"},
		"the sdk keeps the last value; it only rejects repeated specversion and datacontenttype"},
	{"control character", ev10(`"subject":"a\u0000b"`), true, []string{"string-chars@subject"},
		"the sdk does not check the characters of Strings"},
	{"source with a space", `{"specversion":"1.0","id":"1","source":"my source","type":"t"}`, true, []string{"uri-reference@source"},
		"Go's url.Parse accepts the space, and URL.String rewrites it as %20"},
	{"media type without subtype", ev10(`"datacontenttype":"text"`), true, []string{"media-type@datacontenttype"},
		"mime.ParseMediaType accepts a bare token (a Content-Disposition) as a media type"},
	{"null data with a non-JSON media type", ev10(`"datacontenttype":"text/plain","data":null`), true, []string{"data-format@data"},
		"the sdk reads null as the empty string"},
}

func TestSDKQuirks(t *testing.T) {
	for _, q := range sdkQuirks {
		t.Run(q.name, func(t *testing.T) {
			_, err := sdkDecode([]byte(q.input))
			if (err == nil) != q.sdkOK {
				t.Errorf("sdk-go decoding: err = %v, this case says sdkOK = %v (%s)", err, q.sdkOK, q.why)
			}
			got := codes(ValidateStructured([]byte(q.input)), SeverityError)
			if fmt.Sprint(got) != fmt.Sprint(q.errs) && !(len(got) == 0 && len(q.errs) == 0) {
				t.Errorf("errors %v, want %v", got, q.errs)
			}
		})
	}
}

// TestSDKMarshalRoundTrip shows that sdk-go writes a structured event that it cannot read
// back when datacontenttype is a JSON media type in mixed case.
func TestSDKMarshalRoundTrip(t *testing.T) {
	ev := event.New()
	ev.SetID("1")
	ev.SetSource("/s")
	ev.SetType("t")
	ev.SetDataContentType("AppliCAtion/json")
	ev.DataEncoded = []byte(`{"a":1}`)
	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, []byte(`"data":{"a":1}`)) {
		t.Fatalf("marshal: %s", out)
	}
	var back event.Event
	if err := json.Unmarshal(out, &back); err == nil {
		t.Error("sdk-go can now read back its own output: update TestSDKQuirks and doc.go")
	}
	vs := Violations(ValidateStructured(out))
	if len(vs.Errors()) > 0 || !vs.Has(RuleInterop) {
		t.Errorf("ValidateStructured: %v", vs)
	}
	if vs := Violations(Validate(&ev)); !vs.Has(RuleInterop) {
		t.Errorf("Validate: %v", vs)
	}
}

// TestSDKHTTPHeaders shows that sdk-go's HTTP binding neither percent-decodes ce- headers on
// receipt nor percent-encodes them on sending (HTTP Protocol Binding §3.1.3.2).
func TestSDKHTTPHeaders(t *testing.T) {
	h := binHeaders("Ce-Subject", "Euro%20%E2%82%AC")
	msg := cehttp.NewMessage(h, io.NopCloser(bytes.NewReader(nil)))
	ev, err := binding.ToEvent(context.Background(), msg)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Subject() != "Euro%20%E2%82%AC" {
		t.Errorf("sdk-go now decodes header values (subject %q): update doc.go", ev.Subject())
	}
	if got, _ := DecodeHTTPHeaderValue("Euro%20%E2%82%AC"); got != "Euro €" {
		t.Errorf("DecodeHTTPHeaderValue: %q", got)
	}

	out := newEvent(t, "1.0")
	out.SetSubject("Euro €")
	req, err := http.NewRequest(http.MethodPost, "http://example.com", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := cehttp.WriteRequest(context.Background(), binding.ToMessage(&out), req); err != nil {
		t.Fatal(err)
	}
	if got := req.Header.Get("Ce-Subject"); got != "Euro €" {
		t.Errorf("sdk-go now encodes header values (%q): update doc.go", got)
	}
	vs := Violations(ValidateBinaryHeaders(req.Header, nil))
	if errs := vs.Errors(); len(errs) != 1 || errs[0].Rule != RuleHeaderEncoding {
		t.Errorf("ValidateBinaryHeaders on sdk-go output: %v", vs)
	}
}
