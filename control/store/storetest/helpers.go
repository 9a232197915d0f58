package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/eddyplatform/eddy/control/store"
)

// The test resources.
var (
	widgets = store.Resource{Group: "test.eddy.dev", Resource: "widgets"} // namespaced
	gadgets = store.Resource{Group: "test.eddy.dev", Resource: "gadgets"} // cluster-scoped
)

// timeout bounds every wait for something the store should do promptly.
const timeout = 30 * time.Second

// obj is a test object of kind Widget (or Gadget when namespace is "") with the given spec.
func obj(namespace, name string, spec map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "test.eddy.dev/v1",
		"kind":       "Widget",
		"metadata":   map[string]any{"name": name},
	}}
	if namespace != "" {
		u.SetNamespace(namespace)
	} else {
		u.SetKind("Gadget")
	}
	if spec != nil {
		u.Object["spec"] = spec
	}
	return u
}

// withLabels sets u's labels and returns u.
func withLabels(u *unstructured.Unstructured, kv ...string) *unstructured.Unstructured {
	l := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		l[kv[i]] = kv[i+1]
	}
	u.SetLabels(l)
	return u
}

func mustCreate(t *testing.T, st store.Store, res store.Resource, u *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	out, err := st.Create(context.Background(), res, u)
	if err != nil {
		t.Fatalf("Create %s %s/%s: %v", res, u.GetNamespace(), u.GetName(), err)
	}
	checkObject(t, out)
	return out
}

func mustGet(t *testing.T, st store.Store, res store.Resource, namespace, name string) *unstructured.Unstructured {
	t.Helper()
	out, err := st.Get(context.Background(), res, namespace, name)
	if err != nil {
		t.Fatalf("Get %s %s/%s: %v", res, namespace, name, err)
	}
	checkObject(t, out)
	return out
}

func mustUpdate(t *testing.T, st store.Store, res store.Resource, u *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	out, err := st.Update(context.Background(), res, u)
	if err != nil {
		t.Fatalf("Update %s %s/%s: %v", res, u.GetNamespace(), u.GetName(), err)
	}
	checkObject(t, out)
	return out
}

func mustUpdateStatus(t *testing.T, st store.Store, res store.Resource, u *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	out, err := st.UpdateStatus(context.Background(), res, u)
	if err != nil {
		t.Fatalf("UpdateStatus %s %s/%s: %v", res, u.GetNamespace(), u.GetName(), err)
	}
	checkObject(t, out)
	return out
}

func mustDelete(t *testing.T, st store.Store, res store.Resource, namespace, name string, opts store.DeleteOptions) *unstructured.Unstructured {
	t.Helper()
	out, err := st.Delete(context.Background(), res, namespace, name, opts)
	if err != nil {
		t.Fatalf("Delete %s %s/%s: %v", res, namespace, name, err)
	}
	if out == nil {
		t.Fatalf("Delete %s %s/%s returned no object", res, namespace, name)
	}
	return out
}

func mustList(t *testing.T, st store.Store, res store.Resource, namespace string, opts store.ListOptions) *unstructured.UnstructuredList {
	t.Helper()
	l, err := st.List(context.Background(), res, namespace, opts)
	if err != nil {
		t.Fatalf("List %s in %q: %v", res, namespace, err)
	}
	rv(t, l.GetResourceVersion())
	for i := range l.Items {
		checkObject(t, &l.Items[i])
	}
	return l
}

// checkObject fails unless u has the metadata every stored object has.
func checkObject(t *testing.T, u *unstructured.Unstructured) {
	t.Helper()
	if u == nil {
		t.Fatal("got a nil object")
	}
	if u.GetName() == "" || u.GetUID() == "" || u.GetGeneration() < 1 || u.GetCreationTimestamp().Time.IsZero() {
		t.Fatalf("stored object lacks metadata (name, uid, generation, creationTimestamp): %v", u.Object["metadata"])
	}
	rv(t, u.GetResourceVersion())
}

// rv parses a resourceVersion, which must be a positive decimal integer.
func rv(t *testing.T, s string) uint64 {
	t.Helper()
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatalf("resourceVersion %q is not a decimal integer", s)
	}
	return n
}

func rvOf(t *testing.T, u *unstructured.Unstructured) uint64 {
	t.Helper()
	return rv(t, u.GetResourceVersion())
}

// sameJSON reports whether two objects are equal as JSON (so int and int64 compare equal).
func sameJSON(a, b *unstructured.Unstructured) bool {
	x, err1 := json.Marshal(a.Object)
	y, err2 := json.Marshal(b.Object)
	return err1 == nil && err2 == nil && string(x) == string(y)
}

// sameValue reports whether two values are equal as JSON.
func sameValue(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}

func mustSameJSON(t *testing.T, what string, got, want *unstructured.Unstructured) {
	t.Helper()
	if !sameJSON(got, want) {
		t.Fatalf("%s:\n got  %v\n want %v", what, got.Object, want.Object)
	}
}

func specOf(u *unstructured.Unstructured) map[string]any {
	m, _, _ := unstructured.NestedMap(u.Object, "spec")
	return m
}

func nestedInt(t *testing.T, u *unstructured.Unstructured, fields ...string) int64 {
	t.Helper()
	v, found, err := unstructured.NestedFieldNoCopy(u.Object, fields...)
	if !found || err != nil {
		t.Fatalf("%v missing in %v", fields, u.Object)
	}
	switch n := v.(type) {
	case int64:
		return n
	case int:
		return int64(n)
	case float64:
		return int64(n)
	}
	t.Fatalf("%v is a %T, not a number", fields, v)
	return 0
}

// wantErr fails unless err satisfies is (an apierrors predicate).
func wantErr(t *testing.T, what string, err error, is func(error) bool, reason string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error, want %s", what, reason)
	}
	if !is(err) {
		t.Fatalf("%s: got %v (reason %q), want %s", what, err, apierrors.ReasonForError(err), reason)
	}
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		t.Fatalf("%s: error %T is not an API status error", what, err)
	}
}

// wantDetails fails unless a NotFound / AlreadyExists / Conflict error names res and name.
func wantDetails(t *testing.T, err error, res store.Resource, name string) {
	t.Helper()
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		t.Fatalf("error %T is not an API status error", err)
	}
	d := status.Status().Details
	if d == nil || d.Group != res.Group || d.Kind != res.Resource || d.Name != name {
		t.Fatalf("error details = %+v, want group %q, kind (resource) %q, name %q", d, res.Group, res.Resource, name)
	}
}

// watcher wraps a watch.Interface with waits that time out.
type watcher struct {
	t *testing.T
	w watch.Interface
}

func mustWatch(t *testing.T, st store.Store, res store.Resource, namespace string, opts store.ListOptions) *watcher {
	t.Helper()
	w, err := st.Watch(context.Background(), res, namespace, opts)
	if err != nil {
		t.Fatalf("Watch %s in %q from %q: %v", res, namespace, opts.ResourceVersion, err)
	}
	t.Cleanup(w.Stop)
	return &watcher{t: t, w: w}
}

// next returns the next event; the watch must not end first.
func (w *watcher) next() (watch.EventType, *unstructured.Unstructured) {
	w.t.Helper()
	select {
	case ev, ok := <-w.w.ResultChan():
		if !ok {
			w.t.Fatal("the watch ended unexpectedly")
		}
		u, isObj := ev.Object.(*unstructured.Unstructured)
		if !isObj {
			w.t.Fatalf("%s event carries a %T, want *unstructured.Unstructured", ev.Type, ev.Object)
		}
		checkObject(w.t, u)
		return ev.Type, u
	case <-time.After(timeout):
		w.t.Fatalf("no watch event within %v", timeout)
	}
	return "", nil
}

// expect fails unless the next event is of type typ for the named object, and returns it.
func (w *watcher) expect(typ watch.EventType, namespace, name string) *unstructured.Unstructured {
	w.t.Helper()
	gotType, u := w.next()
	if gotType != typ || u.GetNamespace() != namespace || u.GetName() != name {
		w.t.Fatalf("got event %s %s/%s (rv %s), want %s %s/%s", gotType, u.GetNamespace(), u.GetName(), u.GetResourceVersion(), typ, namespace, name)
	}
	return u
}

// until collects events up to and including the one for the named object, which must come.
func (w *watcher) until(namespace, name string) []string {
	w.t.Helper()
	var seen []string
	for {
		typ, u := w.next()
		seen = append(seen, fmt.Sprintf("%s %s/%s", typ, u.GetNamespace(), u.GetName()))
		if u.GetNamespace() == namespace && u.GetName() == name {
			return seen
		}
	}
}

// expectEnd fails unless the result channel closes (after any events still queued).
func (w *watcher) expectEnd() {
	w.t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case _, ok := <-w.w.ResultChan():
			if !ok {
				return
			}
		case <-deadline:
			w.t.Fatalf("the watch did not end within %v", timeout)
		}
	}
}

// eventually polls cond until it holds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.After(timeout)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// runAll runs fns concurrently and waits for them, failing if they take too long (a
// writer blocked for good). The fns must report failures with t.Error, not t.Fatal.
func runAll(t *testing.T, fns ...func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		var n = len(fns)
		finished := make(chan struct{}, n)
		for _, fn := range fns {
			go func() {
				defer func() { finished <- struct{}{} }()
				fn()
			}()
		}
		for range n {
			<-finished
		}
	}()
	select {
	case <-done:
	case <-time.After(2 * timeout):
		t.Fatalf("concurrent operations did not finish within %v (is a writer blocked?)", 2*timeout)
	}
}
