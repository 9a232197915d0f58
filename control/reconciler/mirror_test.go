package reconciler_test

import (
	"context"
	"fmt"
	"maps"

	"github.com/eddyplatform/eddy/control/reconciler"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// mirror is the example reconciler the tests exercise: it keeps, for every ConfigMap, a
// Secret of the same name that the ConfigMap owns and whose data is the ConfigMap's data.
type mirror struct {
	configMaps *reconciler.Lister[*corev1.ConfigMap]
	secrets    *reconciler.Lister[*corev1.Secret]
	client     *reconciler.Client
	events     *reconciler.Recorder
}

func newMirror(c *reconciler.Cache, client *reconciler.Client, events *reconciler.Recorder) *mirror {
	cms, err := reconciler.NewLister[*corev1.ConfigMap](c)
	if err != nil {
		panic(err)
	}
	secrets, err := reconciler.NewLister[*corev1.Secret](c)
	if err != nil {
		panic(err)
	}
	return &mirror{configMaps: cms, secrets: secrets, client: client, events: events}
}

// mirrorSecret is the Secret mirror wants for cm.
func mirrorSecret(cm *corev1.ConfigMap) *corev1.Secret {
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: cm.Namespace, Name: cm.Name,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(cm, corev1.SchemeGroupVersion.WithKind("ConfigMap"))},
		},
	}
	for k, v := range cm.Data {
		if s.Data == nil {
			s.Data = map[string][]byte{}
		}
		s.Data[k] = []byte(v)
	}
	return s
}

func (m *mirror) Reconcile(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return reconciler.Permanent(err)
	}
	cm, err := m.configMaps.Get(ns, name)
	if apierrors.IsNotFound(err) {
		return nil // the Secret goes with its owner
	} else if err != nil {
		return err
	}
	want := mirrorSecret(cm)
	got, err := m.secrets.Get(ns, name)
	switch {
	case apierrors.IsNotFound(err):
		err := m.client.Create(ctx, want)
		switch {
		case apierrors.IsAlreadyExists(err):
			return err // the cache is behind: retry
		case err != nil:
			m.events.Eventf(ctx, cm, reconciler.EventWarning, "CreateFailed", "creating secret %q: %v", name, err)
			return err
		}
		m.events.Eventf(ctx, cm, reconciler.EventNormal, "Created", "created secret %q", name)
		return nil
	case err != nil:
		return err
	}
	if !metav1.IsControlledBy(got, cm) {
		m.events.Eventf(ctx, cm, reconciler.EventWarning, "NotOwned", "secret %q exists and is not owned by this ConfigMap", name)
		return reconciler.Permanent(fmt.Errorf("secret %s is not owned by configmap %s", key, key))
	}
	if equality.Semantic.DeepEqual(got.Data, want.Data) {
		return nil
	}
	got.Data = maps.Clone(want.Data)
	if err := m.client.Update(ctx, got); err != nil {
		return err
	}
	m.events.Eventf(ctx, cm, reconciler.EventNormal, "Updated", "updated secret %q", name)
	return nil
}

// configMap returns a ConfigMap in namespace default.
func configMap(name string, data map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name}, Data: data}
}

// ownedSecret returns the Secret mirror makes for ConfigMap name with data.
func ownedSecret(name string, data map[string]string) *corev1.Secret {
	return mirrorSecret(configMap(name, data))
}
