package process

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/api/equality"

	"github.com/eddyplatform/eddy/serving/runtime"
)

// ErrClosed is returned by Apply after Close.
var ErrClosed = errors.New("process runtime: closed")

// Runtime runs each instance of a revision as a local process (see the package
// documentation). It implements runtime.Runtime. Make one with New.
type Runtime struct {
	cfg        Config
	log        *slog.Logger
	builder    *builder
	spawner    *spawner
	cg         *cgroups // nil when limits are not enforced
	cgWhy      string   // why not
	limitsOnce sync.Once
	probeHTTP  *http.Client

	ctx    context.Context // ends at Close: builds, probes
	cancel context.CancelFunc
	wg     sync.WaitGroup // supervisors and builds

	mu      sync.Mutex
	revs    map[runtime.RevisionKey]*revision
	changed chan struct{}
	closed  bool
	ports   map[int]bool // ports given to running instances
}

var _ runtime.Runtime = (*Runtime)(nil)

// revision is the state of one revision. Its fields are guarded by Runtime.mu, except
// plan.path and fail, which are set before ready is closed and only read after.
type revision struct {
	spec runtime.Revision
	plan *plan
	// ready is closed once the executable is known (plan.path) or fail is set.
	ready chan struct{}
	fail  *unrunnableError
	// instances, oldest first, including those terminating.
	instances []*instance
	// removing is set by Remove; gone is closed when its instances are gone.
	removing bool
	gone     chan struct{}
}

// instance is one instance of a revision.
type instance struct {
	id    string
	rev   *revision
	log   *slog.Logger
	logs  *ring
	state runtime.Instance // guarded by Runtime.mu

	stopping bool          // guarded by Runtime.mu
	stop     chan struct{} // closed when the instance is to stop
	kill     chan struct{} // closed to skip draining and the grace period
	killOnce sync.Once
	done     chan struct{} // closed when its processes are gone and it left the revision
}

func (in *instance) killNow() { in.killOnce.Do(func() { close(in.kill) }) }

// New returns a Runtime with cfg (see Config for the defaults). It checks whether it can
// enforce resource limits (see LimitsEnforced) and logs the outcome.
func New(cfg Config) (*Runtime, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Runtime{
		cfg:     cfg,
		log:     cfg.Logger,
		ctx:     ctx,
		cancel:  cancel,
		revs:    map[runtime.RevisionKey]*revision{},
		changed: make(chan struct{}),
		ports:   map[int]bool{},
		spawner: newSpawner(),
		builder: &builder{
			goCmd:    cfg.GoCommand,
			flags:    cfg.GoBuildFlags,
			cacheDir: cfg.CacheDir,
			baseDir:  cfg.Dir,
			log:      cfg.Logger,
			inflight: map[string]*buildCall{},
			stamps:   map[string]*stampSet{},
		},
		probeHTTP: newProbeClient(),
	}
	r.cg, r.cgWhy = detectCgroups(cfg.CgroupRoot)
	if r.cg != nil {
		r.log.Info("process runtime enforces resource limits with cgroup v2", "root", r.cg.root)
	} else {
		r.log.Debug("process runtime cannot enforce resource limits", "reason", r.cgWhy)
	}
	return r, nil
}

// LimitsEnforced reports whether instances run in cgroups that enforce their containers'
// memory and CPU limits. When it is false, limits are ignored (and logged once, at the first
// revision that has any).
func (r *Runtime) LimitsEnforced() bool { return r.cg != nil }

// Apply implements runtime.Runtime. A revision's spec may not change after its first Apply
// (only Scale and Labels). An unrunnable revision (see the package documentation) gives an
// error wrapping runtime.ErrUnrunnable, on every Apply, and its instances are Failed with the
// Reason. A ko:// image is built in the background, its instances Starting with Reason
// "Building" meanwhile; if the build fails, they are Failed with Reason "BuildFailed", and the
// revision's next Apply builds again if the sources changed since.
func (r *Runtime) Apply(ctx context.Context, rev runtime.Revision) error {
	if rev.Key.Name == "" {
		return errors.New("process runtime: Apply: the revision has no name")
	}
	if rev.Scale < 0 {
		return fmt.Errorf("process runtime: Apply %s: negative scale %d", rev.Key, rev.Scale)
	}
	for {
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			return ErrClosed
		}
		cur := r.revs[rev.Key]
		if cur == nil {
			r.mu.Unlock()
			break
		}
		if cur.removing { // wait for Remove, then apply as new
			r.mu.Unlock()
			select {
			case <-cur.gone:
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if cur.spec.Service != rev.Service || cur.spec.Configuration != rev.Configuration || !equality.Semantic.DeepEqual(cur.spec.Container, rev.Container) {
			r.mu.Unlock()
			return fmt.Errorf("process runtime: Apply %s: only Scale and Labels of a revision may change", rev.Key)
		}
		if cur.fail != nil && cur.fail.reason == ReasonBuildFailed {
			r.mu.Unlock()
			if key, err := r.builder.key(cur.plan.ko); err == nil && key != cur.plan.key {
				r.log.Info("sources changed since the failed build: building again", "revision", rev.Key.String())
				if err := r.Remove(ctx, rev.Key); err != nil {
					return err
				}
				continue
			}
			r.mu.Lock()
		}
		cur.spec.Scale = rev.Scale
		cur.spec.Labels = maps.Clone(rev.Labels)
		r.reconcile(cur)
		var err error
		if cur.fail != nil {
			err = cur.fail
		}
		r.mu.Unlock()
		return err
	}

	// A new revision.
	p, err := r.makePlan(rev)
	nr := &revision{spec: rev, plan: p, ready: make(chan struct{}), gone: make(chan struct{})}
	nr.spec.Container = *rev.Container.DeepCopy()
	nr.spec.Labels = maps.Clone(rev.Labels)
	build := false
	switch {
	case err != nil:
		u, ok := errIsUnrunnable(err)
		if !ok {
			return err
		}
		nr.fail = u
		close(nr.ready)
	case p.ko == nil:
		close(nr.ready)
	default:
		if path, ok := r.builder.cached(p.ko, p.key); ok {
			p.path = path
			close(nr.ready)
		} else {
			build = true
		}
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return ErrClosed
	}
	if r.revs[rev.Key] != nil { // a concurrent Apply made it first
		r.mu.Unlock()
		return r.Apply(ctx, rev)
	}
	r.revs[rev.Key] = nr
	if build {
		r.wg.Add(1)
		go r.build(nr)
	}
	r.reconcile(nr)
	r.mu.Unlock()

	if nr.fail != nil {
		r.log.Warn("revision cannot run", "revision", rev.Key.String(), "reason", nr.fail.reason, "err", nr.fail.msg)
		return nr.fail
	}
	if p.limits.any() && r.cg == nil {
		r.limitsOnce.Do(func() {
			r.log.Warn("resource limits are not enforced by the process runtime", "revision", rev.Key.String(), "reason", r.cgWhy)
		})
	}
	return nil
}

// build builds a revision's ko:// image and lets its instances start, or fail.
func (r *Runtime) build(rev *revision) {
	defer r.wg.Done()
	path, err := r.builder.build(r.ctx, rev.plan.ko, rev.plan.key)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		u, ok := errIsUnrunnable(err)
		if !ok {
			u = unrunnable(ReasonBuildFailed, "image %q: %v", rev.plan.ko.image, err)
		}
		rev.fail = u
		for _, in := range rev.instances {
			if !in.stopping {
				in.state.Phase, in.state.Reason, in.state.Message = runtime.Failed, u.reason, u.msg
			}
		}
	} else {
		rev.plan.path = path
	}
	close(rev.ready)
	r.notify()
}

// reconcile starts or stops instances of rev to match its scale. Stopped first are those not
// Ready, then the newest. r.mu is held.
func (r *Runtime) reconcile(rev *revision) {
	var active []*instance
	for _, in := range rev.instances {
		if !in.stopping {
			active = append(active, in)
		}
	}
	changed := false
	for len(active) < rev.spec.Scale {
		in := r.newInstance(rev)
		rev.instances = append(rev.instances, in)
		active = append(active, in)
		r.wg.Add(1)
		go r.supervise(in)
		changed = true
	}
	if excess := len(active) - rev.spec.Scale; excess > 0 {
		slices.Reverse(active) // newest first
		slices.SortStableFunc(active, func(a, b *instance) int {
			return boolInt(a.state.Phase == runtime.Ready) - boolInt(b.state.Phase == runtime.Ready)
		})
		for _, in := range active[:excess] {
			r.stopInstance(in)
		}
		changed = true
	}
	if changed {
		r.notify()
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// newInstance makes an instance of rev with a fresh ID, in the state its revision implies.
// r.mu is held.
func (r *Runtime) newInstance(rev *revision) *instance {
	var id string
	for id == "" || slices.ContainsFunc(rev.instances, func(in *instance) bool { return in.id == id }) {
		id = rev.spec.Key.Name + "-" + strings.ToLower(rand.Text()[:5])
	}
	in := &instance{
		id:   id,
		rev:  rev,
		log:  r.log.With("revision", rev.spec.Key.String(), "instance", id),
		logs: newRing(r.cfg.LogLines),
		stop: make(chan struct{}),
		kill: make(chan struct{}),
		done: make(chan struct{}),
	}
	in.state = runtime.Instance{ID: id, Phase: runtime.Starting}
	switch {
	case rev.fail != nil:
		in.state.Phase, in.state.Reason, in.state.Message = runtime.Failed, rev.fail.reason, rev.fail.msg
	case rev.plan.ko != nil && !isClosed(rev.ready):
		in.state.Reason, in.state.Message = ReasonBuilding, "building "+rev.plan.ko.image
	}
	return in
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// stopInstance marks in Terminating and tells its supervisor to stop it. r.mu is held.
func (r *Runtime) stopInstance(in *instance) {
	if in.stopping {
		return
	}
	in.stopping = true
	in.state.Phase, in.state.Reason, in.state.Message = runtime.Terminating, "", ""
	close(in.stop)
}

// notify wakes the watchers of Changed. r.mu is held.
func (r *Runtime) notify() {
	close(r.changed)
	r.changed = make(chan struct{})
}

// Remove implements runtime.Runtime: it stops every instance of the revision as a scale
// down does, and returns when they are gone. If ctx ends first, what still runs is killed
// at once and Remove returns ctx.Err() once it is gone.
func (r *Runtime) Remove(ctx context.Context, key runtime.RevisionKey) error {
	r.mu.Lock()
	rev := r.revs[key]
	if rev == nil {
		r.mu.Unlock()
		return nil
	}
	if rev.removing {
		r.mu.Unlock()
		select {
		case <-rev.gone:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	rev.removing = true
	for _, in := range rev.instances {
		r.stopInstance(in)
	}
	ins := slices.Clone(rev.instances)
	r.notify()
	r.mu.Unlock()

	err := waitGone(ctx, ins)
	r.mu.Lock()
	if r.revs[key] == rev { // else Close forgot it
		delete(r.revs, key)
		close(rev.gone)
	}
	r.notify()
	r.mu.Unlock()
	return err
}

// waitGone waits until every instance of ins is gone, killing them at once if ctx ends.
func waitGone(ctx context.Context, ins []*instance) error {
	var err error
	for _, in := range ins {
		select {
		case <-in.done:
		case <-ctx.Done():
			if err == nil {
				err = ctx.Err()
				for _, x := range ins {
					x.killNow()
				}
			}
			<-in.done
		}
	}
	return err
}

// Instances implements runtime.Runtime.
func (r *Runtime) Instances(key runtime.RevisionKey) []runtime.Instance {
	r.mu.Lock()
	defer r.mu.Unlock()
	rev := r.revs[key]
	if rev == nil {
		return nil
	}
	out := make([]runtime.Instance, len(rev.instances))
	for i, in := range rev.instances {
		out[i] = in.state
	}
	return out
}

// Changed implements runtime.Runtime.
func (r *Runtime) Changed() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.changed
}

// Logs implements runtime.Runtime. The lines of all incarnations of an instance are kept
// together (Config.LogLines of them); stdout and stderr share one pipe, so their order is the
// order of the writes. n <= 0 returns every line kept.
func (r *Runtime) Logs(key runtime.RevisionKey, instanceID string, n int) ([]string, error) {
	r.mu.Lock()
	var in *instance
	if rev := r.revs[key]; rev != nil {
		for _, x := range rev.instances {
			if x.id == instanceID {
				in = x
			}
		}
	}
	r.mu.Unlock()
	if in == nil {
		return nil, fmt.Errorf("%w: %s %s", runtime.ErrUnknownInstance, key, instanceID)
	}
	return in.logs.last(n), nil
}

// Close implements runtime.Runtime: it stops every instance of every revision as Remove
// does, ends builds in progress and waits for everything it started. Apply fails after it.
func (r *Runtime) Close(ctx context.Context) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	var ins []*instance
	for _, rev := range r.revs {
		rev.removing = true
		for _, in := range rev.instances {
			r.stopInstance(in)
			ins = append(ins, in)
		}
	}
	r.notify()
	r.mu.Unlock()

	err := waitGone(ctx, ins)
	r.cancel()
	r.wg.Wait()
	r.spawner.close()
	r.mu.Lock()
	for key, rev := range r.revs {
		delete(r.revs, key)
		close(rev.gone)
	}
	r.notify()
	r.mu.Unlock()
	return err
}

// allocPort picks a free TCP port for an instance.
func (r *Runtime) allocPort() (int, error) {
	var lastErr error
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			lastErr = err
			continue
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		r.mu.Lock()
		taken := r.ports[port]
		if !taken {
			r.ports[port] = true
		}
		r.mu.Unlock()
		if !taken {
			return port, nil
		}
	}
	return 0, fmt.Errorf("no free port: %v", lastErr)
}

func (r *Runtime) freePort(port int) {
	r.mu.Lock()
	delete(r.ports, port)
	r.mu.Unlock()
}
