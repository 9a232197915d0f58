package sources

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// MetricVecs are a source adapter's counters of events received, sent and failed, labelled
// by the source's namespace and name. Adapters of one kind share them: NewMetricVecs reuses
// vectors another adapter registered with the same Registerer.
type MetricVecs struct {
	Received, Sent, Failed *prometheus.CounterVec
}

// MetricHelp says what each counter counts, for one kind of source.
type MetricHelp struct {
	Received, Sent, Failed string
}

// NewMetricVecs makes the vectors eddy_{subsystem}_events_{received,sent,failed}_total and
// registers them with reg (nil: nowhere).
func NewMetricVecs(reg prometheus.Registerer, subsystem string, help MetricHelp) (*MetricVecs, error) {
	vec := func(metric, text string) (*prometheus.CounterVec, error) {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "eddy", Subsystem: subsystem, Name: metric, Help: text,
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
			return nil, fmt.Errorf("%s: registering metric %s: %w", subsystem, metric, err)
		}
		return v, nil
	}
	var m MetricVecs
	var err error
	if m.Received, err = vec("events_received_total", help.Received); err != nil {
		return nil, err
	}
	if m.Sent, err = vec("events_sent_total", help.Sent); err != nil {
		return nil, err
	}
	if m.Failed, err = vec("events_failed_total", help.Failed); err != nil {
		return nil, err
	}
	return &m, nil
}

// Counters are one source's counters.
type Counters struct {
	Received, Sent, Failed prometheus.Counter
}

// Of returns the counters of one source.
func (v *MetricVecs) Of(namespace, name string) *Counters {
	return &Counters{
		Received: v.Received.WithLabelValues(namespace, name),
		Sent:     v.Sent.WithLabelValues(namespace, name),
		Failed:   v.Failed.WithLabelValues(namespace, name),
	}
}

// Forget removes the series of one source.
func (v *MetricVecs) Forget(namespace, name string) {
	for _, c := range []*prometheus.CounterVec{v.Received, v.Sent, v.Failed} {
		c.DeleteLabelValues(namespace, name)
	}
}
