package reconciler_test

import (
	"testing"

	"github.com/eddyplatform/eddy/api/kinds"
	"github.com/eddyplatform/eddy/control/reconciler"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

func TestClient(t *testing.T) {
	ctx := t.Context()
	client := reconciler.NewClient(openStore(t), kinds.NewRegistry())

	// Create defaults (stringData into data, type Opaque) and stamps the kind.
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "s", Labels: map[string]string{"tier": "web"}},
		StringData: map[string]string{"a": "1"},
	}
	if err := client.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	if s.APIVersion != "v1" || s.Kind != "Secret" || s.UID == "" || s.ResourceVersion == "" ||
		s.Type != corev1.SecretTypeOpaque || string(s.Data["a"]) != "1" || s.StringData != nil {
		t.Fatalf("created %+v", s)
	}
	if err := client.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "s"}}); !apierrors.IsAlreadyExists(err) {
		t.Errorf("second create: %v, want AlreadyExists", err)
	}
	bad := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "bad"}, Data: map[string][]byte{"no/slash": nil}}
	if err := client.Create(ctx, bad); !apierrors.IsInvalid(err) {
		t.Errorf("create with an invalid key: %v, want Invalid", err)
	}

	// Get replaces the whole object, also when reused.
	got := &corev1.Secret{Data: map[string][]byte{"stale": []byte("x")}}
	if err := client.Get(ctx, "default", "s", got); err != nil {
		t.Fatal(err)
	}
	if _, stale := got.Data["stale"]; stale || string(got.Data["a"]) != "1" {
		t.Errorf("Get kept stale data: %q", got.Data)
	}
	if err := client.Get(ctx, "default", "nope", got); !apierrors.IsNotFound(err) {
		t.Errorf("Get(nope): %v, want NotFound", err)
	}

	// Update with the current resourceVersion works; with a stale one it conflicts.
	stale := reconciler.DeepCopy(got)
	got.Data["b"] = []byte("2")
	if err := client.Update(ctx, got); err != nil {
		t.Fatal(err)
	}
	if got.ResourceVersion == stale.ResourceVersion {
		t.Error("Update did not return the new resourceVersion")
	}
	stale.Data["c"] = []byte("3")
	if err := client.Update(ctx, stale); !apierrors.IsConflict(err) {
		t.Errorf("stale update: %v, want Conflict", err)
	}

	// List filters by namespace and labels.
	if err := client.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "other", Name: "o"}}); err != nil {
		t.Fatal(err)
	}
	all, err := reconciler.List[*corev1.Secret](ctx, client, "", nil)
	if err != nil || names(all) != "default/s other/o" {
		t.Errorf("List(all) = %s, %v", names(all), err)
	}
	web, err := reconciler.List[*corev1.Secret](ctx, client, "", labels.SelectorFromSet(labels.Set{"tier": "web"}))
	if err != nil || names(web) != "default/s" {
		t.Errorf("List(tier=web) = %s, %v", names(web), err)
	}

	// Delete returns the last state.
	del := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "s"}}
	if err := client.Delete(ctx, del); err != nil || string(del.Data["b"]) != "2" {
		t.Fatalf("Delete: %v, last state %q", err, del.Data)
	}
	if err := client.Delete(ctx, del); !apierrors.IsNotFound(err) {
		t.Errorf("second delete: %v, want NotFound", err)
	}

	// Kinds the registry doesn't know are refused.
	if err := client.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "p"}}); err == nil {
		t.Error("created a Pod, which no registry kind describes")
	}
}
