package channels

import (
	"context"
	"log/slog"
	"net/url"
	"time"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/duck"
	"github.com/eddyplatform/eddy/api/eventing"
	"github.com/eddyplatform/eddy/api/flows"
	"github.com/eddyplatform/eddy/api/messaging"
	"github.com/eddyplatform/eddy/api/messaging/channelsv1alpha1"
	"github.com/eddyplatform/eddy/control/reconciler"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
)

// requeueUnavailable is how soon an object whose bus is unavailable is looked at again.
const requeueUnavailable = 10 * time.Second

// Config is what the eventing controllers share.
type Config struct {
	// Client reads and writes objects. Required.
	Client *reconciler.Client
	// Cache feeds the controllers' informers. Required.
	Cache *reconciler.Cache
	// DataPlane is driven by the controllers. Required.
	DataPlane *DataPlane
	// Metrics receives the controllers' metrics; nil for none.
	Metrics prometheus.Registerer
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Reconcilers holds what every eventing reconciler uses.
type Reconcilers struct {
	Client       *reconciler.Client
	DataPlane    *DataPlane
	Destinations *Destinations

	channels      *reconciler.Lister[*messaging.Channel]
	imcs          *reconciler.Lister[*messaging.InMemoryChannel]
	subscriptions *reconciler.Lister[*messaging.Subscription]
	brokers       *reconciler.Lister[*eventing.Broker]
	triggers      *reconciler.Lister[*eventing.Trigger]

	legacyChannels      *reconciler.Lister[*channelsv1alpha1.Channel]
	legacySubscriptions *reconciler.Lister[*channelsv1alpha1.Subscription]
	nsBuses             *reconciler.Lister[*channelsv1alpha1.Bus]
	clusterBuses        *reconciler.Lister[*channelsv1alpha1.ClusterBus]
}

// resolveDLS resolves a delivery spec's dead-letter sink; nil when there is none.
func (r *Reconcilers) resolveDLS(ctx context.Context, ns string, d *duck.DeliverySpec) (*url.URL, error) {
	if d == nil || d.DeadLetterSink.IsEmpty() {
		return nil, nil
	}
	return r.Destinations.URI(ctx, ns, d.DeadLetterSink)
}

// dropTopic stops an addressable object's ingress path and deletes its topic.
func (r *Reconcilers) dropTopic(ctx context.Context, plural, ns, name string) {
	t, ok := r.DataPlane.Resolve(plural, ns, name)
	if !ok {
		return
	}
	r.DataPlane.RemoveTarget(plural, ns, name)
	if err := t.Bus.DeleteTopic(ctx, t.Topic); err != nil {
		r.DataPlane.log.Warn("deleting a topic", "topic", t.Topic, "err", err)
	}
}

// NewControllers returns the controllers of Channel, InMemoryChannel, Subscription, Broker,
// Trigger, Sequence and Parallel, of the 2018 channels.knative.dev Channel and Subscription,
// and of Bus and ClusterBus. Run each of them.
func NewControllers(cfg Config) ([]*reconciler.Controller, error) {
	r := &Reconcilers{
		Client: cfg.Client, DataPlane: cfg.DataPlane,
		Destinations: &Destinations{Store: cfg.Client.Store(), Registry: cfg.Client.Registry()},
	}
	var err error
	if r.channels, err = reconciler.NewLister[*messaging.Channel](cfg.Cache); err != nil {
		return nil, err
	}
	if r.imcs, err = reconciler.NewLister[*messaging.InMemoryChannel](cfg.Cache); err != nil {
		return nil, err
	}
	if r.subscriptions, err = reconciler.NewLister[*messaging.Subscription](cfg.Cache); err != nil {
		return nil, err
	}
	if r.brokers, err = reconciler.NewLister[*eventing.Broker](cfg.Cache); err != nil {
		return nil, err
	}
	if r.triggers, err = reconciler.NewLister[*eventing.Trigger](cfg.Cache); err != nil {
		return nil, err
	}
	if r.legacyChannels, err = reconciler.NewLister[*channelsv1alpha1.Channel](cfg.Cache); err != nil {
		return nil, err
	}
	if r.legacySubscriptions, err = reconciler.NewLister[*channelsv1alpha1.Subscription](cfg.Cache); err != nil {
		return nil, err
	}
	if r.nsBuses, err = reconciler.NewLister[*channelsv1alpha1.Bus](cfg.Cache); err != nil {
		return nil, err
	}
	if r.clusterBuses, err = reconciler.NewLister[*channelsv1alpha1.ClusterBus](cfg.Cache); err != nil {
		return nil, err
	}
	opts := func(name string, obj api.Object, rec reconciler.Reconciler) reconciler.Options {
		return reconciler.Options{Name: name, For: obj, Reconciler: rec, Cache: cfg.Cache, Metrics: cfg.Metrics, Logger: cfg.Logger}
	}
	type watch = func(*reconciler.Controller) error
	channelBuses := watchBuses(r.channels, (*messaging.Channel).Bus)
	imcBuses := watchBuses(r.imcs, (*messaging.InMemoryChannel).Bus)
	brokerBuses := watchBuses(r.brokers, (*eventing.Broker).Bus)
	legacyBuses := watchBuses(r.legacyChannels, (*channelsv1alpha1.Channel).BusRef)
	subs := &subscriptionReconciler{r}
	channels := &channelReconciler{Reconcilers: r, plural: "channels"}
	legacy := &channelReconciler{Reconcilers: r, plural: LegacyChannelPlural}
	var out []*reconciler.Controller
	add := func(o reconciler.Options, watches ...func(*reconciler.Controller) error) error {
		c, err := reconciler.NewController(o)
		if err != nil {
			return err
		}
		for _, w := range watches {
			if err := w(c); err != nil {
				return err
			}
		}
		out = append(out, c)
		return nil
	}
	for _, o := range []struct {
		opts    reconciler.Options
		watches []func(*reconciler.Controller) error
	}{
		{opts("channel", &messaging.Channel{}, channels), []watch{channelBuses}},
		{opts("inmemorychannel", &messaging.InMemoryChannel{}, &channelReconciler{Reconcilers: r, plural: "inmemorychannels"}), []watch{imcBuses}},
		{opts("subscription", &messaging.Subscription{}, subs), []watch{r.watchAddressables(r.subscriptionsReferring)}},
		{opts("broker", &eventing.Broker{}, &brokerReconciler{r}), []watch{brokerBuses}},
		{opts("trigger", &eventing.Trigger{}, &triggerReconciler{r}), []func(*reconciler.Controller) error{r.watchAddressables(r.triggersReferring)}},
		{opts("sequence", &flows.Sequence{}, &sequenceReconciler{r}), []func(*reconciler.Controller) error{watchOwned(&flows.Sequence{})}},
		{opts("parallel", &flows.Parallel{}, &parallelReconciler{r}), []func(*reconciler.Controller) error{watchOwned(&flows.Parallel{})}},
		{opts("channel.channels.knative.dev", &channelsv1alpha1.Channel{}, &legacyChannelReconciler{legacy}), []watch{legacyBuses,
			func(c *reconciler.Controller) error {
				return c.Watch(&channelsv1alpha1.Subscription{}, mapToLegacyChannel)
			}}},
		{opts("subscription.channels.knative.dev", &channelsv1alpha1.Subscription{}, &legacySubscriptionReconciler{subs}), []watch{
			func(c *reconciler.Controller) error {
				return c.Watch(&channelsv1alpha1.Channel{}, r.legacySubscriptionsOf)
			}}},
		{opts("eventtype", &eventing.EventType{}, &eventTypeReconciler{r}), nil},
		{opts("bus", &channelsv1alpha1.Bus{}, &busReconciler{Reconcilers: r}), []watch{
			func(c *reconciler.Controller) error { return c.Watch(&corev1.Secret{}, r.busesOfSecret(false)) }}},
		{opts("clusterbus", &channelsv1alpha1.ClusterBus{}, &busReconciler{Reconcilers: r, cluster: true}), []watch{
			func(c *reconciler.Controller) error { return c.Watch(&corev1.Secret{}, r.busesOfSecret(true)) }}},
	} {
		if err := add(o.opts, o.watches...); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// watchAddressables re-enqueues the objects that refer (by channel, broker or destination ref)
// to a Channel, InMemoryChannel or Broker when it changes: its address or readiness may be
// what they were waiting for.
func (r *Reconcilers) watchAddressables(referring func(kind, ns, name string) []string) func(*reconciler.Controller) error {
	return func(c *reconciler.Controller) error {
		m := func(kind string) reconciler.MapFunc {
			return func(u *unstructured.Unstructured) []string { return referring(kind, u.GetNamespace(), u.GetName()) }
		}
		if err := c.Watch(&messaging.Channel{}, m("Channel")); err != nil {
			return err
		}
		if err := c.Watch(&messaging.InMemoryChannel{}, m("InMemoryChannel")); err != nil {
			return err
		}
		return c.Watch(&eventing.Broker{}, m("Broker"))
	}
}

func refersTo(d *duck.Destination, kind, ns, name string) bool {
	return d != nil && d.Ref != nil && d.Ref.Kind == kind && d.Ref.Name == name && (d.Ref.Namespace == "" || d.Ref.Namespace == ns)
}

func deliveryRefersTo(d *duck.DeliverySpec, kind, ns, name string) bool {
	return d != nil && refersTo(d.DeadLetterSink, kind, ns, name)
}

// subscriptionsReferring lists the subscriptions of namespace whose channel or destinations
// name the object.
func (r *Reconcilers) subscriptionsReferring(kind, ns, name string) []string {
	subs, _ := r.subscriptions.List(ns, labels.Everything())
	var keys []string
	for _, s := range subs {
		if s.Spec.Channel.Kind == kind && s.Spec.Channel.Name == name ||
			refersTo(s.Spec.Subscriber, kind, ns, name) || refersTo(s.Spec.Reply, kind, ns, name) ||
			deliveryRefersTo(s.Spec.Delivery, kind, ns, name) {
			keys = append(keys, ns+"/"+s.Name)
		}
	}
	return keys
}

// triggersReferring lists the triggers of namespace whose broker or destinations name the
// object.
func (r *Reconcilers) triggersReferring(kind, ns, name string) []string {
	ts, _ := r.triggers.List(ns, labels.Everything())
	var keys []string
	for _, t := range ts {
		if kind == "Broker" && t.Spec.Broker == name ||
			refersTo(&t.Spec.Subscriber, kind, ns, name) || deliveryRefersTo(t.Spec.Delivery, kind, ns, name) {
			keys = append(keys, ns+"/"+t.Name)
		}
	}
	return keys
}
