package build_test

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/build"
	corev1 "k8s.io/api/core/v1"
)

// FuzzDecodeAdmit feeds arbitrary documents of the build kinds through decoding and admission:
// nothing may panic, an admitted object must survive the store's unstructured form, and
// admitting it again must change nothing (defaulting is idempotent and validation accepts what
// it admitted).
func FuzzDecodeAdmit(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, seed := range []string{
		"apiVersion: build.knative.dev/v1alpha1\nkind: Build\nmetadata: {name: b}\nspec: {timeout: 0s, steps: [{image: a}], source: {git: {url: 'git@h:r', revision: main}}}\n",
		"apiVersion: build.knative.dev/v1alpha1\nkind: Build\nmetadata: {name: b}\nspec: {timeout: 90m, template: {name: t, kind: ClusterBuildTemplate, arguments: [{name: A, value: b}]}, status: BuildCancelled}\n",
		`{"apiVersion":"build.knative.dev/v1alpha1","kind":"Build","metadata":{"name":"b"},"spec":{"steps":[{"image":"a"}],"source":{"local":{"path":"/x"},"subPath":"y"}},"status":{"stepStates":[{"name":"a","terminated":{"exitCode":1}}]}}`,
		"apiVersion: build.knative.dev/v1alpha1\nkind: ClusterBuildTemplate\nmetadata: {name: c}\nspec: {parameters: [{name: A, default: ''}], steps: [{image: '${A}'}], volumes: [{name: v, emptyDir: {}}]}\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, _ := reg.DecodeAll(data)
		for _, o := range objs {
			admitted, k, err := reg.Admit(o)
			if err != nil {
				continue
			}
			u, err := api.ToUnstructured(admitted)
			if err != nil {
				t.Fatalf("admitted object does not encode: %v", err)
			}
			back := k.NewStorage()
			if err := api.FromUnstructured(u, back); err != nil {
				t.Fatalf("admitted object does not decode from its stored form: %v", err)
			}
			again, _, err := reg.Admit(back)
			if err != nil {
				t.Fatalf("an admitted %s is rejected when admitted again: %v", k.Kind, err)
			}
			u2, _ := api.ToUnstructured(again)
			if !reflect.DeepEqual(u.Object, u2.Object) {
				t.Fatalf("admitting a %s twice changed it:\n%v\n%v", k.Kind, u.Object, u2.Object)
			}
		}
	})
}

// FuzzApplyTemplate expands arbitrary step text with arbitrary argument values: it must not
// panic, must leave the template as it was, and must expand exactly as a plain left-to-right
// scan for ${NAME} of the given names does.
func FuzzApplyTemplate(f *testing.F) {
	f.Add("--destination=${IMAGE}", "${DOCKERFILE}", "reg/app", "IMAGE")
	f.Add("${IMAGE}${IMAGE}$", "$${IMAGE}}", "${", "X")
	f.Add("${IMAGE}AGE}", "}", "${IM", "IMAGE")
	f.Add("${", "}", "", "")
	f.Fuzz(func(t *testing.T, arg, dockerfile, value, name string) {
		if !paramName.MatchString(name) {
			return
		}
		tmpl := &build.BuildTemplateSpec{
			Parameters: []build.ParameterSpec{{Name: "IMAGE"}, {Name: "DOCKERFILE", Default: &dockerfile}},
			Steps:      []corev1.Container{{Image: "img", Args: []string{arg}, WorkingDir: dockerfile, Env: []corev1.EnvVar{{Name: "E", Value: arg}}}},
		}
		values := map[string]string{"IMAGE": value, "DOCKERFILE": dockerfile}
		args := []build.ArgumentSpec{{Name: "IMAGE", Value: value}}
		if name != "IMAGE" {
			args = append(args, build.ArgumentSpec{Name: name, Value: value + "!"})
			values[name] = value + "!"
		}
		steps, err := build.ApplyTemplate(tmpl, args, []corev1.EnvVar{{Name: "O", Value: arg}})
		if err != nil {
			return
		}
		if len(steps) != 1 || tmpl.Steps[0].Args[0] != arg || tmpl.Steps[0].WorkingDir != dockerfile {
			t.Fatalf("steps %+v, template %+v", steps, tmpl)
		}
		s := steps[0]
		for _, c := range [][2]string{{s.Args[0], arg}, {s.WorkingDir, dockerfile}, {s.Env[0].Value, arg}, {s.Env[1].Value, arg}} {
			if want := expand(c[1], values); c[0] != want {
				t.Fatalf("%q expanded to %q, want %q (values %q)", c[1], c[0], want, values)
			}
		}
	})
}

var paramName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`)

// expand is the reference expansion: scan left to right, replacing ${NAME} (names tried in
// sorted order) by its value, and copying everything else.
func expand(s string, values map[string]string) string {
	names := make([]string, 0, len(values))
	for n := range values {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for i := 0; i < len(s); {
		matched := false
		for _, n := range names {
			if p := "${" + n + "}"; strings.HasPrefix(s[i:], p) {
				b.WriteString(values[n])
				i += len(p)
				matched = true
				break
			}
		}
		if !matched {
			b.WriteByte(s[i])
			i++
		}
	}
	return b.String()
}
