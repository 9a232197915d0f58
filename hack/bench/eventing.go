package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/eventing"
	"github.com/eddyplatform/eddy/api/messaging"
	"github.com/eddyplatform/eddy/control/reconciler"
	"github.com/eddyplatform/eddy/platform"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// eventingResult holds the eventing figures.
type eventingResult struct {
	acceptRate float64       // events/s acknowledged (202) by the ingress at full load
	e2eRate    float64       // events/s from the first send to the last delivery
	accepted   int64         // events acknowledged in the full-load run
	lost       int64         // acknowledged but never delivered (must be 0)
	ackP50     time.Duration // ingress acknowledgement latency at half the maximum rate
	ackP99     time.Duration
	e2eP50     time.Duration // send → subscriber latency at half the maximum rate
	e2eP99     time.Duration
	// cpuPerEvent is the process's CPU time per event in the full-load run, until the last
	// delivery: robust to other load on the machine, unlike the rates.
	cpuPerEvent time.Duration
}

// sinkServer counts distinct event ids and when the last one arrived.
type sinkServer struct {
	*httptest.Server
	mu     sync.Mutex
	seen   map[string]bool
	sentAt map[string]time.Time
	lat    []time.Duration
	last   time.Time
}

func newSinkServer() *sinkServer {
	s := &sinkServer{seen: map[string]bool{}, sentAt: map[string]time.Time{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		id := r.Header.Get("ce-id")
		now := time.Now()
		s.mu.Lock()
		if !s.seen[id] {
			s.seen[id] = true
			s.last = now
			if t0, ok := s.sentAt[id]; ok {
				s.lat = append(s.lat, now.Sub(t0))
			}
		}
		s.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	return s
}

func (s *sinkServer) count() (int64, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return int64(len(s.seen)), s.last
}

// waitFor polls until the sink saw n events or nothing new arrived for two seconds.
func (s *sinkServer) waitFor(n int64) int64 {
	var got int64
	quiet := time.Now()
	prev := int64(-1)
	for time.Since(quiet) < 2*time.Second {
		got, _ = s.count()
		if got >= n {
			return got
		}
		if got != prev {
			prev, quiet = got, time.Now()
		}
		time.Sleep(10 * time.Millisecond)
	}
	return got
}

// busSetup is how the eventing benchmark runs on one bus.
type busSetup struct {
	name   string
	typ    messaging.BusType
	config map[string]string
	secret map[string][]byte
}

// benchEventing runs concurrent producers → ingress → bus → dispatcher → an HTTP subscriber,
// in one process, through a Broker and a Trigger made through the control plane, with bus as
// the default bus.
func benchEventing(bus busSetup) eventingResult {
	dir, _ := os.MkdirTemp("", "eddy-bench-eventing")
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p, err := platform.Start(ctx, platform.Config{DataDir: dir, APIAddr: "127.0.0.1:0", IngressAddr: "127.0.0.1:0",
		Bus: bus.typ, BusConfig: bus.config, BusSecret: bus.secret})
	if err != nil {
		fail(err)
	}
	defer p.Shutdown(context.Background())
	sink := newSinkServer()
	defer sink.Close()
	makeBrokerAndTrigger(ctx, p, sink.URL)

	url := p.IngressURL + "/brokers/default/bench"
	c := client(*clients)
	body := []byte(`{"hello":"world","n":12345}`)
	post := func(id string) error {
		req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
		req.Header.Set("ce-specversion", "1.0")
		req.Header.Set("ce-id", id)
		req.Header.Set("ce-source", "/bench")
		req.Header.Set("ce-type", "dev.eddy.bench")
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			return fmt.Errorf("ingress answered %s", resp.Status)
		}
		return nil
	}

	// Full load: every producer as fast as the ingress acknowledges.
	var res eventingResult
	var accepted atomic.Int64
	start := time.Now()
	cpu0 := cpuTime()
	res.acceptRate, _ = run(*clients, *duration, func(w, i int) error {
		err := post("full-" + strconv.Itoa(w) + "-" + strconv.Itoa(i))
		if err == nil {
			accepted.Add(1)
		}
		return err
	})
	res.accepted = accepted.Load()
	got := sink.waitFor(res.accepted)
	res.cpuPerEvent = (cpuTime() - cpu0) / time.Duration(max(got, 1))
	_, last := sink.count()
	res.lost = res.accepted - got
	res.e2eRate = float64(got) / last.Sub(start).Seconds()

	// Half the maximum rate, paced: acknowledgement and end-to-end latencies.
	half := res.acceptRate / 2
	interval := time.Duration(float64(time.Second) / half)
	n := int(half * duration.Seconds())
	var acks []time.Duration
	var ackMu sync.Mutex
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := 0; i < n; i++ {
		if d := time.Until(t0.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		id := "half-" + strconv.Itoa(i)
		sink.mu.Lock()
		sink.sentAt[id] = time.Now()
		sink.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := time.Now()
			if err := post(id); err != nil {
				fail(err)
			}
			ackMu.Lock()
			acks = append(acks, time.Since(s))
			ackMu.Unlock()
		}()
	}
	wg.Wait()
	if got := sink.waitFor(res.accepted + int64(n)); got < res.accepted+int64(n) {
		res.lost += res.accepted + int64(n) - got
	}
	sink.mu.Lock()
	res.e2eP50, res.e2eP99 = pct(sink.lat, 0.5), pct(sink.lat, 0.99)
	sink.mu.Unlock()
	res.ackP50, res.ackP99 = pct(acks, 0.5), pct(acks, 0.99)
	removeBrokerAndTrigger(ctx, p)
	return res
}

// removeBrokerAndTrigger deletes what makeBrokerAndTrigger made, so that a bus on a shared
// server keeps no topic or group of the benchmark.
func removeBrokerAndTrigger(ctx context.Context, p *platform.Platform) {
	client := reconciler.NewClient(p.Store, p.Registry)
	client.Delete(ctx, &eventing.Trigger{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "bench"}})
	client.Delete(ctx, &eventing.Broker{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "bench"}})
	time.Sleep(time.Second) // the reconcilers delete the topic and the group
}

func makeBrokerAndTrigger(ctx context.Context, p *platform.Platform, sinkURL string) {
	client := reconciler.NewClient(p.Store, p.Registry)
	objs, err := p.Registry.DecodeAll([]byte(fmt.Sprintf(`
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: bench, namespace: default}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: bench, namespace: default}
spec:
  broker: bench
  subscriber: {uri: %q}
`, sinkURL)))
	if err != nil {
		fail(err)
	}
	for _, o := range objs {
		a, _, err := p.Registry.Admit(o)
		if err != nil {
			fail(err)
		}
		if err := client.Create(ctx, a); err != nil {
			fail(err)
		}
	}
	tr := &eventing.Trigger{}
	deadline := time.Now().Add(30 * time.Second)
	for client.Get(ctx, "default", "bench", tr) != nil || !tr.Status.GetCondition(api.ConditionReady).IsTrue() {
		if time.Now().After(deadline) {
			fail(fmt.Errorf("trigger not ready: %+v", tr.Status.Conditions))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
