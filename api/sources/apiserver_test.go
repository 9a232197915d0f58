package sources_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eddyplatform/eddy/api/sources"
)

func TestKnativeDocsApiServerSource(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "knative-docs-apiserversource.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := reg.DecodeAll(data)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = reg.Admit(objs[0])
	expectInvalid(t, "placeholders", err, `metadata.name: Invalid value: "<apiserversource-name>"`, `metadata.namespace: Invalid value: "<namespace>"`)

	filled := strings.NewReplacer("<apiserversource-name>", "testevents", "<namespace>", "apiserversource-example", "<service-account>", "events-sa").Replace(string(data))
	objs, err = reg.DecodeAll([]byte(filled))
	if err != nil {
		t.Fatal(err)
	}
	s := mustAdmit(t, objs[0]).(*sources.ApiServerSource)
	if s.Spec.EventMode != sources.ResourceMode || s.Spec.ServiceAccountName != "events-sa" || s.Spec.Sink.Ref.Namespace != "apiserversource-example" {
		t.Errorf("spec %+v", s.Spec)
	}
	attrs := s.CloudEventAttributes("https://10.96.0.1:443")
	if len(attrs) != 3 || attrs[2].Type != "dev.knative.apiserver.resource.update" || attrs[2].Source != "https://10.96.0.1:443" {
		t.Errorf("ceAttributes %v", attrs)
	}
}

const apiBase = `
apiVersion: sources.knative.dev/v1
kind: ApiServerSource
metadata: {name: a, namespace: ns}
spec:
  resources:
  - {apiVersion: v1, kind: Pod, selector: {matchLabels: {app: myapp}}}
  - {apiVersion: apps/v1, kind: Deployment}
  sink: {ref: {apiVersion: v1, kind: Service, name: event-display}}
`

func TestApiServerSourceDefaults(t *testing.T) {
	obj, err := admit(t, apiBase)
	if err != nil {
		t.Fatal(err)
	}
	s := obj.(*sources.ApiServerSource)
	if s.Spec.EventMode != sources.ReferenceMode || s.Spec.ServiceAccountName != "default" {
		t.Errorf("not defaulted: %+v", s.Spec)
	}
	if types := s.Spec.EventTypes(); types[0] != "dev.knative.apiserver.ref.add" {
		t.Errorf("reference mode types %v", types)
	}
	// v1beta1 is served with v1's schema and stored as v1.
	obj, err = admit(t, strings.Replace(apiBase, "sources.knative.dev/v1", "sources.knative.dev/v1beta1", 1))
	if err != nil {
		t.Fatal(err)
	}
	if v := obj.GetObjectKind().GroupVersionKind().Version; v != "v1" {
		t.Errorf("stored as %s", v)
	}
	// Every option of the reference page at once.
	full := strings.Replace(apiBase, "spec:\n", `spec:
  mode: Resource
  owner: {apiVersion: apps/v1, kind: Deployment}
  namespaceSelector: {matchExpressions: [{key: environment, operator: In, values: [production, development]}]}
  ceOverrides: {extensions: {extra: this is an extra attribute}}
  filters: [{prefix: {type: dev.knative.apiserver.resource}}]
`, 1)
	if _, err := admit(t, full); err != nil {
		t.Fatal(err)
	}
}

func TestApiServerSourceValidation(t *testing.T) {
	cases := map[string]struct {
		from, to string
		want     []string
	}{
		"bad mode":           {"spec:\n", "spec:\n  mode: Everything\n", []string{`spec.mode: Unsupported value: "Everything"`}},
		"no resources":       {"  - {apiVersion: v1, kind: Pod, selector: {matchLabels: {app: myapp}}}\n  - {apiVersion: apps/v1, kind: Deployment}\n", "", []string{"spec.resources: Required value"}},
		"no kind":            {"{apiVersion: apps/v1, kind: Deployment}", "{apiVersion: apps/v1, kind: ' '}", []string{"spec.resources[1].kind: Required value"}},
		"no apiVersion":      {"{apiVersion: apps/v1, kind: Deployment}", "{kind: Deployment}", []string{"spec.resources[1].apiVersion: Required value"}},
		"bad apiVersion":     {"apiVersion: apps/v1, kind: Deployment", "apiVersion: a/b/c, kind: Deployment", []string{`spec.resources[1].apiVersion: Invalid value: "a/b/c"`}},
		"bad selector":       {"{matchLabels: {app: myapp}}", "{matchExpressions: [{key: app, operator: Near}]}", []string{"spec.resources[0].selector.matchExpressions[0].operator: Invalid value"}},
		"bad label":          {"{app: myapp}", "{app: 'my app'}", []string{"spec.resources[0].selector.matchLabels: Invalid value"}},
		"owner without kind": {"spec:\n", "spec:\n  owner: {apiVersion: apps/v1, kind: ''}\n", []string{"spec.owner.kind: Required value"}},
		"bad ns selector":    {"spec:\n", "spec:\n  namespaceSelector: {matchExpressions: [{key: env, operator: In}]}\n", []string{"spec.namespaceSelector.matchExpressions[0].values: Required value"}},
		"bad filter":         {"spec:\n", "spec:\n  filters: [{exact: {}}]\n", []string{"spec.filters[0].exact"}},
		"no sink":            {"  sink: {ref: {apiVersion: v1, kind: Service, name: event-display}}\n", "", []string{"spec.sink: Required value"}},
		"relative sink":      {"sink: {ref: {apiVersion: v1, kind: Service, name: event-display}}", "sink: {uri: /events}", []string{`spec.sink.uri: Invalid value: "/events"`}},
	}
	for name, c := range cases {
		if !strings.Contains(apiBase, c.from) {
			t.Fatalf("%s: %q not in the base document", name, c.from)
		}
		_, err := admit(t, strings.Replace(apiBase, c.from, c.to, 1))
		expectInvalid(t, name, err, c.want...)
	}
}

func TestApiServerSourceConditions(t *testing.T) {
	var s sources.ApiServerSourceStatus
	s.InitializeConditions()
	s.MarkSink("http://event-display.ns.svc.cluster.local")
	s.MarkDeploying("Starting", "the adapter is starting")
	if c := s.GetCondition("Ready"); c.Status != "Unknown" || c.Reason != "Starting" {
		t.Fatalf("Ready %+v", c)
	}
	s.MarkDeployed()
	s.MarkSufficientPermissions()
	if !s.IsReady() {
		t.Fatalf("not ready: %+v", s.Conditions)
	}
	s.MarkNoSufficientPermissions("Forbidden", "cannot watch %s", "pods")
	if c := s.GetCondition("Ready"); !c.IsFalse() || c.Message != "cannot watch pods" {
		t.Fatalf("Ready %+v", c)
	}
	s.MarkSufficientPermissions()
	s.MarkNotDeployed("Crashed", "the watch ended")
	s.MarkNoSink("NotFound", "gone")
	if s.IsReady() || s.SinkURI != "" || s.GetCondition("Deployed").Reason != "Crashed" {
		t.Fatalf("%+v", s)
	}
}
