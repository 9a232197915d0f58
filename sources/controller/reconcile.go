package controller

import (
	"context"
	"net/url"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/duck"
	"github.com/eddyplatform/eddy/control/reconciler"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/cache"
)

// sinkStatus is what every source status offers the shared reconcile.
type sinkStatus interface {
	InitializeConditions()
	MarkSink(uri string)
	MarkNoSink(reason, format string, args ...any)
}

// source is one source object as the shared reconcile sees it: obj is read into, and spec
// and status point into it.
type source struct {
	kind   string
	obj    api.StatusObject
	spec   func() *duck.SourceSpec
	status func() sinkStatus
}

// reconcileSource is the part every adapter-running source shares: read the object (a
// deleted one stops its adapter and forgets its event types), resolve the sink into status
// (or stop the adapter when there is none), let run start or update the adapter and mark the
// kind's own conditions, and write the status.
func (s *Sources) reconcileSource(ctx context.Context, key string, src source, run func(sink *url.URL, overrides map[string]string)) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return reconciler.Permanent(err)
	}
	if err := s.cfg.Client.Get(ctx, ns, name, src.obj); apierrors.IsNotFound(err) || err == nil && src.obj.GetDeletionTimestamp() != nil {
		s.stop(src.kind + "/" + key)
		s.forgetEventTypes(ctx, ns, src.kind, name)
		return nil
	} else if err != nil {
		return err
	}
	orig := reconciler.DeepCopy(src.obj)
	st := src.status()
	st.InitializeConditions()
	if sink, overrides, err := s.resolveSink(ctx, ns, src.spec()); err != nil {
		st.MarkNoSink("NotFound", "%v", err)
		s.stop(src.kind + "/" + key)
	} else {
		st.MarkSink(sink.String())
		run(sink, overrides)
	}
	src.obj.GetStatus().ObservedGeneration = src.obj.GetGeneration()
	_, err = s.cfg.Client.UpdateStatusIfChanged(ctx, orig, src.obj)
	return err
}
