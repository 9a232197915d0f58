// Command bench measures Eddy's control plane and prints each figure beside a baseline measured
// in the same run on the same machine: `make bench` runs it.
//
// Figures: raw loopback HTTP (the baseline), store writes per second (in process, and as API
// creates over HTTP), apply-to-watch latency (an HTTP write until a watcher sees it; p50/p99),
// and watch fan-out (one write seen by 100 HTTP watchers).
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/kinds"
	"github.com/eddyplatform/eddy/api/messaging"
	"github.com/eddyplatform/eddy/control/apiserver"
	"github.com/eddyplatform/eddy/control/store/bolt"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"log/slog"
)

var (
	duration = flag.Duration("duration", 3*time.Second, "how long each throughput figure is measured")
	clients  = flag.Int("clients", 32, "concurrent clients for throughput figures")
	samples  = flag.Int("samples", 1000, "writes timed for the apply-to-watch latency")
	watchers = flag.Int("watchers", 100, "watchers for the fan-out figure")
	only     = flag.String("only", "", `run one part: "control", "eventing", "buses", "serving" or "build" (default all)`)
	cpuProf  = flag.String("cpuprofile", "", "write a CPU profile of the run to this file")
)

const token = "bench"

func main() {
	flag.Parse()
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	host, _ := os.Hostname()
	fmt.Printf("eddy bench — %s, %d CPUs, %s, %s\n\n", host, runtime.NumCPU(), runtime.Version(), time.Now().UTC().Format(time.RFC3339))

	rawRate, rawP50, rawP99 := rawHTTP()
	tw := tabwriter.NewWriter(os.Stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "FIGURE\tVALUE\tBASELINE (same run)")
	fmt.Fprintf(tw, "raw loopback HTTP POST, %d clients\t%.0f req/s, p50 %s p99 %s, %.1fµs CPU/req\t(this is the baseline)\n", *clients, rawRate, ms(rawP50), ms(rawP99), us(rawCPU))
	tw.Flush()
	if *cpuProf != "" {
		f, err := os.Create(*cpuProf)
		if err != nil {
			fail(err)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if *only == "" || *only == "control" {
		benchControl(rawRate, rawP50, rawP99)
	}
	if *only == "" || *only == "eventing" {
		printEventing(rawRate, rawP50, rawP99)
	}
	if *only == "" || *only == "buses" {
		printBuses(rawRate)
	}
	if *only == "" || *only == "serving" {
		printServing()
	}
	if *only == "" || *only == "build" {
		printBuild(rawRate)
	}
}

// benchControl prints the control-plane figures.
func benchControl(rawRate float64, rawP50, rawP99 time.Duration) {
	tw := tabwriter.NewWriter(os.Stdout, 0, 8, 2, ' ', 0)

	dir, _ := os.MkdirTemp("", "eddy-bench")
	defer os.RemoveAll(dir)
	st, err := bolt.Open(dir)
	if err != nil {
		fail(err)
	}
	defer st.Close()
	reg := kinds.NewRegistry()
	seedNamespace(st)

	w := storeWrites(st, reg)
	fmt.Fprintf(tw, "store writes, in process, %d writers\t%.0f writes/s\t%.2f× raw HTTP req/s\n", *clients, w, w/rawRate)

	srv := httptest.NewServer(apiserver.New(apiserver.Config{Store: st, Registry: reg, Token: token}))
	defer srv.Close()
	aw := apiCreates(srv)
	fmt.Fprintf(tw, "API creates over HTTP, %d clients\t%.0f writes/s\t%.2f× raw HTTP req/s\n", *clients, aw, aw/rawRate)

	p50, p99 := applyToWatch(srv)
	fmt.Fprintf(tw, "apply→watch latency (HTTP write → watch event)\tp50 %s  p99 %s\traw HTTP round trip p50 %s p99 %s\n", ms(p50), ms(p99), ms(rawP50), ms(rawP99))

	f50, f99, rate := fanout(srv)
	fmt.Fprintf(tw, "watch fan-out, %d HTTP watchers\tp50 %s  p99 %s; %.0f deliveries/s\tapply→watch with 1 watcher p50 %s\n", *watchers, ms(f50), ms(f99), rate, ms(p50))
	tw.Flush()
}

// printEventing prints the eventing figures.
func printEventing(rawRate float64, rawP50, rawP99 time.Duration) {
	fmt.Println("\nEventing: producers → ingress → durable stub bus → dispatcher → HTTP subscriber (Broker + Trigger)")
	ev := benchEventing(busSetup{name: "stub", typ: messaging.BusStub})
	tw := tabwriter.NewWriter(os.Stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "FIGURE\tVALUE\tBASELINE (same run)")
	fmt.Fprintf(tw, "end-to-end events/s, %d producers\t%.0f events/s (%d accepted, %d lost)\t%.2f× raw HTTP req/s (two HTTP hops: ceiling 0.50)\n", *clients, ev.e2eRate, ev.accepted, ev.lost, ev.e2eRate/rawRate)
	fmt.Fprintf(tw, "ingress acknowledgements/s at full load\t%.0f events/s\t%.2f× raw HTTP req/s\n", ev.acceptRate, ev.acceptRate/rawRate)
	fmt.Fprintf(tw, "CPU per event end to end (producer, ingress, bus, dispatcher, subscriber)\t%.1fµs\t%.2f raw HTTP requests' CPU (two hops: floor 2.00)\n", us(ev.cpuPerEvent), float64(ev.cpuPerEvent)/float64(rawCPU))
	fmt.Fprintf(tw, "ingress ack latency at half that rate\tp50 %s  p99 %s\traw HTTP p50 %s p99 %s\n", ms(ev.ackP50), ms(ev.ackP99), ms(rawP50), ms(rawP99))
	fmt.Fprintf(tw, "end-to-end latency at half that rate\tp50 %s  p99 %s\t\n", ms(ev.e2eP50), ms(ev.e2eP99))
	tw.Flush()
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1000 }

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000) }

func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[int(float64(len(ds)-1)*p)]
}

// cpuTime is the process's user plus system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rawCPU is the CPU time one raw HTTP request costs (client and server), set by rawHTTP.
var rawCPU time.Duration

// run calls f from n goroutines for d and returns the calls per second and their latencies.
func run(n int, d time.Duration, f func(worker, i int) error) (float64, []time.Duration) {
	var count atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < n; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for i := 0; time.Now().Before(deadline); i++ {
				t0 := time.Now()
				if err := f(w, i); err != nil {
					fail(err)
				}
				mine = append(mine, time.Since(t0))
				count.Add(1)
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return float64(count.Load()) / time.Since(start).Seconds(), lat
}

// rawHTTP is the baseline: a Go client POSTing a small JSON body to a Go server that reads it
// and answers 201, over loopback with keep-alive.
func rawHTTP() (float64, time.Duration, time.Duration) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusCreated)
		w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()
	c := client(*clients)
	body := []byte(cmJSON("raw", 0, 0))
	var calls atomic.Int64
	cpu0 := cpuTime()
	rate, lat := run(*clients, *duration, func(_, _ int) error {
		calls.Add(1)
		resp, err := c.Post(srv.URL, "application/json", bytes.NewReader(body))
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return nil
	})
	rawCPU = (cpuTime() - cpu0) / time.Duration(calls.Load())
	return rate, pct(lat, 0.5), pct(lat, 0.99)
}

func client(conns int) *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}}
}

func cmJSON(prefix string, w, i int) string {
	return fmt.Sprintf(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"%s-%d-%d"},"data":{"k":"v"}}`, prefix, w, i)
}

func seedNamespace(st *bolt.Store) {
	u, _ := api.ToUnstructured(&corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}, ObjectMeta: metav1.ObjectMeta{Name: "default"}})
	if _, err := st.Create(context.Background(), schema.GroupResource{Resource: "namespaces"}, u); err != nil {
		fail(err)
	}
}

var cms = schema.GroupResource{Resource: "configmaps"}

func storeWrites(st *bolt.Store, reg *api.Registry) float64 {
	rate, _ := run(*clients, *duration, func(w, i int) error {
		obj, err := reg.Decode([]byte(cmJSON("store", w, i)))
		if err != nil {
			return err
		}
		obj.SetNamespace("default")
		u, err := api.ToUnstructured(obj)
		if err != nil {
			return err
		}
		_, err = st.Create(context.Background(), cms, u)
		return err
	})
	return rate
}

func post(c *http.Client, url, body string) error {
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("POST %s: %s", url, resp.Status)
	}
	return nil
}

const coll = "/api/v1/namespaces/default/configmaps"

func apiCreates(srv *httptest.Server) float64 {
	c := client(*clients)
	rate, _ := run(*clients, *duration, func(w, i int) error {
		return post(c, srv.URL+coll, cmJSON("api", w, i))
	})
	return rate
}

// watchStream opens a watch from now on the benchmark collection and calls seen with the name
// of every object in an event, until ctx ends.
func watchStream(ctx context.Context, srv *httptest.Server, ready *sync.WaitGroup, seen func(name string)) {
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+coll+"?watch=true&resourceVersion="+currentRV(srv), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fail(err)
	}
	ready.Done()
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		i := strings.Index(line, `"name":"`)
		if i < 0 {
			continue
		}
		rest := line[i+8:]
		seen(rest[:strings.IndexByte(rest, '"')])
	}
}

func currentRV(srv *httptest.Server) string {
	req, _ := http.NewRequest("GET", srv.URL+coll+"?labelSelector=none%3Dnone", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fail(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	i := bytes.Index(data, []byte(`"resourceVersion":"`))
	rest := data[i+19:]
	return string(rest[:bytes.IndexByte(rest, '"')])
}

// applyToWatch times sequential HTTP creates until one watcher sees each.
func applyToWatch(srv *httptest.Server) (time.Duration, time.Duration) {
	lat, _ := timeWatchers(srv, 1, *samples)
	return pct(lat, 0.5), pct(lat, 0.99)
}

// fanout times creates until each of the watchers sees them.
func fanout(srv *httptest.Server) (time.Duration, time.Duration, float64) {
	n := *samples / 5
	lat, elapsed := timeWatchers(srv, *watchers, n)
	return pct(lat, 0.5), pct(lat, 0.99), float64(len(lat)) / elapsed.Seconds()
}

// timeWatchers opens nWatch watchers, then creates nWrites objects one after another, each
// after every watcher saw the previous one, and returns every (write → watcher saw it) latency.
func timeWatchers(srv *httptest.Server, nWatch, nWrites int) ([]time.Duration, time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	sent := map[string]time.Time{}
	var lat []time.Duration
	var pending sync.WaitGroup
	var ready sync.WaitGroup
	ready.Add(nWatch)
	for i := 0; i < nWatch; i++ {
		go watchStream(ctx, srv, &ready, func(name string) {
			mu.Lock()
			t0, ok := sent[name]
			if ok {
				lat = append(lat, time.Since(t0))
			}
			mu.Unlock()
			if ok {
				pending.Done()
			}
		})
	}
	ready.Wait()
	c := client(1)
	prefix := fmt.Sprintf("w%d", nWatch)
	start := time.Now()
	for i := 0; i < nWrites; i++ {
		name := fmt.Sprintf("%s-0-%d", prefix, i)
		pending.Add(nWatch)
		mu.Lock()
		sent[name] = time.Now()
		mu.Unlock()
		if err := post(c, srv.URL+coll, cmJSON(prefix, 0, i)); err != nil {
			fail(err)
		}
		pending.Wait()
	}
	return lat, time.Since(start)
}
