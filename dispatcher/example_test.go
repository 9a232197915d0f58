package dispatcher_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/eddyplatform/eddy/bus/stub"
	"github.com/eddyplatform/eddy/dispatcher"
)

func Example() {
	ctx := context.Background()

	// A subscriber that rejects the first attempt of each event.
	got := make(chan string, 1)
	var mu sync.Mutex
	seen := map[string]bool{}
	sub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("Ce-Id")
		mu.Lock()
		first := !seen[id]
		seen[id] = true
		mu.Unlock()
		if first {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
		got <- fmt.Sprintf("%s %s", id, r.Header.Get("Ce-Type"))
	}))
	defer sub.Close()

	b, _ := stub.New(stub.Config{InMemory: true})
	defer b.Close()
	b.EnsureTopic(ctx, "orders")

	d, err := dispatcher.New(dispatcher.Config{Registerer: prometheus.NewRegistry()})
	if err != nil {
		panic(err)
	}
	defer d.Close(ctx)
	u, _ := url.Parse(sub.URL)
	c, err := d.Start(ctx, b, "orders", "subscription-default-audit", dispatcher.Subscriber{
		Kind: dispatcher.KindSubscription, Namespace: "default", Name: "audit",
		SubscriberURI: u,
		Policy: dispatcher.Policy{
			Retry: 3, BackoffPolicy: dispatcher.BackoffExponential, BackoffDelay: 10 * time.Millisecond,
			Timeout: 5 * time.Second,
		},
		MaxInFlight: 64,
	})
	if err != nil {
		panic(err)
	}
	defer c.Stop(ctx)

	e := event.New()
	e.SetID("order-1")
	e.SetSource("/shop")
	e.SetType("com.example.order.placed")
	b.Publish(ctx, "orders", &e)

	fmt.Println(<-got)
	// Output: order-1 com.example.order.placed
}
