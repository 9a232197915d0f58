package servingv1alpha1

import (
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Group is the API group of the 2018 serving kinds, the same as v1's.
const Group = "serving.knative.dev"

// Version is the 2018 version.
const Version = "v1alpha1"

// ReleaseLatestRevisionKeyword stands, in spec.release.revisions, for the latest ready revision
// of the service's configuration.
const ReleaseLatestRevisionKeyword = "@latest"

// MaxRolloutPercent is the largest spec.release.rolloutPercent: the candidate never takes all
// the traffic.
const MaxRolloutPercent = 99

// Service is a 2018 service: one configuration and a routing mode.
type Service struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	// Spec is the desired state.
	Spec ServiceSpec `json:"spec,omitempty"`
	// Status is accepted and ignored: status is written by the controllers, in v1.
	Status json.RawMessage `json:"status,omitempty"`
}

// ServiceSpec holds exactly one of the modes runLatest, release, pinned and manual.
type ServiceSpec struct {
	// Generation is the 2018 spec generation; ignored.
	Generation int64 `json:"generation,omitempty"`
	// RunLatest routes all traffic to the latest ready revision of its configuration.
	RunLatest *RunLatestType `json:"runLatest,omitempty"`
	// Release splits traffic between a current and a candidate revision.
	Release *ReleaseType `json:"release,omitempty"`
	// Pinned routes all traffic to one named revision (deprecated in 2018 for release).
	Pinned *PinnedType `json:"pinned,omitempty"`
	// Manual left the route and configuration to the user; it cannot be converted to v1.
	Manual *ManualType `json:"manual,omitempty"`
}

// RunLatestType is the runLatest mode.
type RunLatestType struct {
	// Configuration is the service's configuration.
	Configuration ConfigurationSpec `json:"configuration,omitempty"`
}

// ReleaseType is the release mode: revisions[0] is "current", revisions[1] (when set) is
// "candidate" and takes rolloutPercent of the traffic.
type ReleaseType struct {
	// Revisions lists 1 or 2 revision names; ReleaseLatestRevisionKeyword ("@latest") stands
	// for the latest ready revision.
	Revisions []string `json:"revisions,omitempty"`
	// RolloutPercent is the candidate's share, 0 to 99; 0 with a single revision.
	RolloutPercent int `json:"rolloutPercent,omitempty"`
	// Configuration is the service's configuration.
	Configuration ConfigurationSpec `json:"configuration,omitempty"`
}

// PinnedType is the pinned mode.
type PinnedType struct {
	// RevisionName takes all the traffic.
	RevisionName string `json:"revisionName,omitempty"`
	// Configuration is the service's configuration.
	Configuration ConfigurationSpec `json:"configuration,omitempty"`
}

// ManualType is the manual mode; it has no fields.
type ManualType struct{}

// Mode returns the name of the service's mode ("runLatest", "release", "pinned", "manual"), or
// "" when none or several are set.
func (s *ServiceSpec) Mode() string {
	var set []string
	for _, m := range s.modes() {
		if m.set {
			set = append(set, m.name)
		}
	}
	if len(set) != 1 {
		return ""
	}
	return set[0]
}

type mode struct {
	name string
	set  bool
}

func (s *ServiceSpec) modes() []mode {
	return []mode{
		{"runLatest", s.RunLatest != nil},
		{"release", s.Release != nil},
		{"pinned", s.Pinned != nil},
		{"manual", s.Manual != nil},
	}
}

// Configuration returns the configuration of the service's mode and its field path, or nil
// for manual mode or when the mode is not decided.
func (s *ServiceSpec) Configuration() (*ConfigurationSpec, *field.Path) {
	p := field.NewPath("spec")
	switch s.Mode() {
	case "runLatest":
		return &s.RunLatest.Configuration, p.Child("runLatest", "configuration")
	case "release":
		return &s.Release.Configuration, p.Child("release", "configuration")
	case "pinned":
		return &s.Pinned.Configuration, p.Child("pinned", "configuration")
	}
	return nil, nil
}

// Validate checks the 2018-only rules of a Service: exactly one mode, not manual, release's
// revisions and rolloutPercent, pinned's revisionName, and the configuration (see
// ConfigurationSpec.Validate).
func (s *Service) Validate() field.ErrorList {
	sp := field.NewPath("spec")
	var errs field.ErrorList
	var set []string
	for _, m := range s.Spec.modes() {
		if m.set {
			set = append(set, m.name)
		}
	}
	switch len(set) {
	case 0:
		return field.ErrorList{field.Required(sp, "set exactly one of runLatest, release, pinned or manual")}
	case 1:
	default:
		for _, name := range set[1:] {
			errs = append(errs, field.Forbidden(sp.Child(name), fmt.Sprintf("set exactly one of runLatest, release, pinned or manual (%s is set)", set[0])))
		}
		return errs
	}
	switch {
	case s.Spec.Manual != nil:
		return field.ErrorList{field.Forbidden(sp.Child("manual"),
			"manual mode cannot be converted to serving.knative.dev/v1 (nor can it in Knative): create the Configuration and the Route yourself")}
	case s.Spec.Release != nil:
		errs = append(errs, s.Spec.Release.validate(sp.Child("release"))...)
	case s.Spec.Pinned != nil:
		p := sp.Child("pinned", "revisionName")
		if s.Spec.Pinned.RevisionName == "" {
			errs = append(errs, field.Required(p, "the revision that takes all the traffic"))
		} else {
			errs = append(errs, validateRevisionName(p, s.Spec.Pinned.RevisionName)...)
		}
	}
	cfg, p := s.Spec.Configuration()
	return append(errs, cfg.Validate(p)...)
}

func (r *ReleaseType) validate(p *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch n := len(r.Revisions); {
	case n == 0:
		errs = append(errs, field.Required(p.Child("revisions"), "name 1 or 2 revisions (current, then candidate)"))
	case n > 2:
		errs = append(errs, field.TooMany(p.Child("revisions"), n, 2))
	}
	for i, name := range r.Revisions {
		if name != ReleaseLatestRevisionKeyword {
			errs = append(errs, validateRevisionName(p.Child("revisions").Index(i), name)...)
		}
	}
	switch {
	case r.RolloutPercent < 0 || r.RolloutPercent > MaxRolloutPercent:
		errs = append(errs, field.Invalid(p.Child("rolloutPercent"), r.RolloutPercent, fmt.Sprintf("must be between 0 and %d", MaxRolloutPercent)))
	case r.RolloutPercent != 0 && len(r.Revisions) == 1:
		errs = append(errs, field.Invalid(p.Child("rolloutPercent"), r.RolloutPercent, "must be 0 with a single revision: there is no candidate to roll out"))
	}
	return errs
}

func validateRevisionName(p *field.Path, name string) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range validation.IsDNS1035Label(name) {
		errs = append(errs, field.Invalid(p, name, msg))
	}
	return errs
}

// Configuration is a 2018 configuration: a revision template.
type Configuration struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	// Spec is the desired state.
	Spec ConfigurationSpec `json:"spec,omitempty"`
	// Status is accepted and ignored.
	Status json.RawMessage `json:"status,omitempty"`
}

// ConfigurationSpec is a 2018 configuration's spec.
type ConfigurationSpec struct {
	// Generation is the 2018 spec generation; ignored.
	Generation int64 `json:"generation,omitempty"`
	// Build was a Knative Build run before each revision; it is rejected (see the package
	// documentation).
	Build json.RawMessage `json:"build,omitempty"`
	// RevisionTemplate is the template of the configuration's revisions.
	RevisionTemplate RevisionTemplateSpec `json:"revisionTemplate"`
}

// Validate checks the 2018-only rules of a configuration spec at p: no build, and the
// revision template's spec (see RevisionSpec.Validate).
func (c *ConfigurationSpec) Validate(p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(c.Build) > 0 {
		errs = append(errs, field.Forbidden(p.Child("build"),
			"Knative Build is not part of serving.knative.dev/v1: build the image first and name it in the container's image"))
	}
	return append(errs, c.RevisionTemplate.Spec.Validate(p.Child("revisionTemplate", "spec"))...)
}

// Validate checks the 2018 configuration.
func (c *Configuration) Validate() field.ErrorList { return c.Spec.Validate(field.NewPath("spec")) }

// RevisionTemplateSpec is a 2018 revision template.
type RevisionTemplateSpec struct {
	metav1.ObjectMeta `json:"metadata,omitempty"`
	// Spec is the revisions' spec.
	Spec RevisionSpec `json:"spec,omitempty"`
}

// ServingState is the 2018 desired serving state of a revision, set by the controllers.
type ServingState string

// The 2018 serving states; all are accepted and ignored.
const (
	// ServingStateActive: the revision serves traffic.
	ServingStateActive ServingState = "Active"
	// ServingStateReserve: the revision was scaled to zero.
	ServingStateReserve ServingState = "Reserve"
	// ServingStateToReserve: the revision was being scaled to zero.
	ServingStateToReserve ServingState = "ToReserve"
	// ServingStateRetired: the revision was decommissioned.
	ServingStateRetired ServingState = "Retired"
)

// ConcurrencyModel is the 2018 concurrency model of a revision.
type ConcurrencyModel string

// The 2018 concurrency models.
const (
	// ConcurrencyModelSingle is one request at a time per instance: containerConcurrency 1.
	ConcurrencyModelSingle ConcurrencyModel = "Single"
	// ConcurrencyModelMulti is any number of concurrent requests: containerConcurrency 0.
	ConcurrencyModelMulti ConcurrencyModel = "Multi"
)

// RevisionSpec is a 2018 revision spec: one container.
type RevisionSpec struct {
	// Generation is the 2018 spec generation; ignored.
	Generation int64 `json:"generation,omitempty"`
	// ServingState was set by the 2018 controllers; ignored.
	ServingState ServingState `json:"servingState,omitempty"`
	// ConcurrencyModel is Single (containerConcurrency 1) or Multi (0, the default).
	ConcurrencyModel ConcurrencyModel `json:"concurrencyModel,omitempty"`
	// ContainerConcurrency is the most requests an instance serves at once; 0 is unlimited.
	ContainerConcurrency int64 `json:"containerConcurrency,omitempty"`
	// TimeoutSeconds is the request timeout.
	TimeoutSeconds *int64 `json:"timeoutSeconds,omitempty"`
	// ServiceAccountName is the service account the revision runs as.
	ServiceAccountName string `json:"serviceAccountName,omitempty"`
	// BuildName named the Knative Build that made the image; rejected.
	BuildName string `json:"buildName,omitempty"`
	// Container is the revision's container.
	Container corev1.Container `json:"container"`
}

// Validate checks the 2018-only rules of a revision spec at p: a known serving state and
// concurrency model, consistent with containerConcurrency, and no buildName.
func (r *RevisionSpec) Validate(p *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch r.ServingState {
	case "", ServingStateActive, ServingStateReserve, ServingStateToReserve, ServingStateRetired:
	default:
		errs = append(errs, field.NotSupported(p.Child("servingState"), r.ServingState,
			[]ServingState{ServingStateActive, ServingStateReserve, ServingStateToReserve, ServingStateRetired}))
	}
	switch r.ConcurrencyModel {
	case "":
	case ConcurrencyModelSingle, ConcurrencyModelMulti:
		if r.ContainerConcurrency != 0 && r.ContainerConcurrency != r.ConcurrencyModel.ContainerConcurrency() {
			errs = append(errs, field.Invalid(p.Child("containerConcurrency"), r.ContainerConcurrency,
				fmt.Sprintf("contradicts concurrencyModel %s: set one of them", r.ConcurrencyModel)))
		}
	default:
		errs = append(errs, field.NotSupported(p.Child("concurrencyModel"), r.ConcurrencyModel,
			[]ConcurrencyModel{ConcurrencyModelSingle, ConcurrencyModelMulti}))
	}
	if r.BuildName != "" {
		errs = append(errs, field.Forbidden(p.Child("buildName"),
			"Knative Build is not part of serving.knative.dev/v1: build the image first and name it in the container's image"))
	}
	return errs
}

// ContainerConcurrency returns the containerConcurrency the model stands for: 1 for Single,
// 0 (unlimited) otherwise.
func (m ConcurrencyModel) ContainerConcurrency() int64 {
	if m == ConcurrencyModelSingle {
		return 1
	}
	return 0
}

// EffectiveContainerConcurrency returns spec.containerConcurrency when set, else what the
// concurrency model stands for.
func (r *RevisionSpec) EffectiveContainerConcurrency() int64 {
	if r.ContainerConcurrency != 0 {
		return r.ContainerConcurrency
	}
	return r.ConcurrencyModel.ContainerConcurrency()
}

// Revision is a 2018 revision.
type Revision struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	// Spec is the desired state.
	Spec RevisionSpec `json:"spec,omitempty"`
	// Status is accepted and ignored.
	Status json.RawMessage `json:"status,omitempty"`
}

// Validate checks the 2018 revision.
func (r *Revision) Validate() field.ErrorList { return r.Spec.Validate(field.NewPath("spec")) }

// Route is a 2018 route: named traffic targets.
type Route struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	// Spec is the desired state.
	Spec RouteSpec `json:"spec,omitempty"`
	// Status is accepted and ignored.
	Status json.RawMessage `json:"status,omitempty"`
}

// RouteSpec is a 2018 route's spec.
type RouteSpec struct {
	// Generation is the 2018 spec generation; ignored.
	Generation int64 `json:"generation,omitempty"`
	// Traffic splits the route's traffic.
	Traffic []TrafficTarget `json:"traffic,omitempty"`
}

// TrafficTarget is a 2018 traffic target. Name is v1's tag.
type TrafficTarget struct {
	// Name gives the target its own URL; v1 calls it tag.
	Name string `json:"name,omitempty"`
	// RevisionName pins the target to a revision.
	RevisionName string `json:"revisionName,omitempty"`
	// ConfigurationName follows the latest ready revision of a configuration.
	ConfigurationName string `json:"configurationName,omitempty"`
	// Percent is the target's share of the traffic.
	Percent int `json:"percent,omitempty"`
}

// Validate checks the 2018 route. It has no 2018-only rules: its traffic is checked by v1's
// rules after conversion, with each tag's path named name again.
func (r *Route) Validate() field.ErrorList { return nil }
