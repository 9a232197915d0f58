package serving_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/serving"
	"github.com/eddyplatform/eddy/api/serving/servingv1alpha1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func i64(v int64) *int64 { return &v }
func bptr(v bool) *bool  { return &v }

// The project's seed manifest: Knative's 2018 helloworld-go sample, as written then.
func TestHelloworld2018(t *testing.T) {
	objs := decodeFile(t, "helloworld-go-2018.yaml")
	if len(objs) != 1 {
		t.Fatalf("%d objects", len(objs))
	}
	old, ok := objs[0].(*servingv1alpha1.Service)
	if !ok || api.GVK(old).Version != "v1alpha1" {
		t.Fatalf("decoded %T %v", objs[0], api.GVK(objs[0]))
	}

	container := corev1.Container{
		Image: "gcr.io/knative-samples/helloworld-go",
		Env:   []corev1.EnvVar{{Name: "TARGET", Value: "Go Sample v1"}},
	}
	want := &serving.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "serving.knative.dev/v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: "helloworld-go", Namespace: "default"},
		Spec: serving.ServiceSpec{
			ConfigurationSpec: serving.ConfigurationSpec{Template: serving.RevisionTemplateSpec{
				Spec: serving.RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{container}}},
			}},
			RouteSpec: serving.RouteSpec{Traffic: []serving.TrafficTarget{{LatestRevision: bptr(true), Percent: i64(100)}}},
		},
	}
	converted, err := serving.ServiceFromV1alpha1(old)
	if err != nil {
		t.Fatal(err)
	}
	if !apiequality.Semantic.DeepEqual(converted, want) {
		t.Fatalf("ServiceFromV1alpha1:\n got %#v\nwant %#v", converted, want)
	}

	svc, ok := mustAdmit(t, old).(*serving.Service)
	if !ok || api.GVK(svc).Version != "v1" {
		t.Fatalf("admitted %T", svc)
	}
	// The admitted service is the conversion with Knative's defaults.
	container.Name = "user-container"
	container.Ports = []corev1.ContainerPort{{ContainerPort: 8080}}
	container.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{}}, SuccessThreshold: 1}
	want.Spec.Template.Spec.Containers = []corev1.Container{container}
	want.Spec.Template.Spec.TimeoutSeconds = i64(300)
	want.Spec.Template.Spec.ContainerConcurrency = i64(0)
	if !apiequality.Semantic.DeepEqual(svc.Spec, want.Spec) {
		t.Fatalf("admitted spec:\n got %#v\nwant %#v", svc.Spec, want.Spec)
	}
	if svc.Name != "helloworld-go" || svc.Namespace != "default" {
		t.Errorf("metadata %+v", svc.ObjectMeta)
	}
}

func TestKnativeDocs2019ReleaseSplit(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "knative-docs-2019-release-split.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.NewReplacer("${CURRENT}", "stock-service-example-00001", "${CANDIDATE}", "stock-service-example-00002").Replace(string(data))
	obj, err := admit(t, doc)
	if err != nil {
		t.Fatal(err)
	}
	svc := obj.(*serving.Service)
	want := []serving.TrafficTarget{
		{Tag: "current", RevisionName: "stock-service-example-00001", LatestRevision: bptr(false), Percent: i64(50)},
		{Tag: "candidate", RevisionName: "stock-service-example-00002", LatestRevision: bptr(false), Percent: i64(50)},
		{Tag: "latest", LatestRevision: bptr(true), Percent: i64(0)},
	}
	if !reflect.DeepEqual(svc.Spec.Traffic, want) {
		t.Errorf("traffic %s", trafficString(svc.Spec.Traffic))
	}
	if p := svc.Spec.Template.Spec.Containers[0].ReadinessProbe; p.HTTPGet == nil || p.HTTPGet.Path != "/" || p.PeriodSeconds != 3 || p.TCPSocket != nil {
		t.Errorf("readiness probe %+v", p)
	}
	// The placeholders as written are not revision names.
	_, err = admit(t, string(data))
	expectInvalid(t, "placeholders", err, `spec.release.revisions[0]: Invalid value: "${CURRENT}"`)
}

func TestKnativeDocs2018Configuration(t *testing.T) {
	objs := decodeFile(t, "knative-docs-2018-configuration.yaml")
	cfg := mustAdmit(t, objs[0]).(*serving.Configuration)
	tmpl := cfg.Spec.Template
	if tmpl.Labels["knative.dev/type"] != "container" {
		t.Errorf("template labels %v", tmpl.Labels)
	}
	c := tmpl.Spec.Containers[0]
	if c.Image != "github.com/knative/docs/docs/serving/samples/rest-api-go" || c.Env[0].Value != "share" || c.ReadinessProbe.InitialDelaySeconds != 3 {
		t.Errorf("container %+v", c)
	}
}

func TestV1alpha1ServiceModes(t *testing.T) {
	const head = "apiVersion: serving.knative.dev/v1alpha1\nkind: Service\nmetadata: {name: s, namespace: ns}\nspec:\n"
	const cfg = "    configuration: {revisionTemplate: {spec: {container: {image: img}}}}\n"
	cases := map[string]struct {
		doc  string
		want string
	}{
		"runLatest":         {"  runLatest:\n" + cfg, ":@latest=100"},
		"release two":       {"  release:\n    revisions: [s-a, s-b]\n    rolloutPercent: 10\n" + cfg, "current:s-a=90 candidate:s-b=10 latest:@latest=0"},
		"release one":       {"  release:\n    revisions: [s-a]\n" + cfg, "current:s-a=100 latest:@latest=0"},
		"release @latest":   {"  release:\n    revisions: [s-a, '@latest']\n    rolloutPercent: 25\n" + cfg, "current:s-a=75 candidate:@latest=25 latest:@latest=0"},
		"release no change": {"  release:\n    revisions: [s-a, s-b]\n" + cfg, "current:s-a=100 candidate:s-b=0 latest:@latest=0"},
		"pinned":            {"  pinned:\n    revisionName: s-00003\n" + cfg, ":s-00003=100"},
	}
	for name, c := range cases {
		obj, err := admit(t, head+c.doc)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		svc := obj.(*serving.Service)
		if got := trafficString(svc.Spec.Traffic); got != c.want {
			t.Errorf("%s: traffic %q, want %q", name, got, c.want)
		}
		if svc.Spec.Template.Spec.Containers[0].Image != "img" {
			t.Errorf("%s: template %+v", name, svc.Spec.Template)
		}
	}
}

// trafficString writes targets as tag:revision=percent, tag:@latest=percent for latest ones.
func trafficString(ts []serving.TrafficTarget) string {
	var parts []string
	for _, t := range ts {
		target := t.RevisionName + t.ConfigurationName
		if t.IsLatest() {
			target = "@latest"
		}
		parts = append(parts, t.Tag+":"+target+"="+strconv.FormatInt(t.GetPercent(), 10))
	}
	return strings.Join(parts, " ")
}

func TestV1alpha1ValidationNamesTheFieldsWritten(t *testing.T) {
	const head = "apiVersion: serving.knative.dev/v1alpha1\nkind: Service\nmetadata: {name: s}\nspec:\n"
	rl := func(spec string) string {
		return head + "  runLatest:\n    configuration:\n      revisionTemplate:\n" + spec
	}
	cases := map[string][]string{
		head + "  generation: 1\n": {"spec: Required value: set exactly one of runLatest, release, pinned or manual"},
		head + "  runLatest: {configuration: {revisionTemplate: {spec: {container: {image: i}}}}}\n  pinned: {revisionName: s-1}\n": {
			"spec.pinned: Forbidden: set exactly one of runLatest, release, pinned or manual (runLatest is set)"},
		head + "  manual: {}\n": {"spec.manual: Forbidden: manual mode cannot be converted"},
		rl("        spec: {container: {env: [{name: A, value: b}]}}\n"): {
			"spec.runLatest.configuration.revisionTemplate.spec.container.image: Required value"},
		rl("        spec: {timeoutSeconds: 601, containerConcurrency: 1001, container: {image: i}}\n"): {
			"spec.runLatest.configuration.revisionTemplate.spec.timeoutSeconds: Invalid value: 601",
			"spec.runLatest.configuration.revisionTemplate.spec.containerConcurrency: Invalid value: 1001"},
		rl("        spec: {concurrencyModel: Single, containerConcurrency: 4, container: {image: i}}\n"): {
			"spec.runLatest.configuration.revisionTemplate.spec.containerConcurrency: Invalid value: 4: contradicts concurrencyModel Single"},
		rl("        spec: {concurrencyModel: Many, container: {image: i}}\n"): {
			`spec.runLatest.configuration.revisionTemplate.spec.concurrencyModel: Unsupported value: "Many"`},
		rl("        spec: {buildName: b, container: {image: i, ports: [{containerPort: 8012}]}}\n"): {
			"spec.runLatest.configuration.revisionTemplate.spec.buildName: Forbidden",
			"spec.runLatest.configuration.revisionTemplate.spec.container.ports[0].containerPort: Invalid value: 8012"},
		rl("        metadata: {name: other-1}\n        spec: {container: {image: i}}\n"): {
			`spec.runLatest.configuration.revisionTemplate.metadata.name: Invalid value: "other-1": must have prefix "s-"`},
		rl("        metadata: {annotations: {autoscaling.knative.dev/minScale: '-1'}}\n        spec: {container: {image: i}}\n"): {
			`spec.runLatest.configuration.revisionTemplate.metadata.annotations[autoscaling.knative.dev/minScale]: Invalid value: "-1": must be at least 0`},
		head + "  runLatest:\n    configuration:\n      build: {steps: [{image: ko}]}\n      revisionTemplate: {spec: {container: {image: i}}}\n": {
			"spec.runLatest.configuration.build: Forbidden"},
		head + "  release: {rolloutPercent: 100, revisions: [a, b, c], configuration: {revisionTemplate: {spec: {container: {image: i}}}}}\n": {
			"spec.release.revisions: Too many: 3: must have at most 2 items",
			"spec.release.rolloutPercent: Invalid value: 100: must be between 0 and 99"},
		head + "  release: {rolloutPercent: 5, revisions: [a], configuration: {revisionTemplate: {spec: {container: {image: i}}}}}\n": {
			"spec.release.rolloutPercent: Invalid value: 5: must be 0 with a single revision"},
		head + "  release: {configuration: {revisionTemplate: {spec: {container: {image: i}}}}}\n": {"spec.release.revisions: Required value"},
		head + "  pinned: {configuration: {revisionTemplate: {spec: {container: {image: i}}}}}\n":  {"spec.pinned.revisionName: Required value"},
		"apiVersion: serving.knative.dev/v1alpha1\nkind: Route\nmetadata: {name: r}\nspec:\n  traffic:\n  - {name: a, configurationName: c, percent: 50}\n  - {name: a, revisionName: c-1, percent: 40}\n": {
			`spec.traffic[1].name: Duplicate value: "a"`, "spec.traffic: Invalid value: 90: traffic targets sum to 90, want 100"},
		"apiVersion: serving.knative.dev/v1alpha1\nkind: Revision\nmetadata: {name: r}\nspec: {container: {image: i, stdin: true}}\n": {
			"spec.container.stdin: Forbidden"},
		"apiVersion: serving.knative.dev/v1alpha1\nkind: Configuration\nmetadata: {name: c}\nspec: {revisionTemplate: {spec: {servingState: Asleep, container: {}}}}\n": {
			`spec.revisionTemplate.spec.servingState: Unsupported value: "Asleep"`, "spec.revisionTemplate.spec.container.image: Required value"},
	}
	for doc, want := range cases {
		_, err := admit(t, doc)
		expectInvalid(t, doc, err, want...)
		if err != nil && strings.Contains(err.Error(), "containers[0]") {
			t.Errorf("%s: an error names the v1 field: %v", doc, err)
		}
	}
}

func TestV1alpha1RouteRevisionConfiguration(t *testing.T) {
	obj, err := admit(t, `
apiVersion: serving.knative.dev/v1alpha1
kind: Route
metadata: {name: blue-green-demo, namespace: default}
spec:
  generation: 2
  traffic:
  - {revisionName: blue-green-demo-00001, percent: 50}
  - {name: v2, configurationName: blue-green-demo, percent: 50}
`)
	if err != nil {
		t.Fatal(err)
	}
	rt := obj.(*serving.Route)
	if got := trafficString(rt.Spec.Traffic); got != ":blue-green-demo-00001=50 v2:@latest=50" || rt.Spec.Traffic[1].ConfigurationName != "blue-green-demo" {
		t.Errorf("route traffic %q", got)
	}

	obj, err = admit(t, `
apiVersion: serving.knative.dev/v1alpha1
kind: Revision
metadata: {name: hello-00001, namespace: default, labels: {serving.knative.dev/configuration: hello}}
spec:
  servingState: Active
  concurrencyModel: Single
  serviceAccountName: builder
  timeoutSeconds: 30
  container: {image: hello}
status: {serviceName: hello-00001-service}
`)
	if err != nil {
		t.Fatal(err)
	}
	rev := obj.(*serving.Revision)
	if *rev.Spec.ContainerConcurrency != 1 || *rev.Spec.TimeoutSeconds != 30 || rev.Spec.ServiceAccountName != "builder" || rev.ConfigurationName() != "hello" {
		t.Errorf("revision %+v", rev.Spec)
	}
	if len(rev.Status.Conditions) != 0 {
		t.Errorf("the 2018 status must be dropped: %+v", rev.Status)
	}

	obj, err = admit(t, `
apiVersion: serving.knative.dev/v1alpha1
kind: Configuration
metadata: {name: hello}
spec:
  revisionTemplate:
    metadata: {name: hello-first, annotations: {autoscaling.knative.dev/class: kpa.autoscaling.knative.dev}}
    spec: {concurrencyModel: Multi, container: {image: hello, args: [serve]}}
`)
	if err != nil {
		t.Fatal(err)
	}
	cfg := obj.(*serving.Configuration)
	if cfg.Spec.Template.Name != "hello-first" || *cfg.Spec.Template.Spec.ContainerConcurrency != 0 || cfg.Spec.Template.Spec.Containers[0].Args[0] != "serve" {
		t.Errorf("configuration %+v", cfg.Spec)
	}
}

func TestV1beta1IsServedWithV1Schema(t *testing.T) {
	obj, err := admit(t, `
apiVersion: serving.knative.dev/v1beta1
kind: Service
metadata: {name: helloworld-go, namespace: default}
spec:
  template:
    spec:
      containers:
      - image: docker.io/someone/helloworld-go
        env: [{name: TARGET, value: "Go Sample v1"}]
`)
	if err != nil {
		t.Fatal(err)
	}
	if gvk := api.GVK(obj); gvk.Version != "v1" || gvk.Kind != "Service" {
		t.Errorf("stored as %v", gvk)
	}
}

func TestServiceFromV1alpha1Errors(t *testing.T) {
	for name, s := range map[string]*servingv1alpha1.Service{
		"manual": {Spec: servingv1alpha1.ServiceSpec{Manual: &servingv1alpha1.ManualType{}}},
		"none":   {},
		"three":  {Spec: servingv1alpha1.ServiceSpec{Release: &servingv1alpha1.ReleaseType{Revisions: []string{"a", "b", "c"}}}},
	} {
		if _, err := serving.ServiceFromV1alpha1(s); err == nil {
			t.Errorf("%s: converted", name)
		}
	}
}
