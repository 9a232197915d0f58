package api_test

import (
	"testing"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/kinds"
)

// FuzzDecodeAdmit feeds arbitrary bytes through the path every object takes into the store:
// decoding, conversion, defaulting and validation must never panic, and an admitted object must
// survive the round trip through the store's unstructured form.
func FuzzDecodeAdmit(f *testing.F) {
	reg := kinds.NewRegistry()
	for _, seed := range []string{
		`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"data":{"k":"v"}}`,
		"apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {a: b}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: n}\n",
		`{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Event","metadata":{"name":"e"}}]}`,
		`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","labels":{"x":"y"}},"binaryData":{"b":"AAE="}}`,
		"- 1\n- 2\n",
		"{",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, _ := reg.DecodeAll(data)
		for _, o := range objs {
			admitted, k, err := reg.Admit(o)
			if err != nil {
				continue
			}
			u, err := api.ToUnstructured(admitted)
			if err != nil {
				t.Fatalf("admitted object does not encode: %v", err)
			}
			back := k.NewStorage()
			if err := api.FromUnstructured(u, back); err != nil {
				t.Fatalf("admitted object does not decode from its stored form: %v", err)
			}
			if back.GetName() != admitted.GetName() {
				t.Fatalf("name changed in the round trip: %q → %q", admitted.GetName(), back.GetName())
			}
		}
	})
}
