package build_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/build"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// TestSeedBuilds applies the seed article's two Builds as written.
func TestSeedBuilds(t *testing.T) {
	objs := decodeFile(t, "seed-2018-example-build.yaml")
	if len(objs) != 1 {
		t.Fatalf("%d objects", len(objs))
	}
	b := mustAdmit(t, objs[0]).(*build.Build)
	if b.Name != "example-build" || b.Spec.ServiceAccountName != "build-auth-example" {
		t.Errorf("metadata/spec %+v %+v", b.ObjectMeta, b.Spec)
	}
	if g := b.Spec.Source.Git; g == nil || g.URL != "https://github.com/example/build-example.git" || g.Revision != "master" {
		t.Errorf("source %+v", b.Spec.Source)
	}
	// The key steps is written twice; the last one wins, as in every YAML decoder of 2018.
	if len(b.Spec.Steps) != 1 || b.Spec.Steps[0].Image != "gcr.io/example-builders/build-example" ||
		!reflect.DeepEqual(b.Spec.Steps[0].Args, []string{"echo", "hello-example", "build"}) {
		t.Errorf("steps %+v", b.Spec.Steps)
	}
	if got := build.StepName(0, &b.Spec.Steps[0]); got != "unnamed-0" {
		t.Errorf("step name %q", got)
	}
	if b.Timeout() != 10*time.Minute || b.Spec.Timeout.Duration != 10*time.Minute {
		t.Errorf("timeout %v", b.Spec.Timeout)
	}

	objs = decodeFile(t, "seed-2018-kaniko-build.yaml")
	kb := mustAdmit(t, objs[0]).(*build.Build)
	tmpl := kb.Spec.Template
	if tmpl == nil || tmpl.Name != "kaniko" || tmpl.Kind != build.BuildTemplateKind || len(kb.Spec.Steps) != 0 {
		t.Fatalf("template %+v", tmpl)
	}
	if !reflect.DeepEqual(tmpl.Arguments, []build.ArgumentSpec{{Name: "IMAGE", Value: "us.gcr.io/my-project/my-app"}}) {
		t.Errorf("arguments %+v", tmpl.Arguments)
	}

	// The template it names, from templates.yaml, expands with the Build's arguments.
	var kaniko *build.BuildTemplate
	for _, o := range decodeFile(t, "templates.yaml") {
		if bt, ok := mustAdmit(t, o).(*build.BuildTemplate); ok && bt.Name == "kaniko" {
			kaniko = bt
		}
	}
	steps, err := build.ApplyTemplate(&kaniko.Spec, tmpl.Arguments, tmpl.Env)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"--dockerfile=/workspace/Dockerfile", "--destination=us.gcr.io/my-project/my-app"}
	if len(steps) != 1 || !reflect.DeepEqual(steps[0].Args, want) {
		t.Errorf("steps %+v", steps)
	}
}

// TestTestdataRoundTrip admits every object of testdata, writes it back as YAML, and checks
// that decoding and admitting that gives the same object.
func TestTestdataRoundTrip(t *testing.T) {
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil || len(files) < 4 {
		t.Fatalf("%v %v", files, err)
	}
	n := 0
	for _, f := range files {
		for _, o := range decodeFile(t, filepath.Base(f)) {
			admitted := mustAdmit(t, o)
			data, err := yaml.Marshal(admitted)
			if err != nil {
				t.Fatal(err)
			}
			back, err := reg.DecodeAll(data)
			if err != nil || len(back) != 1 {
				t.Fatalf("%s: %v\n%s", f, err, data)
			}
			again := mustAdmit(t, back[0])
			if !reflect.DeepEqual(again, admitted) {
				t.Errorf("%s %s changed in the round trip:\n%#v\n%#v", f, admitted.GetName(), again, admitted)
			}
			n++
		}
	}
	if n != 7 {
		t.Errorf("%d objects in testdata, want 7", n)
	}
}

func TestLocalBuild(t *testing.T) {
	objs := decodeFile(t, "local-build.yaml")
	b := mustAdmit(t, objs[0]).(*build.Build)
	if b.Spec.Source.Local == nil || b.Spec.Source.Local.Path != "/home/eddy/src/hello" || b.Spec.Source.SubPath != "cmd/hello" {
		t.Errorf("source %+v", b.Spec.Source)
	}
	if b.Timeout() != 90*time.Minute || b.Spec.Template.Kind != build.ClusterBuildTemplateKind {
		t.Errorf("spec %+v", b.Spec)
	}
	g := mustAdmit(t, objs[1]).(*build.Build)
	if g.Spec.Source.Git.URL != "git@github.com:eddyplatform/hello.git" || len(g.Spec.Steps) != 2 {
		t.Errorf("spec %+v", g.Spec)
	}
}

func TestBuildDefaults(t *testing.T) {
	for _, tc := range []struct {
		timeout string
		want    time.Duration
	}{{"", 10 * time.Minute}, {"timeout: 0s", 10 * time.Minute}, {"timeout: 45s", 45 * time.Second}, {"timeout: 24h", 24 * time.Hour}} {
		obj, err := admit(t, "apiVersion: build.knative.dev/v1alpha1\nkind: Build\nmetadata: {name: b, namespace: ns}\nspec:\n  "+tc.timeout+"\n  template: {name: kaniko}\n")
		if err != nil {
			t.Fatalf("%q: %v", tc.timeout, err)
		}
		b := obj.(*build.Build)
		if b.Spec.Timeout == nil || b.Spec.Timeout.Duration != tc.want || b.Timeout() != tc.want {
			t.Errorf("%q: timeout %v", tc.timeout, b.Spec.Timeout)
		}
		if b.Spec.Template.Kind != build.BuildTemplateKind {
			t.Errorf("template kind %q", b.Spec.Template.Kind)
		}
		// Admitting again changes nothing.
		again := mustAdmit(t, b)
		if !reflect.DeepEqual(again, obj) {
			t.Errorf("second admission changed %+v", again)
		}
	}
	if (&build.Build{}).Timeout() != build.DefaultTimeout {
		t.Error("Timeout of an undefaulted build")
	}
}

func TestBuildValidation(t *testing.T) {
	const head = "apiVersion: build.knative.dev/v1alpha1\nkind: Build\nmetadata: {name: b, namespace: ns}\n"
	steps := "  steps: [{name: s, image: alpine}]\n"
	for _, tc := range []struct {
		name, doc string
		want      []string
	}{
		{"neither steps nor template", head + "spec: {serviceAccountName: sa}\n", []string{"spec.steps: Required value: set exactly one of steps and template"}},
		{"both", head + "spec:\n" + steps + "  template: {name: t}\n", []string{"spec.template: Forbidden: set exactly one of steps and template, not both"}},
		{"name with a dot", "apiVersion: build.knative.dev/v1alpha1\nkind: Build\nmetadata: {name: a.b}\nspec:\n" + steps, []string{"metadata.name: Invalid value: \"a.b\""}},
		{"step image", head + "spec: {steps: [{name: s}]}\n", []string{"spec.steps[0].image: Required value"}},
		{"step image space", head + "spec: {steps: [{image: 'a b'}]}\n", []string{"spec.steps[0].image: Invalid value"}},
		{"step name", head + "spec: {steps: [{name: Bad_Name, image: a}]}\n", []string{"spec.steps[0].name: Invalid value: \"Bad_Name\""}},
		{"step names unique", head + "spec: {steps: [{name: s, image: a}, {name: s, image: b}]}\n", []string{"spec.steps[1].name: Duplicate value: \"s\""}},
		{"reserved step name", head + "spec: {steps: [{name: unnamed-1, image: a}]}\n", []string{"spec.steps[0].name: Invalid value: \"unnamed-1\": names of the form unnamed-N are reserved"}},
		{"step env", head + "spec: {steps: [{image: a, env: [{name: '1X', value: v}, {value: w}]}]}\n", []string{"spec.steps[0].env[0].name: Invalid value: \"1X\"", "spec.steps[0].env[1].name: Required value"}},
		{"env value and valueFrom", head + "spec: {steps: [{image: a, env: [{name: X, value: v, valueFrom: {secretKeyRef: {name: s, key: k}}}]}]}\n", []string{"spec.steps[0].env[0].valueFrom: Invalid value"}},
		{"negative timeout", head + "spec:\n  timeout: -1m\n" + steps, []string{"spec.timeout: Invalid value: \"-1m0s\": must be positive"}},
		{"timeout over 24h", head + "spec:\n  timeout: 25h\n" + steps, []string{"spec.timeout: Invalid value: \"25h0m0s\": must be at most 24h"}},
		{"template name", head + "spec: {template: {kind: BuildTemplate}}\n", []string{"spec.template.name: Required value"}},
		{"template kind", head + "spec: {template: {name: t, kind: Pipeline}}\n", []string{"spec.template.kind: Unsupported value: \"Pipeline\""}},
		{"arguments unique", head + "spec: {template: {name: t, arguments: [{name: A, value: x}, {name: A, value: z}]}}\n", []string{"spec.template.arguments[1].name: Duplicate value: \"A\""}},
		{"argument name", head + "spec: {template: {name: t, arguments: [{name: '', value: x}, {name: 'a b', value: z}]}}\n", []string{"spec.template.arguments[0].name: Required value", "spec.template.arguments[1].name: Invalid value: \"a b\""}},
		{"template env", head + "spec: {template: {name: t, env: [{name: 'A=B'}]}}\n", []string{"spec.template.env[0].name: Invalid value"}},
		{"service account", head + "spec:\n  serviceAccountName: Bad!\n" + steps, []string{"spec.serviceAccountName: Invalid value: \"Bad!\""}},
		{"volumes", head + "spec:\n  volumes: [{name: v, emptyDir: {}}, {name: v, emptyDir: {}}, {emptyDir: {}}]\n" + steps, []string{"spec.volumes[1].name: Duplicate value: \"v\"", "spec.volumes[2].name: Required value"}},
		{"spec.status", head + "spec:\n  status: Running\n" + steps, []string{"spec.status: Unsupported value: \"Running\""}},
		{"empty source", head + "spec:\n  source: {}\n" + steps, []string{"spec.source: Required value: set one of git and local"}},
		{"git and local", head + "spec:\n  source: {git: {url: 'https://h/r'}, local: {path: /x}}\n" + steps, []string{"spec.source.local: Forbidden: set exactly one of git and local"}},
		{"gcs", head + "spec:\n  source: {gcs: {type: Archive, location: 'gs://b/o.tgz'}}\n" + steps, []string{"spec.source.gcs: Forbidden: Eddy does not fetch sources from Google Cloud Storage"}},
		{"custom", head + "spec:\n  source: {custom: {image: fetcher}}\n" + steps, []string{"spec.source.custom: Forbidden: Eddy does not run custom source containers"}},
		{"git url required", head + "spec:\n  source: {git: {url: ''}}\n" + steps, []string{"spec.source.git.url: Required value"}},
		{"git url scheme", head + "spec:\n  source: {git: {url: 'ftp://h/r'}}\n" + steps, []string{"spec.source.git.url: Invalid value: \"ftp://h/r\": the scheme must be http, https, ssh, git or file"}},
		{"git ext transport", head + "spec:\n  source: {git: {url: 'ext::sh -c touch% /tmp/x'}}\n" + steps, []string{"spec.source.git.url: Invalid value", "the scheme must be"}},
		{"git url no scheme", head + "spec:\n  source: {git: {url: 'github.com/a/b'}}\n" + steps, []string{"spec.source.git.url: Invalid value: \"github.com/a/b\": must be a URL"}},
		{"git url no host", head + "spec:\n  source: {git: {url: 'https:///a/b'}}\n" + steps, []string{"spec.source.git.url: Invalid value: \"https:///a/b\": needs a host"}},
		{"git file relative", head + "spec:\n  source: {git: {url: 'file:repo'}}\n" + steps, []string{"spec.source.git.url: Invalid value: \"file:repo\": a file URL needs an absolute path"}},
		{"git ssh option host", head + "spec:\n  source: {git: {url: 'ssh://-oProxyCommand=x/r'}}\n" + steps, []string{"spec.source.git.url: Invalid value", `may not start with "-"`}},
		{"git scp option host", head + "spec:\n  source: {git: {url: 'git@-oProxyCommand=x:r'}}\n" + steps, []string{"spec.source.git.url: Invalid value"}},
		{"git revision option", head + "spec:\n  source: {git: {url: 'https://h/r', revision: '--upload-pack=x'}}\n" + steps, []string{"spec.source.git.revision: Invalid value: \"--upload-pack=x\": may not start with \"-\""}},
		{"git revision space", head + "spec:\n  source: {git: {url: 'https://h/r', revision: 'a b'}}\n" + steps, []string{"spec.source.git.revision: Invalid value"}},
		{"git revision dotdot", head + "spec:\n  source: {git: {url: 'https://h/r', revision: 'a..b'}}\n" + steps, []string{"spec.source.git.revision: Invalid value: \"a..b\""}},
		{"local path required", head + "spec:\n  source: {local: {path: ''}}\n" + steps, []string{"spec.source.local.path: Required value"}},
		{"local path relative", head + "spec:\n  source: {local: {path: src}}\n" + steps, []string{"spec.source.local.path: Invalid value: \"src\": must be an absolute path"}},
		{"local path dotdot", head + "spec:\n  source: {local: {path: /a/../etc}}\n" + steps, []string{"spec.source.local.path: Invalid value: \"/a/../etc\""}},
		{"subPath absolute", head + "spec:\n  source: {local: {path: /a}, subPath: /b}\n" + steps, []string{"spec.source.subPath: Invalid value: \"/b\": must be a relative path"}},
		{"subPath dotdot", head + "spec:\n  source: {local: {path: /a}, subPath: b/../../c}\n" + steps, []string{"spec.source.subPath: Invalid value: \"b/../../c\""}},
	} {
		_, err := admit(t, tc.doc)
		expectInvalid(t, tc.name, err, tc.want...)
	}
}

func TestGitURLs(t *testing.T) {
	const head = "apiVersion: build.knative.dev/v1alpha1\nkind: Build\nmetadata: {name: b, namespace: ns}\nspec:\n  steps: [{image: a}]\n  source: {git: {url: '%s'}}\n"
	for _, u := range []string{
		"https://github.com/knative/build.git", "http://h:8080/r", "ssh://git@github.com/a/b.git",
		"git://h/r", "file:///srv/git/r.git", "git@github.com:a/b.git", "user@host:/abs/repo",
		"HTTPS://github.com/a/b", "ssh://git@h:2222/r",
	} {
		if _, err := admit(t, strings.Replace(head, "%s", u, 1)); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
	// A password never appears in the error, whether the URL parses or not.
	for _, u := range []string{"https://me:s3cr3t@github.com/a/b", "https://me:s3cr3t@git hub/a", "me:s3cr3t@github.com:a/b", "gopher://me:s3cr3t@h/", "https://h/r?token=s3cr3t", "https://h/r?token=s3cr3t x", "https://s3cr3t@github.com/a/b", "ftp://s3cr3t@h/r", "ssh://u:s3cr3t@h/r"} {
		_, err := admit(t, strings.Replace(head, "%s", u, 1))
		if err == nil || strings.Contains(err.Error(), "s3cr3t") || !strings.Contains(err.Error(), "spec.source.git.url") {
			t.Errorf("%s: %v", u, err)
		}
	}
}

func TestBuildValidateUpdate(t *testing.T) {
	obj, err := admit(t, "apiVersion: build.knative.dev/v1alpha1\nkind: Build\nmetadata: {name: b, namespace: ns}\nspec: {steps: [{image: a}]}\n")
	if err != nil {
		t.Fatal(err)
	}
	old := obj.(*build.Build)
	k, _ := reg.ForObject(old)
	cancelled := api.Clone(old)
	cancelled.Spec.Status = build.BuildSpecStatusCancelled
	if err := k.CheckUpdate(old, cancelled); err != nil {
		t.Errorf("cancelling: %v", err)
	}
	changed := api.Clone(old)
	changed.Spec.Steps[0].Image = "b"
	expectInvalid(t, "changed steps", k.CheckUpdate(old, changed), "spec: Forbidden: a Build's spec is immutable except spec.status")
	if !cancelled.IsCancelled() || old.IsCancelled() {
		t.Error("IsCancelled")
	}
}

func TestBuildConditions(t *testing.T) {
	var s build.BuildStatus
	s.InitializeConditions()
	if c := s.Succeeded(); c == nil || c.Status != corev1.ConditionUnknown || s.IsDone() {
		t.Fatalf("initialized %+v", s.Conditions)
	}
	s.MarkBuilding("running step %q", "compile")
	if c := s.Succeeded(); c.Reason != build.ReasonBuilding || c.Message != `running step "compile"` || s.IsDone() {
		t.Errorf("building %+v", c)
	}
	s.MarkStepFailed("compile", 2, "undefined: x")
	if c := s.Succeeded(); !c.IsFalse() || c.Reason != build.ReasonBuildFailed || c.Message != `step "compile" exited with code 2: undefined: x` || !s.IsDone() || s.IsSucceeded() {
		t.Errorf("failed %+v", c)
	}
	s.MarkStepFailed("unit", 1, "")
	if c := s.Succeeded(); c.Message != `step "unit" exited with code 1` {
		t.Errorf("failed without message %+v", c)
	}
	s.MarkTimeout(10 * time.Minute)
	if c := s.Succeeded(); c.Reason != build.ReasonBuildTimeout || c.Message != "the build did not finish within 10m0s" {
		t.Errorf("timeout %+v", c)
	}
	s.MarkCancelled()
	if c := s.Succeeded(); c.Reason != build.ReasonBuildCancelled || !strings.Contains(c.Message, "cancelled") {
		t.Errorf("cancelled %+v", c)
	}
	s.MarkFailed(build.ReasonTemplateNotFound, "no BuildTemplate %q", "kaniko")
	if c := s.Succeeded(); c.Reason != build.ReasonTemplateNotFound || c.Message != `no BuildTemplate "kaniko"` {
		t.Errorf("failed %+v", c)
	}
	s.MarkSucceeded("%d steps completed", 2)
	s.MarkSucceeded("%d steps completed", 2)
	if c := s.Succeeded(); !c.IsTrue() || c.Reason != build.ReasonBuildSucceeded || c.Message != "2 steps completed" || !s.IsSucceeded() || !s.IsDone() {
		t.Errorf("succeeded %+v", c)
	}
	if len(s.Conditions) != 1 {
		t.Errorf("conditions %+v", s.Conditions)
	}

	now := metav1.NewTime(time.Date(2018, 8, 25, 10, 0, 0, 0, time.UTC))
	s.SetStepState("compile", corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}})
	s.SetStepState("compile", corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, StartedAt: now, FinishedAt: now}})
	s.SetStepState("compile", corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0}})
	s.SetStepState("unit", corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 3, Reason: "Error"}})
	if len(s.StepStates) != 2 || s.StepStates[0].Name != "compile" || s.StepStates[0].Terminated == nil || s.StepStates[1].Terminated.ExitCode != 3 {
		t.Errorf("step states %+v", s.StepStates)
	}
	if !reflect.DeepEqual(s.StepsCompleted, []string{"compile"}) {
		t.Errorf("steps completed %v", s.StepsCompleted)
	}
}

// TestBuildStatusShape checks the status's JSON field names, which controllers and clients
// read.
func TestBuildStatusShape(t *testing.T) {
	start := metav1.NewTime(time.Date(2018, 8, 25, 10, 0, 0, 0, time.UTC))
	b := &build.Build{Status: build.BuildStatus{
		Builder: build.BuilderLocal, StartTime: &start, CompletionTime: &start,
		StepStates:     []build.StepState{{Name: "s", ContainerState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error", Message: "m"}}}},
		StepsCompleted: []string{"a"},
		Artifact:       &build.Artifact{Digest: "sha256:" + strings.Repeat("ab", 32), URI: build.ArtifactURI("ns", "b"), Size: 42},
	}}
	b.Status.MarkBuilding("")
	data, err := yaml.Marshal(b.Status)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"builder: Local", "startTime: \"2018-08-25T10:00:00Z\"", "completionTime:", "stepStates:\n- name: s\n  terminated:\n    exitCode: 1",
		"stepsCompleted:\n- a", "artifact:\n  digest: sha256:abab", "uri: build://ns/b", "size: 42", "type: Succeeded", "reason: Building",
	} {
		if !strings.Contains(string(data), want) {
			t.Errorf("status YAML lacks %q:\n%s", want, data)
		}
	}
	if !build.ValidDigest(b.Status.Artifact.Digest) || build.ValidDigest("sha256:AB") || build.ValidDigest("md5:"+strings.Repeat("a", 64)) {
		t.Error("ValidDigest")
	}
}

func TestKindsAndColumns(t *testing.T) {
	for name, kind := range map[string]string{
		"build": "Build", "builds": "Build", "bld": "Build", "builds.build.knative.dev": "Build",
		"bt": "BuildTemplate", "buildtemplate": "BuildTemplate",
		"cbt": "ClusterBuildTemplate", "clusterbuildtemplates": "ClusterBuildTemplate",
	} {
		k, err := reg.Resolve(name)
		if err != nil || k.Kind != kind || k.Group != build.Group {
			t.Errorf("Resolve(%q) = %v, %v", name, k, err)
		}
	}
	if k, _ := reg.Resolve("cbt"); k.Namespaced {
		t.Error("ClusterBuildTemplate is cluster-scoped")
	}
	_, err := admit(t, "apiVersion: build.knative.dev/v1alpha1\nkind: ClusterBuildTemplate\nmetadata: {name: c, namespace: ns}\nspec: {steps: [{image: a}]}\n")
	expectInvalid(t, "namespaced cluster template", err, "metadata.namespace: Forbidden")

	start := metav1.NewTime(time.Date(2018, 8, 25, 10, 0, 0, 0, time.FixedZone("CST", 8*3600)))
	b := &build.Build{
		Spec:   build.BuildSpec{Template: &build.TemplateInstantiationSpec{Name: "kaniko", Kind: build.BuildTemplateKind}},
		Status: build.BuildStatus{StartTime: &start, Artifact: &build.Artifact{Digest: "sha256:x"}},
	}
	k, _ := reg.Resolve("builds")
	got := map[string]string{}
	for _, c := range k.Columns {
		got[c.Name] = c.Value(b)
	}
	want := map[string]string{"STARTTIME": "2018-08-25T02:00:00Z", "COMPLETIONTIME": "", "TEMPLATE": "BuildTemplate/kaniko", "ARTIFACT": "sha256:x"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("columns %v", got)
	}

	objs := decodeFile(t, "templates.yaml")
	bt := mustAdmit(t, objs[2])
	k, _ = reg.Resolve("bt")
	got = map[string]string{}
	for _, c := range k.Columns {
		got[c.Name] = c.Value(bt)
	}
	if want := map[string]string{"PARAMETERS": "IMAGE,DIRECTORY,CACHE,USE_CRED_HELPERS", "STEPS": "2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("template columns %v", got)
	}
}

func TestTemplateStatus(t *testing.T) {
	var s build.BuildTemplateStatus
	s.InitializeConditions()
	if s.IsReady() || s.GetCondition(api.ConditionReady) == nil {
		t.Errorf("%+v", s)
	}
	s.MarkNotReady("Invalid", "bad %s", "step")
	if c := s.GetCondition(api.ConditionReady); !c.IsFalse() || c.Reason != "Invalid" || c.Message != "bad step" {
		t.Errorf("%+v", c)
	}
	s.MarkReady()
	if !s.IsReady() {
		t.Error("not ready")
	}
}

func TestSourcesFileIsCurrent(t *testing.T) {
	data, err := os.ReadFile("testdata/SOURCES.md")
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, f := range files {
		if !strings.Contains(string(data), filepath.Base(f)) {
			t.Errorf("testdata/SOURCES.md does not say where %s comes from", f)
		}
	}
}
