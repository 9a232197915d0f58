package serving

import (
	"github.com/eddyplatform/eddy/api"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Configuration keeps a revision template; each change of the template creates a Revision,
// named RevisionName(configuration, generation) unless the template names it.
type Configuration struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	// Spec is the desired state.
	Spec ConfigurationSpec `json:"spec,omitempty"`
	// Status is the observed state, written by the controllers.
	Status ConfigurationStatus `json:"status,omitempty"`
}

// ConfigurationSpec holds the revision template.
type ConfigurationSpec struct {
	// Template is the template of the configuration's revisions.
	Template RevisionTemplateSpec `json:"template"`
}

// SetDefaults applies the revision defaults to the template.
func (c *ConfigurationSpec) SetDefaults() { c.Template.SetDefaults() }

// validate checks the template at p (spec.template) of an object with this metadata.
func (c *ConfigurationSpec) validate(p *field.Path, parent *metav1.ObjectMeta) field.ErrorList {
	errs := validateTemplateMeta(p.Child("metadata"), &c.Template, parent.Name, parent.GenerateName, parent.Namespace)
	return append(errs, c.Template.Spec.Validate(p.Child("spec"))...)
}

// validateTemplateUpdate rejects a change of the template that keeps a template name: each
// revision is immutable, so a new template needs a new name, as Knative requires.
func validateTemplateUpdate(p *field.Path, old, updated *RevisionTemplateSpec) field.ErrorList {
	if updated.Name == "" || updated.Name != old.Name || apiequality.Semantic.DeepEqual(old, updated) {
		return nil
	}
	return field.ErrorList{field.Invalid(p.Child("metadata", "name"), updated.Name,
		"the template changed but its name did not: a revision is immutable, so give the new template a new name (or none)")}
}

// SetDefaults applies the configuration's defaults.
func (c *Configuration) SetDefaults() { c.Spec.SetDefaults() }

// Validate checks the configuration's name, labels and annotations (no autoscaling ones: they
// go on the template) and its template.
func (c *Configuration) Validate() field.ErrorList {
	errs := validateObjectName(c.Name, c.GenerateName)
	errs = append(errs, validateServingLabels(c.Labels, ServiceLabelKey, ServiceUIDLabelKey, RouteLabelKey)...)
	errs = append(errs, validateNoAutoscalingAnnotations(c.Annotations)...)
	return append(errs, c.Spec.validate(field.NewPath("spec", "template"), &c.ObjectMeta)...)
}

// ValidateUpdate rejects a template change that keeps the template's name.
func (c *Configuration) ValidateUpdate(old *Configuration) field.ErrorList {
	return validateTemplateUpdate(field.NewPath("spec", "template"), &old.Spec.Template, &c.Spec.Template)
}

// GetStatus returns the condition-bearing part of the status.
func (c *Configuration) GetStatus() *api.Status { return &c.Status.Status }

// ConfigurationStatus is the observed state of a Configuration.
type ConfigurationStatus struct {
	api.Status                `json:",inline"`
	ConfigurationStatusFields `json:",inline"`
}

// ConfigurationStatusFields are the status fields a Configuration shares with the Service that
// owns it.
type ConfigurationStatusFields struct {
	// LatestReadyRevisionName is the newest revision that became ready.
	LatestReadyRevisionName string `json:"latestReadyRevisionName,omitempty"`
	// LatestCreatedRevisionName is the revision of the current template.
	LatestCreatedRevisionName string `json:"latestCreatedRevisionName,omitempty"`
}

// Reasons the configuration conditions carry.
const (
	// ReasonRevisionFailed: the latest created revision failed, or could not be created.
	ReasonRevisionFailed = "RevisionFailed"
	// ReasonRevisionDeleted: the latest ready revision was deleted.
	ReasonRevisionDeleted = "RevisionDeleted"
)

// ConfigurationConditionSet is the condition set of a Configuration: Ready alone, True when
// the latest created revision is ready.
var ConfigurationConditionSet = api.NewLivingConditionSet()

func (s *ConfigurationStatus) manage() *api.ConditionManager {
	return ConfigurationConditionSet.Manage(&s.Status)
}

// InitializeConditions sets Ready to Unknown when missing.
func (s *ConfigurationStatus) InitializeConditions() { s.manage().InitializeConditions() }

// IsReady reports whether Ready is True.
func (s *ConfigurationStatus) IsReady() bool { return s.manage().IsHappy() }

// SetLatestCreatedRevisionName records the revision of the current template; Ready becomes
// Unknown until that revision is the latest ready one.
func (s *ConfigurationStatus) SetLatestCreatedRevisionName(name string) {
	s.LatestCreatedRevisionName = name
	if s.LatestReadyRevisionName != name {
		s.manage().MarkUnknown(api.ConditionReady, "", "")
	}
}

// SetLatestReadyRevisionName records the newest ready revision; Ready becomes True when it is
// the latest created one.
func (s *ConfigurationStatus) SetLatestReadyRevisionName(name string) {
	s.LatestReadyRevisionName = name
	if s.LatestReadyRevisionName == s.LatestCreatedRevisionName {
		s.manage().MarkTrue(api.ConditionReady)
	}
}

// MarkLatestCreatedFailed records that the latest created revision failed, with its message.
func (s *ConfigurationStatus) MarkLatestCreatedFailed(name, message string) {
	s.manage().MarkFalse(api.ConditionReady, ReasonRevisionFailed, "Revision %q failed with message: %s.", name, message)
}

// MarkRevisionCreationFailed records that the revision of the current template could not be
// created.
func (s *ConfigurationStatus) MarkRevisionCreationFailed(message string) {
	s.manage().MarkFalse(api.ConditionReady, ReasonRevisionFailed, "Revision creation failed with message: %s.", message)
}

// MarkLatestReadyDeleted records that the latest ready revision was deleted.
func (s *ConfigurationStatus) MarkLatestReadyDeleted() {
	s.manage().MarkFalse(api.ConditionReady, ReasonRevisionDeleted, "Revision %q was deleted.", s.LatestReadyRevisionName)
	s.LatestReadyRevisionName = ""
}
