package api

import (
	"encoding/json"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Object is any Eddy resource: a Go struct that embeds metav1.TypeMeta and metav1.ObjectMeta.
// Pointers to such structs satisfy it without further code.
type Object interface {
	metav1.Object
	GetObjectKind() schema.ObjectKind
}

// StatusObject is an Object whose status carries Knative-style conditions.
type StatusObject interface {
	Object
	// GetStatus returns a pointer to the object's duck-typed status, for condition helpers.
	GetStatus() *Status
}

// GVK returns the object's group, version and kind as written in its apiVersion and kind.
func GVK(obj Object) schema.GroupVersionKind {
	return obj.GetObjectKind().GroupVersionKind()
}

// ToUnstructured converts a typed object into the unstructured form the store keeps.
func ToUnstructured(obj Object) (*unstructured.Unstructured, error) {
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("encoding %T: %w", obj, err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(data); err != nil {
		return nil, fmt.Errorf("encoding %T: %w", obj, err)
	}
	return u, nil
}

// FromUnstructured fills the typed object into from u. Unknown fields are ignored: the store
// only holds objects that were validated on the way in.
func FromUnstructured(u *unstructured.Unstructured, into Object) error {
	data, err := u.MarshalJSON()
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, into); err != nil {
		return fmt.Errorf("decoding %s %s/%s into %T: %w", u.GetKind(), u.GetNamespace(), u.GetName(), into, err)
	}
	return nil
}

// Key returns "namespace/name", or "name" for cluster-scoped objects: the work-queue key of an
// object, as client-go's MetaNamespaceKeyFunc makes it.
func Key(obj metav1.Object) string {
	if ns := obj.GetNamespace(); ns != "" {
		return ns + "/" + obj.GetName()
	}
	return obj.GetName()
}
