package reconcilertest

import (
	"fmt"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/control/reconciler"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// diffObjects describes every difference between the wanted and the written objects.
func diffObjects(reg *api.Registry, what string, want []api.Object, got []*unstructured.Unstructured) ([]string, error) {
	var out []string
	for i := 0; i < max(len(want), len(got)); i++ {
		var w map[string]any
		if i < len(want) {
			var err error
			if w, err = wanted(reg, want[i]); err != nil {
				return nil, err
			}
		}
		switch {
		case i >= len(got):
			out = append(out, fmt.Sprintf("missing %s #%d:\n%s", what, i+1, dump(w)))
		case i >= len(want):
			out = append(out, fmt.Sprintf("unexpected %s #%d:\n%s", what, i+1, dump(Normalize(got[i]))))
		default:
			if d := cmp.Diff(w, Normalize(got[i])); d != "" {
				out = append(out, fmt.Sprintf("%s #%d (%s) differs (-want +got):\n%s", what, i+1, api.Key(got[i]), d))
			}
		}
	}
	return out, nil
}

// diffStrings describes a difference between wanted and actual lines.
func diffStrings(what string, want, got []string) []string {
	if d := cmp.Diff(want, got, cmpopts.EquateEmpty()); d != "" {
		return []string{fmt.Sprintf("%ss differ (-want +got):\n%s", what, d)}
	}
	return nil
}

// wanted turns a wanted object into the form written objects are compared in: apiVersion and
// kind set, defaulted by its kind, normalized.
func wanted(reg *api.Registry, obj api.Object) (map[string]any, error) {
	c := reconciler.DeepCopy(obj)
	k, err := reg.ForObject(c)
	if err != nil {
		return nil, fmt.Errorf("wanted %T %s: %w", obj, api.Key(obj), err)
	}
	if api.GVK(c).Kind == "" {
		c.GetObjectKind().SetGroupVersionKind(k.StorageGVK())
	}
	if k.Default != nil && api.GVK(c) == k.StorageGVK() {
		k.Default(c)
	}
	u, err := api.ToUnstructured(c)
	if err != nil {
		return nil, err
	}
	return Normalize(u), nil
}

// Normalize returns a copy of u's content without what the store sets (metadata.uid,
// resourceVersion, creationTimestamp, generation, managedFields), without owner references'
// uids and conditions' lastTransitionTime, and without an empty status: the form Table
// compares objects in.
func Normalize(u *unstructured.Unstructured) map[string]any {
	m := u.DeepCopy().Object
	for _, f := range []string{"uid", "resourceVersion", "creationTimestamp", "generation", "managedFields"} {
		unstructured.RemoveNestedField(m, "metadata", f)
	}
	if refs, ok, _ := unstructured.NestedSlice(m, "metadata", "ownerReferences"); ok {
		for _, r := range refs {
			if r, ok := r.(map[string]any); ok {
				delete(r, "uid")
			}
		}
		_ = unstructured.SetNestedSlice(m, refs, "metadata", "ownerReferences")
	}
	if conds, ok, _ := unstructured.NestedSlice(m, "status", "conditions"); ok {
		for _, c := range conds {
			if c, ok := c.(map[string]any); ok {
				delete(c, "lastTransitionTime")
			}
		}
		_ = unstructured.SetNestedSlice(m, conds, "status", "conditions")
	}
	if s, ok := m["status"].(map[string]any); ok && len(s) == 0 {
		delete(m, "status")
	}
	if md, ok := m["metadata"].(map[string]any); ok && len(md) == 0 {
		delete(m, "metadata")
	}
	return m
}

func mustUnstructured(obj api.Object) *unstructured.Unstructured {
	u, err := api.ToUnstructured(obj)
	if err != nil {
		panic(fmt.Sprintf("reconcilertest: %v", err))
	}
	return u
}

func dump(m map[string]any) string {
	out, err := yaml.Marshal(m)
	if err != nil {
		return fmt.Sprint(m)
	}
	return string(out)
}
