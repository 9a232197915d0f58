package apiserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	sourcesv1 "github.com/eddyplatform/eddy/api/sources"
)

// op is the kind of change an event reports.
type op int

const (
	opAdd op = iota
	opUpdate
	opDelete
)

// eventType returns the CloudEvents type of a change in a mode.
func eventType(o op, ref bool) string {
	switch {
	case o == opAdd && ref:
		return sourcesv1.ApiServerSourceAddRefEventType
	case o == opUpdate && ref:
		return sourcesv1.ApiServerSourceUpdateRefEventType
	case o == opDelete && ref:
		return sourcesv1.ApiServerSourceDeleteRefEventType
	case o == opAdd:
		return sourcesv1.ApiServerSourceAddEventType
	case o == opUpdate:
		return sourcesv1.ApiServerSourceUpdateEventType
	default:
		return sourcesv1.ApiServerSourceDeleteEventType
	}
}

// makeEvent builds the event of a change to obj, seen at now, from the API server at source:
// Knative's attributes and extensions, with the object's reference (ref) or the object as
// data.
func makeEvent(source string, o op, ref bool, obj *unstructured.Unstructured, now time.Time) (event.Event, error) {
	if obj == nil {
		return event.Event{}, errors.New("no object")
	}
	apiVersion, kind := obj.GetAPIVersion(), obj.GetKind()
	name, namespace := obj.GetName(), obj.GetNamespace()
	if kind == "" || apiVersion == "" || name == "" {
		return event.Event{}, fmt.Errorf("object %s/%s lacks apiVersion, kind or name", namespace, name)
	}
	var data []byte
	var err error
	if ref {
		data, err = json.Marshal(corev1.ObjectReference{APIVersion: apiVersion, Kind: kind, Name: name, Namespace: namespace})
	} else {
		data, err = json.Marshal(obj)
	}
	if err != nil {
		return event.Event{}, fmt.Errorf("encoding %s %s/%s: %w", kind, namespace, name, err)
	}

	ev := event.New(event.CloudEventsVersionV1)
	ev.SetID(uuid.NewString())
	ev.SetType(eventType(o, ref))
	ev.SetSource(source)
	ev.SetSubject(selfLink(apiVersion, kind, namespace, name))
	ev.SetTime(now)
	// Copied so that Triggers can filter on them, as Knative does.
	ev.SetExtension("kind", kind)
	ev.SetExtension("name", name)
	ev.SetExtension("namespace", namespace)
	ev.SetExtension("apiversion", apiVersion)
	if err := ev.SetData(event.ApplicationJSON, data); err != nil {
		return event.Event{}, err
	}
	if err := ev.Validate(); err != nil {
		return event.Event{}, fmt.Errorf("event of %s %s/%s: %w", kind, namespace, name, err)
	}
	return ev, nil
}

// selfLink is Knative's createSelfLink: /apis/<apiVersion>/namespaces/<namespace>/<plural>/<name>
// with the plural guessed from the kind, "/apis/v1/..." for core objects, and an apiVersion
// that is a bare group (a dot, no slash) completed with "/versionUnknown".
func selfLink(apiVersion, kind, namespace, name string) string {
	gv, _ := schema.ParseGroupVersion(apiVersion)
	plural, _ := meta.UnsafeGuessKindToResource(gv.WithKind(kind))
	v := apiVersion
	if strings.Contains(v, ".") && !strings.Contains(v, "/") {
		v += "/versionUnknown"
	}
	return fmt.Sprintf("/apis/%s/namespaces/%s/%s/%s", v, namespace, plural.Resource, name)
}
