package serving_test

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/eddyplatform/eddy/api"
)

// FuzzDecodeAdmit feeds arbitrary YAML or JSON documents of the serving kinds, in all served
// versions, through decoding and admission: nothing may panic, an admitted object must survive
// the store's unstructured form, and admitting it again must change nothing (defaulting is
// idempotent and validation accepts what it admitted).
func FuzzDecodeAdmit(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, seed := range []string{
		"apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: s, namespace: ns}\nspec:\n  template:\n    metadata: {name: s-a, annotations: {autoscaling.knative.dev/min-scale: '1', autoscaling.knative.dev/window: 60s}}\n    spec:\n      containerConcurrency: 5\n      timeoutSeconds: 30\n      containers: [{image: i, ports: [{containerPort: 9000, name: h2c}], env: [{name: A, valueFrom: {secretKeyRef: {name: s, key: k}}}], resources: {limits: {cpu: 500m}}, volumeMounts: [{name: v, mountPath: /v}]}]\n      volumes: [{name: v, configMap: {name: c}}]\n  traffic: [{tag: a, revisionName: s-a, percent: 40}, {latestRevision: true, percent: 60}]\n",
		"apiVersion: serving.knative.dev/v1\nkind: Route\nmetadata: {name: r}\nspec: {traffic: [{configurationName: c, percent: 100, tag: t}]}\n",
		"apiVersion: serving.knative.dev/v1\nkind: Configuration\nmetadata: {name: c}\nspec: {template: {spec: {containers: [{image: i, readinessProbe: {httpGet: {path: /h}}}]}}}\n",
		`{"apiVersion":"serving.knative.dev/v1","kind":"Revision","metadata":{"name":"c-00001","labels":{"serving.knative.dev/configuration":"c"}},"spec":{"containers":[{"image":"i"}]}}`,
		"apiVersion: serving.knative.dev/v1beta1\nkind: Service\nmetadata: {name: s}\nspec: {template: {spec: {containers: [{image: i}]}}}\n",
		"apiVersion: serving.knative.dev/v1alpha1\nkind: Service\nmetadata: {name: s}\nspec:\n  release:\n    revisions: [s-1, '@latest']\n    rolloutPercent: 10\n    configuration: {revisionTemplate: {spec: {concurrencyModel: Single, container: {image: i}}}}\n",
		"apiVersion: serving.knative.dev/v1alpha1\nkind: Service\nmetadata: {name: s}\nspec: {pinned: {revisionName: s-1, configuration: {revisionTemplate: {spec: {container: {image: i}}}}}}\n",
		"apiVersion: serving.knative.dev/v1alpha1\nkind: Route\nmetadata: {name: r}\nspec: {traffic: [{name: n, revisionName: r-1, percent: 100}]}\n",
		"apiVersion: serving.knative.dev/v1alpha1\nkind: Revision\nmetadata: {name: r}\nspec: {servingState: Reserve, container: {image: i}}\n",
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
