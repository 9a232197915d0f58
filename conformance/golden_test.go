package conformance

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"
	yaml "go.yaml.in/yaml/v2"
)

const goldenRoot = "testdata/cloudevents"

// corpusRoot is the shared corpus the testdata was copied from. Tests that compare against
// it skip when it is absent.
const corpusRoot = "../../shared/corpora/cloudevents"

type goldenCase struct {
	line               int
	path, kind, expect string
	errors, warnings   []string
	sdk                string
}

func readGolden(t *testing.T) []goldenCase {
	t.Helper()
	f, err := os.Open("testdata/golden.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []goldenCase
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cols := strings.Split(line, "\t")
		if len(cols) != 6 {
			t.Fatalf("golden.tsv:%d: %d columns, want 6", n, len(cols))
		}
		split := func(s string) []string {
			if s == "-" {
				return nil
			}
			out := strings.Split(s, ",")
			sort.Strings(out)
			return out
		}
		cases = append(cases, goldenCase{line: n, path: cols[0], kind: cols[1], expect: cols[2], errors: split(cols[3]), warnings: split(cols[4]), sdk: cols[5]})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return cases
}

// ruleSet returns the sorted, distinct rule codes of the violations of severity s.
func ruleSet(vs []Violation, s Severity) []string {
	var out []string
	for _, v := range vs {
		if v.Severity == s && !slices.Contains(out, string(v.Rule)) {
			out = append(out, string(v.Rule))
		}
	}
	sort.Strings(out)
	return out
}

func assertRules(t *testing.T, what string, vs []Violation, c goldenCase) {
	t.Helper()
	gotErr, gotWarn := ruleSet(vs, SeverityError), ruleSet(vs, SeverityWarning)
	if c.expect == "valid" && len(gotErr) > 0 || c.expect == "invalid" && len(gotErr) == 0 ||
		!slices.Equal(gotErr, c.errors) || !slices.Equal(gotWarn, c.warnings) {
		t.Errorf("%s: errors %v warnings %v, want %s with errors %v warnings %v; violations:\n%s",
			what, gotErr, gotWarn, c.expect, c.errors, c.warnings, dump(vs))
	}
}

func dump(vs []Violation) string {
	var b strings.Builder
	for _, v := range vs {
		b.WriteString("\t" + v.Severity.String() + " " + string(v.Rule) + ": " + v.Message + "\n")
	}
	return b.String()
}

// TestGolden runs every case of testdata/golden.tsv.
func TestGolden(t *testing.T) {
	for _, c := range readGolden(t) {
		if c.kind == "excluded" {
			continue
		}
		t.Run(c.path, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(goldenRoot, c.path))
			if err != nil {
				t.Fatal(err)
			}
			switch c.kind {
			case "structured":
				assertRules(t, "ValidateStructured", ValidateStructured(data), c)
				var ev event.Event
				err := json.Unmarshal(data, &ev)
				if err == nil {
					err = ev.Validate()
				}
				if got := map[bool]string{true: "ok", false: "fail"}[err == nil]; got != c.sdk {
					t.Errorf("sdk-go decoding: %s (%v), golden.tsv says %s", got, err, c.sdk)
				}
				if err == nil {
					// The sdk-go event of a valid file must be valid too.
					if errs := Violations(Validate(&ev)).Errors(); len(errs) > 0 {
						t.Errorf("Validate(sdk-go event): %v", errs)
					}
				}
			case "batch":
				assertRules(t, "ValidateBatch", ValidateBatch(data), c)
			case "binary":
				h, body := parseHeaderBlock(t, data)
				assertRules(t, "ValidateBinaryHeaders", ValidateBinaryHeaders(h, body), c)
				assertRules(t, "ValidateHTTP", ValidateHTTP(h, body), c)
			case "content-type":
				name, val, ok := strings.Cut(strings.TrimSpace(string(data)), ":")
				if !ok || !strings.EqualFold(name, "content-type") {
					t.Fatalf("not a content-type line: %q", data)
				}
				if got := DetectMode(val).String(); got != c.expect {
					t.Errorf("DetectMode(%q) = %s, want %s", val, got, c.expect)
				}
			case "yaml":
				runYAMLCases(t, data, c)
			case "percent":
				runPercentTable(t, data)
			case "doc":
			default:
				t.Fatalf("golden.tsv:%d: unknown kind %q", c.line, c.kind)
			}
		})
	}
}

// TestGoldenCoversTestdata checks that every file under testdata/cloudevents has a line in
// golden.tsv, and that excluded files were indeed not copied.
func TestGoldenCoversTestdata(t *testing.T) {
	listed := map[string]goldenCase{}
	for _, c := range readGolden(t) {
		if _, dup := listed[c.path]; dup {
			t.Errorf("golden.tsv:%d: %s listed twice", c.line, c.path)
		}
		listed[c.path] = c
	}
	err := filepath.WalkDir(goldenRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(goldenRoot, p)
		c, ok := listed[filepath.ToSlash(rel)]
		switch {
		case !ok:
			t.Errorf("%s has no line in golden.tsv", rel)
		case c.kind == "excluded":
			t.Errorf("%s is marked excluded but was copied", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for p, c := range listed {
		if c.kind != "excluded" {
			if _, err := os.Stat(filepath.Join(goldenRoot, p)); err != nil {
				t.Errorf("golden.tsv:%d: %v", c.line, err)
			}
		}
	}
}

// TestGoldenCoversCorpus checks, when the shared corpus is present, that every corpus file
// is either copied (byte for byte) or excluded with a reason, and that the "illustrative"
// exclusions really hold placeholders.
func TestGoldenCoversCorpus(t *testing.T) {
	if _, err := os.Stat(corpusRoot); err != nil {
		t.Skipf("corpus not present: %v", err)
	}
	listed := map[string]goldenCase{}
	for _, c := range readGolden(t) {
		listed[c.path] = c
	}
	err := filepath.WalkDir(corpusRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(corpusRoot, p)
		rel = filepath.ToSlash(rel)
		c, ok := listed[rel]
		if !ok {
			t.Errorf("corpus file %s is neither copied nor excluded in golden.tsv", rel)
			return nil
		}
		orig, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if c.kind == "excluded" {
			if c.expect == "illustrative" && !bytes.Contains(orig, []byte("...")) {
				t.Errorf("%s is excluded as illustrative but has no '...' placeholder", rel)
			}
			return nil
		}
		copied, err := os.ReadFile(filepath.Join(goldenRoot, rel))
		if err != nil {
			t.Errorf("%s: %v", rel, err)
		} else if !bytes.Equal(orig, copied) {
			t.Errorf("%s differs from the corpus copy", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// parseHeaderBlock reads "Name: value" lines up to an empty line, then the body.
func parseHeaderBlock(t *testing.T, data []byte) (http.Header, []byte) {
	t.Helper()
	h := http.Header{}
	rest := data
	for {
		line, after, found := bytes.Cut(rest, []byte("\n"))
		rest = after
		if len(bytes.TrimSpace(line)) == 0 {
			break
		}
		name, val, ok := strings.Cut(string(line), ":")
		if !ok {
			t.Fatalf("bad header line %q", line)
		}
		h.Add(strings.TrimSpace(name), strings.TrimSpace(val))
		if !found {
			break
		}
	}
	return h, rest
}

// yamlCase is one document of the cloudevents/conformance YAML format. Attributes are
// decoded into string fields: yaml.v2 then keeps the literal text, so "specversion: 1.0"
// stays "1.0" rather than becoming the float 1.
type yamlCase struct {
	Mode              string `yaml:"Mode"`
	ContextAttributes struct {
		SpecVersion         string            `yaml:"specversion"`
		ID                  string            `yaml:"id"`
		Source              string            `yaml:"source"`
		Type                string            `yaml:"type"`
		Subject             string            `yaml:"subject"`
		Time                string            `yaml:"time"`
		DataContentType     string            `yaml:"datacontenttype"`
		DataSchema          string            `yaml:"dataschema"`
		SchemaURL           string            `yaml:"schemaurl"`
		DataContentEncoding string            `yaml:"datacontentencoding"`
		Extensions          map[string]string `yaml:"Extensions"`
	} `yaml:"ContextAttributes"`
	TransportExtensions map[string]string `yaml:"TransportExtensions"`
	Data                string            `yaml:"Data"`
}

func readYAMLCases(t *testing.T, data []byte) []yamlCase {
	t.Helper()
	var out []yamlCase
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.SetStrict(true) // an attribute this struct lacks would fail the test, not vanish
	for {
		var c yamlCase
		if err := dec.Decode(&c); errors.Is(err, io.EOF) {
			return out
		} else if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
}

// attributes returns the non-empty context attributes of a YAML case.
func (yc yamlCase) attributes() map[string]string {
	a := yc.ContextAttributes
	all := map[string]string{
		"specversion": a.SpecVersion, "id": a.ID, "source": a.Source, "type": a.Type,
		"subject": a.Subject, "time": a.Time, "datacontenttype": a.DataContentType,
		"dataschema": a.DataSchema, "schemaurl": a.SchemaURL, "datacontentencoding": a.DataContentEncoding,
	}
	for k, v := range all {
		if v == "" {
			delete(all, k)
		}
	}
	return all
}

func runYAMLCases(t *testing.T, data []byte, c goldenCase) {
	cases := readYAMLCases(t, data)
	if len(cases) == 0 {
		t.Fatal("no YAML documents")
	}
	for i, yc := range cases {
		attrs, exts := yc.attributes(), yc.ContextAttributes.Extensions
		id := attrs["id"]
		// Binary mode: percent-encoded ce- headers, Content-Type, the data as body.
		h := http.Header{}
		for k, v := range attrs {
			if k == "datacontenttype" {
				h.Set("Content-Type", v)
			} else {
				h.Set("ce-"+k, EncodeHTTPHeaderValue(v))
			}
		}
		for k, v := range exts {
			h.Set("ce-"+k, EncodeHTTPHeaderValue(v))
		}
		for k, v := range yc.TransportExtensions {
			h.Set(k, v)
		}
		assertRules(t, id+" binary", ValidateHTTP(h, []byte(yc.Data)), c)

		// Structured mode: the JSON format.
		obj := map[string]any{}
		for k, v := range attrs {
			obj[k] = v
		}
		for k, v := range exts {
			obj[k] = v
		}
		if yc.Data != "" {
			dct := attrs["datacontenttype"]
			mt, _ := checkMediaType(dct)
			if dct == "" || isJSONMediaType(mt) {
				obj["data"] = json.RawMessage(yc.Data)
			} else {
				obj["data"] = yc.Data
			}
		}
		body, err := json.Marshal(obj)
		if err != nil {
			t.Fatalf("document %d: %v", i+1, err)
		}
		assertRules(t, id+" structured", ValidateStructured(body), c)

		// The sdk-go event.
		ev := event.New(attrs["specversion"])
		ev.SetID(attrs["id"])
		ev.SetSource(attrs["source"])
		ev.SetType(attrs["type"])
		if s, ok := attrs["time"]; ok {
			ts, err := types.ParseTimestamp(s)
			if err != nil {
				t.Fatal(err)
			}
			ev.SetTime(ts.Time)
		}
		if s, ok := attrs["datacontenttype"]; ok {
			ev.SetDataContentType(s)
		}
		for k, v := range exts {
			ev.SetExtension(k, v)
		}
		if yc.Data != "" {
			ev.DataEncoded = []byte(yc.Data)
		}
		assertRules(t, id+" sdk-go event", Validate(&ev), c)
	}
}

// runPercentTable runs derived/http-header-percent-encoding.tsv: encode rows through
// EncodeHTTPHeaderValue, decode rows through DecodeHTTPHeaderValue and, as the value of
// ce-subject, through ValidateBinaryHeaders.
func runPercentTable(t *testing.T, data []byte) {
	rows := 0
	for _, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "decoded\t") {
			continue
		}
		cols := strings.Split(line, "\t")
		if len(cols) != 4 {
			t.Fatalf("bad row %q", line)
		}
		rows++
		decoded, header, direction := cols[0], cols[1], cols[2]
		switch direction {
		case "encode":
			if got := EncodeHTTPHeaderValue(decoded); got != header {
				t.Errorf("EncodeHTTPHeaderValue(%q) = %q, want %q", decoded, got, header)
			}
		case "decode":
			got, err := DecodeHTTPHeaderValue(header)
			h := http.Header{"Ce-Specversion": {"1.0"}, "Ce-Id": {"1"}, "Ce-Source": {"/s"}, "Ce-Type": {"t"}, "Ce-Subject": {header}}
			vs := Violations(ValidateBinaryHeaders(h, nil))
			if decoded == "(invalid)" {
				if err == nil {
					t.Errorf("DecodeHTTPHeaderValue(%q) = %q, want an error", header, got)
				}
				if errs := vs.Errors(); len(errs) != 1 || errs[0].Rule != RuleHeaderEncoding || errs[0].Attribute != "subject" {
					t.Errorf("ce-subject: %q: got %v, want one header-encoding error", header, vs)
				}
				continue
			}
			if err != nil || got != decoded {
				t.Errorf("DecodeHTTPHeaderValue(%q) = %q, %v; want %q", header, got, err, decoded)
			}
			if errs := vs.Errors(); len(errs) > 0 {
				t.Errorf("ce-subject: %q: %v", header, errs)
			}
		default:
			t.Fatalf("bad direction in row %q", line)
		}
	}
	if rows == 0 {
		t.Fatal("no rows")
	}
}
