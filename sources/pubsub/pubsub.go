package pubsub

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/pubsub/v2"
	vkit "cloud.google.com/go/pubsub/v2/apiv1"
	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/eddyplatform/eddy/sources"
)

// EnvEmulatorHost is the environment variable that points Google's client libraries, and
// this adapter when Config.Endpoint and Config.APIEndpoint are empty, at an emulator.
const EnvEmulatorHost = "PUBSUB_EMULATOR_HOST"

// Defaults and limits.
const (
	// DefaultAckDeadline is the ack deadline of the subscription the adapter creates.
	DefaultAckDeadline = 30 * time.Second
	// MinAckDeadline and MaxAckDeadline are Pub/Sub's bounds for a subscription's ack
	// deadline; Config.AckDeadline is clamped to them.
	MinAckDeadline = 10 * time.Second
	MaxAckDeadline = 600 * time.Second
	// DefaultMaxInFlight bounds the messages held at once.
	DefaultMaxInFlight = 100
	// DefaultPollInterval is the wait after an empty Pull against an emulator.
	DefaultPollInterval = 50 * time.Millisecond
)

// Config configures an Adapter.
type Config struct {
	// Project is the Google Cloud project of the subscription, and of the topic unless Topic
	// is a full name. Required with an emulator; against Google Cloud it defaults to the
	// project_id of CredentialsJSON, or else to the project the environment names.
	Project string
	// Topic is the topic to read: its id, or its full name projects/<project>/topics/<id>
	// (a topic of another project). Required.
	Topic string
	// SubscriptionID is an existing subscription on Topic to read through (its id, or full
	// name). Empty means the adapter's own, DefaultSubscriptionID(Namespace, Name), which Run
	// creates if missing and DeleteSubscription deletes.
	SubscriptionID string

	// Endpoint is the host:port of a Pub/Sub emulator (the gcloud emulator, pstest), spoken to
	// in plaintext without credentials. Empty means $PUBSUB_EMULATOR_HOST if set, and
	// otherwise Google Cloud.
	Endpoint string
	// APIEndpoint overrides the Google Cloud endpoint (TLS, authenticated), such as a
	// locational endpoint. Not together with Endpoint.
	APIEndpoint string
	// CredentialsJSON is a service account key; empty means application default credentials.
	// It comes from the source's secret and is never logged or quoted in errors.
	CredentialsJSON []byte

	// AckDeadline is the ack deadline of the subscription the adapter creates, clamped to
	// 10s..600s (default 30s). The adapter extends the deadline of every message it holds,
	// so a slow sink does not cause redeliveries; the deadline only frees the messages of an
	// adapter that died.
	AckDeadline time.Duration
	// RetainAckedMessages and RetentionDuration set the created subscription's retention, as
	// CloudPubSubSource's fields of the same names do. A zero RetentionDuration means
	// Pub/Sub's default (7 days).
	RetainAckedMessages bool
	RetentionDuration   time.Duration
	// MaxInFlight bounds the messages pulled and not yet settled. Default 100.
	MaxInFlight int
	// PollInterval is the wait after an empty Pull against an emulator (Google Cloud answers
	// a Pull when messages arrive). Default 50ms.
	PollInterval time.Duration

	// Namespace and Name are the source's. Required.
	Namespace, Name string
	// Sender delivers the events. Required.
	Sender sources.Sender
	// Logger receives the adapter's reports; nil means slog.Default().
	Logger *slog.Logger
	// Registerer receives the adapter's metrics; nil means none.
	Registerer prometheus.Registerer
}

// String describes the configuration without the credentials.
func (c Config) String() string {
	creds := "none"
	if len(c.CredentialsJSON) > 0 {
		creds = "[redacted]"
	}
	return fmt.Sprintf("pubsub.Config{Project:%q Topic:%q SubscriptionID:%q Endpoint:%q APIEndpoint:%q Credentials:%s AckDeadline:%v MaxInFlight:%d Namespace:%q Name:%q}",
		c.Project, c.Topic, c.SubscriptionID, c.Endpoint, c.APIEndpoint, creds, c.AckDeadline, c.MaxInFlight, c.Namespace, c.Name)
}

// GoString is String, so that %#v does not print the credentials either.
func (c Config) GoString() string { return c.String() }

// LogValue logs the configuration without the credentials.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// DefaultSubscriptionID is the id of the subscription an adapter without
// Config.SubscriptionID reads through: "eddy-pubsubsource_<namespace>_<name>" (Kubernetes
// names have no "_", so it is unambiguous), shortened with a hash beyond Pub/Sub's 255
// characters.
func DefaultSubscriptionID(namespace, name string) string {
	id := "eddy-pubsubsource_" + namespace + "_" + name
	if len(id) <= 255 {
		return id
	}
	sum := sha256.Sum256([]byte(namespace + "/" + name))
	return id[:255-33] + "_" + hex.EncodeToString(sum[:16])
}

// Adapter reads a topic through a subscription and emits a messagePublished event for each
// message. Make one with New and start it with Run.
type Adapter struct {
	cfg      Config
	emulator bool
	log      *slog.Logger
	vecs     *sources.MetricVecs
}

// New checks cfg and returns an Adapter. It connects to nothing.
func New(cfg Config) (*Adapter, error) {
	if cfg.Endpoint == "" && cfg.APIEndpoint == "" {
		cfg.Endpoint = os.Getenv(EnvEmulatorHost)
	}
	if cfg.AckDeadline == 0 {
		cfg.AckDeadline = DefaultAckDeadline
	}
	cfg.AckDeadline = min(max(cfg.AckDeadline, MinAckDeadline), MaxAckDeadline)
	if cfg.MaxInFlight == 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	var errs []error
	if cfg.Topic == "" {
		errs = append(errs, errors.New("topic is required"))
	} else if strings.Contains(cfg.Topic, "/") && !validName(cfg.Topic, "topics") {
		errs = append(errs, fmt.Errorf("topic %q is neither an id nor projects/<project>/topics/<id>", cfg.Topic))
	}
	if s := cfg.SubscriptionID; strings.Contains(s, "/") && !validName(s, "subscriptions") {
		errs = append(errs, fmt.Errorf("subscriptionID %q is neither an id nor projects/<project>/subscriptions/<id>", s))
	}
	if cfg.Endpoint != "" && cfg.APIEndpoint != "" {
		errs = append(errs, errors.New("endpoint (an emulator) and apiEndpoint (Google Cloud) exclude each other"))
	}
	if cfg.Endpoint != "" && cfg.Project == "" {
		errs = append(errs, errors.New("project is required with an emulator"))
	}
	if cfg.Project != "" && !validID(cfg.Project) {
		errs = append(errs, fmt.Errorf("project %q is not a project id", cfg.Project))
	}
	if len(cfg.CredentialsJSON) > 0 && !json.Valid(cfg.CredentialsJSON) {
		errs = append(errs, errors.New("the credentials are not JSON"))
	}
	if cfg.Namespace == "" || cfg.Name == "" {
		errs = append(errs, errors.New("namespace and name are required"))
	} else if cfg.SubscriptionID == "" && (!validID(cfg.Namespace) || !validID(cfg.Name)) {
		errs = append(errs, errors.New("namespace and name must be Kubernetes names"))
	}
	if cfg.Sender == nil {
		errs = append(errs, errors.New("a Sender is required"))
	}
	if cfg.MaxInFlight < 0 || cfg.PollInterval < 0 || cfg.RetentionDuration < 0 {
		errs = append(errs, errors.New("maxInFlight, pollInterval and retentionDuration must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("pubsub: invalid config: %w", err)
	}
	a := &Adapter{cfg: cfg, emulator: cfg.Endpoint != "", log: cfg.Logger}
	if a.log == nil {
		a.log = slog.Default()
	}
	a.log = a.log.With("source", "pubsub", "namespace", cfg.Namespace, "name", cfg.Name)
	var err error
	if a.vecs, err = sources.NewMetricVecs(cfg.Registerer, "pubsubsource", sources.MetricHelp{Received: "Messages pulled from the subscription.", Sent: "Events the sink accepted.", Failed: "Events the Sender gave up on."}); err != nil {
		return nil, err
	}
	return a, nil
}

// validName reports whether s is projects/<project>/<kind>/<id>.
func validName(s, kind string) bool {
	p := strings.Split(s, "/")
	return len(p) == 4 && p[0] == "projects" && validID(p[1]) && p[2] == kind && validID(p[3])
}

// validID accepts project, topic and subscription ids (loosely: Pub/Sub checks the details).
func validID(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_.~+%:", c) >= 0) {
			return false
		}
	}
	return true
}

// project returns the project of the subscription, or "" when it is detected at Run.
func (a *Adapter) project() string {
	if a.cfg.Project != "" {
		return a.cfg.Project
	}
	if p := credentialsProject(a.cfg.CredentialsJSON); p != "" {
		return p
	}
	if p := strings.Split(a.cfg.SubscriptionID, "/"); len(p) == 4 {
		return p[1]
	}
	return ""
}

// credentialsProject returns the project_id of a service account key, or "".
func credentialsProject(js []byte) string {
	var v struct {
		ProjectID string `json:"project_id"`
	}
	if json.Unmarshal(js, &v) != nil || !validID(v.ProjectID) {
		return ""
	}
	return v.ProjectID
}

// names returns the full names of the topic and the subscription in project.
func (a *Adapter) names(project string) (topic, subscription string) {
	topic = a.cfg.Topic
	if !strings.Contains(topic, "/") {
		topic = "projects/" + project + "/topics/" + topic
	}
	subscription = a.cfg.SubscriptionID
	if subscription == "" {
		subscription = DefaultSubscriptionID(a.cfg.Namespace, a.cfg.Name)
	}
	if !strings.Contains(subscription, "/") {
		subscription = "projects/" + project + "/subscriptions/" + subscription
	}
	return topic, subscription
}

// EventTypes describes the one kind of event the source emits. Its source is empty when the
// project is only known once Run asked the environment.
func (a *Adapter) EventTypes() []sources.EventTypeInfo {
	src := ""
	if p := a.project(); p != "" || strings.Contains(a.cfg.Topic, "/") {
		topic, _ := a.names(p)
		src = EventSource(topic)
	}
	return []sources.EventTypeInfo{{
		Type:        EventType,
		Source:      src,
		Schema:      DataSchema,
		Description: "A message was published to the Pub/Sub topic; the data holds the message (data in base64, attributes, id, publish time, ordering key) and the subscription.",
	}}
}

// connect opens a client.
func (a *Adapter) connect(ctx context.Context) (*pubsub.Client, error) {
	var opts []option.ClientOption
	if a.emulator {
		opts = append(opts,
			option.WithEndpoint(a.cfg.Endpoint),
			option.WithoutAuthentication(),
			option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
			option.WithTelemetryDisabled())
	} else {
		if a.cfg.APIEndpoint != "" {
			opts = append(opts, option.WithEndpoint(a.cfg.APIEndpoint))
		}
		if len(a.cfg.CredentialsJSON) > 0 {
			opts = append(opts, option.WithAuthCredentialsJSON(option.ServiceAccount, a.cfg.CredentialsJSON))
		}
	}
	project := a.project()
	if project == "" {
		project = pubsub.DetectProjectID
	}
	client, err := pubsub.NewClient(ctx, project, opts...)
	if err != nil {
		// The client's errors name files and fields, never key material.
		return nil, fmt.Errorf("pubsub: connect: %w", err)
	}
	return client, nil
}

// DeleteSubscription deletes the subscription the adapter made (Config.SubscriptionID
// empty); it does nothing for a subscription it was given. The adapter does not delete its
// subscription when Run returns, because a subscription keeps the messages published while
// no adapter runs (a restart, an update of the source): the source's reconciler calls this
// when the source itself is deleted, as Knative's CloudPubSubSource does.
func (a *Adapter) DeleteSubscription(ctx context.Context) error {
	if a.cfg.SubscriptionID != "" {
		return nil
	}
	client, err := a.connect(ctx)
	if err != nil {
		return err
	}
	defer client.Close()
	_, sub := a.names(client.Project())
	err = client.SubscriptionAdminClient.DeleteSubscription(ctx, &pb.DeleteSubscriptionRequest{Subscription: sub})
	if err != nil && status.Code(err) != codes.NotFound {
		return fmt.Errorf("pubsub: delete subscription %s: %w", sub, err)
	}
	return nil
}

// Run pulls messages and sends their events until ctx ends, then nacks what it holds
// unsent, waits for the sends in progress and returns nil. It creates its own subscription
// first if it has none. A message is acknowledged only once Send returned nil, and nacked
// (Pub/Sub delivers it again) otherwise. Passing errors (the network, Pub/Sub unavailable)
// are retried with backoff; Run returns an error for the ones a retry cannot mend: the topic
// or the subscription does not exist (or was deleted), the subscription belongs to another
// topic, or permission is denied. The caller reports it and runs the adapter again later.
func (a *Adapter) Run(ctx context.Context) error {
	m := a.vecs.Of(a.cfg.Namespace, a.cfg.Name)
	defer a.vecs.Forget(a.cfg.Namespace, a.cfg.Name)
	client, err := a.connect(ctx)
	if err != nil {
		return err
	}
	defer client.Close()
	topic, sub := a.names(client.Project())
	r := &runner{a: a, m: m, client: client.SubscriptionAdminClient, topic: topic, sub: sub,
		leased: map[string]struct{}{}, freed: make(chan struct{}, 1)}
	if err := r.ensureSubscription(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	a.log.Info("pubsub: receiving", "topic", topic, "subscription", sub)
	return r.run(ctx)
}

// fatal reports whether an error of Pub/Sub will not go away by trying again.
func fatal(err error) bool {
	switch status.Code(err) {
	case codes.NotFound, codes.PermissionDenied, codes.Unauthenticated, codes.InvalidArgument, codes.FailedPrecondition:
		return true
	}
	return false
}

// backoff waits increasing times between retries.
type backoff struct{ next time.Duration }

func (b *backoff) wait(ctx context.Context) bool {
	if b.next == 0 {
		b.next = 100 * time.Millisecond
	}
	t := time.NewTimer(b.next)
	defer t.Stop()
	b.next = min(2*b.next, 10*time.Second)
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// runner is one Run.
type runner struct {
	a      *Adapter
	m      *sources.Counters
	client *vkit.SubscriptionAdminClient
	topic  string
	sub    string

	mu       sync.Mutex
	leased   map[string]struct{} // ack ids held
	inFlight int
	freed    chan struct{}
}
