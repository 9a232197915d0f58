package conformance

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// corpusYAML is the copy of the cloudevents/conformance YAML cases (Apache-2.0, see
// testdata/README.md and testdata/LICENSES).
var corpusYAML = filepath.Join(goldenRoot, "conformance", "yaml")

func TestReadCasesCorpus(t *testing.T) {
	cases, err := ReadCaseFiles(corpusYAML)
	if err != nil {
		t.Fatal(err)
	}
	// v0.3/v03_minimum.yaml, v03.yaml, v1.0/v1_minimum.yaml, v1.yaml, in path order.
	if len(cases) != 6+1+6+2 {
		t.Fatalf("%d cases, want 15", len(cases))
	}
	for i, c := range cases {
		if sv := c.ContextAttributes.SpecVersion; sv != "1.0" && sv != "0.3" {
			t.Errorf("case %d: specversion %q: the literal text must survive", i, sv)
		}
		if c.ContextAttributes.ID == "" || c.ContextAttributes.Source == "" || c.ContextAttributes.Type == "" || c.Data == "" {
			t.Errorf("case %d: %+v", i, c)
		}
	}
	full := cases[13] // v1.yaml, first document
	want := Case{
		Mode: "binary",
		ContextAttributes: Attributes{
			SpecVersion: "1.0", Type: "com.example.someevent", Time: "2018-04-05T03:56:24Z",
			ID: "4321-4321-4321", Source: "/mycontext/subcontext",
			Extensions: map[string]string{"comexampleextension1": "value", "comexampleextension2": "{\"othervalue\": 5}\n"},
		},
		TransportExtensions: map[string]string{"user-agent": "foo"},
		Data:                "{\"world\":\"hello\"}\n",
	}
	if !reflect.DeepEqual(full, want) {
		t.Errorf("v1.yaml:\n got %#v\nwant %#v", full, want)
	}
	if cases[14].Mode != "structured" || cases[6].Mode != "" {
		t.Errorf("modes %q %q", cases[14].Mode, cases[6].Mode)
	}
	if got := cases[1].Data; got != "Hello, 🌎!\n" {
		t.Errorf("utf-8 data %q", got)
	}
}

func TestReadCasesTolerant(t *testing.T) {
	in := `
# a comment-only document is skipped
---
---
mode: Structured
contextAttributes:
  specversion: 0.3
  id: 12
  type: t
  source: /s
  time: 2018-04-05T03:56:24Z
  comexampleflag: true
  datacontentencoding: base64
  Extensions:
    n: 5
    big: 1e3
    obj: {a: [1, "x"]}
    empty: ~
transportExtensions: {X-Trace: abc}
Data: eyJhIjoxfQ==
Unknown: ignored
---
ContextAttributes: {specversion: "1.0", id: b, source: /s, type: t, subject: null}
DataBase64: AAE=
`
	cases, err := ReadCases(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) != 2 {
		t.Fatalf("%d cases: %+v", len(cases), cases)
	}
	a := cases[0]
	want := Attributes{SpecVersion: "0.3", ID: "12", Type: "t", Source: "/s", Time: "2018-04-05T03:56:24Z", DataContentEncoding: "base64",
		Extensions: map[string]string{"comexampleflag": "true", "n": "5", "big": "1e3", "obj": `{"a":[1,"x"]}`}}
	if !reflect.DeepEqual(a.ContextAttributes, want) || a.Mode != "Structured" || a.TransportExtensions["X-Trace"] != "abc" || a.Data != "eyJhIjoxfQ==" {
		t.Errorf("got %#v", a)
	}
	if m, err := a.CaseMode(); err != nil || m != ModeStructured {
		t.Errorf("CaseMode %v %v", m, err)
	}
	if b := cases[1]; b.DataBase64 != "AAE=" || b.ContextAttributes.Subject != "" {
		t.Errorf("got %#v", b)
	}

	for _, bad := range []string{"- a\n- b\n", "just a string\n", "ContextAttributes: [1]\n", "TransportExtensions: x\n", "a: [\n"} {
		if _, err := ReadCases(strings.NewReader(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestWriteCasesRoundTrip(t *testing.T) {
	cases, err := ReadCaseFiles(corpusYAML)
	if err != nil {
		t.Fatal(err)
	}
	cases[0].Comments = []string{"first line\nsecond line"}
	cases[1].DataBase64, cases[1].Data = "AAE=", ""
	var b bytes.Buffer
	if err := WriteCases(&b, cases); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.String(), "# first line\n# second line\n") || strings.Count(b.String(), "\n---\n") != len(cases)-1 {
		t.Errorf("output:\n%s", b.String())
	}
	back, err := ReadCases(&b)
	if err != nil {
		t.Fatal(err)
	}
	cases[0].Comments = nil
	if !reflect.DeepEqual(back, cases) {
		t.Errorf("round trip:\n got %#v\nwant %#v", back, cases)
	}
}

func TestReadCaseFilesErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadCaseFiles(dir); err == nil || !strings.Contains(err.Error(), "no .yaml") {
		t.Errorf("empty dir: %v", err)
	}
	if _, err := ReadCaseFiles(filepath.Join(dir, "nope.yaml")); err == nil {
		t.Error("missing file: no error")
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("ContextAttributes: [x]\n"), 0o644)
	if _, err := ReadCaseFiles(dir); err == nil || !strings.Contains(err.Error(), "bad.yaml") {
		t.Errorf("bad file: %v", err)
	}
}

func TestCaseGetSet(t *testing.T) {
	var c Case
	c.Set("subject", "s")
	c.Set("ext", "v")
	c.Set("datacontenttype", "text/plain")
	c.Set("comExample", "x")
	if c.Get("subject") != "s" || c.Get("ext") != "v" || c.ContextAttributes.DataContentType != "text/plain" || c.Get(" EXT ") != "v" ||
		c.Get("comExample") != "x" || c.Get("SUBJECT") != "s" || c.ContextAttributes.Extensions["comExample"] != "x" {
		t.Errorf("%#v", c)
	}
	c.Set("ext", "")
	if _, ok := c.ContextAttributes.Extensions["ext"]; ok {
		t.Error("empty value kept")
	}
	c.Data, c.Mode = "d", "binary"
	if c.Get("data") != "d" || c.Get("mode") != "binary" {
		t.Error("data/mode")
	}
}
