package reconciler

import (
	"context"
	"errors"
	"fmt"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/eddyplatform/eddy/api"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// Options configure a Controller.
type Options struct {
	// Name names the controller in logs and metrics; it must be unique within a metrics
	// registry. Required.
	Name string
	// For is an object of the primary kind, such as &corev1.ConfigMap{}: every change to an
	// object of this kind enqueues its key. Required.
	For api.Object
	// Reconciler is called for each key. Required.
	Reconciler Reconciler
	// Cache feeds the controller's informers; controllers of one process should share one.
	// Required.
	Cache *Cache
	// Workers is how many keys are reconciled at once; default 2.
	Workers int
	// RateLimiter decides how long a failed key waits before its next try; default
	// workqueue.DefaultTypedControllerRateLimiter (per-key exponential backoff from 5ms to
	// 1000s, within an overall 10 qps, 100 burst bucket).
	RateLimiter workqueue.TypedRateLimiter[string]
	// Logger receives the controller's structured logs; default slog.Default().
	Logger *slog.Logger
	// Metrics, when set, receives the controller's Prometheus metrics:
	// eddy_reconcile_total{controller,result}, eddy_reconcile_duration_seconds{controller}
	// and eddy_reconcile_queue_depth{controller}.
	Metrics prometheus.Registerer
}

func (o *Options) setDefaults() {
	if o.Workers <= 0 {
		o.Workers = 2
	}
	if o.RateLimiter == nil {
		o.RateLimiter = workqueue.DefaultTypedControllerRateLimiter[string]()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Validate reports the first missing required option.
func (o *Options) Validate() error {
	switch {
	case o.Name == "":
		return errors.New("reconciler: Options.Name is required")
	case o.For == nil:
		return errors.New("reconciler: Options.For is required")
	case o.Reconciler == nil:
		return errors.New("reconciler: Options.Reconciler is required")
	case o.Cache == nil:
		return errors.New("reconciler: Options.Cache is required")
	}
	return nil
}

// Controller feeds a Reconciler with the keys of the primary kind's objects: from the cache
// of that kind, from the kinds added with Watch, and from Enqueue. A key is in the queue at
// most once however often its object changes, and is never reconciled by two workers at once.
//
// Set a Controller up (NewController, Watch) before Run. Its methods are safe for concurrent
// use.
type Controller struct {
	name       string
	kind       *api.Kind
	reconciler Reconciler
	cache      *Cache
	workers    int
	queue      workqueue.TypedRateLimitingInterface[string]
	log        *slog.Logger
	metrics    *metrics

	mu       sync.Mutex
	handlers []handler
	started  bool
}

// handler is an event handler the controller added to an informer.
type handler struct {
	informer cache.SharedIndexInformer
	reg      cache.ResourceEventHandlerRegistration
}

// NewController returns a controller for opts.For's kind. It registers the kind's informer
// in opts.Cache and the controller's metrics in opts.Metrics.
func NewController(opts Options) (*Controller, error) {
	opts.setDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	c := &Controller{
		name:       opts.Name,
		reconciler: opts.Reconciler,
		cache:      opts.Cache,
		workers:    opts.Workers,
		log:        opts.Logger.With("controller", opts.Name),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(opts.RateLimiter,
			workqueue.TypedRateLimitingQueueConfig[string]{Name: opts.Name}),
	}
	c.metrics = newMetrics(opts.Name, c.queue.Len)
	if opts.Metrics != nil {
		if err := c.metrics.register(opts.Metrics); err != nil {
			return nil, err
		}
	}
	inf, k, err := c.cache.InformerFor(opts.For)
	if err != nil {
		return nil, err
	}
	c.kind = k
	if err := c.addHandler(inf, func(u *unstructured.Unstructured) []string { return []string{api.Key(u)} }); err != nil {
		return nil, err
	}
	return c, nil
}

// Name returns the controller's name.
func (c *Controller) Name() string { return c.name }

// Kind returns the controller's primary kind.
func (c *Controller) Kind() *api.Kind { return c.kind }

// Watch makes every change to an object of obj's kind enqueue the keys fn maps it to, such
// as MapToOwner(c.Kind()) for the objects the primary kind owns. Call it before Run.
func (c *Controller) Watch(obj api.Object, fn MapFunc) error {
	inf, _, err := c.cache.InformerFor(obj)
	if err != nil {
		return err
	}
	return c.addHandler(inf, fn)
}

func (c *Controller) addHandler(inf cache.SharedIndexInformer, fn MapFunc) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.started {
		return fmt.Errorf("reconciler: controller %s: Watch after Run", c.name)
	}
	enqueue := func(obj any) {
		if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = t.Obj
		}
		u, ok := obj.(*unstructured.Unstructured)
		if !ok {
			return
		}
		for _, key := range fn(u) {
			c.queue.Add(key)
		}
	}
	reg, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { enqueue(obj) },
		UpdateFunc: func(_, obj any) { enqueue(obj) },
		DeleteFunc: enqueue,
	})
	if err != nil {
		return fmt.Errorf("reconciler: controller %s: %w", c.name, err)
	}
	c.handlers = append(c.handlers, handler{informer: inf, reg: reg})
	return nil
}

// Enqueue adds key ("namespace/name") to the queue, for reconcilers reacting to something
// outside the store. It does nothing after Run has returned.
func (c *Controller) Enqueue(key string) { c.queue.Add(key) }

// EnqueueAfter adds key to the queue after d.
func (c *Controller) EnqueueAfter(key string, d time.Duration) { c.queue.AddAfter(key, d) }

// Run starts the cache (when no one has yet; see Cache.Start), waits until the cache has
// synced, then reconciles keys on the configured number of workers until ctx is done. It then
// shuts the queue down, waits for the reconciles in progress to return (their context is
// ctx, now cancelled), and, when this Run started the cache, for the cache to stop. Keys still
// queued are dropped: they are found again by the next Run's initial list.
//
// Run returns nil when ctx is done, or an error when the controller was already run.
func (c *Controller) Run(ctx context.Context) error {
	c.mu.Lock()
	if c.started {
		c.mu.Unlock()
		return fmt.Errorf("reconciler: controller %s: Run called twice", c.name)
	}
	c.started = true
	handlers := c.handlers
	c.mu.Unlock()

	startedCache := c.cache.Start(ctx)
	defer func() {
		if startedCache {
			c.cache.Wait()
		}
	}()
	defer func() {
		for _, h := range handlers {
			_ = h.informer.RemoveEventHandler(h.reg)
		}
	}()
	defer c.queue.ShutDown()

	c.log.Info("waiting for caches to sync")
	synced := c.cache.synced()
	for _, h := range handlers {
		synced = append(synced, h.reg.HasSynced)
	}
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		c.log.Info("stopped before caches synced")
		return nil
	}
	c.log.Info("started", "workers", c.workers)

	var wg sync.WaitGroup
	for range c.workers {
		wg.Go(func() {
			for c.processNext(ctx) {
			}
		})
	}
	<-ctx.Done()
	c.queue.ShutDown()
	wg.Wait()
	c.log.Info("stopped")
	return nil
}

// processNext reconciles one key; it reports false when the queue has shut down.
func (c *Controller) processNext(ctx context.Context) bool {
	key, shutdown := c.queue.Get()
	if shutdown {
		return false
	}
	defer c.queue.Done(key)
	if ctx.Err() != nil {
		return true // stopping: leave the rest of the queue alone
	}
	log := c.log.With("key", key)
	start := time.Now()
	err := c.reconcile(WithLogger(ctx, log), key)
	took := time.Since(start)
	c.metrics.latency.Observe(took.Seconds())

	result := ResultSuccess
	after, requeue := IsRequeueAfter(err)
	switch {
	case err == nil:
		c.queue.Forget(key)
		log.Debug("reconciled", "took", took)
	case requeue:
		result = ResultRequeue
		c.queue.Forget(key)
		c.queue.AddAfter(key, after)
		log.Debug("reconciled; looking again later", "took", took, "after", after)
	case IsPermanent(err):
		result = ResultPermanent
		c.queue.Forget(key)
		log.Error("reconcile failed; not retrying", "took", took, "err", err)
	case ctx.Err() != nil:
		result = ResultError
		log.Info("reconcile interrupted by shutdown", "took", took, "err", err)
	case apierrors.IsConflict(err):
		// Another writer got there first (often this controller's own earlier write, not yet
		// in the cache): the retry reads the newer object. Routine, not an error.
		result = ResultError
		c.queue.AddRateLimited(key)
		log.Debug("reconcile met a newer version; retrying", "took", took, "err", err)
	default:
		result = ResultError
		c.queue.AddRateLimited(key)
		log.Error("reconcile failed; retrying", "took", took, "err", err, "retries", c.queue.NumRequeues(key))
	}
	c.metrics.reconciles.WithLabelValues(result).Inc()
	return true
}

// reconcile calls the reconciler, turning a panic into an error.
func (c *Controller) reconcile(ctx context.Context, key string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("reconciler panicked: %v\n%s", r, debug.Stack())
		}
	}()
	return c.reconciler.Reconcile(ctx, key)
}
