package bolt

import (
	"context"
	"fmt"
	"runtime"
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
	"github.com/eddyplatform/eddy/control/store/storetest"
)

var widgets = store.Resource{Group: "test.eddy.dev", Resource: "widgets"}

func open(t testing.TB, dir string, opts ...Option) *Store {
	t.Helper()
	s, err := Open(dir, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t,
		func(t *testing.T) store.Store { return open(t, t.TempDir()) },
		storetest.WithHistory(func(t *testing.T, n int) store.Store { return open(t, t.TempDir(), WithHistory(n)) }))
}

func TestRestart(t *testing.T) {
	storetest.RunRestart(t, func(t *testing.T, dir string) store.Store { return open(t, dir) })
}

func widget(ns, name string, kv ...string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "test.eddy.dev/v1", "kind": "Widget",
		"metadata": map[string]any{"name": name, "namespace": ns},
	}}
	if len(kv) > 0 {
		l := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			l[kv[i]] = kv[i+1]
		}
		u.SetLabels(l)
	}
	return u
}

func next(t *testing.T, w watch.Interface) (watch.Event, bool) {
	t.Helper()
	select {
	case ev, ok := <-w.ResultChan():
		return ev, ok
	case <-time.After(30 * time.Second):
		t.Fatal("no event")
	}
	return watch.Event{}, false
}

// The file is where the doc says, and a second Open of it fails instead of hanging.
func TestFileAndLock(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	defer s.Close()
	if s.db.Path() != dir+"/"+FileName {
		t.Fatalf("file %s", s.db.Path())
	}
	if _, err := Open(dir, WithLockTimeout(50*time.Millisecond)); err == nil {
		t.Fatal("a second Open of the same directory succeeded")
	}
}

// A watcher whose consumer doesn't keep up is cut off after what it had queued, and a
// re-watch from the last version it saw continues without a gap.
func TestSlowWatcherIsCutOff(t *testing.T) {
	s := open(t, t.TempDir(), WithWatchBuffer(8))
	defer s.Close()
	ctx := context.Background()
	w, err := s.Watch(ctx, widgets, "", store.ListOptions{ResourceVersion: "0"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	const n = 200
	for i := range n {
		if _, err := s.Create(ctx, widgets, widget("ns", fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	var last uint64
	got := 0
	for {
		ev, ok := next(t, w)
		if !ok {
			break
		}
		r, _ := strconv.ParseUint(ev.Object.(*unstructured.Unstructured).GetResourceVersion(), 10, 64)
		if r != last+1 {
			t.Fatalf("event rv %d after %d", r, last)
		}
		last, got = r, got+1
	}
	if got >= n {
		t.Fatalf("a watcher with an 8-event buffer that nobody read got all %d events", n)
	}
	w2, err := s.Watch(ctx, widgets, "", store.ListOptions{ResourceVersion: strconv.FormatUint(last, 10)})
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Stop()
	for got < n {
		ev, ok := next(t, w2)
		if !ok {
			t.Fatalf("the re-watch ended too, after %d events", got)
		}
		r, _ := strconv.ParseUint(ev.Object.(*unstructured.Unstructured).GetResourceVersion(), 10, 64)
		if r != last+1 {
			t.Fatalf("re-watch event rv %d after %d", r, last)
		}
		last, got = r, got+1
	}
}

// With a label selector, objects moving in and out of the selection arrive as Added and
// Deleted, as from the Kubernetes API server.
func TestSelectorTransitions(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	w, err := s.Watch(ctx, widgets, "", store.ListOptions{LabelSelector: labels.SelectorFromSet(labels.Set{"app": "x"})})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	u, err := s.Create(ctx, widgets, widget("ns", "a", "app", "y"))
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		labels []string
		want   watch.EventType
	}{
		{[]string{"app", "x"}, watch.Added},
		{[]string{"app", "x", "more", "1"}, watch.Modified},
		{[]string{"app", "z"}, watch.Deleted},
		{nil, ""},
		{[]string{"app", "x"}, watch.Added},
	} {
		in := u.DeepCopy()
		in.SetLabels(widget("", "", step.labels...).GetLabels())
		if u, err = s.Update(ctx, widgets, in); err != nil {
			t.Fatal(err)
		}
		if step.want == "" {
			continue
		}
		ev, ok := next(t, w)
		if !ok || ev.Type != step.want || ev.Object.(*unstructured.Unstructured).GetResourceVersion() != u.GetResourceVersion() {
			t.Fatalf("labels %v: got %v %v, want %s at rv %s", step.labels, ev.Type, ok, step.want, u.GetResourceVersion())
		}
	}
}

// An object that leaves the selection in the same update that deletes it (its last
// finalizer goes) is still seen to be deleted.
func TestSelectorSeesRelabelingDelete(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	w, err := s.Watch(ctx, widgets, "", store.ListOptions{LabelSelector: labels.SelectorFromSet(labels.Set{"app": "x"})})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	in := widget("ns", "a", "app", "x")
	in.SetFinalizers([]string{"test.eddy.dev/f"})
	if _, err := s.Create(ctx, widgets, in); err != nil {
		t.Fatal(err)
	}
	u, err := s.Delete(ctx, widgets, "ns", "a", store.DeleteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	u.SetFinalizers(nil)
	u.SetLabels(map[string]string{"app": "gone"})
	if _, err := s.Update(ctx, widgets, u); err != nil {
		t.Fatal(err)
	}
	for _, want := range []watch.EventType{watch.Added, watch.Modified, watch.Deleted} {
		if ev, ok := next(t, w); !ok || ev.Type != want {
			t.Fatalf("got %v %v, want %s", ev.Type, ok, want)
		}
	}
}

// Concurrent writes share transactions.
func TestGroupCommit(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	const writers, each = 32, 20
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			for j := range each {
				if _, err := s.Create(context.Background(), widgets, widget("ns", fmt.Sprintf("%d-%d", i, j))); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	commits, writes := s.commits.Load(), s.writes.Load()
	t.Logf("%d writes in %d commits", writes, commits)
	if writes != writers*each || commits >= writes {
		t.Fatalf("%d writes in %d commits: no group commit", writes, commits)
	}
}

// A write whose context ends while it waits is not applied.
func TestCanceledWrite(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Create(ctx, widgets, widget("ns", "a")); err == nil {
		t.Fatal("Create with a canceled context succeeded")
	}
	if _, err := s.Get(context.Background(), widgets, "ns", "a"); !apierrors.IsNotFound(err) {
		t.Fatalf("Get: %v, want NotFound", err)
	}
}

// Names that can't be keys are Invalid.
func TestInvalidNames(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	for _, u := range []*unstructured.Unstructured{widget("ns", ""), widget("ns", "a/b"), widget("a/b", "c")} {
		if _, err := s.Create(context.Background(), widgets, u); !apierrors.IsInvalid(err) {
			t.Errorf("Create %s/%s: %v, want Invalid", u.GetNamespace(), u.GetName(), err)
		}
	}
}

// BenchmarkCreate measures creates per second with many concurrent writers (group commit).
func BenchmarkCreate(b *testing.B) {
	for _, writers := range []int{1, 32, 128} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			s := open(b, b.TempDir())
			defer s.Close()
			var seq atomic.Int64
			b.SetParallelism((writers + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					name := strconv.FormatInt(seq.Add(1), 10)
					u := widget("bench", name, "app", "bench")
					u.Object["spec"] = map[string]any{"image": "registry.example/app:v1", "replicas": int64(3)}
					if _, err := s.Create(context.Background(), widgets, u); err != nil {
						b.Error(err)
						return
					}
				}
			})
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "writes/s")
			if c := s.commits.Load(); c > 0 {
				b.ReportMetric(float64(s.writes.Load())/float64(c), "writes/commit")
			}
		})
	}
}

// BenchmarkWatchFanout measures delivering events to 100 watchers: each op is one create,
// seen by every watcher.
func BenchmarkWatchFanout(b *testing.B) {
	const watchers, writers, chunk = 100, 32, 256
	s := open(b, b.TempDir())
	defer s.Close()
	ctx := context.Background()
	var received atomic.Int64
	var ended atomic.Int32
	for range watchers {
		w, err := s.Watch(ctx, widgets, "", store.ListOptions{ResourceVersion: "0"})
		if err != nil {
			b.Fatal(err)
		}
		defer w.Stop()
		go func() {
			for range w.ResultChan() {
				received.Add(1)
			}
			ended.Add(1)
		}()
	}
	var seq atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for done := 0; done < b.N; {
		n := min(chunk, b.N-done) // bounded, so healthy watchers are never cut off
		var wg sync.WaitGroup
		var left atomic.Int64
		left.Store(int64(n))
		for range writers {
			wg.Go(func() {
				for left.Add(-1) >= 0 {
					u := widget("bench", strconv.FormatInt(seq.Add(1), 10))
					if _, err := s.Create(ctx, widgets, u); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		done += n
		want := int64(done) * watchers
		for received.Load() < want {
			if ended.Load() > 0 {
				b.Fatalf("%d watchers were cut off", ended.Load())
			}
			runtime.Gosched()
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	deliveries := float64(b.N) * watchers
	b.ReportMetric(deliveries/elapsed.Seconds(), "deliveries/s")
	b.ReportMetric(float64(elapsed.Nanoseconds())/deliveries, "ns/delivery")
}
