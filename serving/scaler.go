package serving

import (
	"context"
	"reflect"
	"sync"
	"time"

	"github.com/eddyplatform/eddy/serving/autoscaler"
	"github.com/eddyplatform/eddy/serving/runtime"
)

// scaler ties the autoscaler to the runtime: it keeps one autoscaler per running revision, asks
// it for a scale every tick (and at once when the router reports a request waiting for a
// revision at zero), and applies the answer to the runtime. The revision reconciler hands it
// each revision's spec and settings; the scale is the scaler's alone.
type scaler struct {
	s         *Serving
	rt        runtime.Runtime
	collector *autoscaler.Collector

	mu   sync.Mutex
	revs map[runtime.RevisionKey]*scaled
}

// scaled is one revision under the scaler.
type scaled struct {
	spec     runtime.Revision
	settings *autoscaler.RevisionSettings
	as       *autoscaler.Autoscaler
	desired  int
	applied  bool // the runtime accepted spec at desired
}

func newScaler(s *Serving, cfg Config) *scaler {
	return &scaler{
		s: s, rt: cfg.Runtime,
		collector: autoscaler.NewCollector(autoscaler.CollectorOptions{Stats: cfg.Router.Stats}),
		revs:      map[runtime.RevisionKey]*scaled{},
	}
}

// ensure makes the runtime run spec at the scale the autoscaler wants, creating the
// revision's autoscaler (at its initial scale) the first time.
func (sc *scaler) ensure(ctx context.Context, spec runtime.Revision, settings *autoscaler.RevisionSettings) error {
	sc.mu.Lock()
	r, ok := sc.revs[spec.Key]
	if !ok {
		sc.collector.CreateOrUpdate(spec.Key, settings)
		as := autoscaler.NewAutoscaler(spec.Key, settings, sc.collector, autoscaler.AutoscalerOptions{
			Configuration: spec.Configuration, Registerer: sc.s.cfg.Autoscaler.Registerer, Logger: sc.s.log,
		})
		r = &scaled{settings: settings, as: as, desired: int(as.InitialScale())}
		sc.revs[spec.Key] = r
	} else if !reflect.DeepEqual(r.settings, settings) {
		r.settings = settings
		r.as.Update(settings)
		sc.collector.CreateOrUpdate(spec.Key, settings)
	}
	spec.Scale = r.desired
	if r.applied && reflect.DeepEqual(r.spec, spec) {
		sc.mu.Unlock()
		return nil
	}
	r.spec = spec
	sc.mu.Unlock()
	if err := sc.rt.Apply(ctx, spec); err != nil {
		return err
	}
	sc.mu.Lock()
	if cur, ok := sc.revs[spec.Key]; ok && cur == r && reflect.DeepEqual(r.spec, spec) {
		r.applied = true
	}
	sc.mu.Unlock()
	return nil
}

// desired is the scale the scaler last asked of the runtime.
func (sc *scaler) desired(key runtime.RevisionKey) int {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if r, ok := sc.revs[key]; ok {
		return r.desired
	}
	return 0
}

// forget drops what the scaler knows of a revision (its autoscaler), so that the next ensure
// starts it afresh; the runtime is not touched.
func (sc *scaler) forget(key runtime.RevisionKey) {
	sc.mu.Lock()
	r, ok := sc.revs[key]
	delete(sc.revs, key)
	sc.mu.Unlock()
	if ok {
		r.as.Close()
		sc.collector.Delete(key)
	}
}

// remove stops a deleted revision.
func (sc *scaler) remove(ctx context.Context, key runtime.RevisionKey) error {
	sc.mu.Lock()
	r, ok := sc.revs[key]
	delete(sc.revs, key)
	sc.mu.Unlock()
	if ok {
		r.as.Close()
		sc.collector.Delete(key)
	}
	return sc.rt.Remove(ctx, key)
}

// keys lists the revisions under the scaler.
func (sc *scaler) keys() []runtime.RevisionKey {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	out := make([]runtime.RevisionKey, 0, len(sc.revs))
	for k := range sc.revs {
		out = append(out, k)
	}
	return out
}

// run decides every revision's scale each autoscaler tick until ctx ends.
func (sc *scaler) run(ctx context.Context) {
	t := time.NewTicker(autoscaler.TickInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			for _, k := range sc.keys() {
				sc.decide(ctx, k, now)
			}
		}
	}
}

// poke is the router's report of a request waiting for a revision with no ready instance.
func (sc *scaler) poke(key runtime.RevisionKey) {
	now := time.Now()
	sc.collector.Poke(key, now)
	sc.decide(context.Background(), key, now)
}

// decide asks the revision's autoscaler for a scale and applies a change.
func (sc *scaler) decide(ctx context.Context, key runtime.RevisionKey, now time.Time) {
	ready := 0
	for _, in := range sc.rt.Instances(key) {
		if in.Phase == runtime.Ready {
			ready++
		}
	}
	sc.mu.Lock()
	r, ok := sc.revs[key]
	if !ok {
		sc.mu.Unlock()
		return
	}
	d := r.as.Scale(now, ready)
	sc.s.log.Debug("autoscaler decision", "revision", key.String(), "ready", ready, "desired", d.DesiredScale,
		"recommendation", d.Recommendation, "state", d.State.String(), "panic", d.InPanic, "stable", d.StableValue, "panicValue", d.PanicValue)
	if d.DesiredScale < 0 || int(d.DesiredScale) == r.desired {
		sc.mu.Unlock()
		return
	}
	r.desired = int(d.DesiredScale)
	spec := r.spec
	spec.Scale = r.desired
	r.spec = spec
	r.applied = false
	sc.mu.Unlock()
	if err := sc.rt.Apply(ctx, spec); err != nil {
		sc.s.log.Warn("applying a scale", "revision", key.String(), "scale", spec.Scale, "err", err)
	} else {
		sc.mu.Lock()
		if cur, ok := sc.revs[key]; ok && cur == r && reflect.DeepEqual(r.spec, spec) {
			r.applied = true
		}
		sc.mu.Unlock()
	}
	sc.s.revisionCtl.Enqueue(key.String())
}
