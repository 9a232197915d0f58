package channels

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"

	"github.com/eddyplatform/eddy/api/messaging"
	"github.com/eddyplatform/eddy/bus"
	"github.com/eddyplatform/eddy/channels/ingress"
	"github.com/eddyplatform/eddy/dispatcher"
	"k8s.io/apimachinery/pkg/types"
)

// BusProvider hands out the bus a Channel or Broker runs on.
type BusProvider interface {
	// Bus returns the bus ref names for an object in namespace, or an error that says why it
	// is not available.
	Bus(ctx context.Context, namespace string, ref messaging.BusRef) (bus.Bus, error)
}

// StaticBuses is a BusProvider of built-in buses by type name ("stub", …), with no Bus or
// ClusterBus objects consulted.
type StaticBuses map[string]bus.Bus

// Bus implements BusProvider.
func (s StaticBuses) Bus(_ context.Context, _ string, ref messaging.BusRef) (bus.Bus, error) {
	if ref.Kind == "" {
		if b, ok := s[ref.Name]; ok {
			return b, nil
		}
	}
	var have []string
	for n := range s {
		have = append(have, n)
	}
	sort.Strings(have)
	return nil, fmt.Errorf("bus %s is not configured in this Eddy (available: %s)", ref, strings.Join(have, ", "))
}

// DataPlane is the running state the eventing reconcilers drive: which topic each addressable
// object's ingress path publishes to, and which dispatcher consumers run. It implements
// ingress.Resolver. It is safe for concurrent use.
type DataPlane struct {
	// IngressURL is the base URL of the data plane's port, such as http://127.0.0.1:8080.
	IngressURL string

	dispatcher *dispatcher.Dispatcher
	buses      BusProvider
	ctx        context.Context
	log        *slog.Logger

	mu        sync.RWMutex
	targets   map[string]ingress.Target
	consumers map[string]*running
}

// running is one dispatcher consumer and where it reads.
type running struct {
	consumer *dispatcher.Consumer
	bus      bus.Bus
	topic    string
	group    string
}

// NewDataPlane returns a DataPlane. ctx bounds every consumer it starts.
func NewDataPlane(ctx context.Context, ingressURL string, d *dispatcher.Dispatcher, buses BusProvider, log *slog.Logger) *DataPlane {
	if log == nil {
		log = slog.Default()
	}
	return &DataPlane{
		IngressURL: strings.TrimSuffix(ingressURL, "/"), dispatcher: d, buses: buses, ctx: ctx, log: log,
		targets: map[string]ingress.Target{}, consumers: map[string]*running{},
	}
}

// Buses returns the provider of buses.
func (d *DataPlane) Buses() BusProvider { return d.buses }

func targetKey(plural, namespace, name string) string { return plural + "/" + namespace + "/" + name }

// Address is the ingress URL of an addressable object.
func (d *DataPlane) Address(plural, namespace, name string) string {
	return d.IngressURL + "/" + targetKey(plural, namespace, name)
}

// Resolve implements ingress.Resolver.
func (d *DataPlane) Resolve(plural, namespace, name string) (ingress.Target, bool) {
	d.mu.RLock()
	t, ok := d.targets[targetKey(plural, namespace, name)]
	d.mu.RUnlock()
	return t, ok
}

// SetTarget routes an object's ingress path to a topic.
func (d *DataPlane) SetTarget(plural, namespace, name string, t ingress.Target) {
	d.mu.Lock()
	d.targets[targetKey(plural, namespace, name)] = t
	d.mu.Unlock()
}

// RemoveTarget stops routing an object's ingress path.
func (d *DataPlane) RemoveTarget(plural, namespace, name string) {
	d.mu.Lock()
	delete(d.targets, targetKey(plural, namespace, name))
	d.mu.Unlock()
}

// Ensure makes the consumer named key run on topic and group of b for s: it starts one, updates
// a running one in place, or replaces it when the topic, the group or a fixed field changed.
func (d *DataPlane) Ensure(key string, b bus.Bus, topic, group string, s dispatcher.Subscriber) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if r, ok := d.consumers[key]; ok {
		if r.bus == b && r.topic == topic && r.group == group {
			err := r.consumer.Update(s)
			if err == nil {
				return nil
			}
			if !errors.Is(err, dispatcher.ErrNotLive) {
				return err
			}
		}
		r.consumer.Stop(d.ctx)
		delete(d.consumers, key)
	}
	c, err := d.dispatcher.Start(d.ctx, b, topic, group, s)
	if err != nil {
		return err
	}
	d.consumers[key] = &running{consumer: c, bus: b, topic: topic, group: group}
	return nil
}

// Stop stops the consumer named key, if any. With forget, its consumer group is deleted from
// the bus too (where the bus can), so a deleted subscription leaves nothing behind.
func (d *DataPlane) Stop(ctx context.Context, key string, forget bool) {
	d.mu.Lock()
	r, ok := d.consumers[key]
	delete(d.consumers, key)
	d.mu.Unlock()
	if !ok {
		return
	}
	if err := r.consumer.Stop(ctx); err != nil {
		d.log.Warn("stopping a consumer", "key", key, "err", err)
	}
	if gd, can := r.bus.(bus.GroupDeleter); forget && can {
		if err := gd.DeleteGroup(ctx, r.topic, r.group); err != nil {
			d.log.Warn("deleting a consumer group", "topic", r.topic, "group", r.group, "err", err)
		}
	}
}

// Keys returns the keys of the running consumers that start with prefix.
func (d *DataPlane) Keys(prefix string) []string {
	d.mu.RLock()
	defer d.mu.RUnlock()
	var out []string
	for k := range d.consumers {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	return out
}

// Running reports whether the consumer named key runs, and its error if it ended.
func (d *DataPlane) Running(key string) (bool, error) {
	d.mu.RLock()
	r, ok := d.consumers[key]
	d.mu.RUnlock()
	if !ok {
		return false, nil
	}
	select {
	case <-r.consumer.Done():
		return false, r.consumer.Err()
	default:
		return true, nil
	}
}

// Topic names the bus topic of an object: readable, unique per object incarnation (the uid
// keeps a recreated object from seeing its predecessor's events), within bus name rules.
func Topic(kind, namespace, name string, uid types.UID) string {
	base := kind + "." + namespace + "." + name
	if len(base) > 150 {
		base = base[:150]
	}
	u := strings.ReplaceAll(string(uid), "-", "")
	if len(u) > 12 {
		u = u[:12]
	}
	return base + "." + u
}

// Group names the consumer group of a Subscription or Trigger.
func Group(kind string, uid types.UID) string { return kind + "." + string(uid) }
