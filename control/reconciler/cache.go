package reconciler

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/control/store"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
)

// CacheOptions configure a Cache.
type CacheOptions struct {
	// ResyncPeriod, when positive, makes every informer re-deliver every object to its
	// handlers this often, so that controllers reconcile everything now and then even when
	// nothing changed. Zero disables resyncs.
	ResyncPeriod time.Duration
}

// Cache keeps an in-memory copy of the objects of the kinds controllers watch: one client-go
// SharedIndexInformer per kind, over all namespaces, fed by the store's List and Watch and
// holding *unstructured.Unstructured objects indexed by namespace. Controllers and Listers
// that share a Cache share its informers.
//
// A Cache is safe for concurrent use. Informers may be requested before or after Start; one
// requested after Start starts at once.
type Cache struct {
	store  store.Store
	reg    *api.Registry
	resync time.Duration

	mu        sync.Mutex
	informers map[store.Resource]cache.SharedIndexInformer
	ctx       context.Context // the Start context; nil before Start
	closed    bool            // the Start context is done: start no more informers
	running   sync.WaitGroup
	done      chan struct{} // closed when every informer has stopped after ctx ended
}

// NewCache returns a Cache over s, resolving kinds in reg. It does nothing until Start.
func NewCache(s store.Store, reg *api.Registry, opts CacheOptions) *Cache {
	return &Cache{
		store: s, reg: reg, resync: opts.ResyncPeriod,
		informers: map[store.Resource]cache.SharedIndexInformer{},
		done:      make(chan struct{}),
	}
}

// Registry returns the registry the cache resolves kinds in.
func (c *Cache) Registry() *api.Registry { return c.reg }

// Start runs the cache's informers, present and future, until ctx is done, and returns
// without waiting. Only the first call has an effect; it reports whether this call started
// the cache. The first Start's context governs the cache's lifetime.
func (c *Cache) Start(ctx context.Context) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx != nil {
		return false
	}
	c.ctx = ctx
	for _, inf := range c.informers {
		c.run(inf)
	}
	go func() {
		<-ctx.Done()
		c.mu.Lock()
		c.closed = true
		c.mu.Unlock()
		c.running.Wait()
		close(c.done)
	}()
	return true
}

// run starts inf under the Start context. c.mu must be held.
func (c *Cache) run(inf cache.SharedIndexInformer) {
	if c.ctx == nil || c.closed {
		return
	}
	c.running.Add(1)
	go func() {
		defer c.running.Done()
		inf.RunWithContext(c.ctx)
	}()
}

// Wait blocks until the cache has stopped: its Start context is done and every informer has
// returned. It returns at once when the cache was never started.
func (c *Cache) Wait() {
	c.mu.Lock()
	started := c.ctx != nil
	c.mu.Unlock()
	if started {
		<-c.done
	}
}

// WaitForSync blocks until every informer the cache has so far has listed its kind once, and
// reports whether they all did; it returns false when ctx is done first.
func (c *Cache) WaitForSync(ctx context.Context) bool {
	return cache.WaitForCacheSync(ctx.Done(), c.synced()...)
}

func (c *Cache) synced() []cache.InformerSynced {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []cache.InformerSynced
	for _, inf := range c.informers {
		out = append(out, inf.HasSynced)
	}
	return out
}

// InformerFor returns the informer of obj's kind (found as Client finds it), creating it on
// first use, and the kind.
func (c *Cache) InformerFor(obj api.Object) (cache.SharedIndexInformer, *api.Kind, error) {
	k, err := c.reg.ForObject(obj)
	if err != nil {
		return nil, nil, err
	}
	return c.Informer(k), k, nil
}

// Informer returns the informer of kind k, creating it on first use. Its objects are
// *unstructured.Unstructured values shared by every user of the cache: don't modify them.
func (c *Cache) Informer(k *api.Kind) cache.SharedIndexInformer {
	c.mu.Lock()
	defer c.mu.Unlock()
	res := k.Resource()
	if inf, ok := c.informers[res]; ok {
		return inf
	}
	inf := cache.NewSharedIndexInformerWithOptions(newListWatch(c.store, res), &unstructured.Unstructured{},
		cache.SharedIndexInformerOptions{
			ResyncPeriod:      c.resync,
			Indexers:          cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc},
			ObjectDescription: res.String(),
		})
	c.informers[res] = inf
	c.run(inf)
	return inf
}

// listWatch lists and watches one resource of the store for a reflector.
type listWatch struct {
	*cache.ListWatch
}

// IsWatchListSemanticsUnSupported tells client-go's reflector that the store does not
// stream the initial list through the watch (Kubernetes' WatchList): the reflector lists,
// then watches from the list's resourceVersion.
func (listWatch) IsWatchListSemanticsUnSupported() bool { return true }

func newListWatch(s store.Store, res store.Resource) listWatch {
	opts := func(o metav1.ListOptions) (store.ListOptions, error) {
		out := store.ListOptions{ResourceVersion: o.ResourceVersion}
		if o.LabelSelector != "" {
			sel, err := labels.Parse(o.LabelSelector)
			if err != nil {
				return out, fmt.Errorf("label selector: %w", err)
			}
			out.LabelSelector = sel
		}
		return out, nil
	}
	return listWatch{&cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			so, err := opts(o)
			if err != nil {
				return nil, err
			}
			so.ResourceVersion = ""
			return s.List(ctx, res, "", so)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			so, err := opts(o)
			if err != nil {
				return nil, err
			}
			return s.Watch(ctx, res, "", so)
		},
		DisableChunking: true,
	}}
}
