package rabbitmq

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Config configures a RabbitMQ Bus. The zero value of every field means its
// default; New fills the defaults in and validates the result. Build one
// from a Bus resource with ParseConfig.
//
// Config holds credentials: its String and LogValue methods redact them, so
// log it only through those.
type Config struct {
	// URL is the broker address, amqp://host:port/vhost or
	// amqps://host:port/vhost, without credentials (they go in Username and
	// Password). The path is the virtual host: "/" or empty is the default
	// vhost "/", "/name" is vhost "name" (escape a "/" in a vhost name as
	// %2F). Default amqp://127.0.0.1:5672/.
	URL string

	// Username and Password authenticate with SASL PLAIN. When both are
	// empty the bus authenticates with the client certificate (SASL
	// EXTERNAL) if one is set, or else as guest/guest, which RabbitMQ only
	// accepts over loopback: it is meant for local tests, and New refuses it
	// for any other host.
	Username string
	Password string

	// CACert is a PEM bundle of the certificate authorities the broker's
	// certificate is checked against (amqps only). Default: the system
	// roots.
	CACert []byte
	// ClientCert and ClientKey are a PEM client certificate and its key,
	// for brokers that ask for one (amqps only). Both or neither.
	ClientCert []byte
	ClientKey  []byte
	// InsecureSkipVerify turns off the check of the broker's certificate.
	// For tests only.
	InsecureSkipVerify bool
	// ServerName overrides the host name the broker's certificate must
	// name. Default: the URL's host.
	ServerName string

	// Prefix starts the name of every exchange and queue the bus makes, so
	// that several buses (or installations) can share a virtual host. Up to
	// 40 characters from [A-Za-z0-9._:-], not starting with "amq.". Default
	// "eddy.".
	Prefix string

	// Prefetch is the default SubscribeOptions.MaxInFlight: the AMQP
	// prefetch count (basic.qos) of each member. Default 100.
	Prefetch int

	// AckDeadline is the default SubscribeOptions.AckDeadline. RabbitMQ has
	// no per-delivery deadline, so the bus keeps it: on expiry it nacks the
	// delivery with requeue. Default 30s. Keep it well under the broker's
	// consumer_timeout (30 minutes by default), which closes the channel of
	// a consumer that holds a delivery longer.
	AckDeadline time.Duration

	// QueueType is the type of the queues that hold the groups' events:
	// "classic" (the default) or "quorum" (replicated; redeliveries carry
	// the broker's delivery count). Existing queues keep their type.
	QueueType string

	// MaxEventBytes is the largest event Publish accepts, counting its data
	// and its encoded attributes. It must not exceed the broker's
	// max_message_size. Default 16 MiB.
	MaxEventBytes int

	// Heartbeat is the AMQP heartbeat interval, which bounds how long a dead
	// connection goes unnoticed. Default 10s.
	Heartbeat time.Duration

	// ConnectionName is the connection_name client property, shown by
	// rabbitmqctl list_connections and the management UI. Default
	// "eddy-bus".
	ConnectionName string

	// PublisherChannels is how many confirm-mode channels concurrent
	// publishes are spread over. Default 4.
	PublisherChannels int

	// DialTimeout bounds the TCP, TLS and AMQP handshakes of one connection
	// attempt. Default 10s.
	DialTimeout time.Duration

	// ReconnectBackoff is the wait after the first failed connection
	// attempt; it doubles, with jitter, up to MaxReconnectBackoff. Defaults
	// 100ms and 10s.
	ReconnectBackoff    time.Duration
	MaxReconnectBackoff time.Duration

	// Logger receives connection losses, reconnects and dead-lettered
	// messages. Default slog.Default().
	Logger *slog.Logger
}

// Defaults, and limits of the configuration.
const (
	defaultURL          = "amqp://127.0.0.1:5672/"
	defaultPrefix       = "eddy."
	maxPrefixLen        = 40
	defaultPrefetch     = 100
	maxPrefetch         = 65535 // basic.qos prefetch-count is a short
	defaultAckDeadline  = 30 * time.Second
	defaultMaxEvent     = 16 << 20
	maxMaxEvent         = 512 << 20 // RabbitMQ's hard limit
	defaultHeartbeat    = 10 * time.Second
	defaultConnName     = "eddy-bus"
	defaultPubChannels  = 4
	maxPubChannels      = 256
	defaultDialTimeout  = 10 * time.Second
	defaultBackoff      = 100 * time.Millisecond
	defaultMaxBackoff   = 10 * time.Second
	queueTypeClassic    = "classic"
	queueTypeQuorum     = "quorum"
	guestUser           = "guest"
	configKeysList      = "url, insecureSkipVerify, serverName, prefix, prefetch, ackDeadline, queueType, maxEventBytes, heartbeat, connectionName, publisherChannels, dialTimeout, reconnectBackoff, maxReconnectBackoff"
	secretKeysList      = "username, password, ca, cert, key"
	redacted            = "[redacted]"
	errPrefix           = "rabbitmq: "
	connectionNameProp  = "connection_name"
	maxConnectionName   = 200
	maxServerNameLength = 253
)

// ParseConfig reads a RabbitMQ bus's settings from a Bus or ClusterBus
// resource: plain settings from config, credentials only from secret. Every
// key is optional.
//
// Config keys:
//
//	url                  Config.URL: amqp://host:port/vhost or amqps://..., without credentials
//	insecureSkipVerify   Config.InsecureSkipVerify: "true" skips the broker certificate check (tests only)
//	serverName           Config.ServerName: the name the broker's certificate must carry
//	prefix               Config.Prefix: prefix of every exchange and queue name
//	prefetch             Config.Prefetch: default in-flight limit (AMQP prefetch) per member, an integer
//	ackDeadline          Config.AckDeadline: default ack deadline, a Go duration such as "30s"
//	queueType            Config.QueueType: "classic" or "quorum"
//	maxEventBytes        Config.MaxEventBytes: an integer
//	heartbeat            Config.Heartbeat: a Go duration
//	connectionName       Config.ConnectionName: the connection_name client property
//	publisherChannels    Config.PublisherChannels: an integer
//	dialTimeout          Config.DialTimeout: a Go duration
//	reconnectBackoff     Config.ReconnectBackoff: a Go duration
//	maxReconnectBackoff  Config.MaxReconnectBackoff: a Go duration
//
// Secret keys:
//
//	username, password   SASL PLAIN credentials (Config.Username, Config.Password)
//	ca                   PEM CA bundle (Config.CACert)
//	cert, key            PEM client certificate and key (Config.ClientCert, Config.ClientKey)
//
// An unknown key, in either map, or a malformed value is an error that names
// the key; errors never quote a secret's value.
func ParseConfig(config map[string]string, secret map[string][]byte) (Config, error) {
	var c Config
	for _, k := range sortedKeys(config) {
		v := config[k]
		var err error
		switch k {
		case "url":
			c.URL = v
		case "insecureSkipVerify":
			c.InsecureSkipVerify, err = strconv.ParseBool(v)
		case "serverName":
			c.ServerName = v
		case "prefix":
			c.Prefix = v
		case "prefetch":
			c.Prefetch, err = strconv.Atoi(v)
		case "ackDeadline":
			c.AckDeadline, err = time.ParseDuration(v)
		case "queueType":
			c.QueueType = v
		case "maxEventBytes":
			c.MaxEventBytes, err = strconv.Atoi(v)
		case "heartbeat":
			c.Heartbeat, err = time.ParseDuration(v)
		case "connectionName":
			c.ConnectionName = v
		case "publisherChannels":
			c.PublisherChannels, err = strconv.Atoi(v)
		case "dialTimeout":
			c.DialTimeout, err = time.ParseDuration(v)
		case "reconnectBackoff":
			c.ReconnectBackoff, err = time.ParseDuration(v)
		case "maxReconnectBackoff":
			c.MaxReconnectBackoff, err = time.ParseDuration(v)
		case "username", "password", "ca", "cert", "key":
			return Config{}, fmt.Errorf("%sconfig key %q is a credential: put it in the secret, not in config", errPrefix, k)
		default:
			return Config{}, fmt.Errorf("%sunknown config key %q (known: %s)", errPrefix, k, configKeysList)
		}
		if err != nil {
			return Config{}, fmt.Errorf("%sconfig key %q: %w", errPrefix, k, stripValue(err))
		}
	}
	for _, k := range sortedKeys(secret) {
		v := secret[k]
		switch k {
		case "username":
			c.Username = string(v)
		case "password":
			c.Password = string(v)
		case "ca":
			c.CACert = v
		case "cert":
			c.ClientCert = v
		case "key":
			c.ClientKey = v
		default:
			return Config{}, fmt.Errorf("%sunknown secret key %q (known: %s)", errPrefix, k, secretKeysList)
		}
	}
	check := c
	check.setDefaults()
	if err := check.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// stripValue keeps a parse error's reason but not the value it quotes, so
// that a secret pasted into the wrong key never reaches a log.
func stripValue(err error) error {
	var ne *strconv.NumError
	if errors.As(err, &ne) {
		return ne.Err
	}
	if strings.HasPrefix(err.Error(), "time: ") {
		return errors.New("not a Go duration such as \"30s\"")
	}
	return err
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// setDefaults fills in the zero fields.
func (c *Config) setDefaults() {
	if c.URL == "" {
		c.URL = defaultURL
	}
	if c.Prefix == "" {
		c.Prefix = defaultPrefix
	}
	if c.Prefetch == 0 {
		c.Prefetch = defaultPrefetch
	}
	if c.AckDeadline == 0 {
		c.AckDeadline = defaultAckDeadline
	}
	if c.QueueType == "" {
		c.QueueType = queueTypeClassic
	}
	if c.MaxEventBytes == 0 {
		c.MaxEventBytes = defaultMaxEvent
	}
	if c.Heartbeat == 0 {
		c.Heartbeat = defaultHeartbeat
	}
	if c.ConnectionName == "" {
		c.ConnectionName = defaultConnName
	}
	if c.PublisherChannels == 0 {
		c.PublisherChannels = defaultPubChannels
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = defaultDialTimeout
	}
	if c.ReconnectBackoff == 0 {
		c.ReconnectBackoff = defaultBackoff
	}
	if c.MaxReconnectBackoff == 0 {
		c.MaxReconnectBackoff = defaultMaxBackoff
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Validate reports what is wrong with the configuration, after defaults. Its
// errors never include a credential.
func (c *Config) Validate() error {
	var errs []error
	u, err := c.parseURL()
	if err != nil {
		errs = append(errs, err)
	}
	if err := validatePrefix(c.Prefix); err != nil {
		errs = append(errs, err)
	}
	if c.Prefetch < 0 || c.Prefetch > maxPrefetch {
		errs = append(errs, fmt.Errorf("prefetch %d is outside 1..%d", c.Prefetch, maxPrefetch))
	}
	if c.AckDeadline < 0 {
		errs = append(errs, fmt.Errorf("ackDeadline %v is negative", c.AckDeadline))
	}
	if c.QueueType != queueTypeClassic && c.QueueType != queueTypeQuorum {
		errs = append(errs, fmt.Errorf("queueType %q is not %q or %q", c.QueueType, queueTypeClassic, queueTypeQuorum))
	}
	if c.MaxEventBytes < 0 || c.MaxEventBytes > maxMaxEvent {
		errs = append(errs, fmt.Errorf("maxEventBytes %d is outside 1..%d", c.MaxEventBytes, maxMaxEvent))
	}
	if c.Heartbeat < 0 {
		errs = append(errs, fmt.Errorf("heartbeat %v is negative", c.Heartbeat))
	}
	if len(c.ConnectionName) > maxConnectionName || !isPrintable(c.ConnectionName) {
		errs = append(errs, fmt.Errorf("connectionName must be at most %d printable characters", maxConnectionName))
	}
	if c.PublisherChannels < 0 || c.PublisherChannels > maxPubChannels {
		errs = append(errs, fmt.Errorf("publisherChannels %d is outside 1..%d", c.PublisherChannels, maxPubChannels))
	}
	if c.DialTimeout < 0 {
		errs = append(errs, fmt.Errorf("dialTimeout %v is negative", c.DialTimeout))
	}
	if c.ReconnectBackoff < 0 {
		errs = append(errs, fmt.Errorf("reconnectBackoff %v is negative", c.ReconnectBackoff))
	}
	if c.MaxReconnectBackoff < c.ReconnectBackoff {
		errs = append(errs, fmt.Errorf("maxReconnectBackoff %v is below reconnectBackoff %v", c.MaxReconnectBackoff, c.ReconnectBackoff))
	}
	if len(c.ServerName) > maxServerNameLength || !isPrintable(c.ServerName) {
		errs = append(errs, fmt.Errorf("serverName must be a host name of at most %d characters", maxServerNameLength))
	}
	if (len(c.ClientCert) == 0) != (len(c.ClientKey) == 0) {
		errs = append(errs, errors.New("the client certificate needs both secret keys cert and key"))
	}
	if u != nil {
		tlsSet := len(c.CACert) > 0 || len(c.ClientCert) > 0 || c.InsecureSkipVerify || c.ServerName != ""
		if u.Scheme != "amqps" && tlsSet {
			errs = append(errs, errors.New("TLS settings (ca, cert, key, insecureSkipVerify, serverName) need an amqps:// url"))
		}
		if c.Username == "" && c.Password != "" {
			errs = append(errs, errors.New("secret key password is set without username"))
		}
		if c.Username == "" && len(c.ClientCert) == 0 && !isLoopback(u.Hostname()) {
			errs = append(errs, fmt.Errorf("no credentials for broker host %q: set secret keys username and password (or cert and key); guest/guest is only for a broker on loopback", u.Hostname()))
		}
		if _, err := c.tlsConfig(u); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%sinvalid config: %w", errPrefix, err)
	}
	return nil
}

// parseURL checks the URL: scheme, host, no credentials, no query.
func (c *Config) parseURL() (*url.URL, error) {
	u, err := url.Parse(c.URL)
	if err != nil {
		// url.Error quotes the URL, which might hold a password.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("url: %w", err)
	}
	if u.User != nil {
		return nil, errors.New("url must not hold credentials: put username and password in the secret")
	}
	if u.Scheme != "amqp" && u.Scheme != "amqps" {
		return nil, fmt.Errorf("url scheme %q is not amqp or amqps", u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, errors.New("url has no host")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("url must not have a query or fragment: use the config keys")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("url port %q is not a port number", p)
		}
	}
	if _, err := amqp.ParseURI(c.URL); err != nil {
		return nil, fmt.Errorf("url: %w", err)
	}
	return u, nil
}

// vhost returns the virtual host the URL names.
func (c *Config) vhost() string {
	uri, err := amqp.ParseURI(c.URL)
	if err != nil || uri.Vhost == "" {
		return "/"
	}
	return uri.Vhost
}

// tlsConfig returns the TLS settings for an amqps URL, nil for amqp.
func (c *Config) tlsConfig(u *url.URL) (*tls.Config, error) {
	if u.Scheme != "amqps" {
		return nil, nil
	}
	tc := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         u.Hostname(),
		InsecureSkipVerify: c.InsecureSkipVerify, //nolint:gosec // opt-in, documented as for tests only
	}
	if c.ServerName != "" {
		tc.ServerName = c.ServerName
	}
	if len(c.CACert) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(c.CACert) {
			return nil, errors.New("secret key ca holds no PEM certificate")
		}
		tc.RootCAs = pool
	}
	if len(c.ClientCert) > 0 && len(c.ClientKey) > 0 {
		cert, err := tls.X509KeyPair(c.ClientCert, c.ClientKey)
		if err != nil {
			// The tls error describes the PEM structure, never the key bytes.
			return nil, errors.New("secret keys cert and key are not a matching PEM certificate and private key")
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// auth returns the SASL mechanism to log in with.
func (c *Config) auth() []amqp.Authentication {
	switch {
	case c.Username != "":
		return []amqp.Authentication{&amqp.PlainAuth{Username: c.Username, Password: c.Password}}
	case len(c.ClientCert) > 0:
		return []amqp.Authentication{&amqp.ExternalAuth{}}
	default:
		return []amqp.Authentication{&amqp.PlainAuth{Username: guestUser, Password: guestUser}}
	}
}

// address is the URL for logs and errors: it never holds credentials.
func (c *Config) address() string {
	u, err := url.Parse(c.URL)
	if err != nil {
		return "(invalid url)"
	}
	u.User = nil
	return u.String()
}

// String describes the configuration with its credentials redacted.
func (c Config) String() string {
	return fmt.Sprintf("rabbitmq.Config{URL: %s, Username: %s, Password: %s, Prefix: %q, QueueType: %q, Prefetch: %d, AckDeadline: %v, TLS: ca=%t cert=%t insecure=%t}",
		c.address(), redact(c.Username), redact(c.Password), c.Prefix, c.QueueType, c.Prefetch, c.AckDeadline,
		len(c.CACert) > 0, len(c.ClientCert) > 0, c.InsecureSkipVerify)
}

// LogValue makes slog print the configuration with its credentials
// redacted.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("url", c.address()),
		slog.String("username", redact(c.Username)),
		slog.String("password", redact(c.Password)),
		slog.String("prefix", c.Prefix),
		slog.String("queueType", c.QueueType),
		slog.Int("prefetch", c.Prefetch),
		slog.Duration("ackDeadline", c.AckDeadline),
	)
}

func redact(s string) string {
	if s == "" {
		return `""`
	}
	return redacted
}

func validatePrefix(p string) error {
	if len(p) > maxPrefixLen {
		return fmt.Errorf("prefix is longer than %d characters", maxPrefixLen)
	}
	if strings.HasPrefix(p, "amq.") {
		return errors.New(`prefix must not start with "amq." (reserved by RabbitMQ)`)
	}
	for i := 0; i < len(p); i++ {
		ch := p[i]
		ok := ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '.' || ch == '_' || ch == '-' || ch == ':'
		if !ok {
			return fmt.Errorf("prefix %q: character %q at %d not allowed (want [A-Za-z0-9._:-])", p, ch, i)
		}
	}
	return nil
}

func isPrintable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == '\uFFFD' {
			return false
		}
	}
	return true
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
