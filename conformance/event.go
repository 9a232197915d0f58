package conformance

import (
	"fmt"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"
)

// Validate judges an sdk-go event against the CloudEvents specification its specversion
// names (1.0 or 0.3). It sees the event after sdk-go decoded it, so it cannot report what
// the decoding hid (duplicate JSON members, null versus absent, header encodings): judge the
// raw message with ValidateStructured, ValidateBatch, ValidateBinaryHeaders or ValidateHTTP
// when it is available. Validate also reports values sdk-go refused when they were set
// (Event.FieldErrors), and data the sdk would serialise badly.
func Validate(ev *event.Event) []Violation {
	c := &collector{}
	if ev == nil || ev.Context == nil || reflect.ValueOf(ev.Context).Kind() == reflect.Pointer && reflect.ValueOf(ev.Context).IsNil() {
		c.errorf(RuleRequired, "specversion", attrSubject("specversion"), v10.secRequired, "the event has no context, so no specversion; every CloudEvent MUST have id, source, specversion and type")
		return c.out
	}
	fieldErrs := make([]string, 0, len(ev.FieldErrors))
	for k := range ev.FieldErrors {
		fieldErrs = append(fieldErrs, k)
	}
	sort.Strings(fieldErrs)

	var v *version
	var attrs []attr
	var exts map[string]any
	var dct *string
	add := func(name string, val value) {
		attrs = append(attrs, attr{name: name, val: val, subject: attrSubject(name)})
	}
	str := func(name, s string) {
		if s != "" { // the sdk model cannot tell empty from absent; both read as missing
			add(name, value{kind: vString, s: s})
		}
	}
	switch ctx := ev.Context.(type) {
	case *event.EventContextV1:
		v = v10
		str("id", ctx.ID)
		str("source", ctx.Source.String())
		add("specversion", value{kind: vString, s: SpecVersion10})
		str("type", ctx.Type)
		if ctx.DataContentType != nil {
			add("datacontenttype", value{kind: vString, s: *ctx.DataContentType})
		}
		if ctx.DataSchema != nil {
			add("dataschema", value{kind: vString, s: ctx.DataSchema.String()})
		}
		if ctx.Subject != nil {
			add("subject", value{kind: vString, s: *ctx.Subject})
		}
		if ctx.Time != nil {
			add("time", value{kind: vTime, t: ctx.Time.Time})
		}
		exts, dct = ctx.Extensions, ctx.DataContentType
	case *event.EventContextV03:
		v = v03
		str("id", ctx.ID)
		str("source", ctx.Source.String())
		add("specversion", value{kind: vString, s: SpecVersion03})
		str("type", ctx.Type)
		if ctx.DataContentType != nil {
			add("datacontenttype", value{kind: vString, s: *ctx.DataContentType})
		}
		if ctx.DataContentEncoding != nil {
			add("datacontentencoding", value{kind: vString, s: *ctx.DataContentEncoding})
		}
		if ctx.SchemaURL != nil {
			add("schemaurl", value{kind: vString, s: ctx.SchemaURL.String()})
		}
		if ctx.Subject != nil {
			add("subject", value{kind: vString, s: *ctx.Subject})
		}
		if ctx.Time != nil {
			add("time", value{kind: vTime, t: ctx.Time.Time})
		}
		exts, dct = ctx.Extensions, ctx.DataContentType
	default:
		c.errorf(RuleSpecVersion, "specversion", attrSubject("specversion"), v10.secRequired,
			"the event context is a %T with specversion %s; this validator knows 1.0 and 0.3", ev.Context, quote(ev.Context.GetSpecVersion()))
		return c.out
	}

	for _, k := range fieldErrs {
		name := strings.TrimPrefix(k, "extension:")
		rule := RuleType
		if name == "specversion" {
			rule = RuleSpecVersion
		}
		c.errorf(rule, name, attrSubject(name), v.secTypes, "sdk-go refused the value when it was set (%v), so the event does not carry it", ev.FieldErrors[k])
	}

	names := make([]string, 0, len(exts))
	for k := range exts {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		if _, core := v.core[name]; core {
			c.errorf(RuleReserved, name, attrSubject(name), v.secExtensions, "an extension has the name of a core attribute; extensions MUST NOT redefine core attributes")
			continue
		}
		add(name, goValue(exts[name]))
	}
	checkAttributes(c, v, attrs)
	checkEventData(c, v, ev, dct)
	return c.out
}

// Reason returns nil if ev is a valid CloudEvent (warnings do not count), and otherwise an
// error (an *InvalidError) whose message lists every error-severity violation, suitable as
// the body of a 400 response.
func Reason(ev *event.Event) error {
	return Violations(Validate(ev)).Err()
}

// goValue converts an sdk-go extension value.
func goValue(x any) value {
	switch x := x.(type) {
	case nil:
		return value{kind: vNull}
	case string:
		return value{kind: vString, s: x}
	case bool:
		return value{kind: vBool}
	case []byte:
		return value{kind: vBinary}
	case types.URI:
		return value{kind: vURI, s: x.String()}
	case *types.URI:
		if x == nil {
			return value{kind: vNull}
		}
		return value{kind: vURI, s: x.String()}
	case url.URL:
		return value{kind: vURI, s: x.String()}
	case *url.URL:
		if x == nil {
			return value{kind: vNull}
		}
		return value{kind: vURI, s: x.String()}
	case types.URIRef:
		return value{kind: vURIRef, s: x.String()}
	case *types.URIRef:
		if x == nil {
			return value{kind: vNull}
		}
		return value{kind: vURIRef, s: x.String()}
	case types.Timestamp:
		return value{kind: vTime, t: x.Time}
	case *types.Timestamp:
		if x == nil {
			return value{kind: vNull}
		}
		return value{kind: vTime, t: x.Time}
	case time.Time:
		return value{kind: vTime, t: x}
	case *time.Time:
		if x == nil {
			return value{kind: vNull}
		}
		return value{kind: vTime, t: *x}
	}
	rv := reflect.ValueOf(x)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return value{kind: vInt, i: rv.Int()}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		u := rv.Uint()
		if u > 1<<62 {
			return value{kind: vInt, big: true}
		}
		return value{kind: vInt, i: int64(u)}
	}
	return value{kind: vOther, s: fmt.Sprintf("%T", x)}
}

// checkEventData checks an sdk-go event's data against its datacontenttype.
func checkEventData(c *collector, v *version, ev *event.Event, dct *string) {
	if len(ev.DataEncoded) == 0 {
		return
	}
	if ev.DataBase64 {
		return // binary data: any bytes, written as data_base64
	}
	if v.legacy {
		if ctx, ok := ev.Context.(*event.EventContextV03); ok && ctx.DataContentEncoding != nil {
			return
		}
	}
	mt := "application/json"
	if dct != nil {
		var p string
		if mt, p = checkMediaType(*dct); p != "" {
			return // reported already
		}
		if w := mediaTypeInterop(*dct, mt); w != "" {
			c.warnf(RuleInterop, "datacontenttype", attrSubject("datacontenttype"), v.jsonDataSec(".2"), "%s", w)
		}
	}
	if isJSONMediaType(mt) {
		if _, err := parseJSON(ev.DataEncoded); err != nil {
			c.warnf(RuleDataFormat, "data", "data", v.jsonDataSec(".1"),
				"datacontenttype declares JSON (or is absent, which implies application/json) but the data is not JSON (%v); a structured (JSON format) rendering of this event would be broken", err)
		}
		return
	}
	if !utf8.Valid(ev.DataEncoded) {
		c.warnf(RuleDataFormat, "data", "data", v.jsonDataSec(".1"),
			"the data is not UTF-8 text but is held as text, not binary; the JSON format would have to carry it as a string and mangle it; set it as binary data ([]byte) so it travels as data_base64")
	}
}
