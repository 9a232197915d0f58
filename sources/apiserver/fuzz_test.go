package apiserver

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// FuzzMakeEvent feeds objects as the API server might send them (any JSON) to makeEvent: it
// must not panic, and an event it makes must be valid, with Knative's subject prefix and the
// object's identity in its extensions.
func FuzzMakeEvent(f *testing.F) {
	for _, name := range []string{
		"knative-docs-apiserversource-2019-ce0.2-resource.add.data.json",
		"knative-docs-apiserversource-v1-resource.update.data.json",
		"knative-docs-legacy-kuberneteseventsource-2018.event1.Scheduled.json",
	} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, false)
		f.Add(b, true)
	}
	f.Add([]byte(`{"apiVersion":"apps","kind":"X","metadata":{"name":"a/b","namespace":""}}`), true)
	f.Add([]byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"n","namespace":"ns"},"data":{"k":"\u0000"}}`), false)
	f.Fuzz(func(t *testing.T, b []byte, ref bool) {
		var u unstructured.Unstructured
		if err := u.UnmarshalJSON(b); err != nil {
			return
		}
		ev, err := makeEvent("https://127.0.0.1:6443", opUpdate, ref, &u, time.Unix(0, 0))
		if err != nil {
			return
		}
		if err := ev.Validate(); err != nil {
			t.Fatalf("invalid event: %v", err)
		}
		if !strings.HasPrefix(ev.Subject(), "/apis/") {
			t.Fatalf("subject %q", ev.Subject())
		}
		if ev.Extensions()["name"] != u.GetName() || ev.Extensions()["kind"] != u.GetKind() {
			t.Fatalf("extensions %v for %s %s", ev.Extensions(), u.GetKind(), u.GetName())
		}
		if !json.Valid(ev.Data()) {
			t.Fatalf("data is not JSON: %q", ev.Data())
		}
	})
}

// FuzzFindKind feeds discovery documents to findKind: it must not panic, and a resource it
// finds must be a top-level resource of the kind asked for.
func FuzzFindKind(f *testing.F) {
	f.Add([]byte(`{"kind":"APIResourceList","groupVersion":"v1","resources":[{"name":"pods","namespaced":true,"kind":"Pod","verbs":["list","watch"]},{"name":"pods/log","kind":"Pod","verbs":["get"]}]}`), "Pod")
	f.Add([]byte(`{"resources":[{"name":"","kind":"X","verbs":["list","watch"]}]}`), "X")
	f.Add([]byte(`null`), "")
	f.Fuzz(func(t *testing.T, doc []byte, kind string) {
		r, err := findKind(doc, schema.GroupVersion{Group: "g", Version: "v1"}, kind)
		if err != nil {
			return
		}
		if r.kind != kind || r.gvr.Resource == "" || strings.Contains(r.gvr.Resource, "/") || r.gvr.Group != "g" {
			t.Fatalf("findKind gave %+v for kind %q", r, kind)
		}
	})
}
