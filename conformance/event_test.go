package conformance

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
)

func newEvent(t *testing.T, version string) event.Event {
	t.Helper()
	ev := event.New(version)
	ev.SetID("A-1")
	ev.SetSource("/src")
	ev.SetType("com.example.t")
	return ev
}

func TestValidateEvent(t *testing.T) {
	cases := []struct {
		name    string
		version string
		edit    func(*event.Event)
		errs    []string
		warns   []string
	}{
		{name: "minimal 1.0", version: "1.0", edit: func(*event.Event) {}},
		{name: "minimal 0.3", version: "0.3", edit: func(*event.Event) {}},
		{name: "full 1.0", version: "1.0", edit: func(e *event.Event) {
			e.SetSubject("s")
			e.SetTime(time.Date(2018, 4, 5, 17, 31, 0, 0, time.UTC))
			e.SetDataSchema("https://example.com/schema")
			e.SetExtension("b", true)
			e.SetExtension("i", 42)
			e.SetExtension("s", "x")
			e.SetExtension("bin", []byte{1, 2})
			e.SetExtension("ts", time.Now())
			if err := e.SetData("application/json", map[string]int{"a": 1}); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "missing id, source and type", version: "1.0", edit: func(e *event.Event) {
			ctx := e.Context.(*event.EventContextV1)
			ctx.ID, ctx.Type = "", ""
			ctx.Source.URL = url.URL{}
		}, errs: []string{"required@id", "required@source", "required@type"}},
		{name: "empty id refused by the sdk", version: "1.0", edit: func(e *event.Event) { e.SetID("") }, errs: []string{"type@id"}},
		{name: "source the sdk refused", version: "1.0", edit: func(e *event.Event) { e.SetSource("/a%zz") }, errs: []string{"type@source"}},
		// sdk-go parses source with url.Parse and renders it with URL.String, which escapes
		// the space: the event no longer holds the invalid value (see TestSDKQuirks).
		{name: "source with space is rewritten by the sdk", version: "1.0", edit: func(e *event.Event) { e.SetSource("my source") }},
		{name: "relative dataschema", version: "1.0", edit: func(e *event.Event) { e.SetDataSchema("schema.json") }, errs: []string{"uri@dataschema"}},
		{name: "bad datacontenttype", version: "1.0", edit: func(e *event.Event) { e.SetDataContentType("json") }, errs: []string{"media-type@datacontenttype"}},
		{name: "control character in subject", version: "1.0", edit: func(e *event.Event) { e.SetSubject("a\x00b") }, errs: []string{"string-chars@subject"}},
		{name: "year 10000", version: "1.0", edit: func(e *event.Event) { e.SetTime(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)) }, errs: []string{"timestamp@time"}},
		{name: "extension named data", version: "1.0", edit: func(e *event.Event) { e.SetExtension("data", "x") }, errs: []string{"reserved@data"}},
		{name: "extension of the other version", version: "1.0", edit: func(e *event.Event) { e.SetExtension("schemaurl", "/s") }, warns: []string{"other-version@schemaurl"}},
		{name: "long extension name", version: "1.0", edit: func(e *event.Event) { e.SetExtension("abcdefghijklmnopqrstuvwxyz", "x") }, warns: []string{"name-length@abcdefghijklmnopqrstuvwxyz"}},
		// The sdk lower-cases names and refuses bad values in SetExtension; a program can
		// still put anything into the map.
		{name: "upper-case extension name in the map", version: "1.0", edit: func(e *event.Event) {
			e.Context.(*event.EventContextV1).Extensions = map[string]any{"myExt": "x"}
		}, errs: []string{"name-chars@myExt"}},
		{name: "core name in the extension map", version: "1.0", edit: func(e *event.Event) {
			e.Context.(*event.EventContextV1).Extensions = map[string]any{"id": "x"}
		}, errs: []string{"reserved@id"}},
		{name: "float in the extension map", version: "1.0", edit: func(e *event.Event) {
			e.Context.(*event.EventContextV1).Extensions = map[string]any{"f": 1.5}
		}, errs: []string{"type@f"}},
		{name: "int64 out of range in the extension map", version: "1.0", edit: func(e *event.Event) {
			e.Context.(*event.EventContextV1).Extensions = map[string]any{"n": int64(1) << 40}
		}, errs: []string{"integer-range@n"}},
		{name: "extension the sdk refused", version: "1.0", edit: func(e *event.Event) { e.SetExtension("bad-name", "x") }, errs: []string{"type@bad-name"}},
		{name: "JSON media type, data not JSON", version: "1.0", edit: func(e *event.Event) {
			e.SetDataContentType("application/json")
			e.DataEncoded = []byte("{not json")
		}, warns: []string{"data-format@data"}},
		{name: "no media type, data not JSON", version: "1.0", edit: func(e *event.Event) { e.DataEncoded = []byte("hello") }, warns: []string{"data-format@data"}},
		{name: "text data not UTF-8", version: "1.0", edit: func(e *event.Event) {
			e.SetDataContentType("text/plain")
			e.DataEncoded = []byte{0xff, 0xfe}
		}, warns: []string{"data-format@data"}},
		{name: "binary data", version: "1.0", edit: func(e *event.Event) {
			if err := e.SetData("application/octet-stream", []byte{0xff, 0xfe}); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "mixed-case JSON media type", version: "1.0", edit: func(e *event.Event) {
			e.SetDataContentType("AppliCAtion/json")
			e.DataEncoded = []byte(`{"a":1}`)
		}, warns: []string{"interop@datacontenttype"}},
		{name: "0.3 boolean extension", version: "0.3", edit: func(e *event.Event) { e.SetExtension("b", true) }, warns: []string{"type@b"}},
		{name: "0.3 base64 encoding", version: "0.3", edit: func(e *event.Event) {
			e.SetDataContentEncoding("base64")
			e.DataEncoded = []byte{0xff}
		}},
		{name: "0.3 unknown encoding", version: "0.3", edit: func(e *event.Event) { e.SetDataContentEncoding("gzip") }, errs: []string{"encoding@datacontentencoding"}},
		{name: "0.3 schemaurl", version: "0.3", edit: func(e *event.Event) { e.SetDataSchema("schema.json") }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ev := newEvent(t, c.version)
			c.edit(&ev)
			ruleCase{errs: c.errs, warns: c.warns}.check(t, Validate(&ev))
		})
	}
}

func TestValidateEventWithoutContext(t *testing.T) {
	for _, ev := range []*event.Event{nil, {}, {Context: (*event.EventContextV1)(nil)}} {
		vs := Validate(ev)
		if len(vs) != 1 || vs[0].Rule != RuleRequired || vs[0].Attribute != "specversion" {
			t.Errorf("%v", vs)
		}
	}
}

func TestReason(t *testing.T) {
	ev := newEvent(t, "1.0")
	if err := Reason(&ev); err != nil {
		t.Errorf("valid event: %v", err)
	}
	// Warnings alone do not make an event invalid.
	ev.SetExtension("schemaurl", "/s")
	if err := Reason(&ev); err != nil {
		t.Errorf("warnings only: %v", err)
	}

	ev.SetType("")
	ev.SetDataSchema("schema.json")
	err := Reason(&ev)
	if err == nil {
		t.Fatal("invalid event: nil error")
	}
	msg := err.Error()
	for _, want := range []string{"invalid CloudEvent: ", `attribute "type": required`, `attribute "dataschema": "schema.json" is a relative reference`, "; "} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "schemaurl") {
		t.Errorf("message lists a warning: %q", msg)
	}
	var inv *InvalidError
	if !errors.As(err, &inv) || len(inv.Violations) != 2 {
		t.Fatalf("errors.As *InvalidError: %#v", err)
	}
	var v Violation
	if !errors.As(err, &v) || v.Severity != SeverityError {
		t.Errorf("errors.As Violation: %#v", v)
	}
}

func TestViolations(t *testing.T) {
	vs := Violations{
		{Rule: RuleRequired, Message: "a"},
		{Rule: RuleNameLength, Severity: SeverityWarning, Message: "b"},
	}
	if vs.Error() != "a; b" || len(vs.Errors()) != 1 || len(vs.Warnings()) != 1 || !vs.Has(RuleNameLength) || vs.Has(RuleType) {
		t.Errorf("%v", vs)
	}
	if err := vs.Warnings().Err(); err != nil {
		t.Errorf("warnings: %v", err)
	}
	if err := vs.Err(); err == nil || err.Error() != "invalid CloudEvent: a" {
		t.Errorf("Err: %v", err)
	}
	if SeverityError.String() != "error" || SeverityWarning.String() != "warning" || Severity(7).String() != "Severity(7)" {
		t.Error("Severity.String")
	}
}
