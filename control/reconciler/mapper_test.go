package reconciler_test

import (
	"fmt"
	"testing"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/kinds"
	"github.com/eddyplatform/eddy/control/reconciler"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestMapToOwner(t *testing.T) {
	reg := kinds.NewRegistry()
	cmKind, _ := reg.ForGroupKind(schema.GroupKind{Kind: "ConfigMap"})
	nsKind, _ := reg.ForGroupKind(schema.GroupKind{Kind: "Namespace"})
	ref := func(apiVersion, kind, name string, controller bool) metav1.OwnerReference {
		return metav1.OwnerReference{APIVersion: apiVersion, Kind: kind, Name: name, UID: "u", Controller: &controller}
	}
	for _, tc := range []struct {
		name  string
		owner *api.Kind
		refs  []metav1.OwnerReference
		want  string
	}{
		{"controller owner", cmKind, []metav1.OwnerReference{ref("v1", "ConfigMap", "app", true)}, "[default/app]"},
		{"owner but not controller", cmKind, []metav1.OwnerReference{ref("v1", "ConfigMap", "app", false)}, "[]"},
		{"controller of another kind", cmKind, []metav1.OwnerReference{ref("apps/v1", "ConfigMap", "app", true)}, "[]"},
		{"no owner", cmKind, nil, "[]"},
		{"cluster-scoped owner", nsKind, []metav1.OwnerReference{ref("v1", "Namespace", "team", true)}, "[team]"},
	} {
		s := &corev1.Secret{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"}, ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "s", OwnerReferences: tc.refs}}
		u, err := api.ToUnstructured(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(reconciler.MapToOwner(tc.owner)(u)); got != tc.want {
			t.Errorf("%s: MapToOwner = %s, want %s", tc.name, got, tc.want)
		}
	}
}
