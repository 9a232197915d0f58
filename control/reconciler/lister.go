package reconciler

import (
	"fmt"
	"sort"

	"github.com/eddyplatform/eddy/api"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
)

// Lister reads objects of one kind from a Cache, as typed values. Reads are served from
// memory and may lag the store by the time a watch event takes to arrive; a write based on a
// stale read fails with Conflict, and the reconcile is retried.
//
// A Lister is safe for concurrent use. Every object it returns is a fresh copy the caller
// owns. Until the cache has synced (Controller.Run waits for that) it may return nothing.
type Lister[T api.Object] struct {
	kind    *api.Kind
	indexer cache.Indexer
	synced  cache.InformerSynced
}

// NewLister returns a Lister for T's kind, registering the kind's informer in c. T is a
// pointer to the storage version's Go type, such as *corev1.Secret.
func NewLister[T api.Object](c *Cache) (*Lister[T], error) {
	proto, err := newObject[T]()
	if err != nil {
		return nil, err
	}
	inf, k, err := c.InformerFor(proto)
	if err != nil {
		return nil, err
	}
	return &Lister[T]{kind: k, indexer: inf.GetIndexer(), synced: inf.HasSynced}, nil
}

// Kind returns the lister's kind.
func (l *Lister[T]) Kind() *api.Kind { return l.kind }

// HasSynced reports whether the lister's informer has listed its kind once.
func (l *Lister[T]) HasSynced() bool { return l.synced() }

// Get returns the named object, or a NotFound StatusError. namespace is "" for
// cluster-scoped kinds.
func (l *Lister[T]) Get(namespace, name string) (T, error) {
	var zero T
	key := name
	if namespace != "" {
		key = namespace + "/" + name
	}
	item, ok, err := l.indexer.GetByKey(key)
	if err != nil {
		return zero, err
	}
	if !ok {
		return zero, apierrors.NewNotFound(l.kind.Resource(), name)
	}
	return l.convert(item)
}

// List returns the objects in namespace ("" for all namespaces) whose labels match sel (nil
// matches everything), sorted by namespace and name.
func (l *Lister[T]) List(namespace string, sel labels.Selector) ([]T, error) {
	if sel == nil {
		sel = labels.Everything()
	}
	var items []*unstructured.Unstructured
	err := cache.ListAllByNamespace(l.indexer, namespace, sel, func(item any) {
		if u, ok := item.(*unstructured.Unstructured); ok {
			items = append(items, u)
		}
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(items, func(i, j int) bool {
		if items[i].GetNamespace() != items[j].GetNamespace() {
			return items[i].GetNamespace() < items[j].GetNamespace()
		}
		return items[i].GetName() < items[j].GetName()
	})
	out := make([]T, 0, len(items))
	for _, u := range items {
		obj, err := l.convert(u)
		if err != nil {
			return nil, err
		}
		out = append(out, obj)
	}
	return out, nil
}

func (l *Lister[T]) convert(item any) (T, error) {
	obj, err := newObject[T]()
	if err != nil {
		return obj, err
	}
	u, ok := item.(*unstructured.Unstructured)
	if !ok {
		return obj, fmt.Errorf("reconciler: cache of %s holds a %T", l.kind.Kind, item)
	}
	return obj, api.FromUnstructured(u, obj)
}
