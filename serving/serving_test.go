package serving_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/serving"
	"github.com/eddyplatform/eddy/control/reconciler"
	"github.com/eddyplatform/eddy/platform"
	"github.com/eddyplatform/eddy/serving/autoscaler"
	"github.com/eddyplatform/eddy/serving/runtime/runtimetest"
)

// env is a running platform with a client.
type env struct {
	p      *platform.Platform
	client *reconciler.Client
	http   *http.Client
}

// start runs the platform with an autoscaler that scales to zero quickly: a 6s stable window
// (Knative's minimum) and a 1s grace period.
func start(t *testing.T) *env {
	t.Helper()
	as := autoscaler.DefaultConfig()
	as.StableWindow = 6 * time.Second
	as.ScaleToZeroGracePeriod = time.Second
	as.AllowZeroInitialScale = true
	ctx, cancel := context.WithCancel(context.Background())
	p, err := platform.Start(ctx, platform.Config{DataDir: t.TempDir(), APIAddr: "127.0.0.1:0", IngressAddr: "127.0.0.1:0",
		ResyncPeriod: time.Second, Autoscaler: as, WorkDir: "..", Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		p.Shutdown(context.Background())
	})
	return &env{p: p, client: reconciler.NewClient(p.Store, p.Registry),
		http: &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}}
}

func (e *env) apply(t *testing.T, yaml string) {
	t.Helper()
	objs, err := e.p.Registry.DecodeAll([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.GetNamespace() == "" {
			o.SetNamespace("default")
		}
		admitted, _, err := e.p.Registry.Admit(o)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.client.Create(context.Background(), admitted); err != nil {
			t.Fatal(err)
		}
	}
}

func eventually(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ready waits until the Service is Ready and returns it.
func (e *env) ready(t *testing.T, name string) *serving.Service {
	t.Helper()
	svc := &serving.Service{}
	eventually(t, "service "+name+" ready", 3*time.Minute, func() bool { // the first build of the image may take a while
		return e.client.Get(context.Background(), "default", name, svc) == nil && svc.Status.IsReady() &&
			svc.Status.ObservedGeneration == svc.Generation && svc.Status.LatestReadyRevisionName == svc.Status.LatestCreatedRevisionName
	})
	return svc
}

// get requests path on a route's host through the ingress port.
func (e *env) get(t *testing.T, host, path string) (int, string) {
	req, _ := http.NewRequest("GET", e.p.IngressURL+path, nil)
	req.Host = host
	resp, err := e.http.Do(req)
	if err != nil {
		t.Errorf("GET %s%s: %v", host, path, err)
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// service is a Service running the runtime suite's test server.
func service(name, annotations, extra string) string {
	return fmt.Sprintf(`
apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: %s}
spec:
  template:
    metadata:
      annotations: {%s}
    spec:
%s      containers:
        - image: ko://%s
          env: [{name: GREETING, value: one}]
`, name, annotations, extra, runtimetest.ServerDir())
}

// 200 concurrent requests against a revision at zero scale all succeed.
func TestColdStartUnderLoad(t *testing.T) {
	e := start(t)
	e.apply(t, service("cold", `autoscaling.knative.dev/initial-scale: "0"`, ""))
	e.ready(t, "cold")
	rev := &serving.Revision{}
	if err := e.client.Get(context.Background(), "default", "cold-00001", rev); err != nil || *rev.Status.ActualReplicas != 0 {
		t.Fatalf("the revision should be at zero before the first request: %+v %v", rev.Status, err)
	}
	var wg sync.WaitGroup
	var ok atomic.Int64
	for range 200 {
		wg.Go(func() {
			if code, body := e.get(t, "cold.default.localhost", "/"); code == 200 && strings.TrimSpace(body) == "ok" {
				ok.Add(1)
			} else {
				t.Errorf("%d %q", code, body)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 200 {
		t.Fatalf("%d of 200 requests succeeded", ok.Load())
	}
}

// containerConcurrency 1 never lets an instance serve two requests at once; without it, the
// same load overlaps (so the check can fail).
func TestContainerConcurrencyOne(t *testing.T) {
	e := start(t)
	e.apply(t, service("one", `autoscaling.knative.dev/max-scale: "1"`, "      containerConcurrency: 1\n"))
	e.apply(t, service("many", `autoscaling.knative.dev/max-scale: "1"`, ""))
	e.ready(t, "one")
	e.ready(t, "many")
	for name, wantOne := range map[string]bool{"one": true, "many": false} {
		host := name + ".default.localhost"
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				if code, body := e.get(t, host, "/sleep?d=20ms"); code != 200 {
					t.Errorf("%s: %d %s", name, code, body)
				}
			})
		}
		wg.Wait()
		_, max := e.get(t, host, "/maxsleeping")
		if got := max == "1"; got != wantOne {
			t.Errorf("%s: at most %s requests at once in the instance", name, max)
		}
	}
}

// With no traffic a revision goes to zero after the stable window and the grace period, and
// the next request still succeeds.
func TestScaleToZeroAndBack(t *testing.T) {
	e := start(t)
	e.apply(t, service("idle", "", ""))
	e.ready(t, "idle")
	if code, _ := e.get(t, "idle.default.localhost", "/"); code != 200 {
		t.Fatalf("first request: %d", code)
	}
	rev := &serving.Revision{}
	eventually(t, "scale to zero", time.Minute, func() bool {
		return e.client.Get(context.Background(), "default", "idle-00001", rev) == nil &&
			rev.Status.ActualReplicas != nil && *rev.Status.ActualReplicas == 0 && *rev.Status.DesiredReplicas == 0
	})
	if c := rev.Status.GetCondition(serving.RevisionConditionActive); c == nil || !c.IsFalse() || c.Reason != serving.ReasonNoTraffic {
		t.Errorf("Active at zero: %+v", c)
	}
	if !rev.Status.IsReady() {
		t.Errorf("a revision at zero is still Ready: %+v", rev.Status.Conditions)
	}
	if code, body := e.get(t, "idle.default.localhost", "/"); code != 200 {
		t.Fatalf("request after scale to zero: %d %s", code, body)
	}
}

// A new revision takes traffic only once it is ready: a broken one never does, and the old
// one keeps serving; a good one does, and requests during the rollout all succeed.
func TestRolloutOnlyToReadyRevisions(t *testing.T) {
	e := start(t)
	e.apply(t, service("roll", "", ""))
	e.ready(t, "roll")
	host := "roll.default.localhost"
	stop := make(chan struct{})
	var failures, served atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if code, body := e.get(t, host, "/env"); code != 200 {
					failures.Add(1)
					t.Errorf("during rollout: %d %s", code, body)
				}
				served.Add(1)
			}
		})
	}
	update := func(mutate func(*serving.Service)) {
		t.Helper()
		for {
			svc := &serving.Service{}
			if err := e.client.Get(context.Background(), "default", "roll", svc); err != nil {
				t.Fatal(err)
			}
			mutate(svc)
			err := e.client.Update(context.Background(), svc)
			if err == nil {
				return
			}
			if !strings.Contains(err.Error(), "modified") {
				t.Fatal(err)
			}
		}
	}
	// A revision whose image cannot run here: it fails, traffic stays.
	update(func(s *serving.Service) {
		s.Spec.Template.Spec.Containers[0].Image = "gcr.io/knative-samples/helloworld-go"
	})
	svc := &serving.Service{}
	eventually(t, "the broken revision to fail", time.Minute, func() bool {
		e.client.Get(context.Background(), "default", "roll", svc)
		c := svc.Status.GetCondition(api.ConditionReady)
		return svc.Status.LatestCreatedRevisionName == "roll-00002" && c != nil && c.IsFalse()
	})
	rev := &serving.Revision{}
	e.client.Get(context.Background(), "default", "roll-00002", rev)
	if c := rev.Status.GetCondition(api.ConditionReady); c == nil || !strings.Contains(c.Message, "ko://") {
		t.Errorf("the failed revision should say why: %+v", rev.Status.Conditions)
	}
	if svc.Status.LatestReadyRevisionName != "roll-00001" || svc.Status.Traffic[0].RevisionName != "roll-00001" {
		t.Errorf("traffic moved to a failed revision: %+v", svc.Status.Traffic)
	}
	// A good revision with another environment: traffic moves once it is ready.
	update(func(s *serving.Service) {
		s.Spec.Template.Spec.Containers[0].Image = "ko://" + runtimetest.ServerDir()
		s.Spec.Template.Spec.Containers[0].Env[0].Value = "two"
	})
	eventually(t, "the new revision to serve", 2*time.Minute, func() bool {
		_, body := e.get(t, host, "/env")
		return strings.Contains(body, `"GREETING":"two"`)
	})
	close(stop)
	wg.Wait()
	if failures.Load() != 0 {
		t.Fatalf("%d of %d requests failed during the rollout", failures.Load(), served.Load())
	}
	e.ready(t, "roll")
}

// Tags address revisions directly, and a split sends traffic to both.
func TestTagsAndSplit(t *testing.T) {
	e := start(t)
	e.apply(t, service("split", "", ""))
	e.ready(t, "split")
	svc := &serving.Service{}
	if err := e.client.Get(context.Background(), "default", "split", svc); err != nil {
		t.Fatal(err)
	}
	svc.Spec.Template.Spec.Containers[0].Env[0].Value = "two"
	p90, p10 := int64(90), int64(10)
	svc.Spec.Traffic = []serving.TrafficTarget{
		{Tag: "old", RevisionName: "split-00001", Percent: &p90},
		{Tag: "new", LatestRevision: &[]bool{true}[0], Percent: &p10},
	}
	if err := e.client.Update(context.Background(), svc); err != nil {
		t.Fatal(err)
	}
	svc = e.ready(t, "split")
	if len(svc.Status.Traffic) != 2 || svc.Status.Traffic[1].RevisionName != "split-00002" || !strings.Contains(svc.Status.Traffic[1].URL, "new-split.default.localhost") {
		t.Fatalf("traffic status %+v", svc.Status.Traffic)
	}
	if _, body := e.get(t, "old-split.default.localhost", "/env"); !strings.Contains(body, `"GREETING":"one"`) {
		t.Errorf("tag old: %s", body)
	}
	if _, body := e.get(t, "new-split.default.localhost", "/env"); !strings.Contains(body, `"GREETING":"two"`) {
		t.Errorf("tag new: %s", body)
	}
	const n = 1000
	two := 0
	for range n {
		if _, body := e.get(t, "split.default.localhost", "/env"); strings.Contains(body, `"GREETING":"two"`) {
			two++
		}
	}
	if two < 50 || two > 150 { // 10% ± 5 points over 1,000: the router's own test checks ±3 over 10,000
		t.Errorf("the 10%% target got %d of %d requests", two, n)
	}
}

func testLogger() *slog.Logger {
	if os.Getenv("EDDY_TEST_DEBUG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
