// Package builtin holds Eddy's built-in build templates and builders.
//
// A template is a list of steps with ${PARAM} placeholders, as a Knative BuildTemplate: the
// build reconciler serves each one as a ClusterBuildTemplate of the same name. The
// templates are:
//
//   - go-function: builds a Go main package of the source (parameter PACKAGE, default ".",
//     and GOFLAGS) with `go build -trimpath -o $(ARTIFACT) ./PACKAGE`, into a binary the
//     process runtime runs as a Service's container command.
//   - script: runs the shell script SCRIPT with /bin/sh -c in the workspace.
//
// A builder is a step image Eddy's own executors know how to run without a container
// runtime: a step whose image is a builder's and that has no command runs the builder's
// command followed by the step's args. The builders are eddy.dev/builder/go (the go
// command) and eddy.dev/builder/shell (/bin/sh -c).
package builtin

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// The builder images.
const (
	// GoImage runs the go command with the step's args.
	GoImage = "eddy.dev/builder/go"
	// ShellImage runs /bin/sh -c with the step's args: the first is the script.
	ShellImage = "eddy.dev/builder/shell"
)

// Builder is a step image that Eddy's executors run as a command.
type Builder struct {
	// Image is the step image that names the builder (a tag, as in
	// eddy.dev/builder/go:latest, is ignored).
	Image string
	// Description says what the builder runs.
	Description string
	// Command is what runs, followed by the step's args. For GoImage it is "go", which an
	// executor may replace with the go command it is configured with.
	Command []string
}

// Builders returns the builders.
func Builders() []Builder {
	return []Builder{
		{Image: GoImage, Description: "The go command, run with the step's args.", Command: []string{"go"}},
		{Image: ShellImage, Description: "A POSIX shell, run as /bin/sh -c with the step's args (the first is the script).", Command: []string{"/bin/sh", "-c"}},
	}
}

// LookupBuilder returns the builder an image names, ignoring a tag; ok is false for any
// other image.
func LookupBuilder(image string) (b Builder, ok bool) {
	name := image
	if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') {
		name = name[:i]
	}
	for _, b := range Builders() {
		if b.Image == name {
			return b, true
		}
	}
	return Builder{}, false
}

// Param is a parameter of a template.
type Param struct {
	// Name is what ${Name} placeholders refer to.
	Name string
	// Description says what the parameter means.
	Description string
	// Default is the value used when a build gives none, unless Required.
	Default string
	// Required is true when a build must give a value (Default is not used).
	Required bool
}

// Template is a built-in build template.
type Template struct {
	// Name is the template's name, and the name of the ClusterBuildTemplate serving it.
	Name string
	// Description says what the template builds.
	Description string
	// Parameters are the template's parameters.
	Parameters []Param
	// Steps are the template's steps, with ${PARAM} placeholders.
	Steps []corev1.Container
}

// The templates' names.
const (
	// GoFunction is the name of the template that builds a Go program.
	GoFunction = "go-function"
	// Script is the name of the template that runs a shell script.
	Script = "script"
)

// Templates returns the built-in templates, sorted by name. Each call returns new copies.
func Templates() []Template {
	return []Template{
		{
			Name: GoFunction,
			Description: "Builds a Go main package of the source into a binary (the build's artifact) " +
				"that serves HTTP on $PORT, for the process runtime to run.",
			Parameters: []Param{
				{Name: "PACKAGE", Description: "The main package's directory, relative to the source's root.", Default: "."},
				{Name: "GOFLAGS", Description: "Flags for the go command, as its GOFLAGS variable (for example -mod=vendor)."},
			},
			Steps: []corev1.Container{{
				Name:  "build",
				Image: GoImage,
				Args:  []string{"build", "-trimpath", "-o", "$(ARTIFACT)", "./${PACKAGE}"},
				Env:   []corev1.EnvVar{{Name: "GOFLAGS", Value: "${GOFLAGS}"}},
			}},
		},
		{
			Name:        Script,
			Description: "Runs a shell script with /bin/sh -c in the workspace; what it writes at $ARTIFACT is the build's artifact.",
			Parameters: []Param{
				{Name: "SCRIPT", Description: "The script.", Required: true},
			},
			Steps: []corev1.Container{{
				Name:  "script",
				Image: ShellImage,
				Args:  []string{"${SCRIPT}"},
			}},
		},
	}
}

// Lookup returns the built-in template of that name.
func Lookup(name string) (Template, bool) {
	for _, t := range Templates() {
		if t.Name == name {
			return t, true
		}
	}
	return Template{}, false
}

// Instantiate returns t's steps with its parameters substituted: the value in args, or else
// the parameter's default. It fails for a required parameter without a value and for a
// value of a parameter t does not have.
func (t Template) Instantiate(args map[string]string) ([]corev1.Container, error) {
	values := make(map[string]string, len(t.Parameters))
	for _, p := range t.Parameters {
		v, ok := args[p.Name]
		if !ok {
			if p.Required {
				return nil, fmt.Errorf("template %s: parameter %s is required", t.Name, p.Name)
			}
			v = p.Default
		}
		values[p.Name] = v
	}
	var unknown []string
	for name := range args {
		if _, ok := values[name]; !ok {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, fmt.Errorf("template %s has no parameter %s", t.Name, strings.Join(unknown, ", "))
	}
	return Substitute(t.Steps, values), nil
}

// Substitute returns copies of steps with every ${NAME} placeholder whose NAME is in params
// replaced by its value, as Knative substitutes a template's parameters: in each step's
// name, image, command, args, workingDir and env values. Placeholders of other names are
// left as they are, and substituted values are not searched again.
func Substitute(steps []corev1.Container, params map[string]string) []corev1.Container {
	out := make([]corev1.Container, len(steps))
	for i, s := range steps {
		c := *s.DeepCopy()
		c.Name = SubstituteString(c.Name, params)
		c.Image = SubstituteString(c.Image, params)
		c.WorkingDir = SubstituteString(c.WorkingDir, params)
		c.Command = substituteAll(c.Command, params)
		c.Args = substituteAll(c.Args, params)
		for j := range c.Env {
			c.Env[j].Value = SubstituteString(c.Env[j].Value, params)
		}
		out[i] = c
	}
	return out
}

func substituteAll(ss []string, params map[string]string) []string {
	if ss == nil {
		return nil
	}
	out := slices.Clone(ss)
	for i := range out {
		out[i] = SubstituteString(out[i], params)
	}
	return out
}

// SubstituteString replaces each ${NAME} in s whose NAME is in params by its value, in one
// pass from left to right.
func SubstituteString(s string, params map[string]string) string {
	if !strings.Contains(s, "${") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			break
		}
		end := strings.IndexByte(s[i+2:], '}')
		if end < 0 {
			break
		}
		name := s[i+2 : i+2+end]
		v, ok := params[name]
		b.WriteString(s[:i])
		if ok {
			b.WriteString(v)
			s = s[i+3+end:]
		} else {
			// Not a parameter: keep "${" and look for placeholders after it, so that
			// "${x ${NAME}" still has NAME substituted.
			b.WriteString("${")
			s = s[i+2:]
		}
	}
	b.WriteString(s)
	return b.String()
}
