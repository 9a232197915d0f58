package storetest

import (
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/eddyplatform/eddy/control/store"
)

// RunRestart checks durability: open must open the store kept in dir (creating it when
// empty). The suite opens the same directory several times, closing the store in between,
// and checks that every object survives as it was, pending deletions stay pending, deleted
// objects stay deleted, and the resourceVersion counter keeps increasing, even when the
// last change before a restart was a delete.
func RunRestart(t *testing.T, open func(t *testing.T, dir string) store.Store) {
	dir := t.TempDir()
	reopen := func() store.Store {
		t.Helper()
		return owned(t, open(t, dir))
	}

	// First run: a bit of everything.
	st := reopen()
	w := mustWatch(t, st, widgets, "", store.ListOptions{})
	a := mustCreate(t, st, widgets, withLabels(obj("x", "a", map[string]any{"size": int64(1)}), "app", "x"))
	a.Object["spec"] = map[string]any{"size": int64(2)}
	a = mustUpdate(t, st, widgets, a)
	a = mustUpdateStatus(t, st, widgets, withStatus(a, map[string]any{"phase": "Ready"}))
	mustCreate(t, st, gadgets, obj("", "g", map[string]any{"cluster": true}))
	held := obj("y", "held", nil)
	held.SetFinalizers([]string{"test.eddy.dev/hold"})
	mustCreate(t, st, widgets, held)
	held = mustDelete(t, st, widgets, "y", "held", store.DeleteOptions{})
	mustCreate(t, st, widgets, obj("x", "gone", nil))
	mustDelete(t, st, widgets, "x", "gone", store.DeleteOptions{}) // the last change: a delete
	// a: 3 events, held: 2, gone: 1, then gone's Deleted.
	for range 6 {
		w.next()
	}
	lastRV := rvOf(t, w.expect(watch.Deleted, "x", "gone"))
	widgetsBefore := mustList(t, st, widgets, "", store.ListOptions{})
	gadgetsBefore := mustList(t, st, gadgets, "", store.ListOptions{})
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	// Second run: everything is as it was.
	st = reopen()
	widgetsAfter := mustList(t, st, widgets, "", store.ListOptions{})
	sameItems(t, "widgets after a restart", widgetsAfter, widgetsBefore)
	sameItems(t, "gadgets after a restart", mustList(t, st, gadgets, "", store.ListOptions{}), gadgetsBefore)
	if r := rv(t, widgetsAfter.GetResourceVersion()); r < lastRV {
		t.Fatalf("list after a restart has rv %d, before the last change's %d", r, lastRV)
	}
	mustSameJSON(t, "a after a restart", mustGet(t, st, widgets, "x", "a"), a)
	mustSameJSON(t, "held after a restart", mustGet(t, st, widgets, "y", "held"), held)
	if _, err := st.Get(ctx, widgets, "x", "gone"); !apierrors.IsNotFound(err) {
		t.Fatalf("deleted object after a restart: %v, want NotFound", err)
	}

	// A client that listed before the restart can watch from that list, or is told to
	// list again.
	var fromOldList *watcher
	if old, err := st.Watch(ctx, widgets, "", store.ListOptions{ResourceVersion: widgetsBefore.GetResourceVersion()}); err == nil {
		fromOldList = &watcher{t: t, w: old}
		t.Cleanup(old.Stop)
	} else if !apierrors.IsResourceExpired(err) {
		t.Fatalf("Watch from the version listed before the restart: %v, want success or Expired", err)
	}
	fromList := mustWatch(t, st, widgets, "", store.ListOptions{ResourceVersion: widgetsAfter.GetResourceVersion()})
	all := mustWatch(t, st, widgets, "", store.ListOptions{})
	for range widgetsAfter.Items {
		all.next()
	}
	n := mustCreate(t, st, widgets, obj("x", "new", nil))
	if rvOf(t, n) <= lastRV {
		t.Fatalf("first write after a restart got rv %s, not after the last change's %d", n.GetResourceVersion(), lastRV)
	}
	mustSameJSON(t, "watch from a list after the restart", fromList.expect(watch.Added, "x", "new"), n)
	all.expect(watch.Added, "x", "new")
	if fromOldList != nil {
		fromOldList.expect(watch.Added, "x", "new")
	}

	// The pending deletion completes after the restart.
	done := mustGet(t, st, widgets, "y", "held")
	done.SetFinalizers(nil)
	mustUpdate(t, st, widgets, done)
	del := fromList.expect(watch.Deleted, "y", "held")
	if _, err := st.Get(ctx, widgets, "y", "held"); !apierrors.IsNotFound(err) {
		t.Fatalf("held after its finalizer went: %v, want NotFound", err)
	}
	lastRV = rvOf(t, del)
	beforeThird := mustList(t, st, widgets, "", store.ListOptions{})
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	// Third run: the counter still goes on from where it was.
	st = reopen()
	sameItems(t, "widgets after a second restart", mustList(t, st, widgets, "", store.ListOptions{}), beforeThird)
	g := mustGet(t, st, gadgets, "", "g")
	g = mustUpdate(t, st, gadgets, withLabels(g, "after", "restart"))
	if rvOf(t, g) <= lastRV {
		t.Fatalf("write after a second restart got rv %s, not after %d", g.GetResourceVersion(), lastRV)
	}
	if g.GetGeneration() != 1 {
		t.Fatalf("label change after a restart bumped the generation to %d", g.GetGeneration())
	}
}

func sameItems(t *testing.T, what string, got, want *unstructured.UnstructuredList) {
	t.Helper()
	if len(got.Items) != len(want.Items) {
		t.Fatalf("%s: %d objects, want %d", what, len(got.Items), len(want.Items))
	}
	for i := range got.Items {
		mustSameJSON(t, what, &got.Items[i], &want.Items[i])
	}
}
