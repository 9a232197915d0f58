package channels_test

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyplatform/eddy/api/messaging"
)

// TestPlatformReliability is issue 3 part 9 through the whole platform: producers POST batches
// of CloudEvents to a Channel's ingress address, the durable stub bus stores them, and the
// dispatcher delivers them to a subscriber that answers 500 to 30% of the requests and stalls
// past the attempt timeout on 5%. Every event the ingress accepted (202) must end delivered (a
// 2xx seen at the subscriber) or at the dead-letter sink, counted by id; duplicates are
// counted and reported.
//
// 100,000 events without the race detector (`make test` runs this test that way too); 20,000
// with it, which slows HTTP on 2 cores about tenfold; 5,000 with -short.
func TestPlatformReliability(t *testing.T) {
	n := 100_000
	switch {
	case testing.Short():
		n = 5_000
	case raceEnabled:
		n = 20_000
	}
	const (
		producers = 8
		batch     = 100
	)
	// The attempt timeout must exceed the queueing delay of max-in-flight concurrent requests
	// on 2 cores, or retries of needless timeouts collapse the throughput.
	timeout, inFlight := "PT0.25S", 256
	if raceEnabled {
		timeout, inFlight = "PT0.5S", 64
	}

	var failed, stalled, attempts atomic.Int64
	var mu sync.Mutex
	delivered, deadLettered := make(map[string]int, n), map[string]int{}
	var settled atomic.Int64
	record := func(id string, dead bool) {
		mu.Lock()
		m, other := delivered, deadLettered
		if dead {
			m, other = other, m
		}
		m[id]++
		if m[id] == 1 && other[id] == 0 {
			settled.Add(1)
		}
		mu.Unlock()
	}
	subscriber := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("Ce-Id")
		io.Copy(io.Discard, r.Body)
		attempts.Add(1)
		switch roll := rand.IntN(100); {
		case roll < 5:
			stalled.Add(1)
			select { // past the attempt timeout: the dispatcher gives up first
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
			return
		case roll < 35:
			failed.Add(1)
			http.Error(w, "flaky", http.StatusInternalServerError)
			return
		}
		record(id, false)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer subscriber.Close()
	dls := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		record(r.Header.Get("Ce-Id"), true)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer dls.Close()

	e := start(t)
	e.Apply(t, fmt.Sprintf(`
apiVersion: messaging.knative.dev/v1
kind: Channel
metadata: {name: orders}
---
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata:
  name: flaky
  annotations: {eventing.eddy.dev/max-in-flight: "%d"}
spec:
  channel: {apiVersion: messaging.knative.dev/v1, kind: Channel, name: orders}
  subscriber: {uri: %q}
  delivery:
    retry: 3
    backoffPolicy: linear
    backoffDelay: PT0.001S
    timeout: %s
    deadLetterSink: {uri: %q}
`, inFlight, subscriber.URL, timeout, dls.URL))
	ch := &messaging.Channel{}
	e.ready(t, ch, "orders")
	e.ready(t, &messaging.Subscription{}, "flaky")
	url := ch.Status.URL()

	began := time.Now()
	var accepted atomic.Int64
	var wg sync.WaitGroup
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: producers}}
	per := n / producers
	for p := range producers {
		wg.Go(func() {
			var body bytes.Buffer
			for i := p * per; i < (p+1)*per; i += batch {
				body.Reset()
				body.WriteByte('[')
				for j := i; j < min(i+batch, (p+1)*per); j++ {
					if j > i {
						body.WriteByte(',')
					}
					fmt.Fprintf(&body, `{"specversion":"1.0","id":"r-%07d","source":"/reliability","type":"dev.eddy.order","datacontenttype":"application/json","data":{"n":%d}}`, j, j)
				}
				body.WriteByte(']')
				count := min(i+batch, (p+1)*per) - i
				resp, err := client.Post(url, "application/cloudevents-batch+json", bytes.NewReader(body.Bytes()))
				if err != nil {
					t.Errorf("POST: %v", err)
					return
				}
				msg, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted {
					t.Errorf("POST: %d %s", resp.StatusCode, msg)
					return
				}
				accepted.Add(int64(count))
			}
		})
	}
	wg.Wait()
	published := time.Since(began)
	if int(accepted.Load()) != n {
		t.Fatalf("the ingress accepted %d of %d events", accepted.Load(), n)
	}

	deadline := time.Now().Add(5 * time.Minute)
	lastReport := time.Now()
	for int(settled.Load()) < n {
		if time.Now().After(deadline) {
			break
		}
		if time.Since(lastReport) > 10*time.Second {
			lastReport = time.Now()
			t.Logf("after %v: %d of %d events settled, %d attempts", time.Since(began).Round(time.Second), settled.Load(), n, attempts.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
	took := time.Since(began)

	mu.Lock()
	defer mu.Unlock()
	var lost, dupDelivered, dupDeadLettered, both int
	for i := range n {
		id := fmt.Sprintf("r-%07d", i)
		dn, ln := delivered[id], deadLettered[id]
		switch {
		case dn == 0 && ln == 0:
			lost++
			if lost <= 10 {
				t.Errorf("event %s lost: neither delivered nor dead-lettered", id)
			}
		case dn > 0 && ln > 0:
			both++
		}
		dupDelivered += max(dn-1, 0)
		dupDeadLettered += max(ln-1, 0)
	}
	if lost > 0 {
		t.Fatalf("%d of %d accepted events lost", lost, n)
	}
	if extra := int(settled.Load()) - n; extra != 0 {
		t.Errorf("%d ids seen that were never published", extra)
	}
	t.Logf("%d events (race detector: %v): accepted in %v, all settled after %v (%.0f events/s)",
		n, raceEnabled, published.Round(time.Millisecond), took.Round(time.Millisecond), float64(n)/took.Seconds())
	t.Logf("subscriber: %d attempts, %d answered 500, %d stalled; %d events delivered, %d dead-lettered",
		attempts.Load(), failed.Load(), stalled.Load(), len(delivered), len(deadLettered))
	t.Logf("duplicates: %d extra deliveries, %d extra dead letters, %d events both delivered and dead-lettered",
		dupDelivered, dupDeadLettered, both)
	resp, err := http.Get(e.P.APIURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, m := range []string{"eddy_dispatcher_events_delivered_total{", "eddy_dispatcher_events_dead_lettered_total{", "eddy_dispatcher_retries_total{"} {
		found := false
		for _, line := range strings.Split(string(metrics), "\n") {
			found = found || strings.HasPrefix(line, m) && strings.Contains(line, `kind="subscription"`) && strings.Contains(line, `name="flaky"`)
		}
		if !found {
			t.Errorf("/metrics lacks %s for the subscription", m)
		}
	}
}
