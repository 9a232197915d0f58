package storetest

import (
	"context"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/eddyplatform/eddy/control/store"
)

var ctx = context.Background()

// Create sets uid, creationTimestamp, generation 1 and a resourceVersion, and Get returns
// what Create returned.
func testCreate(t *testing.T, c *config) {
	st := c.open(t)
	in := withLabels(obj("ns1", "a", map[string]any{"size": int64(1), "tags": []any{"x", "y"}}), "app", "x")
	in.SetAnnotations(map[string]string{"note": "hello"})
	out := mustCreate(t, st, widgets, in.DeepCopy())
	if out.GetName() != "a" || out.GetNamespace() != "ns1" {
		t.Fatalf("created %s/%s, want ns1/a", out.GetNamespace(), out.GetName())
	}
	if out.GetGeneration() != 1 {
		t.Errorf("generation = %d, want 1", out.GetGeneration())
	}
	if rvOf(t, out) == 0 {
		t.Errorf("resourceVersion = 0, want a new version")
	}
	if !reflect.DeepEqual(out.GetLabels(), in.GetLabels()) || !reflect.DeepEqual(out.GetAnnotations(), in.GetAnnotations()) {
		t.Errorf("labels/annotations = %v/%v, want %v/%v", out.GetLabels(), out.GetAnnotations(), in.GetLabels(), in.GetAnnotations())
	}
	if !sameValue(specOf(out), specOf(in)) {
		t.Errorf("spec = %v, want %v", specOf(out), specOf(in))
	}
	if out.GetAPIVersion() != "test.eddy.dev/v1" || out.GetKind() != "Widget" {
		t.Errorf("apiVersion/kind = %s/%s, want test.eddy.dev/v1 Widget", out.GetAPIVersion(), out.GetKind())
	}
	if ts := out.GetCreationTimestamp().Time; time.Since(ts) > time.Hour || time.Until(ts) > time.Hour {
		t.Errorf("creationTimestamp %v is not now", ts)
	}
	mustSameJSON(t, "Get after Create", mustGet(t, st, widgets, "ns1", "a"), out)

	// The same name in another namespace is another object.
	other := mustCreate(t, st, widgets, obj("ns2", "a", nil))
	if other.GetUID() == out.GetUID() {
		t.Errorf("two objects share uid %s", out.GetUID())
	}
	if rvOf(t, other) <= rvOf(t, out) {
		t.Errorf("second create got resourceVersion %s, not after %s", other.GetResourceVersion(), out.GetResourceVersion())
	}
}

// Create fails with AlreadyExists when the name is taken, and changes nothing.
func testCreateAlreadyExists(t *testing.T, c *config) {
	st := c.open(t)
	first := mustCreate(t, st, widgets, obj("ns", "a", map[string]any{"v": "first"}))
	_, err := st.Create(ctx, widgets, obj("ns", "a", map[string]any{"v": "second"}))
	wantErr(t, "second Create", err, apierrors.IsAlreadyExists, "AlreadyExists")
	wantDetails(t, err, widgets, "a")
	mustSameJSON(t, "object after the failed Create", mustGet(t, st, widgets, "ns", "a"), first)

	mustCreate(t, st, gadgets, obj("", "g", nil))
	_, err = st.Create(ctx, gadgets, obj("", "g", nil))
	wantErr(t, "second cluster-scoped Create", err, apierrors.IsAlreadyExists, "AlreadyExists")
	// Other resources are other name spaces.
	mustCreate(t, st, gadgets, obj("", "a", nil))
}

var suffixRE = regexp.MustCompile(`^[a-z0-9]{5}$`)

// An empty name with generateName gets the prefix plus five random letters or digits.
func testGenerateName(t *testing.T, c *config) {
	st := c.open(t)
	names := map[string]bool{}
	for range 20 {
		in := obj("ns", "", map[string]any{"x": int64(1)})
		in.SetGenerateName("w-")
		out := mustCreate(t, st, widgets, in)
		name := out.GetName()
		if !strings.HasPrefix(name, "w-") || !suffixRE.MatchString(strings.TrimPrefix(name, "w-")) {
			t.Fatalf("generated name %q is not w- plus five lower-case letters or digits", name)
		}
		if names[name] {
			t.Fatalf("name %q generated twice", name)
		}
		names[name] = true
		mustSameJSON(t, "Get of the generated name", mustGet(t, st, widgets, "ns", name), out)
	}
	if n := len(mustList(t, st, widgets, "ns", store.ListOptions{}).Items); n != 20 {
		t.Fatalf("listed %d objects, want 20", n)
	}
}

// Get, Update, UpdateStatus and Delete of a missing object fail with NotFound naming it.
func testNotFound(t *testing.T, c *config) {
	st := c.open(t)
	_, err := st.Get(ctx, widgets, "ns", "missing")
	wantErr(t, "Get in an empty store", err, apierrors.IsNotFound, "NotFound")
	wantDetails(t, err, widgets, "missing")

	mustCreate(t, st, widgets, obj("ns", "a", nil))
	for _, tc := range []struct {
		what     string
		res      store.Resource
		ns, name string
	}{
		{"another name", widgets, "ns", "b"},
		{"another namespace", widgets, "other", "a"},
		{"cluster scope", widgets, "", "a"},
		{"another resource", gadgets, "ns", "a"},
	} {
		_, err := st.Get(ctx, tc.res, tc.ns, tc.name)
		wantErr(t, "Get of "+tc.what, err, apierrors.IsNotFound, "NotFound")
		wantDetails(t, err, tc.res, tc.name)
	}
	_, err = st.Update(ctx, widgets, obj("ns", "b", nil))
	wantErr(t, "Update of a missing object", err, apierrors.IsNotFound, "NotFound")
	wantDetails(t, err, widgets, "b")
	_, err = st.UpdateStatus(ctx, widgets, obj("other", "a", nil))
	wantErr(t, "UpdateStatus of a missing object", err, apierrors.IsNotFound, "NotFound")
	_, err = st.Delete(ctx, widgets, "ns", "b", store.DeleteOptions{})
	wantErr(t, "Delete of a missing object", err, apierrors.IsNotFound, "NotFound")
	wantDetails(t, err, widgets, "b")
}

// Cluster-scoped objects live under namespace "".
func testClusterScoped(t *testing.T, c *config) {
	st := c.open(t)
	g := mustCreate(t, st, gadgets, obj("", "g", map[string]any{"v": "1"}))
	if g.GetNamespace() != "" {
		t.Fatalf("cluster-scoped object got namespace %q", g.GetNamespace())
	}
	mustSameJSON(t, "Get", mustGet(t, st, gadgets, "", "g"), g)
	u := g.DeepCopy()
	u.Object["spec"] = map[string]any{"v": "2"}
	u = mustUpdate(t, st, gadgets, u)
	l := mustList(t, st, gadgets, "", store.ListOptions{})
	if len(l.Items) != 1 || !sameJSON(&l.Items[0], u) {
		t.Fatalf("List = %v, want just %v", l.Items, u.Object)
	}
	mustDelete(t, st, gadgets, "", "g", store.DeleteOptions{})
	if _, err := st.Get(ctx, gadgets, "", "g"); !apierrors.IsNotFound(err) {
		t.Fatalf("Get after Delete: %v, want NotFound", err)
	}
}

// List filters by namespace, sorts by namespace and name, and returns the store's
// resourceVersion at the time of the read.
func testList(t *testing.T, c *config) {
	st := c.open(t)
	empty := mustList(t, st, widgets, "", store.ListOptions{})
	if len(empty.Items) != 0 {
		t.Fatalf("empty store lists %d objects", len(empty.Items))
	}
	// "a-b" sorts after "a" although "a-b/…" sorts before "a/…".
	for _, k := range [][2]string{{"b", "z"}, {"a", "y"}, {"a-b", "x"}, {"a", "x"}, {"a", "x-1"}} {
		mustCreate(t, st, widgets, obj(k[0], k[1], nil))
	}
	g1 := mustCreate(t, st, gadgets, obj("", "g1", nil))
	g0 := mustCreate(t, st, gadgets, obj("", "g0", nil))
	last := mustCreate(t, st, widgets, obj("c", "last", nil))

	check := func(res store.Resource, ns string, want ...string) *unstructured.UnstructuredList {
		t.Helper()
		l := mustList(t, st, res, ns, store.ListOptions{})
		var got []string
		for i := range l.Items {
			it := &l.Items[i]
			got = append(got, it.GetNamespace()+"/"+it.GetName())
			mustSameJSON(t, "listed object", it, mustGet(t, st, res, it.GetNamespace(), it.GetName()))
			if rvOf(t, it) > rv(t, l.GetResourceVersion()) {
				t.Fatalf("listed object has resourceVersion %s, after the list's %s", it.GetResourceVersion(), l.GetResourceVersion())
			}
		}
		if !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Fatalf("List %s in %q = %v, want %v", res, ns, got, want)
		}
		return l
	}
	check(widgets, "a", "a/x", "a/x-1", "a/y")
	check(widgets, "a-b", "a-b/x")
	check(widgets, "nothing-here")
	all := check(widgets, "", "a/x", "a/x-1", "a/y", "a-b/x", "b/z", "c/last")
	check(gadgets, "", "/g0", "/g1")
	if rv(t, all.GetResourceVersion()) < rvOf(t, last) {
		t.Fatalf("list resourceVersion %s is before the last write %s", all.GetResourceVersion(), last.GetResourceVersion())
	}
	// The version is store-wide: a list of gadgets is at least as new as the last widget.
	gl := mustList(t, st, gadgets, "", store.ListOptions{})
	if rvOf(t, g0) <= rvOf(t, g1) {
		t.Fatalf("gadget g0 created after g1 got resourceVersion %s, not after %s", g0.GetResourceVersion(), g1.GetResourceVersion())
	}
	if rv(t, gl.GetResourceVersion()) < rvOf(t, last) {
		t.Fatalf("gadget list resourceVersion %s is before the last widget write %s", gl.GetResourceVersion(), last.GetResourceVersion())
	}
	// A resource never written to lists empty, still with a resourceVersion.
	nothing := mustList(t, st, store.Resource{Group: "test.eddy.dev", Resource: "unused"}, "", store.ListOptions{})
	if len(nothing.Items) != 0 || rv(t, nothing.GetResourceVersion()) < rvOf(t, last) {
		t.Fatalf("unused resource: %d items, resourceVersion %s", len(nothing.Items), nothing.GetResourceVersion())
	}
	// A later write is after the list.
	if after := mustCreate(t, st, widgets, obj("a", "z", nil)); rvOf(t, after) <= rv(t, all.GetResourceVersion()) {
		t.Fatalf("write after a list got resourceVersion %s, not after %s", after.GetResourceVersion(), all.GetResourceVersion())
	}
}

// List keeps only objects matching the label selector.
func testListLabelSelector(t *testing.T, c *config) {
	st := c.open(t)
	mustCreate(t, st, widgets, withLabels(obj("a", "web", nil), "app", "x", "tier", "web"))
	mustCreate(t, st, widgets, withLabels(obj("a", "db", nil), "app", "y"))
	mustCreate(t, st, widgets, obj("a", "bare", nil))
	mustCreate(t, st, widgets, withLabels(obj("b", "web", nil), "app", "x"))
	for _, tc := range []struct {
		ns, selector string
		want         []string
	}{
		{"a", "app=x", []string{"web"}},
		{"", "app=x", []string{"web", "web"}},
		{"a", "app in (x,y)", []string{"db", "web"}},
		{"a", "app", []string{"db", "web"}},
		{"a", "!app", []string{"bare"}},
		{"a", "app!=x", []string{"bare", "db"}},
		{"a", "app=x,tier=web", []string{"web"}},
		{"a", "app=z", nil},
		{"a", "", []string{"bare", "db", "web"}},
	} {
		sel, err := labels.Parse(tc.selector)
		if err != nil {
			t.Fatal(err)
		}
		l := mustList(t, st, widgets, tc.ns, store.ListOptions{LabelSelector: sel})
		var got []string
		for _, it := range l.Items {
			got = append(got, it.GetName())
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("List in %q with %q = %v, want %v", tc.ns, tc.selector, got, tc.want)
		}
	}
	if n := len(mustList(t, st, widgets, "", store.ListOptions{LabelSelector: nil}).Items); n != 4 {
		t.Errorf("nil selector listed %d objects, want 4", n)
	}
}

// Objects passed in and handed out are not the store's own: changing them changes nothing.
func testReturnedObjectsArePrivate(t *testing.T, c *config) {
	st := c.open(t)
	in := obj("ns", "a", map[string]any{"v": "original"})
	out := mustCreate(t, st, widgets, in)
	want := out.DeepCopy()
	in.Object["spec"].(map[string]any)["v"] = "changed input"
	out.Object["spec"].(map[string]any)["v"] = "changed output"
	got := mustGet(t, st, widgets, "ns", "a")
	mustSameJSON(t, "object after changing Create's input and output", got, want)
	got.SetLabels(map[string]string{"changed": "get"})
	l := mustList(t, st, widgets, "", store.ListOptions{})
	l.Items[0].Object["spec"] = "changed list"
	mustSameJSON(t, "object after changing Get's and List's output", mustGet(t, st, widgets, "ns", "a"), want)
}

// Update needs the stored resourceVersion, or none at all; a stale one is a Conflict.
func testUpdate(t *testing.T, c *config) {
	st := c.open(t)
	created := mustCreate(t, st, widgets, obj("ns", "a", map[string]any{"size": int64(1)}))

	u := created.DeepCopy()
	u.Object["spec"] = map[string]any{"size": int64(2)}
	updated := mustUpdate(t, st, widgets, u)
	if rvOf(t, updated) <= rvOf(t, created) || nestedInt(t, updated, "spec", "size") != 2 {
		t.Fatalf("Update returned rv %s size %v, want rv after %s and size 2", updated.GetResourceVersion(), specOf(updated), created.GetResourceVersion())
	}
	mustSameJSON(t, "Get after Update", mustGet(t, st, widgets, "ns", "a"), updated)

	stale := created.DeepCopy()
	stale.Object["spec"] = map[string]any{"size": int64(3)}
	_, err := st.Update(ctx, widgets, stale)
	wantErr(t, "Update with a stale resourceVersion", err, apierrors.IsConflict, "Conflict")
	wantDetails(t, err, widgets, "a")
	future := updated.DeepCopy()
	future.SetResourceVersion("999999999")
	future.Object["spec"] = map[string]any{"size": int64(3)}
	_, err = st.Update(ctx, widgets, future)
	wantErr(t, "Update with a resourceVersion from the future", err, apierrors.IsConflict, "Conflict")
	mustSameJSON(t, "object after the conflicts", mustGet(t, st, widgets, "ns", "a"), updated)

	blind := created.DeepCopy()
	blind.SetResourceVersion("")
	blind.Object["spec"] = map[string]any{"size": int64(4)}
	blindOut := mustUpdate(t, st, widgets, blind)
	if rvOf(t, blindOut) <= rvOf(t, updated) || nestedInt(t, blindOut, "spec", "size") != 4 {
		t.Fatalf("unconditional Update returned rv %s spec %v", blindOut.GetResourceVersion(), specOf(blindOut))
	}
	mustSameJSON(t, "Get after the unconditional Update", mustGet(t, st, widgets, "ns", "a"), blindOut)
}

// The generation counts spec changes only.
func testGeneration(t *testing.T, c *config) {
	st := c.open(t)
	cur := mustCreate(t, st, widgets, obj("ns", "a", map[string]any{"size": int64(1)}))
	step := func(what string, wantGen int64, change func(u *unstructured.Unstructured) *unstructured.Unstructured) {
		t.Helper()
		next := change(cur.DeepCopy())
		if next.GetGeneration() != wantGen {
			t.Fatalf("after %s: generation %d, want %d", what, next.GetGeneration(), wantGen)
		}
		if rvOf(t, next) <= rvOf(t, cur) {
			t.Fatalf("after %s: resourceVersion %s, not after %s", what, next.GetResourceVersion(), cur.GetResourceVersion())
		}
		if got := mustGet(t, st, widgets, "ns", "a"); got.GetGeneration() != wantGen {
			t.Fatalf("after %s: stored generation %d, want %d", what, got.GetGeneration(), wantGen)
		}
		cur = next
	}
	step("a label change", 1, func(u *unstructured.Unstructured) *unstructured.Unstructured {
		u.SetLabels(map[string]string{"app": "x"})
		return mustUpdate(t, st, widgets, u)
	})
	step("an annotation change", 1, func(u *unstructured.Unstructured) *unstructured.Unstructured {
		u.SetAnnotations(map[string]string{"note": "x"})
		return mustUpdate(t, st, widgets, u)
	})
	step("a finalizer change", 1, func(u *unstructured.Unstructured) *unstructured.Unstructured {
		u.SetFinalizers([]string{"test.eddy.dev/f"})
		return mustUpdate(t, st, widgets, u)
	})
	step("a spec change", 2, func(u *unstructured.Unstructured) *unstructured.Unstructured {
		u.Object["spec"] = map[string]any{"size": int64(2)}
		return mustUpdate(t, st, widgets, u)
	})
	step("a status update", 2, func(u *unstructured.Unstructured) *unstructured.Unstructured {
		u.Object["status"] = map[string]any{"ready": true}
		return mustUpdateStatus(t, st, widgets, u)
	})
	step("a new top-level field", 3, func(u *unstructured.Unstructured) *unstructured.Unstructured {
		u.Object["data"] = map[string]any{"k": "v"}
		return mustUpdate(t, st, widgets, u)
	})
	step("a spec and label change at once", 4, func(u *unstructured.Unstructured) *unstructured.Unstructured {
		u.Object["spec"] = map[string]any{"size": int64(3)}
		u.SetLabels(map[string]string{"app": "y"})
		return mustUpdate(t, st, widgets, u)
	})
	step("removing the spec", 5, func(u *unstructured.Unstructured) *unstructured.Unstructured {
		delete(u.Object, "spec")
		return mustUpdate(t, st, widgets, u)
	})
}

// An update that changes nothing keeps the resourceVersion and emits no event.
func testNoOpUpdate(t *testing.T, c *config) {
	st := c.open(t)
	cur := mustCreate(t, st, widgets, withLabels(obj("ns", "a", map[string]any{"size": int64(1)}), "app", "x"))
	cur = mustUpdateStatus(t, st, widgets, withStatus(cur.DeepCopy(), map[string]any{"phase": "Ready"}))
	w := mustWatch(t, st, widgets, "", store.ListOptions{ResourceVersion: cur.GetResourceVersion()})

	same := func(what string, out *unstructured.Unstructured) {
		t.Helper()
		if out.GetResourceVersion() != cur.GetResourceVersion() || out.GetGeneration() != cur.GetGeneration() {
			t.Fatalf("%s changed resourceVersion/generation from %s/%d to %s/%d", what,
				cur.GetResourceVersion(), cur.GetGeneration(), out.GetResourceVersion(), out.GetGeneration())
		}
		mustSameJSON(t, what+": stored object", mustGet(t, st, widgets, "ns", "a"), cur)
	}
	same("Update with the stored object", mustUpdate(t, st, widgets, cur.DeepCopy()))
	blind := cur.DeepCopy()
	blind.SetResourceVersion("")
	same("unconditional Update with the stored object", mustUpdate(t, st, widgets, blind))
	statusOnly := withStatus(cur.DeepCopy(), map[string]any{"phase": "Ignored"})
	same("Update that changes only status (which Update keeps)", mustUpdate(t, st, widgets, statusOnly))
	same("UpdateStatus with the stored status", mustUpdateStatus(t, st, widgets, cur.DeepCopy()))
	noMeta := cur.DeepCopy()
	noMeta.SetLabels(map[string]string{"app": "x"})
	same("Update with equal labels", mustUpdate(t, st, widgets, noMeta))

	// No event for any of that: the next event is this change.
	changed := cur.DeepCopy()
	changed.SetLabels(map[string]string{"app": "y"})
	changed = mustUpdate(t, st, widgets, changed)
	if ev := w.expect(watch.Modified, "ns", "a"); ev.GetResourceVersion() != changed.GetResourceVersion() {
		t.Fatalf("first event after the no-op updates has resourceVersion %s, want %s", ev.GetResourceVersion(), changed.GetResourceVersion())
	}
}

func withStatus(u *unstructured.Unstructured, status map[string]any) *unstructured.Unstructured {
	u.Object["status"] = status
	return u
}

// Update replaces everything but status, which stays as stored.
func testUpdateKeepsStatus(t *testing.T, c *config) {
	st := c.open(t)
	cur := mustCreate(t, st, widgets, obj("ns", "a", map[string]any{"size": int64(1)}))
	cur = mustUpdateStatus(t, st, widgets, withStatus(cur.DeepCopy(), map[string]any{"phase": "A"}))

	u := withStatus(cur.DeepCopy(), map[string]any{"phase": "B"})
	u.Object["spec"] = map[string]any{"size": int64(2)}
	out := mustUpdate(t, st, widgets, u)
	if p, _, _ := unstructured.NestedString(out.Object, "status", "phase"); p != "A" {
		t.Fatalf("Update changed status.phase to %q, want the stored A", p)
	}
	if nestedInt(t, out, "spec", "size") != 2 {
		t.Fatalf("Update didn't change the spec: %v", specOf(out))
	}
	mustSameJSON(t, "Get after Update", mustGet(t, st, widgets, "ns", "a"), out)

	u = out.DeepCopy()
	delete(u.Object, "status")
	u.Object["spec"] = map[string]any{"size": int64(3)}
	out = mustUpdate(t, st, widgets, u)
	if p, _, _ := unstructured.NestedString(out.Object, "status", "phase"); p != "A" {
		t.Fatalf("Update without status dropped the stored status: %v", out.Object["status"])
	}
	mustSameJSON(t, "Get after Update without status", mustGet(t, st, widgets, "ns", "a"), out)
}

// UpdateStatus replaces only status, keeps the generation, and follows the
// resourceVersion rule.
func testUpdateStatus(t *testing.T, c *config) {
	st := c.open(t)
	created := mustCreate(t, st, widgets, withLabels(obj("ns", "a", map[string]any{"size": int64(1)}), "app", "x"))
	u := withStatus(created.DeepCopy(), map[string]any{"ready": true, "count": int64(1)})
	u.Object["spec"] = map[string]any{"size": int64(99)}
	u.SetLabels(map[string]string{"app": "changed"})
	u.SetAnnotations(map[string]string{"changed": "yes"})
	out := mustUpdateStatus(t, st, widgets, u)
	if nestedInt(t, out, "spec", "size") != 1 || !reflect.DeepEqual(out.GetLabels(), created.GetLabels()) || len(out.GetAnnotations()) != 0 {
		t.Fatalf("UpdateStatus changed more than status: spec %v labels %v annotations %v", specOf(out), out.GetLabels(), out.GetAnnotations())
	}
	if ready, _, _ := unstructured.NestedBool(out.Object, "status", "ready"); !ready || nestedInt(t, out, "status", "count") != 1 {
		t.Fatalf("UpdateStatus didn't set the status: %v", out.Object["status"])
	}
	if out.GetGeneration() != created.GetGeneration() {
		t.Fatalf("UpdateStatus changed the generation from %d to %d", created.GetGeneration(), out.GetGeneration())
	}
	if rvOf(t, out) <= rvOf(t, created) {
		t.Fatalf("UpdateStatus resourceVersion %s is not after %s", out.GetResourceVersion(), created.GetResourceVersion())
	}
	mustSameJSON(t, "Get after UpdateStatus", mustGet(t, st, widgets, "ns", "a"), out)

	_, err := st.UpdateStatus(ctx, widgets, withStatus(created.DeepCopy(), map[string]any{"ready": false}))
	wantErr(t, "UpdateStatus with a stale resourceVersion", err, apierrors.IsConflict, "Conflict")
	wantDetails(t, err, widgets, "a")
	mustSameJSON(t, "object after the conflict", mustGet(t, st, widgets, "ns", "a"), out)

	blind := withStatus(created.DeepCopy(), map[string]any{"ready": false})
	blind.SetResourceVersion("")
	blindOut := mustUpdateStatus(t, st, widgets, blind)
	if ready, found, _ := unstructured.NestedBool(blindOut.Object, "status", "ready"); !found || ready {
		t.Fatalf("unconditional UpdateStatus didn't set the status: %v", blindOut.Object["status"])
	}
	if _, found := blindOut.Object["status"].(map[string]any)["count"]; found {
		t.Fatalf("UpdateStatus merged the statuses instead of replacing: %v", blindOut.Object["status"])
	}
	mustSameJSON(t, "Get after the unconditional UpdateStatus", mustGet(t, st, widgets, "ns", "a"), blindOut)
}

// uid and creationTimestamp can't be changed: an Update that tries either keeps them or
// fails (Conflict, Invalid or BadRequest); one that omits them keeps them.
func testImmutableMetadata(t *testing.T, c *config) {
	st := c.open(t)
	created := mustCreate(t, st, widgets, obj("ns", "a", map[string]any{"size": int64(1)}))
	check := func(what string, u *unstructured.Unstructured) {
		t.Helper()
		if u.GetUID() != created.GetUID() || !u.GetCreationTimestamp().Time.Equal(created.GetCreationTimestamp().Time) {
			t.Fatalf("%s: uid/creationTimestamp %s/%v, want %s/%v", what,
				u.GetUID(), u.GetCreationTimestamp(), created.GetUID(), created.GetCreationTimestamp())
		}
	}

	u := created.DeepCopy()
	u.SetUID("00000000-0000-0000-0000-000000000000")
	u.SetCreationTimestamp(metav1.NewTime(time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)))
	u.Object["spec"] = map[string]any{"size": int64(2)}
	out, err := st.Update(ctx, widgets, u)
	switch {
	case err == nil:
		check("Update returned", out)
	case apierrors.IsConflict(err) || apierrors.IsInvalid(err) || apierrors.IsBadRequest(err):
	default:
		t.Fatalf("Update changing uid and creationTimestamp: %v", err)
	}
	check("stored", mustGet(t, st, widgets, "ns", "a"))

	omitted := mustGet(t, st, widgets, "ns", "a")
	omitted.SetUID("")
	omitted.SetCreationTimestamp(metav1.Time{})
	omitted.Object["spec"] = map[string]any{"size": int64(3)}
	check("Update without uid and creationTimestamp returned", mustUpdate(t, st, widgets, omitted))
	check("stored after the update without them", mustGet(t, st, widgets, "ns", "a"))

	s := mustGet(t, st, widgets, "ns", "a")
	s.SetUID("00000000-0000-0000-0000-000000000000")
	s.SetCreationTimestamp(metav1.NewTime(time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)))
	if out, err := st.UpdateStatus(ctx, widgets, withStatus(s, map[string]any{"x": "y"})); err == nil {
		check("UpdateStatus returned", out)
	}
	check("stored after UpdateStatus", mustGet(t, st, widgets, "ns", "a"))
}

// Delete removes the object and returns its last state.
func testDelete(t *testing.T, c *config) {
	st := c.open(t)
	a := mustCreate(t, st, widgets, obj("ns", "a", map[string]any{"size": int64(1)}))
	a = mustUpdateStatus(t, st, widgets, withStatus(a, map[string]any{"phase": "Running"}))
	b := mustCreate(t, st, widgets, obj("ns", "b", nil))
	out := mustDelete(t, st, widgets, "ns", "a", store.DeleteOptions{})
	if out.GetName() != "a" || out.GetNamespace() != "ns" || out.GetUID() != a.GetUID() || !reflect.DeepEqual(specOf(out), specOf(a)) ||
		!reflect.DeepEqual(out.Object["status"], a.Object["status"]) {
		t.Fatalf("Delete returned %v, want the last state %v", out.Object, a.Object)
	}
	if _, err := st.Get(ctx, widgets, "ns", "a"); !apierrors.IsNotFound(err) {
		t.Fatalf("Get after Delete: %v, want NotFound", err)
	}
	l := mustList(t, st, widgets, "", store.ListOptions{})
	if len(l.Items) != 1 || l.Items[0].GetName() != "b" {
		t.Fatalf("List after Delete = %v, want only b", l.Items)
	}
	_, err := st.Delete(ctx, widgets, "ns", "a", store.DeleteOptions{})
	wantErr(t, "second Delete", err, apierrors.IsNotFound, "NotFound")
	// The name is free again, for a new object.
	again := mustCreate(t, st, widgets, obj("ns", "a", nil))
	if again.GetUID() == a.GetUID() || again.GetGeneration() != 1 || rvOf(t, again) <= rvOf(t, b) {
		t.Fatalf("re-created object: uid %s generation %d rv %s", again.GetUID(), again.GetGeneration(), again.GetResourceVersion())
	}
}

// Delete's resourceVersion and UID preconditions must hold, else Conflict.
func testDeletePreconditions(t *testing.T, c *config) {
	st := c.open(t)
	created := mustCreate(t, st, widgets, obj("ns", "a", nil))
	cur := created.DeepCopy()
	cur.SetLabels(map[string]string{"v": "2"})
	cur = mustUpdate(t, st, widgets, cur)
	for _, tc := range []struct {
		what string
		opts store.DeleteOptions
	}{
		{"a stale resourceVersion", store.DeleteOptions{ResourceVersion: created.GetResourceVersion()}},
		{"another UID", store.DeleteOptions{UID: "00000000-0000-0000-0000-000000000000"}},
		{"the right resourceVersion but another UID", store.DeleteOptions{ResourceVersion: cur.GetResourceVersion(), UID: "x"}},
		{"the right UID but a stale resourceVersion", store.DeleteOptions{ResourceVersion: created.GetResourceVersion(), UID: string(cur.GetUID())}},
	} {
		_, err := st.Delete(ctx, widgets, "ns", "a", tc.opts)
		wantErr(t, "Delete with "+tc.what, err, apierrors.IsConflict, "Conflict")
		mustSameJSON(t, "object after Delete with "+tc.what, mustGet(t, st, widgets, "ns", "a"), cur)
	}
	mustDelete(t, st, widgets, "ns", "a", store.DeleteOptions{ResourceVersion: cur.GetResourceVersion(), UID: string(cur.GetUID())})
	if _, err := st.Get(ctx, widgets, "ns", "a"); !apierrors.IsNotFound(err) {
		t.Fatalf("Get after Delete with the right preconditions: %v, want NotFound", err)
	}
}

// With finalizers, Delete only sets deletionTimestamp; the object goes away when an
// Update leaves the finalizers empty.
func testFinalizers(t *testing.T, c *config) {
	st := c.open(t)
	created := mustCreate(t, st, widgets, obj("ns", "a", map[string]any{"size": int64(1)}))
	held := created.DeepCopy()
	held.SetFinalizers([]string{"test.eddy.dev/one", "test.eddy.dev/two"})
	held = mustUpdate(t, st, widgets, held)
	w := mustWatch(t, st, widgets, "ns", store.ListOptions{ResourceVersion: held.GetResourceVersion()})

	marked := mustDelete(t, st, widgets, "ns", "a", store.DeleteOptions{})
	if marked.GetDeletionTimestamp() == nil || rvOf(t, marked) <= rvOf(t, held) {
		t.Fatalf("Delete of an object with finalizers returned deletionTimestamp %v rv %s", marked.GetDeletionTimestamp(), marked.GetResourceVersion())
	}
	got := mustGet(t, st, widgets, "ns", "a")
	mustSameJSON(t, "object marked for deletion", got, marked)
	if ev := w.expect(watch.Modified, "ns", "a"); ev.GetDeletionTimestamp() == nil || ev.GetResourceVersion() != marked.GetResourceVersion() {
		t.Fatalf("Modified event for the deletion: deletionTimestamp %v rv %s, want set and %s", ev.GetDeletionTimestamp(), ev.GetResourceVersion(), marked.GetResourceVersion())
	}

	// Deleting again changes nothing; the deletion stays pending.
	mustDelete(t, st, widgets, "ns", "a", store.DeleteOptions{})
	again := mustGet(t, st, widgets, "ns", "a")
	if again.GetDeletionTimestamp() == nil || !again.GetDeletionTimestamp().Equal(marked.GetDeletionTimestamp()) {
		t.Fatalf("second Delete changed deletionTimestamp from %v to %v", marked.GetDeletionTimestamp(), again.GetDeletionTimestamp())
	}

	// Status updates and an Update that keeps a finalizer leave the object in place.
	s := mustUpdateStatus(t, st, widgets, withStatus(again.DeepCopy(), map[string]any{"phase": "Terminating"}))
	one := s.DeepCopy()
	one.SetFinalizers([]string{"test.eddy.dev/two"})
	one = mustUpdate(t, st, widgets, one)
	if one.GetDeletionTimestamp() == nil {
		t.Fatal("Update dropped the deletionTimestamp")
	}
	mustSameJSON(t, "object with one finalizer left", mustGet(t, st, widgets, "ns", "a"), one)
	w.expect(watch.Modified, "ns", "a")
	if ev := w.expect(watch.Modified, "ns", "a"); ev.GetResourceVersion() != one.GetResourceVersion() {
		t.Fatalf("event rv %s, want %s", ev.GetResourceVersion(), one.GetResourceVersion())
	}

	// The last finalizer goes: so does the object, with one Deleted event.
	none := one.DeepCopy()
	none.SetFinalizers(nil)
	mustUpdate(t, st, widgets, none)
	if _, err := st.Get(ctx, widgets, "ns", "a"); !apierrors.IsNotFound(err) {
		t.Fatalf("Get after the last finalizer went: %v, want NotFound", err)
	}
	ev := w.expect(watch.Deleted, "ns", "a")
	if rvOf(t, ev) <= rvOf(t, one) || len(ev.GetFinalizers()) != 0 || ev.GetUID() != created.GetUID() {
		t.Fatalf("Deleted event: rv %s finalizers %v uid %s; want rv after %s, no finalizers, uid %s",
			ev.GetResourceVersion(), ev.GetFinalizers(), ev.GetUID(), one.GetResourceVersion(), created.GetUID())
	}
	if next := mustCreate(t, st, widgets, obj("ns", "marker", nil)); rvOf(t, next) <= rvOf(t, ev) {
		t.Fatalf("write after the deletion got rv %s, not after the deletion's %s", next.GetResourceVersion(), ev.GetResourceVersion())
	}
	w.expect(watch.Added, "ns", "marker")
}

// Every change gets a new resourceVersion from one store-wide, strictly increasing counter.
func testResourceVersionsIncrease(t *testing.T, c *config) {
	st := c.open(t)
	ww := mustWatch(t, st, widgets, "", store.ListOptions{})
	wg := mustWatch(t, st, gadgets, "", store.ListOptions{})
	var last uint64
	step := func(what string, u *unstructured.Unstructured) *unstructured.Unstructured {
		t.Helper()
		if r := rvOf(t, u); r <= last {
			t.Fatalf("%s got resourceVersion %d, not after %d", what, r, last)
		} else {
			last = r
		}
		return u
	}
	a := step("create widget", mustCreate(t, st, widgets, obj("n1", "a", nil)))
	g := step("create gadget", mustCreate(t, st, gadgets, obj("", "g", nil)))
	step("create widget in another namespace", mustCreate(t, st, widgets, obj("n2", "a", nil)))
	a = step("update widget", mustUpdate(t, st, widgets, withLabels(a, "x", "y")))
	g = step("update gadget status", mustUpdateStatus(t, st, gadgets, withStatus(g, map[string]any{"ok": true})))
	step("update widget status", mustUpdateStatus(t, st, widgets, withStatus(a, map[string]any{"ok": true})))
	mustDelete(t, st, gadgets, "", "g", store.DeleteOptions{})
	mustDelete(t, st, widgets, "n2", "a", store.DeleteOptions{})
	step("create after deletes", mustCreate(t, st, gadgets, obj("", "h", nil)))

	// The events carry the same versions, deletes included, all distinct and in order.
	seen := map[uint64]string{}
	collect := func(w *watcher, n int) {
		var prev uint64
		for range n {
			typ, u := w.next()
			r := rvOf(t, u)
			if r <= prev {
				t.Fatalf("%s event rv %d after %d", typ, r, prev)
			}
			if other, dup := seen[r]; dup {
				t.Fatalf("resourceVersion %d used by %s and %s %s", r, other, typ, u.GetName())
			}
			seen[r] = string(typ) + " " + u.GetName()
			prev = r
		}
	}
	collect(ww, 5) // 2 creates, 2 updates, 1 delete
	collect(wg, 4) // create, status, delete, create
	if len(seen) != 9 {
		t.Fatalf("events used %d distinct versions, want 9", len(seen))
	}

	// Concurrent writers never share a version.
	const writers, each = 8, 10
	rvs := make(chan uint64, writers*each)
	fns := make([]func(), writers)
	for i := range fns {
		fns[i] = func() {
			for j := range each {
				res, ns := widgets, "c"
				if j%2 == 1 {
					res, ns = gadgets, ""
				}
				out, err := st.Create(ctx, res, withGenerateName(obj(ns, "", nil), "c-"))
				if err != nil {
					t.Errorf("concurrent Create: %v", err)
					return
				}
				r, err := strconv.ParseUint(out.GetResourceVersion(), 10, 64)
				if err != nil {
					t.Errorf("resourceVersion %q: %v", out.GetResourceVersion(), err)
					return
				}
				rvs <- r
			}
		}
	}
	runAll(t, fns...)
	close(rvs)
	distinct := map[uint64]bool{}
	for r := range rvs {
		if r <= last || distinct[r] {
			t.Fatalf("concurrent write got resourceVersion %d (last sequential %d, seen before: %v)", r, last, distinct[r])
		}
		distinct[r] = true
	}
}

func withGenerateName(u *unstructured.Unstructured, prefix string) *unstructured.Unstructured {
	u.SetGenerateName(prefix)
	return u
}
