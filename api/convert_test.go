package api_test

import (
	"strings"
	"testing"

	"github.com/eddyplatform/eddy/api"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// gadgetV1 is the stored version of a test kind; gadgetV0 an older served version with a
// differently named field.
type gadgetV1 struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              struct {
		Size  int    `json:"size"`
		Color string `json:"color,omitempty"`
	} `json:"spec"`
}

type gadgetV0 struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              struct {
		Bigness int `json:"bigness"`
	} `json:"spec"`
}

func gadgetRegistry() *api.Registry {
	r := api.NewRegistry()
	r.Register(&api.Kind{
		Group: "test.eddy.dev", Kind: "Gadget", Plural: "gadgets", Singular: "gadget", Namespaced: true,
		Versions: []api.Version{
			{Name: "v1", Storage: true, New: func() api.Object { return &gadgetV1{} }},
			{Name: "v0", New: func() api.Object { return &gadgetV0{} },
				Validate: func(o api.Object) field.ErrorList {
					if o.(*gadgetV0).Spec.Bigness < 0 {
						return field.ErrorList{field.Invalid(field.NewPath("spec", "bigness"), o.(*gadgetV0).Spec.Bigness, "must not be negative")}
					}
					return nil
				},
				ToStorage: func(o api.Object) (api.Object, error) {
					old := o.(*gadgetV0)
					g := &gadgetV1{ObjectMeta: old.ObjectMeta}
					g.Spec.Size = old.Spec.Bigness
					return g, nil
				}},
		},
		Default: func(o api.Object) {
			if g := o.(*gadgetV1); g.Spec.Color == "" {
				g.Spec.Color = "grey"
			}
		},
		Validate: func(o api.Object) field.ErrorList {
			if o.(*gadgetV1).Spec.Size > 10 {
				return field.ErrorList{field.Invalid(field.NewPath("spec", "size"), o.(*gadgetV1).Spec.Size, "at most 10")}
			}
			return nil
		},
	})
	return r
}

func TestAdmitConvertsOlderVersionsToStorage(t *testing.T) {
	reg := gadgetRegistry()
	obj, err := reg.Decode([]byte("{\"apiVersion\":\"test.eddy.dev/v0\",\"kind\":\"Gadget\",\"metadata\":{\"name\":\"g\"},\"spec\":{\"bigness\":3}}"))
	if err != nil {
		t.Fatal(err)
	}
	admitted, k, err := reg.Admit(obj)
	if err != nil {
		t.Fatal(err)
	}
	g, ok := admitted.(*gadgetV1)
	if !ok || g.Spec.Size != 3 || g.Spec.Color != "grey" || g.Name != "g" {
		t.Fatalf("admitted %#v", admitted)
	}
	if gvk := api.GVK(g); gvk.Version != "v1" || k.StorageVersion().Name != "v1" {
		t.Fatalf("stored as %v", gvk)
	}
	// The old version's own rules name the old field; the stored version's rules run after
	// conversion.
	for doc, want := range map[string]string{
		`{"apiVersion":"test.eddy.dev/v0","kind":"Gadget","metadata":{"name":"g"},"spec":{"bigness":-1}}`: "spec.bigness: Invalid value: -1",
		`{"apiVersion":"test.eddy.dev/v0","kind":"Gadget","metadata":{"name":"g"},"spec":{"bigness":11}}`: "spec.size: Invalid value: 11",
	} {
		obj, err := reg.Decode([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := reg.Admit(obj); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Admit(%s) = %v, want %q", doc, err, want)
		}
	}
	if _, err := reg.ForObject(&gadgetV1{}); err != nil {
		t.Fatalf("ForObject by Go type: %v", err)
	}
}
