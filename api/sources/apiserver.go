package sources

import (
	"strings"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/duck"
	"github.com/eddyplatform/eddy/api/eventing"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The event modes of an ApiServerSource.
const (
	// ReferenceMode sends a reference to the changed object (the default).
	ReferenceMode = "Reference"
	// ResourceMode sends the whole changed object.
	ResourceMode = "Resource"
)

// The CloudEvents types an ApiServerSource sends, Knative's: resource.* in Resource mode, ref.*
// in Reference mode.
const (
	ApiServerSourceAddEventType       = "dev.knative.apiserver.resource.add"
	ApiServerSourceUpdateEventType    = "dev.knative.apiserver.resource.update"
	ApiServerSourceDeleteEventType    = "dev.knative.apiserver.resource.delete"
	ApiServerSourceAddRefEventType    = "dev.knative.apiserver.ref.add"
	ApiServerSourceUpdateRefEventType = "dev.knative.apiserver.ref.update"
	ApiServerSourceDeleteRefEventType = "dev.knative.apiserver.ref.delete"
)

// DefaultServiceAccountName is the ServiceAccount a source runs as when it names none.
const DefaultServiceAccountName = "default"

// ApiServerSource watches Kubernetes objects and sends a CloudEvent for each addition,
// change and deletion.
type ApiServerSource struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              ApiServerSourceSpec   `json:"spec,omitempty"`
	Status            ApiServerSourceStatus `json:"status,omitempty"`
}

// ApiServerSourceSpec is the desired state of an ApiServerSource.
type ApiServerSourceSpec struct {
	// SourceSpec holds the sink and the CloudEvents overrides.
	duck.SourceSpec `json:",inline"`
	// Resources are the kinds to watch, each with an optional label selector. At least one.
	Resources []APIVersionKindSelector `json:"resources,omitempty"`
	// ResourceOwner, when set, keeps only objects owned by an object of this kind.
	ResourceOwner *APIVersionKind `json:"owner,omitempty"`
	// EventMode is Reference (the default) or Resource.
	EventMode string `json:"mode,omitempty"`
	// ServiceAccountName is the ServiceAccount the watches run as; defaults to "default".
	ServiceAccountName string `json:"serviceAccountName,omitempty"`
	// NamespaceSelector selects the namespaces to watch; unset watches the source's own
	// namespace, {} watches every namespace.
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`
	// Filters are CloudEvents Subscriptions API filter expressions; an event is sent only when
	// all pass. (Knative gates this behind its new-apiserversource-filters feature; Eddy
	// always accepts it.)
	Filters []eventing.SubscriptionsAPIFilter `json:"filters,omitempty"`
}

// APIVersionKind names a kind.
type APIVersionKind struct {
	// APIVersion of the kind, such as "apps/v1".
	APIVersion string `json:"apiVersion"`
	// Kind, such as "Deployment".
	Kind string `json:"kind"`
}

// APIVersionKindSelector names a kind to watch and, optionally, a label selector.
type APIVersionKindSelector struct {
	// APIVersion of the kind, such as "v1".
	APIVersion string `json:"apiVersion"`
	// Kind, such as "Event".
	Kind string `json:"kind"`
	// LabelSelector keeps only the objects it selects.
	LabelSelector *metav1.LabelSelector `json:"selector,omitempty"`
}

// ApiServerSourceStatus is the observed state of an ApiServerSource.
type ApiServerSourceStatus struct {
	duck.SourceStatus `json:",inline"`
	// Namespaces are the namespaces being watched.
	Namespaces []string `json:"namespaces,omitempty"`
}

// GetStatus returns the condition-bearing part of the status.
func (s *ApiServerSource) GetStatus() *api.Status { return &s.Status.Status }

// EventTypes returns the CloudEvents types sent in the spec's mode (add, update, delete).
func (s *ApiServerSourceSpec) EventTypes() []string {
	if s.EventMode == ResourceMode {
		return []string{ApiServerSourceAddEventType, ApiServerSourceDeleteEventType, ApiServerSourceUpdateEventType}
	}
	return []string{ApiServerSourceAddRefEventType, ApiServerSourceDeleteRefEventType, ApiServerSourceUpdateRefEventType}
}

// CloudEventAttributes returns the type and source of the events sent, for status.ceAttributes;
// source is the API server's URL (the events' source attribute).
func (s *ApiServerSource) CloudEventAttributes(source string) []duck.CloudEventAttributes {
	var out []duck.CloudEventAttributes
	for _, t := range s.Spec.EventTypes() {
		out = append(out, duck.CloudEventAttributes{Type: t, Source: source})
	}
	return out
}

// SetDefaults sets spec.mode to Reference, spec.serviceAccountName to "default" and the sink
// ref's namespace, as Knative does.
func (s *ApiServerSource) SetDefaults() {
	if s.Spec.EventMode == "" {
		s.Spec.EventMode = ReferenceMode
	}
	if s.Spec.ServiceAccountName == "" {
		s.Spec.ServiceAccountName = DefaultServiceAccountName
	}
	s.Spec.SourceSpec.SetDefaults(s.Namespace)
}

// Validate checks the mode, the resources (at least one, each with an apiVersion, a kind and
// a valid selector), the owner, the namespace selector, the service account, the filters, the
// sink and the overrides.
func (s *ApiServerSource) Validate() field.ErrorList {
	sp := field.NewPath("spec")
	var errs field.ErrorList
	switch s.Spec.EventMode {
	case ReferenceMode, ResourceMode:
	default:
		errs = append(errs, field.NotSupported(sp.Child("mode"), s.Spec.EventMode, []string{ReferenceMode, ResourceMode}))
	}
	if len(s.Spec.Resources) == 0 {
		errs = append(errs, field.Required(sp.Child("resources"), "at least one kind to watch"))
	}
	for i, r := range s.Spec.Resources {
		p := sp.Child("resources").Index(i)
		errs = append(errs, validateAPIVersionKind(p, r.APIVersion, r.Kind)...)
		errs = append(errs, validateLabelSelector(p.Child("selector"), r.LabelSelector)...)
	}
	if o := s.Spec.ResourceOwner; o != nil {
		errs = append(errs, validateAPIVersionKind(sp.Child("owner"), o.APIVersion, o.Kind)...)
	}
	errs = append(errs, validateLabelSelector(sp.Child("namespaceSelector"), s.Spec.NamespaceSelector)...)
	errs = append(errs, validateServiceAccountName(sp.Child("serviceAccountName"), s.Spec.ServiceAccountName)...)
	errs = append(errs, eventing.ValidateFilters(sp.Child("filters"), s.Spec.Filters)...)
	return append(errs, s.Spec.SourceSpec.Validate(sp, s.Namespace)...)
}

func validateAPIVersionKind(p *field.Path, apiVersion, kind string) field.ErrorList {
	var errs field.ErrorList
	if apiVersion == "" {
		errs = append(errs, field.Required(p.Child("apiVersion"), `such as "v1" or "apps/v1"`))
	} else if gv, err := schema.ParseGroupVersion(apiVersion); err != nil || gv.Version == "" {
		errs = append(errs, field.Invalid(p.Child("apiVersion"), apiVersion, `must be "version" or "group/version"`))
	}
	if strings.TrimSpace(kind) == "" {
		errs = append(errs, field.Required(p.Child("kind"), `such as "Event"`))
	}
	return errs
}

func validateLabelSelector(p *field.Path, sel *metav1.LabelSelector) field.ErrorList {
	if sel == nil {
		return nil
	}
	errs := metav1validation.ValidateLabelSelector(sel, metav1validation.LabelSelectorValidationOptions{}, p)
	if len(errs) == 0 {
		if _, err := metav1.LabelSelectorAsSelector(sel); err != nil {
			errs = append(errs, field.Invalid(p, sel.String(), err.Error()))
		}
	}
	return errs
}

// The conditions of an ApiServerSource, Knative's names. (Knative's OIDCIdentityCreated is
// left out: Eddy's sources do not mint OIDC tokens.)
const (
	// ApiServerConditionSinkProvided is True when the sink resolved to a URL.
	ApiServerConditionSinkProvided = duck.SourceConditionSinkProvided
	// ApiServerConditionDeployed is True when the adapter that watches and sends runs.
	ApiServerConditionDeployed api.ConditionType = "Deployed"
	// ApiServerConditionSufficientPermissions is True when the service account may get, list
	// and watch every resource in every watched namespace.
	ApiServerConditionSufficientPermissions api.ConditionType = "SufficientPermissions"
)

// ApiServerSourceConditionSet is the condition set of an ApiServerSource: Ready follows
// SinkProvided, Deployed and SufficientPermissions.
var ApiServerSourceConditionSet = api.NewLivingConditionSet(
	ApiServerConditionSinkProvided,
	ApiServerConditionDeployed,
	ApiServerConditionSufficientPermissions,
)

func (s *ApiServerSourceStatus) manage() *api.ConditionManager {
	return ApiServerSourceConditionSet.Manage(&s.Status)
}

// InitializeConditions sets every missing condition to Unknown.
func (s *ApiServerSourceStatus) InitializeConditions() { s.manage().InitializeConditions() }

// IsReady reports whether Ready is True.
func (s *ApiServerSourceStatus) IsReady() bool { return s.manage().IsHappy() }

// MarkSink records the resolved sink URL (SinkProvided False with reason SinkEmpty when uri
// is empty).
func (s *ApiServerSourceStatus) MarkSink(uri string) {
	markSink(ApiServerSourceConditionSet, &s.SourceStatus, uri)
}

// MarkNoSink records why the sink did not resolve.
func (s *ApiServerSourceStatus) MarkNoSink(reason, format string, args ...any) {
	markNoSink(ApiServerSourceConditionSet, &s.SourceStatus, reason, format, args...)
}

// MarkDeployed records that the adapter runs.
func (s *ApiServerSourceStatus) MarkDeployed() { s.manage().MarkTrue(ApiServerConditionDeployed) }

// MarkDeploying records that the adapter is starting.
func (s *ApiServerSourceStatus) MarkDeploying(reason, format string, args ...any) {
	s.manage().MarkUnknown(ApiServerConditionDeployed, reason, format, args...)
}

// MarkNotDeployed records why the adapter does not run.
func (s *ApiServerSourceStatus) MarkNotDeployed(reason, format string, args ...any) {
	s.manage().MarkFalse(ApiServerConditionDeployed, reason, format, args...)
}

// MarkSufficientPermissions records that the service account may watch every resource.
func (s *ApiServerSourceStatus) MarkSufficientPermissions() {
	s.manage().MarkTrue(ApiServerConditionSufficientPermissions)
}

// MarkNoSufficientPermissions records which permission the service account lacks.
func (s *ApiServerSourceStatus) MarkNoSufficientPermissions(reason, format string, args ...any) {
	s.manage().MarkFalse(ApiServerConditionSufficientPermissions, reason, format, args...)
}
