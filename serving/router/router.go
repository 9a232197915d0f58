package router

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eddyplatform/eddy/serving/runtime"
	"github.com/prometheus/client_golang/prometheus"
)

// Config configures a Router.
type Config struct {
	// Runtime supplies the revisions' instances. Required.
	Runtime runtime.Runtime
	// Domain is the routes' domain (default "localhost").
	Domain string
	// OnDemand, if set, is called (on its own goroutine) when a request arrives for a
	// revision that has no ready instance, so that the autoscaler scales it up at once.
	OnDemand func(runtime.RevisionKey)
	// QueueDepth caps the requests waiting for an instance per revision (default 10000);
	// beyond it requests get 503.
	QueueDepth int
	// Transport sends requests to instances (default: a keep-alive transport tuned for
	// many concurrent requests to few hosts).
	Transport http.RoundTripper
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Metrics receives the router's collectors; nil registers nowhere.
	Metrics prometheus.Registerer
}

// Target is one traffic target of a route: a revision in the route's namespace, its share of
// the route's traffic, and its tag.
type Target struct {
	// Revision is the revision's name.
	Revision string
	// Percent is its share, 0 to 100, of requests to the route's own host.
	Percent int
	// Tag, if set, also gives the revision the host TAG-ROUTE.NAMESPACE.DOMAIN.
	Tag string
}

// Route is what the router knows of a route.
type Route struct {
	Namespace, Name string
	Targets         []Target
}

// Settings are a revision's limits.
type Settings struct {
	// ContainerConcurrency caps the requests in flight to one instance; 0 means no cap.
	ContainerConcurrency int
	// Timeout bounds a request, queueing included; 0 means 300s.
	Timeout time.Duration
}

// Router is the serving http.Handler. It is safe for concurrent use.
type Router struct {
	cfg   Config
	proxy *httputil.ReverseProxy

	routesMu sync.Mutex
	routes   map[string]Route
	hosts    atomic.Pointer[map[string]*pick]

	revsMu sync.Mutex
	revs   map[runtime.RevisionKey]*revision

	stop chan struct{}
	done chan struct{}

	requests *prometheus.CounterVec
	queued   *prometheus.GaugeVec
}

// pick chooses among a host's weighted targets.
type pick struct {
	route   string // namespace/name, for errors
	targets []runtime.RevisionKey
	cum     []int // cumulative percents
}

func (p *pick) choose() (runtime.RevisionKey, bool) {
	if len(p.targets) == 0 {
		return runtime.RevisionKey{}, false
	}
	if len(p.targets) == 1 {
		return p.targets[0], true
	}
	n := rand.IntN(p.cum[len(p.cum)-1])
	i := sort.SearchInts(p.cum, n+1)
	return p.targets[i], true
}

// New returns a Router and starts its watch of the runtime. Close stops it.
func New(cfg Config) (*Router, error) {
	if cfg.Runtime == nil {
		return nil, errors.New("router: Config.Runtime is required")
	}
	if cfg.Domain == "" {
		cfg.Domain = "localhost"
	}
	if cfg.QueueDepth == 0 {
		cfg.QueueDepth = 10000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Transport == nil {
		cfg.Transport = &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        0,
			MaxIdleConnsPerHost: 1024,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		}
	}
	r := &Router{
		cfg: cfg, routes: map[string]Route{}, revs: map[runtime.RevisionKey]*revision{},
		stop: make(chan struct{}), done: make(chan struct{}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eddy_router_requests_total", Help: "Requests routed to revisions, by namespace, revision and HTTP status code.",
		}, []string{"namespace", "revision", "code"}),
		queued: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "eddy_router_queued_requests", Help: "Requests waiting for an instance (scale from zero, or every instance at containerConcurrency).",
		}, []string{"namespace", "revision"}),
	}
	if cfg.Metrics != nil {
		for _, c := range []prometheus.Collector{r.requests, r.queued} {
			if err := cfg.Metrics.Register(c); err != nil {
				return nil, err
			}
		}
	}
	empty := map[string]*pick{}
	r.hosts.Store(&empty)
	r.proxy = &httputil.ReverseProxy{
		Rewrite:       func(pr *httputil.ProxyRequest) { pr.Out.URL.Scheme = "http"; pr.SetXForwarded() },
		Transport:     &instanceTransport{r: r},
		FlushInterval: 0,
		ErrorHandler:  r.proxyError,
		ErrorLog:      slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug),
	}
	go r.watch()
	return r, nil
}

// Close stops the router's watch of the runtime. Requests in flight go on.
func (r *Router) Close() {
	select {
	case <-r.stop:
	default:
		close(r.stop)
	}
	<-r.done
}

// Host is the host name of a route, or of one of its tags when tag is set.
func (r *Router) Host(namespace, route, tag string) string {
	h := route + "." + namespace + "." + r.cfg.Domain
	if tag != "" {
		h = tag + "-" + h
	}
	return h
}

// SetRoute adds or replaces a route.
func (r *Router) SetRoute(rt Route) {
	r.routesMu.Lock()
	defer r.routesMu.Unlock()
	r.routes[rt.Namespace+"/"+rt.Name] = rt
	r.rebuild()
}

// RemoveRoute removes a route.
func (r *Router) RemoveRoute(namespace, name string) {
	r.routesMu.Lock()
	defer r.routesMu.Unlock()
	delete(r.routes, namespace+"/"+name)
	r.rebuild()
}

// rebuild recomputes the host table. routesMu is held.
func (r *Router) rebuild() {
	hosts := map[string]*pick{}
	for _, rt := range r.routes {
		main := &pick{route: rt.Namespace + "/" + rt.Name}
		for _, t := range rt.Targets {
			key := runtime.RevisionKey{Namespace: rt.Namespace, Name: t.Revision}
			if t.Percent > 0 {
				sum := t.Percent
				if n := len(main.cum); n > 0 {
					sum += main.cum[n-1]
				}
				main.targets = append(main.targets, key)
				main.cum = append(main.cum, sum)
			}
			if t.Tag != "" {
				hosts[r.Host(rt.Namespace, rt.Name, t.Tag)] = &pick{route: main.route, targets: []runtime.RevisionKey{key}, cum: []int{1}}
			}
		}
		hosts[r.Host(rt.Namespace, rt.Name, "")] = main
	}
	r.hosts.Store(&hosts)
}

// SetRevision tells the router a revision's limits. A revision it routes to before this gets
// the defaults.
func (r *Router) SetRevision(key runtime.RevisionKey, s Settings) {
	rev := r.revision(key)
	rev.settings.Store(&s)
	rev.mu.Lock()
	rev.handOut() // a larger containerConcurrency frees slots
	rev.mu.Unlock()
}

// RemoveRevision forgets a revision. Requests waiting for it fail with 503.
func (r *Router) RemoveRevision(key runtime.RevisionKey) {
	r.revsMu.Lock()
	rev, ok := r.revs[key]
	delete(r.revs, key)
	r.revsMu.Unlock()
	if ok {
		rev.close()
		r.queued.DeleteLabelValues(key.Namespace, key.Name)
	}
}

// revision returns the state of key, creating it (with the runtime's current instances).
func (r *Router) revision(key runtime.RevisionKey) *revision {
	r.revsMu.Lock()
	rev, ok := r.revs[key]
	if !ok {
		rev = newRevision(key, r.cfg.QueueDepth)
		rev.queuedGauge = r.queued.WithLabelValues(key.Namespace, key.Name)
		r.revs[key] = rev
	}
	r.revsMu.Unlock()
	if !ok {
		rev.refresh(r.cfg.Runtime.Instances(key))
	}
	return rev
}

func (r *Router) lookup(key runtime.RevisionKey) (*revision, bool) {
	r.revsMu.Lock()
	defer r.revsMu.Unlock()
	rev, ok := r.revs[key]
	return rev, ok
}

// watch refreshes every revision's instances whenever the runtime reports a change.
func (r *Router) watch() {
	defer close(r.done)
	for {
		changed := r.cfg.Runtime.Changed()
		r.revsMu.Lock()
		revs := make([]*revision, 0, len(r.revs))
		for _, rev := range r.revs {
			revs = append(revs, rev)
		}
		r.revsMu.Unlock()
		for _, rev := range revs {
			rev.refresh(r.cfg.Runtime.Instances(rev.key))
		}
		select {
		case <-changed:
		case <-r.stop:
			return
		}
	}
}

// Stats reports a revision's requests in flight (queued ones included) and the requests it
// completed so far.
func (r *Router) Stats(key runtime.RevisionKey) (inFlight int, completed uint64) {
	rev, ok := r.lookup(key)
	if !ok {
		return 0, 0
	}
	return int(rev.inFlight.Load()), rev.completed.Load()
}

// InstanceInFlight reports the requests in flight to one instance (for tests and metrics).
func (r *Router) InstanceInFlight(key runtime.RevisionKey, id string) int {
	rev, ok := r.lookup(key)
	if !ok {
		return 0
	}
	rev.mu.Lock()
	defer rev.mu.Unlock()
	if in, ok := rev.all[id]; ok {
		return in.inFlight
	}
	return 0
}

// Drain stops sending new requests to the instance and waits until its requests in flight
// are done, or ctx ends.
func (r *Router) Drain(ctx context.Context, key runtime.RevisionKey, id string) error {
	rev, ok := r.lookup(key)
	if !ok {
		return nil
	}
	idle := rev.drain(id)
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Handles reports whether host (with or without a port) is a route's host.
func (r *Router) Handles(host string) bool {
	_, ok := (*r.hosts.Load())[stripPort(host)]
	return ok
}

// Domain is the routes' domain.
func (r *Router) Domain() string { return r.cfg.Domain }

func stripPort(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		return strings.ToLower(h)
	}
	return strings.ToLower(host)
}

// ctxKey carries a request's routing state through the reverse proxy.
type ctxKey struct{}

// routed is one request's routing state.
type routed struct {
	rev    *revision
	router *Router
	inst   *instance // set by the transport while an instance is held
	status int
}

// problem is an answer the router gives itself.
type problem struct {
	code   int
	reason string
}

func (p *problem) Error() string { return p.reason }

// ServeHTTP implements http.Handler.
func (r *Router) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	p, ok := (*r.hosts.Load())[stripPort(req.Host)]
	if !ok {
		writeProblem(w, &problem{http.StatusNotFound, fmt.Sprintf("no route for host %q (routes answer on ROUTE.NAMESPACE.%s)", stripPort(req.Host), r.cfg.Domain)})
		return
	}
	key, ok := p.choose()
	if !ok {
		writeProblem(w, &problem{http.StatusServiceUnavailable, fmt.Sprintf("route %s has no traffic target with traffic", p.route)})
		return
	}
	rev := r.revision(key)
	s := rev.settings.Load()
	timeout := 300 * time.Second
	if s != nil && s.Timeout > 0 {
		timeout = s.Timeout
	}
	ctx, cancel := context.WithTimeout(req.Context(), timeout)
	defer cancel()
	st := &routed{rev: rev, router: r, status: http.StatusOK}
	rev.inFlight.Add(1)
	defer func() {
		rev.inFlight.Add(-1)
		rev.completed.Add(1)
		r.requests.WithLabelValues(key.Namespace, key.Name, statusText(st.status)).Inc()
	}()
	sw := &statusWriter{ResponseWriter: w, code: &st.status}
	r.proxy.ServeHTTP(sw, req.WithContext(context.WithValue(ctx, ctxKey{}, st)))
}

func statusText(code int) string {
	switch {
	case code >= 100 && code < 1000:
		return fmt.Sprint(code)
	}
	return "other"
}

// statusWriter records the status code.
type statusWriter struct {
	http.ResponseWriter
	code *int
}

func (s *statusWriter) WriteHeader(code int) {
	*s.code = code
	s.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the underlying writer (flushing, hijacking).
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (r *Router) proxyError(w http.ResponseWriter, req *http.Request, err error) {
	var p *problem
	switch {
	case errors.As(err, &p):
	case errors.Is(err, context.DeadlineExceeded):
		p = &problem{http.StatusGatewayTimeout, "the revision did not answer within its timeoutSeconds"}
	case errors.Is(err, context.Canceled):
		p = &problem{499, "the client went away"}
	default:
		p = &problem{http.StatusBadGateway, "the instance failed: " + err.Error()}
	}
	writeProblem(w, p)
}

func writeProblem(w http.ResponseWriter, p *problem) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Eddy-Router", "1")
	w.WriteHeader(p.code)
	fmt.Fprintf(w, "{\"code\":%d,\"reason\":%q}\n", p.code, p.reason)
}
