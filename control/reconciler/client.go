package reconciler

import (
	"context"
	"fmt"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/control/store"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
)

// Client reads and writes typed objects in the store, finding each object's kind in the
// registry (api.Registry.ForObject: by apiVersion and kind when set, else by Go type). It
// handles storage versions only. Reads go to the store itself; reconcilers should read the
// objects they watch from a Lister instead.
//
// Writes take the path the API server's take: Create and Update default and validate the
// object (api.Registry.Admit), and Update checks the kind's update rules against the stored
// object. Every method sets apiVersion and kind on the object it is given and, on success,
// replaces the object's content with the stored state (new resourceVersion, uid, generation).
// Errors are the store's StatusErrors (NotFound, AlreadyExists, Conflict, Invalid), so
// k8s.io/apimachinery/pkg/api/errors.IsNotFound and friends work on them.
//
// A Client is safe for concurrent use; an object passed to it must not be used by another
// goroutine during the call. The context bounds each call.
type Client struct {
	store store.Store
	reg   *api.Registry
}

// NewClient returns a Client over s, resolving kinds in reg.
func NewClient(s store.Store, reg *api.Registry) *Client {
	return &Client{store: s, reg: reg}
}

// Registry returns the registry the client resolves kinds in.
func (c *Client) Registry() *api.Registry { return c.reg }

// Store returns the store the client writes to.
func (c *Client) Store() store.Store { return c.store }

// kindOf finds obj's kind and stamps obj with the kind's storage apiVersion and kind.
func (c *Client) kindOf(obj api.Object) (*api.Kind, error) {
	k, err := c.reg.ForObject(obj)
	if err != nil {
		return nil, err
	}
	gvk := k.StorageGVK()
	if v := api.GVK(obj).Version; v != "" && v != gvk.Version {
		return nil, fmt.Errorf("reconciler: %s %s is not the storage version %s", k.Kind, v, gvk.Version)
	}
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	return k, nil
}

// Get reads the named object into into, whose Go type (or apiVersion and kind) names the
// kind. namespace is "" for cluster-scoped kinds.
func (c *Client) Get(ctx context.Context, namespace, name string, into api.Object) error {
	k, err := c.kindOf(into)
	if err != nil {
		return err
	}
	u, err := c.store.Get(ctx, k.Resource(), namespace, name)
	if err != nil {
		return err
	}
	return decodeInto(u, into)
}

// List returns the objects of T's kind in namespace ("" for all namespaces) whose labels
// match sel (nil matches everything), sorted by namespace and name. T is a pointer to the
// storage version's Go type, such as *corev1.ConfigMap.
func List[T api.Object](ctx context.Context, c *Client, namespace string, sel labels.Selector) ([]T, error) {
	proto, err := newObject[T]()
	if err != nil {
		return nil, err
	}
	k, err := c.kindOf(proto)
	if err != nil {
		return nil, err
	}
	l, err := c.store.List(ctx, k.Resource(), namespace, store.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, err
	}
	out := make([]T, 0, len(l.Items))
	for i := range l.Items {
		obj, _ := newObject[T]()
		if err := api.FromUnstructured(&l.Items[i], obj); err != nil {
			return nil, err
		}
		out = append(out, obj)
	}
	return out, nil
}

// Create defaults, validates and stores a new object, then fills obj with the stored state.
func (c *Client) Create(ctx context.Context, obj api.Object) error {
	k, err := c.kindOf(obj)
	if err != nil {
		return err
	}
	admitted, _, err := c.reg.Admit(obj)
	if err != nil {
		return err
	}
	u, err := api.ToUnstructured(admitted)
	if err != nil {
		return err
	}
	out, err := c.store.Create(ctx, k.Resource(), u)
	if err != nil {
		return err
	}
	return decodeInto(out, obj)
}

// Update defaults, validates and stores obj's metadata and spec (the stored status is kept),
// then fills obj with the stored state. A non-empty metadata.resourceVersion that is not the
// stored one fails with Conflict; an empty one updates unconditionally.
func (c *Client) Update(ctx context.Context, obj api.Object) error {
	k, err := c.kindOf(obj)
	if err != nil {
		return err
	}
	admitted, _, err := c.reg.Admit(obj)
	if err != nil {
		return err
	}
	if k.ValidateUpdate != nil {
		stored, err := c.store.Get(ctx, k.Resource(), obj.GetNamespace(), obj.GetName())
		if err != nil {
			return err
		}
		old := k.NewStorage()
		if err := api.FromUnstructured(stored, old); err != nil {
			return err
		}
		if err := k.CheckUpdate(old, admitted); err != nil {
			return err
		}
	}
	return c.write(ctx, k, admitted, obj, c.store.Update)
}

// UpdateStatus stores obj's status (nothing else), then fills obj with the stored state. The
// resourceVersion rule is Update's. Only the object's reconciler should call it.
func (c *Client) UpdateStatus(ctx context.Context, obj api.Object) error {
	k, err := c.kindOf(obj)
	if err != nil {
		return err
	}
	return c.write(ctx, k, obj, obj, c.store.UpdateStatus)
}

func (c *Client) write(ctx context.Context, k *api.Kind, obj, into api.Object,
	op func(context.Context, store.Resource, *unstructured.Unstructured) (*unstructured.Unstructured, error)) error {
	u, err := api.ToUnstructured(obj)
	if err != nil {
		return err
	}
	out, err := op(ctx, k.Resource(), u)
	if err != nil {
		return err
	}
	return decodeInto(out, into)
}

// Delete deletes the object named by obj's namespace and name (or, when it has finalizers,
// marks it for deletion), then fills obj with its last state.
func (c *Client) Delete(ctx context.Context, obj api.Object) error {
	k, err := c.kindOf(obj)
	if err != nil {
		return err
	}
	out, err := c.store.Delete(ctx, k.Resource(), obj.GetNamespace(), obj.GetName(), store.DeleteOptions{})
	if err != nil {
		return err
	}
	return decodeInto(out, obj)
}
