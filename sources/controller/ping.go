package controller

import (
	"context"
	"net/url"

	"github.com/eddyplatform/eddy/api/duck"
	"github.com/eddyplatform/eddy/api/sources"
	eddysources "github.com/eddyplatform/eddy/sources"
	"github.com/eddyplatform/eddy/sources/ping"
)

// pingReconciler runs PingSources.
type pingReconciler struct{ *Sources }

func (r *pingReconciler) Reconcile(ctx context.Context, key string) error {
	src := &sources.PingSource{}
	return r.reconcileSource(ctx, key, source{kind: "PingSource", obj: src,
		spec: func() *duck.SourceSpec { return &src.Spec.SourceSpec }, status: func() sinkStatus { return &src.Status }},
		func(sink *url.URL, overrides map[string]string) {
			st, spec := &src.Status, src.Spec
			var adapter *ping.Adapter
			err := r.ensure("PingSource/"+key, fingerprint(spec.Schedule, spec.Timezone, spec.ContentType, spec.Data, spec.DataBase64), sink, overrides,
				func(sender eddysources.Sender) (func(context.Context) error, error) {
					a, err := ping.New(ping.Config{Schedule: spec.Schedule, Timezone: spec.Timezone, ContentType: spec.ContentType,
						Data: spec.Data, DataBase64: spec.DataBase64, Namespace: src.Namespace, Name: src.Name, Sender: sender,
						Logger: r.log.With("pingsource", key), Registerer: r.cfg.Metrics})
					adapter = a
					if err != nil {
						return nil, err
					}
					return a.Run, nil
				})
			if err != nil {
				st.MarkNotDeployed("AdapterFailed", "%v", err)
			} else {
				st.MarkDeployed()
			}
			if adapter != nil {
				st.CloudEventAttributes = attributes(adapter.EventTypes())
				r.recordEventTypes(ctx, src, "PingSource", adapter.EventTypes())
			}
		})
}
