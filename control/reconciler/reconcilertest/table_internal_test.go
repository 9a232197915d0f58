package reconcilertest

import (
	"strings"
	"testing"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/kinds"
	"github.com/eddyplatform/eddy/control/store"
	"github.com/eddyplatform/eddy/control/store/bolt"
	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func secret(name string, data map[string]string) *corev1.Secret {
	s := &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		StringData: data, // defaulted into data, as the store would
	}
	return s
}

// written returns obj as a reconciler would have written it: defaulted, with server-set
// metadata and an owner reference with a uid.
func written(t *testing.T, obj api.Object) *unstructured.Unstructured {
	t.Helper()
	reg := kinds.NewRegistry()
	admitted, _, err := reg.Admit(obj)
	if err != nil {
		t.Fatal(err)
	}
	admitted.SetUID("1234")
	admitted.SetResourceVersion("42")
	admitted.SetGeneration(3)
	admitted.SetCreationTimestamp(metav1.Now())
	u, err := api.ToUnstructured(admitted)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestCheckIgnoresServerFields(t *testing.T) {
	owned := secret("a", map[string]string{"k": "v"})
	controller := true
	owned.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: "a", UID: "owner-uid", Controller: &controller}}
	want := secret("a", map[string]string{"k": "v"})
	want.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: "a", Controller: &controller}}
	row := Row{WantCreates: []api.Object{want}, WantEvents: []string{"Normal Created ok"}}
	problems, err := row.check(kinds.NewRegistry(), Actions{
		Creates: []*unstructured.Unstructured{written(t, owned)},
		Events:  []string{"Normal Created ok"},
	})
	if err != nil || len(problems) != 0 {
		t.Fatalf("problems: %v, %v", problems, err)
	}
}

func TestCheckReportsDifferences(t *testing.T) {
	row := Row{
		WantCreates: []api.Object{secret("a", map[string]string{"k": "v"}), secret("b", nil)},
		WantUpdates: nil,
		WantDeletes: []string{"secrets default/c"},
		WantEvents:  []string{"Normal Created ok"},
	}
	problems, err := row.check(kinds.NewRegistry(), Actions{
		Creates: []*unstructured.Unstructured{written(t, secret("a", map[string]string{"k": "w"}))},
		Updates: []*unstructured.Unstructured{written(t, secret("x", nil))},
		Events:  []string{"Warning Failed no"},
	})
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(problems, "\n")
	for _, want := range []string{
		"create #1 (default/a) differs", // with a diff of the data
		`"k"`,
		"missing create #2",
		"unexpected update #1",
		"deletes differ",
		"secrets default/c",
		"events differ",
		"Warning Failed no",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("the report lacks %q:\n%s", want, all)
		}
	}
}

func TestNormalize(t *testing.T) {
	u := &unstructured.Unstructured{Object: map[string]any{
		"metadata": map[string]any{
			"name": "a", "uid": "u", "resourceVersion": "1", "generation": int64(2),
			"creationTimestamp": "2026-01-01T00:00:00Z", "managedFields": []any{},
			"ownerReferences": []any{map[string]any{"name": "o", "uid": "x"}},
		},
		"status": map[string]any{
			"conditions": []any{map[string]any{"type": "Ready", "lastTransitionTime": "2026-01-01T00:00:00Z"}},
		},
	}}
	got := Normalize(u)
	want := map[string]any{
		"metadata": map[string]any{"name": "a", "ownerReferences": []any{map[string]any{"name": "o"}}},
		"status":   map[string]any{"conditions": []any{map[string]any{"type": "Ready"}}},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Normalize (-want +got):\n%s", d)
	}
	if _, ok := u.Object["metadata"].(map[string]any)["uid"]; !ok {
		t.Error("Normalize changed its argument")
	}
}

func TestRecordingStore(t *testing.T) {
	ctx := t.Context()
	st, err := bolt.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rec := NewRecordingStore(st, "delete  secrets")
	secrets := store.Resource{Resource: "secrets"}
	if _, err := rec.Create(ctx, secrets, written(t, secret("a", nil))); err != nil {
		t.Fatal(err)
	}
	ev := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Event",
		"metadata": map[string]any{"namespace": "default", "name": "a.1"},
		"type":     "Normal", "reason": "Created", "message": "created a",
	}}
	if _, err := rec.Create(ctx, eventsResource, ev); err != nil {
		t.Fatal(err)
	}
	if _, err := rec.Delete(ctx, secrets, "default", "a", store.DeleteOptions{}); !apierrors.IsInternalError(err) {
		t.Fatalf("induced delete failure: %v", err)
	}
	if _, err := st.Get(ctx, secrets, "default", "a"); err != nil {
		t.Errorf("the failed delete reached the store: %v", err)
	}
	got := rec.Actions()
	if len(got.Creates) != 1 || got.Creates[0].GetName() != "a" ||
		strings.Join(got.Deletes, ",") != "secrets default/a" ||
		strings.Join(got.Events, ",") != "Normal Created created a" {
		t.Errorf("recorded %+v", got)
	}
}
