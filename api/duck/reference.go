package duck

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// KReference names another object: Knative's trimmed-down ObjectReference.
type KReference struct {
	// Kind of the referent, such as "Service" or "Broker".
	Kind string `json:"kind"`
	// Namespace of the referent. Empty means the namespace of the object holding the
	// reference; defaulting fills it in.
	Namespace string `json:"namespace,omitempty"`
	// Name of the referent.
	Name string `json:"name"`
	// APIVersion of the referent, such as "serving.knative.dev/v1".
	APIVersion string `json:"apiVersion"`
	// Group of the referent, an alternative to APIVersion (Knative's experimental
	// kreference-group feature): the referent's storage version is meant.
	Group string `json:"group,omitempty"`
}

// GroupVersionKind returns the referent's group, version and kind. With Group set instead of
// APIVersion, the version is empty.
func (r *KReference) GroupVersionKind() schema.GroupVersionKind {
	if r.APIVersion == "" {
		return schema.GroupVersionKind{Group: r.Group, Kind: r.Kind}
	}
	gv, err := schema.ParseGroupVersion(r.APIVersion)
	if err != nil {
		return schema.GroupVersionKind{Kind: r.Kind}
	}
	return gv.WithKind(r.Kind)
}

// SetDefaults fills an empty namespace with the namespace of the object holding the reference.
func (r *KReference) SetDefaults(parentNamespace string) {
	if r != nil && r.Namespace == "" {
		r.Namespace = parentNamespace
	}
}

// Validate checks the reference at path p: kind, name and apiVersion (or group) are required,
// and a namespace, when parentNamespace is not empty, must be that namespace. Pass an empty
// parentNamespace where a reference may cross namespaces (a Broker's config and dead-letter
// sink, as Knative allows).
func (r *KReference) Validate(p *field.Path, parentNamespace string) field.ErrorList {
	var errs field.ErrorList
	if r == nil {
		return append(errs, field.Required(p, ""))
	}
	if r.Kind == "" {
		errs = append(errs, field.Required(p.Child("kind"), ""))
	}
	if r.Name == "" {
		errs = append(errs, field.Required(p.Child("name"), ""))
	} else {
		for _, msg := range validation.IsDNS1123Subdomain(r.Name) {
			errs = append(errs, field.Invalid(p.Child("name"), r.Name, msg))
		}
	}
	switch {
	case r.APIVersion == "" && r.Group == "":
		errs = append(errs, field.Required(p.Child("apiVersion"), ""))
	case r.APIVersion != "" && r.Group != "":
		errs = append(errs, field.Invalid(p.Child("group"), r.Group, "set apiVersion or group, not both"))
	case r.APIVersion != "":
		if _, err := schema.ParseGroupVersion(r.APIVersion); err != nil {
			errs = append(errs, field.Invalid(p.Child("apiVersion"), r.APIVersion, err.Error()))
		}
	}
	if r.Namespace != "" {
		if parentNamespace != "" && r.Namespace != parentNamespace {
			errs = append(errs, field.Invalid(p.Child("namespace"), r.Namespace,
				fmt.Sprintf("must be the namespace of the object, %q (or empty)", parentNamespace)))
		} else {
			for _, msg := range validation.IsDNS1123Label(r.Namespace) {
				errs = append(errs, field.Invalid(p.Child("namespace"), r.Namespace, msg))
			}
		}
	}
	return errs
}
