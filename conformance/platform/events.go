package platformconf

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
)

// ce is an event the suite sends, written out attribute by attribute so that what goes on the
// wire is exactly what the case says.
type ce struct {
	SpecVersion     string // "1.0" when empty
	ID, Source      string
	Type            string
	Subject         string
	Time            string
	DataSchema      string // schemaurl in 0.3
	DataContentType string
	Ext             map[string]string
	Data            []byte
}

// newCE returns a small valid 1.0 event with JSON data.
func newCE(id, typ string) ce {
	return ce{ID: id, Source: "/conformance/sender", Type: typ, DataContentType: "application/json", Data: []byte(`{"id":"` + id + `"}`)}
}

func (e ce) specVersion() string {
	if e.SpecVersion == "" {
		return "1.0"
	}
	return e.SpecVersion
}

// with returns a copy of e with extension name set to value.
func (e ce) with(name, value string) ce {
	ext := map[string]string{}
	for k, v := range e.Ext {
		ext[k] = v
	}
	ext[name] = value
	e.Ext = ext
	return e
}

// attributes returns every attribute but data, by name, as strings.
func (e ce) attributes() map[string]string {
	a := map[string]string{"specversion": e.specVersion(), "id": e.ID, "source": e.Source, "type": e.Type}
	set := func(k, v string) {
		if v != "" {
			a[k] = v
		}
	}
	set("subject", e.Subject)
	set("time", e.Time)
	if e.specVersion() == "0.3" {
		set("schemaurl", e.DataSchema)
	} else {
		set("dataschema", e.DataSchema)
	}
	set("datacontenttype", e.DataContentType)
	for k, v := range e.Ext {
		a[k] = v
	}
	return a
}

// binaryHeaders are e's HTTP headers in binary content mode.
func (e ce) binaryHeaders() http.Header {
	h := http.Header{}
	for k, v := range e.attributes() {
		if k == "datacontenttype" {
			h.Set("Content-Type", v)
			continue
		}
		h.Set("ce-"+k, v)
	}
	return h
}

// isJSON reports whether a media type declares JSON (*/json or */*+json).
func isJSON(mediaType string) bool {
	mt, _, err := mime.ParseMediaType(mediaType)
	if err != nil {
		return false
	}
	return strings.HasSuffix(mt, "/json") || strings.HasSuffix(mt, "+json")
}

// structuredMap is e in the JSON event format, as a map.
func (e ce) structuredMap() map[string]any {
	m := map[string]any{}
	for k, v := range e.attributes() {
		m[k] = v
	}
	if e.Data != nil {
		if e.DataContentType == "" || isJSON(e.DataContentType) {
			m["data"] = json.RawMessage(e.Data)
		} else {
			m["data"] = string(e.Data)
		}
	}
	return m
}

// structuredJSON is e in the JSON event format.
func (e ce) structuredJSON() []byte {
	b, err := json.Marshal(e.structuredMap())
	if err != nil {
		panic(err) // the suite's own events always marshal
	}
	return b
}

// mode is an HTTP content mode.
type mode string

const (
	modeBinary     mode = "binary"
	modeStructured mode = "structured"
)

// request builds a POST of e to url in mode m.
func (e ce) request(url string, m mode) *http.Request {
	var req *http.Request
	if m == modeStructured {
		req, _ = http.NewRequest(http.MethodPost, url, bytes.NewReader(e.structuredJSON()))
		req.Header.Set("Content-Type", "application/cloudevents+json")
		return req
	}
	req, _ = http.NewRequest(http.MethodPost, url, bytes.NewReader(e.Data))
	req.Header = e.binaryHeaders()
	return req
}

// batchRequest builds a POST of events to url in batch content mode.
func batchRequest(url string, events ...ce) *http.Request {
	var arr []map[string]any
	for _, e := range events {
		arr = append(arr, e.structuredMap())
	}
	body, _ := json.Marshal(arr)
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/cloudevents-batch+json")
	return req
}

// do sends a request and returns the status code and the start of the body.
func (t *caseT) do(req *http.Request) (int, string) {
	t.Helper()
	ctx, cancel := t.ctx()
	defer cancel()
	resp, err := httpClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, strings.TrimSpace(string(body))
}

// send POSTs e to url in binary mode and fails the case unless the answer is 2xx.
func (t *caseT) send(url string, e ce) {
	t.Helper()
	t.sendMode(url, e, modeBinary)
}

// sendMode POSTs e to url in mode m and fails the case unless the answer is 2xx.
func (t *caseT) sendMode(url string, e ce, m mode) {
	t.Helper()
	if code, body := t.do(e.request(url, m)); code/100 != 2 {
		t.Fatalf("POST of event %s (%s mode) to %s: %d %s", e.ID, m, url, code, body)
	}
}

// sameEvent compares a delivered event with the one sent: every attribute and the data must
// be equal, but for the extensions in allowed (which may be added or changed). Times compare
// as instants.
func sameEvent(sent ce, got *event.Event, allowed ...string) []string {
	if got == nil {
		return []string{"no CloudEvent was delivered"}
	}
	want := sent.attributes()
	have := deliveredAttributes(got)
	skip := map[string]bool{}
	for _, a := range allowed {
		skip[a] = true
	}
	var diffs []string
	names := map[string]bool{}
	for k := range want {
		names[k] = true
	}
	for k := range have {
		names[k] = true
	}
	var sorted []string
	for k := range names {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		if skip[k] {
			continue
		}
		w, wok := want[k]
		h, hok := have[k]
		switch {
		case !wok:
			diffs = append(diffs, fmt.Sprintf("attribute %s=%q was added", k, h))
		case !hok:
			diffs = append(diffs, fmt.Sprintf("attribute %s=%q was lost", k, w))
		case k == "time":
			wt, err1 := time.Parse(time.RFC3339Nano, w)
			ht, err2 := time.Parse(time.RFC3339Nano, h)
			if err1 != nil || err2 != nil || !wt.Equal(ht) {
				diffs = append(diffs, fmt.Sprintf("time %q became %q", w, h))
			}
		case w != h:
			diffs = append(diffs, fmt.Sprintf("attribute %s %q became %q", k, w, h))
		}
	}
	if !bytes.Equal(sent.Data, got.Data()) {
		diffs = append(diffs, fmt.Sprintf("data %q became %q", sent.Data, got.Data()))
	}
	return diffs
}

// deliveredAttributes returns a delivered event's attributes as strings.
func deliveredAttributes(ev *event.Event) map[string]string {
	a := map[string]string{"specversion": ev.SpecVersion(), "id": ev.ID(), "source": ev.Source(), "type": ev.Type()}
	if s := ev.Subject(); s != "" {
		a["subject"] = s
	}
	if tm := ev.Time(); !tm.IsZero() {
		a["time"] = tm.UTC().Format(time.RFC3339Nano)
	}
	if s := ev.DataSchema(); s != "" {
		if ev.SpecVersion() == "0.3" {
			a["schemaurl"] = s
		} else {
			a["dataschema"] = s
		}
	}
	if ct := ev.DataContentType(); ct != "" {
		a["datacontenttype"] = ct
	}
	for k, v := range ev.Extensions() {
		a[k] = fmt.Sprint(v)
	}
	return a
}

// traceID returns the trace-id of a W3C traceparent value
// (version "-" trace-id "-" parent-id "-" flags), or "" when the value is not one.
func traceID(traceparent string) string {
	parts := strings.Split(strings.TrimSpace(traceparent), "-")
	if len(parts) < 4 || len(parts[0]) != 2 || len(parts[1]) != 32 || len(parts[2]) != 16 || len(parts[3]) != 2 {
		return ""
	}
	if parts[0] == "00" && len(parts) != 4 {
		return ""
	}
	for _, p := range parts[:4] {
		for _, c := range p {
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return ""
			}
		}
	}
	if parts[0] == "ff" || strings.Trim(parts[1], "0") == "" || strings.Trim(parts[2], "0") == "" {
		return ""
	}
	return parts[1]
}
