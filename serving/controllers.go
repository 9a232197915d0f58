// Package serving runs Knative Serving's kinds on one machine: the reconcilers of Service,
// Configuration, Revision and Route, and the scaler that ties the router, the autoscaler and the
// runtime together.
//
//   - A Service owns a Configuration and a Route of its name, made from its spec.template and
//     spec.traffic; its status is theirs.
//   - A Configuration stamps out one immutable Revision per change of its template, named
//     {configuration}-{generation as 5 digits} (or the template's own name), and reports the
//     latest created and the latest ready one.
//   - A Revision is run by the runtime at the scale the autoscaler decides (see scaler.go);
//     its status says how many instances run and are wanted, and why it is not ready.
//   - A Route resolves its traffic targets to ready revisions and gives the router the split;
//     a target on a configuration follows its latest ready revision, so a new revision takes
//     traffic only once it is ready.
//
// Deleting a Service deletes what it owns; deleting a Configuration deletes its revisions.
package serving

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/serving"
	"github.com/eddyplatform/eddy/control/reconciler"
	"github.com/eddyplatform/eddy/serving/autoscaler"
	"github.com/eddyplatform/eddy/serving/router"
	"github.com/eddyplatform/eddy/serving/runtime"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
)

// Config is what the serving controllers need.
type Config struct {
	// Client reads and writes objects; Cache feeds the informers. Required.
	Client *reconciler.Client
	Cache  *reconciler.Cache
	// Runtime runs the revisions' instances; Router routes requests to them. Required. The
	// router must have been created with OnDemand set to the Serving's OnDemand method
	// (see New).
	Runtime runtime.Runtime
	Router  *router.Router
	// Autoscaler is the config-autoscaler configuration (nil: Knative's defaults).
	Autoscaler *autoscaler.Config
	// IngressURL is the base URL of the data plane's port, such as http://127.0.0.1:8080:
	// routes' URLs are http://{route}.{namespace}.{domain}:{its port}.
	IngressURL string
	// Metrics receives the controllers' and the autoscaler's metrics; nil for none.
	Metrics prometheus.Registerer
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Serving holds the serving controllers and the scaler.
type Serving struct {
	cfg    Config
	log    *slog.Logger
	scaler *scaler

	services       *reconciler.Lister[*serving.Service]
	configurations *reconciler.Lister[*serving.Configuration]
	revisions      *reconciler.Lister[*serving.Revision]
	routes         *reconciler.Lister[*serving.Route]

	controllers []*reconciler.Controller
	revisionCtl *reconciler.Controller
}

// New returns the serving controllers. Call Run to start them.
func New(cfg Config) (*Serving, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Autoscaler == nil {
		cfg.Autoscaler = autoscaler.DefaultConfig()
	}
	s := &Serving{cfg: cfg, log: cfg.Logger}
	var err error
	if s.services, err = reconciler.NewLister[*serving.Service](cfg.Cache); err != nil {
		return nil, err
	}
	if s.configurations, err = reconciler.NewLister[*serving.Configuration](cfg.Cache); err != nil {
		return nil, err
	}
	if s.revisions, err = reconciler.NewLister[*serving.Revision](cfg.Cache); err != nil {
		return nil, err
	}
	if s.routes, err = reconciler.NewLister[*serving.Route](cfg.Cache); err != nil {
		return nil, err
	}
	opts := func(name string, obj api.Object, rec reconciler.Reconciler) reconciler.Options {
		return reconciler.Options{Name: name, For: obj, Reconciler: rec, Cache: cfg.Cache, Metrics: cfg.Metrics, Logger: cfg.Logger}
	}
	add := func(o reconciler.Options, watches ...func(*reconciler.Controller) error) (*reconciler.Controller, error) {
		c, err := reconciler.NewController(o)
		if err != nil {
			return nil, err
		}
		for _, w := range watches {
			if err := w(c); err != nil {
				return nil, err
			}
		}
		s.controllers = append(s.controllers, c)
		return c, nil
	}
	if _, err := add(opts("service", &serving.Service{}, &serviceReconciler{s}),
		func(c *reconciler.Controller) error {
			if err := c.Watch(&serving.Configuration{}, reconciler.MapToOwner(c.Kind())); err != nil {
				return err
			}
			return c.Watch(&serving.Route{}, reconciler.MapToOwner(c.Kind()))
		}); err != nil {
		return nil, err
	}
	if _, err := add(opts("configuration", &serving.Configuration{}, &configurationReconciler{s}),
		func(c *reconciler.Controller) error {
			return c.Watch(&serving.Revision{}, mapByLabel(serving.ConfigurationLabelKey))
		}); err != nil {
		return nil, err
	}
	if _, err := add(opts("route", &serving.Route{}, &routeReconciler{s}),
		func(c *reconciler.Controller) error {
			if err := c.Watch(&serving.Configuration{}, s.routesInNamespace); err != nil {
				return err
			}
			return c.Watch(&serving.Revision{}, s.routesInNamespace)
		}); err != nil {
		return nil, err
	}
	rc, err := add(opts("revision", &serving.Revision{}, &revisionReconciler{s}),
		func(c *reconciler.Controller) error {
			// A route's traffic decides whether a revision is reachable.
			if err := c.Watch(&serving.Route{}, s.revisionsInNamespace); err != nil {
				return err
			}
			// config-autoscaler changes every revision's settings.
			return c.Watch(&corev1.ConfigMap{}, func(u *unstructured.Unstructured) []string {
				if u.GetNamespace() != SystemNamespace || u.GetName() != AutoscalerConfigMap {
					return nil
				}
				var keys []string
				for _, k := range s.scaler.keys() {
					keys = append(keys, k.String())
				}
				return keys
			})
		})
	if err != nil {
		return nil, err
	}
	s.revisionCtl = rc
	s.scaler = newScaler(s, cfg)
	return s, nil
}

// Controllers returns the controllers, to Run each.
func (s *Serving) Controllers() []*reconciler.Controller { return s.controllers }

// Run runs the scaler and the runtime watch until ctx ends. Run the controllers too.
func (s *Serving) Run(ctx context.Context) {
	go s.scaler.collector.Run(ctx)
	go s.watchRuntime(ctx)
	s.scaler.run(ctx)
}

// OnDemand is the router's OnDemand hook: a request is waiting for a revision with no ready
// instance, so scale it up now.
func (s *Serving) OnDemand(key runtime.RevisionKey) { s.scaler.poke(key) }

// watchRuntime re-reconciles a revision when its instances change, so that its status (ready,
// replicas, crashes) follows. Only the revisions whose instances changed are reconciled: a
// cold start must not wait behind the status of every other revision.
func (s *Serving) watchRuntime(ctx context.Context) {
	seen := map[runtime.RevisionKey]string{}
	for {
		changed := s.cfg.Runtime.Changed()
		select {
		case <-changed:
		case <-ctx.Done():
			return
		}
		keys := s.scaler.keys()
		live := make(map[runtime.RevisionKey]bool, len(keys))
		for _, key := range keys {
			live[key] = true
			if sum := instancesSummary(s.cfg.Runtime.Instances(key)); sum != seen[key] {
				seen[key] = sum
				s.revisionCtl.Enqueue(key.String())
			}
		}
		for key := range seen {
			if !live[key] {
				delete(seen, key)
			}
		}
	}
}

// instancesSummary is what of a revision's instances its status shows.
func instancesSummary(insts []runtime.Instance) string {
	var b strings.Builder
	for _, in := range insts {
		fmt.Fprintf(&b, "%s/%s/%d/%s;", in.ID, in.Phase, in.Restarts, in.Reason)
	}
	return b.String()
}

// mapByLabel maps an object to the object in its namespace named by one of its labels.
func mapByLabel(label string) reconciler.MapFunc {
	return func(u *unstructured.Unstructured) []string {
		if v := u.GetLabels()[label]; v != "" {
			return []string{u.GetNamespace() + "/" + v}
		}
		return nil
	}
}

// routesInNamespace maps a Configuration or Revision to the routes of its namespace: any of
// them may refer to it.
func (s *Serving) routesInNamespace(u *unstructured.Unstructured) []string {
	rs, _ := s.routes.List(u.GetNamespace(), labels.Everything())
	keys := make([]string, 0, len(rs))
	for _, r := range rs {
		keys = append(keys, r.Namespace+"/"+r.Name)
	}
	return keys
}

// revisionsInNamespace maps a Route to the revisions of its namespace.
func (s *Serving) revisionsInNamespace(u *unstructured.Unstructured) []string {
	rs, _ := s.revisions.List(u.GetNamespace(), labels.Everything())
	keys := make([]string, 0, len(rs))
	for _, r := range rs {
		keys = append(keys, r.Namespace+"/"+r.Name)
	}
	return keys
}

// routeURL is the URL of a route's host (with a tag) on the ingress port.
func (s *Serving) routeURL(namespace, name, tag string) string {
	host := s.cfg.Router.Host(namespace, name, tag)
	port := ""
	if i := strings.LastIndex(s.cfg.IngressURL, ":"); i > len("http://") {
		if p, err := strconv.Atoi(s.cfg.IngressURL[i+1:]); err == nil && p != 80 {
			port = strconv.Itoa(p)
		}
	}
	if port == "" {
		return "http://" + host
	}
	return "http://" + net.JoinHostPort(host, port)
}

// controllerRef makes owner the controller of a child.
func controllerRef(owner metav1.Object, kind string) metav1.OwnerReference {
	t := true
	return metav1.OwnerReference{APIVersion: serving.Group + "/" + serving.Version, Kind: kind, Name: owner.GetName(), UID: owner.GetUID(), Controller: &t, BlockOwnerDeletion: &t}
}

// ownedBy reports whether obj's controller is owner.
func ownedBy(obj, owner metav1.Object) bool {
	ref := metav1.GetControllerOfNoCopy(obj)
	return ref != nil && ref.UID == owner.GetUID()
}

// ignoreNotFound returns nil for a NotFound error.
func ignoreNotFound(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
