package sources

import (
	"encoding/json"
	"fmt"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/duck"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Group is the API group of GitHubSource, ApiServerSource, PingSource and KafkaSource.
const Group = "sources.knative.dev"

// The versions this package serves in Group.
const (
	VersionV1       = "v1"
	VersionV1beta1  = "v1beta1"
	VersionV1beta2  = "v1beta2"
	VersionV1alpha1 = "v1alpha1"
)

// EventsGroup is the API group of Knative-GCP's sources, here CloudPubSubSource.
const EventsGroup = "events.cloud.google.com"

// SecretValueFromSource names a key of a Secret in the object's namespace whose value the
// source reads (a token, a password, a certificate). Only the reference is stored, never the
// value.
type SecretValueFromSource struct {
	// SecretKeyRef selects the Secret and key.
	SecretKeyRef *corev1.SecretKeySelector `json:"secretKeyRef,omitempty"`
}

// IsEmpty reports whether no Secret key is selected.
func (s *SecretValueFromSource) IsEmpty() bool { return s == nil || s.SecretKeyRef == nil }

// validate checks the reference at p (the field holding secretKeyRef). With required, an
// empty reference is "p.secretKeyRef: Required value".
func (s *SecretValueFromSource) validate(p *field.Path, required bool, what string) field.ErrorList {
	if s.IsEmpty() {
		if required {
			return field.ErrorList{field.Required(p.Child("secretKeyRef"), "the Secret key that holds "+what)}
		}
		return nil
	}
	return validateSecretKeySelector(p.Child("secretKeyRef"), s.SecretKeyRef)
}

// validateSecretKeySelector checks that a selector names a Secret and a key, both well formed.
func validateSecretKeySelector(p *field.Path, s *corev1.SecretKeySelector) field.ErrorList {
	var errs field.ErrorList
	if s.Name == "" {
		errs = append(errs, field.Required(p.Child("name"), "the name of a Secret in the object's namespace"))
	} else {
		for _, msg := range validation.IsDNS1123Subdomain(s.Name) {
			errs = append(errs, field.Invalid(p.Child("name"), s.Name, msg))
		}
	}
	if s.Key == "" {
		errs = append(errs, field.Required(p.Child("key"), "a key of the Secret"))
	} else {
		for _, msg := range validation.IsConfigMapKey(s.Key) {
			errs = append(errs, field.Invalid(p.Child("key"), s.Key, msg))
		}
	}
	return errs
}

// validateServiceAccountName checks an optional ServiceAccount name.
func validateServiceAccountName(p *field.Path, name string) field.ErrorList {
	var errs field.ErrorList
	if name != "" {
		for _, msg := range validation.IsDNS1123Subdomain(name) {
			errs = append(errs, field.Invalid(p, name, msg))
		}
	}
	return errs
}

// markSink records the resolved sink URL under condition set cs: SinkProvided is True for a URL
// and False with reason SinkEmpty when uri is empty.
func markSink(cs api.ConditionSet, s *duck.SourceStatus, uri string) {
	s.SinkURI = uri
	if uri == "" {
		cs.Manage(&s.Status).MarkFalse(duck.SourceConditionSinkProvided, "SinkEmpty", "the sink resolved to an empty URL")
		return
	}
	cs.Manage(&s.Status).MarkTrue(duck.SourceConditionSinkProvided)
}

// markNoSink clears the sink URL and sets SinkProvided to False under condition set cs.
func markNoSink(cs api.ConditionSet, s *duck.SourceStatus, reason, format string, args ...any) {
	s.SinkURI = ""
	cs.Manage(&s.Status).MarkFalse(duck.SourceConditionSinkProvided, reason, format, args...)
}

// jsonList renders a string list as kubectl renders an array column: ["a","b"].
func jsonList(v []string) string {
	if len(v) == 0 {
		return ""
	}
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(data)
}

// sourcePath returns the CloudEvents source attribute Knative gives the events of a namespaced
// source object: /apis/v1/namespaces/NS/PLURAL/NAME.
func sourcePath(namespace, plural, name string) string {
	return fmt.Sprintf("/apis/v1/namespaces/%s/%s/%s", namespace, plural, name)
}
