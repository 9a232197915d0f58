package apiserver

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestSelfLink(t *testing.T) {
	for _, tc := range []struct{ apiVersion, kind, ns, name, want string }{
		{"v1", "ConfigMap", "ns", "cm", "/apis/v1/namespaces/ns/configmaps/cm"},
		{"v1", "Event", "default", "busybox.159d7608e3a3572c", "/apis/v1/namespaces/default/events/busybox.159d7608e3a3572c"},
		{"v1", "Pod", "default", "busybox", "/apis/v1/namespaces/default/pods/busybox"},
		{"v1", "Endpoints", "ns", "svc", "/apis/v1/namespaces/ns/endpoints/svc"},
		{"apps/v1", "Deployment", "ns", "d", "/apis/apps/v1/namespaces/ns/deployments/d"},
		{"networking.k8s.io/v1", "Ingress", "ns", "i", "/apis/networking.k8s.io/v1/namespaces/ns/ingresses/i"},
		{"networking.k8s.io/v1", "NetworkPolicy", "ns", "p", "/apis/networking.k8s.io/v1/namespaces/ns/networkpolicies/p"},
		{"events.k8s.io/v1", "Event", "ns", "e", "/apis/events.k8s.io/v1/namespaces/ns/events/e"},
		{"serving.knative.dev/v1alpha1", "Revision", "apiserversource-example", "dummy-jpqgr", "/apis/serving.knative.dev/v1alpha1/namespaces/apiserversource-example/revisions/dummy-jpqgr"},
		// Knative's quirks, kept: a bare group, and cluster-scoped objects.
		{"serving.knative.dev", "Revision", "ns", "r", "/apis/serving.knative.dev/versionUnknown/namespaces/ns/revisions/r"},
		{"v1", "Namespace", "", "kube-system", "/apis/v1/namespaces//namespaces/kube-system"},
	} {
		if got := selfLink(tc.apiVersion, tc.kind, tc.ns, tc.name); got != tc.want {
			t.Errorf("selfLink(%s, %s, %s, %s) = %q, want %q", tc.apiVersion, tc.kind, tc.ns, tc.name, got, tc.want)
		}
	}
}

func readObject(t *testing.T, file string) *unstructured.Unstructured {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	// Not UnmarshalJSON, which insists on a kind: the 2018 recordings have none.
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return &unstructured.Unstructured{Object: m}
}

// displayed is an event as Knative's event-display printed it.
type displayed struct {
	attrs map[string]string // context attributes, lower-cased names
	exts  map[string]string
}

// readDisplay parses event-display output: "Context Attributes," then "  name: value" lines,
// then "Extensions," (CloudEvents 1.0) or an "Extensions:" block inside the attributes (0.2).
func readDisplay(t *testing.T, file string) displayed {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d := displayed{attrs: map[string]string{}, exts: map[string]string{}}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "Context Attributes,":
			section = "attrs"
			continue
		case trimmed == "Extensions," || trimmed == "Extensions:":
			section = "exts"
			continue
		case strings.HasSuffix(trimmed, ",") && !strings.HasPrefix(line, " "):
			section = "" // Transport Context, Data, ...
			continue
		}
		name, value, ok := strings.Cut(trimmed, ": ")
		if !ok || section == "" {
			continue
		}
		name = strings.ToLower(name)
		if section == "attrs" {
			d.attrs[name] = value
		} else {
			d.exts[name] = value
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return d
}

// The 2019 recording is self-consistent: rebuilding its event from its data gives its type,
// source, subject and data.
func TestMakeEventRecorded2019(t *testing.T) {
	obj := readObject(t, "knative-docs-apiserversource-2019-ce0.2-resource.add.data.json")
	rec := readDisplay(t, "knative-docs-apiserversource-2019-ce0.2-resource.add.event-display.txt")
	now := time.Date(2019, 5, 10, 23, 27, 6, 695575294, time.UTC)
	ev, err := makeEvent(rec.attrs["source"], opAdd, false, obj, now)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Type() != rec.attrs["type"] || ev.Source() != rec.attrs["source"] || ev.Subject() != rec.exts["subject"] {
		t.Errorf("event %s %s %s; recorded %s %s %s", ev.Type(), ev.Source(), ev.Subject(), rec.attrs["type"], rec.attrs["source"], rec.exts["subject"])
	}
	if ev.DataContentType() != rec.attrs["contenttype"] {
		t.Errorf("datacontenttype %q, recorded %q", ev.DataContentType(), rec.attrs["contenttype"])
	}
	if !ev.Time().Equal(now) {
		t.Errorf("time %v, want %v", ev.Time(), now)
	}
	want, _ := os.ReadFile(filepath.Join("testdata", "knative-docs-apiserversource-2019-ce0.2-resource.add.data.json"))
	assertSameJSON(t, ev.Data(), want)
	wantExt := map[string]any{"kind": "Event", "name": "busybox.159d7608e3a3572c", "namespace": "default", "apiversion": "v1"}
	if !reflect.DeepEqual(ev.Extensions(), wantExt) {
		t.Errorf("extensions %v, want %v", ev.Extensions(), wantExt)
	}
}

// The v1 recording: the same attributes and extensions (apiversion came later, in Knative
// 1.9), the same subject form, the same data shape.
func TestMakeEventRecordedV1Shape(t *testing.T) {
	obj := readObject(t, "knative-docs-apiserversource-v1-resource.update.data.json")
	rec := readDisplay(t, "knative-docs-apiserversource-v1-resource.update.event-display.txt")
	ev, err := makeEvent(rec.attrs["source"], opUpdate, false, obj, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var gotAttrs []string
	for _, name := range []string{"specversion", "type", "source", "subject", "id", "time", "datacontenttype", "dataschema"} {
		if v := attribute(&ev, name); v != "" {
			gotAttrs = append(gotAttrs, name)
		}
	}
	var recAttrs []string
	for name := range rec.attrs {
		recAttrs = append(recAttrs, name)
	}
	slices.Sort(gotAttrs)
	slices.Sort(recAttrs)
	if !slices.Equal(gotAttrs, recAttrs) {
		t.Errorf("attributes %v, recorded %v", gotAttrs, recAttrs)
	}
	for name := range rec.exts {
		if _, ok := ev.Extensions()[name]; !ok {
			t.Errorf("extension %s recorded but not set", name)
		}
	}
	if len(ev.Extensions()) != len(rec.exts)+1 || ev.Extensions()["apiversion"] != "v1" {
		t.Errorf("extensions %v; want the recorded %v and apiversion", ev.Extensions(), rec.exts)
	}
	if ev.Type() != rec.attrs["type"] || ev.SpecVersion() != rec.attrs["specversion"] || ev.DataContentType() != rec.attrs["datacontenttype"] {
		t.Errorf("type %s specversion %s datacontenttype %s; recorded %v", ev.Type(), ev.SpecVersion(), ev.DataContentType(), rec.attrs)
	}
	if !sameShape(ev.Subject(), rec.attrs["subject"]) {
		t.Errorf("subject %s is not shaped like the recorded %s", ev.Subject(), rec.attrs["subject"])
	}
	want, _ := os.ReadFile(filepath.Join("testdata", "knative-docs-apiserversource-v1-resource.update.data.json"))
	assertSameJSON(t, ev.Data(), want)
}

// sameShape compares two subjects segment by segment, except the namespace and name.
func sameShape(a, b string) bool {
	as, bs := strings.Split(a, "/"), strings.Split(b, "/")
	if len(as) != len(bs) || len(as) != 7 {
		return false
	}
	for i := range as {
		if i != 4 && i != 6 && as[i] != bs[i] {
			return false
		}
	}
	return true
}

func attribute(ev *event.Event, name string) string {
	switch name {
	case "specversion":
		return ev.SpecVersion()
	case "type":
		return ev.Type()
	case "source":
		return ev.Source()
	case "subject":
		return ev.Subject()
	case "id":
		return ev.ID()
	case "time":
		if ev.Time().IsZero() {
			return ""
		}
		return ev.Time().String()
	case "datacontenttype":
		return ev.DataContentType()
	case "dataschema":
		return ev.DataSchema()
	}
	return ""
}

func assertSameJSON(t *testing.T, got, want []byte) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("data is not JSON: %v: %s", err, got)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("data\n%s\nwant\n%s", got, want)
	}
}

func TestMakeEventReference(t *testing.T) {
	obj := readObject(t, "knative-docs-legacy-kuberneteseventsource-2018.event1.Scheduled.json")
	obj.SetAPIVersion("v1")
	obj.SetKind("Event")
	for o, typ := range map[op]string{
		opAdd:    "dev.knative.apiserver.ref.add",
		opUpdate: "dev.knative.apiserver.ref.update",
		opDelete: "dev.knative.apiserver.ref.delete",
	} {
		ev, err := makeEvent("https://10.96.0.1:443", o, true, obj, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if ev.Type() != typ {
			t.Errorf("type %s, want %s", ev.Type(), typ)
		}
		if want := `{"kind":"Event","namespace":"default","name":"busybox.15644359eaa4d8e7","apiVersion":"v1"}`; string(ev.Data()) != want {
			t.Errorf("data %s, want %s", ev.Data(), want)
		}
	}
	obj.SetKind("")
	if _, err := makeEvent("https://x", opAdd, true, obj, time.Now()); err == nil {
		t.Error("an object without a kind made an event")
	}
}

func TestFindKind(t *testing.T) {
	doc := []byte(`{"kind":"APIResourceList","groupVersion":"v1","resources":[
		{"name":"pods","namespaced":true,"kind":"Pod","verbs":["create","get","list","watch"]},
		{"name":"pods/status","namespaced":true,"kind":"Pod","verbs":["get","patch"]},
		{"name":"namespaces","namespaced":false,"kind":"Namespace","verbs":["get","list","watch"]},
		{"name":"bindings","namespaced":true,"kind":"Binding","verbs":["create"]}]}`)
	gv := schema.GroupVersion{Version: "v1"}
	for _, tc := range []struct {
		kind, resource string
		namespaced     bool
		err            string
	}{
		{kind: "Pod", resource: "pods", namespaced: true},
		{kind: "Namespace", resource: "namespaces"},
		{kind: "Binding", err: "cannot be listed and watched"},
		{kind: "Nope", err: "serves no kind Nope"},
	} {
		got, err := findKind(doc, gv, tc.kind)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("findKind(%s) err = %v, want %q", tc.kind, err, tc.err)
			}
			continue
		}
		if err != nil || got.gvr.Resource != tc.resource || got.namespaced != tc.namespaced {
			t.Errorf("findKind(%s) = %+v, %v", tc.kind, got, err)
		}
	}
	if _, err := findKind([]byte("<html>"), gv, "Pod"); err == nil {
		t.Error("HTML accepted as a discovery document")
	}
}
