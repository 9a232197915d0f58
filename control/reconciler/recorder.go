package reconciler

import (
	"context"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"github.com/eddyplatform/eddy/api"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
)

// Event types, as Kubernetes names them.
const (
	EventNormal  = corev1.EventTypeNormal  // something happened as it should
	EventWarning = corev1.EventTypeWarning // something went wrong, or may need the user's attention
)

// maxEventMessage bounds an event's message, as Kubernetes does.
const maxEventMessage = 1024

// Recorder records core/v1 Events about objects: what happened to an object and why, as
// `eddy describe` shows it. An event of the same type, reason and message about the same
// object as an earlier one is not stored again: the earlier event's count goes up by one and
// its lastTimestamp moves to now.
//
// Recording is synchronous and best effort: a failure is logged, never returned, so that a
// reconcile does not fail for want of an event. Messages are shown to users: never put a
// Secret's values in one. A Recorder is safe for concurrent use.
type Recorder struct {
	client    *Client
	component string
	// Now stamps events; tests may replace it before first use.
	Now func() time.Time
}

// NewRecorder returns a Recorder that writes events through c, naming component (usually the
// controller's name) as their source.
func NewRecorder(c *Client, component string) *Recorder {
	return &Recorder{client: c, component: component, Now: time.Now}
}

// Event records an event of eventType (EventNormal or EventWarning) about obj. reason is a
// short CamelCase word saying why (such as "Created" or "SyncFailed"); message says what
// happened, for people. ctx bounds the store writes.
func (r *Recorder) Event(ctx context.Context, obj api.Object, eventType, reason, message string) {
	if err := r.record(ctx, obj, eventType, reason, message); err != nil {
		LoggerFrom(ctx).Warn("recording event", "err", err, "reason", reason,
			"object", obj.GetNamespace()+"/"+obj.GetName())
	}
}

// Eventf is Event with a formatted message.
func (r *Recorder) Eventf(ctx context.Context, obj api.Object, eventType, reason, format string, args ...any) {
	r.Event(ctx, obj, eventType, reason, fmt.Sprintf(format, args...))
}

func (r *Recorder) record(ctx context.Context, obj api.Object, eventType, reason, message string) error {
	k, err := r.client.Registry().ForObject(obj)
	if err != nil {
		return err
	}
	if len(message) > maxEventMessage {
		message = message[:maxEventMessage-3] + "..."
	}
	gvk := k.StorageGVK()
	ref := corev1.ObjectReference{
		APIVersion: gvk.GroupVersion().String(), Kind: gvk.Kind,
		Namespace: obj.GetNamespace(), Name: obj.GetName(), UID: obj.GetUID(),
	}
	ns := ref.Namespace
	if ns == "" {
		ns = metav1.NamespaceDefault // events about cluster-scoped objects, as Kubernetes keeps them
	}
	name := eventName(ref, eventType, reason, message)
	// Two writers may race to create or bump the same event: retry on either outcome.
	retriable := func(err error) bool { return apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) }
	return retry.OnError(retry.DefaultRetry, retriable, func() error {
		now := metav1.NewTime(r.Now())
		ev := &corev1.Event{}
		err := r.client.Get(ctx, ns, name, ev)
		switch {
		case err == nil:
			ev.Count++
			ev.LastTimestamp = now
			return r.client.Update(ctx, ev)
		case apierrors.IsNotFound(err):
			ev = &corev1.Event{
				ObjectMeta:          metav1.ObjectMeta{Namespace: ns, Name: name},
				InvolvedObject:      ref,
				Type:                eventType,
				Reason:              reason,
				Message:             message,
				Source:              corev1.EventSource{Component: r.component},
				ReportingController: r.component,
				FirstTimestamp:      now,
				LastTimestamp:       now,
				Count:               1,
			}
			return r.client.Create(ctx, ev)
		default:
			return err
		}
	})
}

// eventName names the event of one type, reason and message about one object:
// "<object name>.<hash>", so that a repeat finds the event to bump, also after a restart.
func eventName(ref corev1.ObjectReference, eventType, reason, message string) string {
	h := fnv.New64a()
	for _, s := range []string{ref.APIVersion, ref.Kind, ref.Namespace, ref.Name, string(ref.UID), eventType, reason, message} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	prefix := ref.Name
	if max := 253 - 17; len(prefix) > max {
		prefix = strings.TrimRight(prefix[:max], ".-")
	}
	return fmt.Sprintf("%s.%016x", prefix, h.Sum64())
}
