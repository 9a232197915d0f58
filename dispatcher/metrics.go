package dispatcher

import (
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// outcome is how a delivery ended.
type outcome int

const (
	outcomeDelivered outcome = iota
	outcomeDeadLettered
	outcomeDropped
	outcomeNacked
	numOutcomes
)

func (o outcome) String() string {
	return [...]string{"delivered", "dead_lettered", "dropped", "nacked"}[o]
}

// metrics holds the dispatcher's metric vectors. Children for one label set
// are looked up once per consumer (see consumerMetrics) and the series are
// deleted when the last consumer with those labels stops.
type metrics struct {
	delivered, deadLettered, dropped, nacked, filtered, replies *prometheus.CounterVec
	failed, retried                                             *prometheus.CounterVec
	latency, attempt                                            *prometheus.HistogramVec

	mu   sync.Mutex
	refs map[[3]string]int
}

var (
	ownerLabels     = []string{"kind", "namespace", "name"}
	roleLabels      = []string{"kind", "namespace", "name", "destination"}
	outcomeLabels   = []string{"kind", "namespace", "name", "outcome"}
	deliveryBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}
	attemptBuckets  = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
)

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	counter := func(name, help string, labels []string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "eddy", Subsystem: "dispatcher", Name: name, Help: help,
		}, labels)
	}
	m := &metrics{
		delivered:    counter("events_delivered_total", "Events delivered: the subscriber answered 2xx and any reply was forwarded.", ownerLabels),
		deadLettered: counter("events_dead_lettered_total", "Events the dead-letter sink accepted.", ownerLabels),
		dropped:      counter("events_dropped_total", "Undeliverable events given up because there is no dead-letter sink.", ownerLabels),
		nacked:       counter("events_nacked_total", "Deliveries handed back to the bus because the dead-letter sink failed too.", ownerLabels),
		filtered:     counter("events_filtered_total", "Events acknowledged without delivery because the filter did not match.", ownerLabels),
		replies:      counter("replies_sent_total", "Reply events forwarded to the reply destination.", ownerLabels),
		failed:       counter("attempts_failed_total", "Failed HTTP attempts, by destination (subscriber, reply, dead_letter).", roleLabels),
		retried:      counter("retries_total", "Retried HTTP attempts, by destination (subscriber, reply, dead_letter).", roleLabels),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "eddy", Subsystem: "dispatcher", Name: "delivery_duration_seconds",
			Help:    "Time from the first attempt of a delivery to its outcome (delivered, dead_lettered, dropped, nacked).",
			Buckets: deliveryBuckets,
		}, outcomeLabels),
		attempt: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "eddy", Subsystem: "dispatcher", Name: "attempt_duration_seconds",
			Help:    "Duration of one HTTP attempt, by destination (subscriber, reply, dead_letter).",
			Buckets: attemptBuckets,
		}, roleLabels),
		refs: make(map[[3]string]int),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.delivered, m.deadLettered, m.dropped, m.nacked, m.filtered,
			m.replies, m.failed, m.retried, m.latency, m.attempt} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("dispatcher: registering metrics: %w", err)
			}
		}
	}
	return m, nil
}

// consumerMetrics are one consumer's metric children.
type consumerMetrics struct {
	key                                                         [3]string
	delivered, deadLettered, dropped, nacked, filtered, replies prometheus.Counter
	failed, retried                                             [numRoles]prometheus.Counter
	attempt                                                     [numRoles]prometheus.Observer
	latency                                                     [numOutcomes]prometheus.Observer
}

// forOwner returns the children for one owner and takes a reference on its
// series; release drops it.
func (m *metrics) forOwner(kind, namespace, name string) *consumerMetrics {
	key := [3]string{kind, namespace, name}
	m.mu.Lock()
	m.refs[key]++
	m.mu.Unlock()
	cm := &consumerMetrics{
		key:          key,
		delivered:    m.delivered.WithLabelValues(kind, namespace, name),
		deadLettered: m.deadLettered.WithLabelValues(kind, namespace, name),
		dropped:      m.dropped.WithLabelValues(kind, namespace, name),
		nacked:       m.nacked.WithLabelValues(kind, namespace, name),
		filtered:     m.filtered.WithLabelValues(kind, namespace, name),
		replies:      m.replies.WithLabelValues(kind, namespace, name),
	}
	for r := range numRoles {
		cm.failed[r] = m.failed.WithLabelValues(kind, namespace, name, r.String())
		cm.retried[r] = m.retried.WithLabelValues(kind, namespace, name, r.String())
		cm.attempt[r] = m.attempt.WithLabelValues(kind, namespace, name, r.String())
	}
	for o := range numOutcomes {
		cm.latency[o] = m.latency.WithLabelValues(kind, namespace, name, o.String())
	}
	return cm
}

// release drops a reference taken by forOwner; the last one deletes the
// owner's series, so a deleted Subscription leaves no metrics behind.
func (m *metrics) release(cm *consumerMetrics) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.refs[cm.key]--
	if m.refs[cm.key] > 0 {
		return
	}
	delete(m.refs, cm.key)
	l := prometheus.Labels{"kind": cm.key[0], "namespace": cm.key[1], "name": cm.key[2]}
	for _, v := range []*prometheus.CounterVec{m.delivered, m.deadLettered, m.dropped, m.nacked, m.filtered, m.replies, m.failed, m.retried} {
		v.DeletePartialMatch(l)
	}
	m.latency.DeletePartialMatch(l)
	m.attempt.DeletePartialMatch(l)
}
