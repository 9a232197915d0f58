package api_test

import (
	"strings"
	"testing"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/kinds"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

func TestDecodeAllMultiDocumentYAMLAndList(t *testing.T) {
	reg := kinds.NewRegistry()
	objs, err := reg.DecodeAll([]byte(`
apiVersion: v1
kind: ConfigMap
metadata: {name: a}
data: {k: v}
---
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Namespace
  metadata: {name: ns1}
- {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"x": "y"}}
`))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range objs {
		got = append(got, api.GVK(o).Kind+"/"+o.GetName())
	}
	if want := "ConfigMap/a Namespace/ns1 Secret/s"; strings.Join(got, " ") != want {
		t.Fatalf("decoded %v, want %s", got, want)
	}
	if cm := objs[0].(*corev1.ConfigMap); cm.Data["k"] != "v" {
		t.Fatalf("data not decoded: %+v", cm.Data)
	}
}

func TestDecodeNamesUnknownFieldPath(t *testing.T) {
	reg := kinds.NewRegistry()
	cases := map[string]string{
		`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"dta":{}}`:               `unknown field "dta"`,
		`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","lables":{}}}`:            `unknown field "metadata.lables"`,
		`{"apiVersion":"v1","kind":"Event","metadata":{"name":"a"},"involvedObject":{"nme":1}}`: `unknown field "involvedObject.nme"`,
		`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"data":{},"data":{}}`:    `duplicate field "data"`,
		`{"kind":"ConfigMap","metadata":{"name":"a"}}`:                                          `apiVersion: Required value`,
		`{"apiVersion":"v1","kind":"Gadget"}`:                                                   `no kind "Gadget"`,
		`{"apiVersion":"v9","kind":"ConfigMap"}`:                                                `has no version "v9"`,
	}
	for doc, want := range cases {
		_, err := reg.Decode([]byte(doc))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Decode(%s) = %v, want an error containing %q", doc, err, want)
		}
		if err != nil && !apierrors.IsBadRequest(err) {
			t.Errorf("Decode(%s): %v is not a BadRequest", doc, err)
		}
	}
}

func TestAdmitValidatesWithFieldPaths(t *testing.T) {
	reg := kinds.NewRegistry()
	cases := map[string]string{
		`{"apiVersion":"v1","kind":"ConfigMap","metadata":{}}`:                                           `metadata.name: Required value`,
		`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"Bad_Name"}}`:                          `metadata.name: Invalid value: "Bad_Name"`,
		`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"data":{"bad key":"v"}}`:          `data[bad key]: Invalid value`,
		`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","labels":{"a":"bad value!"}}}`:     `metadata.labels: Invalid value: "bad value!"`,
		`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"a","namespace":"x"}}`:                 `metadata.namespace: Forbidden`,
		`{"apiVersion":"v1","kind":"Event","metadata":{"name":"a","namespace":"x"},"involvedObject":{}}`: `involvedObject.name: Required value`,
	}
	for doc, want := range cases {
		obj, err := reg.Decode([]byte(doc))
		if err != nil {
			t.Fatalf("Decode(%s): %v", doc, err)
		}
		_, _, err = reg.Admit(obj)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Admit(%s) = %v, want an error containing %q", doc, err, want)
		}
		if err != nil && !apierrors.IsInvalid(err) {
			t.Errorf("Admit(%s): %v is not Invalid", doc, err)
		}
	}
}

func TestAdmitDefaultsSecretStringData(t *testing.T) {
	reg := kinds.NewRegistry()
	obj, err := reg.Decode([]byte(`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},"stringData":{"token":"hunter2"}}`))
	if err != nil {
		t.Fatal(err)
	}
	admitted, k, err := reg.Admit(obj)
	if err != nil {
		t.Fatal(err)
	}
	s := admitted.(*corev1.Secret)
	if string(s.Data["token"]) != "hunter2" || s.StringData != nil || s.Type != corev1.SecretTypeOpaque {
		t.Fatalf("secret not defaulted: %+v", s)
	}
	u, err := api.ToUnstructured(s)
	if err != nil {
		t.Fatal(err)
	}
	k.Redact(u)
	if got := u.Object["data"].(map[string]any)["token"]; got != "[redacted: 7 bytes]" {
		t.Fatalf("Redact left %q", got)
	}
}

func TestResolveNames(t *testing.T) {
	reg := kinds.NewRegistry()
	for _, name := range []string{"configmap", "configmaps", "cm", "ConfigMap", "CM", "configmaps.", "configmap."} {
		k, err := reg.Resolve(name)
		if err != nil || k.Kind != "ConfigMap" {
			t.Errorf("Resolve(%q) = %v, %v", name, k, err)
		}
	}
	if _, err := reg.Resolve("gadgets"); err == nil {
		t.Error("Resolve(gadgets) found something")
	}
}
