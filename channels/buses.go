package channels

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"

	"github.com/eddyplatform/eddy/api/messaging"
	"github.com/eddyplatform/eddy/api/messaging/channelsv1alpha1"
	"github.com/eddyplatform/eddy/bus"
	"github.com/eddyplatform/eddy/control/reconciler"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// BackendSpec is what a Backend opens a bus from: a Bus's or ClusterBus's settings.
type BackendSpec struct {
	// ID names the bus uniquely in this Eddy ("Bus/NAMESPACE/NAME" or "ClusterBus/NAME"), for
	// backends that keep local state per bus (the stub bus's directory).
	ID string
	// Config is the bus's spec.config: plain settings, never credentials.
	Config map[string]string
	// Secret is the data of the Secret spec.secretRef names; nil if it names none.
	Secret map[string][]byte
	// Logger is the bus's logger. It must never be given the secret.
	Logger *slog.Logger
}

// Backend opens a bus of one type. The bus it returns is closed by Buses when the Bus or
// ClusterBus changes, is deleted, or Eddy stops.
type Backend func(ctx context.Context, spec BackendSpec) (bus.Bus, error)

// Buses is the BusProvider of a running Eddy: it opens the buses that Bus and ClusterBus
// objects describe (through the Backend of their spec.type, with the credentials of their
// spec.secretRef) and hands out the built-in buses for bare names ("stub", "default"). An
// opened bus is kept while its object's spec and secret stay the same; a change opens a new
// one and closes the old. It is safe for concurrent use.
type Buses struct {
	// Backends open buses by type. A Bus whose type has no backend is reported unavailable.
	Backends map[messaging.BusType]Backend
	// Builtin are the buses a bare name refers to when no ClusterBus has that name: the
	// default bus under messaging.DefaultBusName and the stub bus under "stub" at least. They
	// belong to the caller, which closes them.
	Builtin map[string]bus.Bus
	// Client reads Bus, ClusterBus and Secret objects. Required.
	Client *reconciler.Client
	// Logger defaults to slog.Default().
	Logger *slog.Logger

	mu   sync.Mutex
	open map[string]*openBus
}

// openBus is a bus opened from an object, and the fingerprint of what it was opened from.
type openBus struct {
	fingerprint string
	bus         bus.Bus
}

var _ BusProvider = (*Buses)(nil)

// ErrBusNotFound is wrapped by Bus when the named Bus or ClusterBus does not exist.
var ErrBusNotFound = errors.New("bus not found")

// Bus implements BusProvider.
func (b *Buses) Bus(ctx context.Context, namespace string, ref messaging.BusRef) (bus.Bus, error) {
	switch ref.Kind {
	case messaging.KindBus:
		obj := &channelsv1alpha1.Bus{}
		if err := b.Client.Get(ctx, namespace, ref.Name, obj); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, fmt.Errorf("%w: Bus %s/%s does not exist", ErrBusNotFound, namespace, ref.Name)
			}
			return nil, err
		}
		return b.openSpec(ctx, busID(obj.Namespace, obj.Name), obj.Namespace, &obj.Spec)
	case messaging.KindClusterBus:
		return b.clusterBus(ctx, ref.Name)
	}
	cb, err := b.clusterBus(ctx, ref.Name)
	if !errors.Is(err, ErrBusNotFound) {
		return cb, err
	}
	if bi, ok := b.Builtin[ref.Name]; ok {
		return bi, nil
	}
	var have []string
	for n := range b.Builtin {
		have = append(have, n)
	}
	sort.Strings(have)
	return nil, fmt.Errorf("%w: no ClusterBus %q, and %q is not a built-in bus of this Eddy (built in: %s)",
		ErrBusNotFound, ref.Name, ref.Name, strings.Join(have, ", "))
}

func (b *Buses) clusterBus(ctx context.Context, name string) (bus.Bus, error) {
	obj := &channelsv1alpha1.ClusterBus{}
	if err := b.Client.Get(ctx, "", name, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("%w: ClusterBus %s does not exist", ErrBusNotFound, name)
		}
		return nil, err
	}
	return b.openSpec(ctx, busID("", obj.Name), "", &obj.Spec)
}

// busID names the bus of a Bus (namespace set) or ClusterBus.
func busID(namespace, name string) string {
	if namespace == "" {
		return "ClusterBus/" + name
	}
	return "Bus/" + namespace + "/" + name
}

// openSpec returns the bus of id, opening it (again) if its spec or secret changed.
func (b *Buses) openSpec(ctx context.Context, id, namespace string, spec *channelsv1alpha1.BusSpec) (bus.Bus, error) {
	secret, secretVersion, err := b.readSecret(ctx, namespace, spec.SecretRef)
	if err != nil {
		return nil, err
	}
	fp := fingerprint(spec, secretVersion)
	b.mu.Lock()
	defer b.mu.Unlock()
	if o, ok := b.open[id]; ok && o.fingerprint == fp {
		return o.bus, nil
	}
	backend, ok := b.Backends[spec.Type]
	if !ok {
		var have []string
		for t := range b.Backends {
			have = append(have, string(t))
		}
		sort.Strings(have)
		return nil, fmt.Errorf("%s: bus type %q is not available in this Eddy (available: %s)", id, spec.Type, strings.Join(have, ", "))
	}
	opened, err := backend(ctx, BackendSpec{ID: id, Config: spec.Config, Secret: secret, Logger: b.logger().With("bus", id)})
	if err != nil {
		return nil, fmt.Errorf("%s: opening the %s bus: %w", id, spec.Type, err)
	}
	if b.open == nil {
		b.open = map[string]*openBus{}
	}
	if old, ok := b.open[id]; ok {
		b.logger().Info("bus settings changed: reopened", "bus", id)
		go old.bus.Close()
	}
	b.open[id] = &openBus{fingerprint: fp, bus: opened}
	return opened, nil
}

// readSecret returns the data of the Secret ref names and a version that changes with it.
func (b *Buses) readSecret(ctx context.Context, namespace string, ref *corev1.SecretReference) (map[string][]byte, string, error) {
	if ref == nil {
		return nil, "", nil
	}
	ns := ref.Namespace
	if ns == "" {
		ns = namespace
	}
	s := &corev1.Secret{}
	if err := b.Client.Get(ctx, ns, ref.Name, s); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, "", fmt.Errorf("the bus's secret %s/%s does not exist", ns, ref.Name)
		}
		return nil, "", err
	}
	data := map[string][]byte{}
	for k, v := range s.Data {
		data[k] = v
	}
	for k, v := range s.StringData {
		data[k] = []byte(v)
	}
	return data, string(s.UID) + "/" + s.ResourceVersion, nil
}

// fingerprint identifies what a bus was opened from, without holding the secret itself.
func fingerprint(spec *channelsv1alpha1.BusSpec, secretVersion string) string {
	raw, _ := json.Marshal(struct {
		Type   messaging.BusType
		Config map[string]string
		Secret string
	}{spec.Type, spec.Config, secretVersion})
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}

// Forget closes the bus opened for the Bus (namespace set) or ClusterBus name, if any.
func (b *Buses) Forget(namespace, name string) {
	id := busID(namespace, name)
	b.mu.Lock()
	o, ok := b.open[id]
	delete(b.open, id)
	b.mu.Unlock()
	if ok {
		if err := o.bus.Close(); err != nil {
			b.logger().Warn("closing a bus", "bus", id, "err", err)
		}
	}
}

// Close closes every bus opened from an object (not the built-in ones).
func (b *Buses) Close() error {
	b.mu.Lock()
	open := b.open
	b.open = nil
	b.mu.Unlock()
	var errs []error
	for _, o := range open {
		errs = append(errs, o.bus.Close())
	}
	return errors.Join(errs...)
}

func (b *Buses) logger() *slog.Logger {
	if b.Logger == nil {
		return slog.Default()
	}
	return b.Logger
}
