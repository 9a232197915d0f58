package filter

import (
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/eddyplatform/eddy/api/eventing"
	"sigs.k8s.io/yaml"
)

func testEvent() *event.Event {
	ev := event.New()
	ev.SetID("1")
	ev.SetSource("https://github.com/eddyplatform/eddy")
	ev.SetType("dev.knative.source.github.push")
	ev.SetSubject("refs/heads/main")
	ev.SetExtension("priority", 5)
	ev.SetExtension("team", "platform")
	return &ev
}

func TestTriggerFilters(t *testing.T) {
	cases := []struct {
		name string
		spec string // a TriggerSpec in YAML
		want bool
	}{
		{"empty filter passes everything", `{}`, true},
		{"empty attributes", `filter: {attributes: {}}`, true},
		{"exact attribute match", `filter: {attributes: {type: dev.knative.source.github.push}}`, true},
		{"exact attribute mismatch", `filter: {attributes: {type: dev.knative.source.github.pull_request}}`, false},
		{"empty value matches presence", `filter: {attributes: {team: ""}}`, true},
		{"missing extension fails", `filter: {attributes: {region: ""}}`, false},
		{"all attributes must match", `filter: {attributes: {type: dev.knative.source.github.push, team: ops}}`, false},
		{"integer extension compares as string", `filter: {attributes: {priority: "5"}}`, true},
		{"exact", `filters: [{exact: {team: platform}}]`, true},
		{"prefix", `filters: [{prefix: {type: dev.knative.source.github.}}]`, true},
		{"prefix mismatch", `filters: [{prefix: {type: com.example.}}]`, false},
		{"suffix", `filters: [{suffix: {subject: /main}}]`, true},
		{"all", `filters: [{all: [{exact: {team: platform}}, {suffix: {type: .push}}]}]`, true},
		{"all one fails", `filters: [{all: [{exact: {team: platform}}, {suffix: {type: .pull}}]}]`, false},
		{"any", `filters: [{any: [{exact: {team: ops}}, {suffix: {type: .push}}]}]`, true},
		{"any none", `filters: [{any: [{exact: {team: ops}}, {suffix: {type: .pull}}]}]`, false},
		{"not", `filters: [{not: {exact: {team: ops}}}]`, true},
		{"not of a match", `filters: [{not: {exact: {team: platform}}}]`, false},
		{"cesql true", `filters: [{cesql: "type LIKE '%push' AND priority > 3"}]`, true},
		{"cesql false", `filters: [{cesql: "priority > 7"}]`, false},
		{"cesql error is false", `filters: [{cesql: "INT(team) = 1"}]`, false},
		{"filters replace filter", `{filter: {attributes: {team: ops}}, filters: [{exact: {team: platform}}]}`, true},
		{"several filters all pass", `filters: [{exact: {team: platform}}, {prefix: {source: "https://github.com/"}}]`, true},
		{"several filters one fails", `filters: [{exact: {team: platform}}, {prefix: {source: "http://"}}]`, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var spec eventing.TriggerSpec
			if err := yaml.UnmarshalStrict([]byte(c.spec), &spec); err != nil {
				t.Fatal(err)
			}
			f, err := ForTrigger(&spec)
			if err != nil {
				t.Fatal(err)
			}
			got := f == nil || f(testEvent())
			if got != c.want {
				t.Fatalf("passes = %v, want %v", got, c.want)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	if _, err := CESQL("type = "); err == nil {
		t.Fatal("a broken CESQL expression compiled")
	}
	if _, err := Compile(&eventing.SubscriptionsAPIFilter{Exact: map[string]string{"a": "1", "b": "2"}}); err == nil {
		t.Fatal("an exact filter with two attributes compiled")
	}
}
