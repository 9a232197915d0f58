// Package ingress accepts CloudEvents over HTTP for Channels and Brokers and publishes them to
// their bus topic. It is the data plane's front door for events:
//
//	POST /channels/{namespace}/{name}           a Channel's status.address.url
//	POST /inmemorychannels/{namespace}/{name}   an InMemoryChannel's
//	POST /brokers/{namespace}/{name}            a Broker's
//	POST /channels.channels.knative.dev/{namespace}/{name}   a 2018 (v1alpha1) Channel's
//
// It reads binary, structured and batch mode (CloudEvents HTTP binding, spec 1.0 and 0.3) and
// answers 202 Accepted only after the bus acknowledged the publish, so an accepted event is
// never lost. Otherwise: 400 with the reason for an invalid event, 413 above MaxBytes, 404 for
// an unknown (or not yet ready) channel or broker, 405 for a method other than POST (OPTIONS
// answers the CloudEvents webhook abuse-protection handshake), and 503 when the bus could not
// take the events (the sender should retry).
//
// A W3C traceparent header on the request is carried into the event's traceparent extension
// (the CloudEvents distributed-tracing extension) unless the event already has one, so the
// trace continues through the bus to the subscribers.
package ingress

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/eddyplatform/eddy/bus"
	"github.com/eddyplatform/eddy/conformance"
	"github.com/prometheus/client_golang/prometheus"
)

// Target is where the events for one Channel or Broker go.
type Target struct {
	// Bus carries the events.
	Bus bus.Bus
	// Topic is the Channel's or Broker's topic on Bus.
	Topic string
}

// Resolver finds the target of an addressable kind (its plural: "channels", "inmemorychannels"
// or "brokers") by namespace and name. It is called on every request and must be fast and safe for concurrent use; the
// reconcilers keep it current.
type Resolver interface {
	Resolve(kind, namespace, name string) (Target, bool)
}

// Config configures a Handler.
type Config struct {
	// Resolver maps paths to topics. Required.
	Resolver Resolver
	// MaxBytes is the largest request body accepted (default 4 MiB); larger ones get 413.
	MaxBytes int64
	// Accepted, when set, is called after every accepted request with the addressable
	// kind's plural, its namespace and name, and the events (which it must not modify). It
	// must return quickly: the broker's EventType registry uses it.
	Accepted func(kind, namespace, name string, events []*event.Event)
	// PublishTimeout bounds one publish to the bus (default 30s).
	PublishTimeout time.Duration
	// CheckEvent checks each event after parsing and returns the reason it is invalid, which
	// becomes the 400 answer's reason. The sdk's own validation always runs first. Nil means
	// conformance.Reason: the CloudEvents spec's every MUST, named by rule.
	CheckEvent func(*event.Event) error
	// Logger defaults to slog.Default(). Event data is never logged.
	Logger *slog.Logger
	// Metrics is where the handler registers its collectors; nil registers nowhere.
	Metrics prometheus.Registerer
}

func (c *Config) setDefaults() {
	if c.MaxBytes == 0 {
		c.MaxBytes = 4 << 20
	}
	if c.PublishTimeout == 0 {
		c.PublishTimeout = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.CheckEvent == nil {
		c.CheckEvent = conformance.Reason
	}
}

// Validate reports a configuration that can't work.
func (c *Config) Validate() error {
	if c.Resolver == nil {
		return errors.New("ingress: Config.Resolver is required")
	}
	if c.MaxBytes < 0 || c.PublishTimeout < 0 {
		return errors.New("ingress: MaxBytes and PublishTimeout must not be negative")
	}
	return nil
}

// Handler is the ingress http.Handler. It is safe for concurrent use.
type Handler struct {
	cfg      Config
	requests *prometheus.CounterVec
	events   *prometheus.CounterVec
	latency  prometheus.Histogram
}

// New returns a Handler, or an error for an invalid configuration.
func New(cfg Config) (*Handler, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	h := &Handler{
		cfg: cfg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eddy_ingress_requests_total", Help: "Event ingress requests by addressable kind and HTTP status code.",
		}, []string{"kind", "code"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eddy_ingress_events_total", Help: "Events accepted by the ingress (published and acknowledged by the bus).",
		}, []string{"kind", "namespace", "name"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "eddy_ingress_ack_seconds", Help: "Time from request to 202: parsing plus the bus's durable acknowledgement.",
			Buckets: prometheus.ExponentialBuckets(0.00005, 2, 18),
		}),
	}
	if cfg.Metrics != nil {
		for _, c := range []prometheus.Collector{h.requests, h.events, h.latency} {
			if err := cfg.Metrics.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return h, nil
}

// Kinds are the plurals of the addressable kinds whose paths the ingress serves.
var Kinds = []string{"channels", "inmemorychannels", "brokers", "channels.channels.knative.dev"}

// Handles reports whether path is an ingress path ("/channels/…", "/inmemorychannels/…" or
// "/brokers/…").
func Handles(path string) bool {
	for _, k := range Kinds {
		if strings.HasPrefix(path, "/"+k+"/") {
			return true
		}
	}
	return false
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	kind, code := h.serve(w, r)
	h.requests.WithLabelValues(kind, fmt.Sprint(code)).Inc()
	if code == http.StatusAccepted {
		h.latency.Observe(time.Since(start).Seconds())
	}
}

// problem is an HTTP error answer.
type problem struct {
	code   int
	reason string
}

func (p *problem) Error() string { return p.reason }

func fail(code int, format string, args ...any) *problem {
	return &problem{code: code, reason: fmt.Sprintf(format, args...)}
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) (kind string, code int) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) != 3 || !slices.Contains(Kinds, parts[0]) || parts[1] == "" || parts[2] == "" {
		return "unknown", reply(w, fail(http.StatusNotFound, "no channel or broker at %s: use /channels/{namespace}/{name} or /brokers/{namespace}/{name}", r.URL.Path))
	}
	kind, ns, name := parts[0], parts[1], parts[2]
	switch r.Method {
	case http.MethodPost:
	case http.MethodOptions:
		// CloudEvents HTTP webhook abuse protection: allow any origin that asks.
		if origin := r.Header.Get("WebHook-Request-Origin"); origin != "" {
			w.Header().Set("WebHook-Allowed-Origin", origin)
			w.Header().Set("WebHook-Allowed-Rate", "*")
		}
		w.Header().Set("Allow", "POST, OPTIONS")
		w.WriteHeader(http.StatusOK)
		return kind, http.StatusOK
	default:
		w.Header().Set("Allow", "POST, OPTIONS")
		return kind, reply(w, fail(http.StatusMethodNotAllowed, "method %s is not allowed: send events with POST", r.Method))
	}
	target, ok := h.cfg.Resolver.Resolve(kind, ns, name)
	if !ok {
		return kind, reply(w, fail(http.StatusNotFound, "%s %s/%s does not exist or is not ready", strings.TrimSuffix(kind, "s"), ns, name))
	}
	events, err := h.parse(r)
	if err != nil {
		return kind, reply(w, err)
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.PublishTimeout)
	defer cancel()
	if err := target.Bus.Publish(ctx, target.Topic, events...); err != nil {
		var p *problem
		switch {
		case errors.Is(err, bus.ErrInvalidEvent):
			p = fail(http.StatusBadRequest, "%v", err)
		case errors.Is(err, bus.ErrEventTooLarge):
			p = fail(http.StatusRequestEntityTooLarge, "%v", err)
		case errors.Is(err, bus.ErrTopicNotFound):
			p = fail(http.StatusNotFound, "%s %s/%s has no topic yet", strings.TrimSuffix(kind, "s"), ns, name)
		default:
			h.cfg.Logger.Warn("publish failed", "kind", kind, "namespace", ns, "name", name, "events", len(events), "err", err)
			p = fail(http.StatusServiceUnavailable, "the bus did not accept the events (retry): %v", err)
		}
		return kind, reply(w, p)
	}
	h.events.WithLabelValues(kind, ns, name).Add(float64(len(events)))
	if h.cfg.Accepted != nil {
		h.cfg.Accepted(kind, ns, name, events)
	}
	w.WriteHeader(http.StatusAccepted)
	return kind, http.StatusAccepted
}

// parse reads the request's events, in any mode, and validates them: structured and batch
// bodies are judged as JSON by the conformance library before decoding (sdk-go would silently
// accept some invalid ones, such as both data and data_base64, or an upper-case attribute
// name), and binary-mode header values are percent-decoded as the HTTP binding says (sdk-go
// leaves them encoded).
func (h *Handler) parse(r *http.Request) ([]*event.Event, error) {
	if r.ContentLength > h.cfg.MaxBytes {
		return nil, fail(http.StatusRequestEntityTooLarge, "the body is %d bytes; the limit is %d", r.ContentLength, h.cfg.MaxBytes)
	}
	r.Body = http.MaxBytesReader(nil, r.Body, h.cfg.MaxBytes)
	mode := conformance.DetectMode(r.Header.Get("Content-Type"))
	var events []*event.Event
	switch mode {
	case conformance.ModeBatch, conformance.ModeStructured:
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, bodyProblem(err, "body")
		}
		what := "event"
		vs := conformance.Violations(conformance.ValidateStructured(body))
		if mode == conformance.ModeBatch {
			what, vs = "batch", conformance.Violations(conformance.ValidateBatch(body))
		}
		if err := vs.Err(); err != nil {
			return nil, fail(http.StatusBadRequest, "invalid CloudEvents %s: %v", what, err)
		}
		if mode == conformance.ModeBatch {
			var batch []event.Event
			if err := json.Unmarshal(body, &batch); err != nil {
				return nil, fail(http.StatusBadRequest, "cannot read the batch: %v", err)
			}
			for i := range batch {
				events = append(events, &batch[i])
			}
		} else {
			ev := event.New()
			if err := json.Unmarshal(body, &ev); err != nil {
				return nil, fail(http.StatusBadRequest, "cannot read the event: %v", err)
			}
			events = append(events, &ev)
		}
	default:
		if err := decodeBinaryHeaders(r.Header); err != nil {
			return nil, err
		}
		msg := cehttp.NewMessageFromHttpRequest(r)
		defer msg.Finish(nil)
		if msg.ReadEncoding() != binding.EncodingBinary {
			return nil, fail(http.StatusBadRequest, "not a CloudEvent: binary mode needs ce-specversion, ce-id, ce-source and ce-type headers; structured mode needs Content-Type: application/cloudevents+json")
		}
		ev, err := binding.ToEvent(r.Context(), msg)
		if err != nil {
			return nil, bodyProblem(err, "event")
		}
		// Binary mode reads the body lazily: make sure it was within the limit.
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			return nil, bodyProblem(err, "event")
		}
		events = append(events, ev)
	}
	tp := r.Header.Get("traceparent")
	for i, ev := range events {
		if err := ev.Validate(); err != nil {
			return nil, fail(http.StatusBadRequest, "invalid CloudEvent%s: %v", index(i, len(events)), err)
		}
		if err := h.cfg.CheckEvent(ev); err != nil {
			return nil, fail(http.StatusBadRequest, "invalid CloudEvent%s: %v", index(i, len(events)), err)
		}
		if tp != "" {
			if _, has := ev.Extensions()["traceparent"]; !has {
				ev.SetExtension("traceparent", tp)
			}
		}
	}
	return events, nil
}

// decodeBinaryHeaders percent-decodes (and unquotes) the ce- header values in place, as the
// HTTP binding's §3.1.3.2 asks of receivers. A value with raw non-ASCII bytes is left as it is
// when they are valid UTF-8: senders MUST percent-encode them, but widely used SDKs send raw
// UTF-8, and rejecting them would help no one.
func decodeBinaryHeaders(h http.Header) error {
	for key, vals := range h {
		if len(key) < 3 || !strings.EqualFold(key[:3], "ce-") {
			continue
		}
		for i, v := range vals {
			if !isASCII(v) {
				if !utf8.ValidString(v) {
					return fail(http.StatusBadRequest, "invalid CloudEvent: header %s is not UTF-8; values outside printable ASCII MUST be percent-encoded UTF-8", key)
				}
				continue
			}
			if !strings.ContainsAny(v, "%\"") {
				continue
			}
			d, err := conformance.DecodeHTTPHeaderValue(v)
			if err != nil {
				return fail(http.StatusBadRequest, "invalid CloudEvent: header %s: %v", key, err)
			}
			vals[i] = d
		}
	}
	return nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func index(i, n int) string {
	if n == 1 {
		return ""
	}
	return fmt.Sprintf(" at batch index %d", i)
}

func bodyProblem(err error, what string) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return fail(http.StatusRequestEntityTooLarge, "the body is larger than %d bytes", tooBig.Limit)
	}
	return fail(http.StatusBadRequest, "cannot read the %s: %v", what, err)
}

// reply writes a problem as a short JSON body and returns its code.
func reply(w http.ResponseWriter, err error) int {
	var p *problem
	if !errors.As(err, &p) {
		p = fail(http.StatusInternalServerError, "%v", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(p.code)
	fmt.Fprintf(w, "{\"code\":%d,\"reason\":%q}\n", p.code, p.reason)
	return p.code
}
