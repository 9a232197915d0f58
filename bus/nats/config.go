package nats

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nkeys"
)

// Config configures a NATS JetStream Bus. ParseConfig builds one from a
// Bus resource; the zero value of every field but URL means its default.
// Fields holding credentials are never logged: String, GoString and
// LogValue redact them.
type Config struct {
	// URL is the NATS server URL, or several separated by commas
	// (nats://host:4222, tls://host:4222). Required. Config key "url".
	URL string

	// Name is the client connection name the server shows. Default "eddy".
	// Config key "name".
	Name string

	// SubjectPrefix starts every subject the bus publishes to: a topic's
	// partition p is the subject <SubjectPrefix>.<topic token>.<p>. Default
	// "eddy". Config key "subject_prefix".
	SubjectPrefix string

	// StreamPrefix starts the name of every stream the bus creates: a
	// topic's stream is <StreamPrefix><topic token>. Default "eddy_"; it may
	// be empty only by ParseConfig's explicit "stream_prefix" key being
	// present and empty. Config key "stream_prefix".
	StreamPrefix string

	// noStreamPrefix records that StreamPrefix is deliberately empty.
	noStreamPrefix bool

	// Replicas is the number of replicas of each stream (1 to 5; more than
	// 1 needs a JetStream cluster). Default 1. Config key "replicas".
	Replicas int

	// MaxAge is how long a stream keeps events. Default 7 days; negative
	// means forever. Config key "max_age" (a Go duration; "0" means
	// forever).
	MaxAge time.Duration

	// MaxBytes caps the bytes each stream keeps; the oldest events are
	// discarded to stay under it. Default 1 GiB; negative means no cap.
	// Config key "max_bytes" (bytes, or with a suffix KiB, MiB, GiB, TiB,
	// Ki, Mi, Gi, Ti, KB, MB, GB, TB, k, M, G, T; "0" or "-1" means no
	// cap).
	MaxBytes int64

	// Partitions is the number of subjects (partitions) of each new topic;
	// ordered groups deliver one event per partition at a time, so it
	// bounds their parallelism. It is fixed when the topic's stream is
	// created: later buses read it from the stream. 1 to 256, default 16.
	// Config key "partitions".
	Partitions int

	// AckDeadline is the default SubscribeOptions.AckDeadline. Default 30s.
	// Config key "ack_deadline".
	AckDeadline time.Duration

	// MaxInFlight is the default SubscribeOptions.MaxInFlight. Default 256.
	// Config key "max_in_flight".
	MaxInFlight int

	// MaxAckPending is the JetStream MaxAckPending of a new unordered
	// group's consumer: the cap on unacknowledged events of the whole group,
	// raised to the creating member's MaxInFlight if that is larger. Each
	// member's own MaxInFlight is enforced by the bus. Default 10000.
	// Config key "max_ack_pending".
	MaxAckPending int

	// TLS turns TLS on. It is implied by a tls:// URL and by TLS material
	// in the secret. Config key "tls" ("true" or "false").
	TLS bool

	// TLSServerName overrides the server name checked in the server's
	// certificate. Config key "tls_server_name".
	TLSServerName string

	// ConnectTimeout bounds each attempt to connect. Default 5s. Config key
	// "connect_timeout".
	ConnectTimeout time.Duration

	// ReconnectWait is the pause between reconnect attempts to one server.
	// The client reconnects forever. Default 1s. Config key
	// "reconnect_wait".
	ReconnectWait time.Duration

	// PingInterval is how often the client pings the server; two missed
	// pongs count as a lost connection. Default 10s. Config key
	// "ping_interval".
	PingInterval time.Duration

	// Token authenticates with a token. Secret key "token".
	Token string
	// Username and Password authenticate with a user and password. Secret
	// keys "username" and "password".
	Username, Password string
	// Creds is the content of a NATS credentials (.creds) file: a user JWT
	// and its NKey seed. Secret key "creds".
	Creds []byte
	// NKeySeed is an NKey user seed (SU...) to authenticate with. Secret
	// key "nkey".
	NKeySeed []byte
	// CA is a PEM bundle of certificate authorities that the server's
	// certificate must chain to (default: the system's). Secret key "ca".
	CA []byte
	// Cert and Key are a PEM client certificate and its key, for mutual
	// TLS. Secret keys "cert" and "key".
	Cert, Key []byte

	// Logger receives connection events and reports of undecodable
	// messages. Default slog.Default().
	Logger *slog.Logger
}

// Options is another name for Config.
type Options = Config

// Defaults of the Config fields.
const (
	// DefaultName is the default Config.Name.
	DefaultName = "eddy"
	// DefaultSubjectPrefix is the default Config.SubjectPrefix.
	DefaultSubjectPrefix = "eddy"
	// DefaultStreamPrefix is the default Config.StreamPrefix.
	DefaultStreamPrefix = "eddy_"
	// DefaultMaxAge is the default Config.MaxAge.
	DefaultMaxAge = 7 * 24 * time.Hour
	// DefaultMaxBytes is the default Config.MaxBytes.
	DefaultMaxBytes = 1 << 30
	// DefaultPartitions is the default Config.Partitions.
	DefaultPartitions = 16
	// DefaultAckDeadline is the default Config.AckDeadline.
	DefaultAckDeadline = 30 * time.Second
	// DefaultMaxInFlight is the default Config.MaxInFlight.
	DefaultMaxInFlight = 256
	// DefaultMaxAckPending is the default Config.MaxAckPending.
	DefaultMaxAckPending = 10000
	// DefaultConnect is the default Config.ConnectTimeout.
	DefaultConnect = 5 * time.Second
	// DefaultReconnectWait is the default Config.ReconnectWait.
	DefaultReconnectWait = time.Second
	// DefaultPingInterval is the default Config.PingInterval.
	DefaultPingInterval = 10 * time.Second

	maxPartitions = 256
)

var configKeys = []string{
	"url", "name", "subject_prefix", "stream_prefix", "replicas", "max_age", "max_bytes",
	"partitions", "ack_deadline", "max_in_flight", "max_ack_pending", "tls", "tls_server_name",
	"connect_timeout", "reconnect_wait", "ping_interval",
}

var secretKeys = []string{"token", "username", "password", "creds", "nkey", "ca", "cert", "key"}

// ParseConfig builds a Config from the settings of a Bus resource: plain
// settings in config, credentials only in secret. See the Config fields for
// the keys. An unknown key in either map is an error that names it; a key
// in the wrong map too (a password in config, say). Errors never contain a
// secret's value.
func ParseConfig(config map[string]string, secret map[string][]byte) (Config, error) {
	var c Config
	var errs []error
	for _, k := range sortedKeys(config) {
		if !slices.Contains(configKeys, k) {
			if slices.Contains(secretKeys, k) {
				errs = append(errs, fmt.Errorf("config key %q belongs in the secret", k))
			} else {
				errs = append(errs, fmt.Errorf("unknown config key %q", k))
			}
		}
	}
	for _, k := range sortedKeys(secret) {
		if !slices.Contains(secretKeys, k) {
			if slices.Contains(configKeys, k) {
				errs = append(errs, fmt.Errorf("secret key %q belongs in the config", k))
			} else {
				errs = append(errs, fmt.Errorf("unknown secret key %q", k))
			}
		}
	}
	str := func(k string) (string, bool) { v, ok := config[k]; return strings.TrimSpace(v), ok }
	if v, ok := str("url"); ok {
		c.URL = v
	}
	if v, ok := str("name"); ok {
		c.Name = v
	}
	if v, ok := str("subject_prefix"); ok {
		c.SubjectPrefix = v
		if v == "" {
			errs = append(errs, errors.New(`config key "subject_prefix" is empty`))
		}
	}
	if v, ok := str("stream_prefix"); ok {
		c.StreamPrefix = v
		c.noStreamPrefix = v == ""
	}
	intKey := func(k string, dst *int) {
		if v, ok := str(k); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("config key %q: %q is not an integer", k, v))
				return
			}
			if n <= 0 {
				errs = append(errs, fmt.Errorf("config key %q: %d is not positive", k, n))
				return
			}
			*dst = n
		}
	}
	durKey := func(k string, dst *time.Duration, zeroMeans time.Duration) {
		if v, ok := str(k); ok {
			d, err := time.ParseDuration(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("config key %q: %q is not a duration (like 30s or 1h)", k, v))
				return
			}
			switch {
			case d < 0:
				errs = append(errs, fmt.Errorf("config key %q: %v is negative", k, d))
			case d == 0 && zeroMeans == 0:
				errs = append(errs, fmt.Errorf("config key %q: must be positive", k))
			case d == 0:
				*dst = zeroMeans
			default:
				*dst = d
			}
		}
	}
	intKey("replicas", &c.Replicas)
	durKey("max_age", &c.MaxAge, -1)
	if v, ok := str("max_bytes"); ok {
		n, err := parseBytes(v)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("config key %q: %w", "max_bytes", err))
		case n <= 0:
			c.MaxBytes = -1
		default:
			c.MaxBytes = n
		}
	}
	intKey("partitions", &c.Partitions)
	durKey("ack_deadline", &c.AckDeadline, 0)
	intKey("max_in_flight", &c.MaxInFlight)
	intKey("max_ack_pending", &c.MaxAckPending)
	if v, ok := str("tls"); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("config key %q: %q is not true or false", "tls", v))
		}
		c.TLS = b
	}
	if v, ok := str("tls_server_name"); ok {
		c.TLSServerName = v
	}
	durKey("connect_timeout", &c.ConnectTimeout, 0)
	durKey("reconnect_wait", &c.ReconnectWait, 0)
	durKey("ping_interval", &c.PingInterval, 0)

	c.Token = string(secret["token"])
	c.Username = string(secret["username"])
	c.Password = string(secret["password"])
	c.Creds = secret["creds"]
	c.NKeySeed = secret["nkey"]
	c.CA = secret["ca"]
	c.Cert = secret["cert"]
	c.Key = secret["key"]

	if len(errs) == 0 {
		if err := c.validate(); err != nil {
			return Config{}, err
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, fmt.Errorf("nats: invalid config: %w", err)
	}
	return c, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// parseBytes parses a byte count with an optional unit suffix.
func parseBytes(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
		{"k", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12}, {"B", 1},
	}
	num, mult := s, int64(1)
	for _, u := range units {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			num, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a byte count (like 1073741824 or 1GiB)", s)
	}
	if n > 0 && n > math.MaxInt64/mult {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return n * mult, nil
}

// setDefaults fills in the defaults of zero fields.
func (c *Config) setDefaults() {
	if c.Name == "" {
		c.Name = DefaultName
	}
	if c.SubjectPrefix == "" {
		c.SubjectPrefix = DefaultSubjectPrefix
	}
	if c.StreamPrefix == "" && !c.noStreamPrefix {
		c.StreamPrefix = DefaultStreamPrefix
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.MaxAge == 0 {
		c.MaxAge = DefaultMaxAge
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	if c.Partitions == 0 {
		c.Partitions = DefaultPartitions
	}
	if c.AckDeadline == 0 {
		c.AckDeadline = DefaultAckDeadline
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.MaxAckPending == 0 {
		c.MaxAckPending = DefaultMaxAckPending
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = DefaultConnect
	}
	if c.ReconnectWait == 0 {
		c.ReconnectWait = DefaultReconnectWait
	}
	if c.PingInterval == 0 {
		c.PingInterval = DefaultPingInterval
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// validate reports what is wrong with the configuration, after defaults.
// It never quotes a secret.
func (c Config) validate() error {
	c.setDefaults()
	var errs []error
	if c.URL == "" {
		errs = append(errs, errors.New(`"url" is required (like nats://127.0.0.1:4222)`))
	}
	for _, u := range strings.Split(c.URL, ",") {
		u = strings.TrimSpace(u)
		if u == "" {
			continue
		}
		p, err := url.Parse(u)
		switch {
		case err != nil || p.Host == "":
			errs = append(errs, fmt.Errorf(`"url": %q is not a URL like nats://host:4222`, redactURL(u)))
		case p.Scheme != "nats" && p.Scheme != "tls" && p.Scheme != "ws" && p.Scheme != "wss":
			errs = append(errs, fmt.Errorf(`"url": scheme %q is not nats, tls, ws or wss`, p.Scheme))
		case p.User != nil:
			errs = append(errs, fmt.Errorf(`"url" %q carries credentials: put them in the secret`, redactURL(u)))
		}
	}
	if !validSubjectPrefix(c.SubjectPrefix) {
		errs = append(errs, fmt.Errorf(`"subject_prefix" %q is not dot-separated tokens of [A-Za-z0-9_-]`, c.SubjectPrefix))
	}
	for i := 0; i < len(c.StreamPrefix); i++ {
		if ch := c.StreamPrefix[i]; !(isAlnum(ch) || ch == '_' || ch == '-') {
			errs = append(errs, fmt.Errorf(`"stream_prefix" %q: character %q not allowed (want [A-Za-z0-9_-])`, c.StreamPrefix, ch))
			break
		}
	}
	if len(c.StreamPrefix) > 64 {
		errs = append(errs, fmt.Errorf(`"stream_prefix" is longer than 64 characters`))
	}
	if c.Replicas < 1 || c.Replicas > 5 {
		errs = append(errs, fmt.Errorf(`"replicas" %d is outside 1..5`, c.Replicas))
	}
	if c.Partitions < 1 || c.Partitions > maxPartitions {
		errs = append(errs, fmt.Errorf(`"partitions" %d is outside 1..%d`, c.Partitions, maxPartitions))
	}
	if c.AckDeadline < 0 {
		errs = append(errs, fmt.Errorf(`"ack_deadline" %v is negative`, c.AckDeadline))
	}
	if c.MaxInFlight < 0 {
		errs = append(errs, fmt.Errorf(`"max_in_flight" %d is negative`, c.MaxInFlight))
	}
	if c.MaxAckPending < 0 {
		errs = append(errs, fmt.Errorf(`"max_ack_pending" %d is negative`, c.MaxAckPending))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"connect_timeout", c.ConnectTimeout}, {"reconnect_wait", c.ReconnectWait}, {"ping_interval", c.PingInterval}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%q %v is negative", d.name, d.v))
		}
	}
	auth := 0
	for _, set := range []bool{c.Token != "", c.Username != "" || c.Password != "", len(c.Creds) > 0, len(c.NKeySeed) > 0} {
		if set {
			auth++
		}
	}
	if auth > 1 {
		errs = append(errs, errors.New("secret: give only one of token, username/password, creds and nkey"))
	}
	if (c.Username == "") != (c.Password == "") {
		errs = append(errs, errors.New(`secret: "username" and "password" must be given together`))
	}
	if len(c.Creds) > 0 {
		if _, err := nkeys.ParseDecoratedJWT(c.Creds); err != nil {
			errs = append(errs, errors.New(`secret "creds": no user JWT found in it`))
		} else if kp, err := nkeys.ParseDecoratedNKey(c.Creds); err != nil {
			errs = append(errs, errors.New(`secret "creds": no NKey seed found in it`))
		} else {
			kp.Wipe()
		}
	}
	if len(c.NKeySeed) > 0 {
		if _, err := nkeyFromSeed(c.NKeySeed); err != nil {
			errs = append(errs, errors.New(`secret "nkey": not a valid NKey user seed`))
		}
	}
	if (len(c.Cert) == 0) != (len(c.Key) == 0) {
		errs = append(errs, errors.New(`secret: "cert" and "key" must be given together`))
	}
	if len(c.Cert) > 0 && len(c.Key) > 0 {
		if _, err := tls.X509KeyPair(c.Cert, c.Key); err != nil {
			errs = append(errs, errors.New(`secret "cert"/"key": not a valid PEM certificate and matching key`))
		}
	}
	if len(c.CA) > 0 && !x509.NewCertPool().AppendCertsFromPEM(c.CA) {
		errs = append(errs, errors.New(`secret "ca": no PEM certificate found in it`))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("nats: invalid config: %w", err)
	}
	return nil
}

// nkeyFromSeed returns the public key of a user seed.
func nkeyFromSeed(seed []byte) (string, error) {
	kp, err := nkeys.ParseDecoratedNKey(seed)
	if err != nil {
		return "", err
	}
	defer kp.Wipe()
	pub, err := kp.PublicKey()
	if err != nil {
		return "", err
	}
	if !nkeys.IsValidPublicUserKey(pub) {
		return "", errors.New("not a user key")
	}
	return pub, nil
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// validSubjectPrefix reports whether p is one or more dot-separated tokens
// of [A-Za-z0-9_-].
func validSubjectPrefix(p string) bool {
	if p == "" {
		return false
	}
	for _, tok := range strings.Split(p, ".") {
		if tok == "" {
			return false
		}
		for i := 0; i < len(tok); i++ {
			if c := tok[i]; !(isAlnum(c) || c == '_' || c == '-') {
				return false
			}
		}
	}
	return true
}

// redactURL drops the user information of a URL, which may hold a
// password or token.
func redactURL(s string) string {
	if i := strings.Index(s, "@"); i >= 0 {
		if j := strings.Index(s, "://"); j >= 0 && j < i {
			return s[:j+3] + "REDACTED@" + s[i+1:]
		}
		return "REDACTED@" + s[i+1:]
	}
	return s
}

// redacted returns c with its secrets replaced by a marker.
func (c Config) redacted() map[string]any {
	mark := func(set bool) string {
		if set {
			return "REDACTED"
		}
		return ""
	}
	return map[string]any{
		"url": redactURLs(c.URL), "name": c.Name, "subject_prefix": c.SubjectPrefix, "stream_prefix": c.StreamPrefix,
		"replicas": c.Replicas, "max_age": c.MaxAge.String(), "max_bytes": c.MaxBytes, "partitions": c.Partitions,
		"ack_deadline": c.AckDeadline.String(), "max_in_flight": c.MaxInFlight, "max_ack_pending": c.MaxAckPending,
		"tls": c.TLS, "tls_server_name": c.TLSServerName, "connect_timeout": c.ConnectTimeout.String(),
		"reconnect_wait": c.ReconnectWait.String(), "ping_interval": c.PingInterval.String(),
		"token": mark(c.Token != ""), "username": c.Username, "password": mark(c.Password != ""),
		"creds": mark(len(c.Creds) > 0), "nkey": mark(len(c.NKeySeed) > 0), "ca": mark(len(c.CA) > 0),
		"cert": mark(len(c.Cert) > 0), "key": mark(len(c.Key) > 0),
	}
}

func redactURLs(s string) string {
	parts := strings.Split(s, ",")
	for i, p := range parts {
		parts[i] = redactURL(strings.TrimSpace(p))
	}
	return strings.Join(parts, ",")
}

// String describes the configuration with its secrets redacted.
func (c Config) String() string {
	m := c.redacted()
	var b strings.Builder
	b.WriteString("nats.Config{")
	for i, k := range sortedKeys(m) {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%s:%v", k, m[k])
	}
	b.WriteString("}")
	return b.String()
}

// GoString is String, so that %#v does not print secrets either.
func (c Config) GoString() string { return c.String() }

// LogValue implements slog.LogValuer with the secrets redacted.
func (c Config) LogValue() slog.Value {
	m := c.redacted()
	attrs := make([]slog.Attr, 0, len(m))
	for _, k := range sortedKeys(m) {
		attrs = append(attrs, slog.Any(k, m[k]))
	}
	return slog.GroupValue(attrs...)
}

// signNonce signs a server nonce with an NKey seed.
func signNonce(seed, nonce []byte) ([]byte, error) {
	kp, err := nkeys.ParseDecoratedNKey(seed)
	if err != nil {
		return nil, errors.New("nkey seed does not parse")
	}
	defer kp.Wipe()
	return kp.Sign(nonce)
}
