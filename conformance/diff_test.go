package conformance

import (
	"strings"
	"testing"
)

func mustCases(t *testing.T, s string) []Case {
	t.Helper()
	cs, err := ReadCases(strings.NewReader(s))
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

const diffFull = `
Mode: binary
ContextAttributes:
  specversion: 1.0
  type: com.example.someevent
  time: 2018-04-05T03:56:24Z
  id: 4321-a
  source: /mycontext/subcontext
  Extensions:
    comexampleextension1: value
TransportExtensions:
  user-agent: foo
Data: |
  {"world":"hello"}
---
Mode: structured
ContextAttributes:
  specversion: 1.0
  type: com.example.otherevent
  id: 4321-b
  source: /mycontext/subcontext
Data: |
  hello
`

func TestDiff(t *testing.T) {
	full := mustCases(t, diffFull)
	tests := []struct {
		name      string
		want, got string
		opts      DiffOptions
		out       string // "" means match
	}{
		{name: "identical", want: diffFull, got: diffFull},
		{
			name: "same events, other order, mode, transport, time notation and JSON layout", want: diffFull,
			got: `
ContextAttributes: {specversion: "1.0", type: com.example.otherevent, id: 4321-b, source: /mycontext/subcontext}
Data: "hello"
---
Mode: structured
ContextAttributes:
  specversion: "1.0"
  type: com.example.someevent
  time: 2018-04-05T05:56:24.000+02:00
  id: 4321-a
  source: /mycontext/subcontext
  Extensions: {comexampleextension1: "value\n"}
Data: '{ "world" : "hello" }'
`,
		},
		{
			name: "a changed type", want: diffFull,
			got: strings.Replace(diffFull, "type: com.example.someevent", "type: com.example.some.other.event", 1),
			out: "id[4321-a] diffs (-want, +got):\n-   type: com.example.someevent\n+   type: com.example.some.other.event\n",
		},
		{
			name: "missing and unexpected", want: diffFull,
			got: strings.Replace(diffFull, "id: 4321-b", "id: 4321-c", 1),
			out: "missing: id[4321-b]\n---\nunexpected: id[4321-c]\n",
		},
		{
			name: "an extra extension and other data", want: diffFull,
			got: strings.Replace(strings.Replace(diffFull, "comexampleextension1: value", "comexampleextension1: value\n    extra: 1", 1), "  hello\n", "  bye\n", 1),
			out: "id[4321-a] diffs (-want, +got):\n+   Extensions.extra: 1\n---\nid[4321-b] diffs (-want, +got):\n-   Data: hello\n+   Data: bye\n",
		},
		{
			name: "match by type, only the type wanted", want: "ContextAttributes:\n  type: com.example.someevent\n", got: diffFull,
			opts: DiffOptions{Match: []string{"type"}, IgnoreAdditions: true},
		},
		{
			name: "match by type and source, a wanted attribute differs",
			want: "ContextAttributes:\n  type: com.example.otherevent\n  source: /mycontext/subcontext\n  subject: s\n", got: diffFull,
			opts: DiffOptions{Match: []string{"type", "source"}, IgnoreAdditions: true},
			out:  "type[com.example.otherevent] source[/mycontext/subcontext] diffs (-want, +got):\n-   subject: s\n",
		},
		{
			name: "without ignore-additions the extras count", want: "ContextAttributes:\n  type: com.example.someevent\n", got: diffFull,
			opts: DiffOptions{Match: []string{"type"}},
			out: "type[com.example.someevent] diffs (-want, +got):\n+   specversion: 1.0\n+   time: 2018-04-05T03:56:24Z\n+   id: 4321-a\n+   source: /mycontext/subcontext\n" +
				"+   Extensions.comexampleextension1: value\n+   Data: {\"world\":\"hello\"}\n---\nunexpected: type[com.example.otherevent]\n",
		},
		{
			name: "binary data", want: "ContextAttributes: {id: x}\nDataBase64: AAE=\n", got: "ContextAttributes: {id: x}\nDataBase64: AAI=\n",
			out: "id[x] diffs (-want, +got):\n-   Data: (base64) AAE=\n+   Data: (base64) AAI=\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := Diff(mustCases(t, tc.want), mustCases(t, tc.got), tc.opts)
			var b strings.Builder
			if err := res.Write(&b); err != nil {
				t.Fatal(err)
			}
			if b.String() != tc.out || res.Match() != (tc.out == "") {
				t.Errorf("got:\n%s\nwant:\n%s", b.String(), tc.out)
			}
		})
	}
	if !Diff(full, full, DiffOptions{Match: []string{"id", "source"}}).Match() {
		t.Error("a file differs from itself")
	}
}
