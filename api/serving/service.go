package serving

import (
	"github.com/eddyplatform/eddy/api"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Service is a Configuration and a Route of the same name: the template of its revisions and
// the split of its traffic between them.
type Service struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	// Spec is the desired state.
	Spec ServiceSpec `json:"spec,omitempty"`
	// Status is the observed state, written by the controllers.
	Status ServiceStatus `json:"status,omitempty"`
}

// ServiceSpec is spec.template and spec.traffic.
type ServiceSpec struct {
	ConfigurationSpec `json:",inline"`
	RouteSpec         `json:",inline"`
}

// SetDefaults applies Knative's defaults: the revision defaults on the template, and traffic
// [{latestRevision: true, percent: 100}] when there is none.
func (s *Service) SetDefaults() {
	s.Spec.ConfigurationSpec.SetDefaults()
	if len(s.Spec.Traffic) == 0 {
		s.Spec.Traffic = []TrafficTarget{{LatestRevision: ptr(true), Percent: ptr(int64(100))}}
	}
	s.Spec.RouteSpec.SetDefaults()
}

// Validate checks the service's name, labels (no serving.knative.dev/ ones) and annotations
// (no autoscaling ones: they go on the template), its template and its traffic.
func (s *Service) Validate() field.ErrorList {
	errs := validateObjectName(s.Name, s.GenerateName)
	errs = append(errs, validateServingLabels(s.Labels)...)
	errs = append(errs, validateNoAutoscalingAnnotations(s.Annotations)...)
	errs = append(errs, s.Spec.ConfigurationSpec.validate(field.NewPath("spec", "template"), &s.ObjectMeta)...)
	return append(errs, validateTraffic(field.NewPath("spec", "traffic"), s.Spec.Traffic, true)...)
}

// ValidateUpdate rejects a template change that keeps the template's name.
func (s *Service) ValidateUpdate(old *Service) field.ErrorList {
	return validateTemplateUpdate(field.NewPath("spec", "template"), &old.Spec.Template, &s.Spec.Template)
}

// GetStatus returns the condition-bearing part of the status.
func (s *Service) GetStatus() *api.Status { return &s.Status.Status }

// ServiceStatus is the observed state of a Service: its configuration's and route's.
type ServiceStatus struct {
	api.Status                `json:",inline"`
	ConfigurationStatusFields `json:",inline"`
	RouteStatusFields         `json:",inline"`
}

// The conditions of a Service.
const (
	// ServiceConditionConfigurationsReady follows the Ready condition of the service's
	// Configuration.
	ServiceConditionConfigurationsReady api.ConditionType = "ConfigurationsReady"
	// ServiceConditionRoutesReady follows the Ready condition of the service's Route.
	ServiceConditionRoutesReady api.ConditionType = "RoutesReady"
)

// Reasons the service conditions carry.
const (
	// ReasonNotOwned: an object of the service's name exists and is not the service's.
	ReasonNotOwned = "NotOwned"
	// ReasonOutOfDate: the configuration or route has not caught up with the service yet.
	ReasonOutOfDate = "OutOfDate"
	// ReasonRevisionNameTaken: the template's revision name belongs to another revision.
	ReasonRevisionNameTaken = "RevisionNameTaken"
)

// ServiceConditionSet is the condition set of a Service: Ready follows ConfigurationsReady and
// RoutesReady.
var ServiceConditionSet = api.NewLivingConditionSet(ServiceConditionConfigurationsReady, ServiceConditionRoutesReady)

func (s *ServiceStatus) manage() *api.ConditionManager { return ServiceConditionSet.Manage(&s.Status) }

// InitializeConditions sets every missing condition to Unknown.
func (s *ServiceStatus) InitializeConditions() { s.manage().InitializeConditions() }

// IsReady reports whether Ready is True.
func (s *ServiceStatus) IsReady() bool { return s.manage().IsHappy() }

// propagate sets t from a Ready condition, or to Unknown when there is none.
func (s *ServiceStatus) propagate(t api.ConditionType, c *api.Condition) {
	switch {
	case c == nil:
		s.manage().MarkUnknown(t, "", "")
	case c.IsTrue():
		s.manage().MarkTrue(t)
	case c.IsFalse():
		s.manage().MarkFalse(t, c.Reason, "%s", c.Message)
	default:
		s.manage().MarkUnknown(t, c.Reason, "%s", c.Message)
	}
}

// PropagateConfigurationStatus copies the configuration's latest revision names and its Ready
// condition (as ConfigurationsReady).
func (s *ServiceStatus) PropagateConfigurationStatus(cs *ConfigurationStatus) {
	s.ConfigurationStatusFields = cs.ConfigurationStatusFields
	s.propagate(ServiceConditionConfigurationsReady, cs.GetCondition(api.ConditionReady))
}

// PropagateRouteStatus copies the route's url, address and traffic and its Ready condition
// (as RoutesReady).
func (s *ServiceStatus) PropagateRouteStatus(rs *RouteStatus) {
	s.URL = rs.URL
	s.Address = nil
	if rs.Address != nil {
		a := *rs.Address
		s.Address = &a
	}
	s.Traffic = append([]TrafficTarget(nil), rs.Traffic...)
	s.propagate(ServiceConditionRoutesReady, rs.GetCondition(api.ConditionReady))
}

// MarkConfigurationNotOwned records that a Configuration of the service's name is not the
// service's.
func (s *ServiceStatus) MarkConfigurationNotOwned(name string) {
	s.manage().MarkFalse(ServiceConditionConfigurationsReady, ReasonNotOwned,
		"There is an existing Configuration %q that we do not own.", name)
}

// MarkRouteNotOwned records that a Route of the service's name is not the service's.
func (s *ServiceStatus) MarkRouteNotOwned(name string) {
	s.manage().MarkFalse(ServiceConditionRoutesReady, ReasonNotOwned,
		"There is an existing Route %q that we do not own.", name)
}

// MarkConfigurationNotReconciled records that the configuration has not caught up with the
// service's template yet.
func (s *ServiceStatus) MarkConfigurationNotReconciled() {
	s.manage().MarkUnknown(ServiceConditionConfigurationsReady, ReasonOutOfDate,
		"The Configuration is still working to reflect the latest desired specification.")
}

// MarkRouteNotReconciled records that the route has not caught up with the service's traffic
// yet.
func (s *ServiceStatus) MarkRouteNotReconciled() {
	s.manage().MarkUnknown(ServiceConditionRoutesReady, ReasonOutOfDate,
		"The Route is still working to reflect the latest desired specification.")
}

// MarkRevisionNameTaken records that the template names a revision that exists with another
// spec.
func (s *ServiceStatus) MarkRevisionNameTaken(name string) {
	s.manage().MarkFalse(ServiceConditionRoutesReady, ReasonRevisionNameTaken,
		"The revision name %q is taken", name)
}
