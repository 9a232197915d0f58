package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/eddyplatform/eddy/api"
	apibuild "github.com/eddyplatform/eddy/api/build"
	"github.com/eddyplatform/eddy/build/builtin"
	"github.com/eddyplatform/eddy/build/executor"
	"github.com/eddyplatform/eddy/control/reconciler"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ArtifactStore finds and collects stored artifacts; the local executor is one.
type ArtifactStore interface {
	// LookupArtifact returns the stored artifact of a digest ("sha256:<hex>").
	LookupArtifact(digest string) (executor.Artifact, error)
	// CollectArtifacts removes the stored artifacts keep returns false for.
	CollectArtifacts(keep func(digest string) bool) ([]string, error)
}

// Config is what the build controllers need.
type Config struct {
	// Client and Cache read and write objects. Required.
	Client *reconciler.Client
	Cache  *reconciler.Cache
	// Executor runs the builds. Required.
	Executor executor.Executor
	// Artifacts finds the artifacts builds stored (for ResolveImage) and collects old ones.
	// Default: Executor, when it is an ArtifactStore (as the local executor is).
	Artifacts ArtifactStore
	// StatusInterval is the shortest time between two status writes of a running build
	// (step changes in between are coalesced); default 500ms. The final status is written at
	// once.
	StatusInterval time.Duration
	// CollectInterval is how often unreferenced artifacts are collected by Run; default 1h,
	// negative for never.
	CollectInterval time.Duration
	// KeepFinished is how many finished runs keep their step logs in memory for BuildLogs
	// (the oldest are released first); default 100.
	KeepFinished int
	// Metrics receives the controllers' metrics; nil for none.
	Metrics prometheus.Registerer
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Now defaults to time.Now.
	Now func() time.Time
}

// Builds holds the build controllers and the runs they started.
type Builds struct {
	cfg Config
	log *slog.Logger

	ctx    context.Context // ends at Close: stops status writers
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	runs     map[string]*buildRun // by "namespace/name"
	finished []string             // keys of finished runs, oldest first
	rollMu   sync.Mutex           // serialises rollout pushes

	buildCtl    *reconciler.Controller
	controllers []*reconciler.Controller
}

// New returns the build controllers: Build, BuildTemplate, ClusterBuildTemplate and rollout.
// Run each of Controllers, and Run the Builds itself; Close at shutdown.
func New(cfg Config) (*Builds, error) {
	switch {
	case cfg.Client == nil || cfg.Cache == nil:
		return nil, errors.New("build controller: Client and Cache are required")
	case cfg.Executor == nil:
		return nil, errors.New("build controller: Executor is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Artifacts == nil {
		cfg.Artifacts, _ = cfg.Executor.(ArtifactStore)
	}
	if cfg.StatusInterval <= 0 {
		cfg.StatusInterval = 500 * time.Millisecond
	}
	if cfg.CollectInterval == 0 {
		cfg.CollectInterval = time.Hour
	}
	if cfg.KeepFinished <= 0 {
		cfg.KeepFinished = 100
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Builds{cfg: cfg, log: cfg.Logger.With("component", "build-controller"), runs: map[string]*buildRun{}}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	for _, c := range []struct {
		name string
		obj  api.Object
		rec  reconciler.Reconciler
	}{
		{"build", &apibuild.Build{}, reconciler.Func(s.reconcileBuild)},
		{"buildtemplate", &apibuild.BuildTemplate{}, reconciler.Func(s.reconcileBuildTemplate)},
		{"clusterbuildtemplate", &apibuild.ClusterBuildTemplate{}, reconciler.Func(s.reconcileClusterBuildTemplate)},
		{"rollout", &corev1.ConfigMap{}, reconciler.Func(s.reconcileRollout)},
	} {
		ctl, err := reconciler.NewController(reconciler.Options{Name: c.name, For: c.obj, Reconciler: c.rec, Cache: cfg.Cache, Metrics: cfg.Metrics, Logger: cfg.Logger})
		if err != nil {
			return nil, err
		}
		switch c.name {
		case "build":
			s.buildCtl = ctl
		case "rollout":
			// A rollout's builds finishing moves its Service.
			if err := ctl.Watch(&apibuild.Build{}, func(u *unstructured.Unstructured) []string {
				if n := u.GetLabels()[LabelRollout]; n != "" {
					return []string{u.GetNamespace() + "/" + RolloutConfigMapPrefix + n}
				}
				return nil
			}); err != nil {
				return nil, err
			}
		}
		s.controllers = append(s.controllers, ctl)
	}
	return s, nil
}

// Controllers returns the controllers, to Run each.
func (s *Builds) Controllers() []*reconciler.Controller { return s.controllers }

// Run creates the built-in ClusterBuildTemplates that are missing, then collects
// unreferenced artifacts every CollectInterval until ctx ends.
func (s *Builds) Run(ctx context.Context) {
	if err := s.EnsureBuiltinTemplates(ctx); err != nil {
		s.log.Error("creating the built-in build templates", "err", err)
	}
	if s.cfg.CollectInterval < 0 || s.cfg.Artifacts == nil {
		<-ctx.Done()
		return
	}
	t := time.NewTicker(s.cfg.CollectInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.CollectArtifacts(ctx); err != nil {
				s.log.Warn("collecting artifacts", "err", err)
			}
		}
	}
}

// Close stops writing statuses and cancels the runs still going, without marking their
// Builds: the next start of the controller marks them Interrupted.
func (s *Builds) Close() {
	s.cancel()
	s.wg.Wait()
	s.mu.Lock()
	runs := s.runs
	s.runs = map[string]*buildRun{}
	s.finished = nil
	s.mu.Unlock()
	for _, r := range runs {
		r.run.Close()
	}
}

// EnsureBuiltinTemplates creates a ClusterBuildTemplate for each built-in template
// (builtin.Templates) that has none of its name. Existing ones, edited or not, are kept.
func (s *Builds) EnsureBuiltinTemplates(ctx context.Context) error {
	var errs []error
	for _, t := range builtin.Templates() {
		cbt := &apibuild.ClusterBuildTemplate{
			ObjectMeta: metav1.ObjectMeta{Name: t.Name, Labels: map[string]string{LabelBuiltin: "true"},
				Annotations: map[string]string{"description": t.Description}},
			Spec: builtinSpec(t),
		}
		if err := s.cfg.Client.Create(ctx, cbt); err != nil && !apierrors.IsAlreadyExists(err) {
			errs = append(errs, fmt.Errorf("ClusterBuildTemplate %s: %w", t.Name, err))
		}
	}
	return errors.Join(errs...)
}

// LabelBuiltin marks the ClusterBuildTemplates made from built-in templates.
const LabelBuiltin = "build.eddy.dev/builtin"

// builtinSpec converts a built-in template into a template spec.
func builtinSpec(t builtin.Template) apibuild.BuildTemplateSpec {
	spec := apibuild.BuildTemplateSpec{Steps: t.Steps}
	for _, p := range t.Parameters {
		ps := apibuild.ParameterSpec{Name: p.Name, Description: p.Description}
		if !p.Required {
			d := p.Default
			ps.Default = &d
		}
		spec.Parameters = append(spec.Parameters, ps)
	}
	return spec
}

// reconcileBuildTemplate marks a BuildTemplate Ready: admission validated it.
func (s *Builds) reconcileBuildTemplate(ctx context.Context, key string) error {
	ns, name := splitKey(key)
	var t apibuild.BuildTemplate
	if err := s.cfg.Client.Get(ctx, ns, name, &t); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	}
	orig := reconciler.DeepCopy(&t)
	markTemplate(&t.Status, &t.Spec)
	_, err := s.cfg.Client.UpdateStatusIfChanged(ctx, orig, &t)
	return err
}

// reconcileClusterBuildTemplate marks a ClusterBuildTemplate Ready.
func (s *Builds) reconcileClusterBuildTemplate(ctx context.Context, key string) error {
	_, name := splitKey(key)
	var t apibuild.ClusterBuildTemplate
	if err := s.cfg.Client.Get(ctx, "", name, &t); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	}
	orig := reconciler.DeepCopy(&t)
	markTemplate(&t.Status, &t.Spec)
	_, err := s.cfg.Client.UpdateStatusIfChanged(ctx, orig, &t)
	return err
}

func markTemplate(st *apibuild.BuildTemplateStatus, spec *apibuild.BuildTemplateSpec) {
	st.InitializeConditions()
	if errs := spec.Validate(field.NewPath("spec")); len(errs) > 0 {
		st.MarkNotReady("Invalid", "%s", errs.ToAggregate().Error())
		return
	}
	st.MarkReady()
}

// splitKey splits "namespace/name" (or "name").
func splitKey(key string) (namespace, name string) {
	for i := 0; i < len(key); i++ {
		if key[i] == '/' {
			return key[:i], key[i+1:]
		}
	}
	return "", key
}
