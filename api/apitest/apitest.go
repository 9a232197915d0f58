// Package apitest holds the test helpers the API group packages share: strict decoding of
// testdata files, admission, and assertions on validation errors.
package apitest

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/eddyplatform/eddy/api"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// DecodeFile strictly decodes every document of a testdata file.
func DecodeFile(t testing.TB, reg *api.Registry, name string) []api.Object {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := reg.DecodeAll(data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return objs
}

// Admit decodes one YAML or JSON document and admits it.
func Admit(t testing.TB, reg *api.Registry, doc string) (api.Object, error) {
	t.Helper()
	objs, err := reg.DecodeAll([]byte(doc))
	if err != nil {
		t.Fatalf("decoding %s: %v", doc, err)
	}
	if len(objs) != 1 {
		t.Fatalf("%d objects in %s", len(objs), doc)
	}
	obj, _, err := reg.Admit(objs[0])
	return obj, err
}

// MustAdmit admits obj and checks that the stored form decodes back to the same object.
func MustAdmit(t testing.TB, reg *api.Registry, obj api.Object) api.Object {
	t.Helper()
	admitted, k, err := reg.Admit(obj)
	if err != nil {
		t.Fatalf("Admit %s %s: %v", api.GVK(obj).Kind, obj.GetName(), err)
	}
	u, err := api.ToUnstructured(admitted)
	if err != nil {
		t.Fatal(err)
	}
	back := k.NewStorage()
	if err := api.FromUnstructured(u, back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, admitted) {
		t.Fatalf("the stored form of %s differs:\n%#v\n%#v", obj.GetName(), back, admitted)
	}
	return admitted
}

// ExpectInvalid checks that err is an Invalid StatusError whose text contains each of want.
func ExpectInvalid(t testing.TB, name string, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: admitted, want errors %q", name, want)
		return
	}
	if !apierrors.IsInvalid(err) {
		t.Errorf("%s: %v is not Invalid", name, err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%s: %v\n  does not contain %q", name, err, w)
		}
	}
}
