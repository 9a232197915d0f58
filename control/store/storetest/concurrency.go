package storetest

import (
	"fmt"
	"sync/atomic"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/eddyplatform/eddy/control/store"
)

// Concurrent creates of one name: exactly one wins, the others get AlreadyExists.
func testConcurrentCreateSameName(t *testing.T, c *config) {
	st := c.open(t)
	const racers = 16
	for round := range 5 {
		name := fmt.Sprintf("contested-%d", round)
		var wins atomic.Int32
		winner := make(chan *unstructured.Unstructured, racers)
		fns := make([]func(), racers)
		for i := range fns {
			fns[i] = func() {
				out, err := st.Create(ctx, widgets, obj("ns", name, map[string]any{"by": int64(i)}))
				switch {
				case err == nil:
					wins.Add(1)
					winner <- out
				case !apierrors.IsAlreadyExists(err):
					t.Errorf("racing Create: %v, want success or AlreadyExists", err)
				}
			}
		}
		runAll(t, fns...)
		if n := wins.Load(); n != 1 {
			t.Fatalf("%d of %d concurrent creates of %s succeeded, want exactly 1", n, racers, name)
		}
		mustSameJSON(t, "stored object vs the winner's", mustGet(t, st, widgets, "ns", name), <-winner)
	}
}

// Read-modify-write loops that retry on Conflict never lose an update, whether they
// update the spec or, at the same time on the same object, the status.
func testConcurrentUpdates(t *testing.T, c *config) {
	st := c.open(t)
	mustCreate(t, st, widgets, obj("ns", "counter", map[string]any{"count": int64(0)}))
	const specWriters, statusWriters, each = 6, 3, 15

	increment := func(update func(*unstructured.Unstructured) (*unstructured.Unstructured, error), field ...string) func() {
		return func() {
			for range each {
				for {
					cur, err := st.Get(ctx, widgets, "ns", "counter")
					if err != nil {
						t.Errorf("Get: %v", err)
						return
					}
					n, _, _ := unstructured.NestedInt64(cur.Object, field...)
					if err := unstructured.SetNestedField(cur.Object, n+1, field...); err != nil {
						t.Errorf("setting %v: %v", field, err)
						return
					}
					_, err = update(cur)
					if apierrors.IsConflict(err) {
						continue
					}
					if err != nil {
						t.Errorf("update of %v: %v", field, err)
						return
					}
					break
				}
			}
		}
	}
	var fns []func()
	for range specWriters {
		fns = append(fns, increment(func(u *unstructured.Unstructured) (*unstructured.Unstructured, error) {
			return st.Update(ctx, widgets, u)
		}, "spec", "count"))
	}
	for range statusWriters {
		fns = append(fns, increment(func(u *unstructured.Unstructured) (*unstructured.Unstructured, error) {
			return st.UpdateStatus(ctx, widgets, u)
		}, "status", "count"))
	}
	runAll(t, fns...)
	if t.Failed() {
		return
	}
	final := mustGet(t, st, widgets, "ns", "counter")
	if got := nestedInt(t, final, "spec", "count"); got != specWriters*each {
		t.Errorf("spec.count = %d, want %d: updates were lost", got, specWriters*each)
	}
	if got := nestedInt(t, final, "status", "count"); got != statusWriters*each {
		t.Errorf("status.count = %d, want %d: status updates were lost", got, statusWriters*each)
	}
	if got := final.GetGeneration(); got != 1+specWriters*each {
		t.Errorf("generation = %d, want %d (one per spec change)", got, 1+specWriters*each)
	}
	// The store's own lists agree.
	l := mustList(t, st, widgets, "ns", store.ListOptions{})
	if len(l.Items) != 1 || !sameJSON(&l.Items[0], final) {
		t.Errorf("List disagrees with Get: %v", l.Items)
	}
}
