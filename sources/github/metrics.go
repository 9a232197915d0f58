package github

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Reasons a request ends without an event being sent (the reason label of
// eddy_github_source_events_dropped_total).
const (
	reasonPing             = "ping"
	reasonFiltered         = "filtered"
	reasonMethod           = "method"
	reasonTooLarge         = "too_large"
	reasonReadError        = "read_error"
	reasonMissingSignature = "missing_signature"
	reasonBadSignature     = "bad_signature"
	reasonContentType      = "content_type"
	reasonMissingEvent     = "missing_event"
	reasonInvalidEvent     = "invalid_event"
	reasonMissingDelivery  = "missing_delivery"
	reasonInvalidDelivery  = "invalid_delivery"
	reasonBadForm          = "bad_form"
	reasonMalformedJSON    = "malformed_json"
	reasonUnmappable       = "unmappable"
)

var dropReasons = []string{reasonPing, reasonFiltered, reasonMethod, reasonTooLarge, reasonReadError,
	reasonMissingSignature, reasonBadSignature, reasonContentType, reasonMissingEvent, reasonInvalidEvent,
	reasonMissingDelivery, reasonInvalidDelivery, reasonBadForm, reasonMalformedJSON, reasonUnmappable}

var (
	sourceLabels = []string{"namespace", "name"}
	reasonLabels = []string{"namespace", "name", "reason"}
)

// metrics are one Receiver's counters, curried with its namespace and name.
type metrics struct {
	vecs                   [4]*prometheus.CounterVec // received, sent, failed, dropped
	received, sent, failed prometheus.Counter
	dropped                map[string]prometheus.Counter
	labels                 prometheus.Labels
}

func newMetrics(reg prometheus.Registerer, namespace, name string) (*metrics, error) {
	counter := func(n, help string, labels []string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "eddy", Subsystem: "github_source", Name: n, Help: help,
		}, labels)
	}
	vecs := [4]*prometheus.CounterVec{
		counter("events_received_total", "Webhook requests received, whatever their outcome.", sourceLabels),
		counter("events_sent_total", "Events the sink accepted (answered 202).", sourceLabels),
		counter("events_failed_total", "Events the Sender failed to deliver (answered 502 or 503).", sourceLabels),
		counter("events_dropped_total", "Requests answered without sending an event, by reason.", reasonLabels),
	}
	if reg != nil {
		// Every Receiver registers the same collectors; the second one on a registry adopts
		// the first one's.
		for i, v := range vecs {
			if err := reg.Register(v); err != nil {
				var are prometheus.AlreadyRegisteredError
				if !errors.As(err, &are) {
					return nil, fmt.Errorf("github source: registering metrics: %w", err)
				}
				existing, ok := are.ExistingCollector.(*prometheus.CounterVec)
				if !ok {
					return nil, fmt.Errorf("github source: registering metrics: %w", err)
				}
				vecs[i] = existing
			}
		}
	}
	m := &metrics{
		vecs:     vecs,
		received: vecs[0].WithLabelValues(namespace, name),
		sent:     vecs[1].WithLabelValues(namespace, name),
		failed:   vecs[2].WithLabelValues(namespace, name),
		dropped:  make(map[string]prometheus.Counter, len(dropReasons)),
		labels:   prometheus.Labels{"namespace": namespace, "name": name},
	}
	for _, r := range dropReasons {
		m.dropped[r] = vecs[3].WithLabelValues(namespace, name, r)
	}
	return m, nil
}

// drop counts a request answered without an event.
func (m *metrics) drop(reason string) { m.dropped[reason].Inc() }

// delete removes the Receiver's series.
func (m *metrics) delete() {
	for _, v := range m.vecs {
		v.DeletePartialMatch(m.labels)
	}
}
