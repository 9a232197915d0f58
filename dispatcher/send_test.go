package dispatcher

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestSendRetriesAsTheDataPlaneSays(t *testing.T) {
	var calls atomic.Int64
	codes := []int{503, 500, 202}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if r.Header.Get("Ce-Id") != "s-1" {
			t.Errorf("ce-id %q", r.Header.Get("Ce-Id"))
		}
		if n == 1 {
			w.Header().Set("Retry-After", "0")
		}
		w.WriteHeader(codes[min(int(n)-1, len(codes)-1)])
	}))
	defer srv.Close()
	ev := newEvent("s-1")
	if err := Send(context.Background(), srv.Client(), mustURL(srv.URL), ev, Policy{Retry: 3, BackoffDelay: time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 3 {
		t.Fatalf("%d attempts, want 3", calls.Load())
	}

	// A 400 is not retried; the error names the status.
	calls.Store(0)
	codes = []int{400}
	err := Send(context.Background(), srv.Client(), mustURL(srv.URL), ev, Policy{Retry: 5})
	if err == nil || !strings.Contains(err.Error(), "400") || calls.Load() != 1 {
		t.Fatalf("400: %v after %d attempts", err, calls.Load())
	}

	// Retries stop at Retry.
	calls.Store(0)
	codes = []int{500}
	if err := Send(context.Background(), srv.Client(), mustURL(srv.URL), ev, Policy{Retry: 2}); err == nil || calls.Load() != 3 {
		t.Fatalf("500s: %v after %d attempts", err, calls.Load())
	}

	// A cancelled context ends the waiting.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Send(ctx, srv.Client(), mustURL(srv.URL), ev, Policy{Retry: 5, BackoffDelay: time.Hour}); err == nil {
		t.Fatal("a cancelled send succeeded")
	}
}
