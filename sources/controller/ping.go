package controller

import (
	"context"

	"github.com/eddyplatform/eddy/api/sources"
	"github.com/eddyplatform/eddy/control/reconciler"
	eddysources "github.com/eddyplatform/eddy/sources"
	"github.com/eddyplatform/eddy/sources/ping"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/cache"
)

// pingReconciler runs PingSources.
type pingReconciler struct{ *Sources }

func (r *pingReconciler) Reconcile(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return reconciler.Permanent(err)
	}
	src := &sources.PingSource{}
	if err := r.cfg.Client.Get(ctx, ns, name, src); apierrors.IsNotFound(err) || err == nil && src.DeletionTimestamp != nil {
		r.stop("PingSource/" + key)
		r.forgetEventTypes(ctx, ns, "PingSource", name)
		return nil
	} else if err != nil {
		return err
	}
	orig := reconciler.DeepCopy(src)
	st := &src.Status
	st.InitializeConditions()
	sink, overrides, err := r.resolveSink(ctx, ns, &src.Spec.SourceSpec)
	if err != nil {
		st.MarkNoSink("NotFound", "%v", err)
		r.stop("PingSource/" + key)
	} else {
		st.MarkSink(sink.String())
		spec := src.Spec
		var adapter *ping.Adapter
		err = r.ensure("PingSource/"+key, fingerprint(spec.Schedule, spec.Timezone, spec.ContentType, spec.Data, spec.DataBase64), sink, overrides,
			func(sender eddysources.Sender) (func(context.Context) error, error) {
				a, err := ping.New(ping.Config{Schedule: spec.Schedule, Timezone: spec.Timezone, ContentType: spec.ContentType,
					Data: spec.Data, DataBase64: spec.DataBase64, Namespace: ns, Name: name, Sender: sender,
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
	}
	st.ObservedGeneration = src.Generation
	_, err = r.cfg.Client.UpdateStatusIfChanged(ctx, orig, src)
	return err
}
