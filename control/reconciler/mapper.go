package reconciler

import (
	"github.com/eddyplatform/eddy/api"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// MapFunc maps a changed object of a watched kind to the keys ("namespace/name") of the
// primary objects to reconcile. obj is the cache's shared copy: it must not be modified
// (convert it with api.FromUnstructured to read it typed). For a deleted object it is the
// object's last known state. MapFunc is called from the cache's goroutines and must not
// block.
type MapFunc func(obj *unstructured.Unstructured) []string

// MapToOwner returns a MapFunc that follows obj's controller owner reference (the one with
// controller: true) to the key of its owner, when the owner is of kind owner; other objects
// map to nothing. An owner of a namespaced kind is in obj's namespace, as Kubernetes requires.
func MapToOwner(owner *api.Kind) MapFunc {
	gk := owner.GroupKind()
	return func(obj *unstructured.Unstructured) []string {
		ref := metav1.GetControllerOfNoCopy(obj)
		if ref == nil {
			return nil
		}
		gv, err := schema.ParseGroupVersion(ref.APIVersion)
		if err != nil || gv.Group != gk.Group || ref.Kind != gk.Kind {
			return nil
		}
		if owner.Namespaced && obj.GetNamespace() != "" {
			return []string{obj.GetNamespace() + "/" + ref.Name}
		}
		return []string{ref.Name}
	}
}
