package github

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	gogithub "github.com/google/go-github/v57/github"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/eddyplatform/eddy/sources"
)

// DefaultMaxBodyBytes is the largest request body a Receiver reads by default: GitHub does
// not deliver payloads over 25 MB.
const DefaultMaxBodyBytes = 25 << 20

// Header names GitHub sets on deliveries.
const (
	HeaderEvent     = gogithub.EventTypeHeader       // X-GitHub-Event
	HeaderDelivery  = gogithub.DeliveryIDHeader      // X-GitHub-Delivery
	HeaderSignature = gogithub.SHA256SignatureHeader // X-Hub-Signature-256
)

// maxDeliveryIDSize caps X-GitHub-Delivery.
const maxDeliveryIDSize = 256

// ReceiverConfig configures a Receiver.
type ReceiverConfig struct {
	// Secret is the webhook's secret token; every delivery must carry its HMAC-SHA256 in
	// X-Hub-Signature-256. Required unless Insecure. The Receiver keeps a copy.
	Secret []byte
	// Insecure accepts deliveries without a signature when Secret is empty (for local
	// development only). When Secret is set it is checked regardless.
	Insecure bool
	// OwnerAndRepository is the watched "owner/repo", or "org" for an organisation hook; it
	// is the CloudEvents source of events whose payload names no repository or organisation.
	// Optional.
	OwnerAndRepository string
	// EventTypes are the GitHub event names to forward (as in X-GitHub-Event); empty or
	// containing "*" forwards every event. Others are acknowledged with 200 and dropped. A ping
	// is forwarded only when "ping" is named.
	EventTypes []string
	// Sender delivers the events. Required.
	Sender sources.Sender
	// Logger receives the Receiver's log lines; slog.Default() when nil.
	Logger *slog.Logger
	// MaxBodyBytes caps a request body; DefaultMaxBodyBytes when zero.
	MaxBodyBytes int64
	// WebURL is the GitHub web address used to build sources from names; DefaultWebURL when
	// empty (for GitHub Enterprise, e.g. https://ghe.example.com).
	WebURL string

	// Metrics is where the Receiver's counters are registered (nil: not registered), labelled
	// with Namespace and Name. Receivers may share one Registerer. These three are fixed when
	// the Receiver is made; Update ignores them.
	Metrics   prometheus.Registerer
	Namespace string
	Name      string
}

// receiverState is the part of a ReceiverConfig that Update may change, validated.
type receiverState struct {
	secret   []byte
	insecure bool
	opts     MapOptions
	events   map[string]bool // nil: all
	ping     bool            // "ping" named in EventTypes
	sender   sources.Sender
	logger   *slog.Logger
	maxBody  int64
}

// Receiver is the http.Handler of one GitHubSource: it verifies deliveries and sends them as
// CloudEvents. It is safe for concurrent use.
type Receiver struct {
	state   atomic.Pointer[receiverState]
	metrics *metrics
}

var _ http.Handler = (*Receiver)(nil)

// NewReceiver returns a Receiver for cfg, after registering its metrics.
func NewReceiver(cfg ReceiverConfig) (*Receiver, error) {
	st, err := newState(cfg)
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Metrics, cfg.Namespace, cfg.Name)
	if err != nil {
		return nil, err
	}
	r := &Receiver{metrics: m}
	st.logger = st.logger.With("namespace", cfg.Namespace, "name", cfg.Name)
	r.state.Store(st)
	return r, nil
}

// Update replaces the Receiver's settings (secret rotation, event types, sender, ...) except
// its metrics. Requests already being served finish with the settings they started with; the
// ones that start after Update returns use the new ones. On error nothing changes.
func (r *Receiver) Update(cfg ReceiverConfig) error {
	st, err := newState(cfg)
	if err != nil {
		return err
	}
	st.logger = st.logger.With("namespace", r.metrics.labels["namespace"], "name", r.metrics.labels["name"])
	r.state.Store(st)
	return nil
}

// Close removes the Receiver's metric series; call it when its source is deleted. The
// Receiver still serves afterwards, but its series then reappear.
func (r *Receiver) Close() { r.metrics.delete() }

var ownerRepoRE = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:/[A-Za-z0-9._-]{1,100})?$`)

// validOwnerAndRepository reports whether s is "owner" or "owner/repo" in GitHub's alphabet.
func validOwnerAndRepository(s string) bool {
	if !ownerRepoRE.MatchString(s) {
		return false
	}
	_, repo, ok := strings.Cut(s, "/")
	return !ok || (repo != "." && repo != "..")
}

// validLogin reports whether s can be a GitHub user or organisation login.
func validLogin(s string) bool {
	return s != "" && !strings.Contains(s, "/") && validOwnerAndRepository(s)
}

func newState(cfg ReceiverConfig) (*receiverState, error) {
	if cfg.Sender == nil {
		return nil, errors.New("github receiver: Sender is required")
	}
	if len(cfg.Secret) == 0 && !cfg.Insecure {
		return nil, errors.New("github receiver: Secret is required unless Insecure is set")
	}
	if cfg.OwnerAndRepository != "" && !validOwnerAndRepository(cfg.OwnerAndRepository) {
		return nil, fmt.Errorf("github receiver: OwnerAndRepository %q is not \"owner\" or \"owner/repo\"", cfg.OwnerAndRepository)
	}
	if cfg.MaxBodyBytes < 0 {
		return nil, errors.New("github receiver: MaxBodyBytes must not be negative")
	}
	if cfg.WebURL != "" {
		if u, err := url.Parse(cfg.WebURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("github receiver: WebURL %q is not an absolute http(s) URL", cfg.WebURL)
		}
	}
	st := &receiverState{
		secret:   bytes.Clone(cfg.Secret),
		insecure: cfg.Insecure,
		opts:     MapOptions{WebURL: strings.TrimRight(cfg.WebURL, "/"), OwnerAndRepository: cfg.OwnerAndRepository},
		sender:   cfg.Sender,
		logger:   cfg.Logger,
		maxBody:  cfg.MaxBodyBytes,
	}
	if st.logger == nil {
		st.logger = slog.Default()
	}
	if st.maxBody == 0 {
		st.maxBody = DefaultMaxBodyBytes
	}
	if len(cfg.EventTypes) > 0 && !slices.Contains(cfg.EventTypes, "*") {
		st.events = make(map[string]bool, len(cfg.EventTypes))
	}
	for _, t := range cfg.EventTypes {
		if t != "*" && !ValidEventName(t) {
			return nil, fmt.Errorf("github receiver: EventTypes: %q is not a GitHub event name", t)
		}
		if st.events != nil {
			st.events[t] = true
		}
		st.ping = st.ping || t == "ping"
	}
	return st, nil
}

// ServeHTTP handles one webhook delivery; see the package documentation for the answers.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	st := r.state.Load()
	m := r.metrics
	m.received.Inc()

	reject := func(code int, reason, msg string) {
		m.drop(reason)
		st.logger.Warn("github delivery rejected", "reason", reason, "status", code,
			"event", headerForLog(req, HeaderEvent), "delivery", headerForLog(req, HeaderDelivery), "remote", req.RemoteAddr)
		reply(w, code, msg)
	}

	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		reject(http.StatusMethodNotAllowed, reasonMethod, "only POST is accepted")
		return
	}

	// The raw body, exactly as signed.
	if req.ContentLength > st.maxBody {
		reject(http.StatusRequestEntityTooLarge, reasonTooLarge, "body exceeds "+strconv.FormatInt(st.maxBody, 10)+" bytes")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, st.maxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			reject(http.StatusRequestEntityTooLarge, reasonTooLarge, "body exceeds "+strconv.FormatInt(st.maxBody, 10)+" bytes")
			return
		}
		reject(http.StatusBadRequest, reasonReadError, "cannot read body")
		return
	}

	// Authenticity first: nothing else about an unsigned request is looked at.
	if len(st.secret) > 0 || !st.insecure {
		sig := req.Header.Get(HeaderSignature)
		if sig == "" {
			reject(http.StatusUnauthorized, reasonMissingSignature, "missing "+HeaderSignature)
			return
		}
		// Only sha256= is accepted: ValidateSignature would also take sha1= and sha512=.
		if !strings.HasPrefix(sig, "sha256=") || gogithub.ValidateSignature(sig, body, st.secret) != nil {
			reject(http.StatusUnauthorized, reasonBadSignature, "signature does not match")
			return
		}
	}

	mediaType, _, err := mime.ParseMediaType(req.Header.Get("Content-Type"))
	if err != nil || (mediaType != "application/json" && mediaType != "application/x-www-form-urlencoded") {
		reject(http.StatusUnsupportedMediaType, reasonContentType, "Content-Type must be application/json or application/x-www-form-urlencoded")
		return
	}

	ghEvent := gogithub.WebHookType(req)
	if ghEvent == "" {
		reject(http.StatusBadRequest, reasonMissingEvent, "missing "+HeaderEvent)
		return
	}
	if !ValidEventName(ghEvent) {
		reject(http.StatusBadRequest, reasonInvalidEvent, "malformed "+HeaderEvent)
		return
	}
	delivery := gogithub.DeliveryID(req)
	if delivery == "" {
		reject(http.StatusBadRequest, reasonMissingDelivery, "missing "+HeaderDelivery)
		return
	}
	if !validDeliveryID(delivery) {
		reject(http.StatusBadRequest, reasonInvalidDelivery, "malformed "+HeaderDelivery)
		return
	}

	payload := body
	if mediaType == "application/x-www-form-urlencoded" {
		form, err := url.ParseQuery(string(body))
		if err != nil || len(form["payload"]) != 1 {
			reject(http.StatusBadRequest, reasonBadForm, "form body must have exactly one payload field")
			return
		}
		payload = []byte(form.Get("payload"))
	}

	ev, err := NewEvent(ghEvent, delivery, payload, st.opts)
	if err != nil {
		if errors.Is(err, ErrMalformedPayload) {
			reject(http.StatusBadRequest, reasonMalformedJSON, "payload is not a JSON object")
			return
		}
		reject(http.StatusBadRequest, reasonUnmappable, "payload cannot be mapped to a CloudEvent")
		return
	}

	if ghEvent == "ping" && !st.ping {
		m.drop(reasonPing)
		logPing(st.logger, delivery, payload)
		reply(w, http.StatusOK, "pong")
		return
	}
	if st.events != nil && !st.events[ghEvent] {
		m.drop(reasonFiltered)
		st.logger.Debug("github event not subscribed, dropped", "event", ghEvent, "delivery", delivery)
		reply(w, http.StatusOK, "ignored: event type not subscribed")
		return
	}

	if err := st.sender.Send(req.Context(), ev); err != nil {
		m.failed.Inc()
		code := http.StatusBadGateway
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			code = http.StatusServiceUnavailable
		}
		st.logger.Error("sending github event failed", "event", ghEvent, "delivery", delivery, "status", code, "error", err)
		reply(w, code, "sink did not accept the event")
		return
	}
	m.sent.Inc()
	st.logger.Debug("github event sent", "event", ghEvent, "delivery", delivery, "subject", ev.Subject())
	reply(w, http.StatusAccepted, "accepted")
}

// logPing records a ping's zen and hook, read with go-github.
func logPing(logger *slog.Logger, delivery string, payload []byte) {
	attrs := []any{"delivery", delivery}
	if parsed, err := gogithub.ParseWebHook("ping", payload); err == nil {
		if ping, ok := parsed.(*gogithub.PingEvent); ok {
			attrs = append(attrs, "zen", ping.GetZen(), "hook_id", ping.GetHookID())
			if ping.Hook != nil {
				attrs = append(attrs, "hook_type", ping.Hook.GetType(), "hook_events", ping.Hook.Events)
			}
		}
	}
	logger.Info("github ping", attrs...)
}

// validDeliveryID accepts the printable ASCII ids GitHub sends (GUIDs), up to 256 bytes.
func validDeliveryID(s string) bool {
	if len(s) > maxDeliveryIDSize {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// headerForLog returns a header for a log line, shortened: it may come from anyone.
func headerForLog(req *http.Request, name string) string {
	v := req.Header.Get(name)
	if len(v) > 80 {
		v = v[:80] + "..."
	}
	return strconv.Quote(v)
}

func reply(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, msg+"\n")
}
