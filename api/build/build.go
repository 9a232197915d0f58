package build

import (
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/eddyplatform/eddy/api"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

const (
	// Group is the API group of the build kinds.
	Group = "build.knative.dev"
	// Version is the one served and stored version.
	Version = "v1alpha1"
)

const (
	// DefaultTimeout is a Build's spec.timeout when it sets none (or 0), as in Knative.
	DefaultTimeout = 10 * time.Minute
	// MaxTimeout is the longest spec.timeout a Build may set.
	MaxTimeout = 24 * time.Hour
)

// Build runs steps, its own or a template's, over a source until they finish.
type Build struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              BuildSpec   `json:"spec,omitempty"`
	Status            BuildStatus `json:"status,omitempty"`
}

// BuildSpec is the desired run of a Build.
type BuildSpec struct {
	// Source is the input of the build, placed in the steps' workspace; optional.
	Source *SourceSpec `json:"source,omitempty"`
	// Steps run in order; each must exit 0 for the next to start. Exactly one of Steps and
	// Template is set.
	Steps []corev1.Container `json:"steps,omitempty"`
	// Volumes are available to the steps' volumeMounts, as the executor allows.
	Volumes []corev1.Volume `json:"volumes,omitempty"`
	// ServiceAccountName names the account whose secrets (git and registry credentials) the
	// build may use.
	ServiceAccountName string `json:"serviceAccountName,omitempty"`
	// Template instantiates a BuildTemplate or ClusterBuildTemplate instead of Steps.
	Template *TemplateInstantiationSpec `json:"template,omitempty"`
	// Timeout bounds the whole build; defaulted to DefaultTimeout, at most MaxTimeout.
	Timeout *metav1.Duration `json:"timeout,omitempty"`
	// Status, set to BuildSpecStatusCancelled, asks for the build to be cancelled.
	Status BuildSpecStatus `json:"status,omitempty"`
}

// BuildSpecStatus is a requested state of a Build.
type BuildSpecStatus string

// BuildSpecStatusCancelled in spec.status cancels the build.
const BuildSpecStatusCancelled BuildSpecStatus = "BuildCancelled"

// TemplateKind is the kind of template a Build instantiates.
type TemplateKind string

const (
	// BuildTemplateKind is a namespaced template in the Build's namespace; the default.
	BuildTemplateKind TemplateKind = "BuildTemplate"
	// ClusterBuildTemplateKind is a cluster-scoped template.
	ClusterBuildTemplateKind TemplateKind = "ClusterBuildTemplate"
)

// TemplateInstantiationSpec names the template a Build runs and the values for its parameters.
type TemplateInstantiationSpec struct {
	// Name is the template's name. Required.
	Name string `json:"name"`
	// Kind is BuildTemplate (defaulted) or ClusterBuildTemplate.
	Kind TemplateKind `json:"kind,omitempty"`
	// Arguments give values to the template's parameters.
	Arguments []ArgumentSpec `json:"arguments,omitempty"`
	// Env is added to every template step, replacing step variables of the same name.
	Env []corev1.EnvVar `json:"env,omitempty"`
}

// ArgumentSpec is the value of one template parameter.
type ArgumentSpec struct {
	// Name is the parameter's name.
	Name string `json:"name"`
	// Value replaces ${Name} in the template's steps.
	Value string `json:"value"`
}

// BuildProvider names the executor that ran a build.
type BuildProvider string

// BuilderLocal is Eddy's executor, which runs steps on the machine Eddy runs on.
const BuilderLocal BuildProvider = "Local"

// BuildStatus is the observed run of a Build.
type BuildStatus struct {
	api.Status `json:",inline"`
	// Builder is the executor running the build, such as BuilderLocal.
	Builder BuildProvider `json:"builder,omitempty"`
	// StartTime is when the first step started.
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// CompletionTime is when the build finished, whether it succeeded or not.
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
	// StepStates hold the state of each step, in step order.
	StepStates []StepState `json:"stepStates,omitempty"`
	// StepsCompleted names the steps that exited 0, in the order they finished.
	StepsCompleted []string `json:"stepsCompleted,omitempty"`
	// Artifact is what the build produced, when it produced something.
	Artifact *Artifact `json:"artifact,omitempty"`
}

// StepState is the state of one step: waiting, running or terminated (with its exit code,
// reason, message and times).
type StepState struct {
	// Name is the step's name (StepName).
	Name                  string `json:"name,omitempty"`
	corev1.ContainerState `json:",inline"`
}

// Artifact is the output of a build.
type Artifact struct {
	// Digest is "sha256:" and 64 lower-case hex digits.
	Digest string `json:"digest,omitempty"`
	// URI locates the artifact: build://NAMESPACE/NAME (ArtifactURI) or a content address.
	URI string `json:"uri,omitempty"`
	// Size is the artifact's size in bytes.
	Size int64 `json:"size,omitempty"`
}

var digestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// ValidDigest reports whether d is "sha256:" followed by 64 lower-case hex digits.
func ValidDigest(d string) bool { return digestRE.MatchString(d) }

// ArtifactURI returns build://NAMESPACE/NAME, the URI of the artifact of the named Build.
func ArtifactURI(namespace, name string) string { return "build://" + namespace + "/" + name }

// StepName is the name of step index of a build in its status: the step's name, or
// "unnamed-INDEX" when it has none.
func StepName(index int, step *corev1.Container) string {
	if step.Name != "" {
		return step.Name
	}
	return "unnamed-" + strconv.Itoa(index)
}

var reservedStepName = regexp.MustCompile(`^unnamed-[0-9]+$`)

// GetStatus returns the condition-bearing part of the status.
func (b *Build) GetStatus() *api.Status { return &b.Status.Status }

// Timeout returns spec.timeout, or DefaultTimeout when it is unset or 0.
func (b *Build) Timeout() time.Duration {
	if b.Spec.Timeout == nil || b.Spec.Timeout.Duration == 0 {
		return DefaultTimeout
	}
	return b.Spec.Timeout.Duration
}

// IsCancelled reports whether spec.status asks for the build to be cancelled.
func (b *Build) IsCancelled() bool { return b.Spec.Status == BuildSpecStatusCancelled }

// SetDefaults sets spec.timeout to DefaultTimeout when it is unset or 0, and
// spec.template.kind to BuildTemplate when it is empty.
func (b *Build) SetDefaults() {
	if b.Spec.Timeout == nil || b.Spec.Timeout.Duration == 0 {
		b.Spec.Timeout = &metav1.Duration{Duration: DefaultTimeout}
	}
	if t := b.Spec.Template; t != nil && t.Kind == "" {
		t.Kind = BuildTemplateKind
	}
}

// Validate checks the name (a DNS label), that exactly one of spec.steps and spec.template is
// set, the steps, the template reference and its arguments, the source, the service account,
// the timeout, the volumes and spec.status.
func (b *Build) Validate() field.ErrorList {
	errs := validateName(b.Name)
	sp := field.NewPath("spec")
	s := &b.Spec
	switch {
	case len(s.Steps) == 0 && s.Template == nil:
		errs = append(errs, field.Required(sp.Child("steps"), "set exactly one of steps and template"))
	case len(s.Steps) > 0 && s.Template != nil:
		errs = append(errs, field.Forbidden(sp.Child("template"), "set exactly one of steps and template, not both"))
	}
	errs = append(errs, validateSteps(sp.Child("steps"), s.Steps)...)
	errs = append(errs, s.Template.validate(sp.Child("template"))...)
	errs = append(errs, s.Source.validate(sp.Child("source"))...)
	if s.ServiceAccountName != "" {
		for _, msg := range validation.IsDNS1123Subdomain(s.ServiceAccountName) {
			errs = append(errs, field.Invalid(sp.Child("serviceAccountName"), s.ServiceAccountName, msg))
		}
	}
	if s.Timeout != nil {
		switch d := s.Timeout.Duration; {
		case d <= 0:
			errs = append(errs, field.Invalid(sp.Child("timeout"), d.String(), "must be positive"))
		case d > MaxTimeout:
			errs = append(errs, field.Invalid(sp.Child("timeout"), d.String(), "must be at most 24h"))
		}
	}
	errs = append(errs, validateVolumes(sp.Child("volumes"), s.Volumes)...)
	if s.Status != "" && s.Status != BuildSpecStatusCancelled {
		errs = append(errs, field.NotSupported(sp.Child("status"), s.Status, []BuildSpecStatus{BuildSpecStatusCancelled}))
	}
	return errs
}

// ValidateUpdate rejects a change of the spec other than spec.status: a build runs the spec
// it was created with.
func (b *Build) ValidateUpdate(old *Build) field.ErrorList {
	a, o := b.Spec, old.Spec
	a.Status, o.Status = "", ""
	if !reflect.DeepEqual(a, o) {
		return field.ErrorList{field.Forbidden(field.NewPath("spec"), "a Build's spec is immutable except spec.status; create a new Build")}
	}
	return nil
}

func (t *TemplateInstantiationSpec) validate(p *field.Path) field.ErrorList {
	if t == nil {
		return nil
	}
	var errs field.ErrorList
	if t.Name == "" {
		errs = append(errs, field.Required(p.Child("name"), ""))
	} else {
		for _, msg := range validation.IsDNS1123Label(t.Name) {
			errs = append(errs, field.Invalid(p.Child("name"), t.Name, msg))
		}
	}
	if t.Kind != "" && t.Kind != BuildTemplateKind && t.Kind != ClusterBuildTemplateKind {
		errs = append(errs, field.NotSupported(p.Child("kind"), t.Kind, []TemplateKind{BuildTemplateKind, ClusterBuildTemplateKind}))
	}
	seen := map[string]bool{}
	for i, a := range t.Arguments {
		np := p.Child("arguments").Index(i).Child("name")
		switch {
		case a.Name == "":
			errs = append(errs, field.Required(np, ""))
		case seen[a.Name]:
			errs = append(errs, field.Duplicate(np, a.Name))
		case !paramNameRE.MatchString(a.Name):
			errs = append(errs, field.Invalid(np, a.Name, paramNameMsg))
		}
		seen[a.Name] = true
	}
	return append(errs, validateEnv(p.Child("env"), t.Env)...)
}

// validateName checks metadata.name, which names a build's workspace and artifact: a DNS label,
// as Knative required (no ".", at most 63 characters).
func validateName(name string) field.ErrorList {
	var errs field.ErrorList
	if name == "" {
		return nil // generateName; the server checks the name it generates
	}
	for _, msg := range validation.IsDNS1123Label(name) {
		errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), name, msg))
	}
	return errs
}

// validateSteps checks each step's name (a unique DNS label, not of the reserved form
// unnamed-N), image and env.
func validateSteps(p *field.Path, steps []corev1.Container) field.ErrorList {
	var errs field.ErrorList
	names := map[string]bool{}
	for i := range steps {
		s := &steps[i]
		sp := p.Index(i)
		switch {
		case s.Name == "":
		case names[s.Name]:
			errs = append(errs, field.Duplicate(sp.Child("name"), s.Name))
		case reservedStepName.MatchString(s.Name):
			errs = append(errs, field.Invalid(sp.Child("name"), s.Name, "names of the form unnamed-N are reserved for unnamed steps"))
		default:
			for _, msg := range validation.IsDNS1123Label(s.Name) {
				errs = append(errs, field.Invalid(sp.Child("name"), s.Name, msg))
			}
		}
		names[s.Name] = true
		switch {
		case s.Image == "":
			errs = append(errs, field.Required(sp.Child("image"), ""))
		case strings.IndexFunc(s.Image, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0:
			errs = append(errs, field.Invalid(sp.Child("image"), s.Image, "may not contain white space or control characters"))
		}
		errs = append(errs, validateEnv(sp.Child("env"), s.Env)...)
	}
	return errs
}

// validateEnv checks variable names and that value and valueFrom are not both set.
func validateEnv(p *field.Path, env []corev1.EnvVar) field.ErrorList {
	var errs field.ErrorList
	for i, e := range env {
		ep := p.Index(i)
		if e.Name == "" {
			errs = append(errs, field.Required(ep.Child("name"), ""))
		} else {
			for _, msg := range validation.IsEnvVarName(e.Name) {
				errs = append(errs, field.Invalid(ep.Child("name"), e.Name, msg))
			}
		}
		if e.ValueFrom != nil && e.Value != "" {
			errs = append(errs, field.Invalid(ep.Child("valueFrom"), "", "may not be set with value"))
		}
	}
	return errs
}

// validateVolumes checks that volume names are unique DNS labels.
func validateVolumes(p *field.Path, volumes []corev1.Volume) field.ErrorList {
	var errs field.ErrorList
	seen := map[string]bool{}
	for i, v := range volumes {
		np := p.Index(i).Child("name")
		switch {
		case v.Name == "":
			errs = append(errs, field.Required(np, ""))
		case seen[v.Name]:
			errs = append(errs, field.Duplicate(np, v.Name))
		default:
			for _, msg := range validation.IsDNS1123Label(v.Name) {
				errs = append(errs, field.Invalid(np, v.Name, msg))
			}
		}
		seen[v.Name] = true
	}
	return errs
}

// The reasons of a Build's Succeeded condition.
const (
	// ReasonBuilding: the build runs (Unknown).
	ReasonBuilding = "Building"
	// ReasonBuildSucceeded: every step exited 0 (True).
	ReasonBuildSucceeded = "BuildSucceeded"
	// ReasonBuildFailed: a step exited with a non-zero code or could not run (False).
	ReasonBuildFailed = "BuildFailed"
	// ReasonBuildTimeout: the build did not finish within spec.timeout (False).
	ReasonBuildTimeout = "BuildTimeout"
	// ReasonBuildCancelled: spec.status asked for the build to stop (False).
	ReasonBuildCancelled = "BuildCancelled"
	// ReasonTemplateNotFound: the template spec.template names does not exist (False).
	ReasonTemplateNotFound = "TemplateNotFound"
	// ReasonUnsatisfiedParameter: a template parameter has neither an argument nor a default
	// (False).
	ReasonUnsatisfiedParameter = "UnsatisfiedParameter"
	// ReasonSourceFailed: the source could not be fetched (False).
	ReasonSourceFailed = "SourceFailed"
)

// BuildConditionSet is the condition set of a Build: the batch condition Succeeded alone.
var BuildConditionSet = api.NewBatchConditionSet()

func (s *BuildStatus) manage() *api.ConditionManager { return BuildConditionSet.Manage(&s.Status) }

// InitializeConditions sets Succeeded to Unknown when it is missing.
func (s *BuildStatus) InitializeConditions() { s.manage().InitializeConditions() }

// Succeeded returns the Succeeded condition, or nil.
func (s *BuildStatus) Succeeded() *api.Condition { return s.GetCondition(api.ConditionSucceeded) }

// IsDone reports whether the build finished: Succeeded is True or False.
func (s *BuildStatus) IsDone() bool {
	c := s.Succeeded()
	return c.IsTrue() || c.IsFalse()
}

// IsSucceeded reports whether Succeeded is True.
func (s *BuildStatus) IsSucceeded() bool { return s.Succeeded().IsTrue() }

// MarkBuilding sets Succeeded to Unknown with reason Building and a message such as which step
// runs.
func (s *BuildStatus) MarkBuilding(format string, args ...any) {
	s.manage().MarkUnknown(api.ConditionSucceeded, ReasonBuilding, format, args...)
}

// MarkSucceeded sets Succeeded to True with reason BuildSucceeded and a message.
func (s *BuildStatus) MarkSucceeded(format string, args ...any) {
	s.manage().MarkTrue(api.ConditionSucceeded)
	c := s.Succeeded()
	c.Reason, c.Message = ReasonBuildSucceeded, fmt.Sprintf(format, args...)
}

// MarkStepFailed sets Succeeded to False with reason BuildFailed, naming the step that failed,
// its exit code and the step's own message, if any.
func (s *BuildStatus) MarkStepFailed(step string, exitCode int32, message string) {
	if message != "" {
		message = ": " + message
	}
	s.manage().MarkFalse(api.ConditionSucceeded, ReasonBuildFailed, "step %q exited with code %d%s", step, exitCode, message)
}

// MarkFailed sets Succeeded to False with the given reason, such as TemplateNotFound,
// UnsatisfiedParameter or SourceFailed.
func (s *BuildStatus) MarkFailed(reason, format string, args ...any) {
	s.manage().MarkFalse(api.ConditionSucceeded, reason, format, args...)
}

// MarkTimeout sets Succeeded to False with reason BuildTimeout.
func (s *BuildStatus) MarkTimeout(timeout time.Duration) {
	s.manage().MarkFalse(api.ConditionSucceeded, ReasonBuildTimeout, "the build did not finish within %s", timeout)
}

// MarkCancelled sets Succeeded to False with reason BuildCancelled.
func (s *BuildStatus) MarkCancelled() {
	s.manage().MarkFalse(api.ConditionSucceeded, ReasonBuildCancelled, "the build was cancelled (spec.status: %s)", BuildSpecStatusCancelled)
}

// SetStepState records the state of the named step, replacing an earlier one, and adds the
// step to StepsCompleted when it terminated with exit code 0.
func (s *BuildStatus) SetStepState(name string, state corev1.ContainerState) {
	found := false
	for i := range s.StepStates {
		if s.StepStates[i].Name == name {
			s.StepStates[i].ContainerState = state
			found = true
			break
		}
	}
	if !found {
		s.StepStates = append(s.StepStates, StepState{Name: name, ContainerState: state})
	}
	if t := state.Terminated; t != nil && t.ExitCode == 0 {
		for _, done := range s.StepsCompleted {
			if done == name {
				return
			}
		}
		s.StepsCompleted = append(s.StepsCompleted, name)
	}
}
