// Package core registers the core v1 kinds the platform needs whatever else it runs: Namespace,
// ConfigMap, Secret and Event. Their Go types are Kubernetes' own (k8s.io/api/core/v1), so the
// same YAML means the same thing here and on a cluster.
package core

import (
	"encoding/base64"
	"fmt"
	"sort"
	"strings"

	"github.com/eddyplatform/eddy/api"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Kinds returns the core kinds' descriptors.
func Kinds() []*api.Kind {
	return []*api.Kind{
		{
			Kind: "Namespace", Plural: "namespaces", Singular: "namespace", ShortNames: []string{"ns"},
			Versions: []api.Version{{Name: "v1", Storage: true, New: func() api.Object { return &corev1.Namespace{} }}},
			Default: func(o api.Object) {
				ns := o.(*corev1.Namespace)
				if ns.Status.Phase == "" {
					ns.Status.Phase = corev1.NamespaceActive
				}
			},
			Validate: func(o api.Object) field.ErrorList {
				var errs field.ErrorList
				for _, msg := range validation.IsDNS1123Label(o.GetName()) {
					errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), o.GetName(), msg))
				}
				return errs
			},
			Columns: []api.Column{{Name: "STATUS", Value: func(o api.Object) string { return string(o.(*corev1.Namespace).Status.Phase) }}},
		},
		{
			Kind: "ConfigMap", Plural: "configmaps", Singular: "configmap", ShortNames: []string{"cm"}, Namespaced: true,
			Versions: []api.Version{{Name: "v1", Storage: true, New: func() api.Object { return &corev1.ConfigMap{} }}},
			Validate: func(o api.Object) field.ErrorList {
				cm := o.(*corev1.ConfigMap)
				errs := validateKeys(field.NewPath("data"), keysOf(cm.Data))
				errs = append(errs, validateKeys(field.NewPath("binaryData"), keysOf(cm.BinaryData))...)
				for k := range cm.Data {
					if _, dup := cm.BinaryData[k]; dup {
						errs = append(errs, field.Duplicate(field.NewPath("binaryData").Key(k), k))
					}
				}
				return errs
			},
			Columns: []api.Column{{Name: "DATA", Value: func(o api.Object) string {
				cm := o.(*corev1.ConfigMap)
				return fmt.Sprint(len(cm.Data) + len(cm.BinaryData))
			}}},
		},
		{
			Kind: "Secret", Plural: "secrets", Singular: "secret", Namespaced: true,
			Versions: []api.Version{{Name: "v1", Storage: true, New: func() api.Object { return &corev1.Secret{} }}},
			Default: func(o api.Object) {
				s := o.(*corev1.Secret)
				if s.Type == "" {
					s.Type = corev1.SecretTypeOpaque
				}
				// stringData is write-only: it is merged into data, as Kubernetes does.
				for k, v := range s.StringData {
					if s.Data == nil {
						s.Data = map[string][]byte{}
					}
					s.Data[k] = []byte(v)
				}
				s.StringData = nil
			},
			Validate: func(o api.Object) field.ErrorList {
				return validateKeys(field.NewPath("data"), keysOf(o.(*corev1.Secret).Data))
			},
			Columns: []api.Column{
				{Name: "TYPE", Value: func(o api.Object) string { return string(o.(*corev1.Secret).Type) }},
				{Name: "DATA", Value: func(o api.Object) string { return fmt.Sprint(len(o.(*corev1.Secret).Data)) }},
			},
			Redact: RedactSecret,
		},
		{
			Kind: "Event", Plural: "events", Singular: "event", ShortNames: []string{"ev"}, Namespaced: true,
			Versions: []api.Version{{Name: "v1", Storage: true, New: func() api.Object { return &corev1.Event{} }}},
			Validate: func(o api.Object) field.ErrorList {
				ev := o.(*corev1.Event)
				var errs field.ErrorList
				if ev.InvolvedObject.Name == "" {
					errs = append(errs, field.Required(field.NewPath("involvedObject", "name"), ""))
				}
				if ev.Reason == "" {
					errs = append(errs, field.Required(field.NewPath("reason"), ""))
				}
				return errs
			},
			Columns: []api.Column{
				{Name: "TYPE", Value: func(o api.Object) string { return o.(*corev1.Event).Type }},
				{Name: "REASON", Value: func(o api.Object) string { return o.(*corev1.Event).Reason }},
				{Name: "OBJECT", Value: func(o api.Object) string {
					io := o.(*corev1.Event).InvolvedObject
					return strings.ToLower(io.Kind) + "/" + io.Name
				}},
				{Name: "MESSAGE", Value: func(o api.Object) string { return o.(*corev1.Event).Message }},
			},
		},
	}
}

// RedactSecret replaces each value of a Secret's data and stringData with "[redacted: N
// bytes]", and drops the last-applied annotation, which would carry the values in clear.
func RedactSecret(u *unstructured.Unstructured) {
	for _, field := range []string{"data", "stringData"} {
		m, ok := u.Object[field].(map[string]any)
		if !ok {
			continue
		}
		for k, v := range m {
			n := len(fmt.Sprint(v))
			if field == "data" {
				n = base64.StdEncoding.DecodedLen(n)
				if b, err := base64.StdEncoding.DecodeString(fmt.Sprint(v)); err == nil {
					n = len(b)
				}
			}
			m[k] = fmt.Sprintf("[redacted: %d bytes]", n)
		}
	}
	if ann := u.GetAnnotations(); ann != nil {
		delete(ann, LastAppliedAnnotation)
		u.SetAnnotations(ann)
	}
}

// LastAppliedAnnotation holds the configuration `eddy apply` last applied, as kubectl's does.
const LastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

// Register adds the core kinds to r.
func Register(r *api.Registry) { r.Register(Kinds()...) }

func keysOf[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// validateKeys checks ConfigMap and Secret keys as Kubernetes does.
func validateKeys(p *field.Path, keys []string) field.ErrorList {
	var errs field.ErrorList
	for _, k := range keys {
		for _, msg := range validation.IsConfigMapKey(k) {
			errs = append(errs, field.Invalid(p.Key(k), k, msg))
		}
	}
	return errs
}
