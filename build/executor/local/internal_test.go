package local

import (
	"strings"
	"testing"
)

func TestExpand(t *testing.T) {
	vars := map[string]string{"A": "x", "B": "$(A)", "EMPTY": ""}
	lookup := func(n string) (string, bool) { v, ok := vars[n]; return v, ok }
	for in, want := range map[string]string{
		"":              "",
		"plain":         "plain",
		"$(A)":          "x",
		"a$(A)b$(A)":    "axbx",
		"$(B)":          "$(A)",
		"$(NOPE)":       "$(NOPE)",
		"$$(A)":         "$(A)",
		"$$":            "$",
		"$":             "$",
		"$(A":           "$(A",
		"$x":            "$x",
		"$(EMPTY)!":     "!",
		"$(ls -A)":      "$(ls -A)",
		"$((i+1))":      "$((i+1))",
		"echo $$$$ $!":  "echo $$ $!",
		"${A} $(A) $A)": "${A} x $A)",
	} {
		if got := expand(in, lookup); got != want {
			t.Errorf("expand(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzExpand(f *testing.F) {
	for _, s := range []string{"$(A)", "$$(A)", "$(", "a$(B)c", "$((x))", "$"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		none := func(string) (string, bool) { return "", false }
		// With nothing defined only $$ changes.
		if got, want := expand(s, none), expandEscapes(s); got != want {
			t.Fatalf("expand(%q) with nothing defined = %q, want %q", s, got, want)
		}
		if !strings.Contains(s, "$") && expand(s, func(string) (string, bool) { return "v", true }) != s {
			t.Fatalf("expand(%q) changed a string without $", s)
		}
	})
}

// expandEscapes is expand with no variables: $$ becomes $, and $(NAME) stays.
func expandEscapes(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '$' && i+1 < len(s) {
			switch s[i+1] {
			case '$':
				b.WriteByte('$')
				i++
				continue
			case '(':
				if end := strings.IndexByte(s[i+2:], ')'); end >= 0 {
					b.WriteString(s[i : i+3+end])
					i += 2 + end
					continue
				}
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func TestSplitLines(t *testing.T) {
	lines, partial := splitLines([]byte("a\nb\nc"), false)
	if strings.Join(lines, ",") != "a,b" || string(partial) != "c" {
		t.Errorf("%q %q", lines, partial)
	}
	lines, partial = splitLines([]byte("tail of a\nb\n"), true)
	if strings.Join(lines, ",") != "b" || len(partial) != 0 {
		t.Errorf("%q %q", lines, partial)
	}
}

func TestRedact(t *testing.T) {
	if got := redact("user pw123 in pw123", [][]byte{[]byte("pw123"), []byte("x")}); got != "user [redacted] in [redacted]" {
		t.Errorf("redact: %q", got)
	}
	if got := redactURL("https://u:p@host/x"); got != "https://u@host/x" {
		t.Errorf("redactURL: %q", got)
	}
	if got := redactURL("git@github.com:o/r.git"); got != "git@github.com:o/r.git" {
		t.Errorf("redactURL: %q", got)
	}
}
