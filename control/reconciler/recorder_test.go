package reconciler_test

import (
	"testing"
	"time"

	"github.com/eddyplatform/eddy/api/kinds"
	"github.com/eddyplatform/eddy/control/reconciler"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestRecorder(t *testing.T) {
	ctx := t.Context()
	client := reconciler.NewClient(openStore(t), kinds.NewRegistry())
	rec := reconciler.NewRecorder(client, "tester")
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	rec.Now = func() time.Time { return now }

	cm := configMap("app", nil)
	if err := client.Create(ctx, cm); err != nil {
		t.Fatal(err)
	}
	rec.Event(ctx, cm, reconciler.EventNormal, "Synced", "all good")
	now = now.Add(time.Minute)
	rec.Eventf(ctx, cm, reconciler.EventNormal, "Synced", "all %s", "good")
	rec.Event(ctx, cm, reconciler.EventWarning, "Failed", "it broke")

	evs, err := reconciler.List[*corev1.Event](ctx, client, "default", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 {
		t.Fatalf("%d events, want 2 (a repeat bumps the count): %+v", len(evs), evs)
	}
	byReason := map[string]*corev1.Event{}
	for _, ev := range evs {
		byReason[ev.Reason] = ev
	}
	synced := byReason["Synced"]
	if synced == nil || synced.Count != 2 || synced.Type != corev1.EventTypeNormal || synced.Message != "all good" ||
		!synced.FirstTimestamp.Time.Equal(now.Add(-time.Minute)) || !synced.LastTimestamp.Time.Equal(now) {
		t.Errorf("Synced event = %+v", synced)
	}
	want := corev1.ObjectReference{APIVersion: "v1", Kind: "ConfigMap", Namespace: "default", Name: "app", UID: cm.UID}
	if synced.InvolvedObject != want || synced.Source.Component != "tester" {
		t.Errorf("Synced event is about %+v from %+v", synced.InvolvedObject, synced.Source)
	}
	if failed := byReason["Failed"]; failed == nil || failed.Count != 1 || failed.Type != corev1.EventTypeWarning {
		t.Errorf("Failed event = %+v", failed)
	}

	// Events about cluster-scoped objects go to the default namespace.
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"}}
	if err := client.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	rec.Event(ctx, ns, reconciler.EventNormal, "Hello", "namespace seen")
	evs, _ = reconciler.List[*corev1.Event](ctx, client, "default", nil)
	if len(evs) != 3 {
		t.Errorf("%d events after the namespace's, want 3", len(evs))
	}
}
