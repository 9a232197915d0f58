package platformconf

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// sourceSpecs are the spec fields, besides spec.sink, that the source kinds Eddy knows need
// to be valid. They name nothing that answers (a Kafka broker at port 9, a GitHub API at port
// 9): the cases check the source duck shape, not the source's work. Kinds not listed get
// spec.sink alone.
var sourceSpecs = map[string][]string{
	"PingSource":      {`schedule: "*/1 * * * *"`, "data: conformance"},
	"ApiServerSource": {"resources: [{apiVersion: v1, kind: Event}]", "mode: Reference"},
	"KafkaSource":     {`bootstrapServers: ["127.0.0.1:9"]`, "topics: [conformance]"},
	"GitHubSource": {"ownerAndRepository: conformance/repository", "eventTypes: [push]",
		`githubAPIURL: "http://127.0.0.1:9/"`, "accessToken: {secretKeyRef: {name: conformance-github, key: token}}",
		"secretToken: {secretKeyRef: {name: conformance-github, key: secret}}"},
}

// sourceKinds returns the Source kinds the platform serves: those of group
// sources.knative.dev and those in discovery's category "sources". It fails the case when
// there are none.
func sourceKinds(t *caseT) []kind {
	t.Helper()
	ctx, cancel := t.ctx()
	defer cancel()
	data, err := t.env.c.do(ctx, http.MethodGet, "/apis", nil, "")
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	var groups metav1.APIGroupList
	if err := json.Unmarshal(data, &groups); err != nil {
		t.Fatalf("discovery: %v", err)
	}
	var kinds []kind
	for _, g := range groups.Groups {
		rs, err := t.env.c.resources(ctx, g.PreferredVersion.GroupVersion)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if !strings.Contains(r.Name, "/") && (g.Name == "sources.knative.dev" || slices.Contains(r.Categories, "sources")) {
				kinds = append(kinds, kind{g.PreferredVersion.GroupVersion, r.Kind})
			}
		}
	}
	if len(kinds) == 0 {
		t.Fatalf("the API serves no Source kinds (group sources.knative.dev, category sources): there is no source to check")
	}
	return kinds
}

// sourceYAML is a source of kind k named name with spec.sink at sink and extra spec fields.
func sourceYAML(k kind, name, sink string, extra ...string) string {
	fields := append([]string{"sink: " + uriDest(sink)}, sourceSpecs[k.Kind]...)
	return fmt.Sprintf("apiVersion: %s\nkind: %s\nmetadata: {name: %s}\n%s", k.APIVersion, k.Kind, q(name), specYAML(append(fields, extra...)...))
}

// conformanceGitHubSecret is the Secret GitHubSource's fields name.
const conformanceGitHubSecret = `apiVersion: v1
kind: Secret
metadata: {name: conformance-github}
stringData: {token: not-a-token, secret: not-a-secret}
`

// R55 (with R54): each Source kind the platform serves is a source duck: it publishes the
// resolved spec.sink in status.sinkUri and has a Ready (or Succeeded) condition.
func testSourceKinds(t *caseT) {
	kinds := sourceKinds(t)
	if _, err := t.tryApply(conformanceGitHubSecret); err != nil {
		t.Logf("creating the Secret GitHubSource names: %v", err)
	}
	s := t.newSink("sink", accept)
	for _, k := range kinds {
		t.Run(k.Kind, func(t *caseT) {
			name := strings.ToLower(k.Kind)
			if _, err := t.tryApply("%s", sourceYAML(k, name, s.URL)); err != nil {
				t.Fatalf("a %s with spec.sink and %v was refused: %v", k.Kind, sourceSpecs[k.Kind], err)
			}
			// A third of the timeout: resolving a uri sink takes a controller no time at all.
			deadline := time.Now().Add(t.Timeout() / 3)
			for {
				u, err := t.get(k, name)
				if err == nil && str(u, "status", "sinkUri") == s.URL && (cond(u, "Ready").present || cond(u, "Succeeded").present) {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("after %v, the %s does not publish status.sinkUri %q with a Ready or Succeeded condition: %s (%v)",
						t.Timeout()/3, k.Kind, s.URL, describe(u), err)
				}
				time.Sleep(50 * time.Millisecond) // polling the API
			}
		})
	}
}

// R56: a source's spec.ceOverrides.extensions may not override the required attributes.
func testSourceOverrides(t *caseT) {
	kinds := sourceKinds(t)
	if _, err := t.tryApply(conformanceGitHubSecret); err != nil {
		t.Logf("creating the Secret GitHubSource names: %v", err)
	}
	for _, k := range kinds {
		t.Run(k.Kind, func(t *caseT) {
			base := strings.ToLower(k.Kind)
			if _, err := t.tryApply("%s", sourceYAML(k, base+"-ok", "http://127.0.0.1:9/", "ceOverrides: {extensions: {confext: value}}")); err != nil {
				t.Fatalf("a %s overriding an extension was refused: %v", k.Kind, err)
			}
			for _, attr := range []string{"id", "source", "specversion", "type"} {
				_, err := t.tryApply("%s", sourceYAML(k, base+"-"+attr, "http://127.0.0.1:9/", "ceOverrides: {extensions: {"+attr+": forged}}"))
				rejected(t, fmt.Sprintf("a %s overriding %s", k.Kind, attr), err)
			}
		})
	}
}

// apiServerSource creates an ApiServerSource named name in mode (Reference or Resource)
// that watches the ConfigMaps of the case's namespace and sends to a new sink, with extra
// spec fields, and waits until it demonstrably watches: ConfigMaps named probe-<name>-N are
// created until the addition of one arrives (an adapter sends nothing for objects that exist
// when it starts, and a source may be Ready a moment before its watch is).
func apiServerSource(t *caseT, name, mode string, extra ...string) *sink {
	t.Helper()
	s := t.newSink(name, accept)
	fields := append([]string{"sink: " + uriDest(s.URL), "resources: [{apiVersion: v1, kind: ConfigMap}]", "mode: " + mode}, extra...)
	t.apply("apiVersion: sources.knative.dev/v1\nkind: ApiServerSource\nmetadata: {name: %s}\n%s", q(name), specYAML(fields...))
	t.ready(kind{"sources.knative.dev/v1", "ApiServerSource"}, name)
	deadline := time.Now().Add(t.Timeout())
	for n := 0; ; n++ {
		probe := fmt.Sprintf("probe-%s-%d", name, n)
		t.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s}\ndata: {probe: \"yes\"}\n", probe)
		if s.within(500*time.Millisecond, func(ds []*delivery) bool {
			return slices.ContainsFunc(ds, func(d *delivery) bool { return d.ext("name") == probe })
		}) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("the ApiServerSource %s sent no event for ConfigMaps created during %v: %s", name, t.Timeout(), s.summary())
		}
	}
}

// eventsFor returns the deliveries of a source's sink about the object named name.
func eventsFor(s *sink, name string) []*delivery {
	var out []*delivery
	for _, d := range s.all() {
		if d.ext("name") == name {
			out = append(out, d)
		}
	}
	return out
}

// configMapLife creates, updates and deletes ConfigMap name, and waits for a source's
// sink to have an event of each of the three types typePrefix+{add,update,delete}.
func configMapLife(t *caseT, s *sink, name, typePrefix string) map[string]*delivery {
	t.Helper()
	t.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s}\ndata: {step: one}\n", name)
	cmKind := kind{"v1", "ConfigMap"}
	t.update(cmKind, name, func(u *unstructured.Unstructured) {
		u.Object["data"] = map[string]any{"step": "two"}
	})
	t.remove(cmKind, name)
	byType := map[string]*delivery{}
	s.await(t, "add, update and delete events of ConfigMap "+name, func(ds []*delivery) bool {
		for _, d := range ds {
			if d.ext("name") == name && d.Event != nil {
				if _, ok := byType[d.Event.Type()]; !ok {
					byType[d.Event.Type()] = d
				}
			}
		}
		for _, op := range []string{"add", "update", "delete"} {
			if byType[typePrefix+op] == nil {
				return false
			}
		}
		return true
	})
	return byType
}

// R60: an ApiServerSource's events are dev.knative.apiserver.ref.{add,update,delete} in
// Reference mode, with an ObjectReference as data, and
// dev.knative.apiserver.resource.{add,update,delete} in Resource mode, with the object.
func testApiServerSourceTypes(t *caseT) {
	t.Run("Reference", func(t *caseT) {
		s := apiServerSource(t, "by-reference", "Reference")
		got := configMapLife(t, s, "watched-ref", "dev.knative.apiserver.ref.")
		for typ, d := range got {
			var ref map[string]any
			if err := json.Unmarshal(d.Event.Data(), &ref); err != nil {
				t.Errorf("%s: the data is not a JSON object reference: %v (%q)", typ, err, d.Event.Data())
				continue
			}
			want := map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "name": "watched-ref", "namespace": t.ns()}
			for k, v := range want {
				if ref[k] != v {
					t.Errorf("%s: data.%s is %v; want %v (data %s)", typ, k, ref[k], v, d.Event.Data())
				}
			}
		}
	})
	t.Run("Resource", func(t *caseT) {
		s := apiServerSource(t, "by-resource", "Resource")
		got := configMapLife(t, s, "watched-res", "dev.knative.apiserver.resource.")
		for typ, d := range got {
			var obj struct {
				Kind     string            `json:"kind"`
				Metadata metav1.ObjectMeta `json:"metadata"`
				Data     map[string]string `json:"data"`
			}
			if err := json.Unmarshal(d.Event.Data(), &obj); err != nil || obj.Kind != "ConfigMap" || obj.Metadata.Name != "watched-res" {
				t.Errorf("%s: the data is not the ConfigMap (%v): %s", typ, err, d.Event.Data())
			}
			if typ == "dev.knative.apiserver.resource.update" && obj.Data["step"] != "two" {
				t.Errorf("the update event carries data %v; want the updated object", obj.Data)
			}
		}
	})
}

// R61: an ApiServerSource's event has the API server's URL as source, the selfLink-like
// subject /apis/v1/namespaces/<ns>/configmaps/<name>, the extensions kind, apiversion, name
// and namespace, and datacontenttype application/json.
func testApiServerSourceAttributes(t *caseT) {
	s := apiServerSource(t, "attributes", "Reference")
	got := configMapLife(t, s, "attributed", "dev.knative.apiserver.ref.")
	d := got["dev.knative.apiserver.ref.add"]
	ev := d.Event
	if u, err := url.Parse(ev.Source()); err != nil || !u.IsAbs() || u.Host == "" {
		t.Errorf("source %q is not the API server's URL", ev.Source())
	}
	if want := "/apis/v1/namespaces/" + t.ns() + "/configmaps/attributed"; ev.Subject() != want {
		t.Errorf("subject %q; want %q", ev.Subject(), want)
	}
	for k, want := range map[string]string{"kind": "ConfigMap", "apiversion": "v1", "name": "attributed", "namespace": t.ns()} {
		if got := d.ext(k); got != want {
			t.Errorf("extension %s is %q; want %q", k, got, want)
		}
	}
	if ct := ev.DataContentType(); ct != "application/json" {
		t.Errorf("datacontenttype %q; want application/json", ct)
	}
}

// R59: a source sends CloudEvents 1.0 over HTTP (POST), binary or structured, to its sink.
func testSourceSendsCloudEvents(t *caseT) {
	s := apiServerSource(t, "sender", "Reference")
	for _, d := range s.all() {
		if d.Method != http.MethodPost {
			t.Errorf("the source sent with %s", d.Method)
		}
		if d.Judge.Err != nil {
			t.Errorf("the source sent an invalid CloudEvent: %v", d.Judge.Err)
		}
		if d.Event != nil && d.Event.SpecVersion() != "1.0" {
			t.Errorf("the source sent specversion %s", d.Event.SpecVersion())
		}
	}
}

// R56: spec.ceOverrides.extensions are set on every event a source sends.
func testSourceOverridesApplied(t *caseT) {
	s := apiServerSource(t, "overridden", "Reference", "ceOverrides: {extensions: {confext: conformance-value}}")
	for _, d := range s.all() {
		if got := d.ext("confext"); got != "conformance-value" {
			t.Errorf("an event of the source has confext %q; want conformance-value (ceOverrides)", got)
		}
	}
}
