package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestCaseHTTPRoundTrip sends every corpus case in every mode through HTTP and reads it back:
// the result must diff clean against the case, and the message must be a valid CloudEvent.
func TestCaseHTTPRoundTrip(t *testing.T) {
	cases, err := ReadCaseFiles(corpusYAML)
	if err != nil {
		t.Fatal(err)
	}
	extra := Case{ContextAttributes: Attributes{SpecVersion: "1.0", ID: "bin", Source: "/s", Type: "t", Subject: "Euro € 😀 100%",
		DataContentType: "application/octet-stream", Extensions: map[string]string{"n": "5", "quote": `a "q"`}}, DataBase64: "AAEC/w=="}
	legacy := Case{ContextAttributes: Attributes{SpecVersion: "0.3", ID: "enc", Source: "/s", Type: "t", DataContentType: "application/json",
		DataContentEncoding: "base64", SchemaURL: "https://e.com/s"}, Data: "eyJhIjoxfQ=="}
	cases = append(cases, extra, legacy)
	for i, c := range cases {
		for _, mode := range []string{"binary", "structured", "batch"} {
			if mode == "binary" && c.ContextAttributes.DataContentEncoding != "" {
				continue // 0.3: datacontentencoding MUST NOT be set in binary mode
			}
			c.Mode = mode
			h, body, err := c.HTTP()
			if err != nil {
				t.Fatalf("case %d %s: %v", i, mode, err)
			}
			if errs := Violations(ValidateHTTP(h, body)).Errors(); len(errs) > 0 {
				t.Errorf("case %d %s: invalid message: %v\n%v\n%s", i, mode, errs, h, body)
			}
			got, err := CasesFromHTTP(h, body)
			if err != nil || len(got) != 1 {
				t.Fatalf("case %d %s: %v %v", i, mode, got, err)
			}
			if got[0].Mode != mode {
				t.Errorf("case %d: mode %q, want %q", i, got[0].Mode, mode)
			}
			if d := Diff([]Case{c}, got, DiffOptions{}); !d.Match() {
				var b bytes.Buffer
				d.Write(&b)
				t.Errorf("case %d %s: round trip differs:\n%s\nheaders %v\nbody %s", i, mode, b.String(), h, body)
			}
			if judged := JudgeHTTP(h, body); judged.Err != nil {
				t.Errorf("case %d %s: JudgeHTTP: %v", i, mode, judged.Err)
			}
		}
	}
}

func TestCaseHTTPBinary(t *testing.T) {
	c := Case{
		ContextAttributes: Attributes{SpecVersion: "1.0", ID: "1", Source: "/s", Type: "t", Subject: "Euro € 😀", DataContentType: "text/plain",
			Extensions: map[string]string{"comexampleextension2": "{\"othervalue\": 5}\n"}},
		TransportExtensions: map[string]string{"user-agent": "foo"},
		Data:                "hello\n",
	}
	h, body, err := c.HTTP()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"Ce-Subject":              "Euro%20%E2%82%AC%20%F0%9F%98%80",
		"Ce-Comexampleextension2": "{%22othervalue%22:%205}", // trimmed, then percent-encoded
		"Content-Type":            "text/plain",
		"User-Agent":              "foo",
		"Ce-Specversion":          "1.0",
	}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	if string(body) != "hello\n" {
		t.Errorf("body %q", body)
	}
	c.Mode = "nonsense"
	if _, _, err := c.HTTP(); err == nil {
		t.Error("unknown mode: no error")
	}
	c.Mode, c.DataBase64 = "binary", "!!"
	if _, _, err := c.HTTP(); err == nil {
		t.Error("bad DataBase64: no error")
	}
}

func TestCaseJSONData(t *testing.T) {
	for _, tc := range []struct {
		dct, data, want string
	}{
		{"", `{"a": 1}` + "\n", `"data":{"a":1}`},
		{"application/json", `"s"`, `"data":"s"`},
		{"application/cloudevents+json", `[1]`, `"data":[1]`},
		{"text/plain", `{"a":1}`, `"data":"{\"a\":1}"`},
		{"", "not json", `"data":"not json"`},
	} {
		c := Case{ContextAttributes: Attributes{SpecVersion: "1.0", ID: "1", Source: "/s", Type: "t", DataContentType: tc.dct}, Data: tc.data}
		b, err := c.JSON()
		if err != nil || !strings.Contains(string(b), tc.want) {
			t.Errorf("%q %q: %s %v, want %s", tc.dct, tc.data, b, err, tc.want)
		}
		if !json.Valid(b) {
			t.Errorf("invalid JSON %s", b)
		}
	}
}

func TestCasesFromHTTP(t *testing.T) {
	h := http.Header{"Ce-Specversion": {"1.0"}, "Ce-Id": {"1"}, "Ce-Source": {"/s"}, "Ce-Type": {"t"},
		"Ce-Subject": {"%C0%A0"}, "Ce-Quoted": {`"a b"`}, "Content-Type": {"application/octet-stream"}, "X-Other": {"x"}}
	cs, err := CasesFromHTTP(h, []byte{0, 1, 2})
	if err != nil || len(cs) != 1 {
		t.Fatal(cs, err)
	}
	c := cs[0]
	if c.Get("subject") != "%C0%A0" || c.Get("quoted") != "a b" || c.DataBase64 != "AAEC" || c.TransportExtensions["x-other"] != "x" || c.Mode != "binary" {
		t.Errorf("%#v", c)
	}

	batch := `[{"specversion":"1.0","id":"a","source":"/s","type":"t","n":5,"b":true,"data":{"x":1}},` +
		`{"specversion":"1.0","id":"b","source":"/s","type":"t","datacontenttype":"text/plain","data":"hi","subject":null}]`
	cs, err = CasesFromHTTP(http.Header{"Content-Type": {"application/cloudevents-batch+json"}}, []byte(batch))
	if err != nil || len(cs) != 2 {
		t.Fatal(cs, err)
	}
	if cs[0].Get("n") != "5" || cs[0].Get("b") != "true" || cs[0].Data != `{"x":1}` || cs[1].Data != "hi" || cs[1].Get("subject") != "" || cs[1].Mode != "batch" {
		t.Errorf("%#v", cs)
	}
	for _, bad := range []struct{ ct, body string }{
		{"application/cloudevents+json", "{"},
		{"application/cloudevents+json", "null"},
		{"application/cloudevents+json", "[]"},
		{"application/cloudevents-batch+json", "{}"},
		{"application/cloudevents-batch+json", "[1]"},
		{"application/cloudevents+avro", "x"},
	} {
		if _, err := CasesFromHTTP(http.Header{"Content-Type": {bad.ct}}, []byte(bad.body)); err == nil {
			t.Errorf("%s %s: no error", bad.ct, bad.body)
		}
	}
}

func TestNewRequestAndRawRequest(t *testing.T) {
	var got *RawRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var err error
		if got, err = ReadRawRequest(r, 1<<20); err != nil {
			t.Error(err)
		}
		w.WriteHeader(202)
	}))
	defer srv.Close()
	c := Case{ContextAttributes: Attributes{SpecVersion: "1.0", ID: "1", Source: "/s", Type: "t"}, Data: "\xff"}
	req, err := c.NewRequest(context.Background(), srv.URL+"/p?q=1")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var b strings.Builder
	got.Write(&b)
	out := b.String()
	for _, want := range []string{"POST /p?q=1 HTTP/1.1\n", "Host: 127.0.0.1:", "Ce-Id: 1\n", "\n\n\"\\xff\"\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("raw output lacks %q:\n%s", want, out)
		}
	}
}
