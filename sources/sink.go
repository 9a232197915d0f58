package sources

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/eddyplatform/eddy/dispatcher"
)

// DefaultPolicy is how patiently a source tries its sink: 5 retries, exponential from 200ms,
// 30s per attempt.
var DefaultPolicy = dispatcher.Policy{Retry: 5, BackoffPolicy: dispatcher.BackoffExponential, BackoffDelay: 200 * time.Millisecond, Timeout: 30 * time.Second}

// ErrNoSink is returned by SinkSender.Send before a sink is set.
var ErrNoSink = errors.New("the source's sink is not resolved yet")

// SinkSender is the Sender of a source object: it sends to the sink URL its reconciler
// resolved, with the source's ceOverrides applied, retrying per its Policy. The reconciler
// updates the sink and overrides in place; adapters keep the same Sender. It is safe for
// concurrent use.
type SinkSender struct {
	client *http.Client
	policy dispatcher.Policy

	mu        sync.RWMutex
	sink      *url.URL
	overrides map[string]string
}

// NewSinkSender returns a SinkSender without a sink; client nil means http.DefaultClient.
func NewSinkSender(client *http.Client, policy dispatcher.Policy) *SinkSender {
	return &SinkSender{client: client, policy: policy}
}

// SetSink sets where events go and the extensions every event gets (ceOverrides).
func (s *SinkSender) SetSink(sink *url.URL, overrides map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sink, s.overrides = sink, overrides
}

// Sink returns the current sink, nil before SetSink.
func (s *SinkSender) Sink() *url.URL {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.sink
}

// Send implements Sender.
func (s *SinkSender) Send(ctx context.Context, ev event.Event) error {
	s.mu.RLock()
	sink, overrides := s.sink, s.overrides
	s.mu.RUnlock()
	if sink == nil {
		return ErrNoSink
	}
	for k, v := range overrides {
		ev.SetExtension(k, v)
	}
	return dispatcher.Send(ctx, s.client, sink, &ev, s.policy)
}
