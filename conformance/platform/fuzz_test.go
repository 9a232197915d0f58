package platformconf

import (
	"strings"
	"testing"
)

// FuzzTraceID: traceID reads traceparent values the platform sends; it returns a trace id
// only for a well-formed value, and then the 32 lower-case hex digits of its second field.
func FuzzTraceID(f *testing.F) {
	for _, s := range []string{
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01",
		"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", "", "-", "00--",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id := traceID(s)
		if id == "" {
			return
		}
		if len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" || strings.Trim(id, "0") == "" {
			t.Fatalf("traceID(%q) = %q", s, id)
		}
		if !strings.Contains(s, "-"+id+"-") {
			t.Fatalf("traceID(%q) = %q, not its second field", s, id)
		}
	})
}

// FuzzDecodeYAML: decodeYAML reads the test plan's recorded resources (and any stream like
// them); it returns an error or objects that all have apiVersion and kind, never panics.
func FuzzDecodeYAML(f *testing.F) {
	for _, name := range []string{"broker.yaml", "trigger.yaml", "trigger-no-broker.yaml"} {
		data, err := testPlanFiles.ReadFile("testdata/knative-specs-testplan/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(data))
	}
	f.Add("apiVersion: v1\nkind: A\n---\n---\napiVersion: v1\nkind: B\n")
	f.Add(`{"apiVersion":"v1","kind":"A","metadata":{"generation":1.5}}`)
	f.Add("- a\n- b\n")
	f.Fuzz(func(t *testing.T, s string) {
		objs, err := decodeYAML([]byte(s))
		if err != nil {
			return
		}
		for _, o := range objs {
			if o.GetAPIVersion() == "" || o.GetKind() == "" {
				t.Fatalf("decodeYAML(%q) returned %v without apiVersion or kind", s, o.Object)
			}
		}
	})
}

// FuzzSiblingURL: siblingURL derives a URL no object has from any address.
func FuzzSiblingURL(f *testing.F) {
	f.Add("http://127.0.0.1:8080/channels/ns/name", "other")
	f.Add("http://h/", "x")
	f.Add("::", "x")
	f.Fuzz(func(t *testing.T, addr, name string) {
		if got := siblingURL(addr, name); got == addr && name != "" && !strings.HasSuffix(addr, "/"+name) {
			t.Fatalf("siblingURL(%q, %q) = the address itself", addr, name)
		}
	})
}
