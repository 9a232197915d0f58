package serving_test

import (
	"strings"
	"testing"
	"time"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/serving"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
)

func TestKnativeDocsServices(t *testing.T) {
	objs := decodeFile(t, "knative-docs-autoscale-go.yaml")
	svc := mustAdmit(t, objs[0]).(*serving.Service)
	a, errs := serving.ParseAutoscaling(svc.Spec.Template.Annotations)
	if len(errs) > 0 || a.Target == nil || *a.Target != 10 {
		t.Errorf("autoscaling %+v %v", a, errs)
	}

	objs = decodeFile(t, "knative-docs-release-sample.yaml")
	svc = mustAdmit(t, objs[0]).(*serving.Service)
	if got := trafficString(svc.Spec.Traffic); got != "current:stock-service-example-first=100 latest:@latest=0" {
		t.Errorf("release sample traffic %q", got)
	}
	if svc.Spec.Template.Name != "stock-service-example-first" {
		t.Errorf("template name %q", svc.Spec.Template.Name)
	}

	objs = decodeFile(t, "knative-docs-routing-services.yaml")
	if len(objs) != 2 {
		t.Fatalf("%d services", len(objs))
	}
	for _, o := range objs {
		svc := mustAdmit(t, o).(*serving.Service)
		if p := svc.Spec.Template.Spec.Containers[0].ReadinessProbe; p.HTTPGet == nil || p.InitialDelaySeconds != 3 || p.SuccessThreshold != 1 {
			t.Errorf("%s: probe %+v", svc.Name, p)
		}
	}

	objs = decodeFile(t, "knative-docs-telemetry-route.yaml")
	rt := mustAdmit(t, objs[0]).(*serving.Route)
	if got := trafficString(rt.Spec.Traffic); got != ":@latest=100" || rt.Spec.Traffic[0].ConfigurationName != "telemetrysample-configuration" {
		t.Errorf("route traffic %q", got)
	}
}

func TestServiceDefaults(t *testing.T) {
	obj, err := admit(t, `
apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: hello, namespace: ns}
spec:
  template:
    spec:
      containers:
      - image: ghcr.io/eddy/hello
        ports: [{name: h2c}]
        resources: {limits: {cpu: "1", memory: 128Mi}, requests: {cpu: 500m}}
        volumeMounts: [{name: cfg, mountPath: /etc/cfg}, {name: scratch, mountPath: /scratch}]
      volumes:
      - {name: cfg, configMap: {name: hello-config}}
      - {name: scratch, emptyDir: {}}
`)
	if err != nil {
		t.Fatal(err)
	}
	svc := mustAdmit(t, obj).(*serving.Service)
	spec := svc.Spec.Template.Spec
	c := spec.Containers[0]
	switch {
	case *spec.TimeoutSeconds != serving.DefaultTimeoutSeconds, *spec.ContainerConcurrency != 0:
		t.Errorf("timeout %d concurrency %d", *spec.TimeoutSeconds, *spec.ContainerConcurrency)
	case c.Name != serving.DefaultUserContainerName:
		t.Errorf("container name %q", c.Name)
	case c.Ports[0].ContainerPort != 8080 || c.Ports[0].Name != "h2c" || spec.Port() != 8080:
		t.Errorf("ports %+v", c.Ports)
	case c.ReadinessProbe == nil || c.ReadinessProbe.TCPSocket == nil || c.ReadinessProbe.SuccessThreshold != 1:
		t.Errorf("readiness probe %+v", c.ReadinessProbe)
	case !c.VolumeMounts[0].ReadOnly || c.VolumeMounts[1].ReadOnly:
		t.Errorf("mounts %+v: configMap mounts are read-only, emptyDir ones are not", c.VolumeMounts)
	case spec.Timeout() != 5*time.Minute:
		t.Errorf("Timeout() = %v", spec.Timeout())
	}
	if got := trafficString(svc.Spec.Traffic); got != ":@latest=100" {
		t.Errorf("default traffic %q", got)
	}
	// Defaults keep what is set: timeoutSeconds 0 is the default, others stay.
	obj, err = admit(t, `
apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: hello}
spec:
  template:
    spec:
      timeoutSeconds: 0
      containerConcurrency: 10
      containers: [{name: app, image: i, ports: [{containerPort: 9000}], readinessProbe: {httpGet: {path: /healthz}}}]
  traffic: [{revisionName: hello-00001, percent: 100}]
`)
	if err != nil {
		t.Fatal(err)
	}
	svc = obj.(*serving.Service)
	spec = svc.Spec.Template.Spec
	c = spec.Containers[0]
	if *spec.TimeoutSeconds != 300 || *spec.ContainerConcurrency != 10 || c.Name != "app" || spec.Port() != 9000 ||
		c.ReadinessProbe.TCPSocket != nil || c.ReadinessProbe.HTTPGet.Path != "/healthz" {
		t.Errorf("defaults overrode the spec: %+v", spec)
	}
	if tt := svc.Spec.Traffic[0]; *tt.LatestRevision || tt.RevisionName != "hello-00001" {
		t.Errorf("traffic %+v", tt)
	}
}

// Each validation rule, with the path of the field it names.
func TestValidationErrors(t *testing.T) {
	svc := func(spec string) string {
		return "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: hello}\nspec:\n" + spec
	}
	tmpl := func(podSpec string) string { return svc("  template:\n    spec:\n" + podSpec) }
	route := func(traffic string) string {
		return "apiVersion: serving.knative.dev/v1\nkind: Route\nmetadata: {name: r}\nspec:\n  traffic:\n" + traffic
	}
	cases := map[string][]string{
		tmpl("      containers: []\n"):                       {"spec.template.spec.containers: Required value"},
		tmpl("      containers: [{image: a}, {image: b}]\n"): {"spec.template.spec.containers[1]: Forbidden: Eddy runs exactly one container per revision"},
		tmpl("      containers: [{env: [{name: A}]}]\n"):     {"spec.template.spec.containers[0].image: Required value"},
		tmpl("      containers: [{image: 'a b'}]\n"):         {`spec.template.spec.containers[0].image: Invalid value: "a b"`},
		tmpl("      timeoutSeconds: 601\n      containers: [{image: i}]\n"): {
			"spec.template.spec.timeoutSeconds: Invalid value: 601: must be between 1 and 600"},
		tmpl("      timeoutSeconds: -1\n      containers: [{image: i}]\n"): {"spec.template.spec.timeoutSeconds: Invalid value: -1"},
		tmpl("      containerConcurrency: 1001\n      containers: [{image: i}]\n"): {
			"spec.template.spec.containerConcurrency: Invalid value: 1001: must be between 0 (unlimited) and 1000"},
		tmpl("      containerConcurrency: -1\n      containers: [{image: i}]\n"): {"spec.template.spec.containerConcurrency: Invalid value: -1"},
		tmpl("      timeoutSeconds: 60\n      responseStartTimeoutSeconds: 61\n      idleTimeoutSeconds: 700\n      containers: [{image: i}]\n"): {
			"spec.template.spec.responseStartTimeoutSeconds: Invalid value: 61: must be between 0 and timeoutSeconds (60)",
			"spec.template.spec.idleTimeoutSeconds: Invalid value: 700"},
		tmpl("      hostNetwork: true\n      nodeName: node1\n      containers: [{image: i}]\n"): {
			"spec.template.spec.hostNetwork: Forbidden", "spec.template.spec.nodeName: Forbidden"},
		tmpl("      containers: [{image: i, stdin: true, lifecycle: {preStop: {exec: {command: [x]}}}}]\n"): {
			"spec.template.spec.containers[0].stdin: Forbidden", "spec.template.spec.containers[0].lifecycle: Forbidden"},
		tmpl("      containers: [{image: i, ports: [{containerPort: 8080}, {containerPort: 9000}]}]\n"): {
			"spec.template.spec.containers[0].ports[1]: Forbidden: more than one container port is set"},
		tmpl("      containers: [{image: i, ports: [{containerPort: 9090, name: grpc, protocol: UDP, hostPort: 80}]}]\n"): {
			"spec.template.spec.containers[0].ports[0].containerPort: Invalid value: 9090: is reserved",
			`spec.template.spec.containers[0].ports[0].name: Unsupported value: "grpc"`,
			`spec.template.spec.containers[0].ports[0].protocol: Unsupported value: "UDP"`,
			"spec.template.spec.containers[0].ports[0].hostPort: Forbidden"},
		tmpl("      containers: [{image: i, ports: [{containerPort: 70000}]}]\n"): {"containers[0].ports[0].containerPort: Invalid value: 70000"},
		tmpl("      containers: [{image: i, env: [{name: '1A', value: x}, {name: B, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]}]\n"): {
			`spec.template.spec.containers[0].env[0].name: Invalid value: "1A"`,
			"spec.template.spec.containers[0].env[1].valueFrom.fieldRef: Forbidden"},
		tmpl("      containers: [{image: i, envFrom: [{}]}]\n"): {"spec.template.spec.containers[0].envFrom[0]: Required value"},
		tmpl("      containers: [{image: i, resources: {limits: {memory: 64Mi}, requests: {memory: 128Mi}}}]\n"): {
			`spec.template.spec.containers[0].resources.requests[memory]: Invalid value: "128Mi": must be less than or equal to the memory limit (64Mi)`},
		tmpl("      containers: [{image: i, readinessProbe: {httpGet: {port: 9000}, exec: {command: [x]}, periodSeconds: -1}}]\n"): {
			"spec.template.spec.containers[0].readinessProbe.httpGet: Forbidden: a probe has one handler (exec is set)",
			"spec.template.spec.containers[0].readinessProbe.periodSeconds: Invalid value: -1",
			"spec.template.spec.containers[0].readinessProbe.httpGet.port: Invalid value: 9000: a probe may only probe the container's port (8080)"},
		tmpl("      containers: [{image: i, livenessProbe: {tcpSocket: {port: http}}}]\n"): {
			`spec.template.spec.containers[0].livenessProbe.tcpSocket.port: Invalid value: "http": must name the container's port`},
		tmpl("      containers: [{image: i, volumeMounts: [{name: nope, mountPath: /x}, {name: v, mountPath: var}, {name: v, mountPath: /tmp}]}]\n      volumes: [{name: v, secret: {secretName: s}}, {name: w, emptyDir: {}}]\n"): {
			`spec.template.spec.containers[0].volumeMounts[0].name: Not found: "nope"`,
			`spec.template.spec.containers[0].volumeMounts[1].mountPath: Invalid value: "var": must be an absolute path`,
			`spec.template.spec.containers[0].volumeMounts[2].mountPath: Invalid value: "/tmp": is a reserved path`,
			`spec.template.spec.volumes: Invalid value: "w": volumes not mounted by the container`},
		tmpl("      containers: [{image: i, volumeMounts: [{name: v, mountPath: /v}]}]\n      volumes: [{name: v, hostPath: {path: /}}, {name: v, configMap: {name: c}, secret: {secretName: s}}]\n"): {
			"spec.template.spec.volumes[0].hostPath: Forbidden",
			`spec.template.spec.volumes[1].name: Duplicate value: "v"`,
			"spec.template.spec.volumes[1].secret: Forbidden: a volume has exactly one source (configMap is set)"},
		svc("  template:\n    metadata: {name: other-00001}\n    spec: {containers: [{image: i}]}\n"): {
			`spec.template.metadata.name: Invalid value: "other-00001": must have prefix "hello-"`},
		svc("  template:\n    metadata: {name: hello-1, namespace: elsewhere, finalizers: [x]}\n    spec: {containers: [{image: i}]}\n"): {
			`spec.template.metadata.namespace: Invalid value: "elsewhere"`, "spec.template.metadata.finalizers: Forbidden"},
		svc("  template:\n    metadata: {annotations: {autoscaling.knative.dev/min-scale: x, autoscaling.knative.dev/window: 5s}}\n    spec: {containers: [{image: i}]}\n"): {
			`spec.template.metadata.annotations[autoscaling.knative.dev/min-scale]: Invalid value: "x": must be a whole number`,
			`spec.template.metadata.annotations[autoscaling.knative.dev/window]: Invalid value: "5s": must be between 6s and 1h0m0s`},
		"apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: hello, annotations: {autoscaling.knative.dev/target: '10'}, labels: {serving.knative.dev/route: x, networking.knative.dev/visibility: public}}\nspec: {template: {spec: {containers: [{image: i}]}}}\n": {
			"metadata.annotations[autoscaling.knative.dev/target]: Forbidden: autoscaling annotations must be put under spec.template.metadata.annotations",
			`metadata.labels[serving.knative.dev/route]: Invalid value: "x"`,
			`metadata.labels[networking.knative.dev/visibility]: Unsupported value: "public"`},
		"apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: 1hello}\nspec: {template: {spec: {containers: [{image: i}]}}}\n": {
			`metadata.name: Invalid value: "1hello"`},
		"apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {generateName: hello-}\nspec: {template: {metadata: {name: hello-1}, spec: {containers: [{image: i}]}}}\n": {
			"spec.template.metadata.name: Forbidden: may not be set when the object's name is generated"},
		svc("  template: {spec: {containers: [{image: i}]}}\n  traffic: [{latestRevision: true, percent: 60}, {revisionName: hello-1, percent: 30}]\n"): {
			"spec.traffic: Invalid value: 90: traffic targets sum to 90, want 100"},
		svc("  template: {spec: {containers: [{image: i}]}}\n  traffic: [{configurationName: c, percent: 100}]\n"): {
			"spec.traffic[0].configurationName: Forbidden: a Service's traffic follows its own configuration"},
		svc("  template: {spec: {containers: [{image: i}]}}\n  traffic: [{latestRevision: true, revisionName: hello-1, percent: 100}]\n"): {
			`spec.traffic[0].latestRevision: Invalid value: true: may not set revisionName "hello-1" when latestRevision is true`},
		svc("  template: {spec: {containers: [{image: i}]}}\n  traffic: [{latestRevision: false, percent: 100}]\n"): {
			`spec.traffic[0].latestRevision: Invalid value: false: may not set revisionName "" when latestRevision is false`},
		svc("  template: {spec: {containers: [{image: i}]}}\n  traffic: [{tag: a, percent: 101, url: 'http://x'}, {tag: a, revisionName: hello-1}, {tag: B_1, revisionName: hello-2, percent: -1}]\n"): {
			`spec.traffic[1].tag: Duplicate value: "a"`,
			`spec.traffic[2].tag: Invalid value: "B_1"`,
			"spec.traffic[0].percent: Invalid value: 101: must be between 0 and 100",
			"spec.traffic[2].percent: Invalid value: -1",
			"spec.traffic[0].url: Forbidden"},
		route("  - {revisionName: a-1, configurationName: a, percent: 100}\n"): {
			`spec.traffic[0].configurationName: Invalid value: "a": expected exactly one of revisionName and configurationName, got both`},
		route("  - {percent: 100}\n"): {"spec.traffic[0].revisionName: Required value: expected exactly one of revisionName and configurationName, got neither"},
		route("  - {configurationName: a, latestRevision: false, percent: 100}\n"): {
			`spec.traffic[0].latestRevision: Invalid value: false: may not set revisionName "" when latestRevision is false`},
		"apiVersion: serving.knative.dev/v1\nkind: Route\nmetadata: {name: r}\nspec: {}\n": {"spec.traffic: Invalid value: 0: traffic targets sum to 0, want 100"},
		"apiVersion: serving.knative.dev/v1\nkind: Revision\nmetadata: {name: r-1, annotations: {autoscaling.knative.dev/max-scale: '2', autoscaling.knative.dev/min-scale: '3'}}\nspec: {containers: [{image: i}]}\n": {
			`metadata.annotations[autoscaling.knative.dev/max-scale]: Invalid value: "2": max-scale=2 is less than min-scale=3`},
		"apiVersion: serving.knative.dev/v1\nkind: Configuration\nmetadata: {name: c, labels: {serving.knative.dev/revision: x}}\nspec: {template: {metadata: {name: c-1}, spec: {containers: [{image: i}], serviceAccountName: Bad_Name}}}\n": {
			`metadata.labels[serving.knative.dev/revision]: Invalid value: "x"`,
			`spec.template.spec.serviceAccountName: Invalid value: "Bad_Name"`},
	}
	for doc, want := range cases {
		_, err := admit(t, doc)
		expectInvalid(t, doc, err, want...)
	}
}

func TestValidationAcceptsControllerLabels(t *testing.T) {
	for _, doc := range []string{
		"apiVersion: serving.knative.dev/v1\nkind: Revision\nmetadata: {name: hello-00001, labels: {serving.knative.dev/configuration: hello, serving.knative.dev/configurationGeneration: '1', serving.knative.dev/service: hello}}\nspec: {containers: [{image: i}]}\n",
		"apiVersion: serving.knative.dev/v1\nkind: Configuration\nmetadata: {name: hello, labels: {serving.knative.dev/service: hello}}\nspec: {template: {spec: {containers: [{image: i}]}}}\n",
		"apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: hello, labels: {serving.knative.dev/visibility: cluster-local}}\nspec: {template: {spec: {containers: [{image: i}]}}}\n",
		"apiVersion: serving.knative.dev/v1\nkind: Route\nmetadata: {name: hello, labels: {serving.knative.dev/service: hello, networking.knative.dev/visibility: cluster-local}}\nspec: {traffic: [{configurationName: hello, percent: 100}]}\n",
	} {
		if _, err := admit(t, doc); err != nil {
			t.Errorf("%s: %v", doc, err)
		}
	}
}

func TestRevisionIsImmutable(t *testing.T) {
	const doc = "apiVersion: serving.knative.dev/v1\nkind: Revision\nmetadata: {name: hello-00001}\nspec: {containers: [{image: i, resources: {limits: {cpu: 1000m}}}]}\n"
	k, err := reg.Resolve("rev")
	if err != nil {
		t.Fatal(err)
	}
	oldObj, err := admit(t, doc)
	if err != nil {
		t.Fatal(err)
	}
	sameObj, _ := admit(t, strings.Replace(doc, "1000m", "1", 1))
	same := sameObj.(*serving.Revision)
	same.Labels = map[string]string{serving.RoutingStateLabelKey: "active"}
	same.Status.SetReplicas(1, 2)
	if err := k.CheckUpdate(oldObj, same); err != nil {
		t.Errorf("metadata, status and an equal quantity are not spec changes: %v", err)
	}
	changedObj, _ := admit(t, strings.Replace(doc, "image: i", "image: j", 1))
	changed := changedObj.(*serving.Revision)
	changed.Spec.TimeoutSeconds = i64(10)
	expectInvalid(t, "changed revision", k.CheckUpdate(oldObj, changed),
		"spec: Forbidden: a revision is immutable (changed: containers, timeoutSeconds)")
}

func TestTemplateNameMustChangeWithTemplate(t *testing.T) {
	const doc = "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: hello}\nspec: {template: {metadata: {name: hello-first}, spec: {containers: [{image: a}]}}}\n"
	k, _ := reg.Resolve("ksvc")
	old, err := admit(t, doc)
	if err != nil {
		t.Fatal(err)
	}
	for updated, want := range map[string]string{
		strings.Replace(doc, "image: a", "image: b", 1):                                                                `spec.template.metadata.name: Invalid value: "hello-first": the template changed but its name did not`,
		strings.Replace(strings.Replace(doc, "image: a", "image: b", 1), "first", "second", 1):                         "",
		strings.Replace(doc, "{name: hello-first}", "{}", 1):                                                           "",
		strings.Replace(doc, "template: {", "traffic: [{latestRevision: true, percent: 100, tag: t}], template: {", 1): "",
	} {
		obj, err := admit(t, updated)
		if err != nil {
			t.Fatal(err)
		}
		err = k.CheckUpdate(old, obj)
		if want == "" {
			if err != nil {
				t.Errorf("%s: %v", updated, err)
			}
			continue
		}
		expectInvalid(t, updated, err, want)
	}
	kc, _ := reg.Resolve("kcfg")
	cfg := func(image string) api.Object {
		obj, err := admit(t, "apiVersion: serving.knative.dev/v1\nkind: Configuration\nmetadata: {name: hello}\nspec: {template: {metadata: {name: hello-x}, spec: {containers: [{image: "+image+"}]}}}\n")
		if err != nil {
			t.Fatal(err)
		}
		return obj
	}
	expectInvalid(t, "configuration", kc.CheckUpdate(cfg("a"), cfg("b")), "spec.template.metadata.name")
}

func TestRevisionName(t *testing.T) {
	if got := serving.RevisionName("hello", 1); got != "hello-00001" {
		t.Errorf("RevisionName = %q", got)
	}
	if got := serving.RevisionName("hello", 123456); got != "hello-123456" {
		t.Errorf("RevisionName = %q", got)
	}
	long := strings.Repeat("a", 60)
	n1, n2 := serving.RevisionName(long, 1), serving.RevisionName(long+"b", 1)
	for _, n := range []string{n1, n2} {
		if len(validation.IsDNS1035Label(n)) > 0 || !strings.HasSuffix(n, "-00001") {
			t.Errorf("long name %q (%d characters) is not a DNS label ending in -00001", n, len(n))
		}
	}
	if n1 == n2 || serving.RevisionName(long, 1) != n1 {
		t.Errorf("long names not unique or not stable: %q %q", n1, n2)
	}
}

func TestRevisionConditions(t *testing.T) {
	var s serving.RevisionStatus
	s.InitializeConditions()
	if s.GetCondition(serving.RevisionConditionActive) != nil || s.IsReady() {
		t.Fatalf("after init: %+v", s.Conditions)
	}
	s.MarkResourcesAvailableTrue()
	s.MarkContainerHealthyUnknown(serving.ReasonDeploying, "waiting for the first instance")
	if c := s.GetCondition(api.ConditionReady); c.Status != corev1.ConditionUnknown || c.Reason != serving.ReasonDeploying {
		t.Errorf("Ready = %+v", c)
	}
	s.MarkContainerHealthyTrue()
	s.MarkActiveFalse(serving.ReasonNoTraffic, "The target is not receiving traffic.")
	if !s.IsReady() || s.IsActive() {
		t.Errorf("a revision scaled to zero is Ready and not Active: %+v", s.Conditions)
	}
	s.MarkActiveUnknown(serving.ReasonActivating, "scaling from zero")
	s.MarkActiveTrue()
	s.SetReplicas(2, 3)
	if !s.IsActive() || *s.ActualReplicas != 2 || *s.DesiredReplicas != 3 {
		t.Errorf("active %+v", s)
	}
	s.MarkContainerExiting(1, "panic: boom")
	c := s.GetCondition(api.ConditionReady)
	if c.Status != corev1.ConditionFalse || c.Reason != "ExitCode1" || c.Message != "Container failed with: panic: boom" {
		t.Errorf("Ready = %+v", c)
	}
	s.MarkResourcesAvailableFalse(serving.ReasonContainerMissing, "image %q not found", "x")
	s.MarkResourcesAvailableUnknown(serving.ReasonDeploying, "")
	s.MarkContainerHealthyFalse(serving.ReasonProgressDeadlineExceeded, "no instance became ready in %s", "2m")
	if c := s.GetCondition(api.ConditionReady); c.Reason != serving.ReasonProgressDeadlineExceeded {
		t.Errorf("Ready = %+v", c)
	}
}

func TestConfigurationRouteServiceConditions(t *testing.T) {
	var cs serving.ConfigurationStatus
	cs.InitializeConditions()
	cs.SetLatestCreatedRevisionName("hello-00001")
	if cs.IsReady() {
		t.Fatal("ready before a revision is")
	}
	cs.SetLatestReadyRevisionName("hello-00001")
	if !cs.IsReady() {
		t.Fatalf("not ready: %+v", cs.Conditions)
	}
	cs.SetLatestCreatedRevisionName("hello-00002")
	cs.MarkLatestCreatedFailed("hello-00002", "exit 1")
	if c := cs.GetCondition(api.ConditionReady); c.Status != corev1.ConditionFalse || c.Reason != serving.ReasonRevisionFailed ||
		c.Message != `Revision "hello-00002" failed with message: exit 1.` {
		t.Errorf("Ready = %+v", c)
	}

	var rs serving.RouteStatus
	rs.InitializeConditions()
	rs.MarkConfigurationNotReady("hello")
	rs.MarkIngressReady()
	if c := rs.GetCondition(api.ConditionReady); c.Status != corev1.ConditionUnknown || c.Reason != serving.ReasonRevisionMissing {
		t.Errorf("route Ready = %+v", c)
	}
	rs.MarkTrafficAssigned()
	rs.URL = "http://hello.default.example.com"
	rs.SetAddress("http://hello.default.svc.cluster.local")
	rs.Traffic = []serving.TrafficTarget{{RevisionName: "hello-00001", LatestRevision: bptr(true), Percent: i64(100)}}
	if !rs.IsReady() || rs.AddressURL() != "http://hello.default.svc.cluster.local" {
		t.Errorf("route %+v", rs)
	}

	var ss serving.ServiceStatus
	ss.InitializeConditions()
	ss.PropagateConfigurationStatus(&cs)
	ss.PropagateRouteStatus(&rs)
	if ss.IsReady() || ss.LatestCreatedRevisionName != "hello-00002" || ss.URL != rs.URL || len(ss.Traffic) != 1 {
		t.Errorf("service %+v", ss)
	}
	if c := ss.GetCondition(api.ConditionReady); c.Reason != serving.ReasonRevisionFailed {
		t.Errorf("service Ready = %+v", c)
	}
	cs.SetLatestReadyRevisionName("hello-00002")
	ss.PropagateConfigurationStatus(&cs)
	if !ss.IsReady() {
		t.Errorf("service not ready: %+v", ss.Conditions)
	}
	ss.MarkRouteNotOwned("hello")
	if c := ss.GetCondition(api.ConditionReady); c.Reason != serving.ReasonNotOwned {
		t.Errorf("service Ready = %+v", c)
	}
	rs.MarkMissingTrafficTarget("Revision", "gone")
	if c := rs.GetCondition(serving.RouteConditionAllTrafficAssigned); c.Reason != "RevisionMissing" || c.Status != corev1.ConditionFalse {
		t.Errorf("AllTrafficAssigned = %+v", c)
	}
	rs.SetAddress("")
	if rs.Address != nil {
		t.Error("address not cleared")
	}
}

func TestNamesAndColumns(t *testing.T) {
	for name, kind := range map[string]string{
		"ksvc": "Service", "kservice": "Service", "service": "Service", "services.serving.knative.dev": "Service",
		"kcfg": "Configuration", "config": "Configuration", "cfg": "Configuration", "configurations": "Configuration",
		"rev": "Revision", "revisions": "Revision", "rt": "Route", "route": "Route",
	} {
		k, err := reg.Resolve(name)
		if err != nil || k.Kind != kind || k.Group != serving.Group {
			t.Errorf("Resolve(%q) = %v, %v", name, k, err)
		}
	}
	columns := func(kind string, o api.Object) string {
		k, _ := reg.Resolve(kind)
		var cells []string
		for _, c := range k.Columns {
			cells = append(cells, c.Name+"="+c.Value(o))
		}
		return strings.Join(cells, " ")
	}
	svc := &serving.Service{}
	svc.Status.URL = "http://hello.default.example.com"
	svc.Status.LatestCreatedRevisionName, svc.Status.LatestReadyRevisionName = "hello-00002", "hello-00001"
	if got := columns("ksvc", svc); got != "URL=http://hello.default.example.com LATESTCREATED=hello-00002 LATESTREADY=hello-00001" {
		t.Errorf("ksvc columns %q", got)
	}
	rev := &serving.Revision{}
	rev.Labels = map[string]string{serving.ConfigurationLabelKey: "hello", serving.ConfigurationGenerationLabelKey: "2"}
	rev.Status.SetReplicas(1, 3)
	if got := columns("rev", rev); got != "CONFIG NAME=hello GENERATION=2 ACTUAL REPLICAS=1 DESIRED REPLICAS=3" {
		t.Errorf("revision columns %q", got)
	}
	if got := columns("rev", &serving.Revision{}); got != "CONFIG NAME= GENERATION= ACTUAL REPLICAS= DESIRED REPLICAS=" {
		t.Errorf("empty revision columns %q", got)
	}
	cfg := &serving.Configuration{}
	cfg.Status.LatestCreatedRevisionName = "c-1"
	if got := columns("kcfg", cfg); got != "LATESTCREATED=c-1 LATESTREADY=" {
		t.Errorf("configuration columns %q", got)
	}
	rt := &serving.Route{}
	rt.Status.URL = "http://r"
	if got := columns("rt", rt); got != "URL=http://r" {
		t.Errorf("route columns %q", got)
	}
}

func TestRevisionSpecHelpers(t *testing.T) {
	var rs serving.RevisionSpec
	if rs.Container() != nil || rs.Port() != 8080 || rs.Timeout() != 300*time.Second {
		t.Errorf("empty spec helpers")
	}
	rs.Containers = []corev1.Container{{Image: "i", Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}}}}
	rs.TimeoutSeconds = i64(30)
	if rs.Container().Image != "i" || rs.Timeout() != 30*time.Second {
		t.Errorf("helpers %+v", rs)
	}
}
