package apiserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/eddyplatform/eddy/api/eventing"
	sourcesv1 "github.com/eddyplatform/eddy/api/sources"
	"github.com/eddyplatform/eddy/channels/filter"
	"github.com/eddyplatform/eddy/sources"
)

// Config configures an Adapter.
type Config struct {
	// Namespace and Name are the ApiServerSource's, for logs. Namespace is also the one
	// namespace watched when NamespaceSelector is nil. Namespace is required.
	Namespace, Name string

	// RestConfig reaches the API server, as the source's service account. When nil, the
	// kubeconfig file at Kubeconfig is loaded, and when that is empty too, the in-cluster
	// configuration.
	RestConfig *rest.Config
	// Kubeconfig is the path of a kubeconfig file, used when RestConfig is nil.
	Kubeconfig string

	// Resources are the kinds to watch, each with an optional label selector. At least one.
	Resources []sourcesv1.APIVersionKindSelector
	// Owner, when set, keeps only objects whose controller is of this apiVersion and kind
	// (an empty field matches any).
	Owner *sourcesv1.APIVersionKind
	// Mode is sourcesv1.ReferenceMode (the default when empty) or sourcesv1.ResourceMode.
	Mode string
	// NamespaceSelector selects the namespaces watched: nil means Namespace alone, an empty
	// selector every namespace.
	NamespaceSelector *metav1.LabelSelector
	// Filters are Subscriptions API expressions every event must pass to be sent.
	Filters []eventing.SubscriptionsAPIFilter

	// Sender delivers the events. Required.
	Sender sources.Sender
	// Logger receives the adapter's reports; nil means slog.Default().
	Logger *slog.Logger
}

// Adapter watches an API server and sends the events of an ApiServerSource. Make one with New
// and start it with Run, once.
type Adapter struct {
	cfg       Config
	ref       bool
	source    string
	base      *url.URL
	http      *http.Client
	dyn       dynamic.Interface
	selectors []labels.Selector // of cfg.Resources, by index
	nsSel     labels.Selector   // nil: cfg.Namespace only; Everything(): all namespaces
	filter    filter.Func
	log       *slog.Logger

	ran    sync.Once
	synced chan struct{}
}

// New checks cfg, loads the client configuration and returns an Adapter. It does not talk to
// the API server.
func New(cfg Config) (*Adapter, error) {
	var errs []error
	a := &Adapter{cfg: cfg, synced: make(chan struct{})}
	switch cfg.Mode {
	case "", sourcesv1.ReferenceMode:
		a.ref = true
	case sourcesv1.ResourceMode:
	default:
		errs = append(errs, fmt.Errorf("mode %q is neither %s nor %s", cfg.Mode, sourcesv1.ReferenceMode, sourcesv1.ResourceMode))
	}
	if cfg.Namespace == "" {
		errs = append(errs, errors.New("namespace is required"))
	}
	if cfg.Sender == nil {
		errs = append(errs, errors.New("a Sender is required"))
	}
	if len(cfg.Resources) == 0 {
		errs = append(errs, errors.New("at least one resource is required"))
	}
	for i, r := range cfg.Resources {
		if gv, err := schema.ParseGroupVersion(r.APIVersion); err != nil || gv.Version == "" || r.APIVersion == "" {
			errs = append(errs, fmt.Errorf("resources[%d]: apiVersion %q is not version or group/version", i, r.APIVersion))
		}
		if strings.TrimSpace(r.Kind) == "" {
			errs = append(errs, fmt.Errorf("resources[%d]: kind is required", i))
		}
		sel := labels.Everything()
		if r.LabelSelector != nil {
			s, err := metav1.LabelSelectorAsSelector(r.LabelSelector)
			if err != nil {
				errs = append(errs, fmt.Errorf("resources[%d].selector: %w", i, err))
			} else {
				sel = s
			}
		}
		a.selectors = append(a.selectors, sel)
	}
	if cfg.NamespaceSelector != nil {
		s, err := metav1.LabelSelectorAsSelector(cfg.NamespaceSelector)
		if err != nil {
			errs = append(errs, fmt.Errorf("namespaceSelector: %w", err))
		}
		a.nsSel = s
	}
	f, err := filter.All(cfg.Filters)
	if err != nil {
		errs = append(errs, err)
	}
	a.filter = f
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("apiserver: invalid config: %w", err)
	}

	rc, err := restConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("apiserver: client configuration: %w", err)
	}
	if a.base, _, err = rest.DefaultServerUrlFor(rc); err != nil {
		return nil, fmt.Errorf("apiserver: API server address: %w", err)
	}
	a.source = strings.TrimSuffix(a.base.String(), "/")
	if a.http, err = rest.HTTPClientFor(rc); err != nil {
		return nil, fmt.Errorf("apiserver: HTTP client: %w", err)
	}
	if a.dyn, err = dynamic.NewForConfigAndClient(rc, a.http); err != nil {
		return nil, fmt.Errorf("apiserver: dynamic client: %w", err)
	}
	a.log = cfg.Logger
	if a.log == nil {
		a.log = slog.Default()
	}
	a.log = a.log.With("source", "apiserver", "namespace", cfg.Namespace, "name", cfg.Name)
	return a, nil
}

// restConfig returns cfg.RestConfig (a copy), or loads Kubeconfig, or the in-cluster config.
func restConfig(cfg Config) (*rest.Config, error) {
	switch {
	case cfg.RestConfig != nil:
		return rest.CopyConfig(cfg.RestConfig), nil
	case cfg.Kubeconfig != "":
		return clientcmd.BuildConfigFromFlags("", cfg.Kubeconfig)
	default:
		return rest.InClusterConfig()
	}
}

// Source returns the events' source attribute: the API server's URL.
func (a *Adapter) Source() string { return a.source }

// EventTypes describes the three kinds of event the source sends in its mode.
func (a *Adapter) EventTypes() []sources.EventTypeInfo {
	what := "a reference to"
	if !a.ref {
		what = "the whole of"
	}
	var out []sources.EventTypeInfo
	for _, c := range []struct {
		o    op
		verb string
	}{{opAdd, "was created"}, {opUpdate, "was changed"}, {opDelete, "was deleted"}} {
		out = append(out, sources.EventTypeInfo{
			Type:        eventType(c.o, a.ref),
			Source:      a.source,
			Description: fmt.Sprintf("A watched Kubernetes object %s; the data is %s the object.", c.verb, what),
		})
	}
	return out
}

// Synced is closed once Run watches every resource and has read the objects that existed
// when it started (for which it sends nothing): from then on every change is sent.
func (a *Adapter) Synced() <-chan struct{} { return a.synced }

// Run looks the resources up, watches them and sends an event per change until ctx ends,
// then stops the watches, waits for the send in progress (its context ends too) and returns
// nil. It returns an error at once when a resource is not served or cannot be listed and
// watched, or when Run was called before. Failing watches (a lost connection, a missing
// permission) are retried with backoff and logged, as client-go's informers do.
func (a *Adapter) Run(ctx context.Context) error {
	first := false
	a.ran.Do(func() { first = true })
	if !first {
		return errors.New("apiserver: Run called twice")
	}
	var kinds []resolved
	for _, r := range a.cfg.Resources {
		gv, _ := schema.ParseGroupVersion(r.APIVersion)
		doc, err := discover(ctx, a.http, a.base, gv)
		if err != nil {
			return fmt.Errorf("apiserver: resource %s %s: %w", r.APIVersion, r.Kind, err)
		}
		k, err := findKind(doc, gv, r.Kind)
		if err != nil {
			return fmt.Errorf("apiserver: resource %s %s: %w", r.APIVersion, r.Kind, err)
		}
		kinds = append(kinds, k)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	run := func(inf cache.SharedIndexInformer) {
		wg.Go(func() { inf.RunWithContext(ctx) })
	}
	var synced []cache.InformerSynced

	// With a selector that is not empty, namespaced kinds are watched everywhere and objects
	// kept only when their namespace is among those the selector currently selects.
	var nsStore cache.Store
	if a.nsSel != nil && !a.nsSel.Empty() {
		nsInf := a.informer(ctx, schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}, "", a.nsSel)
		nsStore = nsInf.GetStore()
		run(nsInf)
		synced = append(synced, nsInf.HasSynced)
	}
	for i, k := range kinds {
		ns := ""
		if k.namespaced && a.nsSel == nil {
			ns = a.cfg.Namespace
		}
		inf := a.informer(ctx, k.gvr, ns, a.selectors[i])
		h := &handler{a: a, ctx: ctx, nsStore: nsStore, namespaced: k.namespaced, log: a.log.With("resource", k.gvr.String())}
		reg, err := inf.AddEventHandler(cache.ResourceEventHandlerDetailedFuncs{
			AddFunc:    h.add,
			UpdateFunc: h.update,
			DeleteFunc: h.delete,
		})
		if err != nil {
			return fmt.Errorf("apiserver: %s: %w", k.gvr, err)
		}
		run(inf)
		synced = append(synced, reg.HasSynced)
		a.log.Info("apiserver: watching", "resource", k.gvr.String(), "kind", k.kind, "watchNamespace", ns, "selector", a.selectors[i].String())
	}
	if cache.WaitForCacheSync(ctx.Done(), synced...) {
		close(a.synced)
		a.log.Debug("apiserver: synced")
	}
	<-ctx.Done()
	return nil
}

// informer makes an informer of the objects of gvr in namespace ns ("" for all) that sel
// selects. It never resyncs: nothing is sent again unless it changed.
func (a *Adapter) informer(ctx context.Context, gvr schema.GroupVersionResource, ns string, sel labels.Selector) cache.SharedIndexInformer {
	var ri dynamic.ResourceInterface = a.dyn.Resource(gvr)
	if ns != "" {
		ri = a.dyn.Resource(gvr).Namespace(ns)
	}
	selector := sel.String()
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			opts.LabelSelector = selector
			return ri.List(ctx, opts)
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			opts.LabelSelector = selector
			return ri.Watch(ctx, opts)
		},
	}
	inf := cache.NewSharedIndexInformer(lw, &unstructured.Unstructured{}, 0, cache.Indexers{})
	log := a.log.With("resource", gvr.String())
	_ = inf.SetWatchErrorHandlerWithContext(func(ctx context.Context, _ *cache.Reflector, err error) {
		if ctx.Err() == nil {
			log.Warn("apiserver: watch failed; retrying", "err", err)
		}
	})
	return inf
}

// handler turns one informer's notifications into events.
type handler struct {
	a          *Adapter
	ctx        context.Context
	nsStore    cache.Store // nil: no namespace filter
	namespaced bool
	log        *slog.Logger
}

func (h *handler) add(obj any, initial bool) {
	if initial {
		return // existed when Run started: Knative sends nothing for those
	}
	h.send(opAdd, obj)
}

func (h *handler) update(oldObj, newObj any) {
	o, ok1 := oldObj.(*unstructured.Unstructured)
	n, ok2 := newObj.(*unstructured.Unstructured)
	if ok1 && ok2 && o.GetResourceVersion() == n.GetResourceVersion() {
		return // not a change
	}
	h.send(opUpdate, newObj)
}

func (h *handler) delete(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj // deleted while the watch was down: the last state seen
	}
	h.send(opDelete, obj)
}

func (h *handler) send(o op, obj any) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		h.log.Warn("apiserver: unexpected object", "type", fmt.Sprintf("%T", obj))
		return
	}
	if !h.passes(u) {
		return
	}
	ev, err := makeEvent(h.a.source, o, h.a.ref, u, time.Now())
	if err != nil {
		h.log.Warn("apiserver: cannot make an event", "object", u.GetNamespace()+"/"+u.GetName(), "err", err)
		return
	}
	if h.a.filter != nil && !h.a.filter(&ev) {
		return
	}
	if err := h.a.cfg.Sender.Send(h.ctx, ev); err != nil {
		if h.ctx.Err() == nil {
			h.log.Warn("apiserver: sending failed", "id", ev.ID(), "type", ev.Type(), "subject", ev.Subject(), "err", err)
		}
		return
	}
	h.log.Debug("apiserver: sent", "id", ev.ID(), "type", ev.Type(), "subject", ev.Subject())
}

// passes applies the namespace and owner filters.
func (h *handler) passes(u *unstructured.Unstructured) bool {
	if h.nsStore != nil && h.namespaced {
		if _, ok, _ := h.nsStore.GetByKey(u.GetNamespace()); !ok {
			return false
		}
	}
	if o := h.a.cfg.Owner; o != nil {
		c := metav1.GetControllerOf(u)
		if c == nil || o.APIVersion != "" && o.APIVersion != c.APIVersion || o.Kind != "" && o.Kind != c.Kind {
			return false
		}
	}
	return true
}
