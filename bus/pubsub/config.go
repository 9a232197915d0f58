package pubsub

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Config configures a Pub/Sub Bus. Build it with ParseConfig from a Bus
// resource, or fill it in directly; New applies the defaults below to zero
// fields and validates the result.
type Config struct {
	// Project is the Google Cloud project holding the topics and
	// subscriptions. Required with an emulator; against Google Cloud it
	// defaults to the project_id of CredentialsJSON, or else to the project
	// detected from the environment (application default credentials).
	Project string

	// TopicPrefix starts every Pub/Sub resource name the bus makes, so that
	// several buses (or installations) can share one project: bus topic t is
	// Pub/Sub topic "projects/<Project>/topics/<TopicPrefix>-t". 1 to
	// MaxTopicPrefixLen characters from [A-Za-z0-9._-], starting with a
	// letter and not with "goog". Default "eddy".
	TopicPrefix string

	// Endpoint is the host:port of a Pub/Sub emulator (pstest, the gcloud
	// emulator). It is spoken to in plaintext and without authentication.
	// Empty means the PUBSUB_EMULATOR_HOST environment variable if set, and
	// otherwise Google Cloud.
	Endpoint string

	// APIEndpoint overrides the Google Cloud endpoint (TLS, authenticated),
	// for example a locational endpoint such as
	// "us-east1-pubsub.googleapis.com:443", which Google recommends for
	// ordered publishing. It cannot be combined with Endpoint.
	APIEndpoint string

	// CredentialsJSON is a service account key (the JSON file Google Cloud
	// issues). Empty means application default credentials. It comes only
	// from the secret and is never logged. Ignored with an emulator.
	CredentialsJSON []byte

	// AckDeadline is the default SubscribeOptions.AckDeadline, and (clamped
	// to Pub/Sub's 10s..600s) the ack deadline of the subscriptions the bus
	// creates, which is the server-side lease that frees the events of a
	// process that died. Default 30s.
	AckDeadline time.Duration

	// MaxInFlight is the default SubscribeOptions.MaxInFlight. Default 1000.
	MaxInFlight int

	// LongPoll makes Pull wait at the server for messages (Pub/Sub's
	// recommended mode) instead of polling every PollInterval. nil means
	// true against Google Cloud and false with an emulator: emulators do not
	// answer a waiting Pull when messages arrive (pstest sleeps a fixed
	// 500ms), which would stall ordered delivery.
	LongPoll *bool

	// PollInterval is how long a member waits after an empty Pull before the
	// next one when not LongPoll. An acknowledgement wakes it at once.
	// Default 10ms.
	PollInterval time.Duration

	// PublishDelay is how long the Pub/Sub publisher waits to gather more
	// messages into one Publish request (PublishSettings.DelayThreshold).
	// Default 1ms.
	PublishDelay time.Duration

	// Logger receives reports of dropped messages, retried calls and ended
	// subscriptions. nil means slog.Default().
	Logger *slog.Logger
}

// MaxTopicPrefixLen is the longest TopicPrefix: with the dash and a bus
// name of bus.MaxNameLen characters a topic id stays within Pub/Sub's 255.
const MaxTopicPrefixLen = 54

// Config keys understood by ParseConfig.
const (
	keyProject      = "project"
	keyTopicPrefix  = "topicPrefix"
	keyEndpoint     = "endpoint"
	keyAPIEndpoint  = "apiEndpoint"
	keyAckDeadline  = "ackDeadline"
	keyMaxInFlight  = "maxInFlight"
	keyLongPoll     = "longPoll"
	keyPollInterval = "pollInterval"
	keyPublishDelay = "publishDelay"

	// SecretCredentials is the key of the service account JSON in the
	// secret given to ParseConfig.
	SecretCredentials = "credentials.json"
)

const (
	defaultTopicPrefix  = "eddy"
	defaultAckDeadline  = 30 * time.Second
	defaultMaxInFlight  = 1000
	defaultPollInterval = 10 * time.Millisecond
	defaultPublishDelay = time.Millisecond
)

// ParseConfig builds a Config from the settings of a Bus resource. config
// holds plain settings, secret the credentials. Every key is optional:
//
//	project       Google Cloud project id (see Config.Project)
//	topicPrefix   prefix of every Pub/Sub resource name; default "eddy"
//	endpoint      host:port of a Pub/Sub emulator (plaintext, no auth)
//	apiEndpoint   Google Cloud endpoint override, e.g. a locational one
//	ackDeadline   default ack deadline, a Go duration; default "30s"
//	maxInFlight   default unsettled deliveries per member; default 1000
//	longPoll      "true" or "false": Pull waits at the server; default
//	              true for Google Cloud, false for an emulator
//	pollInterval  wait after an empty Pull when not long polling; "10ms"
//	publishDelay  how long the publisher gathers a batch; default "1ms"
//
// and in secret:
//
//	credentials.json  a service account key; default application default
//	                  credentials
//
// An unknown key is an error that names it. Errors never quote secret
// values.
func ParseConfig(config map[string]string, secret map[string][]byte) (Config, error) {
	var cfg Config
	var errs []error
	for _, k := range sortedKeys(config) {
		v := config[k]
		var err error
		switch k {
		case keyProject:
			cfg.Project = v
		case keyTopicPrefix:
			cfg.TopicPrefix = v
		case keyEndpoint:
			cfg.Endpoint = v
		case keyAPIEndpoint:
			cfg.APIEndpoint = v
		case keyAckDeadline:
			cfg.AckDeadline, err = parsePositiveDuration(v)
		case keyMaxInFlight:
			cfg.MaxInFlight, err = strconv.Atoi(strings.TrimSpace(v))
			if err == nil && cfg.MaxInFlight <= 0 {
				err = errors.New("must be positive")
			}
		case keyLongPoll:
			var b bool
			b, err = strconv.ParseBool(strings.TrimSpace(v))
			cfg.LongPoll = &b
		case keyPollInterval:
			cfg.PollInterval, err = parsePositiveDuration(v)
		case keyPublishDelay:
			cfg.PublishDelay, err = time.ParseDuration(strings.TrimSpace(v))
			if err == nil && cfg.PublishDelay < 0 {
				err = errors.New("must not be negative")
			}
		default:
			err = errors.New("unknown key (known: project, topicPrefix, endpoint, apiEndpoint, ackDeadline, maxInFlight, longPoll, pollInterval, publishDelay)")
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("config %q: %w", k, err))
		}
	}
	for _, k := range sortedKeys(secret) {
		switch k {
		case SecretCredentials:
			cfg.CredentialsJSON = secret[k]
		default:
			errs = append(errs, fmt.Errorf("secret %q: unknown key (known: %s)", k, SecretCredentials))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, fmt.Errorf("pubsub: invalid config: %w", err)
	}
	if err := cfg.withDefaults().Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// parsePositiveDuration parses a Go duration that must be above zero. The
// error does not quote the value, which is short and not secret, but could
// be anything.
func parsePositiveDuration(v string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil {
		return 0, errors.New("not a duration (want e.g. \"30s\")")
	}
	if d <= 0 {
		return 0, errors.New("must be positive")
	}
	return d, nil
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.TopicPrefix == "" {
		c.TopicPrefix = defaultTopicPrefix
	}
	if c.AckDeadline == 0 {
		c.AckDeadline = defaultAckDeadline
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = defaultMaxInFlight
	}
	if c.PollInterval == 0 {
		c.PollInterval = defaultPollInterval
	}
	if c.PublishDelay == 0 {
		c.PublishDelay = defaultPublishDelay
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports what is wrong with the configuration. Zero fields that
// have a default are accepted.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if err := validatePrefix(c.TopicPrefix); err != nil {
		errs = append(errs, err)
	}
	if c.Project != "" && !validProject(c.Project) {
		errs = append(errs, fmt.Errorf("project %q is not a project id", c.Project))
	}
	if c.Endpoint != "" && c.APIEndpoint != "" {
		errs = append(errs, errors.New("endpoint (an emulator) and apiEndpoint (Google Cloud) exclude each other"))
	}
	if c.Endpoint != "" && c.Project == "" {
		errs = append(errs, errors.New("project is required with an emulator endpoint"))
	}
	if len(c.CredentialsJSON) > 0 {
		var v map[string]any
		if json.Unmarshal(c.CredentialsJSON, &v) != nil {
			errs = append(errs, fmt.Errorf("secret %s is not a JSON object", SecretCredentials))
		}
	}
	if c.AckDeadline < 0 {
		errs = append(errs, errors.New("ackDeadline is negative"))
	}
	if c.MaxInFlight < 0 {
		errs = append(errs, errors.New("maxInFlight is negative"))
	}
	if c.PollInterval < 0 {
		errs = append(errs, errors.New("pollInterval is negative"))
	}
	if c.PublishDelay < 0 {
		errs = append(errs, errors.New("publishDelay is negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("pubsub: invalid config: %w", err)
	}
	return nil
}

// validatePrefix checks a TopicPrefix against Pub/Sub's naming rules.
func validatePrefix(p string) error {
	if p == "" || len(p) > MaxTopicPrefixLen {
		return fmt.Errorf("topicPrefix must be 1 to %d characters", MaxTopicPrefixLen)
	}
	if c := p[0]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
		return fmt.Errorf("topicPrefix %q must start with a letter", p)
	}
	if strings.HasPrefix(strings.ToLower(p), "goog") {
		return fmt.Errorf("topicPrefix %q must not start with \"goog\"", p)
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("topicPrefix %q: character %q not allowed (want [A-Za-z0-9._-])", p, c)
		}
	}
	return nil
}

// validProject accepts Google Cloud project ids, including the legacy
// domain-scoped form "example.com:project".
func validProject(p string) bool {
	if len(p) > 100 {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == ':' || c == '_') {
			return false
		}
	}
	return true
}

// credentialsProject returns the project_id of a service account key, or "".
func credentialsProject(js []byte) string {
	var v struct {
		ProjectID string `json:"project_id"`
	}
	if json.Unmarshal(js, &v) != nil || !validProject(v.ProjectID) {
		return ""
	}
	return v.ProjectID
}

// String describes the configuration without the credentials.
func (c Config) String() string {
	creds := "none"
	if len(c.CredentialsJSON) > 0 {
		creds = "[redacted]"
	}
	longPoll := "default"
	if c.LongPoll != nil {
		longPoll = strconv.FormatBool(*c.LongPoll)
	}
	return fmt.Sprintf("pubsub.Config{Project:%q TopicPrefix:%q Endpoint:%q APIEndpoint:%q Credentials:%s AckDeadline:%v MaxInFlight:%d LongPoll:%s PollInterval:%v PublishDelay:%v}",
		c.Project, c.TopicPrefix, c.Endpoint, c.APIEndpoint, creds, c.AckDeadline, c.MaxInFlight, longPoll, c.PollInterval, c.PublishDelay)
}

// GoString is String, so that %#v does not print the credentials either.
func (c Config) GoString() string { return c.String() }

// LogValue logs the configuration without the credentials.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }
