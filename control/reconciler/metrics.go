package reconciler

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Results label the reconcile counter.
const (
	ResultSuccess   = "success"   // Reconcile returned nil
	ResultRequeue   = "requeue"   // Reconcile returned RequeueAfter
	ResultError     = "error"     // Reconcile failed and the key was retried with backoff
	ResultPermanent = "permanent" // Reconcile failed with a Permanent error
)

// metrics are one controller's Prometheus metrics, each with the controller's name as the
// constant label "controller".
type metrics struct {
	reconciles *prometheus.CounterVec
	latency    prometheus.Histogram
	depth      prometheus.GaugeFunc
}

func newMetrics(name string, queueLen func() int) *metrics {
	labels := prometheus.Labels{"controller": name}
	m := &metrics{
		reconciles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name:        "eddy_reconcile_total",
			Help:        "Reconciles by result: success, requeue, error (retried with backoff) or permanent (not retried).",
			ConstLabels: labels,
		}, []string{"result"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:        "eddy_reconcile_duration_seconds",
			Help:        "How long one reconcile took.",
			ConstLabels: labels,
			Buckets:     prometheus.ExponentialBuckets(0.001, 2, 16),
		}),
		depth: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "eddy_reconcile_queue_depth",
			Help:        "Keys waiting in the work queue.",
			ConstLabels: labels,
		}, func() float64 { return float64(queueLen()) }),
	}
	for _, r := range []string{ResultSuccess, ResultRequeue, ResultError, ResultPermanent} {
		m.reconciles.WithLabelValues(r)
	}
	return m
}

// register adds the metrics to reg; a second controller of the same name is an error.
func (m *metrics) register(reg prometheus.Registerer) error {
	cs := []prometheus.Collector{m.reconciles, m.latency, m.depth}
	for i, c := range cs {
		if err := reg.Register(c); err != nil {
			for _, done := range cs[:i] {
				reg.Unregister(done)
			}
			return fmt.Errorf("registering controller metrics: %w", err)
		}
	}
	return nil
}
