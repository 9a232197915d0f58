package router

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyplatform/eddy/serving/runtime"
)

// testRuntime is a runtime.Runtime whose instances are httptest servers in this process, so
// that the router's tests control exactly when instances appear and go. (The process runtime
// has its own conformance suite; the serving end-to-end tests use it with this router.)
type testRuntime struct {
	mu      sync.Mutex
	insts   map[runtime.RevisionKey][]runtime.Instance
	changed chan struct{}
	handler func(rev runtime.RevisionKey, id string) http.Handler
	servers []*httptest.Server
}

func newTestRuntime(t *testing.T, h func(rev runtime.RevisionKey, id string) http.Handler) *testRuntime {
	rt := &testRuntime{insts: map[runtime.RevisionKey][]runtime.Instance{}, changed: make(chan struct{}), handler: h}
	t.Cleanup(func() {
		rt.mu.Lock()
		defer rt.mu.Unlock()
		for _, s := range rt.servers {
			s.Close()
		}
	})
	return rt
}

func (rt *testRuntime) notify() {
	close(rt.changed)
	rt.changed = make(chan struct{})
}

// add starts a ready instance of rev and returns its id.
func (rt *testRuntime) add(rev runtime.RevisionKey) string {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	id := fmt.Sprintf("%s-%d", rev.Name, len(rt.insts[rev])+1)
	s := httptest.NewServer(rt.handler(rev, id))
	rt.servers = append(rt.servers, s)
	rt.insts[rev] = append(rt.insts[rev], runtime.Instance{ID: id, Phase: runtime.Ready, Address: strings.TrimPrefix(s.URL, "http://")})
	rt.notify()
	return id
}

// addDead lists a "ready" instance at an address where nothing listens.
func (rt *testRuntime) addDead(rev runtime.RevisionKey) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.insts[rev] = append(rt.insts[rev], runtime.Instance{ID: "dead", Phase: runtime.Ready, Address: addr})
	rt.notify()
}

func (rt *testRuntime) Apply(context.Context, runtime.Revision) error { return nil }
func (rt *testRuntime) Remove(context.Context, runtime.RevisionKey) error {
	return nil
}
func (rt *testRuntime) Instances(k runtime.RevisionKey) []runtime.Instance {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return append([]runtime.Instance(nil), rt.insts[k]...)
}
func (rt *testRuntime) Changed() <-chan struct{} {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.changed
}
func (rt *testRuntime) Logs(runtime.RevisionKey, string, int) ([]string, error) { return nil, nil }
func (rt *testRuntime) Close(context.Context) error                             { return nil }

// echo answers with the instance id.
func echo(_ runtime.RevisionKey, id string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		fmt.Fprint(w, id)
	})
}

func newRouter(t *testing.T, rt runtime.Runtime, onDemand func(runtime.RevisionKey)) (*Router, *httptest.Server) {
	t.Helper()
	r, err := New(Config{Runtime: rt, OnDemand: onDemand})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return r, srv
}

func get(t *testing.T, c *http.Client, url, host string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Host = host
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var (
	v1 = runtime.RevisionKey{Namespace: "default", Name: "hello-00001"}
	v2 = runtime.RevisionKey{Namespace: "default", Name: "hello-00002"}
)

func TestHostsAndTags(t *testing.T) {
	rt := newTestRuntime(t, echo)
	rt.add(v1)
	rt.add(v2)
	r, srv := newRouter(t, rt, nil)
	r.SetRoute(Route{Namespace: "default", Name: "hello", Targets: []Target{
		{Revision: "hello-00001", Percent: 100, Tag: "current"},
		{Revision: "hello-00002", Percent: 0, Tag: "candidate"},
	}})
	c := srv.Client()
	for host, want := range map[string]string{
		"hello.default.localhost":                 "hello-00001-1",
		"hello.default.localhost:8080":            "hello-00001-1",
		"Current-Hello.default.localhost":         "hello-00001-1",
		"candidate-hello.default.localhost:12345": "hello-00002-1",
	} {
		if code, body := get(t, c, srv.URL, host); code != 200 || body != want {
			t.Errorf("%s: %d %q, want %q", host, code, body, want)
		}
	}
	if code, body := get(t, c, srv.URL, "nope.default.localhost"); code != 404 || !strings.Contains(body, "no route") {
		t.Errorf("unknown host: %d %s", code, body)
	}
	r.RemoveRoute("default", "hello")
	if code, _ := get(t, c, srv.URL, "hello.default.localhost"); code != 404 {
		t.Errorf("removed route: %d", code)
	}
}

// A 90/10 split, measured over 10,000 requests, is within ±3%.
func TestTrafficSplit(t *testing.T) {
	rt := newTestRuntime(t, echo)
	rt.add(v1)
	rt.add(v2)
	r, srv := newRouter(t, rt, nil)
	r.SetRoute(Route{Namespace: "default", Name: "hello", Targets: []Target{{Revision: "hello-00001", Percent: 90}, {Revision: "hello-00002", Percent: 10}}})
	const n = 10_000
	var got [2]atomic.Int64
	var wg sync.WaitGroup
	c := srv.Client()
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < n; i += 8 {
				_, body := get(t, c, srv.URL, "hello.default.localhost")
				switch body {
				case "hello-00001-1":
					got[0].Add(1)
				case "hello-00002-1":
					got[1].Add(1)
				default:
					t.Errorf("unexpected answer %q", body)
				}
			}
		})
	}
	wg.Wait()
	share := float64(got[1].Load()) / n * 100
	if share < 7 || share > 13 {
		t.Fatalf("the 10%% target got %.2f%% of %d requests", share, n)
	}
	t.Logf("90/10 split: %d / %d (%.2f%%)", got[0].Load(), got[1].Load(), share)
}

// containerConcurrency 1: no instance ever has two requests at once, and queued requests all
// complete.
func TestContainerConcurrencyIsAHardLimit(t *testing.T) {
	var cur, peak atomic.Int64
	var mu sync.Mutex
	perInstance := map[string]*atomic.Int64{}
	rt := newTestRuntime(t, func(_ runtime.RevisionKey, id string) http.Handler {
		mu.Lock()
		c := &atomic.Int64{}
		perInstance[id] = c
		mu.Unlock()
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n := c.Add(1)
			defer c.Add(-1)
			if n > 1 {
				t.Errorf("instance %s has %d requests at once", id, n)
			}
			if x := cur.Add(1); x > peak.Load() {
				peak.Store(x)
			}
			defer cur.Add(-1)
			time.Sleep(time.Millisecond) // a slow handler, so that requests overlap
			fmt.Fprint(w, id)
		})
	})
	rt.add(v1)
	rt.add(v1)
	r, srv := newRouter(t, rt, nil)
	r.SetRevision(v1, Settings{ContainerConcurrency: 1})
	r.SetRoute(Route{Namespace: "default", Name: "hello", Targets: []Target{{Revision: "hello-00001", Percent: 100}}})
	var wg sync.WaitGroup
	var ok atomic.Int64
	for range 50 {
		wg.Go(func() {
			for range 10 {
				if code, _ := get(t, srv.Client(), srv.URL, "hello.default.localhost"); code == 200 {
					ok.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if ok.Load() != 500 {
		t.Fatalf("%d of 500 requests succeeded", ok.Load())
	}
	if peak.Load() > 2 {
		t.Fatalf("%d requests in flight at once on 2 instances of containerConcurrency 1", peak.Load())
	}
}

// 200 concurrent requests to a revision with no instance: the router asks for one, holds the
// requests, and every one succeeds once the instance is ready.
func TestScaleFromZeroHoldsRequests(t *testing.T) {
	rt := newTestRuntime(t, echo)
	var demanded atomic.Int64
	var once sync.Once
	r, srv := newRouter(t, rt, func(k runtime.RevisionKey) {
		demanded.Add(1)
		once.Do(func() {
			go func() {
				time.Sleep(50 * time.Millisecond) // a cold start
				rt.add(k)
			}()
		})
	})
	r.SetRoute(Route{Namespace: "default", Name: "hello", Targets: []Target{{Revision: "hello-00001", Percent: 100}}})
	var wg sync.WaitGroup
	var bad atomic.Int64
	for range 200 {
		wg.Go(func() {
			if code, body := get(t, srv.Client(), srv.URL, "hello.default.localhost"); code != 200 || body != "hello-00001-1" {
				bad.Add(1)
				t.Errorf("%d %s", code, body)
			}
		})
	}
	wg.Wait()
	if bad.Load() != 0 || demanded.Load() == 0 {
		t.Fatalf("%d failed, %d demands", bad.Load(), demanded.Load())
	}
	if n, done := r.Stats(v1); n != 0 || done != 200 {
		t.Fatalf("stats: %d in flight, %d completed", n, done)
	}
}

// An instance that is listed ready but refuses connections (it just died) costs no request a
// 502: the router sends it to another instance.
func TestConnectFailureGoesElsewhere(t *testing.T) {
	rt := newTestRuntime(t, echo)
	rt.addDead(v1)
	rt.add(v1)
	r, srv := newRouter(t, rt, nil)
	r.SetRoute(Route{Namespace: "default", Name: "hello", Targets: []Target{{Revision: "hello-00001", Percent: 100}}})
	for range 20 {
		if code, body := get(t, srv.Client(), srv.URL, "hello.default.localhost"); code != 200 {
			t.Fatalf("%d %s", code, body)
		}
	}
}

func TestQueueFullAndTimeout(t *testing.T) {
	rt := newTestRuntime(t, echo)
	r, err := New(Config{Runtime: rt, QueueDepth: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	srv := httptest.NewServer(r)
	defer srv.Close()
	r.SetRevision(v1, Settings{Timeout: 200 * time.Millisecond})
	r.SetRoute(Route{Namespace: "default", Name: "hello", Targets: []Target{{Revision: "hello-00001", Percent: 100}}})
	first := make(chan string)
	go func() {
		code, body := get(t, srv.Client(), srv.URL, "hello.default.localhost")
		first <- fmt.Sprint(code, " ", body)
	}()
	// Wait until the first request is queued, then the second finds the queue full.
	deadline := time.Now().Add(5 * time.Second)
	for n, _ := r.Stats(v1); n == 0; n, _ = r.Stats(v1) {
		if time.Now().After(deadline) {
			t.Fatal("the first request never arrived")
		}
		time.Sleep(time.Millisecond)
	}
	if code, body := get(t, srv.Client(), srv.URL, "hello.default.localhost"); code != 503 || !strings.Contains(body, "already waiting") {
		t.Errorf("queue full: %d %s", code, body)
	}
	if got := <-first; !strings.HasPrefix(got, "503") || !strings.Contains(got, "timeout") {
		t.Errorf("timed out in the queue: %s", got)
	}
}

// Drain takes an instance out of rotation and waits for its requests to finish.
func TestDrain(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	rt := newTestRuntime(t, func(_ runtime.RevisionKey, id string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if id == "hello-00001-1" {
				started <- struct{}{}
				<-release
			}
			fmt.Fprint(w, id)
		})
	})
	first := rt.add(v1)
	r, srv := newRouter(t, rt, nil)
	r.SetRoute(Route{Namespace: "default", Name: "hello", Targets: []Target{{Revision: "hello-00001", Percent: 100}}})
	done := make(chan string)
	go func() {
		_, body := get(t, srv.Client(), srv.URL, "hello.default.localhost")
		done <- body
	}()
	<-started
	rt.add(v1)
	drained := make(chan error)
	go func() { drained <- r.Drain(context.Background(), v1, first) }()
	// New requests go to the other instance while the first drains.
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, body := get(t, srv.Client(), srv.URL, "hello.default.localhost"); body == "hello-00001-2" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("requests still go to the draining instance")
		}
	}
	select {
	case err := <-drained:
		t.Fatalf("Drain returned (%v) with a request in flight", err)
	default:
	}
	close(release)
	if err := <-drained; err != nil {
		t.Fatal(err)
	}
	if body := <-done; body != "hello-00001-1" {
		t.Fatalf("the in-flight request got %q", body)
	}
}
