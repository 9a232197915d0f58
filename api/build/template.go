package build

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/eddyplatform/eddy/api"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// BuildTemplate is a parameterised list of steps that Builds in its namespace instantiate.
type BuildTemplate struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              BuildTemplateSpec   `json:"spec,omitempty"`
	Status            BuildTemplateStatus `json:"status,omitempty"`
}

// ClusterBuildTemplate is a BuildTemplate that Builds of every namespace may instantiate.
type ClusterBuildTemplate struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              BuildTemplateSpec   `json:"spec,omitempty"`
	Status            BuildTemplateStatus `json:"status,omitempty"`
}

// BuildTemplateSpec is the content of a BuildTemplate or ClusterBuildTemplate.
type BuildTemplateSpec struct {
	// Parameters are the names ${NAME} the steps may use, with optional defaults.
	Parameters []ParameterSpec `json:"parameters,omitempty"`
	// Steps are the build's steps, at least one.
	Steps []corev1.Container `json:"steps,omitempty"`
	// Volumes are added to the volumes of the Builds that use the template.
	Volumes []corev1.Volume `json:"volumes,omitempty"`
}

// ParameterSpec declares one template parameter.
type ParameterSpec struct {
	// Name is what ${Name} refers to.
	Name string `json:"name"`
	// Description explains the parameter to the template's users.
	Description string `json:"description,omitempty"`
	// Default is the value when a Build gives no argument; without one the argument is
	// required.
	Default *string `json:"default,omitempty"`
}

// BuildTemplateStatus is the observed state of a template: its Ready condition.
type BuildTemplateStatus struct {
	api.Status `json:",inline"`
}

// TemplateConditionSet is the condition set of BuildTemplate and ClusterBuildTemplate: Ready
// alone, set by their reconciler.
var TemplateConditionSet = api.NewLivingConditionSet()

// GetStatus returns the condition-bearing part of the status.
func (t *BuildTemplate) GetStatus() *api.Status { return &t.Status.Status }

// GetStatus returns the condition-bearing part of the status.
func (t *ClusterBuildTemplate) GetStatus() *api.Status { return &t.Status.Status }

// Validate checks the name (a DNS label) and the spec.
func (t *BuildTemplate) Validate() field.ErrorList {
	return append(validateName(t.Name), t.Spec.Validate(field.NewPath("spec"))...)
}

// Validate checks the name (a DNS label) and the spec.
func (t *ClusterBuildTemplate) Validate() field.ErrorList {
	return append(validateName(t.Name), t.Spec.Validate(field.NewPath("spec"))...)
}

func (s *BuildTemplateStatus) manage() *api.ConditionManager {
	return TemplateConditionSet.Manage(&s.Status)
}

// InitializeConditions sets Ready to Unknown when it is missing.
func (s *BuildTemplateStatus) InitializeConditions() { s.manage().InitializeConditions() }

// MarkReady sets Ready to True.
func (s *BuildTemplateStatus) MarkReady() { s.manage().MarkTrue(api.ConditionReady) }

// MarkNotReady sets Ready to False with a reason.
func (s *BuildTemplateStatus) MarkNotReady(reason, format string, args ...any) {
	s.manage().MarkFalse(api.ConditionReady, reason, format, args...)
}

// IsReady reports whether Ready is True.
func (s *BuildTemplateStatus) IsReady() bool { return s.manage().IsHappy() }

var paramNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`)

const paramNameMsg = `must start with a letter or "_" and hold only letters, digits, "_", "." and "-"`

// Validate checks, at p: parameter names (required, unique, letters, digits, "_", "." and
// "-"), at least one step, the steps as a Build's, and the volumes.
func (s *BuildTemplateSpec) Validate(p *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := map[string]bool{}
	for i, prm := range s.Parameters {
		np := p.Child("parameters").Index(i).Child("name")
		switch {
		case prm.Name == "":
			errs = append(errs, field.Required(np, ""))
		case seen[prm.Name]:
			errs = append(errs, field.Duplicate(np, prm.Name))
		case !paramNameRE.MatchString(prm.Name):
			errs = append(errs, field.Invalid(np, prm.Name, paramNameMsg))
		}
		seen[prm.Name] = true
	}
	if len(s.Steps) == 0 {
		errs = append(errs, field.Required(p.Child("steps"), "a template has at least one step"))
	}
	errs = append(errs, validateSteps(p.Child("steps"), s.Steps)...)
	return append(errs, validateVolumes(p.Child("volumes"), s.Volumes)...)
}

// MissingParametersError is ApplyTemplate's error when parameters without a default have no
// argument.
type MissingParametersError struct {
	// Names are the missing parameters, sorted.
	Names []string
}

func (e *MissingParametersError) Error() string {
	return "the build does not give these required template parameters: " + strings.Join(e.Names, ", ")
}

// ApplyTemplate returns the steps of tmpl for a Build with these arguments and env (the
// Build's spec.template.arguments and spec.template.env). ${NAME} in each step's image,
// command, args, env values, workingDir and volumeMounts (name, mountPath, subPath), and in the
// values of env, is replaced in one pass by the argument NAME, else by parameter NAME's
// default; other ${…} are left as they are. env is then added to every step, replacing step
// variables of the same name. tmpl is not modified.
//
// It fails with a *MissingParametersError when a parameter has neither an argument nor a
// default. It also fails when an argument is given twice and when a step's image is empty
// after substitution.
func ApplyTemplate(tmpl *BuildTemplateSpec, args []ArgumentSpec, env []corev1.EnvVar) ([]corev1.Container, error) {
	if tmpl == nil {
		return nil, errors.New("no template to apply")
	}
	values := map[string]string{}
	for _, p := range tmpl.Parameters {
		if p.Default != nil {
			values[p.Name] = *p.Default
		}
	}
	given := map[string]bool{}
	for _, a := range args {
		if given[a.Name] {
			return nil, fmt.Errorf("the argument %q is given twice", a.Name)
		}
		given[a.Name] = true
		values[a.Name] = a.Value
	}
	var missing []string
	for _, p := range tmpl.Parameters {
		if _, ok := values[p.Name]; !ok {
			missing = append(missing, p.Name)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, &MissingParametersError{Names: missing}
	}
	names := make([]string, 0, len(values))
	for n := range values {
		names = append(names, n)
	}
	sort.Strings(names)
	pairs := make([]string, 0, 2*len(names))
	for _, n := range names {
		pairs = append(pairs, "${"+n+"}", values[n])
	}
	r := strings.NewReplacer(pairs...)

	steps := make([]corev1.Container, len(tmpl.Steps))
	for i := range tmpl.Steps {
		tmpl.Steps[i].DeepCopyInto(&steps[i])
	}
	override := copyEnv(env)
	for i := range override {
		override[i].Value = r.Replace(override[i].Value)
	}
	for i := range steps {
		s := &steps[i]
		s.Image = r.Replace(s.Image)
		replaceAll(r, s.Command)
		replaceAll(r, s.Args)
		for j := range s.Env {
			s.Env[j].Value = r.Replace(s.Env[j].Value)
		}
		s.WorkingDir = r.Replace(s.WorkingDir)
		for j := range s.VolumeMounts {
			m := &s.VolumeMounts[j]
			m.Name, m.MountPath, m.SubPath = r.Replace(m.Name), r.Replace(m.MountPath), r.Replace(m.SubPath)
		}
		if strings.TrimSpace(s.Image) == "" {
			return nil, fmt.Errorf("step %q: the image is empty after substituting the template's parameters", StepName(i, s))
		}
		if len(override) > 0 {
			s.Env = overrideEnv(s.Env, copyEnv(override))
		}
	}
	return steps, nil
}

func copyEnv(env []corev1.EnvVar) []corev1.EnvVar {
	if env == nil {
		return nil
	}
	out := make([]corev1.EnvVar, len(env))
	for i := range env {
		env[i].DeepCopyInto(&out[i])
	}
	return out
}

func replaceAll(r *strings.Replacer, list []string) {
	for i := range list {
		list[i] = r.Replace(list[i])
	}
}

// overrideEnv returns env without the variables override names, followed by override.
func overrideEnv(env, override []corev1.EnvVar) []corev1.EnvVar {
	names := map[string]bool{}
	for _, e := range override {
		names[e.Name] = true
	}
	out := make([]corev1.EnvVar, 0, len(env)+len(override))
	for _, e := range env {
		if !names[e.Name] {
			out = append(out, e)
		}
	}
	return append(out, override...)
}
