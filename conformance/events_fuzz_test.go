package conformance

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func yamlSeeds(f *testing.F) []string {
	var seeds []string
	files, _ := filepath.Glob(filepath.Join(corpusYAML, "*.yaml"))
	more, _ := filepath.Glob(filepath.Join(corpusYAML, "*/*.yaml"))
	for _, p := range append(files, more...) {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, string(b))
	}
	return append(seeds, diffFull,
		"---\n---\nMode: batch\nContextAttributes: {id: 1, Extensions: {a: [1, {b: c}]}}\nDataBase64: AAE=\n",
		"ContextAttributes:\n  specversion: 1.0\n  x: &a [*a]\n", "a: !!binary gIGC\n", "Data: !!binary gIGC\n",
		"ContextAttributes: {id: \"\\xff\", type: \"\\u0000\"}\nData: \"\\t\"\n")
}

// FuzzReadCases: the YAML case reader never panics, and what it reads, WriteCases writes in
// a form it reads back to the same cases.
func FuzzReadCases(f *testing.F) {
	for _, s := range yamlSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		cases, err := ReadCases(strings.NewReader(in))
		if err != nil {
			return
		}
		var b bytes.Buffer
		if err := WriteCases(&b, cases); err != nil {
			return // yaml.v2 refuses to write some strings (invalid UTF-8 map keys)
		}
		back, err := ReadCases(&b)
		if err != nil {
			t.Fatalf("written cases do not read back: %v\n%s", err, b.String())
		}
		if len(back) != len(cases) {
			t.Fatalf("%d cases written, %d read back\n%s", len(cases), len(back), b.String())
		}
		for i := range cases {
			if !equalCases(cases[i], back[i]) {
				t.Fatalf("case %d:\n got %#v\nwant %#v\n%s", i, back[i], cases[i], b.String())
			}
		}
		for i := range cases {
			if h, body, err := cases[i].HTTP(); err == nil {
				CasesFromHTTP(h, body) // must not panic
			}
		}
	})
}

// equalCases compares what survives a write and a read: empty maps and nil maps are alike,
// and text that is not UTF-8 may come back as something else (yaml.v2 writes it as
// !!binary or replaces it).
func equalCases(a, b Case) bool {
	norm := func(c Case) Case {
		c.Comments = nil
		if len(c.TransportExtensions) == 0 {
			c.TransportExtensions = nil
		}
		if len(c.ContextAttributes.Extensions) == 0 {
			c.ContextAttributes.Extensions = nil
		}
		return c
	}
	a, b = norm(a), norm(b)
	if reflect.DeepEqual(a, b) {
		return true
	}
	all := a.Data + a.DataBase64 + a.Mode
	for k, v := range a.AttributeMap() {
		all += k + v
	}
	for k, v := range a.TransportExtensions {
		all += k + v
	}
	return !utf8.ValidString(all)
}

// FuzzDiff: the diff matcher takes any two case files (the input is split at the first NUL)
// without panicking; a file always matches itself; differences are well formed.
func FuzzDiff(f *testing.F) {
	seeds := yamlSeeds(f)
	for i, s := range seeds {
		f.Add(s+"\x00"+seeds[(i+1)%len(seeds)], "id", false)
		f.Add(s+"\x00"+s, "type,source", true)
	}
	f.Fuzz(func(t *testing.T, in, match string, ignore bool) {
		a, b, _ := strings.Cut(in, "\x00")
		want, err := ReadCases(strings.NewReader(a))
		if err != nil {
			return
		}
		got, err := ReadCases(strings.NewReader(b))
		if err != nil {
			return
		}
		opts := DiffOptions{Match: strings.Split(match, ","), IgnoreAdditions: ignore}
		res := Diff(want, got, opts)
		var out bytes.Buffer
		if err := res.Write(&out); err != nil {
			t.Fatal(err)
		}
		if res.Match() != (out.Len() == 0) {
			t.Fatalf("Match %v but output %q", res.Match(), out.String())
		}
		missing := 0
		for _, d := range res.Differences {
			if d.Missing {
				missing++
			}
			if !d.Missing && !d.Unexpected && d.Field == "" {
				t.Fatalf("difference without a field: %+v", d)
			}
		}
		if missing > len(want) {
			t.Fatalf("%d missing of %d wanted", missing, len(want))
		}
		if self := Diff(want, want, opts); !self.Match() {
			t.Fatalf("a file differs from itself: %+v", self.Differences)
		}
	})
}

// FuzzCasesFromHTTP: reading and judging any HTTP message (header lines, an empty line,
// the body) never panics; what is read renders back to HTTP.
func FuzzCasesFromHTTP(f *testing.F) {
	for _, s := range binarySeeds() {
		f.Add([]byte(s))
	}
	for _, s := range structuredSeeds(f) {
		f.Add(append([]byte("Content-Type: application/cloudevents+json\n\n"), s...))
		f.Add(append(append([]byte("Content-Type: application/cloudevents-batch+json; charset=utf-8\n\n["), s...), ']'))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h, body := parseFuzzHeaders(data)
		cases, err := CasesFromHTTP(h, body)
		j := JudgeHTTP(h, body)
		if len(j.Cases) == 0 && len(cases) > 0 {
			t.Fatal("JudgeHTTP lost the cases")
		}
		if err == nil && len(j.Violations.Errors()) == 0 && j.Err == nil {
			for i := range cases {
				if _, _, err := cases[i].HTTP(); err != nil && cases[i].DataBase64 == "" {
					t.Fatalf("case %d of a valid message does not render: %v", i, err)
				}
			}
		}
	})
}
