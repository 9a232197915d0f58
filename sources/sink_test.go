package sources

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
)

func TestSinkSender(t *testing.T) {
	got := make(chan http.Header, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Clone()
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	s := NewSinkSender(srv.Client(), DefaultPolicy)
	ev := event.New()
	ev.SetID("1")
	ev.SetSource("/src")
	ev.SetType("dev.eddy.test")
	if err := s.Send(context.Background(), ev); !errors.Is(err, ErrNoSink) {
		t.Fatalf("before SetSink: %v", err)
	}
	u, _ := url.Parse(srv.URL)
	s.SetSink(u, map[string]string{"team": "eddy"})
	if err := s.Send(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	h := <-got
	if h.Get("Ce-Team") != "eddy" || h.Get("Ce-Id") != "1" {
		t.Fatalf("headers %v", h)
	}
	if s.Sink().String() != srv.URL {
		t.Fatalf("Sink() = %v", s.Sink())
	}
}
