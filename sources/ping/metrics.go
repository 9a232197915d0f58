package ping

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metricVecs are the adapter's counter vectors, labelled by the source's namespace and name.
type metricVecs struct {
	received, sent, failed *prometheus.CounterVec
}

// metrics are one running adapter's counters.
type metrics struct {
	received, sent, failed prometheus.Counter
}

// newMetricVecs makes the vectors and registers them with reg (nil: nowhere). Adapters share
// them: a vector that another adapter registered with reg is reused.
func newMetricVecs(reg prometheus.Registerer) (*metricVecs, error) {
	vec := func(metric, help string) (*prometheus.CounterVec, error) {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "eddy", Subsystem: "pingsource", Name: metric, Help: help,
		}, []string{"namespace", "name"})
		if reg == nil {
			return v, nil
		}
		if err := reg.Register(v); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				if existing, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
					return existing, nil
				}
			}
			return nil, fmt.Errorf("ping: registering metric %s: %w", metric, err)
		}
		return v, nil
	}
	var m metricVecs
	var err error
	if m.received, err = vec("events_received_total", "Ticks of the schedule, each an event to send."); err != nil {
		return nil, err
	}
	if m.sent, err = vec("events_sent_total", "Events the sink accepted."); err != nil {
		return nil, err
	}
	if m.failed, err = vec("events_failed_total", "Events the Sender gave up on."); err != nil {
		return nil, err
	}
	return &m, nil
}

// of returns the counters of one source.
func (v *metricVecs) of(namespace, name string) *metrics {
	return &metrics{
		received: v.received.WithLabelValues(namespace, name),
		sent:     v.sent.WithLabelValues(namespace, name),
		failed:   v.failed.WithLabelValues(namespace, name),
	}
}

// forget removes the series of one source.
func (v *metricVecs) forget(namespace, name string) {
	for _, c := range []*prometheus.CounterVec{v.received, v.sent, v.failed} {
		c.DeleteLabelValues(namespace, name)
	}
}
