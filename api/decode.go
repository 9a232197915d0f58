package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	sigsjson "sigs.k8s.io/json"
)

// maxDocument bounds one decoded document, so that a hostile stream can't exhaust memory.
const maxDocument = 8 << 20

// typeHeader is the part of every document that says what it is.
type typeHeader struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Items      []json.RawMessage `json:"items"`
}

// DecodeAll decodes a JSON document, a JSON or YAML stream of documents, or multi-document
// YAML separated by "---". A document of kind List is expanded into its items. Each object
// is decoded strictly (see Decode). Errors say which document failed.
func (r *Registry) DecodeAll(data []byte) ([]Object, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []Object
	for n := 1; ; n++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return out, fmt.Errorf("document %d: %w", n, err)
		}
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
			continue // an empty document between two "---"
		}
		objs, err := r.decodeDocument(raw)
		if err != nil {
			return out, fmt.Errorf("document %d: %w", n, err)
		}
		out = append(out, objs...)
	}
}

func (r *Registry) decodeDocument(raw []byte) ([]Object, error) {
	var h typeHeader
	if err := json.Unmarshal(raw, &h); err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("not a JSON object: %v", err))
	}
	if h.Kind != "List" {
		obj, err := r.Decode(raw)
		if err != nil {
			return nil, err
		}
		return []Object{obj}, nil
	}
	var out []Object
	for i, item := range h.Items {
		obj, err := r.Decode(item)
		if err != nil {
			return out, fmt.Errorf("items[%d]: %w", i, err)
		}
		out = append(out, obj)
	}
	return out, nil
}

// Decode decodes one JSON object into a typed object of the kind and version its apiVersion
// and kind name. Decoding is strict: an unknown or duplicated field is an error that names its
// path (unknown field "spec.foo"), and so is a missing apiVersion or kind. Errors are
// BadRequest StatusErrors.
func (r *Registry) Decode(data []byte) (Object, error) {
	if len(data) > maxDocument {
		return nil, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("document is %d bytes; the limit is %d", len(data), maxDocument))
	}
	var h typeHeader
	if err := json.Unmarshal(data, &h); err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("not a JSON object: %v", err))
	}
	var errs field.ErrorList
	if h.APIVersion == "" {
		errs = append(errs, field.Required(field.NewPath("apiVersion"), ""))
	}
	if h.Kind == "" {
		errs = append(errs, field.Required(field.NewPath("kind"), ""))
	}
	if len(errs) > 0 {
		return nil, apierrors.NewBadRequest(errs.ToAggregate().Error())
	}
	gv, err := schema.ParseGroupVersion(h.APIVersion)
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("apiVersion: %v", err))
	}
	_, v, err := r.ForGVK(gv.WithKind(h.Kind))
	if err != nil {
		return nil, err
	}
	obj := v.New()
	strict, err := sigsjson.UnmarshalStrict(data, obj, sigsjson.DisallowDuplicateFields, sigsjson.DisallowUnknownFields)
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("decoding %s: %v", h.Kind, err))
	}
	if len(strict) > 0 {
		msgs := make([]string, len(strict))
		for i, e := range strict {
			msgs[i] = e.Error()
		}
		return nil, apierrors.NewBadRequest(fmt.Sprintf("decoding %s %q: %s", h.Kind, obj.GetName(), strings.Join(msgs, "; ")))
	}
	obj.GetObjectKind().SetGroupVersionKind(gv.WithKind(h.Kind))
	return obj, nil
}

// Admit turns a decoded object of any served version into the storage version, defaulted and
// validated: the one path every object takes into the store. Validation failures are Invalid
// StatusErrors (HTTP 422) whose causes name the field paths.
func (r *Registry) Admit(obj Object) (Object, *Kind, error) {
	gvk := GVK(obj)
	k, v, err := r.ForGVK(gvk)
	if err != nil {
		return nil, nil, err
	}
	errs := validateMeta(k, obj)
	if v.Validate != nil {
		errs = append(errs, v.Validate(obj)...)
	}
	if len(errs) > 0 {
		return nil, k, apierrors.NewInvalid(k.GroupKind(), obj.GetName(), errs)
	}
	if !v.Storage {
		converted, err := v.ToStorage(obj)
		if err != nil {
			return nil, k, apierrors.NewBadRequest(fmt.Sprintf("converting %s %s to %s: %v", gvk.GroupKind(), gvk.Version, k.StorageVersion().Name, err))
		}
		obj = converted
	}
	obj.GetObjectKind().SetGroupVersionKind(k.StorageGVK())
	if k.Default != nil {
		k.Default(obj)
	}
	if k.Validate != nil {
		errs = append(errs, k.Validate(obj)...)
	}
	if len(errs) > 0 {
		return nil, k, apierrors.NewInvalid(k.GroupKind(), obj.GetName(), errs)
	}
	return obj, k, nil
}

// CheckUpdate runs the kind's update rules on a change from old to updated (both of the
// storage version).
func (k *Kind) CheckUpdate(old, updated Object) error {
	if k.ValidateUpdate == nil {
		return nil
	}
	if errs := k.ValidateUpdate(old, updated); len(errs) > 0 {
		return apierrors.NewInvalid(k.GroupKind(), updated.GetName(), errs)
	}
	return nil
}

// validateMeta checks the metadata every kind shares.
func validateMeta(k *Kind, obj Object) field.ErrorList {
	var errs field.ErrorList
	md := field.NewPath("metadata")
	switch name := obj.GetName(); {
	case name == "" && obj.GetGenerateName() == "":
		errs = append(errs, field.Required(md.Child("name"), "name or generateName is required"))
	case name != "":
		for _, msg := range validation.IsDNS1123Subdomain(name) {
			errs = append(errs, field.Invalid(md.Child("name"), name, msg))
		}
	}
	if ns := obj.GetNamespace(); ns != "" {
		if !k.Namespaced {
			errs = append(errs, field.Forbidden(md.Child("namespace"), fmt.Sprintf("%s is cluster-scoped", k.Kind)))
		} else {
			for _, msg := range validation.IsDNS1123Label(ns) {
				errs = append(errs, field.Invalid(md.Child("namespace"), ns, msg))
			}
		}
	}
	errs = append(errs, metav1validation.ValidateLabels(obj.GetLabels(), md.Child("labels"))...)
	for key := range obj.GetAnnotations() {
		for _, msg := range validation.IsQualifiedName(strings.ToLower(key)) {
			errs = append(errs, field.Invalid(md.Child("annotations"), key, msg))
		}
	}
	return errs
}
