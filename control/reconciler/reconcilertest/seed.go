package reconcilertest

import (
	"context"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/control/reconciler"
	"github.com/eddyplatform/eddy/control/store"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// seed stores obj as the API server would (defaulted and validated), with its status.
func seed(ctx context.Context, st store.Store, reg *api.Registry, uids *uidMap, obj api.Object) error {
	c := reconciler.DeepCopy(obj)
	k, err := reg.ForObject(c)
	if err != nil {
		return err
	}
	if api.GVK(c).Kind == "" {
		c.GetObjectKind().SetGroupVersionKind(k.StorageGVK())
	}
	status, hasStatus, _ := unstructured.NestedFieldCopy(mustUnstructured(c).Object, "status")
	refs := c.GetOwnerReferences()
	for i := range refs {
		refs[i].UID = uids.lookup(refs[i], c.GetNamespace())
	}
	c.SetOwnerReferences(refs)
	client := reconciler.NewClient(st, reg)
	if err := client.Create(ctx, c); err != nil {
		return err
	}
	uids.add(obj.GetUID(), c)
	if !hasStatus {
		return nil
	}
	u := mustUnstructured(c)
	u.Object["status"] = status
	_, err = st.UpdateStatus(ctx, k.Resource(), u)
	return err
}

// uidMap knows the uids the store gave seeded objects.
type uidMap struct {
	byGiven map[types.UID]types.UID
	byName  map[string]types.UID // "group/kind namespace/name"
}

func newUIDMap() *uidMap {
	return &uidMap{byGiven: map[types.UID]types.UID{}, byName: map[string]types.UID{}}
}

func nameKey(apiVersion, kind, namespace, name string) string {
	gv, _ := schema.ParseGroupVersion(apiVersion)
	return gv.Group + "/" + kind + " " + namespace + "/" + name
}

// add notes the stored uid of obj, which the test gave uid given.
func (m *uidMap) add(given types.UID, stored api.Object) {
	gvk := api.GVK(stored)
	if given != "" {
		m.byGiven[given] = stored.GetUID()
	}
	m.byName[nameKey(gvk.GroupVersion().String(), gvk.Kind, stored.GetNamespace(), stored.GetName())] = stored.GetUID()
	// A cluster-scoped owner is found from any namespace.
	if stored.GetNamespace() == "" {
		m.byName[nameKey(gvk.GroupVersion().String(), gvk.Kind, "*", stored.GetName())] = stored.GetUID()
	}
}

// lookup returns the stored uid ref points at, or ref's own uid.
func (m *uidMap) lookup(ref metav1.OwnerReference, namespace string) types.UID {
	if uid, ok := m.byGiven[ref.UID]; ok {
		return uid
	}
	if ref.UID != "" {
		return ref.UID
	}
	if uid, ok := m.byName[nameKey(ref.APIVersion, ref.Kind, namespace, ref.Name)]; ok {
		return uid
	}
	return m.byName[nameKey(ref.APIVersion, ref.Kind, "*", ref.Name)]
}
