package reconciler_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyplatform/eddy/api/kinds"
	"github.com/eddyplatform/eddy/control/reconciler"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/util/workqueue"
)

// TestControllerMirrorsEndToEnd runs the mirror reconciler in a Controller over a bolt store:
// a new ConfigMap gets its Secret, a change reaches the Secret, and a deleted Secret comes
// back through the owner mapper.
func TestControllerMirrorsEndToEnd(t *testing.T) {
	ctx := t.Context()
	st := openStore(t)
	reg := kinds.NewRegistry()
	c := reconciler.NewCache(st, reg, reconciler.CacheOptions{})
	client := reconciler.NewClient(st, reg)
	metrics := prometheus.NewRegistry()
	ctl, err := reconciler.NewController(reconciler.Options{
		Name:       "mirror",
		For:        &corev1.ConfigMap{},
		Reconciler: newMirror(c, client, reconciler.NewRecorder(client, "mirror")),
		Cache:      c,
		Logger:     testLogger(t),
		Metrics:    metrics,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := ctl.Watch(&corev1.Secret{}, reconciler.MapToOwner(ctl.Kind())); err != nil {
		t.Fatal(err)
	}
	stop := runController(t, ctl.Run)

	secretData := func(want string) func() (bool, string) {
		return func() (bool, string) {
			var s corev1.Secret
			if err := client.Get(ctx, "default", "app", &s); err != nil {
				return false, err.Error()
			}
			return string(s.Data["k"]) == want, fmt.Sprintf("data %q", s.Data)
		}
	}

	cm := configMap("app", map[string]string{"k": "v1"})
	if err := client.Create(ctx, cm); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the secret to be created", secretData("v1"))

	cm.Data["k"] = "v2"
	if err := client.Update(ctx, cm); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the secret to follow the configmap", secretData("v2"))

	var s corev1.Secret
	if err := client.Get(ctx, "default", "app", &s); err != nil {
		t.Fatal(err)
	}
	oldUID := s.UID
	if err := client.Delete(ctx, &s); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the deleted secret to be recreated", func() (bool, string) {
		var s corev1.Secret
		if err := client.Get(ctx, "default", "app", &s); err != nil {
			return false, err.Error()
		}
		return s.UID != oldUID && string(s.Data["k"]) == "v2", fmt.Sprintf("uid %s data %q", s.UID, s.Data)
	})

	// The two creations are one event, counted twice.
	eventually(t, "a Created event counted twice", func() (bool, string) {
		evs, err := reconciler.List[*corev1.Event](ctx, client, "default", nil)
		if err != nil {
			return false, err.Error()
		}
		var seen []string
		for _, ev := range evs {
			seen = append(seen, fmt.Sprintf("%s %s %q x%d", ev.InvolvedObject.Name, ev.Reason, ev.Message, ev.Count))
			if ev.Reason == "Created" && ev.Count == 2 && ev.InvolvedObject.Kind == "ConfigMap" {
				return true, ""
			}
		}
		return false, lines(seen)
	})

	labels := map[string]string{"controller": "mirror", "result": reconciler.ResultSuccess}
	if n := metricValue(t, metrics, "eddy_reconcile_total", labels); n < 3 {
		t.Errorf("eddy_reconcile_total%v = %v, want at least 3", labels, n)
	}
	if n := metricValue(t, metrics, "eddy_reconcile_duration_seconds", map[string]string{"controller": "mirror"}); n < 3 {
		t.Errorf("eddy_reconcile_duration_seconds count = %v, want at least 3", n)
	}
	if n := metricValue(t, metrics, "eddy_reconcile_queue_depth", map[string]string{"controller": "mirror"}); n < 0 {
		t.Errorf("eddy_reconcile_queue_depth missing")
	}
	stop()

	// After Run, the queue is shut down: an Enqueue reaches no one, and Run can't start again.
	ctl.Enqueue("default/app")
	if err := ctl.Run(context.Background()); err == nil {
		t.Error("a second Run succeeded")
	}
}

// countingLimiter wraps a rate limiter and records its use.
type countingLimiter struct {
	workqueue.TypedRateLimiter[string]
	mu      sync.Mutex
	delays  map[string][]time.Duration
	forgets map[string]int
}

func newCountingLimiter() *countingLimiter {
	return &countingLimiter{
		TypedRateLimiter: workqueue.NewTypedItemExponentialFailureRateLimiter[string](time.Millisecond, time.Second),
		delays:           map[string][]time.Duration{},
		forgets:          map[string]int{},
	}
}

func (l *countingLimiter) When(key string) time.Duration {
	d := l.TypedRateLimiter.When(key)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.delays[key] = append(l.delays[key], d)
	return d
}

func (l *countingLimiter) Forget(key string) {
	l.TypedRateLimiter.Forget(key)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.forgets[key]++
}

func (l *countingLimiter) backoffs(key string) []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]time.Duration(nil), l.delays[key]...)
}

// scripted is a reconciler whose answer for each key's n-th call (from 1) comes from a script.
type scripted struct {
	mu     sync.Mutex
	calls  map[string]int
	script func(key string, n int) error
}

func (s *scripted) Reconcile(_ context.Context, key string) error {
	s.mu.Lock()
	s.calls[key]++
	n := s.calls[key]
	s.mu.Unlock()
	return s.script(key, n)
}

func (s *scripted) count(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[key]
}

// scriptedController runs a controller of ConfigMaps with script and one ConfigMap per key.
func scriptedController(t *testing.T, script func(key string, n int) error, names ...string) (*scripted, *countingLimiter, *prometheus.Registry) {
	t.Helper()
	st := openStore(t)
	reg := kinds.NewRegistry()
	client := reconciler.NewClient(st, reg)
	for _, n := range names {
		if err := client.Create(t.Context(), configMap(n, nil)); err != nil {
			t.Fatal(err)
		}
	}
	r := &scripted{calls: map[string]int{}, script: script}
	limiter := newCountingLimiter()
	metrics := prometheus.NewRegistry()
	ctl, err := reconciler.NewController(reconciler.Options{
		Name: "scripted", For: &corev1.ConfigMap{}, Reconciler: r,
		Cache:   reconciler.NewCache(st, reg, reconciler.CacheOptions{}),
		Workers: 1, RateLimiter: limiter, Logger: testLogger(t), Metrics: metrics,
	})
	if err != nil {
		t.Fatal(err)
	}
	runController(t, ctl.Run)
	return r, limiter, metrics
}

func result(r string) map[string]string {
	return map[string]string{"controller": "scripted", "result": r}
}

func TestControllerRetriesWithBackoff(t *testing.T) {
	const failures = 4
	r, limiter, metrics := scriptedController(t, func(_ string, n int) error {
		if n <= failures {
			return errors.New("not yet")
		}
		return nil
	}, "app")
	eventually(t, "a success after the failures", func() (bool, string) {
		n := metricValue(t, metrics, "eddy_reconcile_total", result(reconciler.ResultSuccess))
		return n == 1, fmt.Sprintf("%v successes, %d calls", n, r.count("default/app"))
	})
	if n := r.count("default/app"); n != failures+1 {
		t.Errorf("Reconcile called %d times, want %d", n, failures+1)
	}
	if n := metricValue(t, metrics, "eddy_reconcile_total", result(reconciler.ResultError)); n != failures {
		t.Errorf("error count = %v, want %d", n, failures)
	}
	want := []time.Duration{time.Millisecond, 2 * time.Millisecond, 4 * time.Millisecond, 8 * time.Millisecond}
	if got := limiter.backoffs("default/app"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("backoffs = %v, want %v (exponential)", got, want)
	}
}

func TestControllerPermanentErrorIsNotRetried(t *testing.T) {
	r, limiter, metrics := scriptedController(t, func(key string, _ int) error {
		if key == "default/bad" {
			return reconciler.Permanent(errors.New("spec is wrong"))
		}
		return nil
	}, "bad", "good")
	eventually(t, "both keys handled", func() (bool, string) {
		p := metricValue(t, metrics, "eddy_reconcile_total", result(reconciler.ResultPermanent))
		s := metricValue(t, metrics, "eddy_reconcile_total", result(reconciler.ResultSuccess))
		return p == 1 && s == 1, fmt.Sprintf("%v permanent, %v success", p, s)
	})
	if got := limiter.backoffs("default/bad"); len(got) != 0 {
		t.Errorf("a permanent error was rate-limited for retry: %v", got)
	}
	if n := r.count("default/bad"); n != 1 {
		t.Errorf("Reconcile(default/bad) called %d times, want 1", n)
	}
}

func TestControllerRequeueAfter(t *testing.T) {
	r, limiter, metrics := scriptedController(t, func(_ string, n int) error {
		if n == 1 {
			return reconciler.RequeueAfter(20 * time.Millisecond)
		}
		return nil
	}, "app")
	eventually(t, "the second look", func() (bool, string) {
		n := metricValue(t, metrics, "eddy_reconcile_total", result(reconciler.ResultSuccess))
		return n == 1, fmt.Sprintf("%v successes, %d calls", n, r.count("default/app"))
	})
	if n := metricValue(t, metrics, "eddy_reconcile_total", result(reconciler.ResultRequeue)); n != 1 {
		t.Errorf("requeue count = %v, want 1", n)
	}
	if got := limiter.backoffs("default/app"); len(got) != 0 {
		t.Errorf("RequeueAfter went through the failure backoff: %v", got)
	}
}

func TestControllerRecoversPanics(t *testing.T) {
	r, _, metrics := scriptedController(t, func(_ string, n int) error {
		if n == 1 {
			panic("boom")
		}
		return nil
	}, "app")
	eventually(t, "a retry after the panic", func() (bool, string) {
		n := metricValue(t, metrics, "eddy_reconcile_total", result(reconciler.ResultSuccess))
		return n == 1, fmt.Sprintf("%v successes, %d calls", n, r.count("default/app"))
	})
	if n := metricValue(t, metrics, "eddy_reconcile_total", result(reconciler.ResultError)); n != 1 {
		t.Errorf("error count = %v, want 1", n)
	}
}

// TestControllerRunStopsWhileReconciling cancels Run while a reconcile is blocked on its
// context: Run must return, after the reconcile has.
func TestControllerRunStopsWhileReconciling(t *testing.T) {
	st := openStore(t)
	reg := kinds.NewRegistry()
	if err := reconciler.NewClient(st, reg).Create(t.Context(), configMap("app", nil)); err != nil {
		t.Fatal(err)
	}
	entered := make(chan struct{})
	var returned atomic.Bool
	ctl, err := reconciler.NewController(reconciler.Options{
		Name: "blocking", For: &corev1.ConfigMap{}, Logger: testLogger(t),
		Cache: reconciler.NewCache(st, reg, reconciler.CacheOptions{}),
		Reconciler: reconciler.Func(func(ctx context.Context, key string) error {
			close(entered)
			<-ctx.Done()
			returned.Store(true)
			return ctx.Err()
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	stop := runController(t, ctl.Run)
	select {
	case <-entered:
	case <-time.After(20 * time.Second):
		t.Fatal("Reconcile was never called")
	}
	stop()
	if !returned.Load() {
		t.Error("Run returned before the reconcile in progress")
	}
}

func TestNewControllerValidates(t *testing.T) {
	st := openStore(t)
	reg := kinds.NewRegistry()
	c := reconciler.NewCache(st, reg, reconciler.CacheOptions{})
	ok := reconciler.Options{Name: "x", For: &corev1.ConfigMap{}, Reconciler: reconciler.Func(nil), Cache: c}
	for name, mutate := range map[string]func(*reconciler.Options){
		"no name":       func(o *reconciler.Options) { o.Name = "" },
		"no kind":       func(o *reconciler.Options) { o.For = nil },
		"unknown kind":  func(o *reconciler.Options) { o.For = &corev1.Pod{} },
		"no reconciler": func(o *reconciler.Options) { o.Reconciler = nil },
		"no cache":      func(o *reconciler.Options) { o.Cache = nil },
	} {
		o := ok
		mutate(&o)
		if _, err := reconciler.NewController(o); err == nil {
			t.Errorf("%s: NewController succeeded", name)
		}
	}
	metrics := prometheus.NewRegistry()
	ok.Metrics = metrics
	if _, err := reconciler.NewController(ok); err != nil {
		t.Fatal(err)
	}
	if _, err := reconciler.NewController(ok); err == nil {
		t.Error("two controllers of one name registered their metrics in one registry")
	}
}
