package channels

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"sync"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/eddyplatform/eddy/api/duck"
	"github.com/eddyplatform/eddy/api/eventing"
	"github.com/eddyplatform/eddy/control/reconciler"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// EventTypeRecorder records, as eventing.knative.dev EventType objects, every (type, source)
// pair a Broker sees, as Knative's broker does with its EventType auto-creation: so that
// `eddy get eventtypes` lists what flows through each broker. The ingress calls Observe for
// every accepted request; the objects are written in the background, each pair once.
type EventTypeRecorder struct {
	client *reconciler.Client
	log    *slog.Logger
	seen   sync.Map // key → struct{}
	queue  chan eventTypeKey
}

type eventTypeKey struct {
	namespace, broker, typ, source string
}

// NewEventTypeRecorder returns a recorder that writes through client until ctx ends.
func NewEventTypeRecorder(ctx context.Context, client *reconciler.Client, log *slog.Logger) *EventTypeRecorder {
	if log == nil {
		log = slog.Default()
	}
	r := &EventTypeRecorder{client: client, log: log, queue: make(chan eventTypeKey, 1024)}
	go r.run(ctx)
	return r
}

// Observe notes the events a broker accepted; other kinds are ignored. It never blocks: when
// the writer falls behind, a pair is recorded on a later sighting.
func (r *EventTypeRecorder) Observe(kind, namespace, name string, events []*event.Event) {
	if kind != "brokers" {
		return
	}
	for _, ev := range events {
		k := eventTypeKey{namespace, name, ev.Type(), ev.Source()}
		if _, dup := r.seen.LoadOrStore(k, struct{}{}); dup {
			continue
		}
		select {
		case r.queue <- k:
		default:
			r.seen.Delete(k)
		}
	}
}

func (r *EventTypeRecorder) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case k := <-r.queue:
			r.record(ctx, k)
		}
	}
}

// record writes the EventType of one pair, named after a hash of it.
func (r *EventTypeRecorder) record(ctx context.Context, k eventTypeKey) {
	sum := sha256.Sum256([]byte(k.broker + "\x00" + k.typ + "\x00" + k.source))
	name := "broker-" + k.broker
	if len(name) > 200 {
		name = name[:200]
	}
	name += "-" + hex.EncodeToString(sum[:6])
	if err := r.client.Get(ctx, k.namespace, name, &eventing.EventType{}); err == nil {
		return
	}
	et := &eventing.EventType{
		ObjectMeta: metav1.ObjectMeta{Namespace: k.namespace, Name: name, Labels: map[string]string{"eventing.knative.dev/broker": k.broker}},
		Spec: eventing.EventTypeSpec{Type: k.typ, Source: k.source, Broker: k.broker,
			Reference:   &duck.KReference{APIVersion: eventing.Group + "/v1", Kind: "Broker", Name: k.broker, Namespace: k.namespace},
			Description: "Seen at broker " + k.broker},
	}
	if err := r.client.Create(ctx, et); err != nil && !apierrors.IsAlreadyExists(err) {
		r.log.Warn("recording an event type", "broker", k.broker, "type", k.typ, "err", err)
		r.seen.Delete(k) // try again on a later sighting
	}
}
