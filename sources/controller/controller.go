// Package controller runs Eddy's event sources: one reconciler per source kind resolves the
// object's sink into status.sinkUri, starts (or restarts, when its spec changes) the kind's
// adapter with a sources.SinkSender, reports conditions that say what is wrong, records the
// event types it produces as EventType objects, and stops the adapter when the object goes.
//
// GitHubSource receivers are served on the ingress port at
// /sources/github/{namespace}/{name}; that URL is the source's status.url and the callback of
// the webhook it registers.
package controller

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/duck"
	"github.com/eddyplatform/eddy/api/eventing"
	"github.com/eddyplatform/eddy/api/sources"
	"github.com/eddyplatform/eddy/api/sources/feedsv1alpha1"
	"github.com/eddyplatform/eddy/channels"
	"github.com/eddyplatform/eddy/control/reconciler"
	"github.com/eddyplatform/eddy/control/store"
	eddysources "github.com/eddyplatform/eddy/sources"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
)

// Config is what the source controllers need.
type Config struct {
	// Client and Cache read and write objects. Required.
	Client *reconciler.Client
	Cache  *reconciler.Cache
	// IngressURL is the data plane's base URL (GitHub receivers are served there).
	IngressURL string
	// HTTPClient sends events to sinks (nil: a default client).
	HTTPClient *http.Client
	// KubeConfig is the Kubernetes API that ApiServerSources watch; with Kubeconfig (a
	// kubeconfig file's path) instead, that file's current context. Neither means the cluster
	// Eddy runs in, if any.
	KubeConfig *rest.Config
	Kubeconfig string
	// Metrics receives the adapters' metrics; nil for none.
	Metrics prometheus.Registerer
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Sources holds the source controllers and the adapters they run.
type Sources struct {
	cfg          Config
	log          *slog.Logger
	destinations *channels.Destinations
	github       *githubRoutes

	mu       sync.Mutex
	adapters map[string]*running

	sent, failed *prometheus.CounterVec

	controllers []*reconciler.Controller
	byKind      map[string]*reconciler.Controller // "PingSource" → its controller
}

// running is one adapter started for one source object.
type running struct {
	fingerprint string
	sender      *eddysources.SinkSender
	cancel      context.CancelFunc
	done        chan struct{}
	err         error // why Run returned, once done is closed
}

// New returns the source controllers. Run each of Controllers; serve Handler on the ingress
// port under GitHubPathPrefix.
func New(cfg Config) (*Sources, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	}
	s := &Sources{
		cfg: cfg, log: cfg.Logger, adapters: map[string]*running{},
		destinations: &channels.Destinations{Store: cfg.Client.Store(), Registry: cfg.Client.Registry()},
		github:       newGitHubRoutes(),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "eddy_source_events_sent_total",
			Help: "Events a source delivered to its sink, by source kind, namespace and name."}, []string{"kind", "namespace", "name"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "eddy_source_events_failed_total",
			Help: "Events a source gave up delivering after its retries, by source kind, namespace and name."}, []string{"kind", "namespace", "name"}),
	}
	if cfg.Metrics != nil {
		for _, c := range []prometheus.Collector{s.sent, s.failed} {
			if err := cfg.Metrics.Register(c); err != nil {
				return nil, err
			}
		}
	}
	for _, c := range []struct {
		name string
		obj  api.Object
		rec  reconciler.Reconciler
	}{
		{"pingsource", &sources.PingSource{}, &pingReconciler{s}},
		{"githubsource", &sources.GitHubSource{}, &githubReconciler{s}},
		{"apiserversource", &sources.ApiServerSource{}, &apiServerReconciler{s}},
		{"kafkasource", &sources.KafkaSource{}, &kafkaReconciler{s}},
		{"cloudpubsubsource", &sources.CloudPubSubSource{}, &pubsubReconciler{s}},
		{"feed", &feedsv1alpha1.Feed{}, &feedReconciler{s}},
	} {
		ctl, err := reconciler.NewController(reconciler.Options{Name: c.name, For: c.obj, Reconciler: c.rec, Cache: cfg.Cache, Metrics: cfg.Metrics, Logger: cfg.Logger})
		if err != nil {
			return nil, err
		}
		// A change of a Secret may change a source's credentials.
		if err := ctl.Watch(&corev1.Secret{}, s.sourcesOfNamespace(ctl)); err != nil {
			return nil, err
		}
		if c.name == "feed" { // a Feed copies its source's status
			for _, child := range []api.Object{&sources.GitHubSource{}, &sources.ApiServerSource{}, &sources.CloudPubSubSource{}} {
				if err := ctl.Watch(child, mapByLabel(feedLabel)); err != nil {
					return nil, err
				}
			}
		}
		s.controllers = append(s.controllers, ctl)
		if s.byKind == nil {
			s.byKind = map[string]*reconciler.Controller{}
		}
		s.byKind[ctl.Kind().Kind] = ctl
	}
	return s, nil
}

// Controllers returns the controllers, to Run each.
func (s *Sources) Controllers() []*reconciler.Controller { return s.controllers }

// GitHubPathPrefix is where GitHubSource receivers are served on the ingress port.
const GitHubPathPrefix = "/sources/github/"

// Handler serves the GitHubSource receivers, under GitHubPathPrefix.
func (s *Sources) Handler() http.Handler { return s.github }

// Close stops every adapter.
func (s *Sources) Close() {
	s.mu.Lock()
	all := s.adapters
	s.adapters = map[string]*running{}
	s.mu.Unlock()
	for _, r := range all {
		r.cancel()
		<-r.done
	}
}

// sourcesOfNamespace maps any object to every source of the controller's kind in its namespace.
func (s *Sources) sourcesOfNamespace(ctl *reconciler.Controller) reconciler.MapFunc {
	return func(u *unstructured.Unstructured) []string {
		items, err := s.cfg.Client.Store().List(context.Background(), ctl.Kind().Resource(), u.GetNamespace(), store.ListOptions{})
		if err != nil {
			return nil
		}
		var keys []string
		for _, it := range items.Items {
			keys = append(keys, it.GetNamespace()+"/"+it.GetName())
		}
		return keys
	}
}

// mapByLabel maps an object to the object of its namespace that a label names.
func mapByLabel(label string) reconciler.MapFunc {
	return func(u *unstructured.Unstructured) []string {
		if v := u.GetLabels()[label]; v != "" {
			return []string{u.GetNamespace() + "/" + v}
		}
		return nil
	}
}

// adapterFunc starts an adapter; it returns the function that runs it until ctx ends.
type adapterFunc func(sender eddysources.Sender) (run func(ctx context.Context) error, err error)

// ensure runs the adapter for key with the given fingerprint (restarting it when the
// fingerprint changed) and points its sender at sink. It returns the adapter's failure, if
// it stopped on its own.
func (s *Sources) ensure(key, fingerprint string, sink *url.URL, overrides map[string]string, start adapterFunc) error {
	s.mu.Lock()
	r, ok := s.adapters[key]
	if ok && r.fingerprint == fingerprint {
		r.sender.SetSink(sink, overrides)
		select {
		case <-r.done:
			err := r.err
			delete(s.adapters, key) // try again next time
			s.mu.Unlock()
			if err == nil {
				err = errors.New("the adapter stopped")
			}
			return err
		default:
		}
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()
	if ok {
		s.stop(key)
	}
	sender := eddysources.NewSinkSender(s.cfg.HTTPClient, eddysources.DefaultPolicy)
	sender.SetSink(sink, overrides)
	run, err := start(s.counted(key, sender))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	nr := &running{fingerprint: fingerprint, sender: sender, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(nr.done)
		nr.err = run(ctx)
		if ctx.Err() == nil {
			// It stopped on its own: reconcile the source, so that its status says so and the
			// adapter is started again.
			s.log.Warn("a source adapter stopped", "source", key, "err", nr.err)
			if kind, rest, ok := strings.Cut(key, "/"); ok {
				if ctl := s.byKind[kind]; ctl != nil {
					ctl.EnqueueAfter(rest, time.Second)
				}
			}
		}
	}()
	s.mu.Lock()
	s.adapters[key] = nr
	s.mu.Unlock()
	return nil
}

// counted wraps a source's Sender with the per-source sent and failed counters; key is
// "Kind/namespace/name".
func (s *Sources) counted(key string, next eddysources.Sender) eddysources.Sender {
	parts := strings.SplitN(key, "/", 3)
	for len(parts) < 3 {
		parts = append(parts, "")
	}
	sent, failed := s.sent.WithLabelValues(parts...), s.failed.WithLabelValues(parts...)
	return eddysources.SenderFunc(func(ctx context.Context, ev event.Event) error {
		err := next.Send(ctx, ev)
		if err != nil {
			failed.Inc()
		} else {
			sent.Inc()
		}
		return err
	})
}

// stop stops the adapter of key, if any.
func (s *Sources) stop(key string) {
	s.mu.Lock()
	r, ok := s.adapters[key]
	delete(s.adapters, key)
	s.mu.Unlock()
	if ok {
		r.cancel()
		<-r.done
	}
}

// resolveSink resolves a source's sink, or returns the reason it cannot.
func (s *Sources) resolveSink(ctx context.Context, ns string, spec *duck.SourceSpec) (*url.URL, map[string]string, error) {
	if spec.Sink.IsEmpty() {
		return nil, nil, errors.New("spec.sink is not set")
	}
	u, err := s.destinations.URI(ctx, ns, &spec.Sink)
	if err != nil {
		return nil, nil, err
	}
	var overrides map[string]string
	if spec.CloudEventOverrides != nil {
		overrides = spec.CloudEventOverrides.Extensions
	}
	return u, overrides, nil
}

// secretValue reads one key of a Secret in ns.
func (s *Sources) secretValue(ctx context.Context, ns string, sel *corev1.SecretKeySelector) ([]byte, error) {
	sec := &corev1.Secret{}
	if err := s.cfg.Client.Get(ctx, ns, sel.Name, sec); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("secret %s/%s does not exist", ns, sel.Name)
		}
		return nil, err
	}
	if v, ok := sec.Data[sel.Key]; ok {
		return v, nil
	}
	if v, ok := sec.StringData[sel.Key]; ok {
		return []byte(v), nil
	}
	return nil, fmt.Errorf("secret %s/%s has no key %q", ns, sel.Name, sel.Key)
}

// fingerprint identifies what an adapter was started from (secrets included, hashed).
func fingerprint(parts ...any) string {
	raw, _ := json.Marshal(parts)
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}

// attributes turns event type descriptions into status.ceAttributes.
func attributes(infos []eddysources.EventTypeInfo) []duck.CloudEventAttributes {
	out := make([]duck.CloudEventAttributes, 0, len(infos))
	for _, i := range infos {
		out = append(out, duck.CloudEventAttributes{Type: i.Type, Source: i.Source})
	}
	return out
}

// sourceLabel marks the EventTypes a source recorded.
const sourceLabel = "sources.eddy.dev/source"

// recordEventTypes makes an EventType object for each kind of event the source produces,
// so that `eddy get eventtypes` says which events exist, who sends them and what they carry.
func (s *Sources) recordEventTypes(ctx context.Context, owner metav1.Object, kind string, infos []eddysources.EventTypeInfo) {
	label := strings.ToLower(kind) + "." + owner.GetName()
	for _, info := range infos {
		h := sha256.Sum256([]byte(info.Type + "\x00" + info.Source))
		name := fmt.Sprintf("%s-%s-%s", strings.ToLower(kind), owner.GetName(), hex.EncodeToString(h[:4]))
		if len(name) > 253 {
			name = name[:253]
		}
		et := &eventing.EventType{}
		if err := s.cfg.Client.Get(ctx, owner.GetNamespace(), name, et); err == nil || !apierrors.IsNotFound(err) {
			continue
		}
		t := true
		et = &eventing.EventType{
			ObjectMeta: metav1.ObjectMeta{Namespace: owner.GetNamespace(), Name: name, Labels: map[string]string{sourceLabel: label},
				OwnerReferences: []metav1.OwnerReference{{APIVersion: sources.Group + "/" + versionOf(kind), Kind: kind, Name: owner.GetName(), UID: owner.GetUID(), Controller: &t}}},
			Spec: eventing.EventTypeSpec{Type: info.Type, Source: info.Source, Schema: info.Schema, Description: info.Description,
				Reference: &duck.KReference{APIVersion: sources.Group + "/" + versionOf(kind), Kind: kind, Name: owner.GetName(), Namespace: owner.GetNamespace()}},
		}
		if err := s.cfg.Client.Create(ctx, et); err != nil && !apierrors.IsAlreadyExists(err) {
			s.log.Warn("recording an event type", "type", info.Type, "err", err)
		}
	}
}

// forgetEventTypes deletes the EventTypes a deleted source recorded.
func (s *Sources) forgetEventTypes(ctx context.Context, ns, kind, name string) {
	items, err := s.cfg.Client.Store().List(ctx, schema.GroupResource{Group: eventing.Group, Resource: "eventtypes"}, ns,
		store.ListOptions{LabelSelector: labels.SelectorFromSet(labels.Set{sourceLabel: strings.ToLower(kind) + "." + name})})
	if err != nil {
		return
	}
	for _, it := range items.Items {
		et := &eventing.EventType{ObjectMeta: metav1.ObjectMeta{Namespace: it.GetNamespace(), Name: it.GetName()}}
		if err := s.cfg.Client.Delete(ctx, et); err != nil && !apierrors.IsNotFound(err) {
			s.log.Warn("deleting an event type", "name", it.GetName(), "err", err)
		}
	}
}

// versionOf is the storage version of a source kind.
func versionOf(kind string) string {
	switch kind {
	case "GitHubSource":
		return "v1alpha1"
	case "KafkaSource":
		return "v1beta1"
	}
	return "v1"
}
