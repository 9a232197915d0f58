package build_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/build"
	corev1 "k8s.io/api/core/v1"
)

func TestTemplateValidation(t *testing.T) {
	for _, kind := range []string{"BuildTemplate", "ClusterBuildTemplate"} {
		head := "apiVersion: build.knative.dev/v1alpha1\nkind: " + kind + "\nmetadata: {name: t}\n"
		for _, tc := range []struct {
			name, doc string
			want      []string
		}{
			{"no steps", head + "spec: {parameters: [{name: A}]}\n", []string{"spec.steps: Required value: a template has at least one step"}},
			{"name", "apiVersion: build.knative.dev/v1alpha1\nkind: " + kind + "\nmetadata: {name: T.x}\nspec: {steps: [{image: a}]}\n", []string{"metadata.name: Invalid value: \"T.x\""}},
			{"parameter name required", head + "spec: {parameters: [{description: d}], steps: [{image: a}]}\n", []string{"spec.parameters[0].name: Required value"}},
			{"parameter names unique", head + "spec: {parameters: [{name: A}, {name: A, default: x}], steps: [{image: a}]}\n", []string{"spec.parameters[1].name: Duplicate value: \"A\""}},
			{"parameter name syntax", head + "spec: {parameters: [{name: '${A}'}, {name: 1A}], steps: [{image: a}]}\n", []string{"spec.parameters[0].name: Invalid value: \"${A}\"", "spec.parameters[1].name: Invalid value: \"1A\""}},
			{"step image", head + "spec: {steps: [{name: s}]}\n", []string{"spec.steps[0].image: Required value"}},
			{"step names", head + "spec: {steps: [{name: s, image: a}, {name: s, image: a}]}\n", []string{"spec.steps[1].name: Duplicate value: \"s\""}},
			{"step env", head + "spec: {steps: [{image: a, env: [{value: x}]}]}\n", []string{"spec.steps[0].env[0].name: Required value"}},
			{"volumes", head + "spec: {steps: [{image: a}], volumes: [{name: V, emptyDir: {}}]}\n", []string{"spec.volumes[0].name: Invalid value: \"V\""}},
		} {
			_, err := admit(t, tc.doc)
			expectInvalid(t, kind+" "+tc.name, err, tc.want...)
		}
	}
	// Parameter references are not checked: ${PWD} is a shell variable.
	if _, err := admit(t, "apiVersion: build.knative.dev/v1alpha1\nkind: BuildTemplate\nmetadata: {name: t, namespace: ns}\nspec: {parameters: [{name: my.param-1}, {name: _X}], steps: [{image: '${IMG}', args: ['${PWD}']}]}\n"); err != nil {
		t.Error(err)
	}
}

func ptr(s string) *string { return &s }

func TestApplyTemplate(t *testing.T) {
	tmpl := &build.BuildTemplateSpec{
		Parameters: []build.ParameterSpec{
			{Name: "IMAGE"},
			{Name: "DOCKERFILE", Default: ptr("/workspace/Dockerfile")},
			{Name: "EMPTY", Default: ptr("")},
			{Name: "builder.image", Default: ptr("gcr.io/kaniko-project/executor")},
		},
		Steps: []corev1.Container{{
			Name:         "build",
			Image:        "${builder.image}:${TAG}",
			Command:      []string{"/kaniko/${BIN}"},
			Args:         []string{"--dockerfile=${DOCKERFILE}", "--destination=${IMAGE}", "--x=${EMPTY}", "${PWD}", "$IMAGE", "${IMAGE}${IMAGE}"},
			WorkingDir:   "/workspace/${DIR}",
			Env:          []corev1.EnvVar{{Name: "DEST", Value: "${IMAGE}"}, {Name: "KEEP", Value: "k"}, {Name: "OVER", Value: "step"}},
			VolumeMounts: []corev1.VolumeMount{{Name: "${CACHE}", MountPath: "/cache/${IMAGE}", SubPath: "${DIR}"}},
		}},
	}
	orig := api.Clone(tmpl)
	for _, tc := range []struct {
		name    string
		args    []build.ArgumentSpec
		env     []corev1.EnvVar
		check   func(*testing.T, corev1.Container)
		wantErr string
	}{
		{
			name: "arguments and defaults",
			args: []build.ArgumentSpec{{Name: "IMAGE", Value: "reg/app"}},
			check: func(t *testing.T, s corev1.Container) {
				if s.Image != "gcr.io/kaniko-project/executor:${TAG}" {
					t.Errorf("image %q", s.Image)
				}
				want := []string{"--dockerfile=/workspace/Dockerfile", "--destination=reg/app", "--x=", "${PWD}", "$IMAGE", "reg/appreg/app"}
				if !reflect.DeepEqual(s.Args, want) {
					t.Errorf("args %q", s.Args)
				}
				if s.Env[0].Value != "reg/app" || s.VolumeMounts[0].MountPath != "/cache/reg/app" || s.Command[0] != "/kaniko/${BIN}" {
					t.Errorf("step %+v", s)
				}
			},
		},
		{
			name: "arguments override defaults and may name undeclared parameters",
			args: []build.ArgumentSpec{{Name: "IMAGE", Value: "i"}, {Name: "DOCKERFILE", Value: "Dockerfile.prod"}, {Name: "TAG", Value: "v1"}, {Name: "DIR", Value: "app"}, {Name: "CACHE", Value: "c"}, {Name: "BIN", Value: "executor"}},
			check: func(t *testing.T, s corev1.Container) {
				if s.Image != "gcr.io/kaniko-project/executor:v1" || s.Args[0] != "--dockerfile=Dockerfile.prod" || s.WorkingDir != "/workspace/app" ||
					s.Command[0] != "/kaniko/executor" || !reflect.DeepEqual(s.VolumeMounts[0], corev1.VolumeMount{Name: "c", MountPath: "/cache/i", SubPath: "app"}) {
					t.Errorf("step %+v", s)
				}
			},
		},
		{
			name: "no recursive expansion",
			args: []build.ArgumentSpec{{Name: "IMAGE", Value: "${DOCKERFILE}"}},
			check: func(t *testing.T, s corev1.Container) {
				if s.Args[1] != "--destination=${DOCKERFILE}" {
					t.Errorf("args %q", s.Args)
				}
			},
		},
		{
			name: "env overrides step env and is substituted",
			args: []build.ArgumentSpec{{Name: "IMAGE", Value: "i"}},
			env:  []corev1.EnvVar{{Name: "OVER", Value: "build:${IMAGE}"}, {Name: "NEW", Value: "n"}},
			check: func(t *testing.T, s corev1.Container) {
				want := []corev1.EnvVar{{Name: "DEST", Value: "i"}, {Name: "KEEP", Value: "k"}, {Name: "OVER", Value: "build:i"}, {Name: "NEW", Value: "n"}}
				if !reflect.DeepEqual(s.Env, want) {
					t.Errorf("env %+v", s.Env)
				}
			},
		},
		{name: "missing parameter", wantErr: "the build does not give these required template parameters: IMAGE"},
		{name: "duplicate argument", args: []build.ArgumentSpec{{Name: "IMAGE", Value: "a"}, {Name: "IMAGE", Value: "b"}}, wantErr: `the argument "IMAGE" is given twice`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			steps, err := build.ApplyTemplate(tmpl, tc.args, tc.env)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || len(steps) != 1 {
				t.Fatalf("%v %v", steps, err)
			}
			tc.check(t, steps[0])
		})
	}
	if !reflect.DeepEqual(tmpl, orig) {
		t.Errorf("ApplyTemplate modified the template:\n%+v\n%+v", tmpl, orig)
	}

	var missing *build.MissingParametersError
	_, err := build.ApplyTemplate(&build.BuildTemplateSpec{Parameters: []build.ParameterSpec{{Name: "Z"}, {Name: "A"}}, Steps: []corev1.Container{{Image: "i"}}}, nil, nil)
	if !errors.As(err, &missing) || !reflect.DeepEqual(missing.Names, []string{"A", "Z"}) {
		t.Errorf("%v", err)
	}
	_, err = build.ApplyTemplate(&build.BuildTemplateSpec{Parameters: []build.ParameterSpec{{Name: "I", Default: ptr("")}}, Steps: []corev1.Container{{Image: "${I}"}}}, nil, nil)
	if err == nil || err.Error() != `step "unnamed-0": the image is empty after substituting the template's parameters` {
		t.Errorf("empty image: %v", err)
	}
	if _, err := build.ApplyTemplate(nil, nil, nil); err == nil {
		t.Error("nil template applied")
	}
}

// TestApplyBuildpackTemplate expands the two-step template of testdata with its volumes.
func TestApplyBuildpackTemplate(t *testing.T) {
	var bp *build.BuildTemplate
	for _, o := range decodeFile(t, "templates.yaml") {
		if bt, ok := mustAdmit(t, o).(*build.BuildTemplate); ok && bt.Name == "buildpack" {
			bp = bt
		}
	}
	steps, err := build.ApplyTemplate(&bp.Spec, []build.ArgumentSpec{{Name: "IMAGE", Value: "reg/app"}, {Name: "CACHE", Value: "my-cache"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 2 || steps[0].WorkingDir != "/workspace" || steps[0].VolumeMounts[1].Name != "my-cache" ||
		steps[1].Args[0] != "reg/app" || steps[1].Env[0].Value != "true" {
		t.Errorf("steps %+v", steps)
	}
}
