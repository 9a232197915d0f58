// Package platform assembles every Eddy component into one process: the store, the API, the
// controllers, the buses, the dispatcher and the data plane's HTTP port. `eddy up` runs it;
// tests and benchmarks start it in process the same way.
package platform

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/kinds"
	"github.com/eddyplatform/eddy/api/messaging"
	buildcontroller "github.com/eddyplatform/eddy/build/controller"
	"github.com/eddyplatform/eddy/build/executor/local"
	"github.com/eddyplatform/eddy/bus"
	"github.com/eddyplatform/eddy/bus/stub"
	"github.com/eddyplatform/eddy/channels"
	"github.com/eddyplatform/eddy/channels/display"
	"github.com/eddyplatform/eddy/channels/ingress"
	"github.com/eddyplatform/eddy/control/apiserver"
	"github.com/eddyplatform/eddy/control/reconciler"
	"github.com/eddyplatform/eddy/control/store"
	"github.com/eddyplatform/eddy/control/store/bolt"
	"github.com/eddyplatform/eddy/dispatcher"
	"github.com/eddyplatform/eddy/serving"
	"github.com/eddyplatform/eddy/serving/autoscaler"
	"github.com/eddyplatform/eddy/serving/router"
	"github.com/eddyplatform/eddy/serving/runtime"
	"github.com/eddyplatform/eddy/serving/runtime/process"
	sourcecontroller "github.com/eddyplatform/eddy/sources/controller"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Config configures a Platform.
type Config struct {
	// DataDir holds the store, the token and the stub bus's log. Required.
	DataDir string
	// APIAddr is the control-plane API's address (default 127.0.0.1:7070; ":0" picks a port).
	APIAddr string
	// IngressAddr is the data plane's address (default 127.0.0.1:8080).
	IngressAddr string
	// Version is reported by /version.
	Version string
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// DisplayOut is where the built-in event display prints (nil: nowhere).
	DisplayOut io.Writer
	// MaxEventBytes bounds one ingress request (default 4 MiB).
	MaxEventBytes int64
	// ResyncPeriod is how often every object is reconciled even without a change (default 30s).
	ResyncPeriod time.Duration
	// Bus is the type of the default bus, the one channels and brokers that name no bus run
	// on (unless a ClusterBus "default" exists). Empty means stub.
	Bus messaging.BusType
	// BusConfig and BusSecret are the default bus's settings and credentials, as a ClusterBus's
	// spec.config and Secret would give them. The secret is never logged.
	BusConfig map[string]string
	BusSecret map[string][]byte
	// Domain is the routes' domain: a Route R in namespace N answers on R.N.Domain (default
	// "localhost", which resolves to the loopback address).
	Domain string
	// WorkDir is where ko://./relative images are found (default the working directory).
	WorkDir string
	// BuildCacheDir caches the binaries of ko:// images (default the user's cache dir).
	BuildCacheDir string
	// Autoscaler is the autoscaler's configuration (nil: Knative's defaults); the
	// config-autoscaler ConfigMap in eddy-system overrides it.
	Autoscaler *autoscaler.Config
	// Kubeconfig is the kubeconfig file of the Kubernetes API that ApiServerSources watch
	// (empty: the cluster Eddy runs in, if any).
	Kubeconfig string
	// NoBuilds leaves the Build controller out, for tests that run their own.
	NoBuilds bool
}

func (c *Config) setDefaults() {
	if c.APIAddr == "" {
		c.APIAddr = "127.0.0.1:7070"
	}
	if c.IngressAddr == "" {
		c.IngressAddr = "127.0.0.1:8080"
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Version == "" {
		c.Version = "dev"
	}
	if c.ResyncPeriod == 0 {
		c.ResyncPeriod = 30 * time.Second
	}
}

// Validate reports a configuration that can't work.
func (c *Config) Validate() error {
	if c.DataDir == "" {
		return errors.New("platform: DataDir is required")
	}
	return nil
}

// Platform is a running Eddy.
type Platform struct {
	// APIURL and IngressURL are where the two ports listen (http://host:port).
	APIURL, IngressURL string
	// Token is the API's bearer token.
	Token string
	// Registry knows every kind; Store keeps the objects.
	Registry *api.Registry
	Store    store.Store
	// Metrics is the registry /metrics serves.
	Metrics *prometheus.Registry
	// Router is the serving router on the ingress port.
	Router *router.Router
	// Builds is the Build controller (nil with Config.NoBuilds).
	Builds *buildcontroller.Builds

	cfg     Config
	cancel  context.CancelFunc
	servers []*http.Server
	errc    chan error
	wg      sync.WaitGroup
	closers []func()
	stop    sync.Once
}

// Start starts every component and returns once both ports listen and the controllers run.
// ctx bounds the platform's life; Shutdown stops it earlier.
func Start(ctx context.Context, cfg Config) (p *Platform, err error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, err
	}
	p = &Platform{cfg: cfg, Registry: kinds.NewRegistry(), errc: make(chan error, 2)}
	defer func() {
		if err != nil {
			p.closeAll()
		}
	}()
	if p.Token, err = apiserver.LoadOrCreateToken(cfg.DataDir); err != nil {
		return nil, err
	}
	st, err := bolt.Open(filepath.Join(cfg.DataDir, "store"))
	if err != nil {
		return nil, fmt.Errorf("opening the store in %s: %w", cfg.DataDir, err)
	}
	p.Store = st
	p.closers = append(p.closers, func() { st.Close() })
	if err := EnsureNamespaces(ctx, p.Registry, st, "default", "eddy-system"); err != nil {
		return nil, err
	}

	p.Metrics = prometheus.NewRegistry()
	p.Metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	stubBus, err := stub.New(stub.Config{Dir: filepath.Join(cfg.DataDir, "bus", "stub"), Logger: log})
	if err != nil {
		return nil, fmt.Errorf("opening the stub bus: %w", err)
	}
	p.closers = append(p.closers, func() { stubBus.Close() })
	backends := Backends(cfg.DataDir)
	defaultBus, own, err := openDefaultBus(ctx, &cfg, backends, stubBus)
	if err != nil {
		return nil, err
	}
	if own {
		p.closers = append(p.closers, func() { defaultBus.Close() })
	}
	disp, err := dispatcher.New(dispatcher.Config{Registerer: p.Metrics, Logger: log})
	if err != nil {
		return nil, err
	}

	apiLn, err := net.Listen("tcp", cfg.APIAddr)
	if err != nil {
		return nil, fmt.Errorf("API address %s: %w", cfg.APIAddr, err)
	}
	ingressLn, err := net.Listen("tcp", cfg.IngressAddr)
	if err != nil {
		apiLn.Close()
		return nil, fmt.Errorf("ingress address %s: %w", cfg.IngressAddr, err)
	}
	p.APIURL = "http://" + apiLn.Addr().String()
	p.IngressURL = "http://" + ingressLn.Addr().String()

	runCtx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	builtin := map[string]bus.Bus{string(messaging.BusStub): stubBus, messaging.DefaultBusName: defaultBus}
	if cfg.Bus != "" {
		builtin[string(cfg.Bus)] = defaultBus
	}
	buses := &channels.Buses{Backends: backends, Builtin: builtin, Client: reconciler.NewClient(st, p.Registry), Logger: log}
	p.closers = append([]func(){func() { buses.Close() }}, p.closers...)
	dp := channels.NewDataPlane(runCtx, p.IngressURL, disp, buses, log)
	p.closers = append([]func(){func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		disp.Close(ctx)
	}}, p.closers...)

	// Serving: the process runtime, the router and the autoscaler.
	var rtr *router.Router
	var srv *serving.Serving
	var blds *buildcontroller.Builds
	rtm, err := process.New(process.Config{Dir: cfg.WorkDir, CacheDir: cfg.BuildCacheDir, Logger: log,
		Drain: func(ctx context.Context, key runtime.RevisionKey, id string) { rtr.Drain(ctx, key, id) },
		ResolveImage: func(ctx context.Context, image string) ([]string, bool, error) {
			if blds == nil {
				return nil, false, nil
			}
			return blds.ResolveImage(ctx, image)
		}})
	if err != nil {
		return nil, err
	}
	p.closers = append([]func(){func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		rtm.Close(ctx)
	}}, p.closers...)
	rtr, err = router.New(router.Config{Runtime: rtm, Domain: cfg.Domain, Logger: log, Metrics: p.Metrics,
		OnDemand: func(k runtime.RevisionKey) { srv.OnDemand(k) }})
	if err != nil {
		return nil, err
	}
	p.Router = rtr
	p.closers = append([]func(){rtr.Close}, p.closers...)

	etr := channels.NewEventTypeRecorder(runCtx, reconciler.NewClient(st, p.Registry), log)
	in, err := ingress.New(ingress.Config{Resolver: dp, MaxBytes: cfg.MaxEventBytes, Logger: log, Metrics: p.Metrics, Accepted: etr.Observe})
	if err != nil {
		return nil, err
	}
	front := http.NewServeMux()
	front.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) })
	front.Handle(display.Prefix, display.New(cfg.DisplayOut, 100))
	for _, k := range ingress.Kinds {
		front.Handle("/"+k+"/", in)
	}

	cache := reconciler.NewCache(st, p.Registry, reconciler.CacheOptions{ResyncPeriod: cfg.ResyncPeriod})
	client := reconciler.NewClient(st, p.Registry)
	ctrls, err := channels.NewControllers(channels.Config{Client: client, Cache: cache, DataPlane: dp, Metrics: p.Metrics, Logger: log})
	if err != nil {
		return nil, err
	}
	asCfg := cfg.Autoscaler
	if asCfg == nil {
		asCfg = autoscaler.DefaultConfig()
	}
	asCfg.Registerer = p.Metrics
	srv, err = serving.New(serving.Config{Client: client, Cache: cache, Runtime: rtm, Router: rtr, Autoscaler: asCfg,
		IngressURL: p.IngressURL, Metrics: p.Metrics, Logger: log})
	if err != nil {
		return nil, err
	}
	ctrls = append(ctrls, srv.Controllers()...)
	srcs, err := sourcecontroller.New(sourcecontroller.Config{Client: client, Cache: cache, IngressURL: p.IngressURL, Kubeconfig: cfg.Kubeconfig, Metrics: p.Metrics, Logger: log})
	if err != nil {
		return nil, err
	}
	ctrls = append(ctrls, srcs.Controllers()...)
	front.Handle(sourcecontroller.GitHubPathPrefix, srcs.Handler())
	p.closers = append([]func(){srcs.Close}, p.closers...)

	// Build: the local executor, the Build reconciler and push-triggered rollouts.
	if err := p.startBuilds(runCtx, &cfg, &blds, client, cache, front, &ctrls); err != nil {
		return nil, err
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		srv.Run(runCtx)
	}()
	for _, c := range ctrls {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			if err := c.Run(runCtx); err != nil {
				log.Error("controller stopped", "controller", c.Name(), "err", err)
			}
		}()
	}
	synced := cache.WaitForSync(ctx)

	logs := map[schema.GroupResource]apiserver.LogSource{{Group: "serving.knative.dev", Resource: "revisions"}: srv.RevisionLogs}
	if blds != nil {
		logs[schema.GroupResource{Group: "build.knative.dev", Resource: "builds"}] = blds.BuildLogs
	}
	p.servers = []*http.Server{
		{Handler: apiserver.New(apiserver.Config{Store: st, Registry: p.Registry, Token: p.Token, Version: cfg.Version, Logger: log, Metrics: p.Metrics,
			Logs: logs,
			Ready: func() error {
				if !synced {
					return errors.New("caches not synced")
				}
				return nil
			}}), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)},
		{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if rtr.Handles(r.Host) {
				rtr.ServeHTTP(w, r)
				return
			}
			front.ServeHTTP(w, r)
		}), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)},
	}
	for i, ln := range []net.Listener{apiLn, ingressLn} {
		go func() {
			if err := p.servers[i].Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				p.errc <- err
			}
		}()
	}
	go func() {
		<-ctx.Done()
		p.Shutdown(context.Background())
	}()
	log.Info("eddy is up", "api", p.APIURL, "ingress", p.IngressURL, "dataDir", cfg.DataDir, "version", cfg.Version)
	return p, nil
}

// Err returns a channel that receives a listener's failure.
func (p *Platform) Err() <-chan error { return p.errc }

// Shutdown drains both ports (in-flight requests get up to ten seconds), stops the controllers
// and the dispatcher, and closes the bus and the store. It is idempotent.
func (p *Platform) Shutdown(ctx context.Context) {
	p.stop.Do(func() {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		for _, s := range p.servers {
			s.Shutdown(ctx)
		}
		if p.cancel != nil {
			p.cancel()
		}
		p.wg.Wait()
		p.closeAll()
	})
}

func (p *Platform) closeAll() {
	for _, c := range p.closers {
		c()
	}
	p.closers = nil
}

// EnsureNamespaces creates the namespaces the platform always has.
func EnsureNamespaces(ctx context.Context, reg *api.Registry, st store.Store, names ...string) error {
	for _, n := range names {
		ns := &corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}, ObjectMeta: metav1.ObjectMeta{Name: n}}
		obj, k, err := reg.Admit(ns)
		if err != nil {
			return err
		}
		u, err := api.ToUnstructured(obj)
		if err != nil {
			return err
		}
		if _, err := st.Create(ctx, k.Resource(), u); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating namespace %s: %w", n, err)
		}
	}
	return nil
}

// startBuilds runs the local executor, the Build reconciler and the rollout handler, unless
// cfg.NoBuilds.
func (p *Platform) startBuilds(runCtx context.Context, cfg *Config, blds **buildcontroller.Builds, client *reconciler.Client, cache *reconciler.Cache, front *http.ServeMux, ctrls *[]*reconciler.Controller) error {
	if cfg.NoBuilds {
		return nil
	}
	log := cfg.Logger
	bex, err := local.New(local.Config{WorkDir: filepath.Join(cfg.DataDir, "builds"), ArtifactDir: filepath.Join(cfg.DataDir, "artifacts"), Logger: log})
	if err != nil {
		return err
	}
	b, err := buildcontroller.New(buildcontroller.Config{Client: client, Cache: cache, Executor: bex, Metrics: p.Metrics, Logger: log})
	if err != nil {
		bex.Close()
		return err
	}
	*blds, p.Builds = b, b
	*ctrls = append(*ctrls, b.Controllers()...)
	front.Handle(buildcontroller.RolloutPathPrefix, b.RolloutHandler())
	p.closers = append([]func(){b.Close, func() { bex.Close() }}, p.closers...)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		b.Run(runCtx)
	}()
	return nil
}
