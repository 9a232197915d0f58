package apiserver

import (
	"context"
	"encoding/json"
	"io"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"log/slog"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/control/store"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Config configures a Server. Store, Registry and Token are required.
type Config struct {
	// Store keeps the objects.
	Store store.Store
	// Registry knows the kinds.
	Registry *api.Registry
	// Token is the bearer token every non-open request must carry.
	Token string
	// Version is reported by /version.
	Version string
	// Logger receives one line per request; nil uses slog.Default(). Bodies are never logged.
	Logger *slog.Logger
	// Metrics is where the server registers its collectors; nil uses a fresh registry.
	Metrics *prometheus.Registry
	// Gatherer serves /metrics; nil serves Metrics.
	Gatherer prometheus.Gatherer
	// MaxBodyBytes bounds request bodies (default 8 MiB); larger ones get 413.
	MaxBodyBytes int64
	// Ready reports readiness for /readyz; nil means always ready.
	Ready func() error
	// Logs serves the "log" subresource of the kinds it names (such as a Revision's
	// instances' output): GET …/{plural}/{name}/log?instance=&tailLines=&follow=.
	Logs map[schema.GroupResource]LogSource
}

// LogOptions are the query parameters of a log request.
type LogOptions struct {
	// Instance picks one instance (or build step); empty means all.
	Instance string
	// TailLines is how many of the last lines to send (0: all kept).
	TailLines int
	// Follow keeps the response open and sends new lines as they come.
	Follow bool
}

// LogSource writes an object's logs to w. With Follow it returns when ctx ends. Its errors
// are API errors (a NotFound for an unknown object or instance).
type LogSource func(ctx context.Context, w io.Writer, namespace, name string, opts LogOptions) error

func (c *Config) setDefaults() {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Metrics == nil {
		c.Metrics = prometheus.NewRegistry()
	}
	if c.Gatherer == nil {
		c.Gatherer = c.Metrics
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 8 << 20
	}
	if c.Version == "" {
		c.Version = "dev"
	}
}

// Server is the HTTP API. It is an http.Handler, safe for concurrent use.
type Server struct {
	cfg     Config
	mux     *http.ServeMux
	metrics *metrics
}

type metrics struct {
	requests     *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	unauthorized prometheus.Counter
	watches      prometheus.Gauge
}

// New returns a Server for cfg.
func New(cfg Config) *Server {
	cfg.setDefaults()
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eddy_api_requests_total", Help: "API requests by verb, resource and HTTP status code.",
		}, []string{"verb", "resource", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "eddy_api_request_duration_seconds", Help: "API request latency (watches excluded).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10),
		}, []string{"verb"}),
		unauthorized: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "eddy_api_unauthorized_total", Help: "API requests refused for a missing or wrong bearer token.",
		}),
		watches: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "eddy_api_watches", Help: "Open watch streams.",
		}),
	}
	cfg.Metrics.MustRegister(m.requests, m.latency, m.unauthorized, m.watches)
	s := &Server{cfg: cfg, mux: http.NewServeMux(), metrics: m}
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) })
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.HandleFunc("GET /version", s.version)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Gatherer, promhttp.HandlerOpts{}))
	s.mux.Handle("/", s.authenticated(http.HandlerFunc(s.route)))
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	if s.cfg.Ready != nil {
		if err := s.cfg.Ready(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
	}
	w.Write([]byte("ok"))
}

// VersionInfo is what /version returns, in the shape of Kubernetes' version.Info.
type VersionInfo struct {
	GitVersion string `json:"gitVersion"`
	GoVersion  string `json:"goVersion"`
	Platform   string `json:"platform"`
}

func (s *Server) version(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, VersionInfo{
		GitVersion: s.cfg.Version, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH,
	})
}

func (s *Server) authenticated(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !bearerOK(r.Header.Get("Authorization"), s.cfg.Token) {
			s.metrics.unauthorized.Inc()
			s.cfg.Logger.Warn("api request refused: missing or wrong bearer token",
				"method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr)
			w.Header().Set("WWW-Authenticate", `Bearer realm="eddy"`)
			writeStatus(w, unauthorized())
			return
		}
		next.ServeHTTP(w, r)
	})
}

// statusRecorder remembers the status code for logs and metrics.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Flush lets watch streams flush through the recorder.
func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w}
	verb, resource := s.serve(rec, r)
	if rec.code == 0 {
		rec.code = http.StatusOK
	}
	s.metrics.requests.WithLabelValues(verb, resource, strconv.Itoa(rec.code)).Inc()
	if verb != "watch" {
		s.metrics.latency.WithLabelValues(verb).Observe(time.Since(start).Seconds())
	}
	s.cfg.Logger.Debug("api request", "verb", verb, "path", r.URL.Path, "code", rec.code, "duration", time.Since(start))
}

// serve dispatches one authenticated request and returns the verb and resource for metrics.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) (verb, resource string) {
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case len(segs) == 1 && segs[0] == "api":
		writeJSON(w, http.StatusOK, s.coreVersions())
		return "discover", ""
	case len(segs) == 1 && segs[0] == "apis":
		writeJSON(w, http.StatusOK, s.groupList())
		return "discover", ""
	case len(segs) == 2 && segs[0] == "apis":
		if g, ok := s.group(segs[1]); ok {
			writeJSON(w, http.StatusOK, g)
			return "discover", ""
		}
	case len(segs) == 2 && segs[0] == "api" && segs[1] == "v1":
		writeJSON(w, http.StatusOK, s.resourceList("", "v1"))
		return "discover", ""
	case len(segs) == 3 && segs[0] == "apis":
		if rl := s.resourceList(segs[1], segs[2]); len(rl.APIResources) > 0 {
			writeJSON(w, http.StatusOK, rl)
			return "discover", ""
		}
	}
	t, err := s.parse(segs)
	if err != nil {
		writeStatus(w, err)
		return "unknown", ""
	}
	return s.serveResource(w, r, t), t.kind.Plural
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.Encode(v)
}
