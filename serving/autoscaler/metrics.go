package autoscaler

import (
	"errors"

	"github.com/eddyplatform/eddy/serving/runtime"
	"github.com/prometheus/client_golang/prometheus"
)

// Gauges, named as Knative's autoscaler_* metrics with an eddy_ prefix, labelled by
// namespace, configuration and revision.
var gaugeOpts = []prometheus.GaugeOpts{
	{Name: "eddy_autoscaler_desired_pods", Help: "Number of instances the autoscaler recommends (before scale bounds)."},
	{Name: "eddy_autoscaler_requested_pods", Help: "Number of instances the autoscaler asks for."},
	{Name: "eddy_autoscaler_actual_pods", Help: "Number of ready instances."},
	{Name: "eddy_autoscaler_stable_request_concurrency", Help: "Average requests in flight over the stable window."},
	{Name: "eddy_autoscaler_panic_request_concurrency", Help: "Average requests in flight over the panic window."},
	{Name: "eddy_autoscaler_target_concurrency_per_pod", Help: "The desired number of requests in flight per instance."},
	{Name: "eddy_autoscaler_stable_requests_per_second", Help: "Average requests per second over the stable window."},
	{Name: "eddy_autoscaler_panic_requests_per_second", Help: "Average requests per second over the panic window."},
	{Name: "eddy_autoscaler_target_requests_per_second", Help: "The desired requests per second per instance."},
	{Name: "eddy_autoscaler_excess_burst_capacity", Help: "Excess burst capacity over the panic window."},
	{Name: "eddy_autoscaler_panic_mode", Help: "1 if the autoscaler is in panic mode, 0 otherwise."},
}

const (
	gDesired = iota
	gRequested
	gActual
	gStableConcurrency
	gPanicConcurrency
	gTargetConcurrency
	gStableRPS
	gPanicRPS
	gTargetRPS
	gExcessBurstCapacity
	gPanicMode
)

var gaugeLabels = []string{"namespace", "configuration", "revision"}

// revisionGauges are one revision's series of the gauge vectors.
type revisionGauges struct {
	vecs   []*prometheus.GaugeVec
	labels []string
}

// newRevisionGauges registers the vectors with reg (reusing ones already registered there)
// and binds the revision's series. With a nil reg the gauges are kept but exported nowhere.
func newRevisionGauges(reg prometheus.Registerer, key runtime.RevisionKey, configuration string) *revisionGauges {
	r := &revisionGauges{labels: []string{key.Namespace, configuration, key.Name}}
	for _, o := range gaugeOpts {
		v := prometheus.NewGaugeVec(o, gaugeLabels)
		if reg != nil {
			if err := reg.Register(v); err != nil {
				var are prometheus.AlreadyRegisteredError
				if errors.As(err, &are) {
					if existing, ok := are.ExistingCollector.(*prometheus.GaugeVec); ok {
						v = existing
					}
				}
			}
		}
		r.vecs = append(r.vecs, v)
	}
	return r
}

func (r *revisionGauges) set(g int, v float64) { r.vecs[g].WithLabelValues(r.labels...).Set(v) }

// report sets the revision's series; as in Knative only the series of its metric are set.
func (r *revisionGauges) report(d Decision) {
	r.set(gDesired, float64(d.Recommendation))
	r.set(gRequested, float64(d.DesiredScale))
	r.set(gActual, float64(d.ReadyInstances))
	r.set(gExcessBurstCapacity, float64(d.ExcessBurstCapacity))
	panicMode := 0.
	if d.InPanic {
		panicMode = 1
	}
	r.set(gPanicMode, panicMode)
	if d.Metric == MetricRPS {
		r.set(gStableRPS, d.StableValue)
		r.set(gPanicRPS, d.PanicValue)
		r.set(gTargetRPS, d.TargetValue)
	} else {
		r.set(gStableConcurrency, d.StableValue)
		r.set(gPanicConcurrency, d.PanicValue)
		r.set(gTargetConcurrency, d.TargetValue)
	}
}

func (r *revisionGauges) delete() {
	for _, v := range r.vecs {
		v.DeleteLabelValues(r.labels...)
	}
}
