package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/eddyplatform/eddy/api/serving"
	"github.com/eddyplatform/eddy/control/reconciler"
	"github.com/eddyplatform/eddy/platform"
	"github.com/eddyplatform/eddy/serving/autoscaler"
	"github.com/eddyplatform/eddy/serving/router"
	"github.com/eddyplatform/eddy/serving/runtime"
)

// staticRuntime is a runtime.Runtime with one fixed ready instance, so that the router's own
// cost can be measured against the same instance reached directly.
type staticRuntime struct{ addr string }

func (s staticRuntime) Apply(context.Context, runtime.Revision) error           { return nil }
func (s staticRuntime) Remove(context.Context, runtime.RevisionKey) error       { return nil }
func (s staticRuntime) Changed() <-chan struct{}                                { return make(chan struct{}) }
func (s staticRuntime) Close(context.Context) error                             { return nil }
func (s staticRuntime) Logs(runtime.RevisionKey, string, int) ([]string, error) { return nil, nil }
func (s staticRuntime) Instances(runtime.RevisionKey) []runtime.Instance {
	return []runtime.Instance{{ID: "i1", Phase: runtime.Ready, Address: s.addr}}
}

// benchRouter measures requests through the router against the same instance directly.
func benchRouter() (direct, routed float64, dLat, rLat []time.Duration) {
	inst := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Write([]byte("Hello World!\n"))
	}))
	defer inst.Close()
	rtr, err := router.New(router.Config{Runtime: staticRuntime{addr: strings.TrimPrefix(inst.URL, "http://")}})
	if err != nil {
		fail(err)
	}
	defer rtr.Close()
	rtr.SetRoute(router.Route{Namespace: "default", Name: "hello", Targets: []router.Target{{Revision: "hello-00001", Percent: 100}}})
	front := httptest.NewServer(rtr)
	defer front.Close()
	c := client(*clients)
	get := func(url, host string) error {
		req, _ := http.NewRequest("GET", url, nil)
		req.Host = host
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	direct, dLat = run(*clients, *duration, func(_, _ int) error { return get(inst.URL, "") })
	routed, rLat = run(*clients, *duration, func(_, _ int) error { return get(front.URL, "hello.default.localhost") })
	return
}

// servingPlatform starts a platform for the serving figures.
func servingPlatform(ctx context.Context) (*platform.Platform, *reconciler.Client, func()) {
	dir, _ := os.MkdirTemp("", "eddy-bench-serving")
	as := autoscaler.DefaultConfig()
	as.AllowZeroInitialScale = true
	p, err := platform.Start(ctx, platform.Config{DataDir: dir, APIAddr: "127.0.0.1:0", IngressAddr: "127.0.0.1:0", Autoscaler: as})
	if err != nil {
		fail(err)
	}
	return p, reconciler.NewClient(p.Store, p.Registry), func() {
		p.Shutdown(context.Background())
		os.RemoveAll(dir)
	}
}

func createService(ctx context.Context, p *platform.Platform, c *reconciler.Client, yaml string) {
	objs, err := p.Registry.DecodeAll([]byte(yaml))
	if err != nil {
		fail(err)
	}
	for _, o := range objs {
		a, _, err := p.Registry.Admit(o)
		if err != nil {
			fail(err)
		}
		if err := c.Create(ctx, a); err != nil {
			fail(err)
		}
	}
}

func waitReady(ctx context.Context, c *reconciler.Client, name string) {
	deadline := time.Now().Add(5 * time.Minute)
	svc := &serving.Service{}
	for c.Get(ctx, "default", name, svc) != nil || !svc.Status.IsReady() {
		if time.Now().After(deadline) {
			fail(fmt.Errorf("service %s not ready: %+v", name, svc.Status.Conditions))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// benchColdStart creates n Services at zero scale (one image, built once) and times the first
// request to each: request → scale from zero → instance ready → first response byte.
func benchColdStart(n int) []time.Duration {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p, c, stop := servingPlatform(ctx)
	defer stop()
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, `apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: cold-%d, namespace: default}
spec:
  template:
    metadata:
      annotations: {autoscaling.knative.dev/initial-scale: "0"}
    spec:
      containers: [{image: "ko://./examples/helloworld-go"}]
---
`, i)
	}
	createService(ctx, p, c, b.String())
	for i := 0; i < n; i++ {
		waitReady(ctx, c, fmt.Sprintf("cold-%d", i))
	}
	hc := &http.Client{Timeout: time.Minute}
	var out []time.Duration
	for i := 0; i < n; i++ {
		req, _ := http.NewRequest("GET", p.IngressURL, nil)
		req.Host = fmt.Sprintf("cold-%d.default.localhost", i)
		t0 := time.Now()
		resp, err := hc.Do(req)
		if err != nil {
			fail(err)
		}
		d := time.Since(t0) // headers received: the first byte
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			fail(fmt.Errorf("cold start %d: status %d", i, resp.StatusCode))
		}
		out = append(out, d)
	}
	return out
}

// benchDirectStart builds helloworld-go and times starting it directly until its first
// response, n times: the baseline for the cold start.
func benchDirectStart(n int) []time.Duration {
	dir, _ := os.MkdirTemp("", "eddy-bench-direct")
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "hello")
	if out, err := exec.Command("go", "build", "-o", bin, "./examples/helloworld-go").CombinedOutput(); err != nil {
		fail(fmt.Errorf("go build: %v: %s", err, out))
	}
	hc := &http.Client{Timeout: time.Second}
	var out []time.Duration
	for i := 0; i < n; i++ {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		t0 := time.Now()
		cmd := exec.Command(bin)
		cmd.Env = append(os.Environ(), fmt.Sprintf("PORT=%d", port))
		if err := cmd.Start(); err != nil {
			fail(err)
		}
		url := fmt.Sprintf("http://127.0.0.1:%d/", port)
		for {
			resp, err := hc.Get(url)
			if err == nil {
				resp.Body.Close()
				break
			}
			time.Sleep(200 * time.Microsecond)
		}
		out = append(out, time.Since(t0))
		cmd.Process.Kill()
		cmd.Wait()
	}
	return out
}

// benchScaleUp steps from 0 to clients concurrent clients against a revision with target 10
// and reports how long until the revision's ready instances reach the scale the autoscaler
// settles on, and how many requests failed.
func benchScaleUp(clients int, d time.Duration) (settle time.Duration, want, reached int32, ok, failed int64) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p, c, stop := servingPlatform(ctx)
	defer stop()
	createService(ctx, p, c, `apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: step, namespace: default}
spec:
  template:
    metadata:
      annotations: {autoscaling.knative.dev/initial-scale: "0", autoscaling.knative.dev/target: "10"}
    spec:
      containers: [{image: "ko://./serving/runtime/runtimetest/testdata/server"}]
`)
	waitReady(ctx, c, "step")
	hc := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	var okN, failN atomic.Int64
	stopAt := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < clients; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stopAt) {
				req, _ := http.NewRequest("GET", p.IngressURL+"/sleep?d=100ms", nil)
				req.Host = "step.default.localhost"
				resp, err := hc.Do(req)
				if err != nil {
					failN.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failN.Add(1)
				} else {
					okN.Add(1)
				}
			}
		}()
	}
	// 200 clients each with one request of 100ms in flight: concurrency 200, target 10 at
	// 70% utilization, so the autoscaler asks for ceil(200/7) = 29 instances.
	want = int32((clients*10 + 69) / 70)
	rev := &serving.Revision{}
	for time.Now().Before(stopAt) {
		if c.Get(ctx, "default", "step-00001", rev) == nil && rev.Status.ActualReplicas != nil && *rev.Status.ActualReplicas >= want {
			settle = time.Since(start)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	wg.Wait()
	if rev.Status.ActualReplicas != nil {
		reached = *rev.Status.ActualReplicas
	}
	return settle, want, reached, okN.Load(), failN.Load()
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// printServing prints the serving figures.
func printServing() {
	fmt.Println("\nServing: router, cold start, scale-up")
	tw := tabwriter.NewWriter(os.Stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "FIGURE\tVALUE\tBASELINE (same run)")
	direct, routed, dLat, rLat := benchRouter()
	fmt.Fprintf(tw, "through the router, %d clients\t%.0f req/s, p50 %s p99 %s\tdirect to the instance %.0f req/s, p50 %s p99 %s (router: %.2f× the throughput, +%s at p50)\n",
		*clients, routed, ms(pct(rLat, 0.5)), ms(pct(rLat, 0.99)), direct, ms(pct(dLat, 0.5)), ms(pct(dLat, 0.99)), routed/direct, ms(pct(rLat, 0.5)-pct(dLat, 0.5)))
	tw.Flush()
	cold := benchColdStart(20)
	base := benchDirectStart(20)
	fmt.Fprintf(tw, "cold start (request at zero scale → first byte), median of 20\t%s\tstarting the binary directly → first response %s (%.2f×)\n",
		ms(median(cold)), ms(median(base)), float64(median(cold))/float64(median(base)))
	tw.Flush()
	settle, want, reached, ok, failed := benchScaleUp(200, 20*time.Second)
	s := "not reached in 20s"
	if settle > 0 {
		s = fmt.Sprintf("%.1fs", settle.Seconds())
	}
	fmt.Fprintf(tw, "scale-up 0→200 clients, target 10\t%s to %d instances (reached %d); %d requests ok, %d failed\t\n", s, want, reached, ok, failed)
	tw.Flush()
}
