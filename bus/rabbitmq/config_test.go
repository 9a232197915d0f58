package rabbitmq

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

func TestParseConfig(t *testing.T) {
	cfg, err := ParseConfig(map[string]string{
		"url":                 "amqp://rabbit.example:5673/prod",
		"prefix":              "eddy-prod.",
		"prefetch":            "64",
		"ackDeadline":         "45s",
		"queueType":           "quorum",
		"maxEventBytes":       "1048576",
		"heartbeat":           "5s",
		"connectionName":      "dispatcher-1",
		"publisherChannels":   "8",
		"dialTimeout":         "3s",
		"reconnectBackoff":    "50ms",
		"maxReconnectBackoff": "5s",
	}, map[string][]byte{"username": []byte("eddy"), "password": []byte("hunter2-secret")})
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		URL: "amqp://rabbit.example:5673/prod", Username: "eddy", Password: "hunter2-secret",
		Prefix: "eddy-prod.", Prefetch: 64, AckDeadline: 45 * time.Second, QueueType: "quorum",
		MaxEventBytes: 1 << 20, Heartbeat: 5 * time.Second, ConnectionName: "dispatcher-1",
		PublisherChannels: 8, DialTimeout: 3 * time.Second, ReconnectBackoff: 50 * time.Millisecond,
		MaxReconnectBackoff: 5 * time.Second,
	}
	if cfg.String() != want.String() || cfg.Password != want.Password || cfg.Username != want.Username {
		t.Errorf("got %v, want %v", cfg, want)
	}
	if got := cfg.vhost(); got != "prod" {
		t.Errorf("vhost %q, want prod", got)
	}
	for _, s := range []string{cfg.String(), fmt.Sprint(cfg), logged(cfg)} {
		if strings.Contains(s, "hunter2") {
			t.Errorf("the password leaks: %s", s)
		}
	}

	empty, err := ParseConfig(nil, nil)
	if err != nil {
		t.Fatalf("empty config: %v", err)
	}
	empty.setDefaults()
	if empty.URL != defaultURL || empty.Prefix != defaultPrefix || empty.vhost() != "/" {
		t.Errorf("defaults: %v", empty)
	}
	if a := empty.auth(); len(a) != 1 || a[0].Mechanism() != "PLAIN" {
		t.Errorf("default auth %v", a)
	}
}

func logged(cfg Config) string {
	var buf strings.Builder
	slog.New(slog.NewTextHandler(&buf, nil)).Info("cfg", "config", cfg)
	return buf.String()
}

func TestParseConfigErrors(t *testing.T) {
	cases := []struct {
		config map[string]string
		secret map[string][]byte
		want   string
	}{
		{map[string]string{"nope": "1"}, nil, `unknown config key "nope"`},
		{nil, map[string][]byte{"token": []byte("x")}, `unknown secret key "token"`},
		{map[string]string{"password": "x"}, nil, `"password" is a credential`},
		{map[string]string{"prefetch": "many"}, nil, `config key "prefetch"`},
		{map[string]string{"prefetch": "70000"}, nil, "prefetch 70000"},
		{map[string]string{"ackDeadline": "soon"}, nil, `config key "ackDeadline"`},
		{map[string]string{"insecureSkipVerify": "maybe"}, nil, `config key "insecureSkipVerify"`},
		{map[string]string{"queueType": "stream"}, nil, "queueType"},
		{map[string]string{"prefix": "amq.x"}, nil, "amq."},
		{map[string]string{"prefix": "has/slash"}, nil, "prefix"},
		{map[string]string{"prefix": strings.Repeat("p", 41)}, nil, "prefix"},
		{map[string]string{"url": "http://h/"}, nil, "scheme"},
		{map[string]string{"url": "amqp://u:pw@127.0.0.1/"}, nil, "credentials"},
		{map[string]string{"url": "amqp://127.0.0.1/?heartbeat=1"}, nil, "query"},
		{map[string]string{"url": "amqp:///"}, nil, "no host"},
		{map[string]string{"url": "amqp://rabbit.example/"}, nil, "no credentials"},
		{map[string]string{"url": "amqps://127.0.0.1/"}, map[string][]byte{"cert": []byte("x")}, "both secret keys cert and key"},
		{map[string]string{"insecureSkipVerify": "true"}, nil, "amqps"},
		{map[string]string{"url": "amqps://127.0.0.1/"}, map[string][]byte{"ca": []byte("not pem")}, "no PEM"},
		{nil, map[string][]byte{"password": []byte("x")}, "without username"},
		{map[string]string{"maxReconnectBackoff": "1ms"}, nil, "maxReconnectBackoff"},
	}
	for _, c := range cases {
		_, err := ParseConfig(c.config, c.secret)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseConfig(%v, secret keys %v): %v, want an error containing %q", c.config, keysOf(c.secret), err, c.want)
		}
	}
}

func keysOf(m map[string][]byte) []string { return sortedKeys(m) }

// TestTLSConfig: PEM material from the secret becomes the TLS settings,
// and a client certificate without a username means SASL EXTERNAL.
func TestTLSConfig(t *testing.T) {
	certPEM, keyPEM := selfSigned(t)
	cfg, err := ParseConfig(map[string]string{"url": "amqps://rabbit.example:5671/", "serverName": "rabbit.internal"},
		map[string][]byte{"ca": certPEM, "cert": certPEM, "key": keyPEM})
	if err != nil {
		t.Fatal(err)
	}
	cfg.setDefaults()
	u, _ := cfg.parseURL()
	tc, err := cfg.tlsConfig(u)
	if err != nil {
		t.Fatal(err)
	}
	if tc.ServerName != "rabbit.internal" || tc.RootCAs == nil || len(tc.Certificates) != 1 || tc.InsecureSkipVerify {
		t.Errorf("tls config %+v", tc)
	}
	if a := cfg.auth(); len(a) != 1 || a[0].Mechanism() != (&amqp.ExternalAuth{}).Mechanism() {
		t.Errorf("auth %v, want EXTERNAL", a)
	}
	_, err = ParseConfig(map[string]string{"url": "amqps://127.0.0.1/"}, map[string][]byte{"cert": certPEM, "key": []byte("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n")})
	if err == nil || strings.Contains(err.Error(), "AAAA") {
		t.Errorf("mismatched key: %v", err)
	}
}

func selfSigned(t testing.TB) (certPEM, keyPEM []byte) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

// FuzzParseConfig: ParseConfig never panics, whatever it accepts is valid,
// and a password never shows in its errors or in the printed configuration.
func FuzzParseConfig(f *testing.F) {
	f.Add("url", "amqp://127.0.0.1:5672/", "password", []byte("pw"))
	f.Add("url", "amqps://rabbit.example:5671/vhost", "username", []byte("eddy"))
	f.Add("prefetch", "100", "password", []byte("pw"))
	f.Add("ackDeadline", "30s", "ca", []byte("-----BEGIN CERTIFICATE-----\n"))
	f.Add("queueType", "quorum", "key", []byte("k"))
	f.Add("prefix", "eddy.", "cert", []byte("c"))
	f.Add("url", "amqp://user:pass@host/", "token", []byte("t"))
	f.Add("maxEventBytes", "-1", "", []byte(nil))
	f.Add("heartbeat", "1h", "password", []byte("s3cr3t"))
	f.Fuzz(func(t *testing.T, key, value, secretKey string, secretValue []byte) {
		// A password that cannot occur in any message by chance.
		password := "PW-" + hex.EncodeToString(secretValue) + "-zq9"
		secret := map[string][]byte{"username": []byte("u"), "password": []byte(password)}
		if secretKey != "username" && secretKey != "password" {
			secret[secretKey] = secretValue
		}
		cfg, err := ParseConfig(map[string]string{key: value}, secret)
		if err != nil {
			if strings.Contains(err.Error(), password) {
				t.Fatalf("error leaks the password: %v", err)
			}
			return
		}
		cfg.setDefaults()
		if err := cfg.Validate(); err != nil {
			t.Fatalf("ParseConfig accepted a config that does not validate: %v", err)
		}
		if strings.Contains(cfg.String(), password) || strings.Contains(logged(cfg), password) {
			t.Fatal("the printed config leaks the password")
		}
		if cfg.Prefix != "" && validatePrefix(cfg.Prefix) != nil {
			t.Fatalf("bad prefix accepted: %q", cfg.Prefix)
		}
	})
}
