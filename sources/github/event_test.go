package github

import (
	"errors"
	"testing"
)

func TestNewEventEdgeCases(t *testing.T) {
	cases := []struct {
		name, event, payload string
		opts                 MapOptions
		source, subject      string
		exts                 map[string]any
	}{
		{"nothing to go by", "octopus", `{}`, MapOptions{}, "https://github.com", "", nil},
		{"configured fallback", "security_advisory", `{"security_advisory":{"ghsa_id":"GHSA-1"}}`,
			MapOptions{OwnerAndRepository: "o/r"}, "https://github.com/o/r", "GHSA-1", nil},
		{"enterprise organisation", "team", `{"team":{"id":5},"organization":{"login":"Octo","url":"https://ghe.example.com/api/v3/orgs/Octo"}}`,
			MapOptions{WebURL: "https://ghe.example.com/"}, "https://ghe.example.com/Octo", "5", map[string]any{"owner": "Octo"}},
		{"organisation login that is no name", "team", `{"organization":{"login":"../evil"}}`,
			MapOptions{OwnerAndRepository: "o"}, "https://github.com/o", "", nil},
		{"repository url that is no url", "push", `{"repository":{"html_url":"not a url","name":"r"},"compare":"x/a...b"}`,
			MapOptions{OwnerAndRepository: "o/r"}, "https://github.com/o/r", "a...b", map[string]any{"repository": "r"}},
		{"big numbers stay exact", "pull_request", `{"pull_request":{"number":12345678901234567890},"number":4294967296}`,
			MapOptions{}, "https://github.com", "12345678901234567890", map[string]any{"number": "4294967296"}},
		{"control characters are left out", "label", `{"label":{"name":"bad\nname"},"action":"created"}`,
			MapOptions{}, "https://github.com", "", map[string]any{"action": "created"}},
		{"wrong kinds are ignored", "issues", `{"issue":{"number":{"x":1}},"sender":{"login":true},"action":null}`,
			MapOptions{}, "https://github.com", "", map[string]any{}},
		{"gollum pages", "gollum", `{"pages":[{"page_name":"Home"},null,{"page_name":"Main"}]}`,
			MapOptions{}, "https://github.com", "Home,Main", nil},
		{"unknown event by number", "octopus", `{"octopus":{"number":9}}`, MapOptions{}, "https://github.com", "9", nil},
		{"installation account", "installation_target", `{"installation":{"id":3,"account":{"html_url":"https://github.com/acme"}}}`,
			MapOptions{}, "https://github.com/acme", "3", map[string]any{"installation": "3"}},
	}
	for _, c := range cases {
		ev, err := NewEvent(c.event, "id", []byte(c.payload), c.opts)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if ev.Source() != c.source || ev.Subject() != c.subject {
			t.Errorf("%s: source %q subject %q, want %q %q", c.name, ev.Source(), ev.Subject(), c.source, c.subject)
		}
		for k, v := range c.exts {
			if ev.Extensions()[k] != v {
				t.Errorf("%s: extension %s = %#v, want %#v", c.name, k, ev.Extensions()[k], v)
			}
		}
		if c.exts != nil && len(c.exts) == 0 && len(ev.Extensions()) != 0 {
			t.Errorf("%s: extensions %v", c.name, ev.Extensions())
		}
	}

	for _, bad := range []string{``, `null`, `[]`, `"x"`, `{"a":1}x`, `{"a":}`} {
		if _, err := NewEvent("push", "id", []byte(bad), MapOptions{}); !errors.Is(err, ErrMalformedPayload) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if _, err := NewEvent("Push", "id", []byte(`{}`), MapOptions{}); err == nil {
		t.Error("bad event name accepted")
	}
	if _, err := NewEvent("push", "", []byte(`{}`), MapOptions{}); err == nil {
		t.Error("empty delivery id accepted")
	}
}
