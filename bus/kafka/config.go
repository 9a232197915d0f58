package kafka

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/IBM/sarama"
	"github.com/eddyplatform/eddy/internal/scram"
)

// SASL mechanisms accepted in SASLConfig.Mechanism (and the sasl.mechanism
// key).
const (
	SASLPlain       = "PLAIN"
	SASLScramSHA256 = "SCRAM-SHA-256"
	SASLScramSHA512 = "SCRAM-SHA-512"
)

// Config configures a Kafka Bus. The zero value of every field except
// Brokers means its default; New fills the defaults in and validates the
// result. ParseConfig builds one from a Bus resource.
type Config struct {
	// Brokers are the bootstrap brokers, as host:port. Required.
	Brokers []string

	// TopicPrefix is put in front of every bus topic name to make its
	// Kafka topic name, and of every consumer group id. At most 49
	// characters from [A-Za-z0-9._-]. Default "eddy.".
	TopicPrefix string

	// Partitions is the number of partitions of the topics EnsureTopic
	// creates: how many members of a group can share its events. Default
	// 10.
	Partitions int32

	// ReplicationFactor of the topics EnsureTopic creates; -1 (the
	// default) takes the broker's default.replication.factor.
	ReplicationFactor int16

	// ClientID is the Kafka client id the bus's clients send. Default
	// "eddy".
	ClientID string

	// KafkaVersion is the oldest Kafka version the brokers run, which
	// selects the protocol versions the client speaks (for example
	// "2.8.0", "3.6.0"). At least 0.11.0 (for the idempotent producer).
	// Default "2.8.0".
	KafkaVersion string

	// TLS configures TLS to the brokers.
	TLS TLSConfig

	// SASL configures SASL authentication.
	SASL SASLConfig

	// AckDeadline is the default SubscribeOptions.AckDeadline. Default 30s.
	AckDeadline time.Duration

	// MaxInFlight is the default SubscribeOptions.MaxInFlight. Default 256.
	MaxInFlight int

	// MaxEventBytes is the largest Kafka record (key, value and headers)
	// Publish accepts. The brokers' message.max.bytes must be at least
	// this plus 4 KiB. Default 1,000,000.
	MaxEventBytes int

	// PartitionWindow caps how many records of one partition a member
	// tracks at once: from the oldest one not acknowledged to the newest
	// one read. A member stops reading a partition while its window is
	// full, which bounds memory and how far delivery runs ahead of an
	// unacknowledged record. Raised to MaxInFlight if lower. Default 1024.
	PartitionWindow int

	// CommitInterval is how often members commit the offsets they have
	// advanced to Kafka. A crash redelivers what was acknowledged since
	// the last commit. Default 1s.
	CommitInterval time.Duration

	// SessionTimeout is the consumer group session timeout: a member that
	// does not heartbeat for this long is removed from its group. It must
	// lie within the brokers' group.min/max.session.timeout.ms. Default
	// 10s.
	SessionTimeout time.Duration

	// HeartbeatInterval is how often members heartbeat, and so how soon
	// they notice a rebalance. Below SessionTimeout/3. Default 3s.
	HeartbeatInterval time.Duration

	// RebalanceTimeout is how long the coordinator waits for members to
	// rejoin during a rebalance. A member gives the deliveries of its
	// revoked partitions up to half of it (and at most their ack deadline)
	// to be settled before it lets them go. Default 60s.
	RebalanceTimeout time.Duration

	// MetadataRefresh is how often clients refresh cluster metadata in the
	// background (which also notices deleted topics and added partitions).
	// Default 1m.
	MetadataRefresh time.Duration

	// DialTimeout bounds connecting to a broker and each request's network
	// reads and writes. Default 30s.
	DialTimeout time.Duration

	// Logger receives the bus's reports. Default slog.Default().
	Logger *slog.Logger
}

// TLSConfig configures TLS to the brokers.
type TLSConfig struct {
	// Enable turns TLS on. It is implied by CA, Cert or Key.
	Enable bool
	// InsecureSkipVerify skips verifying the brokers' certificates (for
	// tests only).
	InsecureSkipVerify bool
	// ServerName overrides the name the brokers' certificates are checked
	// against; by default the host of each broker address.
	ServerName string
	// CA holds PEM certificates of the authorities that sign the brokers'
	// certificates; the system pool if empty.
	CA []byte
	// Cert and Key hold a PEM client certificate and its key, for mutual
	// TLS. Both or neither.
	Cert, Key []byte
}

// String describes the TLS settings without the key.
func (c TLSConfig) String() string {
	return fmt.Sprintf("{Enable:%t InsecureSkipVerify:%t ServerName:%q CA:%d bytes Cert:%d bytes Key:%s}",
		c.Enable, c.InsecureSkipVerify, c.ServerName, len(c.CA), len(c.Cert), redacted(c.Key))
}

// LogValue keeps the key out of logs.
func (c TLSConfig) LogValue() slog.Value { return slog.StringValue(c.String()) }

// SASLConfig configures SASL authentication.
type SASLConfig struct {
	// Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; empty disables
	// SASL. PLAIN sends the password as is: use it with TLS.
	Mechanism string
	// Username and Password are the credentials.
	Username, Password string
}

// String describes the SASL settings without the password.
func (c SASLConfig) String() string {
	return fmt.Sprintf("{Mechanism:%q Username:%q Password:%s}", c.Mechanism, c.Username, redacted([]byte(c.Password)))
}

// LogValue keeps the password out of logs.
func (c SASLConfig) LogValue() slog.Value { return slog.StringValue(c.String()) }

func redacted(b []byte) string {
	if len(b) == 0 {
		return "none"
	}
	return "redacted"
}

// Config keys ParseConfig reads from the resource's plain configuration.
const (
	keyBrokers           = "brokers"
	keyTopicPrefix       = "topicPrefix"
	keyPartitions        = "partitions"
	keyReplicationFactor = "replicationFactor"
	keyClientID          = "clientID"
	keyKafkaVersion      = "kafkaVersion"
	keyTLSEnable         = "tls.enable"
	keyTLSInsecure       = "tls.insecureSkipVerify"
	keyTLSServerName     = "tls.serverName"
	keySASLMechanism     = "sasl.mechanism"
	keyAckDeadline       = "ackDeadline"
	keyMaxInFlight       = "maxInFlight"
	keyMaxEventBytes     = "maxEventBytes"
	keyPartitionWindow   = "partitionWindow"
	keyCommitInterval    = "commitInterval"
	keySessionTimeout    = "sessionTimeout"
	keyHeartbeat         = "heartbeatInterval"
	keyRebalanceTimeout  = "rebalanceTimeout"
	keyMetadataRefresh   = "metadataRefresh"
	keyDialTimeout       = "dialTimeout"
)

// Secret keys ParseConfig reads credentials from.
const (
	secretCA       = "ca.crt"
	secretCert     = "tls.crt"
	secretKey      = "tls.key"
	secretUsername = "username"
	secretPassword = "password"
)

// ParseConfig builds a Config from a Bus or ClusterBus resource: plain
// settings come from config, credentials only from secret. Unknown keys in
// either are an error naming the key; secret values never appear in errors.
// The result has its defaults filled in and is valid.
//
// Keys of config (durations in Go syntax, such as "30s"):
//
//	brokers                 comma-separated host:port list (required)
//	topicPrefix             prefix of Kafka topic names and group ids (default "eddy.")
//	partitions              partitions of created topics (default 10)
//	replicationFactor       replication factor of created topics (default -1: the broker's default)
//	clientID                Kafka client id (default "eddy")
//	kafkaVersion            oldest broker version, such as "3.6.0" (default "2.8.0")
//	tls.enable              "true" to use TLS (implied by TLS material in the secret)
//	tls.insecureSkipVerify  "true" to skip verifying broker certificates
//	tls.serverName          name to verify broker certificates against
//	sasl.mechanism          PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (needs username in the secret)
//	ackDeadline             default ack deadline (default 30s)
//	maxInFlight             default in-flight limit per member (default 256)
//	maxEventBytes           largest record Publish accepts (default 1000000)
//	partitionWindow         records tracked per partition per member (default 1024)
//	commitInterval          how often acknowledged offsets are committed (default 1s)
//	sessionTimeout          consumer group session timeout (default 10s)
//	heartbeatInterval       consumer group heartbeat interval (default 3s)
//	rebalanceTimeout        consumer group rebalance timeout (default 60s)
//	metadataRefresh         background metadata refresh interval (default 1m)
//	dialTimeout             network dial, read and write timeout (default 30s)
//
// Keys of secret:
//
//	ca.crt    PEM certificates of the brokers' certificate authorities
//	tls.crt   PEM client certificate (with tls.key)
//	tls.key   PEM client key (with tls.crt)
//	username  SASL user name
//	password  SASL password
func ParseConfig(config map[string]string, secret map[string][]byte) (Config, error) {
	var (
		cfg        Config
		errs       []error
		tlsEnable  *bool
		partitions int64
		rf         int64
	)
	bad := func(key, value, want string) {
		errs = append(errs, fmt.Errorf("config key %q: %q is not %s", key, value, want))
	}
	parseBool := func(key, value string) bool {
		v, err := strconv.ParseBool(value)
		if err != nil {
			bad(key, value, "a boolean")
		}
		return v
	}
	parseInt := func(key, value string, bits int) int64 {
		v, err := strconv.ParseInt(strings.TrimSpace(value), 10, bits)
		if err != nil {
			bad(key, value, "an integer")
		}
		return v
	}
	parseDur := func(key, value string) time.Duration {
		v, err := time.ParseDuration(strings.TrimSpace(value))
		if err != nil {
			bad(key, value, "a duration such as 30s")
		}
		return v
	}
	for _, k := range sortedKeys(config) {
		v := config[k]
		switch k {
		case keyBrokers:
			for _, b := range strings.Split(v, ",") {
				if b = strings.TrimSpace(b); b != "" {
					cfg.Brokers = append(cfg.Brokers, b)
				}
			}
			if len(cfg.Brokers) == 0 {
				errs = append(errs, fmt.Errorf("config key %q names no broker", k))
			}
		case keyTopicPrefix:
			cfg.TopicPrefix = v
			if v == "" {
				errs = append(errs, fmt.Errorf("config key %q is empty", k))
			}
		case keyPartitions:
			partitions = parseInt(k, v, 32)
			if partitions < 1 {
				errs = append(errs, fmt.Errorf("config key %q: %d is below 1", k, partitions))
			}
			cfg.Partitions = int32(partitions)
		case keyReplicationFactor:
			rf = parseInt(k, v, 16)
			if rf == 0 || rf < -1 {
				errs = append(errs, fmt.Errorf("config key %q: %d is neither -1 nor positive", k, rf))
			}
			cfg.ReplicationFactor = int16(rf)
		case keyClientID:
			cfg.ClientID = v
		case keyKafkaVersion:
			cfg.KafkaVersion = v
		case keyTLSEnable:
			b := parseBool(k, v)
			tlsEnable = &b
		case keyTLSInsecure:
			cfg.TLS.InsecureSkipVerify = parseBool(k, v)
		case keyTLSServerName:
			cfg.TLS.ServerName = v
		case keySASLMechanism:
			cfg.SASL.Mechanism = v
		case keyAckDeadline:
			cfg.AckDeadline = positiveDur(&errs, k, parseDur(k, v))
		case keyMaxInFlight:
			cfg.MaxInFlight = int(positiveInt(&errs, k, parseInt(k, v, 32)))
		case keyMaxEventBytes:
			cfg.MaxEventBytes = int(positiveInt(&errs, k, parseInt(k, v, 32)))
		case keyPartitionWindow:
			cfg.PartitionWindow = int(positiveInt(&errs, k, parseInt(k, v, 32)))
		case keyCommitInterval:
			cfg.CommitInterval = positiveDur(&errs, k, parseDur(k, v))
		case keySessionTimeout:
			cfg.SessionTimeout = positiveDur(&errs, k, parseDur(k, v))
		case keyHeartbeat:
			cfg.HeartbeatInterval = positiveDur(&errs, k, parseDur(k, v))
		case keyRebalanceTimeout:
			cfg.RebalanceTimeout = positiveDur(&errs, k, parseDur(k, v))
		case keyMetadataRefresh:
			cfg.MetadataRefresh = positiveDur(&errs, k, parseDur(k, v))
		case keyDialTimeout:
			cfg.DialTimeout = positiveDur(&errs, k, parseDur(k, v))
		default:
			errs = append(errs, fmt.Errorf("unknown config key %q", k))
		}
	}
	if _, ok := config[keyBrokers]; !ok {
		errs = append(errs, fmt.Errorf("config key %q is required", keyBrokers))
	}
	for _, k := range sortedKeys(secret) {
		v := secret[k]
		switch k {
		case secretCA:
			cfg.TLS.CA = v
		case secretCert:
			cfg.TLS.Cert = v
		case secretKey:
			cfg.TLS.Key = v
		case secretUsername:
			cfg.SASL.Username = string(v)
		case secretPassword:
			cfg.SASL.Password = string(v)
		default:
			errs = append(errs, fmt.Errorf("unknown secret key %q", k))
		}
	}
	material := len(cfg.TLS.CA) > 0 || len(cfg.TLS.Cert) > 0 || len(cfg.TLS.Key) > 0
	switch {
	case tlsEnable == nil:
		cfg.TLS.Enable = material
	case !*tlsEnable && material:
		errs = append(errs, fmt.Errorf("config key %q is false but the secret holds TLS material (%s, %s or %s)",
			keyTLSEnable, secretCA, secretCert, secretKey))
	default:
		cfg.TLS.Enable = *tlsEnable
	}
	if cfg.SASL.Mechanism == "" && (cfg.SASL.Username != "" || cfg.SASL.Password != "") {
		errs = append(errs, fmt.Errorf("the secret holds SASL credentials but config key %q is not set", keySASLMechanism))
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, fmt.Errorf("kafka: invalid config: %w", err)
	}
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

func positiveDur(errs *[]error, key string, d time.Duration) time.Duration {
	if d <= 0 {
		*errs = append(*errs, fmt.Errorf("config key %q: %v is not positive", key, d))
	}
	return d
}

func positiveInt(errs *[]error, key string, n int64) int64 {
	if n <= 0 {
		*errs = append(*errs, fmt.Errorf("config key %q: %d is not positive", key, n))
	}
	return n
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Defaults.
const (
	defaultTopicPrefix    = "eddy."
	defaultPartitions     = 10
	defaultClientID       = "eddy"
	defaultKafkaVersion   = "2.8.0"
	defaultAckDeadline    = 30 * time.Second
	defaultMaxInFlight    = 256
	defaultMaxEventBytes  = 1_000_000
	defaultWindow         = 1024
	defaultCommitInterval = time.Second
	defaultSession        = 10 * time.Second
	defaultHeartbeat      = 3 * time.Second
	defaultRebalance      = 60 * time.Second
	defaultMetadata       = time.Minute
	defaultDial           = 30 * time.Second

	// maxTopicPrefix keeps prefix plus the longest bus name within
	// Kafka's 249 characters.
	maxTopicPrefix = 249 - 200
	// recordOverhead is what the producer may add to a record's key,
	// value and headers when it checks the size of a message.
	recordOverhead = 4096
)

var validKafkaName = regexp.MustCompile(`\A[A-Za-z0-9._-]*\z`)

func (c *Config) setDefaults() {
	if c.TopicPrefix == "" {
		c.TopicPrefix = defaultTopicPrefix
	}
	if c.Partitions == 0 {
		c.Partitions = defaultPartitions
	}
	if c.ReplicationFactor == 0 {
		c.ReplicationFactor = -1
	}
	if c.ClientID == "" {
		c.ClientID = defaultClientID
	}
	if c.KafkaVersion == "" {
		c.KafkaVersion = defaultKafkaVersion
	}
	if len(c.TLS.CA) > 0 || len(c.TLS.Cert) > 0 || len(c.TLS.Key) > 0 {
		c.TLS.Enable = true
	}
	if c.AckDeadline == 0 {
		c.AckDeadline = defaultAckDeadline
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = defaultMaxInFlight
	}
	if c.MaxEventBytes == 0 {
		c.MaxEventBytes = defaultMaxEventBytes
	}
	if c.PartitionWindow == 0 {
		c.PartitionWindow = defaultWindow
	}
	if c.CommitInterval == 0 {
		c.CommitInterval = defaultCommitInterval
	}
	if c.SessionTimeout == 0 {
		c.SessionTimeout = defaultSession
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = min(defaultHeartbeat, c.SessionTimeout/3)
	}
	if c.RebalanceTimeout == 0 {
		c.RebalanceTimeout = defaultRebalance
	}
	if c.MetadataRefresh == 0 {
		c.MetadataRefresh = defaultMetadata
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = defaultDial
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Validate reports what is wrong with the configuration, after defaults.
// Its errors never contain credentials.
func (c *Config) Validate() error {
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("Brokers is required"))
	}
	for _, b := range c.Brokers {
		host, port, err := net.SplitHostPort(b)
		if err != nil || host == "" {
			errs = append(errs, fmt.Errorf("broker %q is not host:port", b))
			continue
		}
		if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
			errs = append(errs, fmt.Errorf("broker %q has no valid port", b))
		}
	}
	if len(c.TopicPrefix) > maxTopicPrefix || !validKafkaName.MatchString(c.TopicPrefix) {
		errs = append(errs, fmt.Errorf("TopicPrefix %q is not up to %d characters from [A-Za-z0-9._-]", c.TopicPrefix, maxTopicPrefix))
	}
	if c.Partitions < 1 {
		errs = append(errs, fmt.Errorf("Partitions %d is below 1", c.Partitions))
	}
	if c.ReplicationFactor < -1 || c.ReplicationFactor == 0 {
		errs = append(errs, fmt.Errorf("ReplicationFactor %d is neither -1 nor positive", c.ReplicationFactor))
	}
	if c.ClientID == "" || !validKafkaName.MatchString(c.ClientID) {
		errs = append(errs, fmt.Errorf("ClientID %q is not from [A-Za-z0-9._-]", c.ClientID))
	}
	if v, err := sarama.ParseKafkaVersion(c.KafkaVersion); err != nil {
		errs = append(errs, fmt.Errorf("KafkaVersion %q is not a Kafka version", c.KafkaVersion))
	} else if !v.IsAtLeast(sarama.V0_11_0_0) {
		errs = append(errs, fmt.Errorf("KafkaVersion %q is older than 0.11.0, which the idempotent producer needs", c.KafkaVersion))
	}
	if (len(c.TLS.Cert) > 0) != (len(c.TLS.Key) > 0) {
		errs = append(errs, errors.New("TLS client certificate and key must be given together"))
	}
	if c.TLS.Enable {
		if _, err := c.tlsConfig(); err != nil {
			errs = append(errs, err)
		}
	}
	switch c.SASL.Mechanism {
	case "":
	case SASLPlain, SASLScramSHA256, SASLScramSHA512:
		if c.SASL.Username == "" {
			errs = append(errs, fmt.Errorf("SASL mechanism %s needs a username", c.SASL.Mechanism))
		}
	default:
		errs = append(errs, fmt.Errorf("SASL mechanism %q is not %s, %s or %s", c.SASL.Mechanism, SASLPlain, SASLScramSHA256, SASLScramSHA512))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"AckDeadline", c.AckDeadline}, {"CommitInterval", c.CommitInterval}, {"SessionTimeout", c.SessionTimeout},
		{"HeartbeatInterval", c.HeartbeatInterval}, {"RebalanceTimeout", c.RebalanceTimeout},
		{"MetadataRefresh", c.MetadataRefresh}, {"DialTimeout", c.DialTimeout},
	} {
		if d.v <= 0 {
			errs = append(errs, fmt.Errorf("%s %v is not positive", d.name, d.v))
		}
	}
	if c.HeartbeatInterval >= c.SessionTimeout {
		errs = append(errs, fmt.Errorf("HeartbeatInterval %v is not below SessionTimeout %v", c.HeartbeatInterval, c.SessionTimeout))
	}
	if c.MaxInFlight <= 0 {
		errs = append(errs, fmt.Errorf("MaxInFlight %d is not positive", c.MaxInFlight))
	}
	if c.MaxEventBytes <= 0 || c.MaxEventBytes > 1<<30 {
		errs = append(errs, fmt.Errorf("MaxEventBytes %d is outside 1..%d", c.MaxEventBytes, 1<<30))
	}
	if c.PartitionWindow <= 0 {
		errs = append(errs, fmt.Errorf("PartitionWindow %d is not positive", c.PartitionWindow))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("kafka: invalid config: %w", err)
	}
	return nil
}

// tlsConfig builds the client TLS configuration.
func (c *Config) tlsConfig() (*tls.Config, error) {
	tc := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: c.TLS.InsecureSkipVerify, //nolint:gosec // asked for explicitly
		ServerName:         c.TLS.ServerName,
	}
	if len(c.TLS.CA) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(c.TLS.CA) {
			return nil, errors.New("TLS CA holds no PEM certificate")
		}
		tc.RootCAs = pool
	}
	if len(c.TLS.Cert) > 0 && len(c.TLS.Key) > 0 {
		cert, err := tls.X509KeyPair(c.TLS.Cert, c.TLS.Key)
		if err != nil {
			// The error of X509KeyPair describes the PEM structure, never
			// the key's bytes.
			return nil, fmt.Errorf("TLS client certificate and key: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// saramaConfig returns a fresh sarama configuration for one client: each
// client needs its own (sarama keeps per-client metrics in it).
func (c *Config) saramaConfig() *sarama.Config {
	sc := sarama.NewConfig()
	sc.ClientID = c.ClientID
	sc.Version, _ = sarama.ParseKafkaVersion(c.KafkaVersion)
	sc.Net.DialTimeout = c.DialTimeout
	sc.Net.ReadTimeout = c.DialTimeout
	sc.Net.WriteTimeout = c.DialTimeout
	if c.TLS.Enable {
		sc.Net.TLS.Enable = true
		sc.Net.TLS.Config, _ = c.tlsConfig()
	}
	if c.SASL.Mechanism != "" {
		sc.Net.SASL.Enable = true
		sc.Net.SASL.Handshake = true
		sc.Net.SASL.Version = sarama.SASLHandshakeV1
		sc.Net.SASL.User = c.SASL.Username
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
	sc.Metadata.RefreshFrequency = c.MetadataRefresh
	sc.Metadata.Retry.Max = 5
	sc.Metadata.Retry.Backoff = 100 * time.Millisecond
	sc.Admin.Timeout = 30 * time.Second
	sc.Admin.Retry.Max = 5
	sc.Admin.Retry.Backoff = 100 * time.Millisecond
	return sc
}

// producerConfig is the configuration of the publishing client.
func (c *Config) producerConfig() *sarama.Config {
	sc := c.saramaConfig()
	sc.Producer.RequiredAcks = sarama.WaitForAll
	sc.Producer.Idempotent = true
	sc.Net.MaxOpenRequests = 1 // required by the idempotent producer
	sc.Producer.Retry.Max = 20
	sc.Producer.Retry.Backoff = 100 * time.Millisecond
	sc.Producer.Return.Successes = true
	sc.Producer.Return.Errors = true
	sc.Producer.Partitioner = sarama.NewMurmur2Partitioner // the Java client's
	sc.Producer.MaxMessageBytes = c.MaxEventBytes + recordOverhead
	return sc
}

// consumerConfig is the configuration of one member's client.
func (c *Config) consumerConfig(ordered bool) *sarama.Config {
	sc := c.saramaConfig()
	sc.Consumer.Return.Errors = true
	sc.Consumer.Offsets.Initial = sarama.OffsetOldest // partitions without a commit were added after the group
	sc.Consumer.Offsets.AutoCommit.Enable = true      // commits only what the member marked: acknowledged offsets
	sc.Consumer.Offsets.AutoCommit.Interval = c.CommitInterval
	sc.Consumer.Offsets.Retry.Max = 3
	sc.Consumer.Group.Session.Timeout = c.SessionTimeout
	sc.Consumer.Group.Heartbeat.Interval = c.HeartbeatInterval
	sc.Consumer.Group.Rebalance.Timeout = c.RebalanceTimeout
	sc.Consumer.Group.Rebalance.Retry.Max = 10
	sc.Consumer.Group.Rebalance.Retry.Backoff = min(2*time.Second, c.HeartbeatInterval)
	sc.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{newStrategy(ordered)}
	sc.Consumer.Group.ResetInvalidOffsets = true
	sc.Consumer.MaxWaitTime = 250 * time.Millisecond
	return sc
}
