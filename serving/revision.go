package serving

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/eddyplatform/eddy/api/serving"
	"github.com/eddyplatform/eddy/control/reconciler"
	"github.com/eddyplatform/eddy/serving/autoscaler"
	"github.com/eddyplatform/eddy/serving/router"
	"github.com/eddyplatform/eddy/serving/runtime"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/tools/cache"
)

// revisionReconciler runs a Revision: it hands its spec to the runtime (through the scaler,
// which owns the scale) and its limits to the router, and reports what the runtime does.
type revisionReconciler struct{ *Serving }

func (r *revisionReconciler) Reconcile(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return reconciler.Permanent(err)
	}
	rk := runtime.RevisionKey{Namespace: ns, Name: name}
	rev, err := r.revisions.Get(ns, name)
	if apierrors.IsNotFound(err) || err == nil && rev.DeletionTimestamp != nil {
		r.cfg.Router.RemoveRevision(rk)
		return r.scaler.remove(ctx, rk)
	}
	if err != nil {
		return err
	}
	orig := reconciler.DeepCopy(rev)
	err = r.reconcile(ctx, rk, rev)
	rev.Status.ObservedGeneration = rev.Generation
	if _, serr := r.cfg.Client.UpdateStatusIfChanged(ctx, orig, rev); serr != nil {
		return serr
	}
	return err
}

func (r *revisionReconciler) reconcile(ctx context.Context, key runtime.RevisionKey, rev *serving.Revision) error {
	st := &rev.Status
	st.InitializeConditions()
	c := rev.Spec.Container()
	if c == nil {
		st.MarkResourcesAvailableFalse(serving.ReasonContainerMissing, "The revision has no container.")
		return nil
	}
	cc := 0
	if rev.Spec.ContainerConcurrency != nil {
		cc = int(*rev.Spec.ContainerConcurrency)
	}
	r.cfg.Router.SetRevision(key, router.Settings{ContainerConcurrency: cc, Timeout: rev.Spec.Timeout()})

	ov, err := autoscaler.ParseAnnotations(rev.Annotations)
	var settings *autoscaler.RevisionSettings
	if err == nil {
		settings, err = autoscaler.NewRevisionSettings(r.autoscalerConfig(ctx), ov, cc)
	}
	if err != nil {
		st.MarkResourcesAvailableFalse("InvalidAutoscaling", "%v", err)
		return reconciler.Permanent(err)
	}
	settings.Reachable = r.routedRevisions(key.Namespace)[key.Name]

	spec := runtime.Revision{
		Key: key, Service: rev.Labels[serving.ServiceLabelKey], Configuration: rev.Labels[serving.ConfigurationLabelKey],
		Container: runtimeContainer(c), Labels: rev.Labels,
	}
	if err := r.scaler.ensure(ctx, spec, settings); err != nil {
		if errors.Is(err, runtime.ErrUnrunnable) {
			st.MarkResourcesAvailableFalse(serving.ReasonContainerMissing, "%v", err)
			st.MarkContainerHealthyFalse(serving.ReasonContainerMissing, "%v", err)
			if strings.HasPrefix(c.Image, "build://") {
				// The Build may not have produced its artifact yet: forget the failed
				// attempt and look again shortly.
				r.scaler.forget(key)
				if rerr := r.cfg.Runtime.Remove(ctx, key); rerr != nil {
					return rerr
				}
				return reconciler.RequeueAfter(2 * time.Second)
			}
			return nil
		}
		st.MarkResourcesAvailableUnknown(serving.ReasonDeploying, "%v", err)
		return err
	}
	st.MarkResourcesAvailableTrue()

	insts := r.cfg.Runtime.Instances(key)
	ready, failure := 0, (*runtime.Instance)(nil)
	for i := range insts {
		switch in := &insts[i]; in.Phase {
		case runtime.Ready:
			ready++
		case runtime.Failed:
			failure = in
		}
	}
	desired := r.scaler.desired(key)
	st.SetReplicas(int32(ready), int32(desired))
	healthy := st.GetCondition(serving.RevisionConditionContainerHealthy)
	switch {
	case ready > 0:
		st.MarkContainerHealthyTrue()
	case failure != nil && failure.Reason == "ImageNotRunnable":
		st.MarkResourcesAvailableFalse(serving.ReasonContainerMissing, "%s", failure.Message)
		st.MarkContainerHealthyFalse(serving.ReasonContainerMissing, "%s", failure.Message)
	case failure != nil && (healthy == nil || !healthy.IsTrue()):
		st.MarkContainerHealthyFalse(failure.Reason, "%s", failure.Message)
	case desired == 0 && len(insts) == 0:
		// Scaled to zero (initial-scale 0, or no traffic): nothing to be unhealthy, as a
		// Deployment of zero replicas is available in Knative. The first request shows
		// whether the container starts.
		st.MarkContainerHealthyTrue()
	case healthy == nil || !healthy.IsTrue():
		st.MarkContainerHealthyUnknown(serving.ReasonDeploying, "Waiting for the first instance to pass its readiness probe.")
	}
	switch {
	case ready > 0 || desired > 0:
		st.MarkActiveTrue()
	default:
		st.MarkActiveFalse(serving.ReasonNoTraffic, "The target is not receiving traffic.")
	}
	return nil
}

// runtimeContainer is the container as the runtime runs it: probes on the container's own
// port refer to whatever port the runtime gives the instance (port 0, as Knative's defaults
// write it).
func runtimeContainer(c *corev1.Container) corev1.Container {
	out := *c.DeepCopy()
	port := int32(serving.DefaultUserPort)
	if len(out.Ports) > 0 && out.Ports[0].ContainerPort != 0 {
		port = out.Ports[0].ContainerPort
	}
	for _, p := range []*corev1.Probe{out.ReadinessProbe, out.LivenessProbe} {
		if p == nil {
			continue
		}
		if p.TCPSocket != nil && p.TCPSocket.Port.IntValue() == int(port) {
			p.TCPSocket.Port = intstr.FromInt32(0)
		}
		if p.HTTPGet != nil && p.HTTPGet.Port.IntValue() == int(port) {
			p.HTTPGet.Port = intstr.FromInt32(0)
		}
	}
	return out
}

// AutoscalerConfigMap names the ConfigMap whose data changes the autoscaler's defaults, as
// Knative's config-autoscaler does; it lives in the eddy-system namespace.
const AutoscalerConfigMap = "config-autoscaler"

// SystemNamespace holds the platform's own configuration.
const SystemNamespace = "eddy-system"

// autoscalerConfig is Knative's defaults with the config-autoscaler ConfigMap's data over them
// when that ConfigMap exists, else the platform's configuration; a ConfigMap that does not
// parse is logged and ignored.
func (s *Serving) autoscalerConfig(ctx context.Context) *autoscaler.Config {
	cm := &corev1.ConfigMap{}
	if err := s.cfg.Client.Get(ctx, SystemNamespace, AutoscalerConfigMap, cm); err != nil {
		return s.cfg.Autoscaler
	}
	cfg, err := autoscaler.ConfigFromMap(cm.Data)
	if err != nil {
		s.log.Warn(fmt.Sprintf("ignoring ConfigMap %s/%s", SystemNamespace, AutoscalerConfigMap), "err", err)
		return s.cfg.Autoscaler
	}
	cfg.Registerer = s.cfg.Autoscaler.Registerer
	return cfg
}
