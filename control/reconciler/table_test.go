package reconciler_test

import (
	"testing"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/control/reconciler"
	"github.com/eddyplatform/eddy/control/reconciler/reconcilertest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestMirrorTable(t *testing.T) {
	data := map[string]string{"greeting": "hello"}
	reconcilertest.Table{{
		Name:        "creates the secret",
		Objects:     []api.Object{configMap("app", data)},
		Key:         "default/app",
		WantCreates: []api.Object{ownedSecret("app", data)},
		WantEvents:  []string{`Normal Created created secret "app"`},
	}, {
		Name:    "does nothing when in sync",
		Objects: []api.Object{configMap("app", data), ownedSecret("app", data)},
		Key:     "default/app",
	}, {
		Name:        "updates a drifted secret",
		Objects:     []api.Object{configMap("app", data), ownedSecret("app", map[string]string{"greeting": "bye", "extra": "x"})},
		Key:         "default/app",
		WantUpdates: []api.Object{ownedSecret("app", data)},
		WantEvents:  []string{`Normal Updated updated secret "app"`},
	}, {
		Name:           "create fails",
		Objects:        []api.Object{configMap("app", data)},
		Key:            "default/app",
		InduceFailures: []string{"create secrets"},
		WantCreates:    []api.Object{ownedSecret("app", data)},
		WantEvents:     []string{`Warning CreateFailed creating secret "app": Internal error occurred: induced failure: create secrets`},
		WantErr:        true,
	}, {
		Name: "refuses a secret it does not own",
		Objects: []api.Object{configMap("app", data), &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "app"},
		}},
		Key:        "default/app",
		WantEvents: []string{`Warning NotOwned secret "app" exists and is not owned by this ConfigMap`},
		WantErr:    true,
	}, {
		Name: "configmap gone",
		Key:  "default/app",
	}, {
		Name:    "malformed key",
		Key:     "a/b/c",
		WantErr: true,
	}}.Test(t, func(t *testing.T, env *reconcilertest.Env) reconciler.Reconciler {
		return newMirror(env.Cache, env.Client, env.Recorder)
	})
}
