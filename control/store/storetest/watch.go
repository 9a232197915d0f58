package storetest

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/eddyplatform/eddy/control/store"
)

// A Watch from "" or "0" sends Added for every existing object, then every change.
func testWatchFromEmpty(t *testing.T, c *config) {
	for _, from := range []string{"", "0"} {
		t.Run(fmt.Sprintf("from %q", from), func(t *testing.T) {
			st := c.open(t)
			existing := map[string]*unstructured.Unstructured{}
			for _, k := range [][2]string{{"x", "a"}, {"x", "b"}, {"y", "c"}} {
				u := mustCreate(t, st, widgets, obj(k[0], k[1], map[string]any{"n": k[1]}))
				existing[k[0]+"/"+k[1]] = u
			}
			a := existing["x/a"]
			a = mustUpdate(t, st, widgets, withLabels(a, "v", "2")) // the Added event carries the latest state
			existing["x/a"] = a
			mustCreate(t, st, gadgets, obj("", "not-a-widget", nil))

			w := mustWatch(t, st, widgets, "", store.ListOptions{ResourceVersion: from})
			for range len(existing) {
				typ, u := w.next()
				k := u.GetNamespace() + "/" + u.GetName()
				want, ok := existing[k]
				if typ != watch.Added || !ok {
					t.Fatalf("got %s %s, want Added for one of the existing objects", typ, k)
				}
				mustSameJSON(t, "Added event for "+k, u, want)
				delete(existing, k)
			}
			d := mustCreate(t, st, widgets, obj("z", "d", nil))
			if ev := w.expect(watch.Added, "z", "d"); !sameJSON(ev, d) {
				t.Fatalf("live Added event %v, want %v", ev.Object, d.Object)
			}
			mustUpdate(t, st, widgets, withLabels(a, "v", "3"))
			w.expect(watch.Modified, "x", "a")
			mustDelete(t, st, widgets, "x", "b", store.DeleteOptions{})
			w.expect(watch.Deleted, "x", "b")
		})
	}
}

// A Watch from a list's resourceVersion sends exactly the changes made after the list.
func testWatchFromList(t *testing.T, c *config) {
	st := c.open(t)
	a := mustCreate(t, st, widgets, obj("ns", "a", nil))
	mustCreate(t, st, widgets, obj("ns", "b", nil))
	l := mustList(t, st, widgets, "", store.ListOptions{})

	cc := mustCreate(t, st, widgets, obj("ns", "c", nil))
	a2 := mustUpdate(t, st, widgets, withLabels(a.DeepCopy(), "v", "2"))
	mustDelete(t, st, widgets, "ns", "b", store.DeleteOptions{})

	w := mustWatch(t, st, widgets, "", store.ListOptions{ResourceVersion: l.GetResourceVersion()})
	mustSameJSON(t, "Added c", w.expect(watch.Added, "ns", "c"), cc)
	mustSameJSON(t, "Modified a", w.expect(watch.Modified, "ns", "a"), a2)
	if del := w.expect(watch.Deleted, "ns", "b"); rvOf(t, del) <= rvOf(t, a2) {
		t.Fatalf("Deleted event rv %s is not after %s", del.GetResourceVersion(), a2.GetResourceVersion())
	}
	mustCreate(t, st, widgets, obj("ns", "marker", nil))
	w.expect(watch.Added, "ns", "marker")

	// From the latest version: only what comes next.
	w2 := mustWatch(t, st, widgets, "", store.ListOptions{ResourceVersion: a2.GetResourceVersion()})
	w2.expect(watch.Deleted, "ns", "b")
	w2.expect(watch.Added, "ns", "marker")
	mustCreate(t, st, widgets, obj("ns", "marker2", nil))
	w2.expect(watch.Added, "ns", "marker2")
}

// record is one successful write of the racing writers.
type record struct {
	typ watch.EventType
	key string
	rv  uint64 // 0 for deletes, whose returned version the contract leaves open
}

// racers are writers creating, updating and deleting widgets until stopped.
type racers struct {
	t       *testing.T
	count   atomic.Int64
	stopped chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	records []record
}

func startRacers(t *testing.T, st store.Store, n int) *racers {
	r := &racers{t: t, stopped: make(chan struct{})}
	for i := range n {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			for j := 0; ; j++ {
				select {
				case <-r.stopped:
					return
				default:
				}
				ns := []string{"a", "b", "c"}[j%3]
				name := fmt.Sprintf("w-%d-%d", i, j)
				u, err := st.Create(ctx, widgets, withLabels(obj(ns, name, nil), "writer", strconv.Itoa(i)))
				if err != nil {
					t.Errorf("racing Create: %v", err)
					return
				}
				r.add(watch.Added, u)
				u, err = st.Update(ctx, widgets, withLabels(u, "writer", strconv.Itoa(i), "step", "2"))
				if err != nil {
					t.Errorf("racing Update: %v", err)
					return
				}
				r.add(watch.Modified, u)
				if j%2 == 0 {
					if _, err := st.Delete(ctx, widgets, ns, name, store.DeleteOptions{}); err != nil {
						t.Errorf("racing Delete: %v", err)
						return
					}
					r.add(watch.Deleted, u)
				}
			}
		}()
	}
	return r
}

func (r *racers) add(typ watch.EventType, u *unstructured.Unstructured) {
	rec := record{typ: typ, key: u.GetNamespace() + "/" + u.GetName()}
	if typ != watch.Deleted {
		rec.rv, _ = strconv.ParseUint(u.GetResourceVersion(), 10, 64)
	}
	r.mu.Lock()
	r.records = append(r.records, rec)
	r.mu.Unlock()
	r.count.Add(1)
}

// waitFor waits until n more writes have been made.
func (r *racers) waitFor(n int64) {
	r.t.Helper()
	target := r.count.Load() + n
	eventually(r.t, fmt.Sprintf("%d writes", target), func() bool { return r.count.Load() >= target })
}

// stop stops the writers and returns what they did.
func (r *racers) stop() []record {
	close(r.stopped)
	r.wg.Wait()
	return r.records
}

// replay applies a watch's events to state (key → resourceVersion) until the event for
// marker, checking that each is consistent with what came before: every event must be
// after the version after and, when ordered, after the previous event. It returns the
// versions of the events.
func replay(t *testing.T, w *watcher, state map[string]uint64, marker string, after uint64, ordered bool) map[uint64]bool {
	t.Helper()
	seen := map[uint64]bool{}
	for {
		typ, u := w.next()
		k, r := u.GetNamespace()+"/"+u.GetName(), rvOf(t, u)
		if r <= after {
			t.Fatalf("%s %s rv %d: not after %d (duplicate, out of order, or before the watch's start)", typ, k, r, after)
		}
		old, exists := state[k]
		switch {
		case typ == watch.Added && !exists, typ == watch.Modified && exists && r > old, typ == watch.Deleted && exists && r > old:
		default:
			t.Fatalf("%s %s rv %d, but the object's state is (exists %v, rv %d)", typ, k, r, exists, old)
		}
		if seen[r] {
			t.Fatalf("%s %s: rv %d seen twice", typ, k, r)
		}
		seen[r] = true
		if ordered {
			after = r
		}
		if typ == watch.Deleted {
			delete(state, k)
		} else {
			state[k] = r
		}
		if k == marker {
			delete(state, k)
			return seen
		}
	}
}

// listState is the objects of a list, key → resourceVersion.
func listState(t *testing.T, l *unstructured.UnstructuredList, except string) map[string]uint64 {
	m := map[string]uint64{}
	for i := range l.Items {
		if k := l.Items[i].GetNamespace() + "/" + l.Items[i].GetName(); k != except {
			m[k] = rvOf(t, &l.Items[i])
		}
	}
	return m
}

func diffStates(t *testing.T, what string, got, want map[string]uint64) {
	t.Helper()
	for k, r := range want {
		if got[k] != r {
			t.Errorf("%s: %s has rv %d, want %d (0: missing)", what, k, got[k], r)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: %s should not exist", what, k)
		}
	}
}

// rounds is how many list+watch pairs the racing tests start while writers run: the more,
// the likelier a store with a race between the two is caught.
const rounds = 20

// Lists and watches from their resourceVersions, with writers racing both, miss nothing
// and repeat nothing.
func testWatchFromListRacingWriters(t *testing.T, c *config) {
	st := c.open(t)
	r := startRacers(t, st, 4)
	r.waitFor(20)
	type pair struct {
		l *unstructured.UnstructuredList
		w *watcher
	}
	var pairs []pair
	for range rounds {
		l := mustList(t, st, widgets, "", store.ListOptions{})
		w := mustWatch(t, st, widgets, "", store.ListOptions{ResourceVersion: l.GetResourceVersion()})
		pairs = append(pairs, pair{l, w})
		r.waitFor(5)
	}
	r.waitFor(20)
	records := r.stop()
	mustCreate(t, st, widgets, obj("a", "zz-marker", nil))
	final := listState(t, mustList(t, st, widgets, "", store.ListOptions{}), "a/zz-marker")

	for i, p := range pairs {
		from := rv(t, p.l.GetResourceVersion())
		state := listState(t, p.l, "")
		for k, v := range state {
			if v > from {
				t.Fatalf("listed %s has rv %d, after the list's %d", k, v, from)
			}
		}
		seen := replay(t, p.w, state, "a/zz-marker", from, true)
		diffStates(t, fmt.Sprintf("list %d + its watch's events vs a new list", i), state, final)
		for _, rec := range records {
			if rec.rv > from && !seen[rec.rv] {
				t.Errorf("watch %d from %d missed %s %s rv %d", i, from, rec.typ, rec.key, rec.rv)
			}
		}
	}
}

// Watches from "" with writers racing them: the synthetic Added events and the live ones
// meet exactly.
func testWatchFromEmptyRacingWriters(t *testing.T, c *config) {
	st := c.open(t)
	r := startRacers(t, st, 4)
	r.waitFor(20)
	var ws []*watcher
	var afters []uint64 // a version at or after each watch's snapshot
	for range rounds {
		ws = append(ws, mustWatch(t, st, widgets, "", store.ListOptions{}))
		afters = append(afters, rv(t, mustList(t, st, widgets, "", store.ListOptions{}).GetResourceVersion()))
		r.waitFor(5)
	}
	r.waitFor(20)
	records := r.stop()
	mustCreate(t, st, widgets, obj("a", "zz-marker", nil))
	final := listState(t, mustList(t, st, widgets, "", store.ListOptions{}), "a/zz-marker")

	for i, w := range ws {
		state := map[string]uint64{}
		seen := replay(t, w, state, "a/zz-marker", 0, false)
		diffStates(t, fmt.Sprintf("watch %d's events vs a new list", i), state, final)
		for _, rec := range records {
			if rec.rv > afters[i] && !seen[rec.rv] {
				t.Errorf("watch %d missed %s %s rv %d", i, rec.typ, rec.key, rec.rv)
			}
		}
	}
}

// Events come in resourceVersion order, each with the version the write returned; the
// Deleted event carries the deletion's own, newer version.
func testWatchOrder(t *testing.T, c *config) {
	st := c.open(t)
	w := mustWatch(t, st, widgets, "", store.ListOptions{})
	created := mustCreate(t, st, widgets, obj("ns", "a", map[string]any{"v": int64(1)}))
	u := created.DeepCopy()
	u.Object["spec"] = map[string]any{"v": int64(2)}
	updated := mustUpdate(t, st, widgets, u)
	status := mustUpdateStatus(t, st, widgets, withStatus(updated.DeepCopy(), map[string]any{"ok": true}))
	mustDelete(t, st, widgets, "ns", "a", store.DeleteOptions{})

	mustSameJSON(t, "Added event", w.expect(watch.Added, "ns", "a"), created)
	mustSameJSON(t, "Modified event (update)", w.expect(watch.Modified, "ns", "a"), updated)
	mustSameJSON(t, "Modified event (status)", w.expect(watch.Modified, "ns", "a"), status)
	del := w.expect(watch.Deleted, "ns", "a")
	if rvOf(t, del) <= rvOf(t, status) {
		t.Fatalf("Deleted event rv %s, want after the last state's %s", del.GetResourceVersion(), status.GetResourceVersion())
	}
	last := status.DeepCopy()
	last.SetResourceVersion(del.GetResourceVersion())
	mustSameJSON(t, "Deleted event (the last state with the deletion's version)", del, last)
	if l := mustList(t, st, widgets, "", store.ListOptions{}); rv(t, l.GetResourceVersion()) < rvOf(t, del) {
		t.Fatalf("list after the delete has rv %s, before the deletion's %s", l.GetResourceVersion(), del.GetResourceVersion())
	}
	// Watching from the deletion's version gets what follows it, and only that.
	w2 := mustWatch(t, st, widgets, "", store.ListOptions{ResourceVersion: del.GetResourceVersion()})
	b := mustCreate(t, st, widgets, obj("ns", "b", nil))
	if rvOf(t, b) <= rvOf(t, del) {
		t.Fatalf("create after the delete got rv %s, not after %s", b.GetResourceVersion(), del.GetResourceVersion())
	}
	w.expect(watch.Added, "ns", "b")
	w2.expect(watch.Added, "ns", "b")
}

// Watches see only their resource, namespace and label selector.
func testWatchFilters(t *testing.T, c *config) {
	st := c.open(t)
	sel := labels.SelectorFromSet(labels.Set{"app": "x"})
	inA := mustWatch(t, st, widgets, "a", store.ListOptions{})
	selected := mustWatch(t, st, widgets, "", store.ListOptions{LabelSelector: sel})
	selectedInA := mustWatch(t, st, widgets, "a", store.ListOptions{LabelSelector: sel})
	all := mustWatch(t, st, widgets, "", store.ListOptions{LabelSelector: labels.Everything()})
	gs := mustWatch(t, st, gadgets, "", store.ListOptions{})

	mustCreate(t, st, widgets, withLabels(obj("b", "n1", nil), "app", "x"))
	mustCreate(t, st, widgets, withLabels(obj("a", "n2", nil), "app", "y"))
	n3 := mustCreate(t, st, widgets, withLabels(obj("a", "n3", nil), "app", "x"))
	mustCreate(t, st, gadgets, obj("", "g", nil))
	mustUpdateStatus(t, st, widgets, withStatus(n3, map[string]any{"ok": true}))
	mustCreate(t, st, widgets, obj("b", "n4", nil))
	mustDelete(t, st, widgets, "b", "n1", store.DeleteOptions{})
	mustCreate(t, st, widgets, withLabels(obj("a", "marker", nil), "app", "x"))
	mustCreate(t, st, gadgets, obj("", "marker", nil))

	for _, tc := range []struct {
		name string
		w    *watcher
		ns   string
		want []string
	}{
		{"namespace a", inA, "a", []string{"ADDED a/n2", "ADDED a/n3", "MODIFIED a/n3", "ADDED a/marker"}},
		{"app=x", selected, "a", []string{"ADDED b/n1", "ADDED a/n3", "MODIFIED a/n3", "DELETED b/n1", "ADDED a/marker"}},
		{"app=x in namespace a", selectedInA, "a", []string{"ADDED a/n3", "MODIFIED a/n3", "ADDED a/marker"}},
		{"everything", all, "a", []string{"ADDED b/n1", "ADDED a/n2", "ADDED a/n3", "MODIFIED a/n3", "ADDED b/n4", "DELETED b/n1", "ADDED a/marker"}},
		{"gadgets", gs, "", []string{"ADDED /g", "ADDED /marker"}},
	} {
		if got := tc.w.until(tc.ns, "marker"); !slices.Equal(got, tc.want) {
			t.Errorf("watch of %s saw %v, want %v", tc.name, got, tc.want)
		}
	}
}

// A Watch from a version older than the kept history fails with Expired; recent versions
// still work.
func testWatchExpired(t *testing.T, c *config) {
	if c.withHistory == nil {
		t.Skip("storetest.WithHistory not given: can't make a store with a short history")
	}
	const history = 4
	st := owned(t, c.withHistory(t, history))
	first := mustCreate(t, st, widgets, obj("ns", "a", nil))
	cur := first
	var rvs []string
	for i := range 10 * history {
		cur = mustUpdate(t, st, widgets, withLabels(cur, "i", strconv.Itoa(i)))
		rvs = append(rvs, cur.GetResourceVersion())
	}
	for _, from := range []string{first.GetResourceVersion(), "1"} {
		w, err := st.Watch(ctx, widgets, "", store.ListOptions{ResourceVersion: from})
		if err == nil {
			w.Stop()
		}
		wantErr(t, "Watch from "+from+", older than the history", err, apierrors.IsResourceExpired, "Expired (410)")
	}
	// The last few changes are still there.
	w := mustWatch(t, st, widgets, "", store.ListOptions{ResourceVersion: rvs[len(rvs)-3]})
	for _, want := range rvs[len(rvs)-2:] {
		if ev := w.expect(watch.Modified, "ns", "a"); ev.GetResourceVersion() != want {
			t.Fatalf("replayed event rv %s, want %s", ev.GetResourceVersion(), want)
		}
	}
	// So is a watch from a fresh list.
	l := mustList(t, st, widgets, "", store.ListOptions{})
	w2 := mustWatch(t, st, widgets, "", store.ListOptions{ResourceVersion: l.GetResourceVersion()})
	mustCreate(t, st, widgets, obj("ns", "b", nil))
	w2.expect(watch.Added, "ns", "b")
	w.expect(watch.Added, "ns", "b")
}

// A Watch ends when its context is done or Stop is called.
func testWatchEnds(t *testing.T, c *config) {
	st := c.open(t)
	mustCreate(t, st, widgets, obj("ns", "a", nil))

	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wi, err := st.Watch(cctx, widgets, "", store.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	byCtx := &watcher{t: t, w: wi}
	t.Cleanup(wi.Stop)
	byCtx.expect(watch.Added, "ns", "a")
	cancel()
	byCtx.expectEnd()

	stopped := mustWatch(t, st, widgets, "", store.ListOptions{})
	stopped.expect(watch.Added, "ns", "a")
	stopped.w.Stop()
	stopped.expectEnd()
	stopped.w.Stop() // again: harmless

	// Stop with events nobody read.
	unread := mustWatch(t, st, widgets, "", store.ListOptions{})
	for i := range 5 {
		mustCreate(t, st, widgets, obj("ns", fmt.Sprintf("b%d", i), nil))
	}
	unread.w.Stop()
	unread.expectEnd()

	// The store still works, and new watches too.
	again := mustWatch(t, st, widgets, "ns", store.ListOptions{ResourceVersion: mustList(t, st, widgets, "", store.ListOptions{}).GetResourceVersion()})
	mustCreate(t, st, widgets, obj("ns", "c", nil))
	again.expect(watch.Added, "ns", "c")
}

// Close ends every watch, read or not, and later calls fail.
func testCloseEndsWatches(t *testing.T, c *config) {
	st := c.open(t)
	a := mustCreate(t, st, widgets, obj("ns", "a", nil))
	read := mustWatch(t, st, widgets, "", store.ListOptions{})
	read.expect(watch.Added, "ns", "a")
	unread := mustWatch(t, st, widgets, "", store.ListOptions{})
	for i := range 5 {
		mustCreate(t, st, widgets, obj("ns", fmt.Sprintf("b%d", i), nil))
	}
	closed := make(chan error, 1)
	go func() { closed <- st.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(timeout):
		t.Fatal("Close did not return (blocked by a watch nobody reads?)")
	}
	read.expectEnd()
	unread.expectEnd()

	calls := map[string]func() error{
		"Get":  func() error { _, err := st.Get(ctx, widgets, "ns", "a"); return err },
		"List": func() error { _, err := st.List(ctx, widgets, "", store.ListOptions{}); return err },
		"Create": func() error {
			_, err := st.Create(ctx, widgets, obj("ns", "new", nil))
			return err
		},
		"Update": func() error { _, err := st.Update(ctx, widgets, withLabels(a.DeepCopy(), "x", "y")); return err },
		"UpdateStatus": func() error {
			_, err := st.UpdateStatus(ctx, widgets, withStatus(a.DeepCopy(), map[string]any{"closed": true}))
			return err
		},
		"Delete": func() error { _, err := st.Delete(ctx, widgets, "ns", "a", store.DeleteOptions{}); return err },
		"Watch": func() error {
			w, err := st.Watch(ctx, widgets, "", store.ListOptions{})
			if err == nil {
				w.Stop()
			}
			return err
		},
	}
	for name, call := range calls {
		if err := call(); err == nil {
			t.Errorf("%s after Close succeeded", name)
		}
	}
}

// A watcher that nobody reads doesn't block writers, and what it delivers has no gaps: a
// prefix of the changes, in order, after which (if it was cut off) a watch from the last
// version seen delivers the rest.
func testSlowWatcher(t *testing.T, c *config) {
	st := c.open(t)
	start := mustList(t, st, widgets, "", store.ListOptions{}).GetResourceVersion()
	w := mustWatch(t, st, widgets, "", store.ListOptions{ResourceVersion: start})

	const writers, each = 8, 250
	var mu sync.Mutex
	var want []uint64
	fns := make([]func(), writers)
	for i := range fns {
		fns[i] = func() {
			for range each {
				u, err := st.Create(ctx, widgets, withGenerateName(obj("ns", "", nil), "slow-"))
				if err != nil {
					t.Errorf("Create: %v", err)
					return
				}
				r, _ := strconv.ParseUint(u.GetResourceVersion(), 10, 64)
				mu.Lock()
				want = append(want, r)
				mu.Unlock()
			}
		}
	}
	runAll(t, fns...) // fails if the writers get stuck behind the watcher
	if t.Failed() {
		return
	}
	slices.Sort(want)

	got := drain(t, w.w, len(want))
	if !slices.Equal(got, want[:len(got)]) {
		t.Fatalf("the watch delivered %d events that are not a gap-free prefix of the %d changes", len(got), len(want))
	}
	if len(got) == len(want) {
		return
	}
	t.Logf("the slow watcher was ended after %d of %d events", len(got), len(want))
	from := start
	if len(got) > 0 {
		from = strconv.FormatUint(got[len(got)-1], 10)
	}
	rest, err := st.Watch(ctx, widgets, "", store.ListOptions{ResourceVersion: from})
	if apierrors.IsResourceExpired(err) {
		return // allowed: the client lists again
	}
	if err != nil {
		t.Fatalf("re-watch from %s: %v", from, err)
	}
	defer rest.Stop()
	more := drain(t, rest, len(want)-len(got))
	if !slices.Equal(more, want[len(got):]) {
		t.Fatalf("the re-watch from %s delivered %d events, not the %d missing ones in order", from, len(more), len(want)-len(got))
	}
}

// drain reads up to n events' versions, stopping early if the watch ends.
func drain(t *testing.T, w watch.Interface, n int) []uint64 {
	t.Helper()
	var got []uint64
	for len(got) < n {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				return got
			}
			u, _ := ev.Object.(*unstructured.Unstructured)
			if u == nil || ev.Type != watch.Added {
				t.Fatalf("unexpected %s event with %T", ev.Type, ev.Object)
			}
			got = append(got, rvOf(t, u))
		case <-time.After(timeout):
			t.Fatalf("watch stalled after %d of %d events", len(got), n)
		}
	}
	return got
}
