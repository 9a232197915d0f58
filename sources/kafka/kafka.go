package kafka

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/IBM/sarama"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/eddyplatform/eddy/internal/scram"
	"github.com/eddyplatform/eddy/sources"
)

// Initial offsets: where a consumer group without committed offsets starts.
const (
	OffsetEarliest = "earliest"
	OffsetLatest   = "latest"
)

// SASL mechanisms.
const (
	SASLPlain       = "PLAIN"
	SASLScramSHA256 = "SCRAM-SHA-256"
	SASLScramSHA512 = "SCRAM-SHA-512"
)

// Defaults.
const (
	DefaultRetryBackoff    = time.Second
	DefaultMaxRetryBackoff = time.Minute
	DefaultCommitInterval  = time.Second
)

// Config configures an Adapter.
type Config struct {
	// BootstrapServers are host:port addresses of brokers. Required.
	BootstrapServers []string
	// Topics are the topics to read. Required.
	Topics []string
	// ConsumerGroup is the Kafka consumer group; its committed offsets are where a new run
	// resumes. Required (Knative defaults it to the source's UID).
	ConsumerGroup string
	// InitialOffset is where the group starts on partitions it has no offset for: "earliest"
	// or "latest" (the default).
	InitialOffset string
	// KeyType says how record keys become the "key" extension of events made of plain
	// records: "string" (the default), "int", "float" or "byte-array".
	KeyType string
	// TLS and SASL secure the connection to the brokers.
	TLS  TLSConfig
	SASL SASLConfig
	// KafkaVersion is the oldest Kafka version the brokers run, such as "3.6.0"; default
	// sarama's (2.8.0).
	KafkaVersion string
	// RetryBackoff is the first wait after a send the sink did not accept, doubling up to
	// MaxRetryBackoff, while the partition waits. Defaults 1s and 1m.
	RetryBackoff, MaxRetryBackoff time.Duration
	// CommitInterval is how often sent offsets are committed (and on stop). Default 1s.
	CommitInterval time.Duration

	// Namespace and Name are the KafkaSource's. Required.
	Namespace, Name string
	// Sender delivers the events. Required.
	Sender sources.Sender
	// Logger receives the adapter's reports; nil means slog.Default().
	Logger *slog.Logger
	// Registerer receives the adapter's metrics; nil means none.
	Registerer prometheus.Registerer
}

// TLSConfig configures TLS to the brokers, as KafkaSource's spec.net.tls does.
type TLSConfig struct {
	// Enable turns TLS on. It is implied by CACert, Cert or Key.
	Enable bool
	// CACert holds PEM certificates of the authorities that sign the brokers' certificates;
	// the system's roots if empty.
	CACert []byte
	// Cert and Key are a PEM client certificate and its key, for mutual TLS. Both or neither.
	Cert, Key []byte
}

// String describes the settings without the key.
func (c TLSConfig) String() string {
	return fmt.Sprintf("{Enable:%t CACert:%d bytes Cert:%d bytes Key:%s}", c.Enable, len(c.CACert), len(c.Cert), redacted(len(c.Key)))
}

// LogValue keeps the key out of logs.
func (c TLSConfig) LogValue() slog.Value { return slog.StringValue(c.String()) }

// SASLConfig configures SASL authentication, as KafkaSource's spec.net.sasl does.
type SASLConfig struct {
	// Enable turns SASL on. It is implied by Mechanism or User.
	Enable bool
	// Mechanism is PLAIN (the default), SCRAM-SHA-256 or SCRAM-SHA-512. PLAIN sends the
	// password as it is: use it with TLS.
	Mechanism string
	// User and Password are the credentials.
	User, Password string
}

// String describes the settings without the password.
func (c SASLConfig) String() string {
	return fmt.Sprintf("{Enable:%t Mechanism:%q User:%q Password:%s}", c.Enable, c.Mechanism, c.User, redacted(len(c.Password)))
}

// LogValue keeps the password out of logs.
func (c SASLConfig) LogValue() slog.Value { return slog.StringValue(c.String()) }

func redacted(n int) string {
	if n == 0 {
		return "none"
	}
	return "[redacted]"
}

// String describes the configuration without secrets.
func (c Config) String() string {
	return fmt.Sprintf("kafka.Config{BootstrapServers:%q Topics:%q ConsumerGroup:%q InitialOffset:%q KeyType:%q TLS:%s SASL:%s Namespace:%q Name:%q}",
		c.BootstrapServers, c.Topics, c.ConsumerGroup, c.InitialOffset, c.KeyType, c.TLS, c.SASL, c.Namespace, c.Name)
}

// GoString is String, so that %#v does not print secrets either.
func (c Config) GoString() string { return c.String() }

// LogValue logs the configuration without secrets.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// Adapter consumes a KafkaSource's topics and sends an event per record. Make one with New
// and start it with Run.
type Adapter struct {
	cfg     Config
	version sarama.KafkaVersion
	tls     *tls.Config
	log     *slog.Logger
	vecs    *sources.MetricVecs
}

// New checks cfg and returns an Adapter. It connects to nothing. Its errors never contain
// the password or the key.
func New(cfg Config) (*Adapter, error) {
	if cfg.InitialOffset == "" {
		cfg.InitialOffset = OffsetLatest
	}
	if cfg.KeyType == "" {
		cfg.KeyType = KeyString
	}
	if cfg.RetryBackoff == 0 {
		cfg.RetryBackoff = DefaultRetryBackoff
	}
	if cfg.MaxRetryBackoff == 0 {
		cfg.MaxRetryBackoff = max(DefaultMaxRetryBackoff, cfg.RetryBackoff)
	}
	if cfg.CommitInterval == 0 {
		cfg.CommitInterval = DefaultCommitInterval
	}
	if len(cfg.TLS.CACert) > 0 || len(cfg.TLS.Cert) > 0 || len(cfg.TLS.Key) > 0 {
		cfg.TLS.Enable = true
	}
	if cfg.SASL.Mechanism != "" || cfg.SASL.User != "" {
		cfg.SASL.Enable = true
	}
	if cfg.SASL.Enable && cfg.SASL.Mechanism == "" {
		cfg.SASL.Mechanism = SASLPlain
	}
	a := &Adapter{cfg: cfg, version: sarama.DefaultVersion, log: cfg.Logger}
	var errs []error
	if len(cfg.BootstrapServers) == 0 {
		errs = append(errs, errors.New("bootstrapServers is required"))
	}
	for _, b := range cfg.BootstrapServers {
		host, port, err := net.SplitHostPort(b)
		n, perr := strconv.Atoi(port)
		if err != nil || host == "" || perr != nil || n <= 0 || n > 65535 {
			errs = append(errs, fmt.Errorf("bootstrap server %q is not host:port", b))
		}
	}
	if len(cfg.Topics) == 0 {
		errs = append(errs, errors.New("topics is required"))
	}
	for _, t := range cfg.Topics {
		if !validTopic(t) {
			errs = append(errs, fmt.Errorf("topic %q is not a Kafka topic name", t))
		}
	}
	if strings.TrimSpace(cfg.ConsumerGroup) == "" {
		errs = append(errs, errors.New("consumerGroup is required"))
	}
	if cfg.InitialOffset != OffsetEarliest && cfg.InitialOffset != OffsetLatest {
		errs = append(errs, fmt.Errorf("initialOffset %q is neither earliest nor latest", cfg.InitialOffset))
	}
	if !validKeyType(cfg.KeyType) {
		errs = append(errs, fmt.Errorf("keyType %q is not string, int, float or byte-array", cfg.KeyType))
	}
	if cfg.KafkaVersion != "" {
		v, err := sarama.ParseKafkaVersion(cfg.KafkaVersion)
		if err != nil {
			errs = append(errs, fmt.Errorf("kafkaVersion %q is not a Kafka version", cfg.KafkaVersion))
		}
		a.version = v
	}
	if cfg.RetryBackoff < 0 || cfg.MaxRetryBackoff < cfg.RetryBackoff || cfg.CommitInterval < 0 {
		errs = append(errs, errors.New("retryBackoff, maxRetryBackoff and commitInterval must be positive, maxRetryBackoff at least retryBackoff"))
	}
	if cfg.TLS.Enable {
		tc, err := tlsConfig(cfg.TLS)
		if err != nil {
			errs = append(errs, err)
		}
		a.tls = tc
	}
	if cfg.SASL.Enable {
		switch cfg.SASL.Mechanism {
		case SASLPlain, SASLScramSHA256, SASLScramSHA512:
		default:
			errs = append(errs, fmt.Errorf("SASL mechanism %q is not %s, %s or %s", cfg.SASL.Mechanism, SASLPlain, SASLScramSHA256, SASLScramSHA512))
		}
		if cfg.SASL.User == "" {
			errs = append(errs, errors.New("SASL needs a user"))
		}
	}
	if cfg.Namespace == "" || cfg.Name == "" {
		errs = append(errs, errors.New("namespace and name are required"))
	}
	if cfg.Sender == nil {
		errs = append(errs, errors.New("a Sender is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("kafka: invalid config: %w", err)
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	a.log = a.log.With("source", "kafka", "namespace", cfg.Namespace, "name", cfg.Name)
	var err error
	if a.vecs, err = sources.NewMetricVecs(cfg.Registerer, "kafkasource", sources.MetricHelp{Received: "Records consumed (a record retried counts once).", Sent: "Events the sink accepted.", Failed: "Send attempts that failed (a record is retried until it is sent)."}); err != nil {
		return nil, err
	}
	return a, nil
}

// validTopic accepts Kafka topic names: 1 to 249 characters from [A-Za-z0-9._-], not "." or "..".
func validTopic(t string) bool {
	if t == "" || len(t) > 249 || t == "." || t == ".." {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// tlsConfig builds the client TLS configuration.
func tlsConfig(c TLSConfig) (*tls.Config, error) {
	if (len(c.Cert) > 0) != (len(c.Key) > 0) {
		return nil, errors.New("TLS client certificate and key must be given together")
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if len(c.CACert) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(c.CACert) {
			return nil, errors.New("TLS CA certificate holds no PEM certificate")
		}
		tc.RootCAs = pool
	}
	if len(c.Cert) > 0 {
		cert, err := tls.X509KeyPair(c.Cert, c.Key)
		if err != nil {
			// X509KeyPair's errors describe the PEM structure, never the key's bytes.
			return nil, fmt.Errorf("TLS client certificate and key: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// saramaConfig returns a fresh client configuration (sarama keeps per-client state in it).
func (a *Adapter) saramaConfig() *sarama.Config {
	c := a.cfg
	sc := sarama.NewConfig()
	sc.ClientID = "eddy-kafkasource"
	sc.Version = a.version
	if c.TLS.Enable {
		sc.Net.TLS.Enable = true
		sc.Net.TLS.Config = a.tls.Clone()
	}
	if c.SASL.Enable {
		sc.Net.SASL.Enable = true
		sc.Net.SASL.Handshake = true
		sc.Net.SASL.User = c.SASL.User
		sc.Net.SASL.Password = c.SASL.Password
		switch c.SASL.Mechanism {
		case SASLPlain:
			sc.Net.SASL.Mechanism = sarama.SASLTypePlaintext
		case SASLScramSHA256:
			sc.Net.SASL.Mechanism = sarama.SASLTypeSCRAMSHA256
			sc.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return scram.NewClient(scram.SHA256) }
		case SASLScramSHA512:
			sc.Net.SASL.Mechanism = sarama.SASLTypeSCRAMSHA512
			sc.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return scram.NewClient(scram.SHA512) }
		}
	}
	sc.Metadata.AllowAutoTopicCreation = false
	sc.Consumer.Return.Errors = true
	sc.Consumer.Offsets.AutoCommit.Enable = true // commits what was marked: records sent
	sc.Consumer.Offsets.AutoCommit.Interval = c.CommitInterval
	sc.Consumer.Offsets.Initial = sarama.OffsetNewest
	if c.InitialOffset == OffsetEarliest {
		sc.Consumer.Offsets.Initial = sarama.OffsetOldest
	}
	sc.Consumer.Group.ResetInvalidOffsets = true
	return sc
}

// EventTypes describes the events made of plain records, one per topic. Records that are
// CloudEvents pass with their own types, which cannot be known beforehand.
func (a *Adapter) EventTypes() []sources.EventTypeInfo {
	var out []sources.EventTypeInfo
	for _, t := range a.cfg.Topics {
		out = append(out, sources.EventTypeInfo{
			Type:        EventType,
			Source:      EventSource(a.cfg.Namespace, a.cfg.Name, t),
			Description: "A record of the Kafka topic " + t + " that was not a CloudEvent; the data is the record's value.",
		})
	}
	return out
}

// Run consumes the topics as a member of the consumer group until ctx ends, and returns nil
// then. It retries what fails on the way (brokers out of reach, topics missing, rebalances),
// logging, so it has no fatal errors: a wrong configuration is New's error, and wrong
// credentials show in the log (without the secrets) until the source is fixed.
func (a *Adapter) Run(ctx context.Context) error {
	m := a.vecs.Of(a.cfg.Namespace, a.cfg.Name)
	defer a.vecs.Forget(a.cfg.Namespace, a.cfg.Name)
	bo := newBackoff(100*time.Millisecond, 30*time.Second)
	var group sarama.ConsumerGroup
	for {
		var err error
		group, err = sarama.NewConsumerGroup(a.cfg.BootstrapServers, a.cfg.ConsumerGroup, a.saramaConfig())
		if err == nil {
			break
		}
		a.log.Warn("kafka: cannot reach the brokers; retrying", "servers", a.cfg.BootstrapServers, "err", err)
		if !bo.wait(ctx) {
			return nil
		}
	}
	errsDone := make(chan struct{})
	go func() {
		defer close(errsDone)
		for err := range group.Errors() {
			a.log.Warn("kafka: consumer error", "group", a.cfg.ConsumerGroup, "err", err)
		}
	}()
	defer func() {
		if err := group.Close(); err != nil {
			a.log.Warn("kafka: closing the consumer group", "err", err)
		}
		<-errsDone
	}()
	h := &handler{a: a, m: m}
	a.log.Info("kafka: consuming", "topics", a.cfg.Topics, "group", a.cfg.ConsumerGroup)
	bo.reset()
	for {
		err := group.Consume(ctx, a.cfg.Topics, h)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			a.log.Warn("kafka: consuming failed; retrying", "topics", a.cfg.Topics, "err", err)
			if !bo.wait(ctx) {
				return nil
			}
			continue
		}
		bo.reset()
	}
}

// handler is the sarama.ConsumerGroupHandler of a Run.
type handler struct {
	a *Adapter
	m *sources.Counters
}

func (h *handler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (h *handler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

// ConsumeClaim sends the events of one partition's records in order, each once the one before
// it was accepted, and marks a record for commit only after that. A record the sink does not
// take is sent again with backoff, holding its partition, until the session ends (a
// rebalance or Run's end); it is then not committed, so it comes again.
func (h *handler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	ctx := sess.Context()
	for {
		select {
		case cm, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			h.m.Received.Inc()
			ev, pass := ToEvent(recordOf(cm), h.a.cfg.Namespace, h.a.cfg.Name, h.a.cfg.KeyType)
			if !h.deliver(ctx, ev, cm, pass) {
				return nil
			}
			sess.MarkMessage(cm, "")
		case <-ctx.Done():
			return nil
		}
	}
}

// deliver sends ev until the sink takes it (true) or ctx ends (false).
func (h *handler) deliver(ctx context.Context, ev event.Event, cm *sarama.ConsumerMessage, passThrough bool) bool {
	bo := newBackoff(h.a.cfg.RetryBackoff, h.a.cfg.MaxRetryBackoff)
	for attempt := 1; ; attempt++ {
		err := h.a.cfg.Sender.Send(ctx, ev.Clone())
		if err == nil {
			h.m.Sent.Inc()
			return true
		}
		h.m.Failed.Inc()
		if ctx.Err() != nil {
			return false
		}
		h.a.log.Warn("kafka: the sink did not take the event; the partition waits and sends it again",
			"topic", cm.Topic, "partition", cm.Partition, "offset", cm.Offset, "id", ev.ID(), "cloudEvent", passThrough,
			"attempt", attempt, "retryIn", bo.next, "err", err)
		if !bo.wait(ctx) {
			return false
		}
	}
}

// backoff waits increasing times between retries.
type backoff struct{ first, next, max time.Duration }

func newBackoff(first, max time.Duration) *backoff {
	return &backoff{first: first, next: first, max: max}
}

func (b *backoff) reset() { b.next = b.first }

// wait sleeps the next backoff and reports whether ctx is still live.
func (b *backoff) wait(ctx context.Context) bool {
	t := time.NewTimer(b.next)
	defer t.Stop()
	b.next = min(2*b.next, b.max)
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
