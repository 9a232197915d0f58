package reconciler

import (
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/eddyplatform/eddy/api"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// newObject returns a new, empty T. T must be a pointer to a struct, such as *corev1.Secret.
func newObject[T api.Object]() (T, error) {
	var zero T
	t := reflect.TypeOf(zero)
	if t == nil || t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return zero, fmt.Errorf("reconciler: %v is not a pointer to a struct", t)
	}
	return reflect.New(t.Elem()).Interface().(T), nil
}

// decodeInto replaces everything in into with u's content. into is zeroed first, so that
// fields and map entries absent from u don't survive from an earlier use of into.
func decodeInto(u *unstructured.Unstructured, into api.Object) error {
	v := reflect.ValueOf(into)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return fmt.Errorf("reconciler: cannot decode into %T", into)
	}
	v.Elem().Set(reflect.Zero(v.Elem().Type()))
	return api.FromUnstructured(u, into)
}

// DeepCopy returns a deep copy of obj: by its DeepCopyObject method when it has one (every
// Kubernetes type does), else by a JSON round trip. Keep a copy of an object before changing
// it, to compare with afterwards (see Client.UpdateStatusIfChanged). It panics when obj can't be
// encoded as JSON, which no object the store can hold does.
func DeepCopy[T api.Object](obj T) T {
	if ro, ok := any(obj).(runtime.Object); ok {
		if c, ok := ro.DeepCopyObject().(T); ok {
			return c
		}
	}
	t := reflect.TypeOf(obj)
	if t == nil || t.Kind() != reflect.Pointer {
		panic(fmt.Sprintf("reconciler: cannot copy %T", obj))
	}
	out := reflect.New(t.Elem()).Interface().(T)
	data, err := json.Marshal(obj)
	if err != nil {
		panic(fmt.Sprintf("reconciler: copying %T: %v", obj, err))
	}
	if err := json.Unmarshal(data, out); err != nil {
		panic(fmt.Sprintf("reconciler: copying %T: %v", obj, err))
	}
	return out
}
